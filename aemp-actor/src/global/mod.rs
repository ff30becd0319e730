//! Seeds, global nodes and the distributed database (AnyEvent::MP 2.x's `AnyEvent::MP::Global`
//! and the `db_*` functions), speaking 2.x's wire messages so that aemp and Perl nodes form
//! one network.
//!
//! Every node keeps what it wrote (its *local* database, which always holds its listeners in
//! the family `'l`). A node that is not global binds to a *master*, one of its seeds, hands
//! it the local database (`g_slave`) and sends it every change (`g_upd`). Global nodes merge
//! the shards of their slaves (their *domain*) and of the other global nodes (`g_set`,
//! `g_upd`), keep connections to every other global node, answer queries (`g_db_*`,
//! `g_find`) and feed monitors (`g_mon1` / `g_chg1` / `g_chg2`).
//!
//! [`Global`] sees the rest of the node through the links only: it sends with them, dials
//! seeds with them and follows their up/down events.
//!
//! | file | holds |
//! |---|---|
//! | `state.rs` | the state and how a change becomes messages and notices |
//! | `wire.rs` | the `g_*` requests, parsed once |
//! | `role.rs` | global or slave: master choice, replication |
//! | `query.rs` | `g_find`, `g_db_*`, family monitors of slaves |
//! | `api.rs` | this node's writes and subscriptions |
//! | `db.rs` | families, shards and their merge |
//! | `seeds.rs` | the connections to seeds and to other globals |
//! | `bus.rs` | database events, their delivery and guards |

mod api;
pub(crate) mod bus;
pub(crate) mod db;
mod query;
mod role;
mod seeds;
mod state;
pub(crate) mod wire;

use std::sync::{Arc, Mutex, MutexGuard};

use aemp_transport::Value;
use tokio::sync::mpsc;

use self::bus::{DbBus, Notice};
use self::db::{Diff, Family};
use self::state::{Effects, Out, State};
use crate::link::Links;
use crate::sync::lock;

pub use self::bus::{DbEvent, DbMonGuard, DbRegGuard, DbWatch};
pub(crate) use self::wire::Query;

/// The family of listener addresses: node id -> `["host:port", ...]`.
pub const LISTENERS: &str = "'l";
/// The family of global nodes: node id -> null.
pub const GLOBALS: &str = "'g";

/// This node's part in the global protocol; see the module documentation.
pub(crate) struct Global {
    id: Arc<str>,
    runtime: tokio::runtime::Handle,
    links: Arc<Links>,
    state: Mutex<State>,
    /// Database changes, in order, to the dispatcher task (see `bus.rs` for the bound).
    notices: mpsc::UnboundedSender<Notice>,
    bus: Arc<DbBus>,
    /// The node id behind each seed address, once connected.
    seed_ids: Mutex<Vec<Option<String>>>,
}

impl Global {
    pub(crate) fn new(id: Arc<str>, runtime: tokio::runtime::Handle, links: Arc<Links>) -> Global {
        let (notices, rx) = mpsc::unbounded_channel();
        let bus = Arc::new(DbBus::default());
        runtime.spawn(bus::dispatch(rx, bus.clone()));
        Global {
            id,
            runtime,
            links,
            state: Mutex::default(),
            notices,
            bus,
            seed_ids: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Whether this node is a global node (it holds the merged database).
    pub(crate) fn is_global(&self) -> bool {
        self.state().is_global
    }

    /// The master this node reports to (itself on a global node).
    pub(crate) fn master(&self) -> Option<String> {
        self.state().master.clone()
    }

    /// Each database family this node sees and how many keys it has: the merged database
    /// on a global node, this node's own entries elsewhere.
    pub(crate) fn family_sizes(&self) -> std::collections::BTreeMap<String, usize> {
        let st = self.state();
        let mut sizes: std::collections::BTreeMap<String, usize> = if st.is_global {
            let mut all = st.remote.all();
            for (f, fam) in st.domain.all() {
                all.entry(f).or_default().extend(fam);
            }
            all.into_iter().map(|(f, fam)| (f, fam.len())).collect()
        } else {
            Default::default()
        };
        for (f, fam) in &st.local {
            let n = sizes.entry(f.clone()).or_default();
            *n = (*n).max(fam.len());
        }
        sizes
    }

    /// The global nodes this node knows of, sorted.
    pub(crate) fn global_nodes(&self) -> Vec<String> {
        let st = self.state();
        let mut g: Vec<String> = st.globals.iter().cloned().collect();
        if st.is_global && !g.iter().any(|n| *n == *self.id) {
            g.push(self.id.to_string());
        }
        g.sort();
        g
    }

    /// Starts the seed connections (at node start); `listeners` go into `'l`.
    pub(crate) fn start(self: &Arc<Self>, listeners: &[std::net::SocketAddr], seeds: Vec<String>) {
        {
            let mut st = self.state();
            st.local.entry(LISTENERS.to_owned()).or_default().insert(
                self.id.to_string(),
                Value::Array(
                    listeners
                        .iter()
                        .map(|a| Value::from(a.to_string()))
                        .collect(),
                ),
            );
            st.seeds = seeds.clone();
        }
        *lock(&self.seed_ids) = vec![None; seeds.len()];
        self.follow_node_events();
        for (i, addr) in seeds.into_iter().enumerate() {
            self.runtime
                .spawn(seeds::seed_loop(Arc::downgrade(self), i, addr));
        }
    }

    fn send_all(&self, out: Out) {
        for (node, msg) in out {
            if node == *self.id {
                continue;
            }
            if let Err(e) = self.links.send(&node, "", msg) {
                tracing::warn!(node, error = %e, "cannot send global protocol message");
            }
        }
    }

    /// Delivers notices and sends messages. Called with the state lock held, so that they
    /// go out in the order of the changes (the notice channel never blocks; sending takes
    /// peer locks, never the state lock, and no global message goes to this node itself).
    fn publish(&self, fx: Effects) {
        for (f, e, d) in fx.notices {
            self.notify(&f, e, d);
        }
        self.send_all(fx.out);
    }

    fn notify(&self, family: &str, entries: Family, diff: Diff) {
        if !diff.is_empty() {
            let _ = self.notices.send(Notice::Change {
                family: family.to_owned(),
                entries,
                diff,
            });
        }
    }

    /// Whether `src` is this node or connected now. Checked under the state lock by every
    /// request that records what a node contributes: a request that waited on the node
    /// port's runner while its sender went down must not bring the sender's part back after
    /// `global_node_down` removed it (that runs under the same lock, after the link is gone).
    fn connected(&self, src: &str) -> bool {
        src == &*self.id || self.links.is_up(src) == Some(true)
    }

    fn seed_nodes(&self) -> Vec<String> {
        lock(&self.seed_ids).iter().flatten().cloned().collect()
    }
}
