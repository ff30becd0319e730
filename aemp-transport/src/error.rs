//! [`Error`]: every way an AEMP connection can fail, one variant per failure.

use std::io;
use std::time::Duration;

use crate::Framing;

/// A transport error. The `Display` text says what went wrong in the words AnyEvent::MP uses
/// where it has words for it, so logs from Perl and Rust nodes read alike.
///
/// [`Error::is_fatal`] tells whether the connection is gone: a malformed *message* in an
/// otherwise intact stream is reported and skipped, a broken *stream* ends the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (for example a node id containing `#` or `;`).
    #[error("invalid configuration: {what}: {reason}")]
    Config {
        /// The setting that is wrong.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The certificate PEM could not be used.
    #[error("certificate: {0}")]
    Certificate(String),
    /// Connecting to the peer failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address we dialled.
        addr: String,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// A socket error.
    #[error("{during}: {source}")]
    Io {
        /// What we were doing.
        during: &'static str,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// The peer closed the connection before the handshake completed.
    #[error("connection closed by peer during the handshake (waiting for the {during})")]
    ClosedDuringHandshake {
        /// What we were waiting for.
        during: &'static str,
    },
    /// The handshake did not complete within `monitor_timeout`.
    #[error("handshake timed out after {after:?} (waiting for the {during})")]
    HandshakeTimeout {
        /// The configured limit.
        after: Duration,
        /// What we were waiting for.
        during: &'static str,
    },
    /// A handshake line exceeded 4096 bytes (including the line delimiter).
    #[error("{what} exceeds {limit} bytes")]
    LineTooLong {
        /// Which line.
        what: &'static str,
        /// The limit, 4096.
        limit: usize,
    },
    /// A handshake line is not valid UTF-8 or misses required fields.
    #[error("malformed {what}: {reason}")]
    MalformedLine {
        /// Which line.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The peer speaks another protocol (`aemp` expected).
    #[error("unparsable greeting, expected '{expected}', got '{got}'")]
    ProtocolMismatch {
        /// The protocol we speak.
        expected: String,
        /// What the peer sent.
        got: String,
    },
    /// The peer speaks another protocol version.
    #[error("version mismatch (we: {ours}, they: {theirs})")]
    VersionMismatch {
        /// Our version, 1.
        ours: u32,
        /// The peer's version field.
        theirs: String,
    },
    /// The peer has our own node id.
    #[error("I refuse to talk to myself ({node})")]
    TalkingToMyself {
        /// The node id.
        node: String,
    },
    /// The configured hook says this node is already connected.
    #[error("{node} already connected, not connecting again.")]
    AlreadyConnected {
        /// The peer's node id.
        node: String,
    },
    /// The peer sent back exactly our own greeting.
    #[error("authentication error, echo attack?")]
    EchoAttack,
    /// The peer's nonce equals ours: a replay of our own challenge, which the protocol says
    /// an implementation must refuse.
    #[error("the peer's nonce equals ours (a replay?): refused")]
    SameNonce,
    /// The peer's greeting names a node id that cannot be one (empty, or with `#`, `;` or a
    /// line break).
    #[error("the peer claims an invalid node id {node:?}: {reason}")]
    InvalidNodeId {
        /// The id it claimed.
        node: String,
        /// Why it cannot be one.
        reason: String,
    },
    /// None of the peer's acceptable auth methods is one we offer.
    #[error("{theirs}: no common auth type supported (we offer {ours})")]
    NoCommonAuth {
        /// The peer's accept list.
        theirs: String,
        /// Our offer list.
        ours: String,
    },
    /// None of the peer's framings is one we support.
    #[error("{theirs}: no common framing method supported (we support {ours})")]
    NoCommonFraming {
        /// The peer's framing list.
        theirs: String,
        /// Ours.
        ours: String,
    },
    /// The auth method chosen for sending cannot be produced in this situation.
    #[error("{method}: fatal, selected unsupported snd auth method")]
    UnsupportedSendAuth {
        /// The method.
        method: String,
    },
    /// We have neither TLS (both sides need a certificate) nor a shared secret.
    #[error("unable to handshake TLS and no shared secret configured")]
    NoCredentials,
    /// The peer authenticated with a method we do not know.
    #[error("{method}: fatal, selected unsupported rcv auth method")]
    UnsupportedReceiveAuth {
        /// The method.
        method: String,
    },
    /// The peer authenticated with a method we did not list as acceptable.
    #[error("{method}: peer used an auth method we did not accept (we accept {accepted})")]
    AuthNotAccepted {
        /// The method.
        method: String,
        /// Our accept list.
        accepted: String,
    },
    /// The peer's authentication token is wrong.
    #[error("authentication failure/shared secret mismatch")]
    AuthFailed,
    /// The peer chose to send in a framing we cannot read.
    #[error("{framing}: unusable remote framing")]
    UnsupportedFraming {
        /// The peer's choice.
        framing: String,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Tls(#[source] io::Error),
    /// The byte stream cannot be decoded any further; the connection is closed.
    #[error("{framing} stream corrupt: {reason}")]
    Decode {
        /// The framing being read.
        framing: Framing,
        /// What was wrong.
        reason: String,
    },
    /// One well-framed message could not be represented (for example it is not an array);
    /// it was skipped and the connection goes on.
    #[error("bad message from peer, skipped: {reason}")]
    BadMessage {
        /// What was wrong.
        reason: String,
    },
    /// A message could not be encoded in the connection's framing; nothing was sent.
    #[error("cannot encode message as {framing}: {reason}")]
    Encode {
        /// The framing.
        framing: Framing,
        /// What could not be encoded.
        reason: String,
    },
    /// The send buffer is full (`try_send`); nothing was queued.
    #[error("send buffer full ({limit} bytes queued)")]
    Full {
        /// The configured limit.
        limit: usize,
    },
    /// The connection is closed: by us (`close`), cleanly, or because writing failed (the
    /// socket's error is the source).
    #[error("connection closed{}{}", during.map(|d| format!(": {d}")).unwrap_or_default(), source.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    Closed {
        /// What was going on: `closing` (closed by us), `writing to peer`, `shutting down`.
        during: Option<&'static str>,
        /// The socket's error, if one ended the connection.
        #[source]
        source: Option<std::sync::Arc<io::Error>>,
    },
}

impl Error {
    /// A short name of the kind of error, for counting them (`auth_failed`, `timeout`, ...):
    /// a fixed set, whatever the details.
    ///
    /// ```
    /// assert_eq!(aemp_transport::Error::AuthFailed.kind(), "auth_failed");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::Certificate(_) => "certificate",
            Error::Connect { .. } => "connect",
            Error::Io { .. } => "io",
            Error::ClosedDuringHandshake { .. } => "closed",
            Error::HandshakeTimeout { .. } => "timeout",
            Error::LineTooLong { .. } | Error::MalformedLine { .. } => "malformed",
            Error::ProtocolMismatch { .. } | Error::VersionMismatch { .. } => "protocol",
            Error::TalkingToMyself { .. } => "myself",
            Error::AlreadyConnected { .. } => "already_connected",
            Error::EchoAttack | Error::SameNonce => "replay",
            Error::InvalidNodeId { .. } => "invalid_node_id",
            Error::NoCommonAuth { .. }
            | Error::UnsupportedSendAuth { .. }
            | Error::NoCredentials
            | Error::UnsupportedReceiveAuth { .. }
            | Error::AuthNotAccepted { .. } => "no_common_auth",
            Error::AuthFailed => "auth_failed",
            Error::NoCommonFraming { .. } | Error::UnsupportedFraming { .. } => "no_common_framing",
            Error::Tls(_) => "tls",
            Error::Decode { .. } => "decode",
            Error::BadMessage { .. } => "bad_message",
            Error::Encode { .. } => "encode",
            Error::Full { .. } => "full",
            Error::Closed { .. } => "closed",
        }
    }

    /// Whether the connection is unusable after this error. Only [`Error::BadMessage`],
    /// [`Error::Encode`] and [`Error::Full`] leave it intact.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Error::BadMessage { .. } | Error::Encode { .. } | Error::Full { .. }
        )
    }

    /// Whether this is an authentication failure (wrong secret or certificate).
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            Error::AuthFailed
                | Error::AuthNotAccepted { .. }
                | Error::NoCredentials
                | Error::Tls(_)
        )
    }

    /// An I/O error during the handshake; a peer that hung up (reset, broken pipe) is
    /// reported as [`Error::ClosedDuringHandshake`] however it hung up.
    pub(crate) fn io(during: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| match source.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => Error::ClosedDuringHandshake { during },
            _ => Error::Io { during, source },
        }
    }
}
