//! Spawning by name: the init functions and node-port functions this node offers (only
//! registered names can be called: a remote node never runs arbitrary code), and what the
//! spawn request does here.

use std::collections::HashMap;
use std::sync::Arc;

use aemp_transport::Value;

use tokio::sync::oneshot;

use crate::error::BoxError;
use crate::node::ctx::{BoxStart, CallCtx, Ctx};
use crate::node::{Node, Start};
use crate::sync::serial::Wait;

/// A function other nodes may call by name through the node port.
pub(crate) type BoxFunction =
    Box<dyn Fn(&CallCtx<'_>, Vec<Value>) -> Result<(), BoxError> + Send + Sync>;

/// An init function run on a spawned port (it gives the port its handlers).
pub(crate) type BoxInit = Arc<dyn Fn(&Ctx<'_>, Vec<Value>) -> Result<(), BoxError> + Send + Sync>;

/// Creates port `name` now and starts what runs on it (typed actors). It must create the port
/// before it returns and run user code on the port's own task, not in the caller's; the
/// receiver resolves once that code has started the port (or killed it).
pub(crate) type CustomSpawn =
    dyn Fn(&Node, String, Vec<Value>) -> Result<oneshot::Receiver<()>, crate::Error> + Send + Sync;

/// An init function that may be spawned by name.
#[derive(Clone)]
pub(crate) enum Spawnable {
    /// Runs on a new port with handlers (`NodeBuilder::spawnable`).
    Handlers(BoxInit),
    /// Creates the port itself (typed actors).
    Custom(Arc<CustomSpawn>),
}

/// What this node offers by name.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) functions: HashMap<String, BoxFunction>,
    pub(crate) spawnables: HashMap<String, Spawnable>,
}

/// `AnyEvent::MP::_spawn` from `src`: creates port `name` at once (so that messages sent after
/// the request find it) and runs the init function `init` registered here on it. From
/// another node the init runs on the new port's own task, and the connection reads its next
/// message only once it is done (the returned wait): what follows the request on that
/// connection sees the port as the init left it, as with AnyEvent::MP. From this node
/// itself it runs in the caller's task, before `spawn` returns.
pub(crate) fn spawn_here(
    node: &Node,
    registry: &Registry,
    src: &str,
    name: String,
    init: &str,
    args: Vec<Value>,
) -> Option<Wait> {
    let local = src == node.id();
    let (created, wait) = match registry.spawnables.get(init) {
        Some(Spawnable::Handlers(f)) => {
            let f = f.clone();
            if local {
                let start: BoxStart = Box::new(move |ctx| f(ctx, args));
                (node.spawned_port_now(name.clone(), start).is_some(), None)
            } else {
                let (done, finished) = oneshot::channel::<()>();
                let start = Start {
                    init: Box::new(move |ctx| f(ctx, args)),
                    done: Some(done),
                };
                let created = node.spawned_port(name.clone(), start).is_some();
                let wait = created.then(|| {
                    Wait::until(async move {
                        let _ = finished.await;
                    })
                });
                (created, wait)
            }
        }
        Some(Spawnable::Custom(f)) => match f(node, name.clone(), args) {
            Ok(finished) => (
                true,
                (!local).then(|| {
                    Wait::until(async move {
                        let _ = finished.await;
                    })
                }),
            ),
            Err(e) => {
                tracing::warn!(node = src, init, port = name, error = %e, "spawn failed");
                return None;
            }
        },
        None => {
            tracing::warn!(
                node = src,
                init,
                port = name,
                "spawn of an init function that is not registered, refused"
            );
            return None;
        }
    };
    if !created {
        tracing::warn!(
            node = src,
            port = name,
            "spawn of a port that exists already, refused"
        );
    }
    wait
}
