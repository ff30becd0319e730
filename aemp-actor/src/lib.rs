//! # aemp-actor
//!
//! The kernel of AnyEvent::MP in Rust: a [`Node`] holds ports; ports receive messages with
//! [`Node::rcv`] (per-tag handlers and a default), are sent to with [`Node::snd`] wherever
//! they live, die with [`Node::kil`], are watched with [`Node::mon`] and its siblings, and
//! answer requests made with [`Node::cal`]. Nodes connect on demand, speak AnyEvent::MP 2.x's
//! node protocol, and run registered init functions when another node (Perl ones included)
//! spawns a port on them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), aemp_actor::Error> {
//! use std::time::Duration;
//! use aemp_actor::{msg, Node};
//!
//! let server = Node::builder().node_id("server").bind("127.0.0.1:0").secret("s").start().await?;
//! let echo = server.port();
//! server.rcv_default(&echo, |ctx, mut msg| {
//!     let reply = msg.pop().and_then(|r| r.as_str().map(str::to_owned)).unwrap_or_default();
//!     ctx.snd(reply, msg)
//! })?;
//!
//! let client = Node::builder().node_id("client").secret("s").start().await?;
//! client.connect(&server.listen_addrs()[0].to_string()).await?;
//! let reply = client.cal(&echo, msg!["hello", 42]).timeout(Duration::from_secs(5)).await?;
//! assert_eq!(reply, msg!["hello", 42]);
//! # Ok(()) }
//! ```
//!
//! The guarantees (ordering, delivery, monitoring) are stated in `docs/semantics.md`, the
//! layout of this crate in `docs/architecture.md`. Layers, lowest first (a module imports
//! only from layers below it):
//!
//! | layer | modules |
//! |---|---|
//! | vocabulary and tools | `error`, `port_id`, `wire`, `sync/` (locks, bus, serial runner) |
//! | ports | `port/` (table, mailbox, handler table, monitors) |
//! | links | `link/` (peers, dial, link, outbox, node events) |
//! | global database | `global/` |
//! | the node | `node/` (the `Node` API, user-code contexts, sinks, `cal`) |
//! | node protocol | `protocol/` (node-port requests, spawn) |
//! | composition | `builder` |
//! | typed layer | `typed/` |

mod builder;
mod error;
mod global;
mod link;
mod node;
mod port;
mod port_id;
pub mod prelude;
mod protocol;
pub mod supervise;
mod sync;
pub mod trace;
pub mod typed;
mod wire;

pub use aemp_transport::{msg, Framing, Value};
pub use builder::{Defaults, NodeBuilder, DEFAULT_CONNECT_INTERVAL};
pub use error::{format_reason, BoxError, DialError, Error};
pub use global::{DbEvent, DbMonGuard, DbRegGuard, DbWatch, GLOBALS, LISTENERS};
pub use link::{Heartbeat, NodeEvent, NodeEvents, NodesGuard};
pub use node::ctx::{CallCtx, Ctx, HandlerOutcome};
pub use node::stats::{LinkStats, PortStats, Stats, BUSIEST};
pub use node::{Call, Node};
pub use port::monitor::{LinkGuard, MonGuard, Monitor};
pub use port_id::{PortId, ToPort};
pub use wire::{BUILTIN_REQUESTS, STATS};
