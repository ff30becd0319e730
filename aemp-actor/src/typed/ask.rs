//! [`Ask`]: a request to a typed port, awaited as the decoded reply.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use aemp_transport::Value;
use serde::de::DeserializeOwned;

use crate::Error;

type AskFuture = Pin<Box<dyn Future<Output = Result<Vec<Value>, Error>> + Send>>;

/// A request to a typed port: optionally `.timeout(d)`, then `.await` the decoded reply.
#[must_use = "an ask does nothing until awaited"]
pub struct Ask<R> {
    start: Box<dyn FnOnce(Option<Duration>) -> AskFuture + Send>,
    timeout: Option<Duration>,
    _reply: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Ask<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ask")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned> Ask<R> {
    pub(super) fn new(start: impl FnOnce(Option<Duration>) -> AskFuture + Send + 'static) -> Self {
        Ask {
            start: Box::new(start),
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
            exchange: (self.start)(self.timeout),
            _reply: PhantomData,
        }
    }
}

/// An [`Ask`] under way: resolves to the decoded reply.
#[must_use = "futures do nothing unless polled"]
pub struct Asking<R> {
    exchange: AskFuture,
    _reply: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Asking<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Asking").finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned> Future for Asking<R> {
    type Output = Result<R, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut reply = ready!(self.exchange.as_mut().poll(cx))?;
        let value = if reply.is_empty() {
            Value::Null
        } else {
            reply.swap_remove(0)
        };
        Poll::Ready(aemp_transport::from_value(value).map_err(Error::Reply))
    }
}
