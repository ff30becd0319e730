//! Links: this node's connections to other nodes, one per node.
//!
//! [`Links`] owns the peer table: for each remote node its link (when up), the messages
//! waiting for a connection, our monitors of its ports and its monitors of ours. `dial.rs`
//! makes connections (and chooses between simultaneous ones), `running.rs` runs one (reads,
//! loses it, beats the heartbeat), `outbox.rs` is the one way to write to one, `events.rs`
//! tells subscribers of node up and down.
//!
//! The node is seen through [`LinkHost`] only: what arrives is handed to it, and the monitors
//! a lost link fires are handed back to it.

mod dial;
mod events;
mod outbox;
mod running;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use aemp_transport::{RawMessage, Value};
use tokio::sync::{mpsc, oneshot};

use crate::error::DialError;
use crate::port::monitor::{Action, Monitors};
use crate::port::Route;
use crate::sync::bus::{Bus, Stage, Sub};
use crate::sync::serial::Wait;
use crate::sync::{lock, rlock, wlock};

pub(crate) use dial::Origin;
pub use events::{NodeEvent, NodeEvents, NodesGuard};
pub use running::Heartbeat;
use running::Link;

/// What the links need of the node.
pub(crate) trait LinkHost: Send + Sync + 'static {
    /// A message arrived from `src` (port name first). `Some`: wait before reading more.
    /// `route` is the reader's own (see [`Route`]).
    fn received(&self, src: &Arc<str>, msg: RawMessage, route: &mut Route) -> Option<Wait>;
    /// Hands over what `route` gathered: the reader is about to wait, or its link ended
    /// (`end`).
    fn flush(&self, src: &Arc<str>, route: &mut Route, end: bool);
    /// Monitors fire with `reason` (their node was lost, or told us with `kil0`).
    fn fire(&self, monitors: Monitors, reason: &[Value]);
    /// `node` is gone: it no longer monitors our ports `ports`.
    fn forget_remote_monitors(&self, node: &str, ports: HashSet<String>);
    /// Where `node` listens, from the global database.
    fn find_addresses(
        &self,
        node: &str,
    ) -> Pin<Box<dyn Future<Output = Option<Vec<String>>> + Send>>;
}

/// How links are made and kept.
#[derive(Clone, Debug)]
pub(crate) struct LinkSettings {
    pub(crate) connect_interval: Duration,
    pub(crate) heartbeat: Option<Heartbeat>,
}

/// A remote node as this node knows it.
pub(crate) struct Peer {
    pub(crate) id: Arc<str>,
    state: Mutex<PeerState>,
    /// Woken when a link comes up.
    linked: tokio::sync::Notify,
    /// What arrived on its links so far (messages, bytes), as the reader last published it.
    received: (AtomicU64, AtomicU64),
}

/// One node's link, as `Node::stats` reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkStats {
    /// The node.
    pub node: String,
    /// Whether a link is up now.
    pub up: bool,
    /// Messages that came from it (over every link so far).
    pub messages_in: u64,
    /// Bytes that came from it.
    pub bytes_in: u64,
    /// Messages queued to it on the current link.
    pub messages_out: u64,
    /// Bytes queued to it on the current link.
    pub bytes_out: u64,
    /// Bytes queued to it that the socket has not taken yet.
    pub buffered: usize,
}

#[derive(Default)]
pub(crate) struct PeerState {
    link: Option<Link>,
    /// Messages (port name, body, the trace they were sent in) waiting for the connection.
    /// Bounded in time: the connect attempt ends within `connect_interval`, and then they are
    /// sent (the trace first, if the peer takes traces) or dropped (with the monitors
    /// firing).
    queue: Vec<(String, Vec<Value>, Option<crate::trace::TraceCtx>)>,
    /// A dial to this node (by its id) is under way.
    dialing: bool,
    /// Inbound handshakes from this node that passed the greeting check.
    inbound: u32,
    /// Our dials to this node that passed the greeting check (their handshake goes on).
    outbound: u32,
    addresses: Vec<String>,
    /// Our monitors on this node's ports: port name -> (monitor id, action).
    monitors: HashMap<String, Monitors>,
    /// Our ports this node monitors.
    lmon: HashSet<String>,
    generation: u64,
    /// A link to it was up once (a node we never reached, with no known address, is
    /// forgotten when the attempt fails).
    ever_up: bool,
    /// Removed from the peer table: whoever holds it takes the table's entry anew.
    forgotten: bool,
}

/// How many connection attempts may be under way at once. Messages (and monitors) for a node
/// that would need one more are refused, with a warning (monitors fire with
/// `transport_error`): a peer relaying to many unknown node ids cannot make this node keep
/// state for each.
pub(crate) const MAX_PENDING_DIALS: usize = 1024;

/// How many nodes the peer table keeps while they are not connected and have no known
/// address (nodes that once dialled us): beyond it, such a node is forgotten when its link
/// goes down (a later `node_is_up` says `None` for it).
pub(crate) const MAX_IDLE_PEERS: usize = 4096;

/// The reason of a refused attempt.
const TOO_MANY_DIALS: &str = "too many connections being made at once";

impl Peer {
    fn new(id: Arc<str>) -> Peer {
        Peer {
            id,
            state: Mutex::new(PeerState::default()),
            linked: tokio::sync::Notify::new(),
            received: (AtomicU64::new(0), AtomicU64::new(0)),
        }
    }

    /// Publishes what a reader has counted since it last did.
    pub(super) fn add_received(&self, messages: u64, bytes: u64) {
        self.received.0.fetch_add(messages, Ordering::Relaxed);
        self.received.1.fetch_add(bytes, Ordering::Relaxed);
    }

    fn state(&self) -> MutexGuard<'_, PeerState> {
        lock(&self.state)
    }

    pub(crate) fn is_up(&self) -> bool {
        self.state().link.is_some()
    }

    /// Waits until a link is up.
    pub(crate) async fn link_up(&self) {
        crate::sync::until(&self.linked, || self.is_up()).await
    }
}

/// The outcome of a dial, for the callers that joined it.
type DialWaiters = Vec<oneshot::Sender<Result<String, DialError>>>;

/// This node's links; see the module documentation.
pub(crate) struct Links {
    id: Arc<str>,
    runtime: tokio::runtime::Handle,
    transport: aemp_transport::Config,
    settings: LinkSettings,
    host: Weak<dyn LinkHost>,
    /// (Looked up for every message sent: foldhash, seeded per table, as the ports'.)
    peers: RwLock<HashMap<Arc<str>, Arc<Peer>, foldhash::fast::RandomState>>,
    /// Handshakes by outcome: `ok`, or the kind of error (a fixed set).
    handshakes: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// Dials under way, by address: the callers waiting for their outcome.
    dials: Mutex<HashMap<String, DialWaiters>>,
    shutting_down: AtomicBool,
    /// Connection attempts under way (at most [`MAX_PENDING_DIALS`]).
    pending: std::sync::atomic::AtomicUsize,
    /// Messages refused for want of a connection attempt, and when that was last logged.
    refused: std::sync::atomic::AtomicU64,
    refused_logged: std::sync::atomic::AtomicU64,
    started: std::time::Instant,
    /// Node events, in order, to the dispatcher task. Unbounded: one event per connection
    /// change, never per message.
    events: mpsc::UnboundedSender<NodeEvent>,
    bus: Arc<Bus<(), NodeEvent>>,
}

impl Links {
    /// Counts a handshake's outcome.
    pub(super) fn count_handshake<T>(&self, result: &Result<T, aemp_transport::Error>) {
        let kind = match result {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        *lock(&self.handshakes).entry(kind).or_default() += 1;
    }

    /// Handshakes so far, by outcome.
    pub(crate) fn handshakes(&self) -> std::collections::BTreeMap<String, u64> {
        lock(&self.handshakes)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    /// How long ago the node started.
    pub(crate) fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Every node this node has (or had) a link with, and its traffic.
    pub(crate) fn stats(&self) -> Vec<LinkStats> {
        let peers: Vec<Arc<Peer>> = rlock(&self.peers).values().cloned().collect();
        let mut out: Vec<LinkStats> = peers
            .iter()
            .map(|peer| {
                let st = peer.state();
                let (sent, buffered) = st
                    .link
                    .as_ref()
                    .map(|l| l.sender.traffic())
                    .unwrap_or_default();
                LinkStats {
                    node: peer.id.to_string(),
                    up: st.link.is_some(),
                    messages_in: peer.received.0.load(Ordering::Relaxed),
                    bytes_in: peer.received.1.load(Ordering::Relaxed),
                    messages_out: sent.messages,
                    bytes_out: sent.bytes,
                    buffered,
                }
            })
            .collect();
        out.sort_by(|a, b| a.node.cmp(&b.node));
        out
    }
}

impl Links {
    pub(crate) fn new(
        id: Arc<str>,
        runtime: tokio::runtime::Handle,
        transport: aemp_transport::Config,
        settings: LinkSettings,
        host: Weak<dyn LinkHost>,
    ) -> Links {
        let (events, rx) = mpsc::unbounded_channel();
        let bus = Arc::new(Bus::default());
        runtime.spawn(events::dispatch(rx, bus.clone()));
        Links {
            id,
            runtime,
            transport,
            settings,
            host,
            peers: RwLock::default(),
            handshakes: Mutex::default(),
            dials: Mutex::default(),
            shutting_down: AtomicBool::new(false),
            pending: std::sync::atomic::AtomicUsize::new(0),
            refused: std::sync::atomic::AtomicU64::new(0),
            refused_logged: std::sync::atomic::AtomicU64::new(0),
            started: std::time::Instant::now(),
            events,
            bus,
        }
    }

    pub(crate) fn transport(&self) -> &aemp_transport::Config {
        &self.transport
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// The peer for `id`, created if unknown.
    fn peer(&self, id: &str) -> Arc<Peer> {
        if let Some(p) = rlock(&self.peers).get(id) {
            return p.clone();
        }
        wlock(&self.peers)
            .entry(id.into())
            .or_insert_with_key(|k| Arc::new(Peer::new(k.clone())))
            .clone()
    }

    /// Runs `f` on the peer for `id` (created if unknown), locked; never on one that was
    /// forgotten meanwhile.
    fn with_peer<R>(&self, id: &str, f: impl FnOnce(&Arc<Peer>, &mut PeerState) -> R) -> R {
        loop {
            let peer = self.peer(id);
            let mut st = peer.state();
            if !st.forgotten {
                return f(&peer, &mut st);
            }
        }
    }

    pub(crate) fn known_peer(&self, id: &str) -> Option<Arc<Peer>> {
        rlock(&self.peers).get(id).cloned()
    }

    fn all_peers(&self) -> Vec<Arc<Peer>> {
        rlock(&self.peers).values().cloned().collect()
    }

    /// The ids of the nodes connected now.
    pub(crate) fn up_nodes(&self) -> Vec<String> {
        self.all_peers()
            .into_iter()
            .filter(|p| p.is_up())
            .map(|p| p.id.to_string())
            .collect()
    }

    /// `Some(true)` if connected, `Some(false)` if known but not connected, `None` if unknown.
    pub(crate) fn is_up(&self, node: &str) -> Option<bool> {
        self.known_peer(node).map(|p| p.is_up())
    }

    /// Sets the addresses of `node`, tried in turn when a message needs a connection.
    pub(crate) fn set_addresses(&self, node: &str, addrs: Vec<String>) {
        self.with_peer(node, |_, st| st.addresses = addrs);
    }

    /// Subscribes to node up and down events.
    pub(crate) fn subscribe(&self, sub: Sub<NodeEvent>) -> NodesGuard {
        let id = self.bus.subscribe((), sub, Stage::Active);
        NodesGuard::new(Arc::downgrade(&self.bus), id)
    }

    /// A channel of node events, for the kernel's own use (seeds, the global protocol).
    pub(crate) fn event_channel(&self) -> (mpsc::UnboundedReceiver<NodeEvent>, NodesGuard) {
        let (tx, rx) = mpsc::unbounded_channel();
        (rx, self.subscribe(Sub::Channel(tx)))
    }

    /// Sends `[name, body...]` to `node`: at once if connected, else queued and a connection
    /// started. Encoding errors are returned; a message queued for a connection that is
    /// never made is dropped and the node's monitors fire.
    pub(crate) fn send(
        self: &Arc<Self>,
        node: &str,
        name: &str,
        body: Vec<Value>,
    ) -> Result<(), aemp_transport::Error> {
        let trace = crate::trace::outgoing();
        let refused = self.with_peer(node, |peer, st| {
            if let Some(link) = &st.link {
                // The message's trace goes just before it, to a peer that takes it.
                if let Some(ctx) = trace.filter(|_| link.traced) {
                    let _ = outbox::put(&link.sender, "", &ctx.to_wire());
                }
                return match outbox::put(&link.sender, name, &body) {
                    Ok(()) => Ok(None),
                    // The link is going down: its monitors fire, as for any message in flight.
                    Err(e) if e.is_fatal() => Ok(None),
                    Err(e) => Err(e),
                };
            }
            if self.must_refuse(st) {
                return Ok(Some(peer.clone()));
            }
            st.queue.push((name.to_owned(), body, trace));
            self.ensure_dial(peer, st);
            Ok(None)
        })?;
        if let Some(peer) = refused {
            self.note_refused(node);
            self.forget_if_unknown(&peer);
        }
        Ok(())
    }

    /// Logs a refused attempt: the first, then at most one line a second with the count.
    fn note_refused(&self, node: &str) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.started.elapsed().as_secs();
        let last = self.refused_logged.load(Ordering::Relaxed);
        if (n == 1 || now > last)
            && self
                .refused_logged
                .compare_exchange(
                    last,
                    now.max(last + 1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            tracing::warn!(
                node,
                refused = n,
                "{TOO_MANY_DIALS}: messages to nodes without a connection dropped"
            );
        }
    }

    /// Whether a node without a link would need a new connection attempt that the limit
    /// refuses.
    fn must_refuse(&self, st: &PeerState) -> bool {
        st.link.is_none()
            && !st.dialing
            && st.inbound == 0
            && st.outbound == 0
            && self.pending.load(Ordering::Acquire) >= MAX_PENDING_DIALS
    }

    /// Forgets `peer`, down and with no known address, if the table holds more than
    /// [`MAX_IDLE_PEERS`] nodes.
    fn forget_if_many(&self, peer: &Arc<Peer>) {
        if rlock(&self.peers).len() > MAX_IDLE_PEERS {
            self.forget(peer, false);
        }
    }

    /// Forgets `peer` if nothing is kept for it: never reached, no known address, nothing
    /// queued or monitored.
    fn forget_if_unknown(&self, peer: &Arc<Peer>) {
        self.forget(peer, true);
    }

    /// Forgets `peer` if it is idle (no link or attempt, nothing queued or monitored, no
    /// known address) and, when `never_up`, was never reached.
    fn forget(&self, peer: &Arc<Peer>, never_up: bool) {
        let mut peers = wlock(&self.peers);
        let mut st = peer.state();
        let idle = st.link.is_none()
            && !st.dialing
            && st.inbound == 0
            && st.outbound == 0
            && (!never_up || !st.ever_up)
            && st.addresses.is_empty()
            && st.queue.is_empty()
            && st.monitors.is_empty()
            && st.lmon.is_empty();
        if idle && peers.get(&peer.id).is_some_and(|p| Arc::ptr_eq(p, peer)) {
            st.forgotten = true;
            peers.remove(&peer.id);
        }
    }

    /// Adds our monitor `id` of port `name` on `node` (its node port when `name` is empty):
    /// the first monitor of a port sends `mon1`; a node we are not connected to is dialled,
    /// so that one we cannot reach is reported. Refused (the action and the reason handed
    /// back) when the connection attempt it needs is over the limit.
    pub(crate) fn monitor(
        self: &Arc<Self>,
        node: &str,
        name: &str,
        id: u64,
        action: Action,
    ) -> Result<(), (Action, Vec<Value>)> {
        let refused = self.with_peer(node, |peer, st| {
            if self.must_refuse(st) {
                return Some((peer.clone(), action));
            }
            let first = !st.monitors.contains_key(name);
            st.monitors
                .entry(name.to_owned())
                .or_default()
                .push((id, action));
            if first && !name.is_empty() {
                let body = crate::wire::mon1(name);
                match &st.link {
                    Some(link) => {
                        let _ = outbox::put(&link.sender, "", &body);
                    }
                    None => {
                        st.queue.push((String::new(), body, None));
                        self.ensure_dial(peer, st);
                    }
                }
            } else if name.is_empty() && st.link.is_none() {
                self.ensure_dial(peer, st);
            }
            None
        });
        match refused {
            Some((peer, action)) => {
                self.forget_if_unknown(&peer);
                Err((action, crate::wire::transport_error(node, TOO_MANY_DIALS)))
            }
            None => Ok(()),
        }
    }

    /// Removes our monitor `id` of port `name` on `node`; the last one sends `mon0`.
    pub(crate) fn unmonitor(&self, node: &str, name: &str, id: u64) {
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
            if let (false, Some(link)) = (name.is_empty(), &st.link) {
                let _ = outbox::put(&link.sender, "", &crate::wire::mon0(name));
            }
        }
    }

    /// `kil0` from `node`: its port `name` died; our monitors of it, to fire.
    pub(crate) fn take_monitors(&self, node: &str, name: &str) -> Monitors {
        self.known_peer(node)
            .and_then(|p| p.state().monitors.remove(name))
            .unwrap_or_default()
    }

    /// `node` monitors our port `name` (`mon1`), or no longer (`mon0`).
    pub(crate) fn set_monitored_by(&self, node: &str, name: &str, on: bool) {
        if on {
            self.with_peer(node, |_, st| st.lmon.insert(name.to_owned()));
        } else if let Some(peer) = self.known_peer(node) {
            peer.state().lmon.remove(name);
        }
    }

    /// Our port `name`, monitored by `node`, died: tell it with `kil0` if it is connected
    /// (a node that is not learns of its own loss).
    pub(crate) fn tell_killed(&self, node: &str, name: &str, reason: &[Value]) {
        if let Some(peer) = self.known_peer(node) {
            let mut st = peer.state();
            if let Some(link) = &st.link {
                let _ = outbox::put(&link.sender, "", &crate::wire::kil0(name, reason));
            }
            st.lmon.remove(name);
        }
    }

    /// Closes the link to `node` (writing out what is queued first), as if it was lost.
    pub(crate) fn disconnect(self: &Arc<Self>, node: &str, text: &str) {
        if let Some(peer) = self.known_peer(node) {
            let generation = peer.state().link.as_ref().map(|l| l.generation);
            if let Some(generation) = generation {
                self.link_down(&peer, generation, text);
            }
        }
    }

    /// Refuses new links and closes every link, writing out what is queued first.
    pub(crate) async fn shutdown(self: &Arc<Self>) {
        self.shutting_down.store(true, Ordering::Release);
        let mut senders = Vec::new();
        for peer in self.all_peers() {
            if let Some(sender) = peer.state().link.as_ref().map(|l| l.sender.clone()) {
                senders.push(sender);
            }
            self.disconnect(&peer.id, "node shut down");
        }
        for sender in senders {
            let _ = sender.close().await;
        }
    }
}
