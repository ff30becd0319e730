//! Node up and down events: what they are, the task that delivers them in order, the guard of
//! a callback subscription and the stream of a channel one.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use aemp_transport::Value;
use futures::Stream;
use tokio::sync::mpsc;

use crate::sync::bus::Bus;

/// A node came up or went down. For each node, `Up` and `Down` strictly alternate.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// A connection to the node was established.
    Up(String),
    /// The connection was lost; the reason is `["transport_error", node, text]`.
    Down(String, Vec<Value>),
}

impl NodeEvent {
    /// The node concerned.
    pub fn node(&self) -> &str {
        match self {
            NodeEvent::Up(n) | NodeEvent::Down(n, _) => n,
        }
    }

    /// Whether this is an `Up` event.
    pub fn is_up(&self) -> bool {
        matches!(self, NodeEvent::Up(_))
    }
}

/// Delivers events to the subscribers, one at a time, in the order they happened; callbacks
/// run in this task, with no lock held.
pub(super) async fn dispatch(
    mut rx: mpsc::UnboundedReceiver<NodeEvent>,
    bus: Arc<Bus<(), NodeEvent>>,
) {
    while let Some(event) = rx.recv().await {
        bus.publish(&(), &event);
    }
}

/// Ends a node-event subscription when dropped (a `mon_nodes` callback, or the stream of
/// [`NodeEvents`]). Dropping it from inside its own callback is fine.
#[must_use = "dropping the guard stops the callback"]
pub struct NodesGuard {
    bus: Weak<Bus<(), NodeEvent>>,
    id: u64,
}

impl NodesGuard {
    pub(super) fn new(bus: Weak<Bus<(), NodeEvent>>, id: u64) -> NodesGuard {
        NodesGuard { bus, id }
    }
}

impl fmt::Debug for NodesGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodesGuard").field("id", &self.id).finish()
    }
}

impl Drop for NodesGuard {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            bus.unsubscribe(self.id);
        }
    }
}

/// A stream of node events (from [`crate::Node::node_events`]).
pub struct NodeEvents {
    rx: mpsc::UnboundedReceiver<NodeEvent>,
    _guard: NodesGuard,
}

impl NodeEvents {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<NodeEvent>, guard: NodesGuard) -> NodeEvents {
        NodeEvents { rx, _guard: guard }
    }

    /// The next event; `None` once the node is gone.
    pub async fn recv(&mut self) -> Option<NodeEvent> {
        self.rx.recv().await
    }

    /// The next event if one is there now, without waiting (`None`: none yet, or the node
    /// is gone).
    pub fn try_recv(&mut self) -> Option<NodeEvent> {
        self.rx.try_recv().ok()
    }
}

impl fmt::Debug for NodeEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeEvents").finish_non_exhaustive()
    }
}

impl Stream for NodeEvents {
    type Item = NodeEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NodeEvent>> {
        self.rx.poll_recv(cx)
    }
}
