//! [`RawMessage`]: a received message before decoding, routable by its destination.

use std::fmt;

use bytes::Bytes;

use super::scan::Shape;
use super::{cbor, json, Framing, Item};
use crate::{Error, Value};

/// A message as it arrived: its bytes (a slice of the read buffer, not a copy) and where its
/// destination port name is. The stream around it was checked when it was framed, so
/// decoding it cannot break the connection: at worst it holds a value aemp cannot represent
/// (an unsupported CBOR tag, text that is not UTF-8), and [`RawMessage::decode`] says so
/// with a non-fatal [`Error::BadMessage`].
///
/// A node routes a message by [`RawMessage::dest`] and leaves decoding to the task that
/// handles it, so the connection's reader does not build (and the handler does not free on
/// another thread) the values of every message.
///
/// ```
/// use aemp_transport::{msg, Decoder, Encoder, Framing};
/// let mut wire = Vec::new();
/// Encoder::new(Framing::Cbor).encode_message("port", &msg!["tag", 1], &mut wire).unwrap();
/// let mut dec = Decoder::new(Framing::Cbor);
/// dec.extend(&wire);
/// let raw = dec.next_raw().unwrap().unwrap();
/// assert_eq!(raw.dest(), Some("port"));
/// assert_eq!(raw.decode_body().unwrap(), msg!["tag", 1]);
/// assert_eq!(raw.decode().unwrap(), msg!["port", "tag", 1]);
/// ```
#[derive(Clone)]
pub struct RawMessage {
    bytes: Bytes,
    framing: Framing,
    shape: Shape,
}

impl RawMessage {
    pub(super) fn new(bytes: Bytes, framing: Framing, shape: Shape) -> RawMessage {
        RawMessage {
            bytes,
            framing,
            shape,
        }
    }

    /// The framing the message arrived in.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The message's bytes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether this is the empty array, `[]` (the heartbeat between aemp nodes).
    pub fn is_empty(&self) -> bool {
        self.shape.empty
    }

    /// The destination port name: the first element, when it is a plain string (text, or a
    /// byte string holding UTF-8, as Perl sends). `None` for anything else (an empty
    /// message, a first element that is not a string, or one written in an unusual way, such
    /// as a chunked string): decode the whole message to see.
    pub fn dest(&self) -> Option<&str> {
        std::str::from_utf8(self.dest_bytes()?).ok()
    }

    /// The destination port's name as it came, not checked to be UTF-8 (comparing it with
    /// a known name needs no check: equal bytes are that name). `None` as for
    /// [`dest`](Self::dest).
    ///
    /// ```
    /// use aemp_transport::{msg, Decoder, Encoder, Framing};
    /// let mut wire = Vec::new();
    /// Encoder::new(Framing::Cbor).encode_message("port", &msg!["tag"], &mut wire).unwrap();
    /// let mut dec = Decoder::new(Framing::Cbor);
    /// dec.extend(&wire);
    /// let raw = dec.next_raw().unwrap().unwrap();
    /// assert_eq!(raw.dest_bytes(), Some(&b"port"[..]));
    /// ```
    pub fn dest_bytes(&self) -> Option<&[u8]> {
        let (start, end) = self.shape.dest?;
        self.bytes.get(start..end)
    }

    /// Decodes the whole message, destination included.
    pub fn decode(&self) -> Result<Vec<Value>, Error> {
        let decoded = match self.framing {
            Framing::Cbor => cbor::decode(&self.bytes, usize::MAX),
            Framing::Json => json::decode(&self.bytes),
        };
        match decoded {
            Ok(Item::Done(_, Ok(Value::Array(items)))) => Ok(items),
            Ok(Item::Done(_, Ok(other))) => Err(Error::BadMessage {
                reason: format!("a message must be an array, got {}: {other}", other.kind()),
            }),
            Ok(Item::Done(_, Err(reason))) | Err(reason) => Err(Error::BadMessage { reason }),
            Ok(Item::Incomplete) => Err(Error::BadMessage {
                reason: "message ends early".into(),
            }),
        }
    }

    /// Decodes the message without its destination: the elements after the first.
    pub fn decode_body(&self) -> Result<Vec<Value>, Error> {
        if self.framing == Framing::Cbor && self.shape.dest.is_some() {
            let count = self.shape.count.map(|n| n.saturating_sub(1));
            return cbor::decode_elements(&self.bytes, self.shape.body_at, count)
                .map_err(|reason| Error::BadMessage { reason });
        }
        if self.framing == Framing::Json && self.shape.array {
            return json::decode_body(&self.bytes).map_err(|reason| Error::BadMessage { reason });
        }
        let mut items = self.decode()?;
        if !items.is_empty() {
            items.remove(0);
        }
        Ok(items)
    }
}

impl fmt::Debug for RawMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMessage")
            .field("framing", &self.framing)
            .field("dest", &self.dest())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}
