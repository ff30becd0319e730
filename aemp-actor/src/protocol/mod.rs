//! The node protocol: what other nodes ask of this node through its node port (the bare node
//! id), and spawning ports here by name.
//!
//! Requests are parsed once into [`node_port::Request`]. The kernel's own requests (monitor,
//! kill, relay, `can`, `time`, `info`, `lookup`, creating a spawned port) are handled in the
//! order they arrive, right away; the ones that run user code or do database work (registered
//! functions, `g_*`) go to the node port's own ordered runner, never the connection's reader;
//! a spawned port runs its init function on its own task.

pub(crate) mod node_port;
pub(crate) mod spawn;

pub(crate) use node_port::NodePortRunner;
pub(crate) use spawn::{Registry, Spawnable};
