//! Actors: a struct, its handlers, a bounded mailbox and one task.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use aemp_transport::Value;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use super::actor_ref::{ActorRef, IntoReason};
use super::mailbox::{Mailbox, Next, ReplyTo, SharedMailbox, SlotKey, SPAN_TARGET};
use super::Message;
use crate::error::BoxError;
use crate::node::{InNode, Node};
use crate::sync::panic_text;
use crate::wire::die;
use crate::{Error, NodeBuilder, PortId};

/// The default mailbox capacity: 1024 messages.
pub const DEFAULT_CAPACITY: usize = 1024;

/// How many mailboxes' worth of messages from the network may wait for an actor, beside
/// what local senders queued: 16.
///
/// A connection carries the messages of many ports; blocking its reader for one slow actor
/// would stall them all, so network messages never wait for room: they queue (in order with
/// the rest) up to this bound, apart from the local senders' capacity, so that a flood
/// cannot exhaust memory nor starve local senders; what does not fit is dropped with a
/// warning naming the port and the sender.
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

    /// A port linked with this actor died with `reason` (`[]`: normally). Called only while
    /// the actor traps exits ([`ActorCtx::trap_exits`]); otherwise a linked death with a
    /// reason stops the actor with it. By default, a non-empty reason stops it all the same.
    fn on_link_died(
        &mut self,
        ctx: &mut ActorCtx<Self>,
        port: PortId,
        reason: Vec<Value>,
    ) -> impl Future<Output = ()> + Send {
        let _ = port;
        if !reason.is_empty() {
            ctx.stop_with(reason);
        }
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
    me: ActorRef<A::Msg>,
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

    /// This actor's own reference (to give away, or to tell itself something).
    pub fn myself(&self) -> &ActorRef<A::Msg> {
        &self.me
    }

    /// Stops the actor normally once this handler returns.
    pub fn stop(&mut self) {
        self.stop = Some(Vec::new());
    }

    /// Stops the actor with `reason` once this handler returns (its monitors see it): a
    /// `Vec<Value>`, or a [`Message`] that travels as its tagged array.
    /// (A typed reason that does not encode stops it with `["die", why]`.)
    pub fn stop_with(&mut self, reason: impl IntoReason) {
        self.stop = Some(reason.into_reason().unwrap_or_else(die));
    }

    /// Starts another actor on this node.
    pub fn spawn_actor<B: Actor>(&self, actor: B) -> ActorRef<B::Msg> {
        self.node.spawn_actor(actor)
    }

    /// Makes this actor trap (or no longer trap) the exits of the ports linked with it: their
    /// deaths call [`Actor::on_link_died`] instead of stopping it.
    pub fn trap_exits(&self, on: bool) {
        let _ = self.node.trap_exits(self.me.id(), on);
    }

    /// Links this actor with `port` (see [`Node::link`]), for as long as both live.
    pub fn link(&self, port: impl crate::ToPort) {
        self.node.link(self.me.id(), port).detach();
    }
}

impl Node {
    /// One port registered under `name` network-wide, as a typed reference.
    pub async fn lookup_typed<M: Message>(&self, name: &str) -> Option<ActorRef<M>> {
        self.lookup_name(name)
            .await
            .map(|id| ActorRef::from_id(id).bind(self))
    }

    /// Starts `actor` on a new port of this node with the default mailbox capacity.
    pub fn spawn_actor<A: Actor>(&self, actor: A) -> ActorRef<A::Msg> {
        self.spawn_actor_with_capacity(actor, DEFAULT_CAPACITY)
    }

    /// Starts `actor` on a new port of this node with a mailbox of `capacity` messages.
    pub fn spawn_actor_with_capacity<A: Actor>(
        &self,
        actor: A,
        capacity: usize,
    ) -> ActorRef<A::Msg> {
        let name = self.generated_name();
        start(self, name, move || Ok(actor), capacity, None)
            .expect("generated port names are unique")
    }

    /// Spawns the actor registered as `A::NAME` on `node` (any node, Perl ones included, if
    /// it registered one of that name) with `args`; returns its reference at once.
    ///
    /// `node` is the node's id, or any port id of it (an `ActorRef` there, say).
    pub fn spawn_actor_on<A: SpawnActor>(
        &self,
        node: impl crate::ToPort,
        args: A::Args,
    ) -> Result<ActorRef<A::Msg>, Error> {
        let args = match aemp_transport::to_value(&args).map_err(|source| Error::Args {
            init: A::NAME,
            source,
        })? {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        self.spawn(node.port_text(), A::NAME, args)
            .map(|id| ActorRef::from_id(id).bind(self))
    }

    /// The mailbox of the typed actor `id` if it is on this node and takes `M`.
    pub(crate) fn typed_mailbox<M: Message>(&self, id: &PortId) -> Option<Arc<Mailbox<M>>> {
        if id.node() != self.id() {
            return None;
        }
        let port = self.local_port(id.name())?;
        port.sink()
            .as_any()
            .downcast_ref::<Arc<Mailbox<M>>>()
            .cloned()
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
) -> Option<ActorRef<A::Msg>> {
    let capacity = capacity.max(1);
    let id = PortId::new(node.id(), &name);
    let mailbox = Arc::new(Mailbox::new(
        id.clone(),
        node.weak(),
        capacity,
        capacity.saturating_mul(OVERFLOW_FACTOR),
    ));
    node.sink_port(Some(name), SharedMailbox(mailbox.clone()))?;
    let port = ActorRef::local(id, node, mailbox.clone());
    let ctx = ActorCtx {
        node: node.clone(),
        me: port.clone(),
        stop: None,
    };
    // Made here, not in `run`: a task dropped before its first poll drops it too.
    let ending = Ending {
        mailbox,
        node: node.clone(),
        id: port.id().clone(),
        reason: None,
    };
    // The actor's code runs as its node's (references it handles send through it).
    node.runtime()
        .spawn(InNode::new(node.weak(), run(init, started, ctx, ending)));
    Some(port)
}

/// Closes the mailbox and kills the port however the actor's task ends: with the reason the
/// actor stopped with, or (the task unwound outside the actor's life, or the runtime dropped
/// it) with `["die", ...]`. Queued asks fail, senders get their messages back, monitors fire.
struct Ending<M: Message> {
    mailbox: Arc<Mailbox<M>>,
    node: Node,
    id: PortId,
    reason: Option<Vec<Value>>,
}

impl<M: Message> Drop for Ending<M> {
    fn drop(&mut self) {
        // (Closing twice is harmless.)
        self.mailbox.close();
        let reason = self
            .reason
            .take()
            .unwrap_or_else(|| die("the actor's task ended before the actor stopped"));
        self.node.kill_local(&self.id, reason);
    }
}

async fn run<A: Actor>(
    init: impl FnOnce() -> Result<A, BoxError>,
    started: Option<oneshot::Sender<()>>,
    mut ctx: ActorCtx<A>,
    mut ending: Ending<A::Msg>,
) {
    let mailbox = ending.mailbox.clone();
    let mut actor = match crate::sync::run_fallible(init) {
        Ok(actor) => actor,
        Err(e) => {
            tracing::warn!(port = %ctx.me.id(), error = %e, "actor init failed");
            ending.reason = Some(die(e));
            drop(started);
            return;
        }
    };
    if let Some(started) = started {
        let _ = started.send(());
    }
    // The answer to the ask just handled: given with the next look at the mailbox.
    let mut answer = None;
    // User code (the hooks, the handlers) runs inside `live`: a panic anywhere in it ends
    // the actor with `["die", panic]`. Caught once around the whole loop, not per message:
    // no frame to build per message, and a panicking handler's ask fails all the same (the
    // mailbox closes below, failing every ask that waits).
    let reason = match AssertUnwindSafe(live(&mut actor, &mut ctx, &mailbox, &mut answer))
        .catch_unwind()
        .await
    {
        Ok(reason) => reason,
        Err(p) => die(panic_text(p)),
    };
    // An answer not given yet (the handler stopped the actor, or failed) is given now; then
    // what is queued fails at once (the `stopped` hook may take its time).
    if let Some((key, value)) = answer.take() {
        mailbox.answer(key, value);
    }
    mailbox.close();
    if AssertUnwindSafe(async { actor.stopped(&mut ctx, &reason).await })
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::warn!(port = %ctx.me.id(), "the stopped hook panicked");
    }
    ending.reason = Some(reason);
}

/// The actor's life: its `started` hook, then its messages, one at a time, until it stops;
/// returns the reason it stopped with. `answer` is the answer to the ask just handled.
async fn live<A: Actor>(
    actor: &mut A,
    ctx: &mut ActorCtx<A>,
    mailbox: &Mailbox<A::Msg>,
    answer: &mut Option<(SlotKey, Option<Value>)>,
) -> Vec<Value> {
    actor.started(ctx).await;
    let mut handled = 0u64;
    loop {
        if let Some(reason) = ctx.stop.take() {
            return reason;
        }
        // The port's kill, a linked port's death, or the next message.
        let env = match std::future::poll_fn(|cx| mailbox.poll_next(cx, answer)).await {
            Next::Mail(env) => env,
            Next::Killed(reason) => return reason,
            Next::Exit(port, reason) => {
                actor.on_link_died(ctx, port, reason).await;
                continue;
            }
        };
        // One span per handled message, as for the kernel's handler ports; the fields are
        // only filled when a subscriber wants the span.
        let span = tracing::debug_span!(
            target: SPAN_TARGET,
            "aemp.handle",
            node = ctx.node.id(),
            port = ctx.me.id().name(),
            actor = std::any::type_name::<A>(),
            tag = env.msg.tag(),
            trace_id = tracing::field::Empty,
            wait_us = tracing::field::Empty,
        );
        let trace = env.seen.as_ref().and_then(|s| s.trace);
        let observed = !span.is_disabled();
        if observed {
            if let Some(ctx) = trace {
                crate::trace::mark_handler(&span, ctx);
            }
            if let Some(at) = env.seen.as_ref().and_then(|s| s.queued_at) {
                span.record("wait_us", at.elapsed().as_secs_f64() * 1e6);
            }
        }
        // Polled in its span and, for a traced message, in its trace (what the handler
        // sends carries it on); a kill stops it where it waits. (One frame, pinned once:
        // no wrapper futures to move per message.)
        let outcome = {
            let mut handling = std::pin::pin!(actor.handle(ctx, env.msg));
            std::future::poll_fn(|cx| {
                let polled = match (observed, trace) {
                    (false, None) => handling.as_mut().poll(cx),
                    (true, None) => span.in_scope(|| handling.as_mut().poll(cx)),
                    (_, Some(_)) => {
                        let _entered = span.enter();
                        crate::trace::within(trace, || handling.as_mut().poll(cx))
                    }
                };
                if let Poll::Ready(outcome) = polled {
                    return Poll::Ready(Ok(outcome));
                }
                match mailbox.watch_kill(cx) {
                    Some(reason) => Poll::Ready(Err(reason)),
                    None => Poll::Pending,
                }
            })
            .await
        };
        // A handler that returned (with a reply or an error) handled its message. (Only this
        // task counts: a store, not a read-modify-write.)
        if outcome.is_ok() {
            handled += 1;
            mailbox
                .handled
                .store(handled, std::sync::atomic::Ordering::Relaxed);
        }
        let reply = match outcome {
            Ok(Ok(reply)) => reply,
            // The handler failed (or the actor was killed while it waited): a local asker
            // learns at once that no reply will come.
            failed => {
                if let ReplyTo::Slot(key) = env.reply {
                    *answer = Some((key, None));
                }
                return match failed {
                    Ok(Err(e)) => die(e),
                    Err(reason) => reason,
                    Ok(Ok(_)) => unreachable!("matched above"),
                };
            }
        };
        match env.reply {
            ReplyTo::None => {}
            ReplyTo::Slot(key) => *answer = Some((key, Some(reply.unwrap_or_default()))),
            // (A handler without a reply answers with an empty message, as a Perl port does.)
            ReplyTo::Port(port) => {
                if let Err(e) = ctx.node.snd(&port, reply.into_iter().collect()) {
                    tracing::warn!(port = %ctx.me.id(), reply = port, error = %e, "cannot send reply");
                }
            }
        }
    }
}
