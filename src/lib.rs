//! # aemp
//!
//! AEMP, the wire protocol and actor model of Perl's AnyEvent::MP, in Rust: Erlang-style
//! message passing between ports on nodes, over TCP, authenticated by a shared secret or TLS,
//! wire-compatible with AnyEvent::MP 2.x nodes.
//!
//! This facade re-exports the crates:
//! - [`transport`] (`aemp-transport`): one AEMP connection: greeting, authentication, TLS,
//!   framing.
//! - [`actor`] (`aemp-actor`): the kernel: nodes, ports, `snd`/`rcv`, `kil`/`mon`, `cal`,
//!   `spawn`, the node protocol. Its main types are re-exported here.
//! - [`config`] (`aemp-config`): AnyEvent::MP's rc file and profiles
//!   (`Node::builder().profile("web")` with [`ProfileExt`]), fresh secrets and certificates.
//!
//! ```
//! use aemp::transport::{msg, Config, Framing};
//! let config = Config::new("demo").unwrap().secret("s3cr3t");
//! assert_eq!(config.node_id(), "demo");
//! let m = msg!["tag", 1, "payload"];
//! assert_eq!(m.len(), 3);
//! # let _ = Framing::Cbor;
//! ```

pub mod services;

pub use aemp_actor as actor;
pub use aemp_config as config;
pub use aemp_transport as transport;

pub use aemp_actor::typed::{ActorCtx, ActorRef, BoxError, Message, Request, TellError};
pub use aemp_actor::{
    Call, Ctx, Error, Heartbeat, MonGuard, Monitor, Node, NodeBuilder, NodeEvent, PortId, ToPort,
};
pub use aemp_config::ProfileExt;
/// `#[actor]` makes an `impl` block of async handlers an actor; `#[derive(Message)]` gives a
/// type the tagged-array form (see the `aemp_macros` crate).
pub use aemp_macros::{actor, Message};
pub use aemp_transport::{msg, Framing, Value};
