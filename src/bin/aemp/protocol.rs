//! The protocol commands: a short-lived node joins the network through the seeds (the
//! kernel's seed protocol: it reports to a seed as its master, which answers database
//! queries and tells the addresses of other nodes) and does one thing.
//!
//! Each seed is first probed with a plain handshake (under another node id), so that a
//! wrong secret or an unreachable seed is reported at once, with a hint.

use std::path::PathBuf;
use std::time::Duration;

use aemp::actor::format_reason;
use aemp::config::{expand_node_id, seed_address, to_json, RcFile};
use aemp::transport::{AuthMethod, Config};
use aemp::{Error, Framing, Node, PortId, Value};
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
    let needs = match name {
        "snd" | "cal" | "mon" => "PORT",
        "lookup" => "NAME",
        "db" => "FAMILY",
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
    let word = match name {
        "lookup" | "db" => {
            let [word] = args.as_slice() else {
                return Err(Failure::usage(format!("{name}: takes exactly one {needs}")));
            };
            let word = word
                .to_text()
                .ok_or_else(|| Failure::usage(format!("{name}: the {needs} must be a string")))?;
            word.into_owned()
        }
        _ => String::new(),
    };
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
        ("nodes", _) => nodes(&joined, opts.timeout()).await,
        ("lookup", _) => lookup(&joined, &word, opts.timeout()).await,
        ("db", _) => db(node, &word, opts.timeout()).await,
        _ => Err(format!("{name}: no such protocol command")),
    };
    node.shutdown().await;
    result.map_err(|e| Failure::failed(format!("{name}: {e}")))
}

/// A short-lived node that has joined the network, and the seeds it reached.
struct Joined {
    node: Node,
    /// (address, node id) of each reachable seed.
    seeds: Vec<(String, String)>,
}

const NO_CREDENTIALS: &str = "no secret or certificate configured: every node of a network \
    needs the same one. Run `aemp gensecret` once (it writes the secret to the rc file, \
    which the nodes and aemp read), copy the file to every host, or pass --secret SECRET";

/// Probes every seed (at once), then starts a node with the reachable ones as its seeds and
/// waits until it has a master; all within the time limit.
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
    for (addr, _) in &reached {
        builder = builder.seed(addr.clone());
    }
    let node = builder.start().await.map_err(|e| e.to_string())?;
    // The master is chosen when a seed's connection comes up: look after every node event,
    // and now and then in case the choice follows the event.
    let mut events = node.node_events();
    while node.master().is_none() {
        if tokio::time::Instant::now() >= deadline {
            node.shutdown().await;
            let addrs: Vec<&str> = reached.iter().map(|(a, _)| a.as_str()).collect();
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

/// One plain handshake with each seed (at once, within `limit`), closed at once: the
/// (address, node id) of those that answered, in the given order; an error listing every
/// failure if none did (failures are warnings otherwise).
async fn probe_seeds(
    seeds: &[String],
    config: &Config,
    limit: Duration,
) -> Result<Vec<(String, String)>, String> {
    let mut attempts = tokio::task::JoinSet::new();
    for (i, addr) in seeds.iter().enumerate() {
        let (config, addr) = (config.clone(), addr.clone());
        attempts.spawn(async move {
            let r = tokio::time::timeout(limit, aemp::transport::connect(addr.as_str(), &config))
                .await
                .map(|r| r.map(|conn| conn.info().node_id.clone()));
            (i, addr, r)
        });
    }
    let mut reached = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = attempts.join_next().await {
        let Ok((i, addr, r)) = done else { continue };
        match r {
            Ok(Ok(id)) => reached.push((i, addr, id)),
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
    reached.sort();
    Ok(reached.into_iter().map(|(_, a, id)| (a, id)).collect())
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
            "cannot reach node {}: no address is known for it (the global database does not \
             list it: is it running, with listeners, and joined to the same network? \
             aemp nodes lists the known ones) ({text})",
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

/// Families of the global database that `nodes` reads: the global nodes and the listeners.
const GLOBALS: &str = "'g";
const LISTENERS: &str = "'l";

/// A note for when the master answers no database query: the Perl test peer and other
/// minimal nodes speak AEMP but not the global protocol.
fn no_database(limit: Duration) -> String {
    format!(
        "the global database did not answer within {} (the seeds must run aemp's or \
         AnyEvent::MP 2.x's kernel)",
        secs(limit)
    )
}

/// `nodes`: the master, the global nodes, the nodes this node is connected to, and every
/// node with listeners the database knows, each with its listeners.
async fn nodes(joined: &Joined, limit: Duration) -> Result<(), String> {
    let node = &joined.node;
    let db = tokio::time::timeout(limit, async {
        (
            node.db_family(GLOBALS).await,
            node.db_family(LISTENERS).await,
        )
    })
    .await;
    let (globals, listeners) = match db {
        Ok(families) => families,
        Err(_) => {
            eprintln!(
                "aemp: warning: nodes: {}; listing what this node knows",
                no_database(limit)
            );
            Default::default()
        }
    };
    let line = |label: &str, id: &str| {
        let addrs: Vec<String> = match listeners.get(id).and_then(Value::as_array) {
            Some(addrs) => addrs
                .iter()
                .filter_map(|a| a.to_text().map(|t| t.into_owned()))
                .collect(),
            None => joined
                .seeds
                .iter()
                .filter(|(_, s)| s == id)
                .map(|(a, _)| a.clone())
                .collect(),
        };
        if addrs.is_empty() {
            println!("{label} {id}");
        } else {
            println!("{label} {id} {}", addrs.join(","));
        }
    };
    match node.master() {
        Some(master) => line("master:", &master),
        None => println!("master: none"),
    }
    let mut global: Vec<String> = node.global_nodes();
    global.extend(globals.into_keys());
    global.sort();
    global.dedup();
    for id in &global {
        line("global:", id);
    }
    let mut up = node.up_nodes();
    up.sort();
    for id in &up {
        line("up:", id);
    }
    // Nodes without listeners (short-lived ones such as this) cannot be reached: left out.
    for (id, addrs) in &listeners {
        if addrs.as_array().is_some_and(|a| !a.is_empty()) {
            line("known:", id);
        }
    }
    Ok(())
}

/// `lookup NAME`: the ports registered as NAME network-wide (`register_name`); if none,
/// the port registered as NAME on each seed (the node port's `lookup`, `Node::register`).
async fn lookup(joined: &Joined, name: &str, limit: Duration) -> Result<(), String> {
    let mut found: Vec<String> =
        match tokio::time::timeout(limit, joined.node.lookup_names(name)).await {
            Ok(ports) => ports.iter().map(ToString::to_string).collect(),
            Err(_) => {
                eprintln!("aemp: warning: lookup: {}", no_database(limit));
                Vec::new()
            }
        };
    if found.is_empty() {
        for (_, id) in &joined.seeds {
            let call = joined.node.cal(
                &PortId::new(id, ""),
                vec![Value::from("lookup"), Value::from(name)],
            );
            match tokio::time::timeout(limit, call).await {
                Ok(Ok(reply)) => {
                    if let Some(port) = reply.first().and_then(Value::to_text) {
                        found.push(port.into_owned());
                    }
                }
                Ok(Err(e)) => eprintln!("aemp: warning: lookup: {id}: {e}"),
                Err(_) => eprintln!(
                    "aemp: warning: lookup: {id}: no answer within {}",
                    secs(limit)
                ),
            }
        }
    }
    if found.is_empty() {
        return Err(format!("no port registered as {name}"));
    }
    found.sort();
    found.dedup();
    for port in found {
        println!("{port}");
    }
    Ok(())
}

/// `db FAMILY`: the family, merged from every node, as pretty JSON (an object).
async fn db(node: &Node, family: &str, limit: Duration) -> Result<(), String> {
    let entries = tokio::time::timeout(limit, node.db_family(family))
        .await
        .map_err(|_| no_database(limit))?;
    if entries.is_empty() {
        println!("{{}}");
    } else {
        let map = Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        );
        println!("{}", to_json(&map, true));
    }
    Ok(())
}
