//! Monitors: what happens, once, when a monitored port dies; the guard that removes one; the
//! future that awaits a death. Local monitors live with their port ([`super::Port`]), those
//! of remote ports with the link to their node; the node fires both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use aemp_transport::Value;
use tokio::sync::oneshot;

use crate::PortId;

/// Kernel code run when a port dies.
pub(crate) type Cleanup = Box<dyn FnOnce(&[Value]) + Send>;

/// A port's monitors: (monitor id, action).
pub(crate) type Monitors = Vec<(u64, Action)>;

/// What a monitor does, once, when its port dies.
pub(crate) enum Action {
    /// Call user code with the reason (in the task that sees the death, see `docs/semantics.md`).
    Callback(Box<dyn FnOnce(Vec<Value>) + Send>),
    /// Kernel code to run at once (it must not block; `db_reg`'s cleanup).
    Internal(Cleanup),
    /// Kill this port with the same reason (only for non-empty reasons).
    Kill(PortId),
    /// One half of a link: `receiver` learns that `watched` died. A local receiver that traps
    /// exits gets `["EXIT", watched, reason...]` (normal exits too); otherwise a non-empty
    /// reason kills it, as `Kill` does.
    Link { receiver: PortId, watched: PortId },
    /// Send this port the message with the reason appended.
    Send(PortId, Vec<Value>),
    /// Resolve a [`Monitor`] future.
    Notify(oneshot::Sender<Vec<Value>>),
    /// A remote node monitors this (local) port: tell it with `kil0`.
    Remote {
        /// The monitoring node.
        node: Arc<str>,
        /// The name of our port.
        port: String,
    },
}

impl Action {
    pub(crate) fn is_remote_of(&self, of: &str) -> bool {
        matches!(self, Action::Remote { node, .. } if &**node == of)
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Callback(_) => f.write_str("Callback"),
            Action::Internal(_) => f.write_str("Internal"),
            Action::Kill(p) => write!(f, "Kill({p})"),
            Action::Link { receiver, watched } => write!(f, "Link({watched} -> {receiver})"),
            Action::Send(p, m) => write!(f, "Send({p}, {m:?})"),
            Action::Notify(_) => f.write_str("Notify"),
            Action::Remote { node, port } => write!(f, "Remote({node}, {port})"),
        }
    }
}

/// Undoes a link when dropped (unless [`LinkGuard::detach`] was called): the two monitors
/// that make it. Returned by [`Node::link`](crate::Node::link).
#[must_use = "dropping the guard undoes the link at once; call .detach() to keep it"]
#[derive(Debug)]
pub struct LinkGuard {
    halves: [MonGuard; 2],
}

impl LinkGuard {
    pub(crate) fn new(a: MonGuard, b: MonGuard) -> LinkGuard {
        LinkGuard { halves: [a, b] }
    }

    /// Keeps the link for the ports' lifetime, without a guard.
    pub fn detach(self) {
        let [a, b] = self.halves;
        a.detach();
        b.detach();
    }
}

/// Hands out monitor ids, unique per node.
#[derive(Debug, Default)]
pub(crate) struct MonitorIds(AtomicU64);

impl MonitorIds {
    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What a [`MonGuard`] calls when dropped: the node, seen only as the owner of monitors.
pub(crate) trait Unmonitor: Send + Sync {
    /// Removes monitor `id` of `port`.
    fn unmonitor(&self, port: &PortId, id: u64);
}

/// Unmonitors when dropped (unless the monitor fired already, or [`MonGuard::detach`] was
/// called). Returned by every form of `mon`.
#[must_use = "dropping the guard removes the monitor at once; call .detach() to keep it"]
pub struct MonGuard {
    owner: Weak<dyn Unmonitor>,
    port: PortId,
    id: u64,
    armed: bool,
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
    pub(crate) fn new(owner: Weak<dyn Unmonitor>, port: PortId, id: u64) -> MonGuard {
        MonGuard {
            owner,
            port,
            id,
            armed: true,
        }
    }

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
            if let Some(owner) = self.owner.upgrade() {
                owner.unmonitor(&self.port, self.id);
            }
        }
    }
}

/// A future that resolves with the kill reason of a port (`[]` for a normal kill); dropping it
/// unmonitors. Made by [`crate::Node::monitor`].
pub struct Monitor {
    guard: MonGuard,
    rx: oneshot::Receiver<Vec<Value>>,
}

impl Monitor {
    pub(crate) fn new(guard: MonGuard, rx: oneshot::Receiver<Vec<Value>>) -> Monitor {
        Monitor { guard, rx }
    }

    /// A monitor of `port` that resolves at once with `reason` (nothing to watch it with).
    pub(crate) fn fired(port: PortId, reason: Vec<Value>) -> Monitor {
        struct Nobody;
        impl Unmonitor for Nobody {
            fn unmonitor(&self, _port: &PortId, _id: u64) {}
        }
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(reason);
        let owner: Weak<dyn Unmonitor> = Weak::<Nobody>::new();
        Monitor::new(MonGuard::new(owner, port, 0), rx)
    }
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
