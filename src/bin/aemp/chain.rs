//! The chainable commands of Perl's aemp: `aemp profile web gensecret setbinds 127.0.0.1:4040`.
//!
//! The arguments are decoded as Perl's aemp decodes them, the whole chain is parsed (so
//! `--help` anywhere answers before anything runs), the configuration commands edit the rc
//! file in memory, it is saved once if they changed it (a failing chain changes nothing),
//! and a protocol command, which takes the rest of the arguments, ends the chain.

use std::path::Path;

use aemp::config::{self as profile, parse_json, to_json, RcFile};
use aemp::Value;

use crate::protocol;
use crate::Failure;

/// How many arguments a command takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Arity {
    Zero,
    One,
    Rest,
}

/// What a command is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Config,
    Protocol,
    /// Perl's aemp has it; aemp refuses it (the text says why).
    Refused(&'static str),
    /// Parsed by clap, only as the first command.
    Clap,
}

#[derive(Clone, Debug)]
struct Spec {
    name: String,
    arity: Arity,
    kind: Kind,
    args: &'static str,
    about: String,
}

const REFUSED_EVAL: &str = "refused: aemp never runs code sent over the network. AnyEvent::MP's \
    `eval` request runs arbitrary Perl on the node; aemp nodes do not answer it, and aemp does \
    not send it. Call a port instead (aemp cal NODE#PORT ARGS...), or register a function on \
    the node (NodeBuilder::function) and send to its node port (aemp snd NODE NAME ARGS...).";
const REFUSED_TRACE: &str = "not supported: it walks AnyEvent::MP 1.x's `up_nodes` request, \
    which 2.x nodes do not answer. `aemp nodes --seed HOST:PORT` lists the nodes of the \
    network.";

/// The low-level keys, set with `setKEY VALUE` (or `KEY VALUE`) and removed with `delKEY`.
const LOW_LEVEL: &[(&str, &str, &str)] = &[
    (
        "monitor_timeout",
        "SECONDS",
        "the handshake limit, and the cap of reconnect backoff (default 30)",
    ),
    (
        "connect_interval",
        "SECONDS",
        "how long a connection attempt may take (default 2)",
    ),
    (
        "framing_format",
        "LIST",
        "framings to offer and accept, in order (default cbor,json,storable; aemp skips storable)",
    ),
    (
        "auth_offer",
        "LIST",
        "auth methods to send (default tls_sha3_512,hmac_sha3_512)",
    ),
    (
        "auth_accept",
        "LIST",
        "auth methods to accept (default tls_sha3_512,hmac_sha3_512,tls_anon,cleartext)",
    ),
    (
        "autocork",
        "BOOL",
        "Perl's AnyEvent::Handle autocork (stored for Perl nodes; aemp ignores it)",
    ),
    (
        "nodelay",
        "BOOL",
        "TCP_NODELAY (default on; stored for Perl nodes, aemp nodes always set it)",
    ),
];

fn specs() -> Vec<Spec> {
    use Arity::*;
    use Kind::*;
    let s = |name: &str, arity, kind, args, about: &str| Spec {
        name: name.to_owned(),
        arity,
        kind,
        args,
        about: about.to_owned(),
    };
    let mut v = vec![
        s("snd", Rest, Protocol, "[OPTIONS] PORT ARGS...",
          "Sends the message ARGS... to PORT, then confirms that it reached PORT's node with a round trip through that node's node port (as Perl's aemp does). Fails if PORT does not exist."),
        s("cal", Rest, Protocol, "[OPTIONS] PORT ARGS...",
          "Sends ARGS... with a reply port appended to PORT and prints the reply as JSON values separated by commas."),
        s("mon", Rest, Protocol, "[OPTIONS] PORT",
          "Waits until PORT dies and prints the reason (`normal` for a normal exit). Waits without limit unless --timeout is given."),
        s("nodes", Rest, Protocol, "[OPTIONS]",
          "Joins through the seeds and lists, one per line with its listeners: `master:` the global node this node reports to, `global:` the global nodes, `up:` the nodes this node is connected to, `known:` every node with listeners in the global database."),
        s("lookup", Rest, Protocol, "[OPTIONS] NAME",
          "Prints the ports registered as NAME network-wide (a group: Node::register_name, AnyEvent::MP 2.x's grp_reg), one per line; if there are none, asks each seed for the port registered there as NAME (the node port's `lookup` request, Node::register). Fails if none is found."),
        s("db", Rest, Protocol, "[OPTIONS] FAMILY",
          "Prints a family of the global database, merged from every node, as a JSON object (key: value). `'l` holds each node's listeners, `'g` the global nodes; a name registered network-wide is a family of port ids."),
        s("eval", Rest, Refused(REFUSED_EVAL), "NODE EXPR...", "Perl's remote eval: refused."),
        s("shell", Rest, Refused(REFUSED_EVAL), "[NODE]", "Perl's remote eval shell: refused."),
        s("restart", Rest, Refused(REFUSED_EVAL), "NODE", "Perl's watchdog restart through eval: refused."),
        s("trace", Rest, Refused(REFUSED_TRACE), "NODE", "1.x's network trace: not supported."),
        s("run", Rest, Clap, "[PROFILE] [OPTIONS]",
          "Runs a node from a profile and flags until SIGINT or SIGTERM (see aemp run --help)."),
        s("ping", Rest, Clap, "HOST:PORT [OPTIONS]",
          "One handshake with a node, reported (see aemp ping --help)."),
        s("setnodeid", One, Config, "ID",
          "Sets the node id. `%n` becomes the host name, `%u` and a trailing `/` random characters (default: PROFILE/)."),
        s("delnodeid", Zero, Config, "", "Removes the node id (it is inherited again)."),
        s("gensecret", Zero, Config, "", "Sets a new random shared secret (64 random bytes in base 62)."),
        s("setsecret", One, Config, "SECRET", "Sets the shared secret."),
        s("delsecret", Zero, Config, "", "Removes the shared secret (it is inherited again)."),
        s("gencert", Zero, Config, "",
          "Sets a new private key and self-signed certificate (one PEM, CN AnyEvent::MP). Nodes that share it use TLS and trust each other."),
        s("setcert", One, Config, "PEMFILE",
          "Sets the certificate from a file: the private key, the certificate and any CA certificates, in PEM. The contents are stored, not the file name."),
        s("delcert", Zero, Config, "", "Removes the certificate (it is inherited again)."),
        s("setseeds", One, Config, "HOST:PORT,...",
          "Sets the seeds (comma-separated, or a JSON array; the port defaults to 4040; an empty list is allowed)."),
        s("delseeds", Zero, Config, "", "Removes the seeds (they are inherited again)."),
        s("addseed", One, Config, "HOST:PORT", "Adds a seed."),
        s("delseed", One, Config, "HOST:PORT", "Removes a seed."),
        s("setbinds", One, Config, "HOST:PORT,...",
          "Sets the listen addresses (comma-separated, or a JSON array). Host `*`: every interface; port `*` or none: any free port (default: `*`)."),
        s("delbinds", Zero, Config, "", "Removes the binds (they are inherited again)."),
        s("addbind", One, Config, "HOST:PORT", "Adds a bind."),
        s("delbind", One, Config, "HOST:PORT", "Removes a bind."),
        s("setservices", One, Config, "NAME,...",
          "Sets the services `aemp run` starts (comma-separated, or a JSON array whose entries may be [\"NAME\", ARGS...]). This binary has aemp::echo and aemp::sequence."),
        s("delservices", Zero, Config, "", "Removes the services (they are inherited again)."),
        s("addservice", One, Config, "NAME", "Adds a service (a name, or a JSON array [\"NAME\", ARGS...])."),
        s("delservice", One, Config, "NAME", "Removes the first instance of a service."),
        s("profile", One, Config, "NAME",
          "Makes the following commands act on profile NAME (created if needed) instead of the global keys."),
        s("delprofile", One, Config, "NAME", "Deletes profile NAME."),
        s("setparent", One, Config, "NAME",
          "Sets the parent of the current profile: what the profile does not set is taken from NAME (and its parents), then from the global keys."),
        s("delparent", Zero, Config, "", "Removes the parent of the current profile."),
        s("showprofile", One, Config, "NAME", "Prints profile NAME's own keys as JSON."),
        s("showconfig", Rest, Config, "[NAME [KEY VALUE]...]",
          "Prints the effective settings of profile NAME (default: the host name): the defaults, the KEY VALUE pairs, the global keys, the parent chain and the profile, later ones winning."),
    ];
    for (key, arg, about) in LOW_LEVEL {
        v.push(Spec {
            name: format!("set{key}"),
            arity: One,
            kind: Config,
            args: arg,
            about: format!("Sets {key}: {about}."),
        });
        v.push(Spec {
            name: format!("del{key}"),
            arity: Zero,
            kind: Config,
            args: "",
            about: format!("Removes {key} (it is inherited again)."),
        });
    }
    v
}

/// The command called `name`, or `setNAME` (every `setX` has the alias `X`).
fn find(name: &str) -> Option<Spec> {
    let all = specs();
    all.iter()
        .find(|s| s.name == name)
        .or_else(|| all.iter().find(|s| s.name == format!("set{name}")))
        .cloned()
}

pub(crate) fn general_help() -> String {
    let low: Vec<String> = LOW_LEVEL
        .iter()
        .map(|(k, a, _)| format!("    [set|del]{k} {a}"))
        .collect();
    format!(
        "aemp {version}: set up and poke at AEMP (AnyEvent::MP) networks

Usage: aemp COMMAND [ARGS...] [COMMAND [ARGS...]]...

Configuration commands chain, as in Perl's aemp, and edit the rc file shared with Perl
nodes: $AEMP_RC, else $PERL_ANYEVENT_MP_RC, else ~/.perl-anyevent-mp. They act on the
global keys, or after `profile NAME` on that profile. Every setX also has the name X.
    aemp gensecret profile web setbinds 127.0.0.1:4040 setparent base

Running a node:
    run [PROFILE] [OPTIONS]           a node from a profile and flags (aemp run --help)
    ping HOST:PORT [OPTIONS]          one handshake, reported (aemp ping --help)

Protocol commands (a short-lived node joins the network through the seeds, so that ports
on every node are reachable; they end a chain):
    snd [OPTIONS] PORT ARGS...        send a message and confirm its delivery
    cal [OPTIONS] PORT ARGS...        send with a reply port appended, print the reply
    mon [OPTIONS] PORT                wait until the port dies, print the reason
    nodes [OPTIONS]                   the master, the global nodes, the nodes up and known
    lookup [OPTIONS] NAME             the ports named NAME (network-wide, else on a seed)
    db [OPTIONS] FAMILY               a family of the global database, as JSON
    eval, shell, restart, trace       refused or not supported (aemp runs no remote code)
  OPTIONS (before the port): --seed HOST:PORT (repeatable; default: the profile's seeds),
    --profile NAME (default aemp), --secret SECRET, --cert PEMFILE, --timeout SECONDS (5)

Node configuration:
    setnodeid ID | delnodeid
    gensecret | setsecret SECRET | delsecret
    gencert | setcert PEMFILE | delcert
    setseeds HOST:PORT,... | addseed HOST:PORT | delseed HOST:PORT | delseeds
    setbinds HOST:PORT,... | addbind HOST:PORT | delbind HOST:PORT | delbinds
    setservices NAME,... | addservice NAME | delservice NAME | delservices

Profiles:
    profile NAME COMMAND...           apply the following commands to profile NAME
    delprofile NAME | setparent NAME | delparent
    showprofile NAME                  the profile's own keys
    showconfig [NAME [KEY VALUE]...]  the effective settings

Low level:
{low}

Arguments: if the first argument starts with `[`, it is a JSON array that replaces the
whole argument list; otherwise an argument starting with `[`, `{{` or `\"` is JSON.

aemp help COMMAND (or aemp COMMAND --help) describes one command; aemp --version.",
        version = env!("CARGO_PKG_VERSION"),
        low = low.join("\n"),
    )
}

/// Prints the help of command `name`.
pub(crate) fn print_help(name: &str) {
    match find(name) {
        Some(spec) => print!("{}", command_help(&spec)),
        None => println!("{}", general_help()),
    }
}

fn command_help(spec: &Spec) -> String {
    let usage = format!("aemp {} {}", spec.name, spec.args);
    let mut s = format!("Usage: {}\n\n{}\n", usage.trim_end(), wrap(&spec.about));
    if let Some(alias) = spec.name.strip_prefix("set") {
        if spec.kind == Kind::Config && find(alias).is_some_and(|a| a.name == spec.name) {
            s.push_str(&format!("\nAlias: aemp {alias} {}\n", spec.args));
        }
    }
    if spec.kind == Kind::Protocol {
        s.push_str(
            "\nOptions (before the port; everything after it is the message):
    --seed HOST:PORT    join through this node (repeatable; default: the profile's seeds)
    --profile NAME      take the secret, certificate and seeds from this profile (default aemp)
    --secret SECRET     the shared secret
    --cert PEMFILE      the certificate (TLS)
    --timeout SECONDS   give up after this long (default 5; mon: no limit unless given)
    --                  end of options
",
        );
    }
    if let Kind::Refused(why) = spec.kind {
        s.push_str(&format!("\n{why}\n"));
    }
    if spec.kind == Kind::Config && spec.name != "showprofile" && spec.name != "showconfig" {
        s.push_str(
            "\nConfiguration commands chain: aemp profile web gensecret setbinds 127.0.0.1:4040\n",
        );
    }
    s
}

/// `text` wrapped at 92 columns.
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > 92 {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

/// Decodes the arguments as Perl's aemp does.
pub(crate) fn decode_args(raw: Vec<String>) -> Result<Vec<Value>, Failure> {
    if raw.first().is_some_and(|a| a.starts_with('[')) {
        if raw.len() > 1 {
            return Err(Failure::usage(
                "a first argument starting with `[` is a JSON array that replaces the whole \
                 argument list, so it must be the only argument",
            ));
        }
        return match parse_json(&raw[0]) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(other) => Err(Failure::usage(format!(
                "the argument list must be a JSON array, not {}",
                other.kind()
            ))),
            Err(e) => Err(Failure::usage(format!("the JSON argument list: {e}"))),
        };
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if a.starts_with(['[', '{', '"']) {
                parse_json(&a).map_err(|e| {
                    Failure::usage(format!("argument {} ({a}) is not valid JSON: {e}", i + 1))
                })
            } else {
                Ok(Value::Text(a))
            }
        })
        .collect()
}

fn is_help(v: &Value) -> bool {
    matches!(v.as_str(), Some("--help" | "-h"))
}

/// One parsed command.
struct Step {
    spec: Spec,
    args: Vec<Value>,
}

/// Parses and runs a chain.
pub(crate) async fn run(args: Vec<Value>) -> Result<(), Failure> {
    let Some(steps) = parse(args)? else {
        return Ok(()); // help or version was printed
    };
    let mut rc: Option<RcFile> = None;
    let mut scope: Option<String> = None;
    let mut protocol_step = None;
    for step in steps {
        if step.spec.kind == Kind::Protocol {
            protocol_step = Some(step);
            break;
        }
        let rc = match &mut rc {
            Some(rc) => rc,
            None => rc.insert(load_rc()?),
        };
        configure(rc, &mut scope, &step.spec.name, step.args)
            .map_err(|e| Failure::failed(format!("{}: {e}", step.spec.name)))?;
    }
    if let Some(rc) = &mut rc {
        if rc.is_modified() {
            rc.save().map_err(|e| Failure::failed(e.to_string()))?;
        }
    }
    if let Some(step) = protocol_step {
        return protocol::run(&step.spec.name, step.args, rc).await;
    }
    Ok(())
}

pub(crate) fn load_rc() -> Result<RcFile, Failure> {
    RcFile::load().map_err(|e| {
        let hint = match e {
            profile::ProfileError::Syntax { .. } | profile::ProfileError::Invalid { .. } => {
                " (the file was left as it is: fix it, or move it away to start anew)"
            }
            _ => "",
        };
        Failure::failed(format!("{e}{hint}"))
    })
}

/// The steps of a chain, or `None` when help or the version was asked for (and printed).
fn parse(args: Vec<Value>) -> Result<Option<Vec<Step>>, Failure> {
    if args.is_empty() {
        return Err(Failure::usage(
            "no command given (aemp --help lists the commands)",
        ));
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut args = args.into_iter();
    while let Some(word) = args.next() {
        let Some(name) = word.as_str() else {
            return Err(Failure::usage(format!(
                "expected a command, got the JSON value {}",
                to_json(&word, false)
            )));
        };
        match name {
            "--help" | "-h" => {
                match steps.last() {
                    Some(step) => print!("{}", command_help(&step.spec)),
                    None => println!("{}", general_help()),
                }
                return Ok(None);
            }
            "help" => {
                match args.next() {
                    None => println!("{}", general_help()),
                    Some(topic) => {
                        let topic = topic.as_str().unwrap_or_default().to_owned();
                        let spec = find(&topic).ok_or_else(|| unknown(&topic))?;
                        print!("{}", command_help(&spec));
                    }
                }
                return Ok(None);
            }
            "--version" | "-V" => {
                println!("aemp {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            _ => {}
        }
        let spec = find(name).ok_or_else(|| unknown(name))?;
        let step_args = match spec.arity {
            Arity::Zero => Vec::new(),
            Arity::One => match args.next() {
                Some(a) if is_help(&a) => {
                    print!("{}", command_help(&spec));
                    return Ok(None);
                }
                Some(a) => vec![a],
                None => {
                    return Err(Failure::usage(format!(
                        "{}: {} is missing (aemp {} --help)",
                        spec.name, spec.args, spec.name
                    )))
                }
            },
            Arity::Rest => args.by_ref().collect(),
        };
        match spec.kind {
            Kind::Clap if steps.is_empty() => {
                return Err(Failure::usage(format!(
                    "{} takes plain options, not a JSON argument list (aemp {} --help)",
                    spec.name, spec.name
                )))
            }
            Kind::Clap => {
                return Err(Failure::usage(format!(
                    "{} must be the first command",
                    spec.name
                )))
            }
            Kind::Refused(why) => {
                if step_args.first().is_some_and(is_help) {
                    print!("{}", command_help(&spec));
                    return Ok(None);
                }
                return Err(Failure::failed(wrap(&format!("{}: {why}", spec.name))));
            }
            Kind::Config if spec.arity == Arity::Rest && step_args.first().is_some_and(is_help) => {
                print!("{}", command_help(&spec));
                return Ok(None);
            }
            _ => {}
        }
        steps.push(Step {
            spec,
            args: step_args,
        });
    }
    Ok(Some(steps))
}

fn unknown(name: &str) -> Failure {
    Failure::usage(format!(
        "{name}: no such aemp command (aemp --help lists them)"
    ))
}

// ---------------------------------------------------------------------------------------
// The configuration commands.

fn text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => Ok(v.to_string()),
        _ => v
            .to_text()
            .map(|t| t.into_owned())
            .ok_or_else(|| format!("{what} must be a string, not {}", v.kind())),
    }
}

/// A list argument: a JSON array, or comma-separated text.
fn list(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(items) => Ok(items.clone()),
        _ => Ok(text(v, what)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Value::from)
            .collect()),
    }
}

fn text_list(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    list(v, what)?
        .iter()
        .map(|i| text(i, what).map(Value::Text))
        .collect()
}

/// The scope's own list under `key` (a comma-separated string counts as a list).
fn own_list(rc: &RcFile, scope: Option<&str>, key: &str) -> Vec<Value> {
    match rc.get(scope, key) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => list(v, key).unwrap_or_default(),
    }
}

fn seconds(v: &Value, key: &str) -> Result<Value, String> {
    let s = match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => v.as_f64(),
        _ => v.to_text().and_then(|t| t.trim().parse::<f64>().ok()),
    };
    match s {
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(if s.fract() == 0.0 {
            Value::Int(s as i64)
        } else {
            Value::Float(s)
        }),
        _ => Err(format!(
            "{key} must be a positive number of seconds, not {}",
            to_json(v, false)
        )),
    }
}

fn boolean(v: &Value, key: &str) -> Result<Value, String> {
    match v {
        Value::Bool(_) | Value::Int(0 | 1) => Ok(v.clone()),
        _ => match v.to_text().as_deref().map(str::trim) {
            Some("1" | "true" | "yes" | "on") => Ok(Value::Int(1)),
            Some("0" | "false" | "no" | "off") => Ok(Value::Int(0)),
            _ => Err(format!(
                "{key} must be a boolean (1 or 0), not {}",
                to_json(v, false)
            )),
        },
    }
}

/// Notes names that aemp nodes skip (the file is shared with Perl nodes, which may know them).
fn note_unknown(key: &str, names: &[Value]) {
    for n in names.iter().filter_map(Value::as_str) {
        let known = if key == "framing_format" {
            n.parse::<aemp::Framing>().is_ok()
        } else {
            n.parse::<aemp::transport::AuthMethod>().is_ok()
        };
        if !known && n != "storable" {
            eprintln!("aemp: note: {key}: aemp nodes do not support {n:?} and skip it");
        }
    }
}

fn configure(
    rc: &mut RcFile,
    scope: &mut Option<String>,
    name: &str,
    mut args: Vec<Value>,
) -> Result<(), String> {
    if name == "showconfig" {
        return show_config(rc, args);
    }
    let arg = args.pop();
    let arg = || {
        arg.clone()
            .ok_or_else(|| "an argument is missing".to_owned())
    };
    let sc = scope.clone();
    let sc = sc.as_deref();
    match name {
        "setnodeid" => {
            let id = text(&arg()?, "the node id")?;
            aemp::transport::check_node_id(&id).map_err(|e| e.to_string())?;
            rc.set(sc, "nodeid", id);
        }
        "gensecret" => rc.set(
            sc,
            "secret",
            aemp::config::cert::gen_secret().map_err(|e| e.to_string())?,
        ),
        "setsecret" => {
            let secret = text(&arg()?, "the secret")?;
            if secret.is_empty() {
                return Err("the secret must not be empty".into());
            }
            rc.set(sc, "secret", secret);
        }
        "gencert" => rc.set(
            sc,
            "cert",
            aemp::config::cert::self_signed_pem().map_err(|e| e.to_string())?,
        ),
        "setcert" => {
            let file = text(&arg()?, "the file name")?;
            let pem = read_pem(Path::new(&file))?;
            rc.set(sc, "cert", pem);
        }
        "setseeds" | "setbinds" => {
            let key = &name[3..];
            rc.set(sc, key, Value::Array(text_list(&arg()?, key)?));
        }
        "addseed" | "addbind" | "delseed" | "delbind" => {
            let key = format!("{}s", &name[3..]);
            let item = Value::Text(text(&arg()?, &key)?);
            let mut items = own_list(rc, sc, &key);
            items.retain(|i| *i != item);
            if name.starts_with("add") {
                items.push(item);
            }
            rc.set(sc, &key, Value::Array(items));
        }
        "setservices" => {
            let items = list(&arg()?, "services")?;
            rc.set(sc, "services", Value::Array(items));
        }
        "addservice" => {
            let mut items = own_list(rc, sc, "services");
            items.push(arg()?);
            rc.set(sc, "services", Value::Array(items));
        }
        "delservice" => {
            let item = arg()?;
            let mut items = own_list(rc, sc, "services");
            if let Some(i) = items.iter().position(|i| *i == item) {
                items.remove(i);
            }
            rc.set(sc, "services", Value::Array(items));
        }
        "profile" => {
            let name = text(&arg()?, "the profile name")?;
            rc.create_profile(&name);
            *scope = Some(name);
        }
        "delprofile" => {
            let name = text(&arg()?, "the profile name")?;
            rc.delete_profile(&name);
        }
        "setparent" => {
            let Some(profile) = sc else {
                return Err(
                    "sets the parent of a profile: aemp profile NAME setparent PARENT".into(),
                );
            };
            let parent = text(&arg()?, "the parent's name")?;
            rc.set(sc, "parent", parent);
            rc.effective(Some(profile), &[])
                .map_err(|e| e.to_string())?;
        }
        "showprofile" => {
            let name = text(&arg()?, "the profile name")?;
            let keys = rc.profile(&name).unwrap_or_default().to_vec();
            println!("{}", to_json(&Value::Map(keys), true));
        }
        _ => {
            if let Some(key) = name.strip_prefix("del") {
                let key = match key {
                    "seeds" | "binds" | "services" | "nodeid" | "secret" | "cert" | "parent" => key,
                    k if LOW_LEVEL.iter().any(|(l, _, _)| *l == k) => k,
                    _ => return Err("no such command".into()),
                };
                rc.remove(sc, key);
                return Ok(());
            }
            let key = name.strip_prefix("set").unwrap_or(name);
            let v = arg()?;
            let value = match key {
                "monitor_timeout" | "connect_interval" => seconds(&v, key)?,
                "autocork" | "nodelay" => boolean(&v, key)?,
                "framing_format" | "auth_offer" | "auth_accept" => {
                    let names = text_list(&v, key)?;
                    if names.is_empty() {
                        return Err(format!("{key} must not be empty"));
                    }
                    note_unknown(key, &names);
                    Value::Array(names)
                }
                _ => return Err("no such command".into()),
            };
            rc.set(sc, key, value);
        }
    }
    Ok(())
}

/// `showconfig [NAME [KEY VALUE]...]`.
fn show_config(rc: &RcFile, args: Vec<Value>) -> Result<(), String> {
    let mut it = args.into_iter();
    let name = match it.next() {
        Some(n) => text(&n, "the profile name")?,
        None => profile::nodename(),
    };
    let rest: Vec<Value> = it.collect();
    if rest.len() % 2 != 0 {
        return Err("KEY VALUE arguments must come in pairs".into());
    }
    let kv = rest
        .chunks(2)
        .map(|p| Ok((text(&p[0], "a key")?, p[1].clone())))
        .collect::<Result<Vec<_>, String>>()?;
    let merged = rc.effective(Some(&name), &kv).map_err(|e| e.to_string())?;
    println!("{}", to_json(&Value::Map(merged), true));
    Ok(())
}

/// A PEM file with a private key and a certificate, checked.
pub(crate) fn read_pem(path: &Path) -> Result<String, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    aemp::transport::Config::new("check")
        .and_then(|c| c.cert_pem(pem.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(pem)
}
