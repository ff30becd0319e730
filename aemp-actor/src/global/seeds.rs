//! Connections the global protocol keeps: to the seeds (with AnyEvent::MP 2.x's backoff),
//! and, on global nodes, to every other global node.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::Global;
use crate::error::DialError;
use crate::link::NodeEvent;
use crate::sync::lock;

/// AnyEvent::MP 2.x's seed retry: (1 + rand) × `base` s (then doubling up to
/// `monitor_timeout`).
fn first_backoff(base: f64) -> Duration {
    // Jitter only: std's randomly keyed hasher is random enough.
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_secs_f64((1.0 + (r % 1000) as f64 / 999.0) * base)
}

/// Waits until `node` is reported down (or the node is gone).
async fn until_down(events: &mut tokio::sync::mpsc::UnboundedReceiver<NodeEvent>, node: &str) {
    while let Some(e) = events.recv().await {
        if let NodeEvent::Down(n, _) = e {
            if n == node {
                return;
            }
        }
    }
}

/// Keeps a connection to the seed at `addr`: sends `g_slave` whenever it comes up, and
/// becomes global if the seed turns out to be this node.
pub(crate) async fn seed_loop(node: Weak<Global>, index: usize, addr: String) {
    let mut backoff = None;
    loop {
        let Some(n) = node.upgrade() else { return };
        if n.links.is_shutting_down() {
            return;
        }
        let cap = n.links.transport().monitor_timeout_value();
        let (mut events, _events) = n.links.event_channel();
        let result =
            tokio::time::timeout(cap.max(Duration::from_secs(1)), n.links.connect_addr(&addr))
                .await;
        match result {
            Ok(Ok(id)) => {
                backoff = None;
                lock(&n.seed_ids)[index] = Some(id.clone());
                tracing::debug!(seed = addr, node = id, "seed connected");
                if let Err(e) = n
                    .links
                    .send(&id, "", vec![aemp_transport::Value::from("g_slave")])
                {
                    tracing::warn!(seed = addr, error = %e, "cannot send g_slave");
                }
                let seeds = n.seed_nodes();
                n.master_search(&seeds);
                drop(n);
                until_down(&mut events, &id).await;
                continue;
            }
            Ok(Err(DialError::Myself { .. })) => {
                tracing::debug!(seed = addr, "this node is a seed: becoming global");
                n.become_global();
                return;
            }
            Ok(Err(e)) => tracing::debug!(seed = addr, error = %e, "seed not reachable"),
            Err(_) => tracing::debug!(seed = addr, "seed connect timed out"),
        }
        let wait = match backoff {
            None => first_backoff(0.6),
            Some(b) => std::cmp::min(b * 2, cap),
        };
        backoff = Some(wait);
        drop(n);
        tokio::time::sleep(wait).await;
    }
}

/// On a global node: keeps a connection to the global node `global`, reconnecting with
/// backoff ((1 + rand) × 0.3 s, doubling up to `monitor_timeout`) while it is known.
pub(crate) async fn keepalive(node: Weak<Global>, global: String) {
    let mut backoff: Option<Duration> = None;
    loop {
        let Some(n) = node.upgrade() else { return };
        if n.links.is_shutting_down() || !n.wants_keepalive(&global) {
            n.state().keepalive.remove(&global);
            return;
        }
        let cap = n.links.transport().monitor_timeout_value();
        let (mut events, _events) = n.links.event_channel();
        if n.links.is_up(&global) == Some(true) {
            drop(n);
            backoff = None;
            until_down(&mut events, &global).await;
            continue;
        }
        let ok = match n.find_node(&global).await {
            Some(addrs) => {
                let mut ok = false;
                for a in addrs {
                    if matches!(n.links.connect_addr(&a).await, Ok(id) if id == global) {
                        ok = true;
                        break;
                    }
                }
                ok
            }
            None => false,
        };
        if ok {
            continue;
        }
        let wait = match backoff {
            None => first_backoff(0.3),
            Some(b) => std::cmp::min(b * 2, cap),
        };
        backoff = Some(wait);
        drop(n);
        tokio::time::sleep(wait).await;
    }
}

impl Global {
    fn wants_keepalive(&self, node: &str) -> bool {
        let st = self.state();
        st.is_global
            && (st.globals.contains(node) || st.merged_value(super::GLOBALS, node).is_some())
    }

    /// Starts keeping a connection to global node `node` (once).
    pub(crate) fn keepalive(self: &Arc<Self>, node: &str) {
        if node == &*self.id {
            return;
        }
        let start = {
            let mut st = self.state();
            st.is_global && st.keepalive.insert(node.to_owned())
        };
        if start {
            self.runtime
                .spawn(keepalive(Arc::downgrade(self), node.to_owned()));
        }
    }

    /// Keeps connections to every global node the database names.
    pub(crate) fn keepalive_known_globals(self: &Arc<Self>) {
        let globals: Vec<String> = {
            let st = self.state();
            if !st.is_global {
                return;
            }
            st.merged_family(super::GLOBALS)
                .into_keys()
                .chain(st.globals.iter().cloned())
                .collect()
        };
        for g in globals {
            self.keepalive(&g);
        }
    }

    /// Reacts to node up and down for the global protocol (at node start).
    pub(super) fn follow_node_events(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let (mut events, guard) = self.links.event_channel();
        self.runtime.spawn(async move {
            let _guard = guard;
            while let Some(e) = events.recv().await {
                let Some(n) = weak.upgrade() else { return };
                match e {
                    NodeEvent::Up(id) => {
                        n.global_node_up(&id);
                        let seeds = n.seed_nodes();
                        if seeds.contains(&id) {
                            n.master_search(&seeds);
                        }
                    }
                    NodeEvent::Down(id, _) => n.global_node_down(&id),
                }
            }
        });
    }
}
