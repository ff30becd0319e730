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
use tokio::time::Sleep;

use super::mailbox::{Mailbox, Refused, SendMail, SlotKey};
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
    Remote(Option<Node>),
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

enum State<'a, M: Message> {
    /// Queued in a local mailbox: the reply comes to this slot.
    Asked(&'a Mailbox<M>, SlotKey),
    /// Waiting for room in a full local mailbox, the reply's slot reserved.
    Sending(&'a Mailbox<M>, SlotKey, Box<SendMail<'a, M>>),
    /// A remote port's `cal`.
    Exchange(Exchange),
    /// The ask failed at once.
    /// (Boxed, as the wait for room: the states of the common case stay small to move.)
    Failed(Box<Error>),
    Done,
}

/// An [`Ask`] under way: resolves to the decoded reply, or [`Error::Timeout`].
#[must_use = "futures do nothing unless polled"]
pub struct Asking<'a, M: Message, R> {
    /// What is sent at the first poll (not before: a future made and never polled, as a
    /// `select!` branch that is disabled, sends nothing).
    start: Option<(Route<'a, M>, M)>,
    state: State<'a, M>,
    timeout: Option<Duration>,
    /// Boxed, and only with a timeout: an ask without one costs no timer.
    deadline: Option<Pin<Box<Sleep>>>,
    port: &'a PortId,
    _reply: PhantomData<fn() -> R>,
}

impl<M: Message, R> Unpin for Asking<'_, M, R> {}

impl<M: Message, R> Drop for Asking<'_, M, R> {
    fn drop(&mut self) {
        // An ask given up: its reply's slot goes.
        if let State::Asked(mailbox, key) | State::Sending(mailbox, key, _) = &self.state {
            mailbox.forget_reply(*key);
        }
    }
}

impl<M: Message, R> fmt::Debug for Asking<'_, M, R> {
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

/// Starts an ask: queues it in a local mailbox that has room (the common case: no future to
/// build, the asker's waker registered with the request), else waits for room, or starts a
/// remote exchange.
fn start<'a, M: Message>(
    port: &PortId,
    route: Route<'a, M>,
    msg: M,
    cx: &mut Context<'_>,
) -> State<'a, M> {
    let mailbox: &'a Mailbox<M> = match route {
        Route::Local(mailbox) => mailbox,
        Route::Remote(None) => return State::Failed(Box::new(Error::NoNode)),
        Route::Remote(Some(node)) => return remote(port.clone(), node, msg),
    };
    match mailbox.try_ask(msg, cx.waker()) {
        Ok(key) => State::Asked(mailbox, key),
        Err(Refused::Full(env)) => {
            let (key, env) = mailbox.ask_later(env);
            State::Sending(mailbox, key, Box::new(mailbox.send(env)))
        }
        Err(Refused::Closed(_)) => State::Failed(Box::new(no_reply(port))),
    }
}

/// A remote port's ask: a `cal`.
fn remote<'a, M: Message>(port: PortId, node: Node, msg: M) -> State<'a, M> {
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
            this.state = start(port, route, msg, cx);
            this.deadline = this
                .timeout
                .map(|after| Box::pin(tokio::time::sleep(after)));
            // Queued with this waker: the answer wakes it (no need to look before).
            if matches!(this.state, State::Asked(..)) && this.deadline.is_none() {
                return Poll::Pending;
            }
        }
        let reply = loop {
            match &mut this.state {
                State::Asked(mailbox, key) => {
                    break mailbox
                        .poll_reply(*key, cx)
                        .map(|r| r.ok_or_else(|| no_reply(port)))
                }
                State::Sending(mailbox, key, send) => match Pin::new(&mut **send).poll(cx) {
                    Poll::Ready(Ok(())) => this.state = State::Asked(mailbox, *key),
                    Poll::Ready(Err(_)) => {
                        mailbox.forget_reply(*key);
                        break Poll::Ready(Err(no_reply(port)));
                    }
                    Poll::Pending => break Poll::Pending,
                },
                State::Exchange(f) => break f.as_mut().poll(cx),
                State::Failed(_) => match std::mem::replace(&mut this.state, State::Done) {
                    State::Failed(e) => break Poll::Ready(Err(*e)),
                    _ => break Poll::Ready(Err(no_reply(port))),
                },
                State::Done => break Poll::Ready(Err(no_reply(port))),
            }
        };
        if let Poll::Ready(reply) = reply {
            this.state = State::Done;
            return Poll::Ready(
                reply.and_then(|v| aemp_transport::from_value(v).map_err(Error::Reply)),
            );
        }
        if let (Some(sleep), Some(after)) = (&mut this.deadline, this.timeout) {
            if sleep.as_mut().poll(cx).is_ready() {
                if let State::Asked(mailbox, key) | State::Sending(mailbox, key, _) = &this.state {
                    mailbox.forget_reply(*key);
                }
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
