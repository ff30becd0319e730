//! Making links: dialling an address (one dial per address at a time; concurrent callers
//! share its outcome), dialling a node by id (its known addresses, else the global database),
//! accepting, and choosing between the two connections of a simultaneous connect.
//!
//! The choice is made by the greeting hooks, before either connection is used, so no message
//! travels on the loser and no monitor fires. When a node learns the id at the other end of
//! a connection (its greeting), it refuses:
//! - its own dial, if a connection from that node is being made already (passed our accept
//!   hook): that one is waited for;
//! - a connection from that node, if its own dial to it is past its greeting (so it reached
//!   that very node) and its id is the smaller: the smaller id's dial wins.
//!
//! Between aemp nodes at most one of the two connections survives, whatever the order the
//! four greetings arrive in. In the one order where neither does (each node accepted the
//! other's connection before the greeting of its own dial came back, and refused its own
//! dial for it), both dials see the connection they waited for fail and dial again, the
//! larger id a moment later so that the smaller's dial arrives first.
//!
//! A connection counted as being made has not authenticated yet (anyone may send a greeting
//! with any id), so from half the connect interval on a dial no longer defers to one: a
//! stalled (or ever reconnecting) impostor delays a dial, it cannot stop it. The price: when
//! the real node's own connection takes that long, both may complete, and the two nodes may
//! keep different ones (a link that goes down once, as between Perl nodes). A Perl node,
//! which refuses only when connected already, can do the same when it dials at the moment
//! we do.
//!
//! Every dial is bounded by the connect interval, and a dial given up (its future dropped)
//! leaves nothing behind: its count on the peer, and its entry among the dials under way,
//! go with it.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Links, Peer, PeerState};
use crate::error::DialError;
use crate::sync::lock;

/// The peer a connection's hook counted the connection for (in `inbound` or `outbound`).
type Claimed = Arc<Mutex<Option<Arc<Peer>>>>;

/// How a connection came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// We accepted it (and the accept hook counted it in `inbound`).
    Inbound,
    /// We dialled an address (and the dial hook counted it in `outbound`).
    Outbound,
}

impl Links {
    /// Connects to the node at `addr` and registers the connection; its id once the
    /// connection is up. Concurrent dials of one address share one attempt, so that a node
    /// never makes two connections to one peer at once (the two sides could keep different
    /// ones).
    pub(crate) async fn connect_addr(self: &Arc<Self>, addr: &str) -> Result<String, DialError> {
        self.connect_addr_in(addr, Window::from_now(self.settings.connect_interval))
            .await
    }

    /// [`connect_addr`](Self::connect_addr) within `window` (a dial by id gives its own).
    async fn connect_addr_in(
        self: &Arc<Self>,
        addr: &str,
        window: Window,
    ) -> Result<String, DialError> {
        loop {
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
            let Some(rx) = joined else { break };
            match rx.await {
                Ok(result) => return result,
                // The dial it joined was given up (its caller's future dropped): lead one.
                Err(_) if !self.is_shutting_down() => continue,
                Err(_) => return Err(DialError::Shutdown),
            }
        }
        // The address's entry goes with this dial however it ends (given up included), so
        // that later dials of the address do not join one that is gone.
        let mut lead = LeadDial {
            links: self,
            addr,
            finished: false,
        };
        let result = self.dial_once(addr, window).await;
        for waiter in lead.finish() {
            let _ = waiter.send(result.clone());
        }
        result
    }

    async fn dial_once(self: &Arc<Self>, addr: &str, window: Window) -> Result<String, DialError> {
        let Window { deadline, .. } = window;
        let interval = window.length();
        let mut retries = 0u32;
        loop {
            // A connection from the same node that our hook defers to has not authenticated
            // yet: anyone may send a greeting with any id. From half the window on this dial
            // goes on regardless of such connections (see the module documentation).
            let insist = tokio::time::Instant::now() >= window.half();
            let claim = OutboundClaim {
                peer: Arc::default(),
                links: Arc::downgrade(self),
            };
            let config = self.dial_config(&claim.peer, insist);
            let connecting = aemp_transport::connect(addr, &config);
            let Ok(result) = tokio::time::timeout_at(deadline, connecting).await else {
                if let Some(peer) = claim.take() {
                    uncount_outbound(&peer);
                    self.maybe_fail(&peer, "connect timeout");
                }
                return Err(DialError::Timeout {
                    addr: addr.to_owned(),
                    after: interval,
                });
            };
            self.count_handshake(&result);
            let claimed = claim.take();
            let node = match (result, claimed) {
                (Ok(conn), Some(peer)) => {
                    let id = conn.info().node_id.clone();
                    self.with_known_address(&id, addr);
                    self.register_link(&peer, conn, Origin::Outbound);
                    return Ok(id);
                }
                (Ok(conn), None) => {
                    // It answered in a sub-protocol (no node checks ran): not a node link.
                    return Err(dial_error(
                        addr,
                        aemp_transport::Error::ProtocolMismatch {
                            expected: aemp_transport::PROTOCOL.to_owned(),
                            got: conn.info().protocol.clone(),
                        },
                    ));
                }
                (Err(aemp_transport::Error::AlreadyConnected { node }), claimed) => {
                    // (Our hook refused before claiming: nothing to uncount, but be sure.)
                    if let Some(peer) = claimed {
                        uncount_outbound(&peer);
                    }
                    node
                }
                (Err(e), None) => return Err(dial_error(addr, e)),
                (Err(e), Some(peer)) => {
                    let refused = closed_after_greeting(&e);
                    if !refused {
                        uncount_outbound(&peer);
                        self.maybe_fail(&peer, &e.to_string());
                        return Err(dial_error(addr, e));
                    }
                    // It refused us after the greeting: it is connected to us already, or
                    // its own dial to us wins. That connection is the link. (The address
                    // is noted while our count still keeps the peer's entry.)
                    self.with_known_address(&peer.id, addr);
                    uncount_outbound(&peer);
                    if tokio::time::timeout_at(deadline, peer.link_up())
                        .await
                        .is_ok()
                    {
                        return Ok(peer.id.to_string());
                    }
                    let e = DialError::NotUp {
                        addr: addr.to_owned(),
                        node: peer.id.to_string(),
                    };
                    self.maybe_fail(&peer, &e.to_string());
                    return Err(e);
                }
            };
            // Up already, or its own connection to us is being made: wait for that one.
            let peer = self.with_known_address(&node, addr);
            let settled = crate::sync::until(&peer.linked, || {
                let st = peer.state();
                st.link.is_some() || st.inbound == 0
            });
            let not_up = || DialError::NotUp {
                addr: addr.to_owned(),
                node: node.clone(),
            };
            let patience = if insist { deadline } else { window.half() };
            if tokio::time::timeout_at(patience, settled).await.is_err() {
                if tokio::time::Instant::now() >= deadline {
                    return Err(not_up());
                }
                // Half the interval went by: dial again, insisting.
                continue;
            }
            if peer.is_up() {
                return Ok(node);
            }
            // That connection failed (both nodes refused their own dial for the other's):
            // ours is needed after all. The larger id dials a moment later, so that the
            // smaller's dial arrives first and is taken; and each retry waits longer than the
            // one before (a peer whose connections keep failing is not dialled in a storm).
            let mut pause = std::time::Duration::from_millis(5) * ((1 << retries.min(6)) - 1);
            if *node < *self.id {
                pause += std::time::Duration::from_millis(fastrand::u64(10..=50));
            }
            retries += 1;
            let until = deadline.min(tokio::time::Instant::now() + pause);
            if tokio::time::timeout_at(until, peer.link_up()).await.is_ok() {
                return Ok(node);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(not_up());
            }
        }
    }

    /// The peer `id`, with `addr` among its known addresses.
    fn with_known_address(&self, id: &str, addr: &str) -> Arc<Peer> {
        self.with_peer(id, |peer, st| {
            if !st.addresses.iter().any(|a| a == addr) {
                st.addresses.insert(0, addr.to_owned());
            }
            peer.clone()
        })
    }

    /// A transport config for dialling, with the hook that refuses a second connection (see
    /// the module documentation; when `insist`ing, only one that is up) and counts this one
    /// among the peer's `outbound` (the peer goes to `claimed`).
    fn dial_config(self: &Arc<Self>, claimed: &Claimed, insist: bool) -> aemp_transport::Config {
        let links = Arc::downgrade(self);
        let slot = claimed.clone();
        self.transport.clone().already_connected(move |id| {
            let Some(links) = links.upgrade() else {
                return true;
            };
            links.with_peer(id, |peer, st| {
                // Connected already, or a connection from it is being made: that one is used.
                if st.link.is_some() || (st.inbound > 0 && !insist) {
                    return true;
                }
                st.outbound += 1;
                *lock(&slot) = Some(peer.clone());
                false
            })
        })
    }

    /// Runs the handshake of an accepted connection and registers it.
    pub(crate) async fn accept(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let claimed: Claimed = Arc::default();
        let links = Arc::downgrade(&self);
        let slot = claimed.clone();
        let config = self.transport.clone().already_connected(move |id| {
            let Some(links) = links.upgrade() else {
                return true;
            };
            links.with_peer(id, |peer, st| {
                // Connected already, or our own dial to it (past its greeting: it reached
                // that node) wins: we have the smaller id.
                if st.link.is_some() || (st.outbound > 0 && &*links.id < id) {
                    return true;
                }
                st.inbound += 1;
                *lock(&slot) = Some(peer.clone());
                false
            })
        });
        let result = aemp_transport::accept(stream, &config).await;
        self.count_handshake(&result);
        let claimed = lock(&claimed).take();
        match (result, claimed) {
            (Ok(conn), Some(peer)) => self.register_link(&peer, conn, Origin::Inbound),
            (Ok(conn), None) => {
                // A sub-protocol connection (no node checks): not a node link.
                tracing::debug!(protocol = %conn.info().protocol, node = %conn.info().node_id, "connection of an unsupported sub-protocol, closed");
            }
            (Err(e), Some(peer)) => {
                tracing::debug!(node = %peer.id, error = %e, "inbound handshake failed");
                {
                    let mut st = peer.state();
                    st.inbound = st.inbound.saturating_sub(1);
                }
                // A dial of ours that waited for this connection looks again.
                peer.linked.notify_waiters();
                self.maybe_fail(&peer, &e.to_string());
            }
            (Err(e), None) => tracing::debug!(error = %e, "inbound handshake failed"),
        }
    }

    /// Starts a dial unless one is under way or a connection is being made or up.
    pub(super) fn ensure_dial(self: &Arc<Self>, peer: &Arc<Peer>, st: &mut PeerState) {
        // (A connection from it being made does not stop the dial: the dial waits for that
        // one first, but not for ever, for it is not authenticated yet.)
        if st.link.is_some() || st.dialing || st.outbound > 0 || self.is_shutting_down() {
            return;
        }
        st.dialing = true;
        self.pending
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let (links, peer) = (self.clone(), peer.clone());
        self.runtime.spawn(async move {
            links.clone().dial(peer).await;
            links
                .pending
                .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        });
    }

    /// Dials `peer` by id: its known addresses, else those the global database gives.
    async fn dial(self: Arc<Self>, peer: Arc<Peer>) {
        let window = Window::from_now(self.settings.connect_interval);
        // A connection from it is being made: wait for that one first (for half the window
        // at most: it is not authenticated yet), rather than dial to be refused by our hook.
        let settled = crate::sync::until(&peer.linked, || {
            let st = peer.state();
            st.link.is_some() || st.inbound == 0
        });
        let _ = tokio::time::timeout_at(window.half(), settled).await;
        if peer.is_up() {
            peer.state().dialing = false;
            return;
        }
        let mut addresses = peer.state().addresses.clone();
        if addresses.is_empty() {
            let found = match self.host.upgrade() {
                Some(host) => {
                    tokio::time::timeout_at(window.deadline, host.find_addresses(&peer.id))
                        .await
                        .ok()
                        .flatten()
                }
                None => None,
            };
            match found {
                Some(found) => {
                    peer.state().addresses = found.clone();
                    addresses = found;
                }
                None => return self.dial_failed(&peer, "no known address"),
            }
        }
        // (A peer that refuses a dial because its own connection to us wins is waited for
        // by `dial_once`.)
        let attempt = async {
            let mut last = String::new();
            for addr in &addresses {
                match self.connect_addr_in(addr, window).await {
                    Ok(id) => return Ok(id),
                    // (AnyEvent::MP's text for it.)
                    Err(DialError::Timeout { .. }) => last = "connect timeout".to_owned(),
                    Err(e) => last = format!("{addr}: {e}"),
                }
            }
            Err(last)
        };
        // (Each address's dial ends with the window; one joined from another caller ends
        // with that caller's, a little later at most.)
        let slack = window.length() / 4;
        match tokio::time::timeout_at(window.deadline + slack, attempt).await {
            Err(_) => self.dial_failed(&peer, "connect timeout"),
            Ok(Err(e)) => self.dial_failed(&peer, &e),
            Ok(Ok(id)) if id == *peer.id => self.dial_failed(&peer, "connection lost at once"),
            Ok(Ok(other)) => {
                self.dial_failed(&peer, &format!("its address answered as node {other}"))
            }
        }
    }

    fn dial_failed(self: &Arc<Self>, peer: &Arc<Peer>, text: &str) {
        peer.state().dialing = false;
        self.maybe_fail(peer, text);
    }

    /// When no connection is up or under way any more: drop the queue, fire the monitors.
    fn maybe_fail(self: &Arc<Self>, peer: &Arc<Peer>, text: &str) {
        let (queue, monitors) = {
            let mut st = peer.state();
            if st.link.is_some() || st.dialing || st.inbound > 0 || st.outbound > 0 {
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
        if !monitors.is_empty() {
            if let Some(host) = self.host.upgrade() {
                let reason = crate::wire::transport_error(&peer.id, text);
                host.fire(monitors.into_values().flatten().collect(), &reason);
            }
        }
        self.forget_if_unknown(peer);
    }
}

/// The claim of a dial on the peer its hook counted it for (in `outbound`): uncounted if it
/// goes before the connection is registered or its failure handled (the dial's future was
/// dropped: a caller that gave up).
struct OutboundClaim {
    peer: Claimed,
    links: std::sync::Weak<Links>,
}

impl OutboundClaim {
    /// The claimed peer: from now on, the registration's (or the failure's) to uncount.
    fn take(&self) -> Option<Arc<Peer>> {
        lock(&self.peer).take()
    }
}

impl Drop for OutboundClaim {
    fn drop(&mut self) {
        if let Some(peer) = self.take() {
            uncount_outbound(&peer);
            if let Some(links) = self.links.upgrade() {
                links.maybe_fail(&peer, "the dial was given up");
            }
        }
    }
}

/// A dial of ours to `peer` that passed its greeting ended without a link: it is uncounted,
/// and who waits for the outcome looks again. (Whether the peer's queue and monitors learn
/// of a failure is the caller's to say.)
fn uncount_outbound(peer: &Peer) {
    {
        let mut st = peer.state();
        st.outbound = st.outbound.saturating_sub(1);
    }
    peer.linked.notify_waiters();
}

/// The dial that leads for an address: its entry among the dials under way goes when it
/// ends, given up or not (the callers that joined it then lead one of their own).
struct LeadDial<'a> {
    links: &'a Links,
    addr: &'a str,
    finished: bool,
}

impl LeadDial<'_> {
    /// The callers that joined this dial, to tell its outcome.
    fn finish(&mut self) -> super::DialWaiters {
        self.finished = true;
        lock(&self.links.dials)
            .remove(self.addr)
            .unwrap_or_default()
    }
}

impl Drop for LeadDial<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Given up: the joined callers' channels close, and each leads a dial of its own.
            lock(&self.links.dials).remove(self.addr);
        }
    }
}

/// The error of a dial of `addr` that failed with `e`.
fn dial_error(addr: &str, e: aemp_transport::Error) -> DialError {
    match e {
        aemp_transport::Error::TalkingToMyself { .. } => DialError::Myself {
            addr: addr.to_owned(),
        },
        e => DialError::Transport {
            addr: addr.to_owned(),
            source: Arc::new(e),
        },
    }
}

/// When a dial must be done: from `started` to `deadline`.
#[derive(Clone, Copy, Debug)]
struct Window {
    started: tokio::time::Instant,
    deadline: tokio::time::Instant,
}

impl Window {
    fn from_now(length: std::time::Duration) -> Window {
        let started = tokio::time::Instant::now();
        Window {
            started,
            deadline: started + length,
        }
    }

    fn length(&self) -> std::time::Duration {
        self.deadline - self.started
    }

    /// Its middle: from then on a dial no longer defers to a connection being made.
    fn half(&self) -> tokio::time::Instant {
        self.started + self.length() / 2
    }
}

/// Whether the peer hung up on a handshake after the greetings (its greeting hook refused
/// us: it is connected to us already, or its own dial to us wins), with TLS or without.
fn closed_after_greeting(e: &aemp_transport::Error) -> bool {
    match e {
        aemp_transport::Error::ClosedDuringHandshake { during } => *during != "greeting line",
        aemp_transport::Error::Tls(io) => matches!(
            io.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}
