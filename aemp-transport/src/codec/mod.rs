//! Framing: how messages travel in the data phase.
//!
//! AEMP sends messages back to back, without delimiters: a stream of JSON texts or of CBOR
//! items. Each side sends in the framing it chose from the peer's list, so the two directions
//! of one connection may differ. [`Encoder`] writes messages into a buffer; [`Decoder`] takes
//! bytes as they arrive (split or coalesced in any way) and yields whole messages.

mod cbor;
mod json;
mod raw;
mod scan;

use std::fmt;
use std::str::FromStr;

use bytes::{Buf, BytesMut};

use self::scan::{Scan, Scanner};
use crate::{Error, Value};

pub use self::raw::RawMessage;

/// Default limit of one message on the wire, and of the bytes buffered while a message is
/// incomplete: 64 MiB. AnyEvent::MP has no limit; an unbounded buffer would let one peer
/// exhaust our memory.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

/// Nesting limit for arrays and maps inside a message (as CBOR::XS and JSON::XS default to 512).
pub const MAX_DEPTH: usize = 512;

/// A framing format of the data phase.
///
/// ```
/// use aemp_transport::Framing;
/// assert_eq!("cbor".parse::<Framing>().unwrap(), Framing::Cbor);
/// assert!("storable".parse::<Framing>().is_err());
/// assert_eq!(Framing::Json.to_string(), "json");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Back-to-back CBOR items (RFC 8949), as CBOR::XS writes them.
    Cbor,
    /// Back-to-back UTF-8 JSON texts, as JSON::XS writes them.
    Json,
}

impl Framing {
    /// The name used in greetings and auth lines.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Cbor => "cbor",
            Framing::Json => "json",
        }
    }

    /// The framing of that name, if we support it.
    pub fn from_name(name: &str) -> Option<Framing> {
        match name {
            "cbor" => Some(Framing::Cbor),
            "json" => Some(Framing::Json),
            _ => None,
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing a framing name aemp does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported framing '{0}' (aemp supports cbor and json; Perl's storable is not supported)"
)]
pub struct UnknownFraming(pub String);

impl FromStr for Framing {
    type Err = UnknownFraming;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Framing::from_name(s).ok_or_else(|| UnknownFraming(s.to_owned()))
    }
}

/// Encodes messages in one framing.
///
/// ```
/// use aemp_transport::{msg, Encoder, Framing};
/// let mut out = Vec::new();
/// Encoder::new(Framing::Json).encode_message("port", &msg!["tag", 1], &mut out).unwrap();
/// assert_eq!(out, br#"["port","tag",1]"#);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Encoder {
    framing: Framing,
}

impl Encoder {
    /// An encoder for `framing`.
    pub fn new(framing: Framing) -> Self {
        Encoder { framing }
    }

    /// The framing.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Appends `msg` (a whole message: destination port name first) to `out`. On error `out`
    /// is left as it was.
    pub fn encode(&self, msg: &[Value], out: &mut Vec<u8>) -> Result<(), Error> {
        self.guarded(out, |out| match self.framing {
            Framing::Cbor => cbor::encode_array(None, msg, out),
            Framing::Json => json::encode_array(None, msg, out),
        })
    }

    /// Appends the message `[dest, body...]` to `out` without building it first. On error
    /// `out` is left as it was.
    pub fn encode_message(
        &self,
        dest: &str,
        body: &[Value],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.guarded(out, |out| match self.framing {
            Framing::Cbor => cbor::encode_array(Some(dest), body, out),
            Framing::Json => json::encode_array(Some(dest), body, out),
        })
    }

    fn guarded(
        &self,
        out: &mut Vec<u8>,
        f: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
    ) -> Result<(), Error> {
        let len = out.len();
        f(out).map_err(|reason| {
            out.truncate(len);
            Error::Encode {
                framing: self.framing,
                reason,
            }
        })
    }
}

/// What decoding one item from a buffer gave.
pub(crate) enum Item {
    /// A whole item of this many bytes, and what it held.
    Done(usize, Result<Value, String>),
    /// The buffer ends inside the item.
    Incomplete,
}

/// A streaming decoder: feed it bytes, take whole messages out.
///
/// Each message is framed by a scan that checks what makes a stream unreadable (so a corrupt
/// stream fails at once, for good) and remembers where a split message stopped, so a large
/// message arriving in many reads is walked once. [`Decoder::next_raw`] hands the message out
/// undecoded, [`Decoder::next_message`] decoded.
///
/// ```
/// use aemp_transport::{msg, Decoder, Encoder, Framing};
/// let mut wire = Vec::new();
/// let enc = Encoder::new(Framing::Cbor);
/// enc.encode(&msg!["a", 1], &mut wire).unwrap();
/// enc.encode(&msg!["b", 2], &mut wire).unwrap();
/// let mut dec = Decoder::new(Framing::Cbor);
/// dec.extend(&wire[..3]); // a split read
/// assert!(dec.next_message().unwrap().is_none());
/// dec.extend(&wire[3..]); // the rest, and the next message coalesced
/// assert_eq!(dec.next_message().unwrap(), Some(msg!["a", 1]));
/// assert_eq!(dec.next_message().unwrap(), Some(msg!["b", 2]));
/// assert_eq!(dec.next_message().unwrap(), None);
/// ```
#[derive(Debug)]
pub struct Decoder {
    framing: Framing,
    buf: BytesMut,
    max_message_size: usize,
    broken: bool,
    /// Where the scan of the next message stands (it resumes when more bytes arrive).
    scanner: Scanner,
    /// A JSON text is being scanned as it arrives.
    scanning: bool,
}

impl Decoder {
    /// A decoder for `framing` with the default message size limit.
    pub fn new(framing: Framing) -> Self {
        Decoder::with_limit(framing, DEFAULT_MAX_MESSAGE_SIZE)
    }

    /// A decoder for `framing` that refuses messages larger than `max_message_size` bytes.
    pub fn with_limit(framing: Framing, max_message_size: usize) -> Self {
        Decoder {
            framing,
            buf: BytesMut::with_capacity(64 * 1024),
            max_message_size,
            broken: false,
            scanner: Scanner::new(framing, max_message_size),
            scanning: false,
        }
    }

    /// The framing.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Appends received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The buffer to read into directly (see [`tokio::io::AsyncReadExt::read_buf`]).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes the next whole message out of the buffer and decodes it: `Ok(None)` when more
    /// bytes are needed.
    ///
    /// A message that is well framed but not an array (or holds a CBOR value that has no
    /// [`Value`]) is skipped and reported as a non-fatal [`Error::BadMessage`]; a stream that
    /// cannot be decoded any further gives a fatal [`Error::Decode`], and so does every later
    /// call.
    pub fn next_message(&mut self) -> Result<Option<Vec<Value>>, Error> {
        match self.next_raw()? {
            Some(raw) => raw.decode().map(Some),
            None => Ok(None),
        }
    }

    /// Takes the next whole message out of the buffer without decoding it: `Ok(None)` when
    /// more bytes are needed. Errors as [`Decoder::next_message`]'s, except that a value
    /// aemp cannot represent is found only when the message is decoded.
    pub fn next_raw(&mut self) -> Result<Option<RawMessage>, Error> {
        if self.broken {
            return Err(self.corrupt("stream already corrupt".into()));
        }
        let scanned = match self.framing {
            // A JSON text that has all arrived is framed and checked in one pass; the scan
            // follows one that has not, so it is parsed once when its end arrives.
            Framing::Json if !self.scanning => match json::frame(&self.buf) {
                Ok(Some(end)) => Scan::Complete(end),
                // Incomplete, or (serde_json's check without building values says so of a
                // number cut short) an error: the scan finds out which.
                _ => {
                    self.scanning = true;
                    self.json_scan()
                }
            },
            Framing::Json => self.json_scan(),
            Framing::Cbor => self.scanner.advance(&self.buf),
        };
        match scanned {
            Scan::Incomplete => self.incomplete(),
            Scan::Complete(end) => {
                self.scanning = false;
                let shape = self.scanner.finish(&self.buf[..end]);
                let raw = RawMessage::new(self.buf.split_to(end).freeze(), self.framing, shape);
                if shape.array {
                    Ok(Some(raw))
                } else {
                    // Well framed but not an array: skipped, saying what it was.
                    Err(raw.decode().err().unwrap_or_else(|| Error::BadMessage {
                        reason: "a message must be an array".into(),
                    }))
                }
            }
            Scan::Corrupt(reason) => Err(self.fail(reason)),
            Scan::Decode => {
                // Something the scan does not frame (a JSON text that is not an array or
                // object): the decoder finds its end, or what is wrong with it.
                self.scanner.reset();
                self.scanning = false;
                let item = match self.framing {
                    Framing::Cbor => cbor::decode(&self.buf, self.max_message_size),
                    Framing::Json => json::decode(&self.buf),
                };
                match item {
                    Ok(Item::Incomplete) => self.incomplete(),
                    Ok(Item::Done(used, value)) => {
                        self.buf.advance(used);
                        let reason = match value {
                            Ok(other) => {
                                format!("a message must be an array, got {}: {other}", other.kind())
                            }
                            Err(reason) => reason,
                        };
                        Err(Error::BadMessage { reason })
                    }
                    Err(reason) => Err(self.fail(reason)),
                }
            }
        }
    }

    /// Resumes the scan of a JSON text; once its end has arrived, checks it.
    fn json_scan(&mut self) -> Scan {
        match self.scanner.advance(&self.buf) {
            Scan::Complete(end) => match json::frame(&self.buf[..end]) {
                Ok(Some(end)) => Scan::Complete(end),
                Ok(None) => Scan::Corrupt("JSON text ends early".into()),
                Err(reason) => Scan::Corrupt(reason),
            },
            other => other,
        }
    }

    fn incomplete(&mut self) -> Result<Option<RawMessage>, Error> {
        if self.buf.len() > self.max_message_size {
            return Err(self.fail(format!(
                "message exceeds the limit of {} bytes",
                self.max_message_size
            )));
        }
        Ok(None)
    }

    fn fail(&mut self, reason: String) -> Error {
        self.broken = true;
        self.corrupt(reason)
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::Decode {
            framing: self.framing,
            reason,
        }
    }
}
