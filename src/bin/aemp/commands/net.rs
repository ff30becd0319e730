//! The network side of the protocol commands: their options, and joining the network as a
//! short-lived node (the kernel's seed protocol: it reports to a seed as its master, which
//! answers database queries and tells the addresses of other nodes).
//!
//! Each seed is first probed with a plain handshake (under another node id), so that a
//! wrong secret or an unreachable seed is reported at once, with a hint.

use std::path::PathBuf;
use std::time::Duration;

use aemp::config::{expand_node_id, seed_address, RcFile};
use aemp::format_reason;
use aemp::transport::{AuthMethod, Config};
use aemp::{Error, Framing, Node, PortId, Value};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use crate::args::Failure;

/// Protocol commands' default time limit, as Perl's aemp.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The options of every protocol command (before the port).
#[derive(Debug, Default, Args)]
pub(crate) struct NetOpts {
    /// Join through this node (repeatable; default: the profile's seeds).
    #[arg(long = "seed", value_name = "HOST:PORT")]
    pub(crate) seeds: Vec<String>,
    /// Take the secret, certificate and seeds from this profile (default aemp).
    #[arg(long, value_name = "NAME")]
    pub(crate) profile: Option<String>,
    /// The shared secret.
    #[arg(long, value_name = "SECRET")]
    pub(crate) secret: Option<String>,
    /// The certificate (TLS).
    #[arg(long, value_name = "PEMFILE")]
    pub(crate) cert: Option<PathBuf>,
    /// Give up after this long (default 5; mon: no limit unless given).
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub(crate) timeout: Option<Duration>,
}

/// `--timeout`'s value.
fn positive_seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("--timeout must be a number of seconds, not {value:?}"))?;
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!(
            "--timeout must be a positive number of seconds, not {value}"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl NetOpts {
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }
}

/// `snd` and `cal`'s own option.
#[derive(Debug, Default, Args)]
pub(crate) struct InputOpts {
    /// Append the elements of the JSON array in FILE (`-`: standard input) to the message:
    /// for messages larger than a command line may be.
    #[arg(long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
}

/// `bench`'s own options.
#[derive(Debug, Args)]
pub(crate) struct BenchOpts {
    /// How many messages to send.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: u64,
    /// The size of each message's payload string, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 40)]
    pub(crate) size: usize,
}

/// `top`'s own options.
#[derive(Debug, Default, Args)]
pub(crate) struct TopOpts {
    /// Print one survey and exit, instead of the live view.
    #[arg(long)]
    pub(crate) once: bool,
    /// With --once: print it as JSON, for scripts.
    #[arg(long, requires = "once")]
    pub(crate) json: bool,
}

/// What a protocol command acts on.
#[derive(Debug)]
pub(crate) enum Target {
    /// `snd`, `cal`, `kil`: a port and a message (a reason) of this many values; `mon`,
    /// `bench`: a port.
    Port(PortId, usize),
    /// `spawn NODE INIT ARGS...`: the node, the init function, and this many arguments.
    Spawn(String, String, usize),
    /// `lookup NAME`, `db FAMILY`.
    Word(String),
    /// `nodes`.
    Network,
}

/// A protocol command, parsed.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) name: String,
    pub(crate) opts: NetOpts,
    pub(crate) target: Target,
    /// `snd`, `cal`: where more of the message comes from.
    pub(crate) input: Option<PathBuf>,
    /// `bench`: how many messages, and their payload's size.
    pub(crate) bench: Option<BenchOpts>,
    /// `top`: once, as JSON.
    pub(crate) top: Option<TopOpts>,
}

impl Request {
    /// The options and arguments of protocol command `name`.
    pub(crate) fn augment(c: Command, name: &str) -> Command {
        let c = NetOpts::augment_args(c);
        let trailing = |id: &'static str, value_name: &'static str, hide: bool| {
            Arg::new(id)
                .value_name(value_name)
                .num_args(0..)
                .trailing_var_arg(true)
                .allow_hyphen_values(true)
                .action(ArgAction::Append)
                .hide(hide)
        };
        let word =
            |value_name: &'static str| Arg::new("word").value_name(value_name).required(true);
        match name {
            "snd" | "cal" => InputOpts::augment_args(c)
                .arg(word("PORT"))
                .arg(trailing("args", "ARGS", false)),
            "kil" => c.arg(word("PORT")).arg(trailing("args", "REASON", false)),
            "spawn" => c
                .arg(word("NODE"))
                .arg(Arg::new("init").value_name("INIT").required(true))
                .arg(trailing("args", "ARGS", false)),
            "top" => TopOpts::augment_args(c).arg(trailing("extra", "EXTRA", true)),
            "bench" => BenchOpts::augment_args(c)
                .arg(word("PORT"))
                .arg(trailing("extra", "EXTRA", true)),
            "mon" => c.arg(word("PORT")).arg(trailing("extra", "EXTRA", true)),
            "lookup" => c.arg(word("NAME")).arg(trailing("extra", "EXTRA", true)),
            "db" => c.arg(word("FAMILY")).arg(trailing("extra", "EXTRA", true)),
            _ => c.arg(trailing("extra", "EXTRA", true)),
        }
    }

    /// The request from clap's matches.
    pub(crate) fn from_matches(name: &str, m: &ArgMatches) -> Result<Request, Failure> {
        let opts = NetOpts::from_arg_matches(m).map_err(|e| Failure::usage(e.to_string()))?;
        let word = m.try_get_one::<String>("word").ok().flatten().cloned();
        let count = |id: &str| {
            m.try_get_many::<String>(id)
                .ok()
                .flatten()
                .map_or(0, |v| v.len())
        };
        if count("extra") > 0 {
            return Err(Failure::usage(match name {
                "mon" | "bench" => format!("{name}: takes only a port"),
                "top" => "top: takes no arguments besides options".to_owned(),
                "nodes" => "nodes: takes no arguments besides options".to_owned(),
                _ => format!(
                    "{name}: takes exactly one {}",
                    if name == "db" { "FAMILY" } else { "NAME" }
                ),
            }));
        }
        let target = match (name, word) {
            ("snd" | "cal" | "mon" | "kil" | "bench", Some(text)) => {
                let port =
                    PortId::parse(&text).map_err(|e| Failure::usage(format!("{name}: {e}")))?;
                Target::Port(port, count("args"))
            }
            ("spawn", Some(node)) => {
                let node = aemp::kernel::PortId::parse(&node)
                    .map_err(|e| Failure::usage(format!("spawn: {e}")))?
                    .node()
                    .to_owned();
                let init = m.get_one::<String>("init").cloned().unwrap_or_default();
                Target::Spawn(node, init, count("args"))
            }
            ("lookup" | "db", Some(word)) => Target::Word(word),
            _ => Target::Network,
        };
        let input = match name {
            "snd" | "cal" => {
                InputOpts::from_arg_matches(m)
                    .map_err(|e| Failure::usage(e.to_string()))?
                    .input
            }
            _ => None,
        };
        let bench = match name {
            "bench" => {
                Some(BenchOpts::from_arg_matches(m).map_err(|e| Failure::usage(e.to_string()))?)
            }
            _ => None,
        };
        let top = match name {
            "top" => Some(TopOpts::from_arg_matches(m).map_err(|e| Failure::usage(e.to_string()))?),
            _ => None,
        };
        Ok(Request {
            name: name.to_owned(),
            opts,
            target,
            input,
            bench,
            top,
        })
    }

    /// How many values at the end of the line are the message (`snd`, `cal`), the reason
    /// (`kil`) or the spawn arguments (`spawn`).
    pub(crate) fn message_len(&self) -> usize {
        match self.target {
            Target::Port(_, n) | Target::Spawn(_, _, n) => n,
            _ => 0,
        }
    }
}

/// A seed that answered the probe.
pub(crate) struct Seed {
    pub(crate) addr: String,
    pub(crate) id: String,
    /// Its greeting's `provider`: `aemp-...` for aemp nodes, `AE-...` for AnyEvent::MP.
    pub(crate) provider: String,
}

impl Seed {
    /// Whether it is an aemp node (which answers the node port's `lookup` request besides
    /// the database; AnyEvent::MP 2.x nodes keep names in the database only).
    pub(crate) fn is_aemp(&self) -> bool {
        self.provider.starts_with("aemp")
    }
}

/// A short-lived node that has joined the network, and the seeds it reached.
pub(crate) struct Joined {
    pub(crate) node: Node,
    /// Each reachable seed, in the order given.
    pub(crate) seeds: Vec<Seed>,
}

const NO_CREDENTIALS: &str = "no secret or certificate configured: every node of a network \
    needs the same one. Run `aemp gensecret` once (it writes the secret to the rc file, \
    which the nodes and aemp read), copy the file to every host, or pass --secret SECRET";

/// Probes every seed (at once), then starts a node with the reachable ones as its seeds and
/// waits until it has a master; all within the time limit.
pub(crate) async fn join(opts: &NetOpts, rc: &RcFile) -> Result<Joined, String> {
    let profile_name = opts.profile.clone().unwrap_or_else(|| "aemp".to_owned());
    let profile = rc
        .profile_settings(&profile_name)
        .map_err(|e| format!("profile {profile_name}: {e}"))?;
    let cert = match &opts.cert {
        Some(path) => Some(crate::commands::values::read_pem(path)?),
        None => profile.cert.clone(),
    };
    let secret = opts.secret.clone().or(profile.secret.clone());
    if secret.is_none() && cert.is_none() {
        return Err(NO_CREDENTIALS.into());
    }
    let mut seeds: Vec<String> = Vec::new();
    let given = if opts.seeds.is_empty() {
        &profile.seeds
    } else {
        &opts.seeds
    };
    for addr in given.iter().map(|s| seed_address(s)) {
        if !seeds.contains(&addr) {
            seeds.push(addr);
        }
    }
    if seeds.is_empty() {
        return Err(format!(
            "no seeds to join through: pass --seed HOST:PORT (a node's address), or configure \
             them with `aemp setseeds HOST:PORT` (profile {profile_name} has none)"
        ));
    }
    let id = expand_node_id("aemp/%n/%u");
    let probe = probe_config(
        &format!("{id}-probe"),
        secret.as_deref(),
        cert.as_deref(),
        &profile,
    )?;
    // The node needs no listener: it only dials out, to its seeds and to the nodes it talks
    // to (whose addresses its master tells).
    let mut settings = profile;
    settings.seeds.clear();
    settings.binds = Some(Vec::new());
    let mut builder = Node::builder().node_id(id);
    if let Some(secret) = secret {
        builder = builder.secret(secret);
    }
    if let Some(cert) = cert {
        builder = builder.cert_pem(cert);
    }
    let mut builder = settings
        .apply_to(builder)
        .map_err(|e| format!("profile {profile_name}: {e}"))?;

    let limit = opts.timeout();
    let deadline = tokio::time::Instant::now() + limit;
    let reached = probe_seeds(&seeds, &probe, limit).await?;
    for seed in &reached {
        builder = builder.seed(seed.addr.clone());
    }
    let node = builder.start().await.map_err(|e| e.to_string())?;
    // The master is chosen when a seed's connection comes up: look after every node event,
    // and now and then in case the choice follows the event.
    let mut events = node.node_events();
    while node.master().is_none() {
        if tokio::time::Instant::now() >= deadline {
            node.shutdown().await;
            let addrs: Vec<&str> = reached.iter().map(|s| s.addr.as_str()).collect();
            return Err(format!(
                "could not join through {} within {} (the seeds answered a handshake, but \
                 the node's own connection did not come up)",
                addrs.join(", "),
                secs(limit)
            ));
        }
        let tick = tokio::time::Instant::now() + Duration::from_millis(25);
        let _ = tokio::time::timeout_at(tick.min(deadline), events.recv()).await;
    }
    Ok(Joined {
        node,
        seeds: reached,
    })
}

/// The transport settings of the probes: the node's credentials and handshake options,
/// under node id `id`.
fn probe_config(
    id: &str,
    secret: Option<&str>,
    cert: Option<&str>,
    profile: &aemp::config::Profile,
) -> Result<Config, String> {
    let mut config = Config::new(id).map_err(|e| e.to_string())?;
    if let Some(secret) = secret {
        config = config.secret(secret);
    }
    if let Some(pem) = cert {
        config = config
            .cert_pem(pem)
            .map_err(|e| format!("certificate: {e}"))?;
    }
    // Names aemp does not know are skipped, as the node does.
    if let Some(names) = &profile.framing_format {
        let known: Vec<Framing> = names.iter().filter_map(|n| n.parse().ok()).collect();
        if !known.is_empty() {
            config = config.framings(known).map_err(|e| e.to_string())?;
        }
    }
    if let Some(names) = &profile.auth_offer {
        let known: Vec<AuthMethod> = names.iter().filter_map(|n| n.parse().ok()).collect();
        if !known.is_empty() {
            config = config.auth_offer(known).map_err(|e| e.to_string())?;
        }
    }
    if let Some(names) = &profile.auth_accept {
        let known: Vec<AuthMethod> = names.iter().filter_map(|n| n.parse().ok()).collect();
        if !known.is_empty() {
            config = config.auth_accept(known).map_err(|e| e.to_string())?;
        }
    }
    if let Some(t) = profile.monitor_timeout {
        config = config.monitor_timeout(t);
    }
    Ok(config)
}

/// One plain handshake with each seed (at once, within `limit`), closed at once: those that
/// answered, in the given order; an error listing every failure if none did (failures are
/// warnings otherwise).
async fn probe_seeds(
    seeds: &[String],
    config: &Config,
    limit: Duration,
) -> Result<Vec<Seed>, String> {
    let mut attempts = tokio::task::JoinSet::new();
    for (i, addr) in seeds.iter().enumerate() {
        let (config, addr) = (config.clone(), addr.clone());
        attempts.spawn(async move {
            let r = tokio::time::timeout(limit, aemp::transport::connect(addr.as_str(), &config))
                .await
                .map(|r| {
                    r.map(|conn| {
                        let info = conn.info();
                        let provider = info.greeting.key("provider").unwrap_or_default();
                        (info.node_id.clone(), provider.to_owned())
                    })
                });
            (i, addr, r)
        });
    }
    let mut reached = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = attempts.join_next().await {
        let Ok((i, addr, r)) = done else { continue };
        match r {
            Ok(Ok((id, provider))) => reached.push((i, Seed { addr, id, provider })),
            Ok(Err(e)) => failures.push((i, explain(&addr, &Error::Transport(e)))),
            Err(_) => failures.push((i, format!("{addr}: no answer within {}", secs(limit)))),
        }
    }
    failures.sort();
    if reached.is_empty() {
        let list: Vec<String> = failures.into_iter().map(|(_, f)| f).collect();
        return Err(format!("nothing reachable: {}", list.join("; ")));
    }
    for (_, failure) in &failures {
        eprintln!("aemp: warning: {failure}");
    }
    reached.sort_by_key(|(i, _)| *i);
    Ok(reached.into_iter().map(|(_, seed)| seed).collect())
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

pub(crate) fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// Why a port's monitor fired, with a hint.
pub(crate) fn died(port: &PortId, reason: &[Value]) -> String {
    let tag = reason.first().and_then(Value::as_str);
    let text = format_reason(reason);
    match tag {
        Some("no_such_port") => format!("{port}: no such port ({text})"),
        Some("transport_error") if text.contains("no known address") => format!(
            "cannot reach node {}: no address is known for it (the global database does not \
             list it: is it running, with listeners, and joined to the same network? \
             aemp nodes lists the known ones) ({text})",
            port.node()
        ),
        _ => format!("{port} died: {text}"),
    }
}

/// A note for when the master answers no database query: the Perl test peer and other
/// minimal nodes speak AEMP but not the global protocol.
pub(crate) fn no_database(limit: Duration) -> String {
    format!(
        "the global database did not answer within {} (the seeds must run aemp's or \
         AnyEvent::MP 2.x's kernel)",
        secs(limit)
    )
}
