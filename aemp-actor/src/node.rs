//! [`Node`]: one process's place in the network: its ports, its connections, its services.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use aemp_transport::Value;
use tokio::sync::{mpsc, oneshot};

use crate::events::{NodeEvent, NodeEvents, NodesGuard, Subscriber, Subscribers};
use crate::handler::{boxed, BoxFunction, BoxInit, Ctx, HandlerOutcome};
use crate::monitor::{Action, MonGuard, Monitor};
use crate::peer::{Origin, Peer};
use crate::port::{lock, Port, Sink};
use crate::port_id::split;
use crate::{Error, PortId};

/// The outcome of a dial, for the callers that joined it.
#[derive(Clone, Debug)]
enum DialOutcome {
    Up(String),
    Myself,
    Failed(String),
}

/// An init function that may be spawned by name.
#[derive(Clone)]
pub(crate) enum Spawnable {
    /// Runs on a new port with handlers (`NodeBuilder::spawnable`).
    Handlers(Arc<BoxInit>),
    /// Creates the port itself, named as given (typed actors).
    Custom(Arc<CustomSpawn>),
}

/// Creates a port of the given name and starts what runs on it.
pub(crate) type CustomSpawn = dyn Fn(&Node, String, Vec<Value>) -> Result<(), String> + Send + Sync;

/// The greeting key that offers the heartbeat: our interval in seconds. Perl ignores it.
pub(crate) const HEARTBEAT_KEY: &str = "aemp_hb";

/// The heartbeat between aemp nodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Heartbeat {
    /// How often an idle link sends an empty message.
    pub interval: Duration,
    /// How long without any data before the peer is declared dead (at least three of the
    /// peer's intervals).
    pub timeout: Duration,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) connect_interval: Duration,
    pub(crate) heartbeat: Option<Heartbeat>,
}

fn rlock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn wlock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct NodeInner {
    pub(crate) id: Arc<str>,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) settings: Settings,
    pub(crate) transport: aemp_transport::Config,
    ports: RwLock<HashMap<Arc<str>, Arc<Port>>>,
    peers: RwLock<HashMap<Arc<str>, Arc<Peer>>>,
    port_prefix: String,
    spawn_prefix: String,
    counter: AtomicU64,
    monitor_ids: AtomicU64,
    pub(crate) functions: HashMap<String, BoxFunction>,
    pub(crate) spawnables: HashMap<String, Spawnable>,
    pub(crate) names: RwLock<HashMap<String, PortId>>,
    pub(crate) events: mpsc::UnboundedSender<NodeEvent>,
    pub(crate) subscribers: Arc<Mutex<Subscribers>>,
    pub(crate) listen_addrs: Mutex<Vec<SocketAddr>>,
    pub(crate) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    shutting_down: AtomicBool,
    pub(crate) global: crate::global::Global,
    /// Dials under way, by address: the callers waiting for their outcome.
    dials: Mutex<HashMap<String, Vec<oneshot::Sender<DialOutcome>>>>,
    /// The node id behind each seed address, once connected.
    pub(crate) seed_ids: Mutex<Vec<Option<String>>>,
}

/// A node: ports, connections to other nodes, and the node port's services. Cheap to clone;
/// every clone is the same node.
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
    pub(crate) inner: Arc<NodeInner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Parts {
    pub(crate) id: String,
    pub(crate) random_id: bool,
    pub(crate) settings: Settings,
    pub(crate) transport: aemp_transport::Config,
    pub(crate) functions: HashMap<String, BoxFunction>,
    pub(crate) spawnables: HashMap<String, Spawnable>,
}

impl NodeInner {
    pub(crate) fn new(parts: Parts) -> Arc<NodeInner> {
        let (events, rx) = mpsc::unbounded_channel();
        let subscribers = Arc::new(Mutex::new(Subscribers::default()));
        let runtime = tokio::runtime::Handle::current();
        runtime.spawn(crate::events::dispatch(rx, subscribers.clone()));
        // Port names are never reused: a counter, behind a prefix unique to this start of the
        // node when its id was given (a restarted node keeps its id, not its port names).
        let mut port_prefix = if parts.random_id {
            String::new()
        } else {
            aemp_transport::random_alnum(9, false)
        };
        if port_prefix.ends_with(|c: char| c.is_ascii_uppercase()) {
            port_prefix = port_prefix.to_ascii_lowercase();
        }
        Arc::new(NodeInner {
            id: parts.id.into(),
            runtime,
            settings: parts.settings,
            transport: parts.transport,
            ports: RwLock::default(),
            peers: RwLock::default(),
            port_prefix,
            spawn_prefix: aemp_transport::random_alnum(10, true),
            counter: AtomicU64::new(0),
            monitor_ids: AtomicU64::new(0),
            functions: parts.functions,
            spawnables: parts.spawnables,
            names: RwLock::default(),
            events,
            subscribers,
            listen_addrs: Mutex::default(),
            tasks: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            global: crate::global::Global::new(&tokio::runtime::Handle::current()),
            seed_ids: Mutex::default(),
            dials: Mutex::default(),
        })
    }

    pub(crate) fn listen_addrs_now(&self) -> Vec<SocketAddr> {
        lock(&self.listen_addrs).clone()
    }

    /// A channel of node events, for the kernel's own use.
    pub(crate) fn subscribe_events(&self) -> mpsc::UnboundedReceiver<NodeEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.subscribers).add(Subscriber::Channel(tx));
        rx
    }

    /// Connects to the node at `addr` and registers the connection; its id once the
    /// connection is up. Concurrent dials of one address share one attempt, so that a node
    /// never makes two connections to one peer at once (the two sides could keep different
    /// ones); the callers that joined get the outcome as text.
    pub(crate) async fn connect_addr(self: &Arc<Self>, addr: &str) -> Result<String, Error> {
        let joined = {
            let mut dials = lock(&self.dials);
            match dials.get_mut(addr) {
                Some(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    Some(rx)
                }
                None => {
                    dials.insert(addr.to_owned(), Vec::new());
                    None
                }
            }
        };
        if let Some(rx) = joined {
            return match rx.await {
                Ok(DialOutcome::Up(id)) => Ok(id),
                Ok(DialOutcome::Myself) => Err(aemp_transport::Error::TalkingToMyself {
                    node: self.id.to_string(),
                }
                .into()),
                Ok(DialOutcome::Failed(reason)) => Err(Error::Dial {
                    addr: addr.to_owned(),
                    reason,
                }),
                Err(_) => Err(Error::Shutdown),
            };
        }
        let result = self.dial_once(addr).await;
        let outcome = match &result {
            Ok(id) => DialOutcome::Up(id.clone()),
            Err(Error::Transport(aemp_transport::Error::TalkingToMyself { .. })) => {
                DialOutcome::Myself
            }
            Err(e) => DialOutcome::Failed(e.to_string()),
        };
        for waiter in lock(&self.dials).remove(addr).unwrap_or_default() {
            let _ = waiter.send(outcome.clone());
        }
        result
    }

    async fn dial_once(self: &Arc<Self>, addr: &str) -> Result<String, Error> {
        let config = self.dial_config();
        let add = |peer: &Peer| {
            let mut st = peer.state();
            if !st.addresses.iter().any(|a| a == addr) {
                st.addresses.insert(0, addr.to_owned());
            }
        };
        match aemp_transport::connect(addr, &config).await {
            Ok(conn) => {
                let id = conn.info().node_id.clone();
                let peer = self.peer(&id);
                add(&peer);
                self.register_link(&peer, conn, Origin::Explicit);
                Ok(id)
            }
            Err(aemp_transport::Error::AlreadyConnected { node }) => {
                // Up already, or its own connection to us is being made: wait for that.
                let peer = self.peer(&node);
                add(&peer);
                match tokio::time::timeout(self.settings.connect_interval, peer.link_up()).await {
                    Ok(()) => Ok(node),
                    Err(_) => Err(Error::Dial {
                        addr: addr.to_owned(),
                        reason: format!("{node} did not come up"),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn transport_nodelay(&self) -> bool {
        true
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn local_port(&self, name: &str) -> Option<Arc<Port>> {
        rlock(&self.ports).get(name).cloned()
    }

    /// The peer for `id`, created if unknown.
    pub(crate) fn peer(&self, id: &str) -> Arc<Peer> {
        if let Some(p) = rlock(&self.peers).get(id) {
            return p.clone();
        }
        wlock(&self.peers)
            .entry(id.into())
            .or_insert_with_key(|k| Arc::new(Peer::new(k.clone())))
            .clone()
    }

    pub(crate) fn known_peer(&self, id: &str) -> Option<Arc<Peer>> {
        rlock(&self.peers).get(id).cloned()
    }

    pub(crate) fn all_peers(&self) -> Vec<Arc<Peer>> {
        rlock(&self.peers).values().cloned().collect()
    }

    fn next_name(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{prefix}{n}")
    }

    /// Creates a local port named `name` (generated when `None`).
    pub(crate) fn generated_name(&self) -> String {
        self.next_name(&self.port_prefix)
    }

    pub(crate) fn create_port(&self, name: Option<String>, sink: Sink) -> Option<Arc<Port>> {
        let name = name.unwrap_or_else(|| self.next_name(&self.port_prefix));
        let id = PortId::new(&self.id, &name);
        let port = Arc::new(Port::new(id, sink));
        let mut ports = wlock(&self.ports);
        if ports.contains_key(name.as_str()) {
            return None;
        }
        ports.insert(name.into(), port.clone());
        Some(port)
    }

    /// The name of a port spawned by this node (unique network-wide with the node id).
    pub(crate) fn spawn_name(&self) -> String {
        self.next_name(&self.spawn_prefix)
    }

    /// Delivers a message that arrived from `src` (a whole wire message: port name first).
    pub(crate) fn dispatch(self: &Arc<Self>, src: &str, mut msg: Vec<Value>) {
        let Some(first) = msg.first() else { return }; // [] is a keepalive
        let Some(name) = first.as_str() else {
            let shown = Value::Array(msg);
            tracing::debug!(node = src, "message without a port name: {shown}");
            return;
        };
        if name.is_empty() {
            msg.remove(0);
            return self.node_request(src, msg);
        }
        match rlock(&self.ports).get(name).cloned() {
            Some(port) => {
                msg.remove(0);
                port.deliver(self, src, msg);
            }
            None => tracing::debug!(
                node = src,
                port = name,
                "message to a port that does not exist, dropped"
            ),
        }
    }

    /// Sends to any port id.
    pub(crate) fn send(self: &Arc<Self>, port: &str, msg: Vec<Value>) -> Result<(), Error> {
        let (node, name) = split(port);
        if node == &*self.id {
            if name.is_empty() {
                let src = self.id.clone();
                self.node_request(&src, msg);
            } else if let Some(p) = self.local_port(name) {
                p.deliver(self, &self.id, msg);
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
        let peer = self.peer(node);
        self.send_remote(&peer, name, msg)
    }

    /// Kills a local port: removes it, then fires its monitors.
    pub(crate) fn kill_local_name(self: &Arc<Self>, name: &str, reason: Vec<Value>) {
        let Some(port) = wlock(&self.ports).remove(name) else {
            return;
        };
        if port.named.load(Ordering::Acquire) {
            wlock(&self.names).retain(|_, p| *p != port.id);
        }
        let monitors = port.die();
        if let Sink::Typed(sink) = port.sink() {
            sink.killed(&reason);
        }
        for (_, action) in monitors {
            self.fire(action, &reason);
        }
    }

    /// Runs a monitor action for a death with `reason`.
    pub(crate) fn fire(self: &Arc<Self>, action: Action, reason: &[Value]) {
        match action {
            Action::Callback(f) => f(reason.to_vec()),
            Action::Notify(tx) => {
                let _ = tx.send(reason.to_vec());
            }
            Action::Kill(port) => {
                if !reason.is_empty() {
                    let _ = self.kill(port.as_str(), reason.to_vec());
                }
            }
            Action::Send(port, mut msg) => {
                msg.extend_from_slice(reason);
                if let Err(e) = self.send(port.as_str(), msg) {
                    tracing::warn!(port = %port, error = %e, "monitor message cannot be sent");
                }
            }
            Action::Remote { node, port } => {
                // Only a node that is still connected is told; it learns of its own loss.
                if let Some(peer) = self.known_peer(&node) {
                    let mut st = peer.state();
                    if let Some(link) = &st.link {
                        let _ = crate::peer::put(&link.sender, "", &kil0_body(&port, reason));
                    }
                    st.lmon.remove(&port);
                }
            }
        }
    }

    pub(crate) fn kill(self: &Arc<Self>, port: &str, reason: Vec<Value>) -> Result<(), Error> {
        let (node, name) = split(port);
        if name.is_empty() {
            return Err(Error::NodePort("killed"));
        }
        if node == &*self.id {
            self.kill_local_name(name, reason);
            Ok(())
        } else {
            let mut body = Vec::with_capacity(reason.len() + 2);
            body.push(Value::from("kil1"));
            body.push(Value::from(name));
            body.extend(reason);
            let peer = self.peer(node);
            self.send_remote(&peer, "", body)
        }
    }

    /// Adds a monitor; fires it (later, from a task) if the port does not exist.
    pub(crate) fn monitor(self: &Arc<Self>, port: &PortId, action: Action) -> MonGuard {
        let id = self.monitor_ids.fetch_add(1, Ordering::Relaxed) + 1;
        let guard = MonGuard {
            node: Arc::downgrade(self),
            port: port.clone(),
            id,
            armed: true,
        };
        let (node, name) = (port.node(), port.name());
        if node == &*self.id {
            if let Some(p) = self.local_port(name) {
                let mut mb = p.mailbox();
                if !p.is_dead() {
                    mb.monitors.push((id, action));
                    return guard;
                }
            }
            let reason = no_such_port(port);
            let inner = self.clone();
            self.runtime
                .spawn(async move { inner.fire(action, &reason) });
            return guard;
        }
        let peer = self.peer(node);
        let mut st = peer.state();
        let first = !st.monitors.contains_key(name);
        st.monitors
            .entry(name.to_owned())
            .or_default()
            .push((id, action));
        if first && !name.is_empty() {
            let body = vec![Value::from("mon1"), Value::from(name)];
            match &st.link {
                Some(link) => {
                    let _ = crate::peer::put(&link.sender, "", &body);
                }
                None => {
                    st.queue_push("", body);
                    self.ensure_dial(&peer, &mut st);
                }
            }
        } else if name.is_empty() && st.link.is_none() {
            // Monitoring a node port: connect, so that a node we cannot reach is reported.
            self.ensure_dial(&peer, &mut st);
        }
        guard
    }

    pub(crate) fn unmonitor(self: &Arc<Self>, port: &PortId, id: u64) {
        let (node, name) = (port.node(), port.name());
        if node == &*self.id {
            if let Some(p) = self.local_port(name) {
                p.mailbox().monitors.retain(|(i, _)| *i != id);
            }
            return;
        }
        let Some(peer) = self.known_peer(node) else {
            return;
        };
        let mut st = peer.state();
        let Some(list) = st.monitors.get_mut(name) else {
            return;
        };
        list.retain(|(i, _)| *i != id);
        if list.is_empty() {
            st.monitors.remove(name);
            if !name.is_empty() {
                if let Some(link) = &st.link {
                    let _ = link
                        .sender
                        .send_now("", &[Value::from("mon0"), Value::from(name)]);
                }
            }
        }
    }

    /// A transport config for dialling, with the hook that refuses a second connection.
    pub(crate) fn dial_config(self: &Arc<Self>) -> aemp_transport::Config {
        let node = Arc::downgrade(self);
        self.transport.clone().already_connected(move |id| {
            let Some(node) = node.upgrade() else {
                return true;
            };
            let peer = node.peer(id);
            let st = peer.state();
            // Connected already, or the peer's own dial to us wins (the smaller id's dial).
            st.link.is_some() || (st.inbound > 0 && id < &*node.id)
        })
    }

    /// Runs the handshake of an accepted connection and registers it.
    pub(crate) async fn accept(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let claimed: Arc<Mutex<Option<Arc<Peer>>>> = Arc::default();
        let node = Arc::downgrade(&self);
        let slot = claimed.clone();
        let config = self.transport.clone().already_connected(move |id| {
            let Some(node) = node.upgrade() else {
                return true;
            };
            let peer = node.peer(id);
            let mut st = peer.state();
            // Connected already, or our own dial to it wins (we have the smaller id).
            if st.link.is_some() || (st.dialing && &*node.id < id) {
                return true;
            }
            st.inbound += 1;
            drop(st);
            *lock(&slot) = Some(peer);
            false
        });
        let result = aemp_transport::accept(stream, &config).await;
        let claimed = lock(&claimed).take();
        match (result, claimed) {
            (Ok(conn), Some(peer)) => self.register_link(&peer, conn, Origin::Inbound),
            (Ok(conn), None) => {
                // A sub-protocol connection (no node checks): not a node link.
                tracing::debug!(protocol = %conn.info().protocol, node = %conn.info().node_id, "connection of an unsupported sub-protocol, closed");
            }
            (Err(e), Some(peer)) => {
                tracing::debug!(node = %peer.id, error = %e, "inbound handshake failed");
                self.inbound_failed(&peer, &e.to_string());
            }
            (Err(e), None) => tracing::debug!(error = %e, "inbound handshake failed"),
        }
    }
}

pub(crate) fn kil0_body(port: &str, reason: &[Value]) -> Vec<Value> {
    let mut body = Vec::with_capacity(reason.len() + 2);
    body.push(Value::from("kil0"));
    body.push(Value::from(port));
    body.extend_from_slice(reason);
    body
}

/// The reason for monitoring a port that does not exist, as AnyEvent::MP 2.x gives it.
pub(crate) fn no_such_port(port: &PortId) -> Vec<Value> {
    vec![
        Value::from("no_such_port"),
        Value::from("cannot monitor nonexistent port"),
        Value::from(port.as_str()),
    ]
}

impl Node {
    /// A builder for a node.
    pub fn builder() -> crate::NodeBuilder {
        crate::NodeBuilder::default()
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// This node's node port (the bare node id).
    pub fn node_port(&self) -> PortId {
        PortId::new(&self.inner.id, "")
    }

    /// The addresses the node listens on (ports resolved when bound to port 0).
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        lock(&self.inner.listen_addrs).clone()
    }

    /// Creates a port without handlers (its first message kills it with `unhandled_message`
    /// until [`Node::rcv`] gives it one).
    pub fn port(&self) -> PortId {
        self.inner
            .create_port(None, Sink::Handlers(Mutex::default()))
            .expect("generated names are unique")
            .id
            .clone()
    }

    /// Creates a port whose default handler is `handler` (Perl's `port { ... }`).
    pub fn port_with<F, R>(&self, handler: F) -> PortId
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        let port = self
            .inner
            .create_port(None, Sink::Handlers(Mutex::default()))
            .expect("generated names are unique");
        port.set_handler(None, Some(boxed(handler)));
        port.id.clone()
    }

    /// Creates a port that calls `f` with every message right in the delivering task: for
    /// quick, non-blocking work (a channel send), not for handlers that take time.
    pub fn port_inline(&self, f: impl Fn(Vec<Value>) + Send + Sync + 'static) -> PortId {
        self.inner
            .create_port(None, Sink::Inline(Box::new(f)))
            .expect("generated names are unique")
            .id
            .clone()
    }

    fn local(&self, port: &PortId) -> Result<Arc<Port>, Error> {
        if port.node() != self.id() {
            return Err(Error::NotLocal(port.to_string()));
        }
        if port.is_node_port() {
            return Err(Error::NodePort("given handlers"));
        }
        self.inner
            .local_port(port.name())
            .ok_or_else(|| Error::NoSuchPort(port.to_string()))
    }

    /// Sets the handler for messages whose first element is `tag` (matched exactly); it gets
    /// the message without the tag. Replaces an earlier handler of that tag.
    pub fn rcv<F, R>(&self, port: &PortId, tag: &str, handler: F) -> Result<(), Error>
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        self.local(port)?
            .set_handler(Some(tag), Some(boxed(handler)));
        Ok(())
    }

    /// Sets the default handler: it gets every message no tag handler takes, tag included.
    pub fn rcv_default<F, R>(&self, port: &PortId, handler: F) -> Result<(), Error>
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        self.local(port)?.set_handler(None, Some(boxed(handler)));
        Ok(())
    }

    /// Removes the handler of `tag` (`None`: the default handler).
    pub fn unrcv(&self, port: &PortId, tag: Option<&str>) -> Result<(), Error> {
        self.local(port)?.set_handler(tag, None);
        Ok(())
    }

    /// Sends `msg` to `port`, local or remote, without waiting. Messages from one port to
    /// another arrive in order. A remote node is connected on demand; messages wait for the
    /// connection (see `docs/semantics.md` for what happens when it fails).
    pub fn snd(&self, port: impl AsRef<str>, msg: Vec<Value>) -> Result<(), Error> {
        self.inner.send(port.as_ref(), msg)
    }

    /// Sends `["snd", port, msg...]` to `node`'s node port, which relays it (Perl's `snd_on`).
    pub fn snd_on(&self, node: &str, port: &PortId, msg: Vec<Value>) -> Result<(), Error> {
        let mut body = Vec::with_capacity(msg.len() + 2);
        body.push(Value::from("snd"));
        body.push(Value::from(port));
        body.extend(msg);
        self.inner.send(node, body)
    }

    /// Calls the function registered as `name` on `node` with `args` (Perl's `snd_to_func`).
    pub fn snd_to_func(&self, node: &str, name: &str, args: Vec<Value>) -> Result<(), Error> {
        let mut body = Vec::with_capacity(args.len() + 1);
        body.push(Value::from(name));
        body.extend(args);
        self.inner.send(node, body)
    }

    /// Kills `port` with `reason` (empty: a normal exit), local or remote. Killing a port that
    /// does not exist is fine; killing a node port is an error.
    pub fn kil(&self, port: impl AsRef<str>, reason: Vec<Value>) -> Result<(), Error> {
        self.inner.kill(port.as_ref(), reason)
    }

    pub(crate) fn kill_local(&self, port: &PortId, reason: Vec<Value>) {
        self.inner.kill_local_name(port.name(), reason)
    }

    /// Calls `f` once with the kill reason when `port` dies.
    pub fn mon(&self, port: &PortId, f: impl FnOnce(Vec<Value>) + Send + 'static) -> MonGuard {
        self.inner.monitor(port, Action::Callback(Box::new(f)))
    }

    /// When `port` dies with a non-empty reason, kills `receiver` with the same reason.
    pub fn mon_kill(&self, port: &PortId, receiver: &PortId) -> MonGuard {
        self.inner.monitor(port, Action::Kill(receiver.clone()))
    }

    /// When `port` dies, sends `receiver` the message `msg` with the reason appended.
    pub fn mon_snd(&self, port: &PortId, receiver: &PortId, msg: Vec<Value>) -> MonGuard {
        self.inner
            .monitor(port, Action::Send(receiver.clone(), msg))
    }

    /// A future that resolves with the kill reason of `port`.
    pub fn monitor(&self, port: &PortId) -> Monitor {
        let (tx, rx) = oneshot::channel();
        Monitor {
            guard: self.inner.monitor(port, Action::Notify(tx)),
            rx,
        }
    }

    /// Sends `msg` with a fresh reply port appended; resolves to the reply (see [`crate::Call`]).
    pub fn cal(&self, port: &PortId, msg: Vec<Value>) -> crate::Call {
        crate::Call::new(self.clone(), port.clone(), msg)
    }

    /// Creates a port on `node` (a node id or any port id of it) and runs the init function
    /// registered there as `init` with `args`. Returns the new port's id at once.
    pub fn spawn(
        &self,
        node: impl AsRef<str>,
        init: &str,
        args: Vec<Value>,
    ) -> Result<PortId, Error> {
        let node = split(node.as_ref()).0;
        aemp_transport::check_node_id(node).map_err(|e| Error::InvalidPortId {
            id: node.to_owned(),
            reason: e.to_string(),
        })?;
        let name = self.inner.spawn_name();
        let id = PortId::new(node, &name);
        let mut body = Vec::with_capacity(args.len() + 3);
        body.push(Value::from(crate::node_port::SPAWN));
        body.push(Value::from(name));
        body.push(Value::from(init));
        body.extend(args);
        self.inner.send(node, body)?;
        Ok(id)
    }

    /// Registers `port` under `name` on this node, for the node port's `lookup` request.
    pub fn register(&self, name: &str, port: &PortId) {
        wlock(&self.inner.names).insert(name.to_owned(), port.clone());
        if port.node() == self.id() {
            if let Some(p) = self.inner.local_port(port.name()) {
                p.named.store(true, Ordering::Release);
            }
        }
    }

    /// Removes a registration.
    pub fn unregister(&self, name: &str) {
        wlock(&self.inner.names).remove(name);
    }

    /// The port registered under `name` on this node.
    pub fn registered(&self, name: &str) -> Option<PortId> {
        rlock(&self.inner.names).get(name).cloned()
    }

    /// Connects to the node listening at `addr` and returns its id once the connection is up
    /// (at once if it is up already). The address is remembered for reconnecting.
    pub async fn connect(&self, addr: &str) -> Result<String, Error> {
        self.inner.connect_addr(addr).await
    }

    /// Sets the addresses of `node`, tried in turn when a message needs a connection.
    pub fn set_addresses(&self, node: &str, addrs: Vec<String>) {
        self.inner.peer(node).state().addresses = addrs;
    }

    /// The ids of the nodes connected now.
    pub fn up_nodes(&self) -> Vec<String> {
        self.inner
            .all_peers()
            .into_iter()
            .filter(|p| p.is_up())
            .map(|p| p.id.to_string())
            .collect()
    }

    /// `Some(true)` if connected (or this node), `Some(false)` if known but not connected,
    /// `None` if unknown.
    pub fn node_is_up(&self, node: &str) -> Option<bool> {
        if node == self.id() {
            return Some(true);
        }
        self.inner.known_peer(node).map(|p| p.is_up())
    }

    /// Calls `f` for every node up and down event, in order, until the guard is dropped.
    pub fn mon_nodes(&self, f: impl Fn(&NodeEvent) + Send + Sync + 'static) -> NodesGuard {
        let id = lock(&self.inner.subscribers).add(Subscriber::Callback(Box::new(f)));
        NodesGuard {
            node: Arc::downgrade(&self.inner),
            id,
        }
    }

    /// A stream of node up and down events.
    pub fn node_events(&self) -> NodeEvents {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.inner.subscribers).add(Subscriber::Channel(tx));
        NodeEvents { rx }
    }

    /// Closes the connection to `node` (writing out what is queued first): its monitors
    /// fire and a down event follows, as for a lost connection. A later message reconnects.
    pub fn disconnect(&self, node: &str) {
        if let Some(peer) = self.inner.known_peer(node) {
            self.inner.disconnect(&peer, "disconnected");
        }
    }

    /// Stops listening, writes out what is queued on every connection and closes them (their
    /// monitors fire with `transport_error`). Local ports stay usable for local messages.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        let mut senders = Vec::new();
        for peer in self.inner.all_peers() {
            if let Some(sender) = peer.state().link.as_ref().map(|l| l.sender.clone()) {
                senders.push(sender);
            }
            self.inner.disconnect(&peer, "node shut down");
        }
        for sender in senders {
            let _ = sender.close().await;
        }
    }
}
