#![doc = include_str!("../README.md")]
//!
//! ## The crates
//!
//! This facade re-exports them:
//! - [`transport`] (`aemp-transport`): one AEMP connection: greeting, authentication, TLS,
//!   framing.
//! - [`kernel`] (`aemp-actor`): nodes, ports, `snd`/`rcv`, `kil`/`mon`, `cal`, `spawn`, the
//!   node protocol, the global database, and the typed layer ([`kernel::typed`]). Its main
//!   types are re-exported here and in [`prelude`].
//! - [`config`] (`aemp-config`): AnyEvent::MP's rc file and profiles
//!   (`Node::builder().profile("web")` with [`ProfileExt`]), fresh secrets and certificates.

pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
pub mod services;

pub use aemp_actor as kernel;
pub use aemp_config as config;
pub use aemp_transport as transport;

pub use aemp_actor::typed::{
    Actor, ActorCtx, ActorRef, Ask, BoxError, IntoReason, Message, Req, Request, SpawnActor,
    TellError,
};
pub use aemp_actor::{
    format_reason, Call, Ctx, DbEvent, DbMonGuard, DbRegGuard, DbWatch, Error, Heartbeat,
    LinkGuard, MonGuard, Monitor, Node, NodeBuilder, NodeEvent, PortId, ToPort,
};
pub use aemp_config::ProfileExt;
/// `#[actor]` makes an `impl` block of async handlers an actor; `#[derive(Message)]` gives a
/// type the tagged-array form (see the `aemp_macros` crate).
pub use aemp_macros::{actor, Message};
pub use aemp_transport::{msg, Framing, Value};

/// Everything a program needs: `use aemp::prelude::*;`.
///
/// ```
/// use aemp::prelude::*;
///
/// #[derive(Debug, Clone, Message)]
/// enum Greeter {
///     #[message(reply = String)]
///     Greet(String),
/// }
///
/// #[derive(Default)]
/// struct Host;
///
/// #[actor(msg = Greeter)]
/// impl Host {
///     async fn greet(&mut self, who: String) -> String {
///         format!("hello, {who}")
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
/// let node = Node::builder().start().await?;
/// let host: ActorRef<Greeter> = node.spawn_actor(Host);
/// assert_eq!(host.ask(Greeter::greet("you".into())).await?, "hello, you");
/// # Ok(()) }
/// ```
pub mod prelude {
    pub use crate::{
        actor, msg, Actor, ActorCtx, ActorRef, Ask, BoxError, Ctx, DbEvent, DbRegGuard, DbWatch,
        Error, IntoReason, LinkGuard, Message, MonGuard, Monitor, Node, NodeEvent, PortId, Req,
        Request, SpawnActor, TellError, ToPort, Value,
    };
}
