//! [`ActorRef`]: the one handle to a typed port, local or remote, which travels as its port
//! id.

use std::fmt;
use std::sync::Arc;

use aemp_transport::Value;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ask::{Ask, Route};
use super::mailbox::{Envelope, Mailbox, Refused, ReplyTo};
use super::{Message, Request};
use crate::node::{current_node, Node, WeakNode};
use crate::{Error, PortId};

/// A reference to a port that takes messages of type `M`, on this node or any other: the
/// same calls work for both ([`tell`](ActorRef::tell), [`send`](ActorRef::send),
/// [`ask`](ActorRef::ask), [`monitor`](ActorRef::monitor), [`kil`](ActorRef::kil)). A local
/// typed actor gets the Rust value itself, nothing encoded; any other port gets
/// `[tag, fields...]`, as a Perl node reads it.
///
/// It serializes as the port id string, so it travels inside messages (Perl nodes see a
/// plain port id), and comes out of a message bound to the node that received it. A
/// reference made from an id ([`ActorRef::from_id`], or deserialized outside any node) sends
/// through the node of this process (the one started last, while it runs); with several
/// nodes in one process, [`bind`](ActorRef::bind) it to the one it should use.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use aemp_actor::typed::ActorRef;
/// let r: ActorRef<()> = ActorRef::from_id("node#p1".parse().unwrap());
/// assert_eq!(aemp_transport::to_value(&r).unwrap(), aemp_transport::Value::from("node#p1"));
/// # }
/// ```
pub struct ActorRef<M> {
    id: PortId,
    /// The node messages go through, when the reference was made by one.
    node: Option<WeakNode>,
    /// A local typed actor's mailbox.
    local: Option<Arc<Mailbox<M>>>,
}

impl<M> ActorRef<M> {
    /// A reference to `id`, bound to no node yet (the type is not checked: the port decides
    /// what it takes).
    pub fn from_id(id: PortId) -> Self {
        ActorRef {
            id,
            node: None,
            local: None,
        }
    }

    pub(crate) fn local(id: PortId, node: &Node, mailbox: Arc<Mailbox<M>>) -> Self {
        ActorRef {
            id,
            node: Some(node.weak()),
            local: Some(mailbox),
        }
    }

    /// The port id.
    pub fn id(&self) -> &PortId {
        &self.id
    }

    /// The node this reference sends through: the one it is bound to, else the node whose
    /// code is running (a handler's, an actor's), else the node this process started last.
    pub fn node(&self) -> Result<Node, Error> {
        self.node
            .as_ref()
            .and_then(WeakNode::upgrade)
            .or_else(current_node)
            .or_else(crate::node::process_node)
            .ok_or(Error::NoNode)
    }
}

impl<M: Message> ActorRef<M> {
    /// This reference, sending through `node` (and, if the port is a typed actor on `node`,
    /// straight to its mailbox).
    pub fn bind(&self, node: &Node) -> Self {
        ActorRef {
            id: self.id.clone(),
            node: Some(node.weak()),
            local: node.typed_mailbox(&self.id),
        }
    }

    /// Queues `msg` without waiting. A local actor's full mailbox or its stop hands the
    /// message back; a remote port gets it as AnyEvent::MP's `snd` would send it (never
    /// blocks; see `docs/semantics.md` for delivery).
    pub fn tell(&self, msg: M) -> Result<(), TellError<M>> {
        if let Some(mailbox) = &self.local {
            return mailbox
                .try_push(Envelope::local(msg, ReplyTo::None))
                .map_err(|e| match e {
                    Refused::Full(env) => TellError::Full(env.msg),
                    Refused::Closed(env) => TellError::Closed(env.msg),
                });
        }
        self.send_remote(msg)
    }

    /// Queues `msg`, waiting while a local actor's mailbox is full (backpressure); the
    /// message comes back if the actor stopped. To a remote port, as [`ActorRef::tell`].
    pub async fn send(&self, msg: M) -> Result<(), TellError<M>> {
        if let Some(mailbox) = &self.local {
            return mailbox
                .send(Envelope::local(msg, ReplyTo::None))
                .await
                .map_err(|env| TellError::Closed(env.msg));
        }
        self.send_remote(msg)
    }

    fn send_remote(&self, msg: M) -> Result<(), TellError<M>> {
        let node = self.node().map_err(TellError::Unsent)?;
        let values = msg
            .into_values()
            .map_err(|e| TellError::Unsent(Error::Message(e)))?;
        node.snd(&self.id, values).map_err(TellError::Unsent)
    }

    /// Sends the request and resolves to its reply, decoded as the type the request declares
    /// (`Count::get()` for a variant with `#[message(reply = u64)]`: a `u64`).
    ///
    /// A remote port gets a `cal`: the message with a reply port appended, as Perl's `cal`
    /// sends it; the ask gives up after [`DEFAULT_ASK_TIMEOUT`](super::DEFAULT_ASK_TIMEOUT) (a port that never answers)
    /// and fails at once if the port dies or its node is lost. A local actor's ask waits
    /// like a function call, and fails if the actor stops first. [`Ask::timeout`] sets a
    /// limit for either.
    #[inline]
    pub fn ask<Q: Request<Msg = M>>(&self, request: Q) -> Ask<'_, M, Q::Reply> {
        let route = match &self.local {
            Some(mailbox) => Route::Local(mailbox),
            None => Route::Remote(self.node().ok()),
        };
        Ask::new(&self.id, route, request.into_message())
    }

    /// Links this port with `other` (see [`Node::link`]).
    pub fn link(&self, other: impl crate::ToPort) -> Result<crate::LinkGuard, Error> {
        Ok(self.node()?.link(&self.id, other))
    }

    /// A future resolving to the reason the port dies (see [`Node::monitor`]); with no node
    /// to watch through, at once with `["no_node", ...]`.
    pub fn monitor(&self) -> crate::Monitor {
        match self.node() {
            Ok(node) => node.monitor(&self.id),
            Err(e) => crate::Monitor::fired(
                self.id.clone(),
                vec![Value::from("no_node"), Value::from(e.to_string())],
            ),
        }
    }

    /// Kills the port with `reason`: a `Vec<Value>`, or any [`Message`] (a typed reason
    /// travels as its tagged array). Empty: a normal exit.
    pub fn kil(&self, reason: impl IntoReason) -> Result<(), Error> {
        self.node()?.kil(&self.id, reason.into_reason()?)
    }
}

/// A kill or stop reason: a `Vec<Value>` as it is, or a [`Message`] as its tagged array
/// (`Reason::Overloaded { load: 9 }` travels as `["overloaded", 9]`).
pub trait IntoReason {
    /// The reason as the wire carries it.
    fn into_reason(self) -> Result<Vec<Value>, Error>;
}

impl IntoReason for Vec<Value> {
    fn into_reason(self) -> Result<Vec<Value>, Error> {
        Ok(self)
    }
}

impl<M: Message> IntoReason for M {
    fn into_reason(self) -> Result<Vec<Value>, Error> {
        self.into_values().map_err(Error::Message)
    }
}

/// Why a `tell` did not queue the message.
pub enum TellError<M> {
    /// A local actor's mailbox is full; the message is handed back.
    Full(M),
    /// A local actor has stopped; the message is handed back.
    Closed(M),
    /// The message could not be sent to a remote port (it did not encode, or there is no node
    /// to send through).
    Unsent(Error),
}

impl<M> TellError<M> {
    /// The message that was not sent, if it was handed back.
    pub fn into_inner(self) -> Option<M> {
        match self {
            TellError::Full(m) | TellError::Closed(m) => Some(m),
            TellError::Unsent(_) => None,
        }
    }
}

impl<M: PartialEq> PartialEq for TellError<M> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TellError::Full(a), TellError::Full(b))
            | (TellError::Closed(a), TellError::Closed(b)) => a == b,
            (TellError::Unsent(a), TellError::Unsent(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl<M> fmt::Debug for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TellError::Full(_) => f.write_str("Full(..)"),
            TellError::Closed(_) => f.write_str("Closed(..)"),
            TellError::Unsent(e) => f.debug_tuple("Unsent").field(e).finish(),
        }
    }
}

impl<M> fmt::Display for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TellError::Full(_) => f.write_str("the actor's mailbox is full"),
            TellError::Closed(_) => f.write_str("the actor has stopped"),
            TellError::Unsent(e) => write!(f, "the message was not sent: {e}"),
        }
    }
}

impl<M> std::error::Error for TellError<M> {}

impl<M> From<TellError<M>> for Error {
    fn from(e: TellError<M>) -> Error {
        match e {
            TellError::Unsent(e) => e,
            other => Error::Tell(other.to_string()),
        }
    }
}

impl<M> Clone for ActorRef<M> {
    fn clone(&self) -> Self {
        ActorRef {
            id: self.id.clone(),
            node: self.node.clone(),
            local: self.local.clone(),
        }
    }
}

impl<M> PartialEq for ActorRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<M> Eq for ActorRef<M> {}

impl<M> std::hash::Hash for ActorRef<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state)
    }
}

impl<M> fmt::Debug for ActorRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorRef({})", self.id)
    }
}

impl<M> fmt::Display for ActorRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id, f)
    }
}

impl<M> AsRef<str> for ActorRef<M> {
    fn as_ref(&self) -> &str {
        self.id.as_str()
    }
}

impl<M> crate::ToPort for ActorRef<M> {
    fn port_text(&self) -> &str {
        self.id.as_str()
    }

    fn to_port(&self) -> Result<PortId, Error> {
        Ok(self.id.clone())
    }

    fn node_and_name(&self) -> (&str, &str) {
        (self.id.node(), self.id.name())
    }
}

impl<M> From<ActorRef<M>> for PortId {
    fn from(r: ActorRef<M>) -> PortId {
        r.id
    }
}

impl<M> Serialize for ActorRef<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id.as_str())
    }
}

impl<'de, M: Message> Deserialize<'de> for ActorRef<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        let id = PortId::parse(&s).map_err(serde::de::Error::custom)?;
        Ok(match current_node() {
            Some(node) => ActorRef::from_id(id).bind(&node),
            None => ActorRef::from_id(id),
        })
    }
}
