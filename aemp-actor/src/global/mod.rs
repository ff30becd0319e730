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

mod api;
pub(crate) mod db;
mod events;
mod seeds;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use aemp_transport::Value;
use tokio::sync::{mpsc, oneshot};

use self::db::{Db, Diff, Family, Shards};
pub use self::events::{DbEvent, DbMonGuard, DbRegGuard, DbWatch};
use self::events::{Sub, Subscribers};
use crate::node::NodeInner;
use crate::port::lock;

/// The family of listener addresses: node id -> `["host:port", ...]`.
pub const LISTENERS: &str = "'l";
/// The family of global nodes: node id -> null.
pub const GLOBALS: &str = "'g";

/// What travels to the event dispatcher: a change of a family, for every subscriber of it
/// or (the first snapshot) for one.
pub(crate) struct Notice {
    pub family: String,
    pub entries: Family,
    pub diff: Diff,
    pub initial_for: Option<u64>,
}

#[derive(Default)]
pub(crate) struct State {
    pub seeds: Vec<String>,
    pub is_global: bool,
    pub master: Option<String>,
    /// Global nodes we know of (from `g_global`).
    pub globals: BTreeSet<String>,
    /// What this node wrote.
    pub local: Db,
    next_req: u64,
    pending: HashMap<String, (Vec<Value>, oneshot::Sender<Value>)>,
    finds: HashMap<String, Vec<oneshot::Sender<Option<Vec<String>>>>>,
    /// Families monitored on this node (not global): the mirror, from the master.
    mirrors: HashMap<String, Family>,
    // Global node: the domain (own shard and the slaves'), the other globals' domains, the
    // slaves, and which slaves monitor which families.
    pub slaves: BTreeSet<String>,
    domain: Shards,
    remote: Shards,
    watchers: HashMap<String, BTreeSet<String>>,
    keepalive: BTreeSet<String>,
}

impl State {
    /// The merged value of a key (own domain first).
    fn merged_value(&self, family: &str, key: &str) -> Option<&Value> {
        self.domain
            .value(family, key)
            .or_else(|| self.remote.value(family, key))
    }

    fn merged_family(&self, family: &str) -> Family {
        let mut f = self.remote.family(family);
        f.extend(self.domain.family(family));
        f
    }
}

pub(crate) struct Global {
    state: Mutex<State>,
    notices: mpsc::UnboundedSender<Notice>,
    pub(crate) subscribers: Arc<Mutex<Subscribers>>,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::to_text).map(|t| t.into_owned())
}

impl Global {
    pub(crate) fn new(runtime: &tokio::runtime::Handle) -> Global {
        let (notices, rx) = mpsc::unbounded_channel();
        let subscribers = Arc::new(Mutex::new(Subscribers::default()));
        runtime.spawn(events::dispatch(rx, subscribers.clone()));
        Global {
            state: Mutex::default(),
            notices,
            subscribers,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// A message to send once the state lock is released.
type Out = Vec<(String, Vec<Value>)>;

/// What a change produced, to send and deliver once the state lock is released.
#[derive(Default)]
struct Effects {
    out: Out,
    notices: Vec<(String, Family, Diff)>,
}

/// Pairs as a wire `{key: value}`, or null when there are none (as 2.x sends `g_upd`).
fn set_value(set: &[(String, Value)]) -> Value {
    if set.is_empty() {
        Value::Null
    } else {
        Value::Map(
            set.iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                .collect(),
        )
    }
}

/// Keys as a wire `[key...]`.
fn keys_value(keys: &[String]) -> Value {
    Value::Array(keys.iter().map(|k| Value::from(k.as_str())).collect())
}

/// A wire `{key: value}` (or null) as pairs.
fn parse_set(v: Option<&Value>) -> Vec<(String, Value)> {
    v.and_then(Value::as_map)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((text(Some(k))?, v.clone())))
        .collect()
}

fn req(tag: &str, args: Vec<Value>) -> Vec<Value> {
    let mut m = Vec::with_capacity(args.len() + 1);
    m.push(Value::from(tag));
    m.extend(args);
    m
}

impl NodeInner {
    fn send_all(self: &Arc<Self>, out: Out) {
        for (node, msg) in out {
            if node == *self.id {
                continue;
            }
            if let Err(e) = self.send(&node, msg) {
                tracing::warn!(node, error = %e, "cannot send global protocol message");
            }
        }
    }

    /// Our domain changed (`d` as the domain sees it): the other globals get `g_upd`, the
    /// watching slaves `g_chg2`, local subscribers a notice.
    fn domain_changed(&self, st: &State, family: &str, d: &Diff, fx: &mut Effects) {
        fx.out.extend(self.broadcast_upd(st, family, d));
        let d = merged_of_domain(st, family, d);
        self.merged_changed(st, family, d, fx);
    }

    /// The merged view changed: watching slaves get `g_chg2`, local subscribers a notice.
    fn merged_changed(&self, st: &State, family: &str, d: Diff, fx: &mut Effects) {
        fx.out.extend(watch_messages(st, family, &d));
        fx.notices
            .push((family.to_owned(), st.merged_family(family), d));
    }

    /// Delivers notices and sends messages. Called with the state lock held, so that they
    /// go out in the order of the changes (the event channel never blocks; sending takes
    /// peer locks, never the state lock, and no global message goes to this node itself).
    fn publish(self: &Arc<Self>, fx: Effects) {
        for (f, e, d) in fx.notices {
            self.notify(&f, e, d);
        }
        self.send_all(fx.out);
    }

    fn notify(&self, family: &str, entries: Family, diff: Diff) {
        if !diff.is_empty() {
            let _ = self.global.notices.send(Notice {
                family: family.to_owned(),
                entries,
                diff,
                initial_for: None,
            });
        }
    }

    /// Starts the seed connections (at node start).
    pub(crate) fn start_global(self: &Arc<Self>, seeds: Vec<String>) {
        let addrs: Vec<String> = self
            .listen_addrs_now()
            .iter()
            .map(ToString::to_string)
            .collect();
        {
            let mut st = self.global.state();
            st.local.entry(LISTENERS.to_owned()).or_default().insert(
                self.id.to_string(),
                Value::Array(addrs.into_iter().map(Value::from).collect()),
            );
            st.seeds = seeds.clone();
        }
        self.global_events();
        for (i, addr) in seeds.into_iter().enumerate() {
            self.runtime
                .spawn(seeds::seed_loop(Arc::downgrade(self), i, addr));
        }
    }

    /// Becomes a global node (a seed found itself among the seeds, or a node asked it to).
    pub(crate) fn become_global(self: &Arc<Self>) {
        {
            let mut st = self.global.state();
            if st.is_global {
                return;
            }
            tracing::info!("becoming a global node");
            st.is_global = true;
            st.master = Some(self.id.to_string());
            st.local
                .entry(GLOBALS.to_owned())
                .or_default()
                .insert(self.id.to_string(), Value::Null);
            let local = st.local.clone();
            let changes: Vec<(String, Diff)> = st.domain.replace(&self.id, Some(local));
            let changes: Vec<(String, Diff)> = changes
                .into_iter()
                .map(|(f, d)| {
                    let m = merged_of_domain(&st, &f, &d);
                    (f, m)
                })
                .collect();
            // Families monitored here now come from our own merged view.
            let mut notices = Vec::new();
            let mirrors: Vec<(String, Family)> = st.mirrors.drain().collect();
            for (family, mirror) in mirrors {
                let now = st.merged_family(&family);
                notices.push((
                    family.clone(),
                    now.clone(),
                    db::diff_families(&mirror, &now),
                ));
            }
            for (family, d) in changes {
                let entries = st.merged_family(&family);
                notices.push((family, entries, d));
            }
            let out: Out = self
                .up_peer_ids()
                .into_iter()
                .map(|n| (n, req("g_global", vec![])))
                .collect();
            // Emitted under the lock, in order with every later change.
            let families: Vec<String> = notices.iter().map(|(f, _, _)| f.clone()).collect();
            for (f, e, d) in notices {
                self.notify(&f, e, d);
            }
            // Subscribers that waited for a master's snapshot get the merged view instead.
            for family in families {
                let _ = self.global.notices.send(Notice {
                    family,
                    entries: Family::new(),
                    diff: Diff::default(),
                    initial_for: Some(0),
                });
            }
            self.send_all(out);
        }
    }

    fn up_peer_ids(&self) -> Vec<String> {
        self.all_peers()
            .into_iter()
            .filter(|p| p.is_up())
            .map(|p| p.id.to_string())
            .collect()
    }

    /// Chooses a master among the connected seed nodes, if there is none.
    pub(crate) fn master_search(self: &Arc<Self>, seed_nodes: &[String]) {
        let candidate = {
            let st = self.global.state();
            if st.is_global || st.master.is_some() {
                return;
            }
            seed_nodes
                .iter()
                .find(|n| self.known_peer(n).is_some_and(|p| p.is_up()))
                .cloned()
        };
        if let Some(master) = candidate {
            self.master_set(master);
        }
    }

    fn master_set(self: &Arc<Self>, master: String) {
        {
            let mut st = self.global.state();
            if st.is_global {
                return;
            }
            tracing::info!(master, "master set");
            st.master = Some(master.clone());
            let mut out: Out = vec![(
                master.clone(),
                req("g_slave", vec![db::to_value(&st.local)]),
            )];
            for (request, _) in st.pending.values() {
                out.push((master.clone(), request.clone()));
            }
            for family in st.mirrors.keys() {
                out.push((
                    master.clone(),
                    req("g_mon1", vec![Value::from(family.as_str())]),
                ));
            }
            self.send_all(out);
        }
    }

    /// A node came up: globals announce themselves to it.
    pub(crate) fn global_node_up(self: &Arc<Self>, node: &str) {
        if self.global.state().is_global {
            self.send_all(vec![(node.to_owned(), req("g_global", vec![]))]);
        }
    }

    /// A node went down: forget what it contributed; find another master if it was ours.
    pub(crate) fn global_node_down(self: &Arc<Self>, node: &str) {
        let lost_master = {
            let mut st = self.global.state();
            let mut fx = Effects::default();
            let lost_master = st.master.as_deref() == Some(node) && !st.is_global;
            if lost_master {
                st.master = None;
            }
            st.globals.remove(node);
            if st.is_global {
                for w in st.watchers.values_mut() {
                    w.remove(node);
                }
                if st.slaves.remove(node) || st.domain.shards.contains_key(node) {
                    for (family, d) in st.domain.replace(node, None) {
                        self.domain_changed(&st, &family, &d, &mut fx);
                    }
                }
                for (family, d) in st.remote.replace(node, None) {
                    let d = merged_only(&st, &family, d);
                    self.merged_changed(&st, &family, d, &mut fx);
                }
            }
            self.publish(fx);
            lost_master
        };
        if lost_master {
            let seeds = self.seed_nodes();
            self.master_search(&seeds);
        }
    }

    /// `g_upd` of a domain change to every other global node.
    fn broadcast_upd(&self, st: &State, family: &str, d: &Diff) -> Out {
        if d.is_empty() {
            return Vec::new();
        }
        let (set, del) = (set_value(&d.set), keys_value(&d.del));
        st.globals
            .iter()
            .filter(|g| **g != *self.id)
            .map(|g| {
                (
                    g.clone(),
                    req("g_upd", vec![Value::from(family), set.clone(), del.clone()]),
                )
            })
            .collect()
    }

    /// Handles a `g_*` request from `src`; false if `tag` is not one.
    pub(crate) fn global_request(self: &Arc<Self>, src: &str, tag: &str, args: Vec<Value>) -> bool {
        match tag {
            "g_slave" => self.g_slave(src, args.first()),
            "g_global" => self.g_global(src),
            "g_set" => self.g_set(src, args.first()),
            "g_upd" => self.g_upd(src, &args),
            "g_find" => {
                let node = text(args.first()).unwrap_or_default();
                let binds = self
                    .global
                    .state()
                    .merged_value(LISTENERS, &node)
                    .cloned()
                    .unwrap_or(Value::Null);
                self.send_all(vec![(
                    src.to_owned(),
                    req("g_found", vec![Value::from(node), binds]),
                )]);
            }
            "g_found" => {
                let node = text(args.first()).unwrap_or_default();
                let binds = args
                    .get(1)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| text(Some(v))).collect::<Vec<_>>());
                let waiters = self.global.state().finds.remove(&node).unwrap_or_default();
                for w in waiters {
                    let _ = w.send(binds.clone().filter(|b| !b.is_empty()));
                }
            }
            "g_db_family" | "g_db_keys" | "g_db_values" => {
                let family = text(args.first()).unwrap_or_default();
                let id = args.get(1).cloned().unwrap_or(Value::Null);
                let fam = self.global.state().merged_family(&family);
                let result = match tag {
                    "g_db_family" => db::family_to_value(&fam),
                    "g_db_keys" => {
                        Value::Array(fam.keys().map(|k| Value::from(k.as_str())).collect())
                    }
                    _ => Value::Array(fam.into_values().collect()),
                };
                self.send_all(vec![(src.to_owned(), req("g_reply", vec![id, result]))]);
            }
            "g_reply" => {
                let id = text(args.first()).unwrap_or_default();
                if let Some((_, tx)) = self.global.state().pending.remove(&id) {
                    let _ = tx.send(args.get(1).cloned().unwrap_or(Value::Null));
                }
            }
            "g_mon1" => {
                let family = text(args.first()).unwrap_or_default();
                let snapshot = {
                    let mut st = self.global.state();
                    st.watchers
                        .entry(family.clone())
                        .or_default()
                        .insert(src.to_owned());
                    st.merged_family(&family)
                };
                let snapshot = if snapshot.is_empty() {
                    Value::Null
                } else {
                    db::family_to_value(&snapshot)
                };
                self.send_all(vec![(
                    src.to_owned(),
                    req("g_chg1", vec![Value::from(family), snapshot]),
                )]);
            }
            "g_mon0" => {
                let family = text(args.first()).unwrap_or_default();
                if let Some(w) = self.global.state().watchers.get_mut(&family) {
                    w.remove(src);
                }
            }
            "g_chg1" | "g_chg2" => self.g_chg(src, tag, &args),
            "g_disconnect" => {}
            _ => return false,
        }
        true
    }

    fn g_slave(self: &Arc<Self>, src: &str, db: Option<&Value>) {
        self.become_global();
        let Some(db) = db.filter(|v| v.as_map().is_some()) else {
            return;
        };
        let db = db::from_value(db);
        {
            let mut st = self.global.state();
            st.slaves.insert(src.to_owned());
            let mut fx = Effects::default();
            for (family, d) in st.domain.replace(src, Some(db)) {
                self.domain_changed(&st, &family, &d, &mut fx);
            }
            self.publish(fx);
        }
    }

    fn g_global(self: &Arc<Self>, src: &str) {
        let out = {
            let mut st = self.global.state();
            st.globals.insert(src.to_owned());
            if !st.is_global {
                return;
            }
            // Its domain comes anew with its g_set; we send ours.
            let domain = st.domain.all();
            vec![(src.to_owned(), req("g_set", vec![db::to_value(&domain)]))]
        };
        self.send_all(out);
        self.keepalive(src);
    }

    fn g_set(self: &Arc<Self>, src: &str, db: Option<&Value>) {
        let db = db.map(db::from_value).unwrap_or_default();
        {
            let mut st = self.global.state();
            if !st.is_global {
                return;
            }
            st.globals.insert(src.to_owned());
            let mut fx = Effects::default();
            for (family, d) in st.remote.replace(src, Some(db)) {
                let d = merged_only(&st, &family, d);
                self.merged_changed(&st, &family, d, &mut fx);
            }
            self.publish(fx);
        }
        self.keepalive_known_globals();
    }

    fn g_upd(self: &Arc<Self>, src: &str, args: &[Value]) {
        let Some(family) = text(args.first()) else {
            return;
        };
        let set = parse_set(args.get(1));
        let del = args.get(2).map(db::keys_from_value).unwrap_or_default();
        {
            let mut st = self.global.state();
            if !st.is_global {
                return;
            }
            let mut fx = Effects::default();
            if st.globals.contains(src) && !st.slaves.contains(src) {
                let d = st.remote.apply(src, &family, &set, &del);
                let d = merged_only(&st, &family, d);
                self.merged_changed(&st, &family, d, &mut fx);
            } else {
                st.slaves.insert(src.to_owned());
                let d = st.domain.apply(src, &family, &set, &del);
                self.domain_changed(&st, &family, &d, &mut fx);
            }
            self.publish(fx);
        }
        if family == GLOBALS {
            self.keepalive_known_globals();
        }
    }

    fn g_chg(self: &Arc<Self>, src: &str, tag: &str, args: &[Value]) {
        let Some(family) = text(args.first()) else {
            return;
        };
        {
            let mut st = self.global.state();
            if st.master.as_deref() != Some(src) || st.is_global {
                return;
            }
            let Some(mirror) = st.mirrors.get_mut(&family) else {
                return;
            };
            let d = if tag == "g_chg1" {
                let new = args.get(1).map(db::family_from_value).unwrap_or_default();
                let d = db::diff_families(mirror, &new);
                *mirror = new;
                d
            } else {
                let set = parse_set(args.get(1));
                let del = args.get(2).map(db::keys_from_value).unwrap_or_default();
                let mut d = Diff::default();
                for k in del {
                    if mirror.remove(&k).is_some() {
                        d.del.push(k);
                    }
                }
                for (k, v) in set {
                    if mirror.get(&k) != Some(&v) {
                        mirror.insert(k.clone(), v.clone());
                        d.set.push((k, v));
                    }
                }
                d
            };
            let entries = mirror.clone();
            // Emitted under the lock, in order with every later change.
            self.notify(&family, entries, d);
            if tag == "g_chg1" {
                // Also marks the end of the initial snapshot for waiting subscribers.
                let _ = self.global.notices.send(Notice {
                    family: family.clone(),
                    entries: Family::new(),
                    diff: Diff::default(),
                    initial_for: Some(0),
                });
            }
        }
    }

    // ---- the db_* operations of this node ----

    pub(crate) fn db_change(
        self: &Arc<Self>,
        family: &str,
        set: Vec<(String, Value)>,
        del: Vec<String>,
    ) {
        {
            let mut st = self.global.state();
            let fam = st.local.entry(family.to_owned()).or_default();
            let set: Vec<(String, Value)> = set
                .into_iter()
                .filter(|(k, v)| fam.get(k) != Some(v))
                .collect();
            let del: Vec<String> = del.into_iter().filter(|k| fam.contains_key(k)).collect();
            if set.is_empty() && del.is_empty() {
                return;
            }
            for k in &del {
                fam.remove(k);
            }
            for (k, v) in &set {
                fam.insert(k.clone(), v.clone());
            }
            if fam.is_empty() {
                st.local.remove(family);
            }
            let mut fx = Effects::default();
            if st.is_global {
                let d = st.domain.apply(&self.id, family, &set, &del);
                self.domain_changed(&st, family, &d, &mut fx);
            } else if let Some(master) = st.master.clone() {
                let upd = req(
                    "g_upd",
                    vec![Value::from(family), set_value(&set), keys_value(&del)],
                );
                fx.out.push((master, upd));
            }
            self.publish(fx);
        }
    }

    /// A query to the master (`g_db_family`, ...), answered locally on a global node.
    pub(crate) async fn db_query(self: &Arc<Self>, tag: &'static str, family: &str) -> Value {
        let rx = {
            let mut st = self.global.state();
            if st.is_global {
                let fam = st.merged_family(family);
                return match tag {
                    "g_db_family" => db::family_to_value(&fam),
                    "g_db_keys" => {
                        Value::Array(fam.keys().map(|k| Value::from(k.as_str())).collect())
                    }
                    _ => Value::Array(fam.into_values().collect()),
                };
            }
            st.next_req += 1;
            let id = format!("{}.{}", self.id, st.next_req);
            let request = req(tag, vec![Value::from(family), Value::from(id.as_str())]);
            let (tx, rx) = oneshot::channel();
            st.pending.insert(id, (request.clone(), tx));
            if let Some(master) = st.master.clone() {
                drop(st);
                self.send_all(vec![(master, request)]);
            }
            rx
        };
        rx.await.unwrap_or(Value::Null)
    }

    /// The addresses of `node`, from the merged database or the master (`g_find`).
    pub(crate) async fn find_node(self: &Arc<Self>, node: &str) -> Option<Vec<String>> {
        let rx = {
            let mut st = self.global.state();
            if let Some(binds) = st.merged_value(LISTENERS, node) {
                let binds: Vec<String> = binds
                    .as_array()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| text(Some(v)))
                    .collect();
                return (!binds.is_empty()).then_some(binds);
            }
            if st.is_global {
                return None;
            }
            let master = st.master.clone()?;
            let (tx, rx) = oneshot::channel();
            let first = !st.finds.contains_key(node);
            st.finds.entry(node.to_owned()).or_default().push(tx);
            drop(st);
            if first {
                self.send_all(vec![(master, req("g_find", vec![Value::from(node)]))]);
            }
            rx
        };
        rx.await.ok().flatten()
    }

    /// Subscribes to a family: the first event (to this subscriber only) holds its contents.
    pub(crate) fn db_subscribe(self: &Arc<Self>, family: &str, sub: Sub) -> u64 {
        let id = lock(&self.global.subscribers).add(family, sub);
        let mut out = Vec::new();
        {
            let mut st = self.global.state();
            let snapshot = if st.is_global {
                Some(st.merged_family(family))
            } else if let Some(m) = st.mirrors.get(family) {
                Some(m.clone())
            } else {
                st.mirrors.insert(family.to_owned(), Family::new());
                if let Some(master) = st.master.clone() {
                    out.push((master, req("g_mon1", vec![Value::from(family)])));
                }
                None
            };
            if let Some(entries) = snapshot {
                let diff = Diff {
                    set: entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    del: vec![],
                };
                let _ = self.global.notices.send(Notice {
                    family: family.to_owned(),
                    entries,
                    diff,
                    initial_for: Some(id),
                });
            } else {
                lock(&self.global.subscribers).awaiting_initial(family, id);
            }
        }
        self.send_all(out);
        id
    }

    pub(crate) fn db_unsubscribe(self: &Arc<Self>, family: &str, id: u64) {
        let last = lock(&self.global.subscribers).remove(family, id);
        if last {
            let out = {
                let mut st = self.global.state();
                st.mirrors.remove(family);
                match st.master.clone() {
                    Some(m) if !st.is_global => vec![(m, req("g_mon0", vec![Value::from(family)]))],
                    _ => vec![],
                }
            };
            self.send_all(out);
        }
    }

    pub(crate) fn seed_nodes(&self) -> Vec<String> {
        lock(&self.seed_ids).iter().flatten().cloned().collect()
    }
}

/// `g_chg2` for the slaves that monitor `family`.
fn watch_messages(st: &State, family: &str, d: &Diff) -> Out {
    if d.is_empty() {
        return Vec::new();
    }
    // g_chg2 carries a map, even an empty one.
    let set = Value::Map(set_value(&d.set).as_map().unwrap_or_default().to_vec());
    let del = keys_value(&d.del);
    st.watchers
        .get(family)
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n.clone(),
                req(
                    "g_chg2",
                    vec![Value::from(family), set.clone(), del.clone()],
                ),
            )
        })
        .collect()
}

/// A change of a remote shard, as seen through the merged view (our domain shadows it).
fn merged_only(st: &State, family: &str, d: Diff) -> Diff {
    Diff {
        set: d
            .set
            .into_iter()
            .filter(|(k, _)| st.domain.value(family, k).is_none())
            .map(|(k, _)| {
                let v = st.merged_value(family, &k).cloned().unwrap_or(Value::Null);
                (k, v)
            })
            .collect(),
        del: d
            .del
            .into_iter()
            .filter(|k| st.merged_value(family, k).is_none())
            .collect(),
    }
}

/// A change of our domain, as seen through the merged view: a key our domain dropped may
/// still be held by another global's domain.
fn merged_of_domain(st: &State, family: &str, d: &Diff) -> Diff {
    let mut out = Diff {
        set: d.set.clone(),
        del: Vec::new(),
    };
    for k in &d.del {
        match st.merged_value(family, k) {
            Some(v) => out.set.push((k.clone(), v.clone())),
            None => out.del.push(k.clone()),
        }
    }
    out
}
