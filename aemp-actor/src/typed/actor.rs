//! Actors: a struct, its handlers, a bounded mailbox and one task.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use aemp_transport::Value;
use futures::task::AtomicWaker;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::ask::{Ask, Started};
use super::mailbox::{Envelope, Mailbox, Overflow, ReplyTo, SharedMailbox};
use super::{Message, PortRef, Request};
use crate::error::BoxError;
use crate::node::Node;
use crate::sync::{lock, panic_text};
use crate::wire::die;
use crate::{Error, NodeBuilder, PortId};

/// The default mailbox capacity: 1024 messages.
pub const DEFAULT_CAPACITY: usize = 1024;

/// How many mailboxes' worth of messages from the network may wait beyond a full mailbox
/// before further ones are dropped (and logged): 16.
///
/// A connection carries the messages of many ports; blocking its reader for one slow actor
/// would stall them all, so network messages that find the mailbox full wait in an overflow
/// queue (in order) instead. The queue is bounded so that a flood cannot exhaust memory;
/// what does not fit is dropped with a warning naming the port and the sender.
pub const OVERFLOW_FACTOR: usize = 16;

/// An actor: state plus a handler for its message type. `#[actor]` implements this for an
/// `impl` block of async methods; it can also be written by hand.
pub trait Actor: Send + Sized + 'static {
    /// The messages it takes.
    type Msg: Message;

    /// Handles one message; returns the reply for an `ask` (`Ok(None)`: no value). An error
    /// stops the actor with `["die", error]`.
    fn handle(
        &mut self,
        ctx: &mut ActorCtx<Self>,
        msg: Self::Msg,
    ) -> impl Future<Output = Result<Option<Value>, BoxError>> + Send;

    /// Runs before the first message.
    fn started(&mut self, ctx: &mut ActorCtx<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Runs after the last message, with the reason the actor stopped (`[]`: normally).
    fn stopped(
        &mut self,
        ctx: &mut ActorCtx<Self>,
        reason: &[Value],
    ) -> impl Future<Output = ()> + Send {
        let _ = (ctx, reason);
        async {}
    }
}

/// An actor that other nodes may spawn by name (`#[actor(spawn = "name")]`).
pub trait SpawnActor: Actor {
    /// The name it is spawned by (AnyEvent::MP's init function name).
    const NAME: &'static str;
    /// Its init arguments, decoded from the spawn message (a tuple; `()` for none).
    type Args: Serialize + DeserializeOwned + Send;
    /// Makes the actor from its arguments.
    fn init(args: Self::Args) -> Result<Self, BoxError>;
}

/// What an actor's handlers can reach: its own port, the node, and a way to stop.
pub struct ActorCtx<A: Actor> {
    node: Node,
    me: Port<A::Msg>,
    stop: Option<Vec<Value>>,
}

impl<A: Actor> fmt::Debug for ActorCtx<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorCtx")
            .field("port", self.me.id())
            .finish_non_exhaustive()
    }
}

impl<A: Actor> ActorCtx<A> {
    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// This actor's port (a handle it can give away or tell itself through).
    pub fn myself(&self) -> &Port<A::Msg> {
        &self.me
    }

    /// A reference to this actor's port, for messages.
    pub fn port_ref(&self) -> PortRef<A::Msg> {
        self.me.port_ref()
    }

    /// Stops the actor normally once this handler returns.
    pub fn stop(&mut self) {
        self.stop = Some(Vec::new());
    }

    /// Stops the actor with `reason` once this handler returns (its monitors see it).
    pub fn stop_with(&mut self, reason: Vec<Value>) {
        self.stop = Some(reason);
    }

    /// Sends a typed message to any port (see [`Node::tell`]).
    pub fn tell<M: Message>(&self, to: &PortRef<M>, msg: M) -> Result<(), Error> {
        self.node.tell(to, msg)
    }

    /// Starts another actor on this node.
    pub fn spawn_actor<B: Actor>(&self, actor: B) -> Port<B::Msg> {
        self.node.spawn_actor(actor)
    }
}

/// Why a local `tell` did not queue the message; the message is handed back.
#[derive(PartialEq, Eq)]
pub enum TellError<M> {
    /// The mailbox is full.
    Full(M),
    /// The actor has stopped.
    Closed(M),
}

impl<M> TellError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            TellError::Full(m) | TellError::Closed(m) => m,
        }
    }
}

impl<M> fmt::Debug for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TellError::Full(_) => f.write_str("Full(..)"),
            TellError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<M> fmt::Display for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TellError::Full(_) => f.write_str("the actor's mailbox is full"),
            TellError::Closed(_) => f.write_str("the actor has stopped"),
        }
    }
}

impl<M> std::error::Error for TellError<M> {}

/// A handle to a local actor's port: `tell` and `ask` without encoding anything.
pub struct Port<M: Message> {
    node: Node,
    port: PortRef<M>,
    tx: mpsc::Sender<Envelope<M>>,
}

impl<M: Message> Clone for Port<M> {
    fn clone(&self) -> Self {
        Port {
            node: self.node.clone(),
            port: self.port.clone(),
            tx: self.tx.clone(),
        }
    }
}

impl<M: Message> fmt::Debug for Port<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Port({})", self.port.id())
    }
}

impl<M: Message> Port<M> {
    /// The port id.
    pub fn id(&self) -> &PortId {
        self.port.id()
    }

    /// A reference that can travel in messages.
    pub fn port_ref(&self) -> PortRef<M> {
        self.port.clone()
    }

    /// Queues `msg` unless the mailbox is full or the actor stopped (the message comes back).
    pub fn tell(&self, msg: M) -> Result<(), TellError<M>> {
        self.tx
            .try_send(Envelope {
                msg,
                reply: ReplyTo::None,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(env) => TellError::Full(env.msg),
                mpsc::error::TrySendError::Closed(env) => TellError::Closed(env.msg),
            })
    }

    /// Queues `msg`, waiting while the mailbox is full.
    pub async fn send(&self, msg: M) -> Result<(), TellError<M>> {
        self.tx
            .send(Envelope {
                msg,
                reply: ReplyTo::None,
            })
            .await
            .map_err(|e| TellError::Closed(e.0.msg))
    }

    /// Sends the request and resolves to its reply, decoded as the type the request declares
    /// (`Count::get()` for a variant with `#[message(reply = u64)]`: a `u64`).
    pub fn ask<Q: Request<Msg = M>>(&self, request: Q) -> Ask<Q::Reply> {
        let msg = request.into_message();
        let tx = self.tx.clone();
        Ask::new(
            self.port.id().clone(),
            Box::new(move |port: &PortId| {
                let (reply_tx, reply_rx) = oneshot::channel();
                let env = Envelope {
                    msg,
                    reply: ReplyTo::Local(reply_tx),
                };
                // The mailbox has room (the common case): no future to build.
                match tx.try_send(env) {
                    Ok(()) => Started::Waiting(reply_rx),
                    Err(mpsc::error::TrySendError::Full(env)) => {
                        let no_reply = Error::NoReply {
                            port: port.to_string(),
                        };
                        Started::Exchange(Box::pin(async move {
                            if tx.send(env).await.is_err() {
                                return Err(no_reply);
                            }
                            reply_rx.await.map_err(|_| no_reply)
                        }))
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => Started::Failed(Error::NoReply {
                        port: port.to_string(),
                    }),
                }
            }),
        )
    }

    /// Kills the actor's port with `reason`.
    pub fn kil(&self, reason: Vec<Value>) {
        self.node.kill_local(self.port.id(), reason);
    }

    /// A future resolving to the reason the actor stops.
    pub fn monitor(&self) -> crate::Monitor {
        self.node.monitor(self.port.id())
    }
}

impl Node {
    /// One port registered under `name`, as a typed reference.
    pub async fn lookup_typed<M>(&self, name: &str) -> Option<PortRef<M>> {
        self.lookup_name(name).await.map(PortRef::from_id)
    }

    /// Starts `actor` on a new port of this node with the default mailbox capacity.
    pub fn spawn_actor<A: Actor>(&self, actor: A) -> Port<A::Msg> {
        self.spawn_actor_with_capacity(actor, DEFAULT_CAPACITY)
    }

    /// Starts `actor` on a new port of this node with a mailbox of `capacity` messages.
    pub fn spawn_actor_with_capacity<A: Actor>(&self, actor: A, capacity: usize) -> Port<A::Msg> {
        let name = self.generated_name();
        start(self, name, move || Ok(actor), capacity, None)
            .expect("generated port names are unique")
    }

    /// Spawns the actor registered as `A::NAME` on `node` (any node, Perl ones included, if
    /// it registered one of that name) with `args`; returns its reference at once.
    pub fn spawn_actor_on<A: SpawnActor>(
        &self,
        node: &str,
        args: A::Args,
    ) -> Result<PortRef<A::Msg>, Error> {
        let args = match aemp_transport::to_value(&args).map_err(|source| Error::Args {
            init: A::NAME,
            source,
        })? {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        self.spawn(node, A::NAME, args).map(PortRef::from_id)
    }

    /// Sends a typed message to any port: a local typed actor gets the value itself (or
    /// [`Error::MailboxFull`]); any other port gets `[tag, fields...]`.
    pub fn tell<M: Message>(&self, to: &PortRef<M>, msg: M) -> Result<(), Error> {
        let id = to.id();
        if id.node() == self.id() {
            let port = self.local_port(id.name());
            let tx = port.as_ref().and_then(|p| {
                p.sink()
                    .as_any()
                    .downcast_ref::<mpsc::Sender<Envelope<M>>>()
            });
            if let Some(tx) = tx {
                return tx
                    .try_send(Envelope {
                        msg,
                        reply: ReplyTo::None,
                    })
                    .map_err(|e| match e {
                        mpsc::error::TrySendError::Full(_) => Error::MailboxFull(id.to_string()),
                        mpsc::error::TrySendError::Closed(_) => Error::NoReply {
                            port: id.to_string(),
                        },
                    });
            }
        }
        let values = msg.into_values().map_err(Error::Message)?;
        self.snd(id, values)
    }

    /// Sends a typed request to any port and resolves to the reply decoded as `R` (a `cal`
    /// underneath: the reply port travels as the last element).
    pub fn ask<Q: Request>(&self, to: &PortRef<Q::Msg>, request: Q) -> Ask<Q::Reply> {
        let msg = request.into_message();
        let node = self.clone();
        let id = to.id().clone();
        Ask::new(
            id.clone(),
            Box::new(move |_: &PortId| {
                Started::Exchange(Box::pin(async move {
                    let values = msg.into_values().map_err(Error::Message)?;
                    let mut reply = node.cal(&id, values).await?;
                    Ok(if reply.is_empty() {
                        Value::Null
                    } else {
                        reply.swap_remove(0)
                    })
                }))
            }),
        )
    }
}

impl NodeBuilder {
    /// Registers the typed actor `A` under `A::NAME`, so that any node can spawn it here.
    pub fn actor<A: SpawnActor>(self) -> Self {
        self.custom_spawnable(
            A::NAME,
            Arc::new(|node: &Node, name: String, args: Vec<Value>| {
                let args: A::Args =
                    aemp_transport::from_value(Value::Array(args)).map_err(|source| {
                        Error::Args {
                            init: A::NAME,
                            source,
                        }
                    })?;
                // The port exists from now on; `init` (user code) runs on the actor's task.
                let (started, finished) = oneshot::channel();
                start(
                    node,
                    name.clone(),
                    move || A::init(args),
                    DEFAULT_CAPACITY,
                    Some(started),
                )
                .map(|_| finished)
                .ok_or(Error::NameTaken(name))
            }),
        )
    }
}

/// Creates the port now and starts the actor's task, which makes the actor with `init` first.
fn start<A: Actor>(
    node: &Node,
    name: String,
    init: impl FnOnce() -> Result<A, BoxError> + Send + 'static,
    capacity: usize,
    started: Option<oneshot::Sender<()>>,
) -> Option<Port<A::Msg>> {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let id = PortId::new(node.id(), &name);
    let mailbox = Arc::new(Mailbox {
        id: id.clone(),
        node: node.weak(),
        tx: tx.clone(),
        overflow: Mutex::new(Overflow {
            queue: VecDeque::new(),
            draining: false,
        }),
        limit: capacity.saturating_mul(OVERFLOW_FACTOR),
        is_killed: std::sync::atomic::AtomicBool::new(false),
        kill_waker: AtomicWaker::new(),
        kill_reason: Mutex::new(None),
    });
    node.sink_port(Some(name), SharedMailbox(mailbox.clone()))?;
    let port = Port {
        node: node.clone(),
        port: PortRef::from_id(id),
        tx,
    };
    let ctx = ActorCtx {
        node: node.clone(),
        me: port.clone(),
        stop: None,
    };
    node.runtime().spawn(run(init, started, ctx, rx, mailbox));
    Some(port)
}

async fn run<A: Actor>(
    init: impl FnOnce() -> Result<A, BoxError>,
    started: Option<oneshot::Sender<()>>,
    mut ctx: ActorCtx<A>,
    mut rx: mpsc::Receiver<Envelope<A::Msg>>,
    mailbox: Arc<Mailbox<A::Msg>>,
) {
    let mut actor = match crate::sync::run_fallible(init) {
        Ok(actor) => actor,
        Err(e) => {
            tracing::warn!(port = %ctx.me.id(), error = %e, "actor init failed");
            rx.close();
            ctx.node.kill_local(ctx.me.id(), die(e));
            drop(started);
            return;
        }
    };
    if let Some(started) = started {
        let _ = started.send(());
    }
    let reason = 'life: {
        if let Err(p) = AssertUnwindSafe(actor.started(&mut ctx))
            .catch_unwind()
            .await
        {
            break 'life die(panic_text(p));
        }
        loop {
            if let Some(reason) = ctx.stop.take() {
                break 'life reason;
            }
            if mailbox.is_killed.load(std::sync::atomic::Ordering::Acquire) {
                break 'life lock(&mailbox.kill_reason).take().unwrap_or_default();
            }
            // The next message, or the port's kill: one poll when mail is queued.
            let next = std::future::poll_fn(|cx| {
                // Registered before the flag is read: a kill cannot slip between.
                mailbox.kill_waker.register(cx.waker());
                if mailbox.is_killed.load(std::sync::atomic::Ordering::Acquire) {
                    return Poll::Ready(Err(()));
                }
                rx.poll_recv(cx).map(Ok)
            })
            .await;
            let env = match next {
                Ok(Some(env)) => env,
                Ok(None) => break 'life Vec::new(),
                Err(()) => break 'life lock(&mailbox.kill_reason).take().unwrap_or_default(),
            };
            let outcome = AssertUnwindSafe(actor.handle(&mut ctx, env.msg))
                .catch_unwind()
                .await;
            let reply = match outcome {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => break 'life die(e),
                Err(p) => break 'life die(panic_text(p)),
            };
            match env.reply {
                ReplyTo::None => {}
                ReplyTo::Local(tx) => {
                    let _ = tx.send(reply.unwrap_or_default());
                }
                ReplyTo::Port(port) => {
                    if let Err(e) = ctx.node.snd(&port, reply.into_iter().collect()) {
                        tracing::warn!(port = %ctx.me.id(), reply = port, error = %e, "cannot send reply");
                    }
                }
            }
        }
    };
    if AssertUnwindSafe(actor.stopped(&mut ctx, &reason))
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::warn!(port = %ctx.me.id(), "the stopped hook panicked");
    }
    rx.close();
    ctx.node.kill_local(ctx.me.id(), reason);
}
