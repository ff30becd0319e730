//! Monitors: what happens when a monitored port dies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use aemp_transport::Value;
use tokio::sync::oneshot;

use crate::node::NodeInner;
use crate::PortId;

/// What a monitor does, once, when its port dies.
pub(crate) enum Action {
    /// Call a function with the reason.
    Callback(Box<dyn FnOnce(Vec<Value>) + Send>),
    /// Kill this port with the same reason (only for non-empty reasons).
    Kill(PortId),
    /// Send this port the message with the reason appended.
    Send(PortId, Vec<Value>),
    /// Resolve a [`Monitor`] future.
    Notify(oneshot::Sender<Vec<Value>>),
    /// A remote node monitors this (local) port: tell it with `kil0`.
    Remote {
        /// The monitoring node.
        node: std::sync::Arc<str>,
        /// The name of our port.
        port: String,
    },
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Callback(_) => f.write_str("Callback"),
            Action::Kill(p) => write!(f, "Kill({p})"),
            Action::Send(p, m) => write!(f, "Send({p}, {m:?})"),
            Action::Notify(_) => f.write_str("Notify"),
            Action::Remote { node, port } => write!(f, "Remote({node}, {port})"),
        }
    }
}

/// Unmonitors when dropped (unless the monitor fired already, or [`MonGuard::detach`] was
/// called). Returned by every form of `mon`.
#[must_use = "dropping the guard removes the monitor at once; call .detach() to keep it"]
pub struct MonGuard {
    pub(crate) node: Weak<NodeInner>,
    pub(crate) port: PortId,
    pub(crate) id: u64,
    pub(crate) armed: bool,
}

impl fmt::Debug for MonGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonGuard")
            .field("port", &self.port)
            .field("id", &self.id)
            .finish()
    }
}

impl MonGuard {
    /// Keeps the monitor for the port's lifetime, without a guard.
    pub fn detach(mut self) {
        self.armed = false;
    }

    /// The monitored port.
    pub fn port(&self) -> &PortId {
        &self.port
    }
}

impl Drop for MonGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Some(node) = self.node.upgrade() {
                node.unmonitor(&self.port, self.id);
            }
        }
    }
}

/// A future that resolves with the kill reason of a port (`[]` for a normal kill); dropping it
/// unmonitors. Made by [`crate::Node::monitor`].
pub struct Monitor {
    pub(crate) guard: MonGuard,
    pub(crate) rx: oneshot::Receiver<Vec<Value>>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("port", &self.guard.port)
            .finish()
    }
}

impl Future for Monitor {
    type Output = Vec<Value>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Value>> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(reason)) => Poll::Ready(reason),
            // The node went away: that is a death of sorts.
            Poll::Ready(Err(_)) => Poll::Ready(vec![Value::from("shutdown")]),
            Poll::Pending => Poll::Pending,
        }
    }
}
