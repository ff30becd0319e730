//! Spawning by name: the init functions and node-port functions this node offers (only
//! registered names can be called: a remote node never runs arbitrary code), and what the
//! spawn request does here.

use std::collections::HashMap;
use std::sync::Arc;

use aemp_transport::Value;

use crate::node::ctx::{CallCtx, Ctx};
use crate::node::Node;

/// A function other nodes may call by name through the node port.
pub(crate) type BoxFunction = Box<dyn Fn(&CallCtx<'_>, Vec<Value>) -> Result<(), String> + Send + Sync>;

/// An init function run on a spawned port (it gives the port its handlers).
pub(crate) type BoxInit = Arc<dyn Fn(&Ctx<'_>, Vec<Value>) -> Result<(), String> + Send + Sync>;

/// Creates port `name` now and starts what runs on it (typed actors). It must create the port
/// before it returns and run user code on the port's own task, not in the caller's.
pub(crate) type CustomSpawn =
    dyn Fn(&Node, String, Vec<Value>) -> Result<(), crate::Error> + Send + Sync;

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
/// the request find it) and runs the init function `init` registered here on it.
pub(crate) fn spawn_here(
    node: &Node,
    registry: &Registry,
    src: &str,
    name: String,
    init: &str,
    args: Vec<Value>,
) {
    let created = match registry.spawnables.get(init) {
        Some(Spawnable::Handlers(f)) => {
            let f = f.clone();
            node.spawned_port(name.clone(), Box::new(move |ctx| f(ctx, args)))
                .is_some()
        }
        Some(Spawnable::Custom(f)) => match f(node, name.clone(), args) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(node = src, init, port = name, error = %e, "spawn failed");
                return;
            }
        },
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
    if !created {
        tracing::warn!(
            node = src,
            port = name,
            "spawn of a port that exists already, refused"
        );
    }
}
