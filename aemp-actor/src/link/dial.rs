//! Making links: dialling an address (one dial per address at a time; concurrent callers
//! share its outcome), dialling a node by id (its known addresses, else the global database),
//! accepting, and choosing between the two connections of a simultaneous connect (the one
//! dialled by the node with the smaller id wins: the handshake hooks refuse the other before
//! either is used, so no message travels on the loser and no monitor fires).

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Links, Peer, PeerState};
use crate::error::DialError;
use crate::sync::lock;

/// How a connection came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// We accepted it (and the accept hook counted it in `inbound`).
    Inbound,
    /// We dialled an address.
    Explicit,
}

impl Links {
    /// Connects to the node at `addr` and registers the connection; its id once the
    /// connection is up. Concurrent dials of one address share one attempt, so that a node
    /// never makes two connections to one peer at once (the two sides could keep different
    /// ones).
    pub(crate) async fn connect_addr(self: &Arc<Self>, addr: &str) -> Result<String, DialError> {
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
            return rx.await.unwrap_or(Err(DialError::Shutdown));
        }
        let result = self.dial_once(addr).await;
        for waiter in lock(&self.dials).remove(addr).unwrap_or_default() {
            let _ = waiter.send(result.clone());
        }
        result
    }

    async fn dial_once(self: &Arc<Self>, addr: &str) -> Result<String, DialError> {
        let config = self.dial_config();
        let add = |id: &str| {
            self.with_peer(id, |peer, st| {
                if !st.addresses.iter().any(|a| a == addr) {
                    st.addresses.insert(0, addr.to_owned());
                }
                peer.clone()
            })
        };
        let result = aemp_transport::connect(addr, &config).await;
        self.count_handshake(&result);
        match result {
            Ok(conn) => {
                let id = conn.info().node_id.clone();
                let peer = add(&id);
                self.register_link(&peer, conn, Origin::Explicit);
                Ok(id)
            }
            Err(aemp_transport::Error::AlreadyConnected { node }) => {
                // Up already, or its own connection to us is being made: wait for that.
                let peer = add(&node);
                match tokio::time::timeout(self.settings.connect_interval, peer.link_up()).await {
                    Ok(()) => Ok(node),
                    Err(_) => Err(DialError::NotUp {
                        addr: addr.to_owned(),
                        node,
                    }),
                }
            }
            Err(aemp_transport::Error::TalkingToMyself { .. }) => Err(DialError::Myself {
                addr: addr.to_owned(),
            }),
            Err(e) => Err(DialError::Transport {
                addr: addr.to_owned(),
                source: Arc::new(e),
            }),
        }
    }

    /// A transport config for dialling, with the hook that refuses a second connection.
    fn dial_config(self: &Arc<Self>) -> aemp_transport::Config {
        let links = Arc::downgrade(self);
        self.transport.clone().already_connected(move |id| {
            let Some(links) = links.upgrade() else {
                return true;
            };
            // Connected already, or the peer's own dial to us wins (the smaller id's dial).
            links.known_peer(id).is_some_and(|peer| {
                let st = peer.state();
                st.link.is_some() || (st.inbound > 0 && id < &*links.id)
            })
        })
    }

    /// Runs the handshake of an accepted connection and registers it.
    pub(crate) async fn accept(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let claimed: Arc<Mutex<Option<Arc<Peer>>>> = Arc::default();
        let links = Arc::downgrade(&self);
        let slot = claimed.clone();
        let config = self.transport.clone().already_connected(move |id| {
            let Some(links) = links.upgrade() else {
                return true;
            };
            links.with_peer(id, |peer, st| {
                // Connected already, or our own dial to it wins (we have the smaller id).
                if st.link.is_some() || (st.dialing && &*links.id < id) {
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
                self.maybe_fail(&peer, &e.to_string());
            }
            (Err(e), None) => tracing::debug!(error = %e, "inbound handshake failed"),
        }
    }

    /// Starts a dial unless one is under way or a connection is being made or up.
    pub(super) fn ensure_dial(self: &Arc<Self>, peer: &Arc<Peer>, st: &mut PeerState) {
        if st.link.is_some() || st.dialing || st.inbound > 0 || self.is_shutting_down() {
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
        let mut addresses = peer.state().addresses.clone();
        if addresses.is_empty() {
            let found = match self.host.upgrade() {
                Some(host) => tokio::time::timeout(
                    self.settings.connect_interval,
                    host.find_addresses(&peer.id),
                )
                .await
                .ok()
                .flatten(),
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
        let started = tokio::time::Instant::now();
        let attempt = async {
            let mut last = String::new();
            let mut refused = false;
            for addr in &addresses {
                match self.connect_addr(addr).await {
                    Ok(id) => return Ok(id),
                    Err(e) => {
                        refused = e.refused_by_peer();
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
        if !monitors.is_empty() {
            if let Some(host) = self.host.upgrade() {
                let reason = crate::wire::transport_error(&peer.id, text);
                host.fire(monitors.into_values().flatten().collect(), &reason);
            }
        }
        self.forget_if_unknown(peer);
    }
}
