//! The sinks of the node's own ports: handler ports (a [`Mailbox`] drained by one task at a
//! time, running the handler the message's tag selects) and inline ports (`cal`'s reply
//! ports, which resolve a channel in the delivering task).

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aemp_transport::Value;
use tokio::sync::oneshot;

use super::ctx::{BoxHandler, BoxStart, Ctx};
use super::inner::{Node, NodeInner};
use crate::port::handler::{Cell, Handlers};
use crate::port::mailbox::{Mailbox, Pushed};
use crate::port::{Body, Host, Port, Sink};
use crate::sync::{hand_to_idle_worker, lock, run_fallible};
use crate::wire;
use crate::PortId;

thread_local! {
    /// When the message a handler is about to get was queued (while someone observes).
    static QUEUED_AT: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// A spawned port's init function, and who waits for it to have run.
pub(crate) struct Start {
    pub(crate) init: BoxStart,
    pub(crate) done: Option<oneshot::Sender<()>>,
}

/// Runs a spawned port's init function; a failure or panic kills the port with `die`.
pub(super) fn run_init(node: &Node, port: &PortId, init: BoxStart) {
    let ctx = Ctx::new(node, port);
    if let Err(e) = run_fallible(|| init(&ctx)) {
        tracing::debug!(port = %port, error = %e, "init function failed");
        node.inner.kill_local(port.name(), wire::die(e));
    }
}

/// A port with handlers (`rcv`), run one message at a time on a task of its own.
pub(crate) struct HandlerSink {
    mailbox: Mailbox<Start>,
    handlers: Mutex<Handlers<BoxHandler>>,
    /// Bumped (under the `handlers` lock) whenever a handler changes: a drain keeps using
    /// the default handler it looked up while this stays the same.
    version: AtomicU64,
    /// Messages handled so far (added once per batch), and those of the batch under way.
    handled: AtomicU64,
    in_batch: AtomicU64,
}

/// What a drain remembers between messages: the only handler of a port that has no tag
/// handlers, and the handlers' version it was looked up in.
type Memo = Option<(u64, Cell<BoxHandler>)>;

impl HandlerSink {
    /// A handler port; `start` (a spawned port's init function) runs on its task before any
    /// message. A `held` port runs no message until [`release`] (its init runs elsewhere).
    pub(crate) fn new(start: Option<Start>, held: bool) -> HandlerSink {
        HandlerSink {
            mailbox: Mailbox::new(start, held),
            handlers: Mutex::default(),
            version: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            in_batch: AtomicU64::new(0),
        }
    }

    /// Sets (or with `None` removes) the handler of `tag`, or the default handler.
    pub(crate) fn set_handler(&self, tag: Option<&str>, handler: Option<BoxHandler>) {
        let mut handlers = lock(&self.handlers);
        handlers.set(tag, handler);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Runs the handler for one message; a failure or panic kills the port with `die`.
    fn handle(&self, node: &Node, port: &Port, mut msg: Vec<Value>, memo: &mut Memo) {
        let version = self.version.load(Ordering::Acquire);
        if memo.as_ref().is_some_and(|(v, _)| *v == version) {
            if let Some((_, cell)) = memo {
                return self.run(node, port, cell, msg);
            }
        }
        let found = {
            let handlers = lock(&self.handlers);
            *memo = handlers.only_default().map(|cell| (version, cell));
            handlers.lookup(&msg)
        };
        let Some((cell, strip_tag)) = found else {
            node.inner
                .kill_local(port.id.name(), wire::unhandled_message(&msg));
            return;
        };
        if strip_tag {
            msg.remove(0);
        }
        self.run(node, port, &cell, msg)
    }

    /// Runs `handler` with one message; a failure or panic kills the port with `die`.
    fn run(&self, node: &Node, port: &Port, handler: &Cell<BoxHandler>, msg: Vec<Value>) {
        // One span per handled message (its busy time is the handler's); the fields are
        // only computed when a subscriber wants the span.
        let span = tracing::debug_span!(
            "aemp.handle",
            node = node.id(),
            port = port.id.name(),
            tag = msg
                .first()
                .and_then(aemp_transport::Value::as_str)
                .unwrap_or(""),
            trace_id = tracing::field::Empty,
            wait_us = tracing::field::Empty,
        );
        if !span.is_disabled() {
            if let Some(ctx) = crate::trace::current() {
                crate::trace::mark_handler(&span, ctx);
            }
            if let Some(at) = QUEUED_AT.with(|q| q.take()) {
                span.record("wait_us", at.elapsed().as_secs_f64() * 1e6);
            }
        }
        let _span = span.entered();
        let ctx = Ctx::new(node, &port.id);
        let outcome = run_fallible(|| {
            let mut f = lock(handler);
            f(&ctx, msg)
        });
        if let Err(error) = outcome {
            tracing::debug!(port = %port.id, error = %error, "handler failed, killing its port");
            node.inner.kill_local(port.id.name(), wire::die(error));
        }
    }
}

impl Sink for HandlerSink {
    fn deliver(&self, port: &Arc<Port>, host: &dyn Host, _src: &str, msg: Body) {
        let msg = msg.in_local_trace();
        // Observed: note when it was queued, for the handler span's mailbox wait.
        let msg = if tracing::enabled!(tracing::Level::DEBUG) {
            msg.queued_now()
        } else {
            msg
        };
        match self.mailbox.push(msg) {
            Pushed::Start => host.spawn_drain(port.clone()),
            Pushed::Burst => hand_to_idle_worker(),
            Pushed::Queued => {}
        }
    }

    fn deliver_many(&self, port: &Arc<Port>, host: &dyn Host, _src: &str, msgs: &mut Vec<Body>) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            for msg in msgs.iter_mut() {
                let body = std::mem::replace(msg, Body::Values(Vec::new()));
                *msg = body.queued_now();
            }
        }
        match self.mailbox.push_many(msgs) {
            Pushed::Start => host.spawn_drain(port.clone()),
            Pushed::Burst => hand_to_idle_worker(),
            Pushed::Queued => {}
        }
    }

    /// Nothing to do: the drain task sees the death and drops what is queued.
    fn killed(&self, _reason: &[Value]) {}

    fn load(&self) -> (usize, u64) {
        let in_batch = self.in_batch.load(Ordering::Relaxed) as usize;
        (
            self.mailbox.len() + in_batch,
            self.handled.load(Ordering::Relaxed),
        )
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The node runs a handler port's drain on a task of its own.
impl Host for NodeInner {
    fn spawn_drain(&self, port: Arc<Port>) {
        if let Some(node) = self.strong() {
            self.runtime().spawn(drain(port, node));
        }
    }
}

/// Ends the hold of a held handler port: its messages run from now on.
pub(crate) fn release(port: &Arc<Port>, node: &NodeInner) {
    if let Some(sink) = port.sink().as_any().downcast_ref::<HandlerSink>() {
        if sink.mailbox.release() {
            node.spawn_drain(port.clone());
        }
    }
}

/// Runs a spawned port's init function on the port's own task, before any message.
pub(crate) fn start(port: &Arc<Port>, node: Arc<NodeInner>) {
    if let Some(sink) = port.sink().as_any().downcast_ref::<HandlerSink>() {
        if sink.mailbox.wake() {
            node.runtime().clone().spawn(drain(port.clone(), node));
        }
    }
}

/// Drains a port's mailbox until it is empty; then the port is idle again.
async fn drain(port: Arc<Port>, inner: Arc<NodeInner>) {
    let node = Node { inner };
    let Some(sink) = port.sink().as_any().downcast_ref::<HandlerSink>() else {
        return;
    };
    let mut batch = VecDeque::new();
    let mut first = None;
    let mut memo = None;
    let weak = node.weak();
    let mut yielded = true;
    while sink
        .mailbox
        .take_batch(&mut batch, &mut first, port.is_dead())
    {
        // Let other tasks run between batches, but only when there is more to do: a yield
        // with an empty mailbox would only hand the task to another worker thread.
        if !yielded {
            tokio::task::yield_now().await;
        }
        yielded = false;
        if let Some(start) = first.take() {
            run_init(&node, &port.id, start.init);
            if let Some(done) = start.done {
                let _ = done.send(());
            }
        }
        let taken = batch.len() as u64;
        sink.in_batch.store(taken, Ordering::Relaxed);
        // Handlers run as this node's code (typed references they meet send through it).
        super::in_node(&weak, || {
            for msg in batch.drain(..) {
                if port.is_dead() {
                    break;
                }
                let (trace, queued_at, msg) = msg.take_notes();
                match msg.into_values() {
                    Ok(msg) => {
                        QUEUED_AT.with(|q| q.set(queued_at));
                        match trace {
                            // Only a traced message changes the thread's trace.
                            Some(_) => crate::trace::within(trace, || {
                                sink.handle(&node, &port, msg, &mut memo)
                            }),
                            None => sink.handle(&node, &port, msg, &mut memo),
                        }
                    }
                    Err(e) => {
                        tracing::debug!(port = %port.id, error = %e, "skipped a message that cannot be decoded")
                    }
                }
            }
        });
        sink.in_batch.store(0, Ordering::Relaxed);
        sink.handled.fetch_add(taken, Ordering::Relaxed);
    }
}

/// A port that calls a function with every message right in the delivering task.
pub(crate) struct InlineSink(pub(crate) Box<dyn Fn(Vec<Value>) + Send + Sync>);

impl Sink for InlineSink {
    fn deliver(&self, port: &Arc<Port>, _host: &dyn Host, _src: &str, msg: Body) {
        match msg.into_values() {
            Ok(msg) => (self.0)(msg),
            Err(e) => {
                tracing::debug!(port = %port.id, error = %e, "skipped a message that cannot be decoded")
            }
        }
    }

    fn killed(&self, _reason: &[Value]) {}

    fn as_any(&self) -> &dyn Any {
        self
    }
}
