//! Node up/down events, delivered in order by one dispatcher task.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use aemp_transport::Value;
use futures::Stream;
use tokio::sync::mpsc;

use crate::node::NodeInner;
use crate::port::lock;

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

pub(crate) enum Subscriber {
    Callback(Box<dyn Fn(&NodeEvent) + Send + Sync>),
    Channel(mpsc::UnboundedSender<NodeEvent>),
}

#[derive(Default)]
pub(crate) struct Subscribers {
    next: u64,
    list: Vec<(u64, Subscriber)>,
}

impl Subscribers {
    pub(crate) fn add(&mut self, s: Subscriber) -> u64 {
        self.next += 1;
        self.list.push((self.next, s));
        self.next
    }
}

/// Delivers events to the subscribers, one at a time, in the order they happened. The event
/// channel is unbounded: events happen once per connection change, not per message.
pub(crate) async fn dispatch(
    mut rx: mpsc::UnboundedReceiver<NodeEvent>,
    subscribers: Arc<Mutex<Subscribers>>,
) {
    while let Some(event) = rx.recv().await {
        let mut subs = lock(&subscribers);
        subs.list.retain(|(_, s)| match s {
            Subscriber::Callback(f) => {
                f(&event);
                true
            }
            Subscriber::Channel(tx) => tx.send(event.clone()).is_ok(),
        });
    }
}

/// Stops a `mon_nodes` callback when dropped.
#[must_use = "dropping the guard stops the callback"]
pub struct NodesGuard {
    pub(crate) node: Weak<NodeInner>,
    pub(crate) id: u64,
}

impl fmt::Debug for NodesGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodesGuard").field("id", &self.id).finish()
    }
}

impl Drop for NodesGuard {
    fn drop(&mut self) {
        if let Some(node) = self.node.upgrade() {
            lock(&node.subscribers)
                .list
                .retain(|(id, _)| *id != self.id);
        }
    }
}

/// A stream of node events (from [`crate::Node::node_events`]).
pub struct NodeEvents {
    pub(crate) rx: mpsc::UnboundedReceiver<NodeEvent>,
}

impl fmt::Debug for NodeEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeEvents").finish_non_exhaustive()
    }
}

impl NodeEvents {
    /// The next event; `None` once the node is gone.
    pub async fn recv(&mut self) -> Option<NodeEvent> {
        self.rx.recv().await
    }
}

impl Stream for NodeEvents {
    type Item = NodeEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NodeEvent>> {
        self.rx.poll_recv(cx)
    }
}
