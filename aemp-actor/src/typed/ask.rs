//! [`Ask`]: a request to a typed port, awaited as the decoded reply.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use aemp_transport::Value;
use serde::de::DeserializeOwned;
use tokio::time::Sleep;

use crate::{Error, PortId};

/// The exchange of an ask: resolves to the reply's first value (`Null` for none).
pub(super) type AskFuture = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

/// A request to a typed port: optionally `.timeout(d)`, then `.await` the decoded reply.
#[must_use = "an ask does nothing until awaited"]
pub struct Ask<R> {
    exchange: AskFuture,
    port: PortId,
    timeout: Option<Duration>,
    _reply: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Ask<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ask")
            .field("port", &self.port)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned> Ask<R> {
    /// The ask of `port` that `exchange` performs when polled.
    pub(super) fn new(port: PortId, exchange: AskFuture) -> Self {
        Ask {
            exchange,
            port,
            timeout: None,
            _reply: PhantomData,
        }
    }

    /// Gives up after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<R: DeserializeOwned + Send + 'static> IntoFuture for Ask<R> {
    type Output = Result<R, Error>;
    type IntoFuture = Asking<R>;

    fn into_future(self) -> Self::IntoFuture {
        Asking {
            exchange: self.exchange,
            deadline: self
                .timeout
                .map(|after| (Box::pin(tokio::time::sleep(after)), after)),
            port: self.port,
            _reply: PhantomData,
        }
    }
}

/// An [`Ask`] under way: resolves to the decoded reply, or [`Error::Timeout`].
#[must_use = "futures do nothing unless polled"]
pub struct Asking<R> {
    exchange: AskFuture,
    /// Boxed, and only with a timeout: an ask without one costs no timer.
    deadline: Option<(Pin<Box<Sleep>>, Duration)>,
    port: PortId,
    _reply: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Asking<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Asking")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned> Future for Asking<R> {
    type Output = Result<R, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(reply) = self.exchange.as_mut().poll(cx) {
            return Poll::Ready(
                reply.and_then(|v| aemp_transport::from_value(v).map_err(Error::Reply)),
            );
        }
        if let Some((sleep, after)) = &mut self.deadline {
            if sleep.as_mut().poll(cx).is_ready() {
                let after = *after;
                return Poll::Ready(Err(Error::Timeout {
                    port: self.port.to_string(),
                    after,
                }));
            }
        }
        Poll::Pending
    }
}
