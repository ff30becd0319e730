//! The byte streams a connection runs over.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The read half of a connection's stream.
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection's stream.
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// A byte stream AEMP can run over: TCP, or anything else for tests and tunnels.
///
/// Streams are split into a read and a write half once the handshake is done; TCP splits
/// without a lock, other streams through [`tokio::io::split`].
pub trait Transportable: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Splits the stream into owned halves.
    fn split_halves(self) -> (BoxRead, BoxWrite)
    where
        Self: Sized,
    {
        let (r, w) = tokio::io::split(self);
        (Box::new(r), Box::new(w))
    }
}

impl Transportable for TcpStream {
    fn split_halves(self) -> (BoxRead, BoxWrite) {
        let (r, w) = self.into_split();
        (Box::new(r), Box::new(w))
    }
}

impl Transportable for tokio::io::DuplexStream {}

impl<S: Transportable> Transportable for tokio_rustls::client::TlsStream<Prefixed<S>> {}
impl<S: Transportable> Transportable for tokio_rustls::server::TlsStream<Prefixed<S>> {}

/// A stream with bytes in front that were read from it already (while reading handshake
/// lines) but belong to what comes next, such as the peer's first TLS record.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: BytesMut,
    inner: S,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(prefix: BytesMut, inner: S) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
