//! [`Error`]: what the kernel's calls can fail with.

use aemp_transport::Value;

/// Any error user code returns (a handler, an init function, a typed actor): its text
/// becomes the kill reason `["die", text]`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A kernel error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a valid port id.
    #[error("invalid port id {id:?}: {reason}")]
    InvalidPortId {
        /// The text given.
        id: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The call needs a port of this node.
    #[error("{0} is not a port of this node")]
    NotLocal(String),
    /// The port does not exist (or no longer).
    #[error("no such port: {0}")]
    NoSuchPort(String),
    /// The node port cannot be killed or given handlers.
    #[error("the node port cannot be {0}")]
    NodePort(&'static str),
    /// A duration setting is zero where it must not be.
    #[error("invalid node configuration: {setting} must not be zero")]
    ZeroDuration {
        /// The setting (`connect_interval`, `heartbeat`).
        setting: &'static str,
    },
    /// The settings to fill in (a profile's, see `NodeBuilder::defaults_from`) could not be
    /// had.
    #[error("profile {name}: {source}")]
    Profile {
        /// The profile.
        name: String,
        /// Why (a malformed rc file, an unsupported setting).
        #[source]
        source: BoxError,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// A connection to an address could not be made.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// A transport failure (handshake, connection).
    #[error(transparent)]
    Transport(#[from] aemp_transport::Error),
    /// A `cal` got no reply in time.
    #[error("cal to {port} timed out after {after:?}")]
    Timeout {
        /// The port called.
        port: String,
        /// The timeout.
        after: std::time::Duration,
    },
    /// The port called (or monitored) died; the reason as AnyEvent::MP gives it.
    #[error("{port} died: {}", format_reason(reason))]
    Killed {
        /// The port.
        port: String,
        /// The kill reason (`[]` for a normal kill).
        reason: Vec<Value>,
    },
    /// The node is shutting down or gone.
    #[error("the node has shut down")]
    Shutdown,
    /// A typed `tell` did not queue its message (the typed layer's `TellError`, as text: the
    /// message itself stays with it).
    #[error("{0}")]
    Tell(String),
    /// A typed reference has no node to send through: none was given and none runs in this
    /// process.
    #[error("no node to send through: start a node, or bind the reference to one")]
    NoNode,
    /// A typed actor's mailbox is full (`Node::tell` to a local actor).
    #[error("the mailbox of {0} is full")]
    MailboxFull(String),
    /// The actor stopped before it replied.
    #[error("{port} stopped without replying")]
    NoReply {
        /// The port asked.
        port: String,
    },
    /// A typed message could not be encoded or decoded.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A reply did not decode as the expected type.
    #[error("unexpected reply: {0}")]
    Reply(#[source] aemp_transport::ValueError),
    /// Spawn arguments did not encode, or did not decode as the init function's.
    #[error("bad arguments for {init}: {source}")]
    Args {
        /// The init function.
        init: &'static str,
        /// What serde said.
        #[source]
        source: aemp_transport::ValueError,
    },
    /// A function or init function name was registered twice, or is reserved.
    #[error("cannot register {0:?}: the name is taken")]
    NameTaken(String),
}

/// A kill reason as text: `normal` for an empty reason, else its values joined.
pub fn format_reason(reason: &[Value]) -> String {
    if reason.is_empty() {
        "normal".to_owned()
    } else {
        reason
            .iter()
            .map(|v| {
                v.to_text()
                    .map_or_else(|| v.to_string(), |t| t.into_owned())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Why a message could not be encoded or decoded. The text names the tag and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The message is empty or its first element is not a string.
    #[error("not a tagged message (expected [tag, ...]): {0}")]
    NoTag(String),
    /// The tag is not one of this type's.
    #[error("unknown tag '{tag}' (expected one of: {expected})")]
    UnknownTag {
        /// The tag received.
        tag: String,
        /// The tags of the type.
        expected: String,
    },
    /// A field is missing.
    #[error("message '{tag}': missing field {field}")]
    MissingField {
        /// The tag.
        tag: String,
        /// The field's name (or position).
        field: String,
    },
    /// A field has the wrong type or value.
    #[error("message '{tag}': field {field}: {error}")]
    Field {
        /// The tag.
        tag: String,
        /// The field's name (or position).
        field: String,
        /// What serde said.
        error: String,
    },
}

/// Why a connection to an address could not be made.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// The connection or its handshake failed.
    #[error("{source}")]
    Transport {
        /// The address dialled.
        addr: String,
        /// What the transport said (shared with the callers that joined the dial).
        #[source]
        source: std::sync::Arc<aemp_transport::Error>,
    },
    /// The node at the address is this node.
    #[error("{addr} is this node itself")]
    Myself {
        /// The address dialled.
        addr: String,
    },
    /// The node answered that it is connected (or connecting) to us already, but that
    /// connection did not come up in time.
    #[error("cannot connect to {addr}: {node} did not come up")]
    NotUp {
        /// The address dialled.
        addr: String,
        /// The node that answered.
        node: String,
    },
    /// No connection came up within the connect interval.
    #[error("cannot connect to {addr}: connect timeout (after {after:?})")]
    Timeout {
        /// The address dialled.
        addr: String,
        /// The connect interval.
        after: std::time::Duration,
    },
    /// The node is shutting down.
    #[error("the node is shutting down")]
    Shutdown,
}
