//! The protocol commands: a short-lived node joins through the seeds and does one thing.
//!
//! "Joining" means connecting directly to each seed address (so that each failure can be
//! reported), without the kernel's seed protocol; the ports a command can reach are those
//! of the seeds themselves (a port on another node fails with a hint).

use std::path::PathBuf;
use std::time::Duration;

use aemp::actor::format_reason;
use aemp::actor::profile::{expand_node_id, seed_address, to_json, RcFile};
use aemp::{Error, Node, PortId, Value};
use tokio::sync::mpsc;

use crate::Failure;

/// Protocol commands' default time limit, as Perl's aemp.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The options before the port.
#[derive(Debug, Default)]
struct Options {
    profile: Option<String>,
    seeds: Vec<String>,
    secret: Option<String>,
    cert: Option<PathBuf>,
    timeout: Option<Duration>,
}

impl Options {
    /// Takes the options off the front of `args`; `None` means `--help` was given.
    fn parse(args: &mut Vec<Value>) -> Result<Option<Options>, Failure> {
        let mut o = Options::default();
        let mut i = 0;
        while let Some(word) = args.get(i).and_then(Value::as_str) {
            if word == "--" {
                i += 1;
                break;
            }
            if !word.starts_with("--") && word != "-h" {
                break;
            }
            if word == "--help" || word == "-h" {
                return Ok(None);
            }
            let (flag, inline) = match word.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (word.to_owned(), None),
            };
            let value = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .and_then(|v| v.to_text().map(|t| t.into_owned()))
                        .ok_or_else(|| Failure::usage(format!("{flag} needs a value")))?
                }
            };
            match flag.as_str() {
                "--profile" => o.profile = Some(value),
                "--seed" => o.seeds.push(value),
                "--secret" => o.secret = Some(value),
                "--cert" => o.cert = Some(PathBuf::from(value)),
                "--timeout" => {
                    let secs: f64 = value.parse().map_err(|_| {
                        Failure::usage(format!(
                            "--timeout must be a number of seconds, not {value:?}"
                        ))
                    })?;
                    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
                        return Err(Failure::usage(format!(
                            "--timeout must be a positive number of seconds, not {value}"
                        )));
                    }
                    o.timeout = Some(Duration::from_secs_f64(secs));
                }
                _ => {
                    return Err(Failure::usage(format!(
                    "unknown option {flag} (options come before the port; aemp help for the list)"
                )))
                }
            }
            i += 1;
        }
        args.drain(..i.min(args.len()));
        Ok(Some(o))
    }

    fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }
}

/// Runs protocol command `name` with `args` (options first).
/// `rc` is the rc file if the chain read it already.
pub(crate) async fn run(
    name: &str,
    mut args: Vec<Value>,
    rc: Option<RcFile>,
) -> Result<(), Failure> {
    let Some(opts) = Options::parse(&mut args)? else {
        crate::chain::print_help(name);
        return Ok(());
    };
    if name == "db" {
        return Err(Failure::failed(
            "db: not available yet: aemp has no global database so far (it is being built); \
             aemp lookup NAME finds ports registered on the seed nodes",
        ));
    }
    let needs = match name {
        "snd" | "cal" | "mon" => "PORT",
        "lookup" => "NAME",
        _ => "",
    };
    if !needs.is_empty() && args.is_empty() {
        return Err(Failure::usage(format!(
            "{name}: {needs} is missing (aemp {name} --help)"
        )));
    }
    if name == "nodes" && !args.is_empty() {
        return Err(Failure::usage("nodes: takes no arguments besides options"));
    }
    let port = match name {
        "snd" | "cal" | "mon" => {
            let text = args.remove(0);
            let text = text
                .to_text()
                .ok_or_else(|| Failure::usage(format!("{name}: the port must be a string")))?
                .into_owned();
            let port = PortId::parse(&text).map_err(|e| Failure::usage(format!("{name}: {e}")))?;
            if name == "mon" && !args.is_empty() {
                return Err(Failure::usage("mon: takes only a port"));
            }
            Some(port)
        }
        _ => None,
    };
    let rc = match rc {
        Some(rc) => rc,
        None => crate::chain::load_rc()?,
    };
    let joined = join(&opts, &rc).await.map_err(Failure::failed)?;
    let node = &joined.node;
    let result = match (name, port) {
        ("snd", Some(port)) => snd(node, &port, args, opts.timeout()).await,
        ("cal", Some(port)) => cal(node, &port, args, opts.timeout()).await,
        ("mon", Some(port)) => mon(node, &port, opts.timeout).await,
        ("nodes", _) => {
            nodes(&joined);
            Ok(())
        }
        ("lookup", _) => lookup(&joined, args, opts.timeout()).await,
        _ => Err(format!("{name}: no such protocol command")),
    };
    node.shutdown().await;
    result.map_err(|e| Failure::failed(format!("{name}: {e}")))
}

/// A short-lived node and the seeds it reached.
struct Joined {
    node: Node,
    /// (address, node id) of each reachable seed.
    seeds: Vec<(String, String)>,
}

const NO_CREDENTIALS: &str = "no secret or certificate configured: every node of a network \
    needs the same one. Run `aemp gensecret` once (it writes the secret to the rc file, \
    which the nodes and aemp read), copy the file to every host, or pass --secret SECRET";

/// Starts the node and connects to every seed (at once, within the time limit).
async fn join(opts: &Options, rc: &RcFile) -> Result<Joined, String> {
    let profile_name = opts.profile.clone().unwrap_or_else(|| "aemp".to_owned());
    let profile = rc
        .profile_settings(&profile_name)
        .map_err(|e| format!("profile {profile_name}: {e}"))?;
    let cert = match &opts.cert {
        Some(path) => Some(crate::chain::read_pem(path)?),
        None => profile.cert.clone(),
    };
    let secret = opts.secret.clone().or(profile.secret.clone());
    if secret.is_none() && cert.is_none() {
        return Err(NO_CREDENTIALS.into());
    }
    let seeds: Vec<String> = if opts.seeds.is_empty() {
        profile.seeds.iter().map(|s| seed_address(s)).collect()
    } else {
        opts.seeds.iter().map(|s| seed_address(s)).collect()
    };
    if seeds.is_empty() {
        return Err(format!(
            "no seeds to join through: pass --seed HOST:PORT (a node's address), or configure \
             them with `aemp setseeds HOST:PORT` (profile {profile_name} has none)"
        ));
    }
    // The node dials the seeds itself (below) to report failures; it needs no listener.
    let mut settings = profile;
    settings.seeds.clear();
    settings.binds = Some(Vec::new());
    let mut builder = Node::builder().node_id(expand_node_id("aemp/%n/%u"));
    if let Some(secret) = secret {
        builder = builder.secret(secret);
    }
    if let Some(cert) = cert {
        builder = builder.cert_pem(cert);
    }
    let node = settings
        .apply_to(builder)
        .map_err(|e| format!("profile {profile_name}: {e}"))?
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let limit = opts.timeout();
    let mut attempts = tokio::task::JoinSet::new();
    for (i, addr) in seeds.iter().enumerate() {
        let (node, addr) = (node.clone(), addr.clone());
        attempts.spawn(async move {
            let r = tokio::time::timeout(limit, node.connect(&addr)).await;
            (i, addr, r)
        });
    }
    let mut reached = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = attempts.join_next().await {
        let Ok((i, addr, r)) = done else { continue };
        match r {
            Ok(Ok(id)) => reached.push((i, addr, id)),
            Ok(Err(e)) => failures.push((i, explain(&addr, &e))),
            Err(_) => failures.push((i, format!("{addr}: no answer within {}", secs(limit)))),
        }
    }
    if reached.is_empty() {
        node.shutdown().await;
        failures.sort();
        let list: Vec<String> = failures.into_iter().map(|(_, f)| f).collect();
        return Err(format!("nothing reachable: {}", list.join("; ")));
    }
    for (_, failure) in &failures {
        eprintln!("aemp: warning: {failure}");
    }
    reached.sort();
    Ok(Joined {
        node,
        seeds: reached.into_iter().map(|(_, a, id)| (a, id)).collect(),
    })
}

/// A connection error with what to do about it.
fn explain(addr: &str, e: &Error) -> String {
    use aemp::transport::Error as T;
    let Error::Transport(t) = e else {
        return format!("{addr}: {e}");
    };
    let hint = match t {
        T::AuthFailed
        | T::ClosedDuringHandshake {
            during: "auth line",
        } => {
            " (authentication failed: the secrets differ; compare `aemp showconfig aemp` here \
             with the node's profile, or pass --secret)"
        }
        T::Tls(_) => {
            " (the certificates differ: both nodes need the same certificate or CA, see \
             `aemp gencert`)"
        }
        T::NoCredentials => " (the node offers no TLS and we have no secret: pass --secret)",
        T::Connect { .. } => " (is a node listening there?)",
        T::HandshakeTimeout { .. } => " (is that an aemp node?)",
        _ => "",
    };
    format!("{addr}: {t}{hint}")
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// Why a port's monitor fired, with a hint.
fn died(port: &PortId, reason: &[Value]) -> String {
    let tag = reason.first().and_then(Value::as_str);
    let text = format_reason(reason);
    match tag {
        Some("no_such_port") => format!("{port}: no such port ({text})"),
        Some("transport_error") if text.contains("no known address") => format!(
            "cannot reach node {}: no address is known for it (it is not one of the seeds, \
             and they did not tell): pass its address with --seed HOST:PORT ({text})",
            port.node()
        ),
        _ => format!("{port} died: {text}"),
    }
}

enum Event {
    Confirmed(Vec<Value>),
    Died(Vec<Value>),
}

/// `snd`: the message, then a monitor and a node-port round trip that confirms delivery.
async fn snd(node: &Node, port: &PortId, msg: Vec<Value>, limit: Duration) -> Result<(), String> {
    node.snd(port, msg).map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let died_tx = tx.clone();
    let _monitor = (!port.is_node_port()).then(|| {
        node.mon(port, move |reason| {
            let _ = died_tx.send(Event::Died(reason));
        })
    });
    let reply = node.port_inline(move |msg| {
        let _ = tx.send(Event::Confirmed(msg));
    });
    node.snd(
        port.node(),
        vec![
            Value::from("snd"),
            Value::from(&reply),
            Value::from("message sent successfully"),
        ],
    )
    .map_err(|e| e.to_string())?;
    let event = tokio::time::timeout(limit, rx.recv()).await;
    let _ = node.kil(&reply, vec![]);
    match event {
        Ok(Some(Event::Confirmed(msg))) => {
            println!("{}", format_reason(&msg));
            Ok(())
        }
        Ok(Some(Event::Died(reason))) => Err(died(port, &reason)),
        Ok(None) => Err("the node shut down".into()),
        Err(_) => Err(format!(
            "no confirmation from {} within {}",
            port.node(),
            secs(limit)
        )),
    }
}

/// `cal`: the reply as comma-separated JSON values.
async fn cal(node: &Node, port: &PortId, msg: Vec<Value>, limit: Duration) -> Result<(), String> {
    match tokio::time::timeout(limit, node.cal(port, msg)).await {
        Ok(Ok(reply)) => {
            let values: Vec<String> = reply.iter().map(|v| to_json(v, false)).collect();
            println!("{}", values.join(","));
            Ok(())
        }
        Ok(Err(Error::Killed { reason, .. })) => Err(died(port, &reason)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no reply from {port} within {}", secs(limit))),
    }
}

/// `mon`: the reason; no time limit unless one was given.
async fn mon(node: &Node, port: &PortId, limit: Option<Duration>) -> Result<(), String> {
    let monitor = node.monitor(port);
    let reason = match limit {
        None => monitor.await,
        Some(limit) => tokio::time::timeout(limit, monitor)
            .await
            .map_err(|_| format!("{port} still alive after {}", secs(limit)))?,
    };
    if reason.first().and_then(Value::as_str) == Some("transport_error")
        && format_reason(&reason).contains("no known address")
    {
        return Err(died(port, &reason));
    }
    println!("{}", format_reason(&reason));
    Ok(())
}

/// `nodes`: the nodes that are up, the seeds with their addresses.
fn nodes(joined: &Joined) {
    let mut up = joined.node.up_nodes();
    up.sort();
    for id in up {
        match joined.seeds.iter().find(|(_, s)| *s == id) {
            Some((addr, _)) => println!("{id} {addr}"),
            None => println!("{id}"),
        }
    }
}

/// `lookup NAME`: the node port's `lookup` request, on every node joined.
async fn lookup(joined: &Joined, args: Vec<Value>, limit: Duration) -> Result<(), String> {
    let [name] = args.as_slice() else {
        return Err("takes exactly one name".into());
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (_, id) in &joined.seeds {
        let call = joined.node.cal(
            &PortId::new(id, ""),
            vec![Value::from("lookup"), name.clone()],
        );
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(reply)) => {
                if let Some(port) = reply.first().and_then(Value::to_text) {
                    found.push(port.into_owned());
                }
            }
            Ok(Err(e)) => errors.push(format!("{id}: {e}")),
            Err(_) => errors.push(format!("{id}: no answer within {}", secs(limit))),
        }
    }
    for e in &errors {
        eprintln!("aemp: warning: lookup: {e}");
    }
    if found.is_empty() {
        let nodes: Vec<&str> = joined.seeds.iter().map(|(_, id)| id.as_str()).collect();
        return Err(format!(
            "{} is not registered on {} (this asks the node ports of the seeds; the global \
             database is not searched yet)",
            to_json(name, false),
            nodes.join(", ")
        ));
    }
    for port in found {
        println!("{port}");
    }
    Ok(())
}
