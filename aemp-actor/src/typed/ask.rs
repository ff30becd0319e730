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
    #[inline]
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
            state: State::Start(self.route, self.msg),
            timeout,
            deadline: None,
            port: self.port,
            _reply: PhantomData,
        }
    }
}

enum State<'a, M: Message> {
    /// Not sent yet: it is at the first poll (a future made and never polled, as a
    /// `select!` branch that is disabled, sends nothing).
    Start(Route<'a, M>, M),
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

#[cold]
fn no_reply(port: &PortId) -> Error {
    Error::NoReply {
        port: port.to_string(),
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

/// The reply as `R`: moved as it is when `R` is [`Value`], else decoded.
fn decode<R: DeserializeOwned + 'static>(value: Value) -> Result<R, Error> {
    let mut value = Some(value);
    if let Some(same) = (&mut value as &mut dyn std::any::Any).downcast_mut::<Option<R>>() {
        if let Some(reply) = same.take() {
            return Ok(reply);
        }
    }
    aemp_transport::from_value(value.unwrap_or_default()).map_err(Error::Reply)
}

impl<M: Message, R: DeserializeOwned + 'static> Future for Asking<'_, M, R> {
    type Output = Result<R, Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // The common case, kept lean: a local ask without a timeout, sent at the first poll
        // (its waker goes with it) and answered by the next.
        if this.deadline.is_none() {
            match this.state {
                State::Asked(mailbox, key) => {
                    let Poll::Ready(reply) = mailbox.poll_reply(key, cx) else {
                        return Poll::Pending;
                    };
                    // The slot is gone. (`Asked` owns nothing: forgotten, not dropped, it
                    // needs no drop glue here.)
                    std::mem::forget(std::mem::replace(&mut this.state, State::Done));
                    return Poll::Ready(match reply {
                        Some(value) => decode(value),
                        None => Err(no_reply(this.port)),
                    });
                }
                State::Start(Route::Local(_), _) if this.timeout.is_none() => {
                    let State::Start(Route::Local(mailbox), msg) =
                        std::mem::replace(&mut this.state, State::Done)
                    else {
                        unreachable!("matched above")
                    };
                    match mailbox.try_ask(msg, cx.waker()) {
                        Ok(key) => {
                            // (`Done`, just put there, owns nothing.)
                            std::mem::forget(std::mem::replace(
                                &mut this.state,
                                State::Asked(mailbox, key),
                            ));
                            // Queued with this waker: the answer wakes it.
                            return Poll::Pending;
                        }
                        Err(refused) => this.state = this.refused(mailbox, refused),
                    }
                }
                _ => {}
            }
        }
        this.poll_other(cx)
    }
}

impl<'a, M: Message, R: DeserializeOwned + 'static> Asking<'a, M, R> {
    /// What a local mailbox that did not take the ask at once leads to.
    #[cold]
    fn refused(&self, mailbox: &'a Mailbox<M>, refused: Refused<M>) -> State<'a, M> {
        match refused {
            Refused::Full(env) => {
                let (key, env) = mailbox.ask_later(env);
                State::Sending(mailbox, key, Box::new(mailbox.send(env)))
            }
            Refused::Closed(_) => State::Failed(Box::new(no_reply(self.port))),
        }
    }

    /// Every other state: a timer, a wait for room, a remote exchange, a failure.
    #[inline(never)]
    fn poll_other(&mut self, cx: &mut Context<'_>) -> Poll<Result<R, Error>> {
        let port = self.port;
        let reply = loop {
            match &mut self.state {
                State::Asked(mailbox, key) => match mailbox.poll_reply(*key, cx) {
                    Poll::Ready(reply) => {
                        self.state = State::Done;
                        break Poll::Ready(reply.ok_or_else(|| no_reply(port)));
                    }
                    Poll::Pending => break Poll::Pending,
                },
                State::Start(..) => {
                    let State::Start(route, msg) = std::mem::replace(&mut self.state, State::Done)
                    else {
                        unreachable!("matched above")
                    };
                    self.state = self.start(route, msg, cx);
                    if let Some(after) = self.timeout {
                        self.deadline = Some(Box::pin(tokio::time::sleep(after)));
                    }
                }
                State::Sending(mailbox, key, send) => match Pin::new(&mut **send).poll(cx) {
                    Poll::Ready(Ok(())) => self.state = State::Asked(mailbox, *key),
                    Poll::Ready(Err(_)) => {
                        mailbox.forget_reply(*key);
                        self.state = State::Done;
                        break Poll::Ready(Err(no_reply(port)));
                    }
                    Poll::Pending => break Poll::Pending,
                },
                State::Exchange(f) => {
                    let polled = f.as_mut().poll(cx);
                    if polled.is_ready() {
                        self.state = State::Done;
                    }
                    break polled;
                }
                State::Failed(_) => match std::mem::replace(&mut self.state, State::Done) {
                    State::Failed(e) => break Poll::Ready(Err(*e)),
                    _ => break Poll::Ready(Err(no_reply(port))),
                },
                State::Done => break Poll::Ready(Err(no_reply(port))),
            }
        };
        if let Poll::Ready(reply) = reply {
            return Poll::Ready(reply.and_then(decode));
        }
        if let (Some(sleep), Some(after)) = (&mut self.deadline, self.timeout) {
            if sleep.as_mut().poll(cx).is_ready() {
                if let State::Asked(mailbox, key) | State::Sending(mailbox, key, _) = &self.state {
                    mailbox.forget_reply(*key);
                }
                self.state = State::Done;
                return Poll::Ready(Err(Error::Timeout {
                    port: port.to_string(),
                    after,
                }));
            }
        }
        Poll::Pending
    }

    /// Starts an ask: queues it in a local mailbox that has room (its waker registered with
    /// the request), else waits for room, or starts a remote exchange.
    fn start(&self, route: Route<'a, M>, msg: M, cx: &mut Context<'_>) -> State<'a, M> {
        let mailbox: &'a Mailbox<M> = match route {
            Route::Local(mailbox) => mailbox,
            Route::Remote(None) => return State::Failed(Box::new(Error::NoNode)),
            Route::Remote(Some(node)) => return remote(self.port.clone(), node, msg),
        };
        match mailbox.try_ask(msg, cx.waker()) {
            Ok(key) => State::Asked(mailbox, key),
            Err(refused) => self.refused(mailbox, refused),
        }
    }
}
