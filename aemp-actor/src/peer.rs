//! Remote nodes: their connection (the link), the queue while connecting, the monitors of
//! their ports, and how connections are made, chosen and lost.
//!
//! One link per node. When two nodes dial each other at once, the connection dialled by the
//! node with the smaller id wins: the handshake hooks refuse the other one before either is
//! used, so no message travels on the loser and no monitor fires.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aemp_transport::{Connection, Receiver, Sender, Value};

use crate::events::NodeEvent;
use crate::monitor::Action;
use crate::node::NodeInner;
use crate::port::lock;

/// A remote node as this node knows it.
pub(crate) struct Peer {
    pub(crate) id: Arc<str>,
    state: Mutex<PeerState>,
    /// Woken when a link comes up.
    linked: tokio::sync::Notify,
}

#[derive(Default)]
pub(crate) struct PeerState {
    pub(crate) link: Option<Link>,
    /// Messages (port name, body) waiting for the connection. Bounded in time: the connect
    /// attempt ends within `connect_interval`, and then they are sent or dropped (with the
    /// monitors firing).
    queue: Vec<(String, Vec<Value>)>,
    /// A dial to this node (by its id) is under way.
    pub(crate) dialing: bool,
    /// Inbound handshakes from this node that passed the greeting check.
    pub(crate) inbound: u32,
    pub(crate) addresses: Vec<String>,
    /// Our monitors on this node's ports: port name -> (monitor id, action).
    pub(crate) monitors: HashMap<String, Vec<(u64, Action)>>,
    /// Our ports this node monitors.
    pub(crate) lmon: HashSet<String>,
    generation: u64,
}

pub(crate) struct Link {
    pub(crate) sender: Sender,
    generation: u64,
}

/// How a connection came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// We accepted it (and the accept hook counted it in `inbound`).
    Inbound,
    /// We dialled an address (`Node::connect`).
    Explicit,
}

impl PeerState {
    pub(crate) fn queue_push(&mut self, name: &str, body: Vec<Value>) {
        self.queue.push((name.to_owned(), body));
    }
}

impl Peer {
    pub(crate) fn new(id: Arc<str>) -> Peer {
        Peer {
            id,
            state: Mutex::new(PeerState::default()),
            linked: tokio::sync::Notify::new(),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, PeerState> {
        lock(&self.state)
    }

    pub(crate) fn is_up(&self) -> bool {
        self.state().link.is_some()
    }

    /// Waits until a link is up.
    pub(crate) async fn link_up(&self) {
        loop {
            let woken = self.linked.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.is_up() {
                return;
            }
            woken.await;
        }
    }
}

/// Puts `[name, body...]` on a link. On a JSON link, byte strings (which Perl nodes send
/// for most of their strings over CBOR) go out as JSON strings, read as Perl reads them
/// (UTF-8, else Latin-1): to Perl they are strings, and JSON::XS would write them so. The
/// transport itself refuses bytes in JSON; this is the kernel's decision, made here only.
pub(crate) fn put(
    sender: &Sender,
    name: &str,
    body: &[Value],
) -> Result<(), aemp_transport::Error> {
    match sender.send_now(name, body) {
        Err(aemp_transport::Error::Encode {
            framing: aemp_transport::Framing::Json,
            ..
        }) if has_bytes(body) => {
            let body: Vec<Value> = body.iter().map(bytes_as_text).collect();
            sender.send_now(name, &body)
        }
        other => other,
    }
}

fn has_bytes(values: &[Value]) -> bool {
    values.iter().any(|v| match v {
        Value::Bytes(_) => true,
        Value::Array(a) => has_bytes(a),
        Value::Map(m) => m
            .iter()
            .any(|(k, v)| has_bytes(std::slice::from_ref(k)) || has_bytes(std::slice::from_ref(v))),
        _ => false,
    })
}

fn bytes_as_text(v: &Value) -> Value {
    match v {
        Value::Bytes(_) => Value::Text(v.to_text().map(|t| t.into_owned()).unwrap_or_default()),
        Value::Array(a) => Value::Array(a.iter().map(bytes_as_text).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (bytes_as_text(k), bytes_as_text(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The reason monitors get when a node is lost: `["transport_error", node, text]`.
pub(crate) fn transport_error(node: &str, text: &str) -> Vec<Value> {
    vec![
        Value::from("transport_error"),
        Value::from(node),
        Value::from(text),
    ]
}

impl NodeInner {
    /// Sends `[name, body...]` to a remote node: at once if connected, else queued and a
    /// connection started. Encoding errors are returned; a message queued for a connection
    /// that is never made is dropped and the node's monitors fire.
    pub(crate) fn send_remote(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        name: &str,
        body: Vec<Value>,
    ) -> Result<(), crate::Error> {
        let mut st = peer.state();
        if let Some(link) = &st.link {
            return match put(&link.sender, name, &body) {
                Ok(()) => Ok(()),
                // The link is going down: its monitors fire, as for any message in flight.
                Err(e) if e.is_fatal() => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        st.queue.push((name.to_owned(), body));
        self.ensure_dial(peer, &mut st);
        Ok(())
    }

    /// Starts a dial unless one is under way or a connection is being made or up.
    pub(crate) fn ensure_dial(self: &Arc<Self>, peer: &Arc<Peer>, st: &mut PeerState) {
        if st.link.is_some() || st.dialing || st.inbound > 0 || self.is_shutting_down() {
            return;
        }
        st.dialing = true;
        let (node, peer) = (self.clone(), peer.clone());
        self.runtime.spawn(async move { node.dial(peer).await });
    }

    async fn dial(self: Arc<Self>, peer: Arc<Peer>) {
        let mut addresses = peer.state().addresses.clone();
        if addresses.is_empty() {
            // Ask the global database (or our master, with g_find) where the node listens.
            let found =
                tokio::time::timeout(self.settings.connect_interval, self.find_node(&peer.id))
                    .await;
            match found {
                Ok(Some(found)) => {
                    peer.state().addresses = found.clone();
                    addresses = found;
                }
                _ => return self.dial_failed(&peer, "no known address"),
            }
        }
        let started = tokio::time::Instant::now();
        let attempt = async {
            let mut last = String::new();
            let mut refused = false;
            for addr in &addresses {
                match self.connect_addr(addr).await {
                    Ok(id) => return Ok(id),
                    Err(e) => {
                        // The peer hung up after our greeting (its hook refused us).
                        refused = matches!(
                            &e,
                            crate::Error::Transport(aemp_transport::Error::ClosedDuringHandshake {
                                during: "auth line"
                            })
                        ) || matches!(&e, crate::Error::Dial { reason, .. } if reason.contains("waiting for the auth line"));
                        last = format!("{addr}: {e}");
                    }
                }
            }
            Err((last, refused))
        };
        let deadline = self.settings.connect_interval;
        match tokio::time::timeout(deadline, attempt).await {
            Err(_) => self.dial_failed(&peer, "connect timeout"),
            Ok(Err((e, refused))) => {
                if refused && *peer.id < *self.id {
                    // When both dial at once, the one with the smaller id keeps its own
                    // connection. Give that one time to arrive.
                    let left = deadline.saturating_sub(started.elapsed());
                    let _ = tokio::time::timeout(left, peer.link_up()).await;
                }
                self.dial_failed(&peer, &e)
            }
            Ok(Ok(id)) if id == *peer.id => {
                peer.state().dialing = false;
                self.maybe_fail(&peer, "connection lost at once");
            }
            Ok(Ok(other)) => {
                self.dial_failed(&peer, &format!("its address answered as node {other}"))
            }
        }
    }

    fn dial_failed(self: &Arc<Self>, peer: &Arc<Peer>, text: &str) {
        peer.state().dialing = false;
        self.maybe_fail(peer, text);
    }

    pub(crate) fn inbound_failed(self: &Arc<Self>, peer: &Arc<Peer>, text: &str) {
        {
            let mut st = peer.state();
            st.inbound = st.inbound.saturating_sub(1);
        }
        self.maybe_fail(peer, text);
    }

    /// When no connection is up or under way any more: drop the queue, fire the monitors.
    fn maybe_fail(self: &Arc<Self>, peer: &Arc<Peer>, text: &str) {
        let (queue, monitors) = {
            let mut st = peer.state();
            if st.link.is_some() || st.dialing || st.inbound > 0 {
                return;
            }
            (
                std::mem::take(&mut st.queue),
                std::mem::take(&mut st.monitors),
            )
        };
        if !queue.is_empty() || !monitors.is_empty() {
            tracing::debug!(node = %peer.id, reason = text, dropped = queue.len(), "cannot connect");
        }
        let reason = transport_error(&peer.id, text);
        for (_, actions) in monitors {
            for (_, action) in actions {
                self.fire(action, &reason);
            }
        }
    }

    /// A connection completed: make it the node's link, unless one is up already.
    pub(crate) fn register_link(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        conn: Connection,
        origin: Origin,
    ) {
        let heartbeat = self.settings.heartbeat.and_then(|hb| {
            let theirs = conn.info().greeting.key(crate::node::HEARTBEAT_KEY)?;
            let theirs = Duration::try_from_secs_f64(theirs.parse::<f64>().ok()?).ok()?;
            Some((hb.interval, hb.timeout.max(theirs * 3)))
        });
        let (sender, receiver) = conn.split();
        let generation = {
            let mut st = peer.state();
            match origin {
                Origin::Inbound => st.inbound = st.inbound.saturating_sub(1),
                Origin::Explicit => {}
            }
            if st.link.is_some() || self.is_shutting_down() {
                // Already connected (a race the hooks did not catch): keep the first link.
                return;
            }
            st.generation += 1;
            let generation = st.generation;
            for (name, body) in std::mem::take(&mut st.queue) {
                if let Err(e) = put(&sender, &name, &body) {
                    tracing::warn!(node = %peer.id, port = %name, error = %e, "message queued while connecting cannot be sent");
                }
            }
            st.link = Some(Link {
                sender: sender.clone(),
                generation,
            });
            let _ = self.events.send(NodeEvent::Up(peer.id.to_string()));
            generation
        };
        peer.linked.notify_waiters();
        tracing::info!(node = %peer.id, "node up");
        let hb_timeout = heartbeat.map(|(_, timeout)| timeout);
        self.runtime.spawn(
            self.clone()
                .read_link(peer.clone(), receiver, generation, hb_timeout),
        );
        if let Some((interval, _)) = heartbeat {
            self.runtime.spawn(beat(
                Arc::downgrade(self),
                peer.clone(),
                sender,
                generation,
                interval,
            ));
        }
    }

    async fn read_link(
        self: Arc<Self>,
        peer: Arc<Peer>,
        mut rx: Receiver,
        generation: u64,
        hb_timeout: Option<Duration>,
    ) {
        let reason = loop {
            // Messages already received are handled without a timer; only waiting for more
            // is bounded by the heartbeat.
            let next = match rx.try_recv() {
                Ok(Some(msg)) => Ok(Some(msg)),
                Err(e) if !e.is_fatal() => Err(e),
                _ => match hb_timeout {
                    None => rx.recv().await,
                    Some(limit) => match tokio::time::timeout(limit, rx.recv()).await {
                        Ok(next) => next,
                        Err(_) => break format!("no heartbeat for {:.1} s", limit.as_secs_f64()),
                    },
                },
            };
            match next {
                Ok(Some(msg)) => self.dispatch(&peer.id, msg),
                Ok(None) => break "connection closed by peer".to_owned(),
                Err(e) if !e.is_fatal() => {
                    tracing::debug!(node = %peer.id, error = %e, "skipped a bad message")
                }
                Err(e) => break e.to_string(),
            }
        };
        self.link_down(&peer, generation, &reason);
    }

    /// Closes the link to `peer`, if up, as if it was lost with `text`.
    pub(crate) fn disconnect(self: &Arc<Self>, peer: &Arc<Peer>, text: &str) {
        let generation = peer.state().link.as_ref().map(|l| l.generation);
        if let Some(generation) = generation {
            self.link_down(peer, generation, text);
        }
    }

    /// The link `generation` of `peer` is lost: everything that depended on it learns so.
    pub(crate) fn link_down(self: &Arc<Self>, peer: &Arc<Peer>, generation: u64, text: &str) {
        let (monitors, lmon) = {
            let mut st = peer.state();
            if st.link.as_ref().is_none_or(|l| l.generation != generation) {
                return;
            }
            if let Some(link) = st.link.take() {
                // Write what is queued and close our side; the reader ends with the peer's.
                self.runtime.spawn(async move {
                    let _ = link.sender.close().await;
                });
            }
            let reason = transport_error(&peer.id, text);
            let _ = self
                .events
                .send(NodeEvent::Down(peer.id.to_string(), reason));
            (
                std::mem::take(&mut st.monitors),
                std::mem::take(&mut st.lmon),
            )
        };
        tracing::info!(node = %peer.id, reason = text, "node down");
        let reason = transport_error(&peer.id, text);
        for (_, actions) in monitors {
            for (_, action) in actions {
                self.fire(action, &reason);
            }
        }
        for name in lmon {
            if let Some(port) = self.local_port(&name) {
                port.mailbox()
                    .monitors
                    .retain(|(_, a)| !matches!(a, Action::Remote { node, .. } if *node == peer.id));
            }
        }
        // Messages sent while the link was down went into the queue: connect again for them.
        let mut st = peer.state();
        if !st.queue.is_empty() || !st.monitors.is_empty() {
            self.ensure_dial(peer, &mut st);
        }
    }
}

/// Sends an empty message every `interval` while the link lasts, so that an aemp peer can
/// tell a dead connection from an idle one (Perl ignores `[]`).
async fn beat(
    node: std::sync::Weak<NodeInner>,
    peer: Arc<Peer>,
    sender: Sender,
    generation: u64,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if node.upgrade().is_none() {
            return;
        }
        if peer
            .state()
            .link
            .as_ref()
            .is_none_or(|l| l.generation != generation)
        {
            return;
        }
        if let Err(e) = sender.try_send(&[]) {
            if e.is_fatal() {
                return;
            }
        }
    }
}
