//! [`Ask`]: a request to a typed port, awaited as the decoded reply.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use aemp_transport::Value;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::{Error, PortId};

/// A whole exchange: resolves to the reply's first value (`Null` for none).
pub(super) type AskFuture = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

/// How an ask starts, when first polled (given the port asked, for errors).
pub(super) type Start = Box<dyn FnOnce(&PortId) -> Started + Send>;

/// What starting an ask gave.
pub(super) enum Started {
    /// The request is queued; the reply comes on this channel.
    Waiting(oneshot::Receiver<Value>),
    /// The rest of the exchange (a remote port, or a full mailbox).
    Exchange(AskFuture),
    /// The ask failed at once.
    Failed(Error),
}

/// A request to a typed port: optionally `.timeout(d)`, then `.await` the decoded reply.
#[must_use = "an ask does nothing until awaited"]
pub struct Ask<R> {
    start: Start,
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
    /// The ask of `port` that `start` begins when first polled.
    pub(super) fn new(port: PortId, timeout: Option<Duration>, start: Start) -> Self {
        Ask {
            start,
            port,
            timeout,
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
            state: State::Start(self.start),
            deadline: self
                .timeout
                .map(|after| (Box::pin(tokio::time::sleep(after)), after)),
            port: self.port,
            _reply: PhantomData,
        }
    }
}

enum State {
    Start(Start),
    Waiting(oneshot::Receiver<Value>),
    Exchange(AskFuture),
    Done,
}

/// An [`Ask`] under way: resolves to the decoded reply, or [`Error::Timeout`].
#[must_use = "futures do nothing unless polled"]
pub struct Asking<R> {
    state: State,
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

impl<R: DeserializeOwned> Asking<R> {
    fn no_reply(&self) -> Error {
        Error::NoReply {
            port: self.port.to_string(),
        }
    }
}

impl<R: DeserializeOwned> Future for Asking<R> {
    type Output = Result<R, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let reply = loop {
            match &mut this.state {
                State::Start(_) => {
                    if let State::Start(start) = std::mem::replace(&mut this.state, State::Done) {
                        this.state = match start(&this.port) {
                            Started::Waiting(rx) => State::Waiting(rx),
                            Started::Exchange(f) => State::Exchange(f),
                            Started::Failed(e) => break Poll::Ready(Err(e)),
                        };
                    }
                }
                State::Waiting(rx) => {
                    break Pin::new(rx)
                        .poll(cx)
                        .map(|r| r.map_err(|_| this.no_reply()))
                }
                State::Exchange(f) => break f.as_mut().poll(cx),
                State::Done => break Poll::Ready(Err(this.no_reply())),
            }
        };
        if let Poll::Ready(reply) = reply {
            this.state = State::Done;
            return Poll::Ready(
                reply.and_then(|v| aemp_transport::from_value(v).map_err(Error::Reply)),
            );
        }
        if let Some((sleep, after)) = &mut this.deadline {
            if sleep.as_mut().poll(cx).is_ready() {
                let after = *after;
                this.state = State::Done;
                return Poll::Ready(Err(Error::Timeout {
                    port: this.port.to_string(),
                    after,
                }));
            }
        }
        Poll::Pending
    }
}
