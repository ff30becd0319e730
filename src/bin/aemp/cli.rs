//! The command line, parsed by clap: every command is a clap subcommand, built from the table
//! below (the configuration commands, after Perl's aemp) or from its own `Args` (the
//! protocol commands, `run`, `ping`). Configuration commands chain, as in Perl's aemp: clap
//! parses one command, the rest of the line is parsed again, until a protocol command (which
//! takes the rest of the line) ends the chain. The whole chain is parsed before anything
//! runs, so `--help` anywhere answers and changes nothing.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Args, Command, FromArgMatches};

use crate::args::{Failure, Line};
use crate::commands::{net, ping::Ping, run::Run};

/// How many arguments a command takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Arity {
    Zero,
    One,
    Rest,
}

/// What a command is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Config,
    Protocol,
    /// Perl's aemp has it; aemp refuses it (the text says why).
    Refused(&'static str),
}

#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) arity: Arity,
    pub(crate) kind: Kind,
    pub(crate) args: &'static str,
    pub(crate) about: String,
}

const REFUSED_EVAL: &str = "refused: aemp never runs code sent over the network. AnyEvent::MP's \
    `eval` request runs arbitrary Perl on the node; aemp nodes do not answer it, and aemp does \
    not send it. Call a port instead (aemp cal NODE#PORT ARGS...), or register a function on \
    the node (NodeBuilder::function) and send to its node port (aemp snd NODE NAME ARGS...).";
const REFUSED_TRACE: &str = "not supported: it walks AnyEvent::MP 1.x's `up_nodes` request, \
    which 2.x nodes do not answer. `aemp nodes --seed HOST:PORT` lists the nodes of the \
    network.";

/// The low-level keys, set with `setKEY VALUE` (or `KEY VALUE`) and removed with `delKEY`.
pub(crate) const LOW_LEVEL: &[(&str, &str, &str)] = &[
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

pub(crate) fn specs() -> Vec<Spec> {
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
        s("spawn", Rest, Protocol, "[OPTIONS] NODE INIT ARGS...",
          "Spawns a port on NODE running the init function registered there as INIT with ARGS... (AnyEvent::MP's spawn; an aemp node's spawnable actors and functions, a Perl node's functions), confirms with a round trip that it started, and prints the new port's id."),
        s("kil", Rest, Protocol, "[OPTIONS] PORT REASON...",
          "Kills PORT with REASON... (none: a normal exit), then confirms through PORT's node that the kill got there. Monitors of PORT see the reason."),
        s("bench", Rest, Protocol, "[OPTIONS] PORT",
          "Sends --count messages [\"bench\", i, PAYLOAD] (PAYLOAD: --size bytes) to PORT as fast as the connection takes them, confirms that the last one reached PORT's node, and prints the rate in messages and bytes per second."),
        s("mon", Rest, Protocol, "[OPTIONS] PORT",
          "Waits until PORT dies and prints the reason as a JSON array (`[]` for a normal exit). Waits without limit unless --timeout is given."),
        s("nodes", Rest, Protocol, "[OPTIONS]",
          "Joins through the seeds and lists, one per line with its listeners: `master:` the global node this node reports to, `global:` the global nodes, `up:` the nodes this node is connected to, `known:` every node with listeners in the global database."),
        s("lookup", Rest, Protocol, "[OPTIONS] NAME",
          "Prints the ports registered as NAME network-wide (a group: Node::register_name, AnyEvent::MP 2.x's grp_reg) and the port registered as NAME on each seed (the node port's `lookup` request, Node::register), one per line. Answers as soon as it knows (AnyEvent::MP 2.x seeds answer from the database only). Fails, saying so, if none is found."),
        s("top", Rest, Protocol, "[OPTIONS] [--once [--json]]",
          "Shows every node of the network, live in the terminal: each node with its message rates, the links (traffic, rates, send buffers) and busiest ports (queues) of the node selected, the database's families, and nodes coming and going as the database reports them (AnyEvent::MP nodes are listed from the database with their listeners). Keys: up/down (or k/j) select a node, r surveys again, q or Esc quits. On a pipe, the text view every second. --once prints one survey; --json prints it as JSON."),
        s("db", Rest, Protocol, "[OPTIONS] FAMILY",
          "Prints a family of the global database, merged from every node, as a JSON object (key: value). `'l` holds each node's listeners, `'g` the global nodes; a name registered network-wide is a family of port ids."),
        s("eval", Rest, Refused(REFUSED_EVAL), "NODE EXPR...", "Perl's remote eval: refused."),
        s("shell", Rest, Refused(REFUSED_EVAL), "[NODE]", "Perl's remote eval shell: refused."),
        s("restart", Rest, Refused(REFUSED_EVAL), "NODE", "Perl's watchdog restart through eval: refused."),
        s("trace", Rest, Refused(REFUSED_TRACE), "NODE", "1.x's network trace: not supported."),
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

/// One command of a chain, parsed.
#[derive(Debug)]
pub(crate) enum Step {
    /// A configuration command (its name as in the table) with its argument values.
    Config(String, Vec<aemp::Value>),
    /// A protocol command, with the message's values (for `snd` and `cal`).
    Protocol(net::Request, Vec<aemp::Value>),
    /// `run`, the only command of its line.
    Run(Run),
    /// `ping`, the only command of its line.
    Ping(Ping),
}

const PROTOCOL_OPTIONS: &str = "
Options (before the port; everything after it is the message):
    --seed HOST:PORT    join through this node (repeatable; default: the profile's seeds)
    --profile NAME      take the secret, certificate and seeds from this profile (default aemp)
    --secret SECRET     the shared secret
    --cert PEMFILE      the certificate (TLS)
    --timeout SECONDS   give up after this long (default 5; mon: no limit unless given)
    --                  end of options
";

/// The whole command tree.
pub(crate) fn command() -> Command {
    let mut root = Command::new("aemp")
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true)
        .override_help(general_help())
        .subcommand(
            Command::new("help")
                .about("Describes aemp, or one command.")
                .arg(Arg::new("topic").value_name("COMMAND")),
        )
        .subcommand(Run::augment_args(Command::new("run")))
        .subcommand(Ping::augment_args(Command::new("ping")));
    for spec in specs() {
        root = root.subcommand(spec_command(&spec));
    }
    root
}

/// The clap command of a table entry.
fn spec_command(spec: &Spec) -> Command {
    let mut after = String::new();
    let alias = spec
        .name
        .strip_prefix("set")
        .filter(|a| spec.kind == Kind::Config && find(a).is_some_and(|s| s.name == spec.name));
    if let Some(alias) = alias {
        after.push_str(&format!("\nAlias: aemp {alias} {}\n", spec.args));
    }
    let usage = format!("aemp {} {}", spec.name, spec.args)
        .trim_end()
        .to_owned();
    let mut c = Command::new(spec.name.clone());
    if let Some(alias) = alias {
        c = c.alias(alias.to_owned());
    }
    let rest = |name: &'static str| {
        Arg::new(name)
            .num_args(0..)
            .trailing_var_arg(true)
            .allow_hyphen_values(true)
            .action(ArgAction::Append)
            .hide(true)
    };
    match spec.kind {
        Kind::Protocol => {
            after.push_str(PROTOCOL_OPTIONS);
            c = net::Request::augment(c, &spec.name);
        }
        Kind::Refused(why) => {
            after.push_str(&format!("\n{}\n", wrap(why)));
            c = c.arg(rest("rest"));
        }
        Kind::Config => {
            match spec.arity {
                Arity::Zero => {}
                Arity::One => {
                    c = c.arg(
                        Arg::new("value")
                            .value_name(spec.args)
                            .required(true)
                            .allow_hyphen_values(true),
                    );
                }
                Arity::Rest => c = c.arg(rest("values")),
            }
            if spec.arity != Arity::Rest {
                c = c.arg(rest("rest"));
            }
            if spec.name != "showprofile" && spec.name != "showconfig" {
                after.push_str(
                    "\nConfiguration commands chain: aemp profile web gensecret setbinds 127.0.0.1:4040\n",
                );
            }
        }
    }
    // The help as Perl's aemp prints it: usage first, then what the command does.
    let help = format!("Usage: {usage}\n\n{}\n{after}", wrap(&spec.about));
    c.about(wrap(&spec.about))
        .override_usage(usage)
        .override_help(help)
}

/// The command called `name`, or `setNAME` (every `setX` has the alias `X`).
pub(crate) fn find(name: &str) -> Option<Spec> {
    let all = specs();
    all.iter()
        .find(|s| s.name == name)
        .or_else(|| all.iter().find(|s| s.name == format!("set{name}")))
        .cloned()
}

/// Parses a whole line into its steps; `None` when help or the version was asked for (and
/// printed).
pub(crate) fn parse(line: &Line) -> Result<Option<Vec<Step>>, Failure> {
    if line.texts.is_empty() {
        return Err(Failure::usage(
            "no command given (aemp --help lists the commands)",
        ));
    }
    let mut steps = Vec::new();
    let mut pos = 0;
    while pos < line.texts.len() {
        let tokens = &line.texts[pos..];
        let matches = match command()
            .try_get_matches_from(std::iter::once("aemp").chain(tokens.iter().map(String::as_str)))
        {
            Ok(m) => m,
            Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
                let _ = e.print();
                return Ok(None);
            }
            Err(e) => return Err(usage_error(&e, tokens)),
        };
        let Some((name, sub)) = matches.subcommand() else {
            return Err(Failure::usage(
                "no command given (aemp --help lists the commands)",
            ));
        };
        match name {
            "help" => {
                match sub.get_one::<String>("topic") {
                    None => println!("{}", general_help()),
                    Some(topic) => print!("{}", command_help(topic)?),
                }
                return Ok(None);
            }
            "run" | "ping" => {
                if pos > 0 {
                    return Err(Failure::usage(format!("{name} must be the first command")));
                }
                if line.json {
                    return Err(Failure::usage(format!(
                        "{name} takes plain options, not a JSON argument list (aemp {name} --help)"
                    )));
                }
                let step = if name == "run" {
                    Step::Run(Run::from_arg_matches(sub).map_err(|e| usage_error(&e, tokens))?)
                } else {
                    Step::Ping(Ping::from_arg_matches(sub).map_err(|e| usage_error(&e, tokens))?)
                };
                steps.push(step);
                break;
            }
            _ => {}
        }
        let spec = find(name).ok_or_else(|| unknown(name))?;
        match spec.kind {
            Kind::Refused(why) => {
                return Err(Failure::failed(wrap(&format!("{}: {why}", spec.name))))
            }
            Kind::Protocol => {
                let request = net::Request::from_matches(&spec.name, sub)?;
                let n = request.message_len();
                let message = line.values[line.values.len() - n..].to_vec();
                steps.push(Step::Protocol(request, message));
                break;
            }
            Kind::Config => {
                let consumed = match spec.arity {
                    Arity::Zero => 1,
                    Arity::One => 2,
                    Arity::Rest => tokens.len(),
                };
                let values = line.values[pos + 1..pos + consumed].to_vec();
                steps.push(Step::Config(spec.name.clone(), values));
                pos += consumed;
            }
        }
    }
    Ok(Some(steps))
}

/// The help of command `topic` (as `aemp TOPIC --help` prints it).
fn command_help(topic: &str) -> Result<String, Failure> {
    let mut root = command();
    let name = find(topic).map_or_else(|| topic.to_owned(), |s| s.name);
    let sub = root
        .find_subcommand_mut(&name)
        .ok_or_else(|| unknown(topic))?;
    Ok(sub.render_help().to_string())
}

fn unknown(name: &str) -> Failure {
    Failure::usage(format!(
        "{name}: no such aemp command (aemp --help lists them)"
    ))
}

/// A clap error in the words aemp uses (clap's own text for the rest).
fn usage_error(e: &clap::Error, tokens: &[String]) -> Failure {
    let cmd = tokens
        .first()
        .map(|t| find(t).map_or_else(|| t.clone(), |s| s.name))
        .unwrap_or_default();
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        _ => String::new(),
    };
    let arg = arg.trim_start_matches('<').trim_end_matches('>');
    match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let name = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => cmd,
            };
            unknown(&name)
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Failure::usage("no command given (aemp --help lists the commands)")
        }
        ErrorKind::MissingRequiredArgument => {
            Failure::usage(format!("{cmd}: {arg} is missing (aemp {cmd} --help)"))
        }
        ErrorKind::UnknownArgument => Failure::usage(format!(
            "{cmd}: unknown option {arg} (options come before the port; aemp {cmd} --help for the list)"
        )),
        _ => {
            let text = e.kind().as_str().map(str::to_owned).unwrap_or_default();
            let detail = e.to_string();
            let first = detail
                .lines()
                .next()
                .unwrap_or(&text)
                .trim_start_matches("error: ");
            Failure::usage(format!("{cmd}: {first} (aemp {cmd} --help)"))
        }
    }
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
      (snd and cal: --input FILE appends the JSON array in FILE, - for standard input)
    spawn [OPTIONS] NODE INIT ARGS... spawn a port on NODE, print its id
    kil [OPTIONS] PORT REASON...      kill a port, confirm it
    bench [OPTIONS] PORT              flood a port (--count N, --size BYTES), print the rate
    mon [OPTIONS] PORT                wait until the port dies, print the reason
    nodes [OPTIONS]                   the master, the global nodes, the nodes up and known
    lookup [OPTIONS] NAME             the ports named NAME (network-wide, else on a seed)
    db [OPTIONS] FAMILY               a family of the global database, as JSON
    top [OPTIONS] [--once [--json]]   every node: links and rates, busiest ports, families
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
