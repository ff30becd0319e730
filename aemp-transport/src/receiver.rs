//! [`Receiver`]: the peer's messages, as they arrive; and [`Traffic`], what went one way.

use tokio::io::AsyncReadExt;

use crate::stream::BoxRead;
use crate::{Decoder, Error, RawMessage, Value};

/// Messages and bytes that went one way on a connection.
///
/// ```
/// let t = aemp_transport::Traffic::default();
/// assert_eq!((t.messages, t.bytes), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Whole messages.
    pub messages: u64,
    /// Bytes on the wire.
    pub bytes: u64,
}

/// Receives the peer's messages.
pub struct Receiver {
    reader: BoxRead,
    decoder: Decoder,
    eof: bool,
    /// What arrived: bytes read, messages taken out.
    received: Traffic,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("decoder", &self.decoder)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

const READ_CHUNK: usize = 64 * 1024;

impl Receiver {
    /// A receiver reading from `reader` into `decoder`, which holds `buffered` bytes already
    /// (what came with the end of the handshake: counted as received).
    pub(crate) fn new(reader: BoxRead, decoder: Decoder, buffered: usize) -> Receiver {
        Receiver {
            reader,
            decoder,
            eof: false,
            received: Traffic {
                bytes: buffered as u64,
                ..Traffic::default()
            },
        }
    }

    /// The next message (an array, destination port name first); `Ok(None)` once the peer
    /// closed the connection cleanly.
    ///
    /// An error with [`Error::is_fatal`] false (a message that is not an array, say) skipped
    /// one message: call `recv` again. Cancel safe: a message is either returned or stays
    /// buffered.
    pub async fn recv(&mut self) -> Result<Option<Vec<Value>>, Error> {
        match self.recv_raw().await? {
            Some(raw) => raw.decode().map(Some),
            None => Ok(None),
        }
    }

    /// A message already received and buffered, without waiting.
    pub fn try_recv(&mut self) -> Result<Option<Vec<Value>>, Error> {
        match self.decoder.next_raw()? {
            Some(raw) => raw.decode().map(Some),
            None => Ok(None),
        }
    }

    /// The next message undecoded (see [`RawMessage`]): what a node routes by its
    /// destination, leaving the decoding to whoever handles it. Otherwise as
    /// [`Receiver::recv`].
    pub async fn recv_raw(&mut self) -> Result<Option<RawMessage>, Error> {
        loop {
            if let Some(msg) = self.decoder.next_raw()? {
                self.received.messages += 1;
                return Ok(Some(msg));
            }
            if self.eof {
                return self.at_eof().map(|()| None);
            }
            let buf = self.decoder.buffer_mut();
            buf.reserve(READ_CHUNK);
            let n = self
                .reader
                .read_buf(buf)
                .await
                .map_err(|source| Error::Io {
                    during: "reading from peer",
                    source,
                })?;
            self.received.bytes += n as u64;
            if n == 0 {
                self.eof = true;
            }
        }
    }

    /// A message already received and buffered, undecoded, without waiting.
    pub fn try_recv_raw(&mut self) -> Result<Option<RawMessage>, Error> {
        let msg = self.decoder.next_raw()?;
        if msg.is_some() {
            self.received.messages += 1;
        }
        Ok(msg)
    }

    /// What arrived so far: bytes read, and messages taken out of them.
    pub fn traffic(&self) -> Traffic {
        self.received
    }

    fn at_eof(&mut self) -> Result<(), Error> {
        let rest = self.decoder.buffer_mut();
        if rest.iter().all(u8::is_ascii_whitespace) {
            Ok(())
        } else {
            let n = rest.len();
            rest.clear();
            Err(Error::Decode {
                framing: self.decoder.framing(),
                reason: format!("connection closed inside a message ({n} bytes pending)"),
            })
        }
    }
}
