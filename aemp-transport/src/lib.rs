//! # aemp-transport
//!
//! One AEMP connection, exactly as AnyEvent::MP::Transport speaks it: the greeting, the
//! nonce, authentication (`hmac_sha3_512`, `tls_sha3_512`, `tls_anon`, `cleartext`), TLS,
//! and the data phase in `cbor` or `json` framing.
//!
//! ```no_run
//! use aemp_transport::{connect, msg, Config};
//!
//! # async fn demo() -> Result<(), aemp_transport::Error> {
//! let config = Config::new("me")?.secret("shared secret");
//! let conn = connect("127.0.0.1:4040", &config).await?;
//! let info = conn.info().clone();
//! println!("{} authenticated with {}, sending {}", info.node_id, info.peer_auth, info.send_framing);
//! let (tx, mut rx) = conn.split();
//! tx.send_to("echo", &msg![format!("{}#reply", config.node_id()), "hello"]).await?;
//! while let Some(message) = rx.recv().await? {
//!     println!("{message:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! A message is an array of [`Value`]s whose first element names the destination port on
//! the receiving node; the node part of a port id is implied by the connection.

mod codec;
mod config;
mod connection;
mod error;
mod handshake;
mod receiver;
mod serde_impl;
mod stream;
mod value;
mod value_serde;

pub use codec::{
    Decoder, Encoder, Framing, RawMessage, UnknownFraming, DEFAULT_MAX_MESSAGE_SIZE, MAX_DEPTH,
};
pub use config::{
    check_node_id, random_node_id, random_node_suffix, Config, DEFAULT_MONITOR_TIMEOUT,
    DEFAULT_SEND_BUFFER_LIMIT,
};
pub use connection::{Connection, PeerInfo, Sender};
pub use error::Error;
pub use handshake::auth::{hmac_sha3_512_hex, sha3_512_hex, AuthMethod, UnknownAuthMethod};
pub use handshake::greeting::{Greeting, MAX_LINE, PROTOCOL, PROTOCOL_VERSION};
pub use handshake::tls::TlsIdentity;
pub use handshake::{accept, connect, handshake};
pub use receiver::{Receiver, Traffic};
pub use stream::{BoxRead, BoxWrite, Prefixed, Transportable};
pub use value::Value;
pub use value_serde::{from_value, to_value, ValueError};
