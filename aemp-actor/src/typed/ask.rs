//! [`Ask`]: a request to a typed port, awaited as the decoded reply.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aemp_transport::Value;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::mailbox::{Envelope, Mailbox, Refused, ReplyTo};
use super::Message;
use crate::node::Node;
use crate::{Error, PortId};

/// How long an `ask` of a remote port waits for its reply unless given [`Ask::timeout`]
/// (AnyEvent::MP's `cal` default).
pub const DEFAULT_ASK_TIMEOUT: Duration = Duration::from_secs(30);

/// Whom an ask goes to.
pub(super) enum Route<'a, M> {
    /// A typed actor of this node: the message goes to its mailbox as it is.
    Local(&'a Arc<Mailbox<M>>),
    /// Any other port, through this node (or the reason there is none).
    Remote(Result<Node, Error>),
}

/// The slow part of an exchange, boxed: a remote port's `cal`, or a wait for room in a full
/// local mailbox. Resolves to the reply's first value (`Null` for none).
type Exchange = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

/// A request to a typed port: optionally `.timeout(d)`, then `.await` the decoded reply.
///
/// Nothing is sent until it is awaited (its future first polled). `M` is the message type
/// of the port asked, `R` the reply's type. It borrows the reference asked (clone the
/// reference into a task that should own the ask).
#[must_use = "an ask does nothing until awaited"]
pub struct Ask<'a, M, R> {
    port: &'a PortId,
    route: Route<'a, M>,
    msg: M,
    timeout: Option<Duration>,
    _reply: PhantomData<fn() -> R>,
}

impl<M, R> fmt::Debug for Ask<'_, M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ask")
            .field("port", self.port)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<'a, M: Message, R: DeserializeOwned> Ask<'a, M, R> {
    /// The ask of `port`, by `route`, with `msg`.
    pub(super) fn new(port: &'a PortId, route: Route<'a, M>, msg: M) -> Self {
        Ask {
            port,
            route,
            msg,
            timeout: None,
            _reply: PhantomData,
        }
    }

    /// Gives up after `timeout` (a remote port's ask has [`DEFAULT_ASK_TIMEOUT`] without
    /// one), counted from its first poll.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<'a, M: Message, R: DeserializeOwned + Send + 'static> IntoFuture for Ask<'a, M, R> {
    type Output = Result<R, Error>;
    type IntoFuture = Asking<'a, M, R>;

    fn into_future(self) -> Self::IntoFuture {
        let timeout = match self.route {
            Route::Local(_) => self.timeout,
            Route::Remote(_) => self.timeout.or(Some(DEFAULT_ASK_TIMEOUT)),
        };
        Asking {
            start: Some((self.route, self.msg)),
            state: State::Done,
            timeout,
            deadline: None,
            port: self.port,
            _reply: PhantomData,
        }
    }
}

enum State {
    /// The ask failed at once.
    Failed(Error),
    /// The request is queued; the reply comes on this channel.
    Waiting(oneshot::Receiver<Value>),
    Exchange(Exchange),
    Done,
}

/// An [`Ask`] under way: resolves to the decoded reply, or [`Error::Timeout`].
#[must_use = "futures do nothing unless polled"]
pub struct Asking<'a, M, R> {
    /// What is sent at the first poll (not before: a future made and never polled, as a
    /// `select!` branch that is disabled, sends nothing).
    start: Option<(Route<'a, M>, M)>,
    state: State,
    timeout: Option<Duration>,
    /// Boxed, and only with a timeout: an ask without one costs no timer.
    deadline: Option<Pin<Box<Sleep>>>,
    port: &'a PortId,
    _reply: PhantomData<fn() -> R>,
}

impl<M, R> Unpin for Asking<'_, M, R> {}

impl<M, R> fmt::Debug for Asking<'_, M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Asking")
            .field("port", self.port)
            .finish_non_exhaustive()
    }
}

fn no_reply(port: &PortId) -> Error {
    Error::NoReply {
        port: port.to_string(),
    }
}

/// Starts an ask: queues it in a local mailbox that has room (the common case, with no
/// future to build), else builds the exchange.
fn start<M: Message>(port: &PortId, route: Route<'_, M>, msg: M) -> State {
    let mailbox = match route {
        Route::Local(mailbox) => mailbox,
        Route::Remote(Err(e)) => return State::Failed(e),
        Route::Remote(Ok(node)) => return remote(port.clone(), node, msg),
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    let env = Envelope::local(msg, ReplyTo::Local(reply_tx));
    match mailbox.try_push(env) {
        Ok(()) => State::Waiting(reply_rx),
        Err(Refused::Full(env)) => {
            let mailbox = mailbox.clone();
            let port = port.clone();
            State::Exchange(Box::pin(async move {
                if mailbox.send(env).await.is_err() {
                    return Err(no_reply(&port));
                }
                reply_rx.await.map_err(|_| no_reply(&port))
            }))
        }
        Err(Refused::Closed(_)) => State::Failed(no_reply(port)),
    }
}

/// A remote port's ask: a `cal`.
fn remote<M: Message>(port: PortId, node: Node, msg: M) -> State {
    State::Exchange(Box::pin(async move {
        let values = msg.into_values().map_err(Error::Message)?;
        let mut reply = node.cal(&port, values).await?;
        Ok(if reply.is_empty() {
            Value::Null
        } else {
            reply.swap_remove(0)
        })
    }))
}

impl<M: Message, R: DeserializeOwned> Future for Asking<'_, M, R> {
    type Output = Result<R, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let port = this.port;
        if let Some((route, msg)) = this.start.take() {
            this.state = start(port, route, msg);
            this.deadline = this
                .timeout
                .map(|after| Box::pin(tokio::time::sleep(after)));
        }
        let reply = match &mut this.state {
            State::Waiting(rx) => Pin::new(rx).poll(cx).map(|r| r.map_err(|_| no_reply(port))),
            State::Exchange(f) => f.as_mut().poll(cx),
            State::Failed(_) => match std::mem::replace(&mut this.state, State::Done) {
                State::Failed(e) => Poll::Ready(Err(e)),
                _ => Poll::Ready(Err(no_reply(port))),
            },
            State::Done => Poll::Ready(Err(no_reply(port))),
        };
        if let Poll::Ready(reply) = reply {
            this.state = State::Done;
            return Poll::Ready(
                reply.and_then(|v| aemp_transport::from_value(v).map_err(Error::Reply)),
            );
        }
        if let (Some(sleep), Some(after)) = (&mut this.deadline, this.timeout) {
            if sleep.as_mut().poll(cx).is_ready() {
                this.state = State::Done;
                return Poll::Ready(Err(Error::Timeout {
                    port: port.to_string(),
                    after,
                }));
            }
        }
        Poll::Pending
    }
}
