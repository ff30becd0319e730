//! AnyEvent::MP's syntax for node ids (`%n`, `%u`, a trailing `/`) and endpoints (`*`,
//! `host`, `:port`, `host:port`).

/// This host's name (`uname -n`): AnyEvent::MP's default profile name and `%n`.
pub fn nodename() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Expands a node id template as AnyEvent::MP 2.x does: `%n` is the host name, `%u` ten
/// random characters. A trailing `/` is left for the node builder's `node_id` to expand.
pub fn expand_node_id(template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('n') {
            out.push_str(&nodename());
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('u') {
            out.push_str(&aemp_transport::random_node_suffix());
            rest = tail;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Splits `host:port`, `[v6]:port`, `host` and a bare `port`.
pub(crate) fn split_endpoint(spec: &str) -> (Option<&str>, Option<&str>) {
    let spec = spec.trim();
    if let Some(v6) = spec.strip_prefix('[') {
        if let Some((host, rest)) = v6.split_once(']') {
            return (Some(host), rest.strip_prefix(':'));
        }
    }
    if spec.matches(':').count() > 1 {
        return (Some(spec), None); // a bare IPv6 address
    }
    match spec.rsplit_once(':') {
        Some((host, port)) => (Some(host), Some(port)),
        None if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) => (None, Some(spec)),
        None => (Some(spec), None),
    }
}

pub(crate) fn join_endpoint(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A bind in AnyEvent::MP's syntax as a listen address: host `*` is every interface
/// (`0.0.0.0`), port `*` or none an ephemeral port, a bare port number binds the host name.
///
/// ```
/// use aemp_config::bind_address;
/// assert_eq!(bind_address("*"), "0.0.0.0:0");
/// assert_eq!(bind_address("*:4040"), "0.0.0.0:4040");
/// assert_eq!(bind_address("127.0.0.1:*"), "127.0.0.1:0");
/// assert_eq!(bind_address("127.0.0.1:4040"), "127.0.0.1:4040");
/// ```
pub fn bind_address(spec: &str) -> String {
    let (host, port) = split_endpoint(spec);
    let host = match host {
        None => nodename(),
        Some("*") | Some("") => "0.0.0.0".to_owned(),
        Some(h) => h.to_owned(),
    };
    let port = match port {
        None | Some("*") | Some("") => "0",
        Some(p) => p,
    };
    join_endpoint(&host, port)
}

/// A seed in AnyEvent::MP's syntax as a dial address: the port defaults to 4040, host `*`
/// is this host (`127.0.0.1`), a bare port number is the host name.
///
/// ```
/// use aemp_config::seed_address;
/// assert_eq!(seed_address("db1"), "db1:4040");
/// assert_eq!(seed_address("10.0.0.2:5000"), "10.0.0.2:5000");
/// ```
pub fn seed_address(spec: &str) -> String {
    let (host, port) = split_endpoint(spec);
    let host = match host {
        None => nodename(),
        Some("*") | Some("") => "127.0.0.1".to_owned(),
        Some(h) => h.to_owned(),
    };
    let port = match port {
        None | Some("*") | Some("") => "4040",
        Some(p) => p,
    };
    join_endpoint(&host, port)
}
