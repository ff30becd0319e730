//! Local ports: the table that names them, what a port is (its id, its monitors, its sink),
//! the mailbox that queues a handler port's messages, its handler table, and monitors.
//!
//! A port is an entry in the node's [`PortTable`]. What happens to its messages is its
//! [`Sink`]'s business: the node's handler ports queue them in a [`Mailbox`] drained by one
//! task at a time, typed actors decode them into their own mailbox, `cal`'s reply ports
//! resolve a channel. This module runs no user code and knows nothing of the node.

pub(crate) mod handler;
pub(crate) mod mailbox;
pub(crate) mod monitor;
pub(crate) mod route;
pub(crate) mod table;

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aemp_transport::{Error as TransportError, RawMessage, Value};

use crate::sync::lock;
use crate::PortId;
use monitor::{Action, Monitors};

pub(crate) use route::Route;
pub(crate) use table::PortTable;

/// A message for a port, without its destination: values from a local sender, or the bytes
/// of a remote message, decoded by whoever handles it (so that the connection's reader
/// neither builds nor, on another thread, frees the values of every message).
#[derive(Debug)]
pub(crate) enum Body {
    Values(Vec<Value>),
    Raw(RawMessage),
    /// A message with notes for observing it (boxed: most have none).
    Noted(Box<Notes>),
}

/// What is noted of a message while someone observes: the trace it came with, and when it
/// was queued (for the handler span's mailbox wait).
#[derive(Debug)]
pub(crate) struct Notes {
    pub(crate) trace: Option<crate::trace::TraceCtx>,
    pub(crate) queued_at: Option<std::time::Instant>,
    pub(crate) body: Body,
}

impl Body {
    /// A local sender's message in the trace its code runs in (if any); bodies from links
    /// bring their own.
    pub(crate) fn in_local_trace(self) -> Body {
        if !matches!(self, Body::Values(_)) {
            return self;
        }
        match crate::trace::local() {
            None => self,
            trace => Body::Noted(Box::new(Notes {
                trace,
                queued_at: None,
                body: self,
            })),
        }
    }

    /// This body, noted as queued now.
    pub(crate) fn queued_now(self) -> Body {
        let now = Some(std::time::Instant::now());
        match self {
            Body::Noted(mut n) => {
                n.queued_at = now;
                Body::Noted(n)
            }
            body => Body::Noted(Box::new(Notes {
                trace: None,
                queued_at: now,
                body,
            })),
        }
    }
}

impl Body {
    /// The trace this message came with and when it was queued (if noted), and the message.
    pub(crate) fn take_notes(
        self,
    ) -> (
        Option<crate::trace::TraceCtx>,
        Option<std::time::Instant>,
        Body,
    ) {
        match self {
            Body::Noted(n) => {
                let n = *n;
                (n.trace, n.queued_at, n.body)
            }
            body => (None, None, body),
        }
    }

    /// The message's values: a remote message is decoded now. An error is a message that
    /// holds a value aemp cannot represent (it is skipped).
    pub(crate) fn into_values(self) -> Result<Vec<Value>, TransportError> {
        match self {
            Body::Values(values) => Ok(values),
            Body::Raw(raw) => raw.decode_body(),
            Body::Noted(n) => n.body.into_values(),
        }
    }
}

/// What a sink may ask of the node that delivers to it.
pub(crate) trait Host {
    /// Runs `port`'s drain (its queued messages, one at a time) on a task of its own.
    fn spawn_drain(&self, port: Arc<Port>);
}

/// Where a port's messages go.
pub(crate) trait Sink: Send + Sync + 'static {
    /// A message from node `src` (our own id for local senders), delivered by `host`.
    /// Called only while the port is alive; must not block.
    fn deliver(&self, port: &Arc<Port>, host: &dyn Host, src: &str, msg: Body);
    /// Several messages from one node, in order (emptied); as many calls of `deliver`
    /// unless the sink can take them at once.
    fn deliver_many(&self, port: &Arc<Port>, host: &dyn Host, src: &str, msgs: &mut Vec<Body>) {
        for msg in msgs.drain(..) {
            self.deliver(port, host, src, msg);
        }
    }
    /// The port was killed with `reason`: drop what is queued, stop.
    fn killed(&self, reason: &[Value]);
    /// A port linked with this one (which traps exits) died with `reason`. By default it
    /// arrives as the message `["EXIT", from, reason...]`.
    fn exit(&self, port: &Arc<Port>, host: &dyn Host, from: &PortId, reason: &[Value]) {
        let mut msg = Vec::with_capacity(reason.len() + 2);
        msg.push(Value::from("EXIT"));
        msg.push(Value::from(from));
        msg.extend_from_slice(reason);
        self.deliver(port, host, from.node(), Body::Values(msg));
    }
    /// Messages waiting for it, and messages it handled so far (for `Node::stats`).
    fn load(&self) -> (usize, u64) {
        (0, 0)
    }
    /// The sink itself, for the callers that know its type (`rcv`, typed `tell`).
    fn as_any(&self) -> &dyn Any;
}

/// A local port. Its sink is stored inline (one allocation per port); the table holds it as
/// `Port<dyn Sink>`.
pub(crate) struct Port<S: ?Sized + Sink = dyn Sink> {
    pub(crate) id: PortId,
    /// Set once the port is registered under a local name, so that only such ports make a
    /// kill look through the name table.
    named: AtomicBool,
    /// Set under the `monitors` lock, so a monitor is either fired or refused, never lost.
    dead: AtomicBool,
    /// The port traps the exits of the ports linked with it: they come as messages.
    trap: AtomicBool,
    monitors: Mutex<Monitors>,
    sink: S,
}

impl<S: Sink> Port<S> {
    pub(crate) fn new(id: PortId, sink: S) -> Port<S> {
        Port {
            id,
            named: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            trap: AtomicBool::new(false),
            monitors: Mutex::new(Monitors::new()),
            sink,
        }
    }
}

impl Port {
    pub(crate) fn sink(&self) -> &dyn Sink {
        &self.sink
    }

    /// Hands a message to the sink, unless the port is dead.
    pub(crate) fn deliver(self: &Arc<Self>, host: &dyn Host, src: &str, msg: Body) {
        if !self.is_dead() {
            self.sink.deliver(self, host, src, msg);
        }
    }

    /// Hands several messages to the sink, in order (emptying `msgs`), unless the port is
    /// dead.
    pub(crate) fn deliver_many(self: &Arc<Self>, host: &dyn Host, src: &str, msgs: &mut Vec<Body>) {
        if self.is_dead() {
            msgs.clear();
        } else {
            self.sink.deliver_many(self, host, src, msgs);
        }
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Whether the port traps exits.
    pub(crate) fn traps(&self) -> bool {
        self.trap.load(Ordering::Acquire)
    }

    pub(crate) fn set_trap(&self, on: bool) {
        self.trap.store(on, Ordering::Release);
    }

    pub(crate) fn is_named(&self) -> bool {
        self.named.load(Ordering::Acquire)
    }

    pub(crate) fn set_named(&self) {
        self.named.store(true, Ordering::Release);
    }

    /// Adds a monitor; hands the action back if the port is dead already.
    pub(crate) fn add_monitor(&self, id: u64, action: Action) -> Result<(), Action> {
        let mut m = lock(&self.monitors);
        if self.is_dead() {
            return Err(action);
        }
        m.push((id, action));
        Ok(())
    }

    /// Adds the monitor of remote node `node` (one per node); false if the port is dead.
    pub(crate) fn add_remote_monitor(&self, node: &str) -> bool {
        let mut m = lock(&self.monitors);
        if self.is_dead() {
            return false;
        }
        if !m.iter().any(|(_, a)| a.is_remote_of(node)) {
            m.push((
                0,
                Action::Remote {
                    node: node.into(),
                    port: self.id.name().to_owned(),
                },
            ));
        }
        true
    }

    /// How many monitors the port has.
    pub(crate) fn monitor_count(&self) -> usize {
        lock(&self.monitors).len()
    }

    /// Removes the monitor `id`.
    pub(crate) fn remove_monitor(&self, id: u64) {
        lock(&self.monitors).retain(|(i, _)| *i != id);
    }

    /// Removes the monitor of remote node `node`.
    pub(crate) fn remove_remote_monitor(&self, node: &str) {
        lock(&self.monitors).retain(|(_, a)| !a.is_remote_of(node));
    }

    /// Marks the port dead and tells its sink; returns its monitors (once).
    pub(crate) fn die(&self, reason: &[Value]) -> Monitors {
        let monitors = {
            let mut m = lock(&self.monitors);
            if self.is_dead() {
                return Monitors::new();
            }
            self.dead.store(true, Ordering::Release);
            std::mem::take(&mut *m)
        };
        self.sink.killed(reason);
        monitors
    }
}
