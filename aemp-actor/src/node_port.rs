//! The node port (`""`): the requests other nodes send to this node, in AnyEvent::MP 2.x's
//! shapes (and 1.30's `kil`), plus the Intro's `lookup`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use aemp_transport::Value;

use crate::handler::{panic_text, CallCtx, Ctx};
use crate::monitor::Action;
use crate::node::{no_such_port, Node, NodeInner, Spawnable};
use crate::port::Sink;
use crate::PortId;

/// The spawn request: `["", "AnyEvent::MP::_spawn", NAME, INITFUNC, ARGS...]`.
pub(crate) const SPAWN: &str = "AnyEvent::MP::_spawn";

/// The requests this node answers besides registered functions (for `can`).
pub const BUILTIN_REQUESTS: &[&str] = &[
    "", "devnull", "mon0", "mon1", "kil0", "kil1", "kil", "snd", "can", "time", "info", "lookup",
    SPAWN,
];

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::to_text).map(|t| t.into_owned())
}

impl NodeInner {
    /// Handles `msg` (`[tag, args...]`) sent to our node port by node `src`.
    pub(crate) fn node_request(self: &Arc<Self>, src: &str, mut msg: Vec<Value>) {
        let Some(tag) = text(msg.first()) else {
            if !msg.is_empty() {
                let shown = Value::Array(msg);
                tracing::debug!(node = src, "node-port request without a tag: {shown}");
            }
            return;
        };
        let mut args = msg.split_off(1);
        let mut take = || {
            if args.is_empty() {
                None
            } else {
                Some(args.remove(0))
            }
        };
        match tag.as_str() {
            "" | "devnull" => {}
            "mon1" => {
                if let Some(name) = text(take().as_ref()) {
                    self.remote_monitor(src, name);
                }
            }
            "mon0" => {
                if let Some(name) = text(take().as_ref()) {
                    if let Some(port) = self.local_port(&name) {
                        port.mailbox().monitors.retain(
                            |(_, a)| !matches!(a, Action::Remote { node, .. } if &**node == src),
                        );
                    }
                    if let Some(peer) = self.known_peer(src) {
                        peer.state().lmon.remove(&name);
                    }
                }
            }
            "kil0" => {
                if let Some(name) = text(take().as_ref()) {
                    let actions = self
                        .known_peer(src)
                        .and_then(|p| p.state().monitors.remove(&name));
                    for (_, action) in actions.unwrap_or_default() {
                        self.fire(action, &args);
                    }
                }
            }
            "kil1" | "kil" => match text(take().as_ref()) {
                Some(name) if !name.is_empty() => self.kill_local_name(&name, args),
                _ => tracing::warn!(
                    node = src,
                    "kil request without a port name (or for the node port), ignored"
                ),
            },
            "snd" => match text(take().as_ref()) {
                Some(port) => {
                    if let Err(e) = self.send(&port, args) {
                        tracing::warn!(node = src, port, error = %e, "cannot relay message");
                    }
                }
                None => tracing::warn!(node = src, "snd request without a port"),
            },
            "can" => {
                let asked = text(take().as_ref()).unwrap_or_default();
                let known = BUILTIN_REQUESTS.contains(&asked.as_str())
                    || self.functions.contains_key(&asked);
                self.reply(src, args, Value::from(i64::from(known)));
            }
            "time" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                self.reply(src, args, Value::from(now.as_secs_f64()));
            }
            "info" => {
                let id = Value::from(&*self.id);
                self.reply(src, args, id);
            }
            "lookup" => {
                let name = text(take().as_ref()).unwrap_or_default();
                let found = Node {
                    inner: self.clone(),
                }
                .registered(&name)
                .map_or(Value::Null, Value::from);
                self.reply(src, args, found);
            }
            SPAWN => {
                let (name, init) = (text(take().as_ref()), text(take().as_ref()));
                match (name, init) {
                    (Some(name), Some(init)) => self.spawn_here(src, name, &init, args),
                    _ => tracing::warn!(node = src, "malformed spawn request"),
                }
            }
            other if other.starts_with("g_") => {
                if !self.global_request(src, other, args) {
                    tracing::debug!(
                        node = src,
                        request = other,
                        "unknown global protocol request, ignored"
                    );
                }
            }
            other => match self.functions.get(other) {
                Some(f) => {
                    let node = Node {
                        inner: self.clone(),
                    };
                    let ctx = CallCtx { node: &node, src };
                    let outcome = catch_unwind(AssertUnwindSafe(|| f(&ctx, args)))
                        .unwrap_or_else(|p| Err(panic_text(p)));
                    if let Err(e) = outcome {
                        tracing::warn!(node = src, function = other, error = %e, "node-port function failed");
                    }
                }
                None => tracing::warn!(
                    node = src,
                    request = other,
                    "unknown node-port request (not a built-in, not a registered function), ignored"
                ),
            },
        }
    }

    /// Sends `result` to a reply spec `[port, extra...]`: the message is `[extra..., result]`.
    fn reply(self: &Arc<Self>, src: &str, mut spec: Vec<Value>, result: Value) {
        if spec.is_empty() {
            return;
        }
        let Some(port) = text(Some(&spec.remove(0))) else {
            return tracing::warn!(node = src, "reply port is not text");
        };
        spec.push(result);
        if let Err(e) = self.send(&port, spec) {
            tracing::warn!(node = src, port, error = %e, "cannot send reply");
        }
    }

    /// `mon1`: node `src` monitors our port `name`.
    fn remote_monitor(self: &Arc<Self>, src: &str, name: String) {
        if let Some(port) = self.local_port(&name) {
            let mut mb = port.mailbox();
            if !port.is_dead() {
                if !mb
                    .monitors
                    .iter()
                    .any(|(_, a)| matches!(a, Action::Remote { node, .. } if &**node == src))
                {
                    mb.monitors.push((
                        0,
                        Action::Remote {
                            node: src.into(),
                            port: name.clone(),
                        },
                    ));
                }
                drop(mb);
                self.peer(src).state().lmon.insert(name);
                return;
            }
        }
        let mut body = vec![Value::from("kil0"), Value::from(name.as_str())];
        body.extend(no_such_port(&PortId::new(&self.id, &name)));
        if let Err(e) = self.send(src, body) {
            tracing::warn!(node = src, error = %e, "cannot answer mon1");
        }
    }

    /// `AnyEvent::MP::_spawn`: creates port `name` and runs the registered init function.
    fn spawn_here(self: &Arc<Self>, src: &str, name: String, init: &str, args: Vec<Value>) {
        let init_fn = match self.spawnables.get(init).cloned() {
            Some(Spawnable::Handlers(f)) => f,
            Some(Spawnable::Custom(f)) => {
                let node = Node {
                    inner: self.clone(),
                };
                let outcome = catch_unwind(AssertUnwindSafe(|| f(&node, name.clone(), args)))
                    .unwrap_or_else(|p| Err(panic_text(p)));
                if let Err(e) = outcome {
                    tracing::warn!(node = src, init, port = name, error = %e, "spawn failed");
                    let _ = node.kil(
                        PortId::new(&self.id, &name),
                        vec![Value::from("die"), Value::from(e)],
                    );
                }
                return;
            }
            None => {
                tracing::warn!(
                    node = src,
                    init,
                    port = name,
                    "spawn of an init function that is not registered, refused"
                );
                return;
            }
        };
        let Some(port) = self.create_port(Some(name.clone()), Sink::Handlers(Mutex::default()))
        else {
            tracing::warn!(
                node = src,
                port = name,
                "spawn of a port that exists already, refused"
            );
            return;
        };
        let node = Node {
            inner: self.clone(),
        };
        let ctx = Ctx {
            node: &node,
            port: &port.id,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| init_fn(&ctx, args)))
            .unwrap_or_else(|p| Err(panic_text(p)));
        if let Err(e) = outcome {
            tracing::debug!(port = %port.id, error = %e, "init function failed");
            node.kill_local(&port.id, vec![Value::from("die"), Value::from(e)]);
        }
    }
}
