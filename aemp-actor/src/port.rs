//! Local ports: their handlers, their mailbox, and the task that drains it.
//!
//! A port is an entry in the node's port table. Messages are queued in its mailbox; while the
//! mailbox is non-empty one task drains it, so a port handles one message at a time, ports
//! run concurrently, and an idle port costs no task (only its table entry).

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aemp_transport::Value;

use crate::handler::{panic_text, BoxHandler, Ctx};
use crate::monitor::Action;
use crate::node::{Node, NodeInner};
use crate::PortId;

/// How many messages a port handles before it lets other tasks run.
const BATCH: usize = 256;

/// How many queued messages make a burst that another worker thread should handle.
const HANDOFF: usize = 64;

pub(crate) type HandlerCell = Arc<Mutex<BoxHandler>>;

/// The mailbox of a typed actor (see `crate::typed`): decodes and queues messages itself.
pub(crate) trait TypedSink: Send + Sync + 'static {
    /// A message from node `src` (our own id for local senders).
    fn deliver(&self, node: &Arc<NodeInner>, src: &str, msg: Vec<Value>);
    /// The port was killed with `reason`: the actor stops.
    fn killed(&self, reason: &[Value]);
    /// For the local fast path: the typed sender behind this sink.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Where a port's messages go.
pub(crate) enum Sink {
    /// A typed actor's mailbox.
    Typed(Box<dyn TypedSink>),
    /// The mailbox and the handlers of an ordinary port.
    Handlers(Mutex<Handlers>),
    /// A function called at once in the delivering task; it must not block (cal's reply
    /// ports resolve a oneshot channel this way).
    Inline(Box<dyn Fn(Vec<Value>) + Send + Sync>),
}

#[derive(Default)]
pub(crate) struct Handlers {
    by_tag: HashMap<Box<[u8]>, HandlerCell>,
    default: Option<HandlerCell>,
}

#[derive(Default)]
pub(crate) struct Mailbox {
    queue: VecDeque<Vec<Value>>,
    running: bool,
    pub(crate) monitors: Vec<(u64, Action)>,
}

pub(crate) struct Port {
    pub(crate) id: PortId,
    dead: AtomicBool,
    /// Set once the port is registered under a local name (`Node::register`), so that only
    /// such ports make a kill look through the name table.
    pub(crate) named: AtomicBool,
    mailbox: Mutex<Mailbox>,
    sink: Sink,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No lock is held while user code runs, so a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Port {
    pub(crate) fn new(id: PortId, sink: Sink) -> Port {
        Port {
            id,
            dead: AtomicBool::new(false),
            named: AtomicBool::new(false),
            mailbox: Mutex::new(Mailbox::default()),
            sink,
        }
    }

    pub(crate) fn sink(&self) -> &Sink {
        &self.sink
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub(crate) fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        lock(&self.mailbox)
    }

    /// Marks the port dead; returns its monitors (once).
    pub(crate) fn die(&self) -> Vec<(u64, Action)> {
        self.dead.store(true, Ordering::Release);
        let mut mb = self.mailbox();
        mb.queue = VecDeque::new();
        std::mem::take(&mut mb.monitors)
    }

    /// Sets (or with `None` removes) the handler of `tag`, or the default handler.
    pub(crate) fn set_handler(&self, tag: Option<&str>, handler: Option<BoxHandler>) -> bool {
        let Sink::Handlers(handlers) = &self.sink else {
            return false;
        };
        let mut h = lock(handlers);
        let cell = handler.map(|f| Arc::new(Mutex::new(f)));
        match (tag, cell) {
            (Some(tag), Some(cell)) => {
                h.by_tag.insert(tag.as_bytes().into(), cell);
            }
            (Some(tag), None) => {
                h.by_tag.remove(tag.as_bytes());
            }
            (None, cell) => h.default = cell,
        }
        true
    }

    /// Delivers a message: queued (and the drain task started if idle), or handed to an
    /// inline sink. Messages to a dead port are dropped.
    pub(crate) fn deliver(self: &Arc<Self>, node: &Arc<NodeInner>, src: &str, msg: Vec<Value>) {
        match &self.sink {
            Sink::Typed(sink) => {
                if !self.is_dead() {
                    sink.deliver(node, src, msg)
                }
            }
            Sink::Inline(f) => {
                if !self.is_dead() {
                    f(msg)
                }
            }
            Sink::Handlers(_) => {
                let mut mb = self.mailbox();
                if self.is_dead() {
                    return;
                }
                mb.queue.push_back(msg);
                if !mb.running {
                    mb.running = true;
                    drop(mb);
                    node.runtime.spawn(drain(self.clone(), node.clone()));
                } else if mb.queue.len() == HANDOFF {
                    // A burst queued up while the drain task has not run: let an idle
                    // worker take it (a lone message stays on this thread).
                    drop(mb);
                    aemp_transport::hand_to_idle_worker();
                }
            }
        }
    }

    /// Runs the handler for one message; a failure or panic kills the port with `die`.
    fn handle(&self, node: &Node, mut msg: Vec<Value>) {
        let Sink::Handlers(handlers) = &self.sink else {
            return;
        };
        let (cell, strip_tag) = {
            let h = lock(handlers);
            // Most ports have only a default handler: no tag to hash then.
            let tagged = (!h.by_tag.is_empty())
                .then(|| {
                    msg.first()
                        .and_then(Value::as_string_bytes)
                        .and_then(|t| h.by_tag.get(t))
                })
                .flatten();
            match (tagged, &h.default) {
                (Some(cell), _) => (Some(cell.clone()), true),
                (None, Some(cell)) => (Some(cell.clone()), false),
                (None, None) => (None, false),
            }
        };
        let Some(cell) = cell else {
            let tag = msg
                .first()
                .map(|t| {
                    t.to_text()
                        .map_or_else(|| t.to_string(), |s| s.into_owned())
                })
                .unwrap_or_default();
            let tag: String = tag.chars().take(30).collect();
            node.kill_local(
                &self.id,
                vec![
                    Value::from("unhandled_message"),
                    Value::from(format!("no callback found for message '{tag}'")),
                ],
            );
            return;
        };
        if strip_tag {
            msg.remove(0);
        }
        let ctx = Ctx {
            node,
            port: &self.id,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut f = lock(&cell);
            f(&ctx, msg)
        }));
        let error = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(text)) => text,
            Err(payload) => panic_text(payload),
        };
        tracing::debug!(port = %self.id, error = %error, "handler failed, killing its port");
        node.kill_local(&self.id, vec![Value::from("die"), Value::from(error)]);
    }
}

/// Drains a port's mailbox until it is empty; then the port is idle again.
async fn drain(port: Arc<Port>, inner: Arc<NodeInner>) {
    let node = Node { inner };
    let mut batch = VecDeque::new();
    loop {
        if !take_batch(&port, &mut batch) {
            return;
        }
        for msg in batch.drain(..) {
            if port.is_dead() {
                break;
            }
            port.handle(&node, msg);
        }
        // Let other tasks run between batches, but only when there is more to do: a yield
        // with an empty mailbox would only hand the task to another worker thread.
        if !take_batch(&port, &mut batch) {
            return;
        }
        tokio::task::yield_now().await;
        for msg in batch.drain(..) {
            if port.is_dead() {
                break;
            }
            port.handle(&node, msg);
        }
    }
}

/// Moves up to a batch of queued messages into `batch`; false (and the port is idle again)
/// when there are none or the port is dead.
fn take_batch(port: &Port, batch: &mut VecDeque<Vec<Value>>) -> bool {
    let mut mb = port.mailbox();
    if port.is_dead() || mb.queue.is_empty() {
        mb.running = false;
        if mb.queue.capacity() > 1024 {
            mb.queue = VecDeque::new();
        }
        return false;
    }
    if mb.queue.len() <= BATCH {
        std::mem::swap(&mut mb.queue, batch);
    } else {
        batch.extend(mb.queue.drain(..BATCH));
    }
    true
}
