//! The node port (`""`): the requests other nodes send to this node, in AnyEvent::MP 2.x's
//! shapes (and 1.30's `kil`), plus the Intro's `lookup`; parsed once into [`Request`].

use std::sync::Arc;

use aemp_transport::Value;
use tokio::sync::oneshot;

use super::spawn::{spawn_here, Registry};
use crate::global::wire::{GRequest, WireError};
use crate::node::ctx::CallCtx;
use crate::node::inner::NodePort;
use crate::node::{Node, WeakNode};
use crate::sync::run_fallible;
use crate::sync::serial::{Serial, Wait};
use crate::wire::{text, BUILTIN_REQUESTS, SPAWN};

/// How many node-port requests (functions, `g_*`) may wait for the node port's runner before
/// the connections that send them are asked to wait (backpressure, nothing dropped).
pub(crate) const QUEUE_LIMIT: usize = 4096;

/// A node-port request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// `""` or `devnull`: nothing.
    Nothing,
    /// `mon1 port`: the sender monitors our port.
    Mon1(String),
    /// `mon0 port`: no longer.
    Mon0(String),
    /// `kil0 port reason...`: a port of the sender that we monitor died.
    Kil0 { port: String, reason: Vec<Value> },
    /// `kil1 port reason...` (and 1.30's `kil`): kill our port.
    Kil1 { port: String, reason: Vec<Value> },
    /// `snd port msg...`: relay a message.
    Snd { port: String, msg: Vec<Value> },
    /// `can name reply...`: is `name` a request this node answers?
    Can { name: String, reply: Vec<Value> },
    /// `time reply...`: our clock.
    Time { reply: Vec<Value> },
    /// `info reply...`: our node id.
    Info { reply: Vec<Value> },
    /// `aemp_stats reply...`: a snapshot of the node ([`crate::Stats`] as a map; an aemp
    /// extension).
    Stats { reply: Vec<Value> },
    /// `lookup name reply...`: the port registered as `name` here (the Intro's).
    Lookup { name: String, reply: Vec<Value> },
    /// `AnyEvent::MP::_spawn name init args...`.
    Spawn {
        name: String,
        init: String,
        args: Vec<Value>,
    },
    /// `g_*`: the global protocol.
    Global(GRequest),
    /// Anything else: a registered function, called with the arguments.
    Function { name: String, args: Vec<Value> },
}

/// Why a node-port request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum RequestError {
    /// The message is not `[tag, ...]` with a text tag.
    #[error("node-port request without a tag: {0}")]
    NoTag(String),
    /// A required field is missing.
    #[error("{tag} request without {what}")]
    Malformed { tag: String, what: &'static str },
    /// A `g_*` request that is not understood.
    #[error(transparent)]
    Global(#[from] WireError),
}

impl Request {
    /// Parses `[tag, args...]`. An empty message is [`Request::Nothing`] (a keepalive).
    pub(crate) fn parse(msg: Vec<Value>) -> Result<Request, RequestError> {
        let mut it = msg.into_iter();
        let Some(first) = it.next() else {
            return Ok(Request::Nothing);
        };
        let Some(tag) = first.to_text().map(|t| t.into_owned()) else {
            let mut all = vec![first];
            all.extend(it);
            return Err(RequestError::NoTag(Value::Array(all).to_string()));
        };
        let malformed = |what| RequestError::Malformed {
            tag: tag.clone(),
            what,
        };
        Ok(match tag.as_str() {
            "" | "devnull" => Request::Nothing,
            "mon1" => {
                Request::Mon1(text(it.next().as_ref()).ok_or_else(|| malformed("a port name"))?)
            }
            "mon0" => {
                Request::Mon0(text(it.next().as_ref()).ok_or_else(|| malformed("a port name"))?)
            }
            "kil0" => Request::Kil0 {
                port: text(it.next().as_ref()).ok_or_else(|| malformed("a port name"))?,
                reason: it.collect(),
            },
            "kil1" | "kil" => match text(it.next().as_ref()) {
                Some(port) if !port.is_empty() => Request::Kil1 {
                    port,
                    reason: it.collect(),
                },
                _ => return Err(malformed("a port name (the node port cannot be killed)")),
            },
            "snd" => Request::Snd {
                port: text(it.next().as_ref()).ok_or_else(|| malformed("a port"))?,
                msg: it.collect(),
            },
            "can" => Request::Can {
                name: text(it.next().as_ref()).unwrap_or_default(),
                reply: it.collect(),
            },
            "time" => Request::Time {
                reply: it.collect(),
            },
            "info" => Request::Info {
                reply: it.collect(),
            },
            crate::wire::STATS => Request::Stats {
                reply: it.collect(),
            },
            "lookup" => Request::Lookup {
                name: text(it.next().as_ref()).unwrap_or_default(),
                reply: it.collect(),
            },
            SPAWN => match (text(it.next().as_ref()), text(it.next().as_ref())) {
                (Some(name), Some(init)) => Request::Spawn {
                    name,
                    init,
                    args: it.collect(),
                },
                _ => return Err(malformed("a port name and an init function")),
            },
            g if g.starts_with("g_") => {
                let args: Vec<Value> = it.collect();
                Request::Global(GRequest::parse(g, &args)?)
            }
            _ => Request::Function {
                name: tag,
                args: it.collect(),
            },
        })
    }
}

/// A request queued on the node port's runner; `done` is told once it is done (for a spawn,
/// once the port's init function has run too), when its reader waits for that (kernel
/// requests queued behind a busy runner).
struct Job {
    src: Arc<str>,
    request: Request,
    done: Option<oneshot::Sender<()>>,
}

/// The node port; see the module documentation of `protocol`.
pub(crate) struct NodePortRunner {
    node: WeakNode,
    registry: Arc<Registry>,
    runner: Arc<Serial<Job>>,
}

impl NodePortRunner {
    pub(crate) fn new(
        node: WeakNode,
        registry: Registry,
        runtime: tokio::runtime::Handle,
    ) -> NodePortRunner {
        let registry = Arc::new(registry);
        let (weak, reg, rt) = (node.clone(), registry.clone(), runtime.clone());
        let runner = Serial::new(runtime, QUEUE_LIMIT, move |job: Job| {
            let Some(node) = weak.upgrade() else { return };
            let wait = execute(&node, &reg, &job.src, job.request);
            if let Some(done) = job.done {
                match wait {
                    Some(wait) => drop(rt.spawn(async move {
                        wait.await;
                        let _ = done.send(());
                    })),
                    None => drop(done.send(())),
                }
            }
        });
        NodePortRunner {
            node,
            registry,
            runner,
        }
    }
}

impl NodePort for NodePortRunner {
    /// Requests keep their order: those that run user code or database work go to the
    /// runner, and so does every request while it is busy; the others are handled at once.
    fn request(&self, src: &Arc<str>, msg: Vec<Value>) -> Option<Wait> {
        let request = match Request::parse(msg) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(node = %src, error = %e, "node-port request ignored");
                return None;
            }
        };
        let node = self.node.upgrade()?;
        // This node's own requests come from user code, not a connection: only its
        // functions wait for the runner.
        let queued = matches!(request, Request::Function { .. } | Request::Global(_))
            || (self.runner.is_busy() && **src != *node.id());
        if !queued {
            return execute(&node, &self.registry, src, request);
        }
        // A kernel request queued behind the runner keeps its place among the connection's
        // messages: the reader waits until it is done (for a spawn, until the port's init
        // ran), so what follows it (a message to a port, say) comes after it, as when it is
        // handled at once. Functions and `g_*` work do not hold the reader up.
        let (done, finished) = match request {
            Request::Function { .. } | Request::Global(_) => (None, None),
            _ => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            }
        };
        let room = self.runner.push(Job {
            src: src.clone(),
            request,
            done,
        });
        match finished {
            Some(finished) => Some(Wait::until(async move {
                if let Some(room) = room {
                    room.await;
                }
                let _ = finished.await;
            })),
            None => room,
        }
    }
}

/// Does what `request` from `src` asks; a spawn hands back the wait for its init.
fn execute(node: &Node, registry: &Registry, src: &str, request: Request) -> Option<Wait> {
    match request {
        Request::Nothing => {}
        Request::Mon1(name) => node.monitored_by(src, &name),
        Request::Mon0(name) => node.unmonitored_by(src, &name),
        Request::Kil0 { port, reason } => node.remote_died(src, &port, &reason),
        Request::Kil1 { port, reason } => {
            node.kill_local(&crate::PortId::new(node.id(), &port), reason)
        }
        Request::Snd { port, msg } => {
            if let Err(e) = node.snd(&port, msg) {
                tracing::warn!(node = src, port, error = %e, "cannot relay message");
            }
        }
        Request::Can { name, reply } => {
            let known =
                BUILTIN_REQUESTS.contains(&name.as_str()) || registry.functions.contains_key(&name);
            send_reply(node, src, reply, Value::from(i64::from(known)));
        }
        Request::Time { reply } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            send_reply(node, src, reply, Value::from(now.as_secs_f64()));
        }
        Request::Info { reply } => send_reply(node, src, reply, Value::from(node.id())),
        Request::Stats { reply } => {
            let stats = aemp_transport::to_value(&node.stats()).unwrap_or_default();
            send_reply(node, src, reply, stats);
        }
        Request::Lookup { name, reply } => {
            let found = node.registered(&name).map_or(Value::Null, Value::from);
            send_reply(node, src, reply, found);
        }
        Request::Spawn { name, init, args } => {
            return spawn_here(node, registry, src, name, &init, args)
        }
        Request::Global(g) => node.global_request(src, g),
        Request::Function { name, args } => match registry.functions.get(&name) {
            Some(f) => {
                let ctx = CallCtx::new(node, src);
                // A function may take its time: on a multi-threaded runtime, tokio moves the
                // other tasks queued on this worker elsewhere meanwhile.
                let call = || run_fallible(|| f(&ctx, args));
                let multi = tokio::runtime::Handle::try_current().is_ok_and(|h| {
                    h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                });
                let outcome = if multi {
                    tokio::task::block_in_place(call)
                } else {
                    call()
                };
                if let Err(e) = outcome {
                    tracing::warn!(node = src, function = name, error = %e, "node-port function failed");
                }
            }
            None => tracing::warn!(
                node = src,
                request = name,
                "unknown node-port request (not a built-in, not a registered function), ignored"
            ),
        },
    }
    None
}

/// Sends `result` to a reply spec `[port, extra...]`: the message is `[extra..., result]`.
fn send_reply(node: &Node, src: &str, mut spec: Vec<Value>, result: Value) {
    if spec.is_empty() {
        return;
    }
    let Some(port) = spec.remove(0).to_text().map(|t| t.into_owned()) else {
        return tracing::warn!(node = src, "reply port is not text");
    };
    spec.push(result);
    if let Err(e) = node.snd(&port, spec) {
        tracing::warn!(node = src, port, error = %e, "cannot send reply");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aemp_transport::msg;

    #[test]
    fn requests_are_parsed_once_into_their_shapes() {
        assert_eq!(Request::parse(vec![]), Ok(Request::Nothing));
        assert_eq!(
            Request::parse(msg!["kil1", "p", "die", "x"]),
            Ok(Request::Kil1 {
                port: "p".into(),
                reason: msg!["die", "x"]
            })
        );
        assert!(matches!(
            Request::parse(msg!["kil1", ""]),
            Err(RequestError::Malformed { .. })
        ));
        assert!(matches!(
            Request::parse(msg![1, 2]),
            Err(RequestError::NoTag(_))
        ));
        assert_eq!(
            Request::parse(msg!["my::func", 1]),
            Ok(Request::Function {
                name: "my::func".into(),
                args: msg![1]
            })
        );
        assert!(matches!(
            Request::parse(msg!["g_nope"]),
            Err(RequestError::Global(WireError::Unknown(_)))
        ));
    }
}
