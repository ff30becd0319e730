//! What user code gets from the kernel: the context of a handler or init function ([`Ctx`]),
//! of a node-port function ([`CallCtx`]), and what a handler may return ([`HandlerOutcome`]).

use std::fmt;

use aemp_transport::Value;

use super::inner::Node;
use crate::error::BoxError;
use crate::{Error, PortId};

/// What a handler may return: nothing, or a `Result` whose error kills the port with
/// `["die", error text]` (as a Perl callback that dies does). Any error converts: a
/// `String`, a `&str`, any `std::error::Error`.
pub trait HandlerOutcome {
    /// The outcome as a result with the error.
    fn into_outcome(self) -> Result<(), BoxError>;
}

impl HandlerOutcome for () {
    fn into_outcome(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> HandlerOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// A port's handler, as the kernel keeps it.
pub(crate) type BoxHandler = Box<dyn FnMut(&Ctx<'_>, Vec<Value>) -> Result<(), BoxError> + Send>;
/// What a spawned port runs first (its init function, bound to its arguments).
pub(crate) type BoxStart = Box<dyn FnOnce(&Ctx<'_>) -> Result<(), BoxError> + Send>;

pub(crate) fn boxed<F, R>(mut f: F) -> BoxHandler
where
    F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
    R: HandlerOutcome,
{
    Box::new(move |ctx, msg| f(ctx, msg).into_outcome())
}

/// What a handler, or a spawned port's init function, can reach: its own port (Perl's
/// `$SELF`) and the node.
pub struct Ctx<'a> {
    node: &'a Node,
    port: &'a PortId,
}

impl fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx").field("port", self.port).finish()
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(node: &'a Node, port: &'a PortId) -> Ctx<'a> {
        Ctx { node, port }
    }

    /// The node.
    pub fn node(&self) -> &'a Node {
        self.node
    }

    /// The port running this handler (Perl's `$SELF`).
    pub fn port(&self) -> &'a PortId {
        self.port
    }

    /// Sets the handler for messages tagged `tag` on this port.
    pub fn rcv<F, R>(&self, tag: &str, handler: F)
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        // Our own port exists while its handler runs; a kill in between makes this a no-op.
        let _ = self.node.rcv(self.port, tag, handler);
    }

    /// Sets the default handler of this port (it gets whole messages, tag included).
    pub fn rcv_default<F, R>(&self, handler: F)
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        let _ = self.node.rcv_default(self.port, handler);
    }

    /// Sends a message (see [`Node::snd`]).
    pub fn snd(&self, port: impl crate::ToPort, msg: Vec<Value>) -> Result<(), Error> {
        self.node.snd(port, msg)
    }

    /// Kills this port with `reason` (empty: a normal exit) once the handler returns.
    pub fn kil(&self, reason: Vec<Value>) {
        let _ = self.node.kil(self.port, reason);
    }
}

/// What a function called by name on the node port gets: the node and the sending node.
pub struct CallCtx<'a> {
    node: &'a Node,
    src: &'a str,
}

impl fmt::Debug for CallCtx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallCtx").field("src", &self.src).finish()
    }
}

impl<'a> CallCtx<'a> {
    pub(crate) fn new(node: &'a Node, src: &'a str) -> CallCtx<'a> {
        CallCtx { node, src }
    }

    /// The node.
    pub fn node(&self) -> &'a Node {
        self.node
    }

    /// The id of the node that sent the request (Perl's `$SRCNODE`).
    pub fn src(&self) -> &'a str {
        self.src
    }
}
