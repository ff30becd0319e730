//! Reading handshake lines: LF or CRLF delimited, at most 4096 bytes each.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::greeting::MAX_LINE;
use crate::Error;

/// Reads lines from a stream, keeping whatever follows the last line for the next phase.
pub(crate) struct LineReader<S> {
    pub stream: S,
    buf: BytesMut,
}

impl<S: AsyncRead + Unpin> LineReader<S> {
    pub(super) fn new(stream: S) -> Self {
        LineReader {
            stream,
            buf: BytesMut::with_capacity(MAX_LINE),
        }
    }

    pub(super) fn with_buffer(stream: S, buf: BytesMut) -> Self {
        LineReader { stream, buf }
    }

    /// Reads one line, without its delimiter.
    pub(super) async fn read_line(&mut self, what: &'static str) -> Result<String, Error> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                if end + 1 > MAX_LINE {
                    return Err(Error::LineTooLong {
                        what,
                        limit: MAX_LINE,
                    });
                }
                let mut line = self.buf.split_to(end + 1);
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                return String::from_utf8(line.to_vec()).map_err(|_| Error::MalformedLine {
                    what,
                    reason: "not valid UTF-8".into(),
                });
            }
            scanned = self.buf.len();
            if scanned >= MAX_LINE {
                return Err(Error::LineTooLong {
                    what,
                    limit: MAX_LINE,
                });
            }
            let mut limited = (&mut self.stream).take((MAX_LINE - scanned) as u64);
            let n = limited
                .read_buf(&mut self.buf)
                .await
                .map_err(Error::io(what))?;
            if n == 0 {
                return Err(Error::ClosedDuringHandshake { during: what });
            }
        }
    }

    /// The stream and the bytes read past the last line.
    pub(super) fn into_parts(self) -> (S, BytesMut) {
        (self.stream, self.buf)
    }
}
