//! One link: made the node's link when its connection completes, read until it ends, lost
//! (everything that depended on it learns so), and kept alive by the heartbeat between aemp
//! nodes.

use std::sync::{Arc, Weak};
use std::time::Duration;

use aemp_transport::{Connection, Receiver, Sender};

use super::{outbox, Links, NodeEvent, Origin, Peer};
use crate::port::Route;

/// The heartbeat between aemp nodes: by default an empty message every second on an idle
/// link, and a link silent for 5 s (at least three of the peer's intervals) is lost.
///
/// ```
/// use std::time::Duration;
/// let hb = aemp_actor::Heartbeat::default();
/// assert_eq!((hb.interval, hb.timeout), (Duration::from_secs(1), Duration::from_secs(5)));
/// ```
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
            timeout: Duration::from_secs(5),
        }
    }
}

/// The connection of an up node.
pub(super) struct Link {
    pub(super) sender: Sender,
    pub(super) generation: u64,
    /// The peer takes trace contexts (its greeting offered them).
    pub(super) traced: bool,
}

impl Links {
    /// A connection completed: make it the node's link, unless one is up already.
    pub(super) fn register_link(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        conn: Connection,
        origin: Origin,
    ) {
        let heartbeat = self.settings.heartbeat.and_then(|hb| {
            let theirs = conn.info().greeting.key(crate::wire::HEARTBEAT_KEY)?;
            let theirs = Duration::try_from_secs_f64(theirs.parse::<f64>().ok()?).ok()?;
            Some((hb.interval, hb.timeout.max(theirs * 3)))
        });
        let traced = conn.info().greeting.key(crate::trace::TRACE_KEY).is_some();
        let (sender, receiver) = conn.split();
        let generation = {
            let mut st = peer.state();
            match origin {
                Origin::Inbound => st.inbound = st.inbound.saturating_sub(1),
                Origin::Outbound => st.outbound = st.outbound.saturating_sub(1),
            }
            if st.link.is_some() || self.is_shutting_down() {
                // Already connected (a race the hooks cannot catch: a peer that does not
                // follow their rules, as a Perl node dialling at the same moment): keep the
                // first link. (Who waits for this connection's outcome looks again.)
                drop(st);
                peer.linked.notify_waiters();
                return;
            }
            st.generation += 1;
            st.ever_up = true;
            let generation = st.generation;
            for (name, body, trace) in std::mem::take(&mut st.queue) {
                if let Some(ctx) = trace.filter(|_| traced) {
                    let _ = outbox::put(&sender, "", &ctx.to_wire());
                }
                if let Err(e) = outbox::put(&sender, &name, &body) {
                    tracing::warn!(node = %peer.id, port = %name, error = %e, "message queued while connecting cannot be sent");
                }
            }
            st.link = Some(Link {
                sender: sender.clone(),
                generation,
                traced,
            });
            let _ = self.events.send(NodeEvent::Up(peer.id.to_string()));
            generation
        };
        peer.linked.notify_waiters();
        tracing::info!(node = %peer.id, "node up");
        let hb_timeout = heartbeat.map(|(_, timeout)| timeout);
        // The connection's span: what is logged while reading it carries the node.
        let span = tracing::info_span!("aemp.link", node = %peer.id, generation);
        self.runtime.spawn(tracing::Instrument::instrument(
            self.clone().read(
                peer.clone(),
                receiver,
                sender.clone(),
                generation,
                hb_timeout,
            ),
            span,
        ));
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

    /// The reader task of a link: hands each message to the node, in order, and waits when
    /// the node asks it to (backpressure). It also waits while the link's own send buffer is
    /// full (what the peer asked for piles up because it does not read): a peer that reads
    /// nothing costs at most its send buffer, and its link is given up when writing to it
    /// makes no progress for `monitor_timeout`. Ends with the link.
    async fn read(
        self: Arc<Self>,
        peer: Arc<Peer>,
        mut rx: Receiver,
        sender: Sender,
        generation: u64,
        hb_timeout: Option<Duration>,
    ) {
        /// How many messages the reader handles between looks at the send buffer.
        const CHECK_EVERY: u32 = 64;
        let mut until_check = CHECK_EVERY;
        // The reader keeps the node while its link lasts (no upgrade per message).
        let Some(host) = self.host.upgrade() else {
            return self.link_down(&peer, generation, "node shut down");
        };
        let mut route = Route::default();
        // What the reader has published of the receiver's counts.
        let mut published = aemp_transport::Traffic::default();
        let mut publish = |rx: &Receiver| {
            let now = rx.traffic();
            peer.add_received(
                now.messages - published.messages,
                now.bytes - published.bytes,
            );
            published = now;
        };
        let reason = loop {
            // Messages already received are handled without a timer; only waiting for more
            // is bounded by the heartbeat.
            let next = match rx.try_recv_raw() {
                Ok(Some(msg)) => Ok(Some(msg)),
                Err(e) if !e.is_fatal() => Err(e),
                _ => {
                    // What was gathered is handed over before the reader waits.
                    host.flush(&peer.id, &mut route, false);
                    publish(&rx);
                    match hb_timeout {
                        None => rx.recv_raw().await,
                        Some(limit) => match tokio::time::timeout(limit, rx.recv_raw()).await {
                            Ok(next) => next,
                            Err(_) => {
                                break format!("no heartbeat for {:.1} s", limit.as_secs_f64())
                            }
                        },
                    }
                }
            };
            match next {
                Ok(Some(msg)) => {
                    // A request to the node port (a stats request, say) sees this link's
                    // counts up to itself.
                    if msg.dest_bytes() == Some(b"") {
                        publish(&rx);
                    }
                    if let Some(wait) = host.received(&peer.id, msg, &mut route) {
                        wait.await;
                    }
                    until_check -= 1;
                    if until_check == 0 {
                        until_check = CHECK_EVERY;
                        publish(&rx);
                        if sender.is_full() {
                            host.flush(&peer.id, &mut route, false);
                            if let Err(e) = sender.room().await {
                                break e.to_string();
                            }
                        }
                    }
                }
                Ok(None) => break "connection closed by peer".to_owned(),
                Err(e) if !e.is_fatal() => {
                    tracing::debug!(node = %peer.id, error = %e, "skipped a bad message")
                }
                Err(e) => break e.to_string(),
            }
        };
        host.flush(&peer.id, &mut route, true);
        publish(&rx);
        drop(host);
        self.link_down(&peer, generation, &reason);
    }

    /// The link `generation` of `peer` is lost: everything that depended on it learns so.
    pub(super) fn link_down(self: &Arc<Self>, peer: &Arc<Peer>, generation: u64, text: &str) {
        let reason = crate::wire::transport_error(&peer.id, text);
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
            let _ = self
                .events
                .send(NodeEvent::Down(peer.id.to_string(), reason.clone()));
            (
                std::mem::take(&mut st.monitors),
                std::mem::take(&mut st.lmon),
            )
        };
        tracing::info!(node = %peer.id, reason = text, "node down");
        if let Some(host) = self.host.upgrade() {
            host.fire(monitors.into_values().flatten().collect(), &reason);
            host.forget_remote_monitors(&peer.id, lmon);
        }
        // Messages sent while the link was down went into the queue: connect again for them.
        {
            let mut st = peer.state();
            if !st.queue.is_empty() || !st.monitors.is_empty() {
                self.ensure_dial(peer, &mut st);
            }
        }
        self.forget_if_many(peer);
    }
}

/// Sends an empty message every `interval` while the link lasts, so that an aemp peer can
/// tell a dead connection from an idle one.
async fn beat(
    links: Weak<Links>,
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
        if links.upgrade().is_none() {
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
        if let Err(e) = outbox::beat(&sender) {
            if e.is_fatal() {
                return;
            }
        }
    }
}
