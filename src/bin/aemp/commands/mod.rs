//! The commands, one file each (the configuration commands that share a key share a file:
//! `setseeds`/`addseed`/`delseed` and the binds in `endpoints.rs`, say), and how a parsed
//! chain runs: the configuration commands edit the rc file in memory, it is saved once if
//! they changed it (a failing chain changes nothing), then a protocol command, which ends
//! the chain, joins the network and does its one thing.

pub(crate) mod bench;
pub(crate) mod cal;
pub(crate) mod cert;
pub(crate) mod db;
pub(crate) mod endpoints;
pub(crate) mod kil;
pub(crate) mod lookup;
pub(crate) mod low_level;
pub(crate) mod mon;
pub(crate) mod net;
pub(crate) mod nodeid;
pub(crate) mod nodes;
pub(crate) mod ping;
pub(crate) mod profile;
pub(crate) mod run;
pub(crate) mod secret;
pub(crate) mod services;
pub(crate) mod showconfig;
pub(crate) mod snd;
pub(crate) mod spawn;
pub(crate) mod top;
pub(crate) mod values;

use aemp::config::{ProfileError, RcFile};
use aemp::Value;

use crate::args::Failure;
use crate::cli::{Step, LOW_LEVEL};
use net::{Request, Target};

/// Runs a parsed chain.
pub(crate) async fn run(steps: Vec<Step>) -> Result<(), Failure> {
    let mut rc: Option<RcFile> = None;
    let mut scope: Option<String> = None;
    for step in steps {
        match step {
            Step::Run(run) => return run.run().await.map_err(Failure::failed),
            Step::Ping(ping) => return ping.run().await.map_err(Failure::failed),
            Step::Protocol(request, message) => {
                if let Some(rc) = &mut rc {
                    save(rc)?;
                }
                return protocol(request, message, rc).await;
            }
            Step::Config(name, values) => {
                let rc = match &mut rc {
                    Some(rc) => rc,
                    None => rc.insert(load_rc()?),
                };
                configure(rc, &mut scope, &name, &values)
                    .map_err(|e| Failure::failed(format!("{name}: {e}")))?;
            }
        }
    }
    if let Some(rc) = &mut rc {
        save(rc)?;
    }
    Ok(())
}

fn save(rc: &mut RcFile) -> Result<(), Failure> {
    if rc.is_modified() {
        rc.save().map_err(|e| Failure::failed(e.to_string()))?;
    }
    Ok(())
}

/// The rc file, or a failure that says how to mend it.
pub(crate) fn load_rc() -> Result<RcFile, Failure> {
    RcFile::load().map_err(|e| {
        let hint = match e {
            ProfileError::Syntax { .. } | ProfileError::Invalid { .. } => {
                " (the file was left as it is: fix it, or move it away to start anew)"
            }
            _ => "",
        };
        Failure::failed(format!("{e}{hint}"))
    })
}

/// Runs configuration command `name` (as the table names it) on the rc file.
fn configure(
    rc: &mut RcFile,
    scope: &mut Option<String>,
    name: &str,
    values: &[Value],
) -> Result<(), String> {
    let arg = || {
        values
            .first()
            .ok_or_else(|| "an argument is missing".to_owned())
    };
    let sc = scope.clone();
    let sc = sc.as_deref();
    match name {
        "showconfig" => showconfig::show(rc, values),
        "setnodeid" => nodeid::set(rc, sc, arg()?),
        "gensecret" => secret::generate(rc, sc),
        "setsecret" => secret::set(rc, sc, arg()?),
        "gencert" => cert::generate(rc, sc),
        "setcert" => cert::set(rc, sc, arg()?),
        "setseeds" => endpoints::set(rc, sc, "seeds", arg()?),
        "setbinds" => endpoints::set(rc, sc, "binds", arg()?),
        "addseed" => endpoints::edit(rc, sc, "seeds", arg()?, true),
        "delseed" => endpoints::edit(rc, sc, "seeds", arg()?, false),
        "addbind" => endpoints::edit(rc, sc, "binds", arg()?, true),
        "delbind" => endpoints::edit(rc, sc, "binds", arg()?, false),
        "setservices" => services::set(rc, sc, arg()?),
        "addservice" => {
            services::add(rc, sc, arg()?);
            Ok(())
        }
        "delservice" => {
            services::remove(rc, sc, arg()?);
            Ok(())
        }
        "profile" => profile::select(rc, scope, arg()?),
        "delprofile" => profile::delete(rc, arg()?),
        "setparent" => profile::set_parent(rc, sc, arg()?),
        "showprofile" => profile::show(rc, arg()?),
        _ => {
            if let Some(key) = name.strip_prefix("del") {
                // `delKEY`: the key is inherited again.
                let known = [
                    "seeds", "binds", "services", "nodeid", "secret", "cert", "parent",
                ]
                .contains(&key)
                    || LOW_LEVEL.iter().any(|(l, _, _)| *l == key);
                if !known {
                    return Err("no such command".into());
                }
                rc.remove(sc, key);
                return Ok(());
            }
            let key = name.strip_prefix("set").unwrap_or(name);
            low_level::set(rc, sc, key, arg()?)
        }
    }
}

/// Runs a protocol command: joins the network, does its one thing, leaves.
async fn protocol(
    request: Request,
    message: Vec<Value>,
    rc: Option<RcFile>,
) -> Result<(), Failure> {
    let rc = match rc {
        Some(rc) => rc,
        None => load_rc()?,
    };
    let Request {
        name,
        opts,
        target,
        input,
        bench,
        top,
    } = request;
    let mut message = message;
    if let Some(path) = &input {
        message.extend(values::read_message(path).map_err(Failure::failed)?);
    }
    let joined = net::join(&opts, &rc).await.map_err(Failure::failed)?;
    let node = &joined.node;
    let limit = opts.timeout();
    let result = match (name.as_str(), &target) {
        ("snd", Target::Port(port, _)) => snd::snd(node, port, message, limit).await,
        ("cal", Target::Port(port, _)) => cal::cal(node, port, message, limit).await,
        ("mon", Target::Port(port, _)) => mon::mon(node, port, opts.timeout).await,
        ("kil", Target::Port(port, _)) => kil::kil(node, port, message, limit).await,
        ("spawn", Target::Spawn(on, init, _)) => spawn::spawn(node, on, init, message, limit).await,
        ("bench", Target::Port(port, _)) => match &bench {
            Some(b) => bench::bench(node, port, b.count, b.size, limit).await,
            None => Err("bench: no options".into()),
        },
        ("nodes", _) => nodes::nodes(&joined, limit).await,
        ("top", _) => match top {
            Some(t) if t.once => top::once(&joined, t.json, limit).await,
            _ => top::live(&joined, limit).await,
        },
        ("lookup", Target::Word(word)) => lookup::lookup(&joined, word, limit).await,
        ("db", Target::Word(word)) => db::db(node, word, limit).await,
        _ => Err(format!("{name}: no such protocol command")),
    };
    node.shutdown().await;
    result.map_err(|e| Failure::failed(format!("{name}: {e}")))
}
