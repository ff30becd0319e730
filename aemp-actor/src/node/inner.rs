//! [`NodeInner`]: what one node is made of (its port table, its links, its part in the global
//! protocol, its node port), and the kernel operations that span
//! them: sending, delivering, killing, monitoring and firing monitors. Only `node/` names it;
//! the subsystems see it through narrow traits ([`LinkHost`], [`Unmonitor`]).

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use aemp_transport::{RawMessage, Value};

use crate::global::Global;
use crate::link::{LinkHost, LinkSettings, Links};
use crate::port::monitor::{Action, MonGuard, MonitorIds, Monitors, Unmonitor};
use crate::port::{Body, Port, PortTable, Route, Sink};
use crate::port_id::split;
use crate::sync::run_user;
use crate::sync::serial::Wait;
use crate::{wire, Error, PortId};

/// The node port: where requests to the bare node id go (`protocol::node_port`).
pub(crate) trait NodePort: Send + Sync + 'static {
    /// A request from node `src`. `Some`: a reader should wait before reading more.
    fn request(&self, src: &Arc<str>, msg: Vec<Value>) -> Option<Wait>;
}

/// One node; see the module documentation.
pub(crate) struct NodeInner {
    pub(super) id: Arc<str>,
    /// This node, for the tasks it starts (a port's drain).
    me: Weak<NodeInner>,
    runtime: tokio::runtime::Handle,
    pub(super) ports: PortTable,
    pub(super) links: Arc<Links>,
    pub(super) global: Arc<Global>,
    monitor_ids: MonitorIds,
    node_port: OnceLock<Arc<dyn NodePort>>,
    pub(super) listen_addrs: Mutex<Vec<SocketAddr>>,
    pub(super) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Children this node's supervisors restarted.
    pub(super) restarts: std::sync::atomic::AtomicU64,
}

/// A node: ports, connections to other nodes, and the node port's services. Cheap to clone;
/// every clone is the same node. Its API is in `node/mod.rs`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), aemp_actor::Error> {
/// use aemp_actor::{msg, Node};
/// let node = Node::builder().node_id("doc").start().await?;
/// let port = node.port();
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// node.rcv(&port, "test", move |_ctx, msg| { let _ = tx.send(msg); })?;
/// node.snd(&port, msg!["test", 123])?;
/// assert_eq!(rx.recv().await.unwrap(), msg![123]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Node {
    pub(super) inner: Arc<NodeInner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

/// The nodes this process started, newest last (weak: a node that is gone is skipped).
static NODES: Mutex<Vec<WeakNode>> = Mutex::new(Vec::new());

/// Notes a started node, forgetting those that are gone.
pub(super) fn remember(node: &Node) {
    let mut nodes = crate::sync::lock(&NODES);
    nodes.retain(|n| n.0.strong_count() > 0);
    nodes.push(node.weak());
}

/// The node this process started last, while it runs: what a typed reference that no
/// node made sends through.
pub(crate) fn process_node() -> Option<Node> {
    crate::sync::lock(&NODES)
        .iter()
        .rev()
        .find_map(WeakNode::upgrade)
}

/// A node that does not keep the node alive (held by what the node itself owns).
#[derive(Clone, Debug)]
pub(crate) struct WeakNode(Weak<NodeInner>);

impl WeakNode {
    pub(crate) fn upgrade(&self) -> Option<Node> {
        self.0.upgrade().map(|inner| Node { inner })
    }
}

/// What a node is made of, from the builder.
pub(crate) struct Parts {
    pub(crate) id: String,
    pub(crate) random_id: bool,
    pub(crate) settings: LinkSettings,
    pub(crate) transport: aemp_transport::Config,
}

impl NodeInner {
    pub(super) fn new(parts: Parts) -> Arc<NodeInner> {
        let runtime = tokio::runtime::Handle::current();
        let id: Arc<str> = parts.id.into();
        Arc::new_cyclic(|me: &Weak<NodeInner>| {
            let host: Weak<dyn LinkHost> = me.clone();
            let links = Arc::new(Links::new(
                id.clone(),
                runtime.clone(),
                parts.transport,
                parts.settings,
                host,
            ));
            NodeInner {
                me: me.clone(),
                ports: PortTable::new(id.clone(), parts.random_id),
                global: Arc::new(Global::new(id.clone(), runtime.clone(), links.clone())),
                links,
                monitor_ids: MonitorIds::default(),
                node_port: OnceLock::new(),
                listen_addrs: Mutex::default(),
                tasks: Mutex::default(),
                restarts: std::sync::atomic::AtomicU64::new(0),
                runtime,
                id,
            }
        })
    }

    /// This node, strongly (for a task it starts); `None` while it is being dropped.
    pub(super) fn strong(&self) -> Option<Arc<NodeInner>> {
        self.me.upgrade()
    }

    pub(super) fn weak(self: &Arc<Self>) -> WeakNode {
        WeakNode(Arc::downgrade(self))
    }

    pub(super) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    pub(super) fn set_node_port(&self, port: Arc<dyn NodePort>) {
        let _ = self.node_port.set(port);
    }

    fn node_request(&self, src: &Arc<str>, msg: Vec<Value>) -> Option<Wait> {
        self.node_port.get()?.request(src, msg)
    }

    /// A message from the network whose destination the scan could not read off the wire
    /// (none, or written unusually): decoded whole, then routed.
    fn received_decoded(&self, src: &Arc<str>, raw: RawMessage) -> Option<Wait> {
        let mut msg = match raw.decode() {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!(node = %src, error = %e, "skipped a message that cannot be decoded");
                return None;
            }
        };
        let Some(name) = msg.first().and_then(Value::as_str).map(str::to_owned) else {
            let shown = Value::Array(msg);
            tracing::debug!(node = %src, "message without a port name: {shown}");
            return None;
        };
        msg.remove(0);
        if name.is_empty() {
            return self.node_request(src, msg);
        }
        match self.ports.get(&name) {
            Some(port) => port.deliver(self, src, Body::Values(msg)),
            None => tracing::debug!(
                node = %src,
                port = name,
                "message to a port that does not exist, dropped"
            ),
        }
        None
    }

    /// Sends to any port id.
    pub(super) fn send(&self, port: &str, msg: Vec<Value>) -> Result<(), Error> {
        self.send_split(port, split(port), msg)
    }

    /// Sends to `port`, whose node id and name are given apart.
    pub(super) fn send_split(
        &self,
        port: &str,
        (node, name): (&str, &str),
        msg: Vec<Value>,
    ) -> Result<(), Error> {
        if node == &*self.id {
            if name.is_empty() {
                // Our own requests queue like any other; we never wait for ourselves.
                drop(self.node_request(&self.id, msg));
            } else if let Some(p) = self.ports.get(name) {
                p.deliver(self, &self.id, Body::Values(msg));
            } else {
                tracing::debug!(port, "message to a port that does not exist, dropped");
            }
            return Ok(());
        }
        if node.is_empty() {
            return Err(Error::InvalidPortId {
                id: port.to_owned(),
                reason: "no node part".into(),
            });
        }
        Ok(self.links.send(node, name, msg)?)
    }

    /// Kills a port, local or remote.
    pub(super) fn kill(&self, port: &str, reason: Vec<Value>) -> Result<(), Error> {
        let (node, name) = split(port);
        if name.is_empty() {
            return Err(Error::NodePort("killed"));
        }
        if node == &*self.id {
            self.kill_local(name, reason);
            Ok(())
        } else {
            Ok(self.links.send(node, "", wire::kil1(name, reason))?)
        }
    }

    /// Kills a local port: removes it, then fires its monitors.
    pub(super) fn kill_local(&self, name: &str, reason: Vec<Value>) {
        let Some(port) = self.ports.remove(name) else {
            return;
        };
        let monitors = port.die(&reason);
        self.fire_all(monitors, &reason);
    }

    /// Adds a monitor; fires it (later, from a task) if the port does not exist.
    pub(super) fn monitor(self: &Arc<Self>, port: &PortId, action: Action) -> MonGuard {
        let id = self.monitor_ids.next();
        let owner: Weak<dyn Unmonitor> = Arc::downgrade(self) as Weak<dyn Unmonitor>;
        let guard = MonGuard::new(owner, port.clone(), id);
        let (node, name) = (port.node(), port.name());
        if node != &*self.id {
            if let Err((action, reason)) = self.links.monitor(node, name, id, action) {
                let me = self.clone();
                self.runtime.spawn(async move { me.fire(action, &reason) });
            }
            return guard;
        }
        let refused = match self.ports.get(name) {
            Some(p) => match p.add_monitor(id, action) {
                Ok(()) => return guard,
                Err(action) => action,
            },
            None => action,
        };
        let reason = wire::no_such_port(port);
        let me = self.clone();
        self.runtime.spawn(async move { me.fire(refused, &reason) });
        guard
    }

    /// A monitor of `text`, which is not a port id: it fires at once with
    /// `["no_such_port", "<text>: <error>"]`.
    pub(super) fn refuse_monitor(
        self: &Arc<Self>,
        text: &str,
        error: &Error,
        action: Action,
    ) -> MonGuard {
        let id = self.monitor_ids.next();
        let owner: Weak<dyn Unmonitor> = Arc::downgrade(self) as Weak<dyn Unmonitor>;
        // Dropping it unmonitors this node's node port: nothing.
        let guard = MonGuard::new(owner, PortId::new(&self.id, ""), id);
        let reason = vec![
            Value::from("no_such_port"),
            Value::from(format!("{text}: {error}")),
        ];
        let me = self.clone();
        self.runtime.spawn(async move { me.fire(action, &reason) });
        guard
    }

    /// `mon1` from `src`: it monitors our port `name` (or learns at once that it is gone).
    pub(super) fn monitored_by(&self, src: &str, name: &str) {
        if let Some(port) = self.ports.get(name) {
            if port.add_remote_monitor(src) {
                self.links.set_monitored_by(src, name, true);
                return;
            }
        }
        let reason = wire::no_such_port(&PortId::new(&self.id, name));
        if let Err(e) = self.links.send(src, "", wire::kil0(name, &reason)) {
            tracing::warn!(node = src, error = %e, "cannot answer mon1");
        }
    }

    /// `mon0` from `src`: it no longer monitors our port `name`.
    pub(super) fn unmonitored_by(&self, src: &str, name: &str) {
        if let Some(port) = self.ports.get(name) {
            port.remove_remote_monitor(src);
        }
        self.links.set_monitored_by(src, name, false);
    }

    fn fire_all(&self, monitors: Monitors, reason: &[Value]) {
        for (_, action) in monitors {
            self.fire(action, reason);
        }
    }

    /// Runs a monitor action for a death with `reason`, in the task that saw the death (as
    /// AnyEvent::MP does, in order with what follows on the same connection; `mon` callbacks
    /// are documented to be short, see `docs/semantics.md`).
    pub(super) fn fire(&self, action: Action, reason: &[Value]) {
        match action {
            Action::Callback(f) => {
                if let Err(p) = run_user(|| f(reason.to_vec())) {
                    tracing::warn!(panic = %p, "monitor callback panicked");
                }
            }
            Action::Internal(f) => f(reason),
            Action::Notify(tx) => {
                let _ = tx.send(reason.to_vec());
            }
            Action::Kill(port) => {
                if !reason.is_empty() {
                    let _ = self.kill(port.as_str(), reason.to_vec());
                }
            }
            Action::Link { receiver, watched } => {
                if receiver.node() == &*self.id {
                    if let Some(port) = self.ports.get(receiver.name()) {
                        if port.traps() {
                            port.sink().exit(&port, self, &watched, reason);
                            return;
                        }
                    }
                }
                if !reason.is_empty() {
                    let _ = self.kill(receiver.as_str(), reason.to_vec());
                }
            }
            Action::Send(port, mut msg) => {
                msg.extend_from_slice(reason);
                if let Err(e) = self.send(port.as_str(), msg) {
                    tracing::warn!(port = %port, error = %e, "monitor message cannot be sent");
                }
            }
            Action::Remote { node, port } => self.links.tell_killed(&node, &port, reason),
        }
    }

    /// Creates a port with `sink`, named `name` (generated when `None`).
    pub(super) fn create_port(&self, name: Option<String>, sink: impl Sink) -> Option<Arc<Port>> {
        self.ports.create(name, sink)
    }
}

impl Unmonitor for NodeInner {
    fn unmonitor(&self, port: &PortId, id: u64) {
        let (node, name) = (port.node(), port.name());
        if node == &*self.id {
            if let Some(p) = self.ports.get(name) {
                p.remove_monitor(id);
            }
        } else {
            self.links.unmonitor(node, name, id);
        }
    }
}

impl LinkHost for NodeInner {
    /// Routes a message from the network by its destination, undecoded: the port's handler
    /// decodes it (node-port requests are decoded here).
    fn received(&self, src: &Arc<str>, raw: RawMessage, route: &mut Route) -> Option<Wait> {
        if raw.is_empty() {
            return None; // a keepalive
        }
        match raw.dest_bytes() {
            Some(name) if !name.is_empty() => {
                if let Err(raw) = route.deliver(&self.ports, self, src, raw) {
                    tracing::debug!(node = %src, port = raw.dest(), "message to a port that does not exist, dropped");
                }
                return None;
            }
            _ => route.flush(self, src),
        }
        let Some(name) = raw.dest() else {
            // A destination written unusually (or none): decode the message to see.
            return self.received_decoded(src, raw);
        };
        if name.is_empty() {
            return match raw.decode_body() {
                // A trace context: for the next message on this link, not a request.
                Ok(msg)
                    if msg.first().and_then(Value::as_str) == Some(crate::trace::TRACE_REQUEST) =>
                {
                    if let Some(ctx) = crate::trace::TraceCtx::from_wire(&msg[1..]) {
                        route.set_trace(ctx);
                    }
                    None
                }
                Ok(msg) => {
                    // A context was for this request: node-port requests are not traced.
                    route.clear_trace();
                    self.node_request(src, msg)
                }
                Err(e) => {
                    tracing::debug!(node = %src, error = %e, "skipped a node-port request that cannot be decoded");
                    None
                }
            };
        }
        match self.ports.get(name) {
            Some(port) => port.deliver(self, src, Body::Raw(raw)),
            None => tracing::debug!(
                node = %src,
                port = name,
                "message to a port that does not exist, dropped"
            ),
        }
        None
    }

    fn flush(&self, src: &Arc<str>, route: &mut Route, end: bool) {
        if end {
            route.clear(self, src);
        } else {
            route.flush(self, src);
        }
    }

    fn fire(&self, monitors: Monitors, reason: &[Value]) {
        self.fire_all(monitors, reason);
    }

    fn forget_remote_monitors(&self, node: &str, ports: HashSet<String>) {
        for name in ports {
            if let Some(port) = self.ports.get(&name) {
                port.remove_remote_monitor(node);
            }
        }
    }

    fn find_addresses(
        &self,
        node: &str,
    ) -> Pin<Box<dyn Future<Output = Option<Vec<String>>> + Send>> {
        let (global, node) = (self.global.clone(), node.to_owned());
        Box::pin(async move { global.find_node(&node).await })
    }
}
