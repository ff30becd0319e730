//! The global protocol's roles: becoming a global node, choosing a master, reacting to nodes
//! coming and going, and the replication requests between masters, slaves and globals.

use std::sync::Arc;

use aemp_transport::Value;

use super::db::{self, Db, Diff, Family};
use super::state::{Effects, Out};
use super::wire::GRequest;
use super::{Global, Notice, GLOBALS};
use crate::wire::request;

/// What a `g_chg*` brings: the whole family, or a change of it.
enum Change {
    Snapshot(Family),
    Diff(Vec<(String, Value)>, Vec<String>),
}

impl Global {
    /// Handles a `g_*` request from `src` (in the node port's order).
    pub(crate) fn handle(self: &Arc<Self>, src: &str, request: GRequest) {
        match request {
            GRequest::Slave(db) => self.g_slave(src, db),
            GRequest::Global => self.g_global(src),
            GRequest::Set(db) => self.g_set(src, db),
            GRequest::Upd { family, set, del } => self.g_upd(src, family, set, del),
            GRequest::Chg1 { family, entries } => {
                self.g_chg(src, family, Change::Snapshot(entries))
            }
            GRequest::Chg2 { family, set, del } => self.g_chg(src, family, Change::Diff(set, del)),
            GRequest::Disconnect => {}
            query => self.answer(src, query),
        }
    }

    /// Becomes a global node (a seed found itself among the seeds, or a node asked it to).
    pub(crate) fn become_global(self: &Arc<Self>) {
        {
            let mut st = self.state();
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
                    let m = st.merged_of_domain(&f, &d);
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
            // As 2.x: `g_global` to every up node, then `g_global_connect` of the globals we
            // know: our domain as `g_set` (a 2.x global resets our shard on our `g_global`
            // and waits for it).
            let mut out: Out = self
                .links
                .up_nodes()
                .into_iter()
                .map(|n| (n, request("g_global", vec![])))
                .collect();
            let domain = db::to_value(&st.domain.all());
            for global in st.globals.iter().filter(|g| **g != *self.id) {
                out.push((global.clone(), request("g_set", vec![domain.clone()])));
            }
            // Emitted under the lock, in order with every later change.
            let families: Vec<String> = notices.iter().map(|(f, _, _)| f.clone()).collect();
            for (f, e, d) in notices {
                self.notify(&f, e, d);
            }
            // Subscribers that waited for a master's snapshot get the merged view instead.
            for family in families {
                let _ = self.notices.send(Notice::Snapshot { family });
            }
            self.send_all(out);
        }
    }

    /// Chooses a master among the connected seed nodes, if there is none.
    pub(crate) fn master_search(self: &Arc<Self>, seed_nodes: &[String]) {
        let candidate = {
            let st = self.state();
            if st.is_global || st.master.is_some() {
                return;
            }
            seed_nodes
                .iter()
                .find(|n| self.links.is_up(n) == Some(true))
                .cloned()
        };
        if let Some(master) = candidate {
            self.master_set(master);
        }
    }

    fn master_set(self: &Arc<Self>, master: String) {
        {
            let mut st = self.state();
            if st.is_global {
                return;
            }
            tracing::info!(master, "master set");
            st.master = Some(master.clone());
            let mut out: Out = vec![(
                master.clone(),
                request("g_slave", vec![db::to_value(&st.local)]),
            )];
            for (request, _) in st.pending.values() {
                out.push((master.clone(), request.clone()));
            }
            for family in st.mirrors.keys() {
                out.push((
                    master.clone(),
                    request("g_mon1", vec![Value::from(family.as_str())]),
                ));
            }
            self.send_all(out);
        }
    }

    /// A node came up: globals announce themselves to it.
    pub(crate) fn global_node_up(self: &Arc<Self>, node: &str) {
        if self.state().is_global {
            self.send_all(vec![(node.to_owned(), request("g_global", vec![]))]);
        }
    }

    /// A node went down: forget what it contributed; find another master if it was ours.
    pub(crate) fn global_node_down(self: &Arc<Self>, node: &str) {
        let lost_master = {
            let mut st = self.state();
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
                        st.domain_changed(&self.id, &family, &d, &mut fx);
                    }
                }
                for (family, d) in st.remote.replace(node, None) {
                    let d = st.merged_only(&family, d);
                    st.merged_changed(&family, d, &mut fx);
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

    fn g_slave(self: &Arc<Self>, src: &str, db: Option<Db>) {
        self.become_global();
        let Some(db) = db else {
            return;
        };
        {
            let mut st = self.state();
            if !self.connected(src) {
                return;
            }
            st.slaves.insert(src.to_owned());
            let mut fx = Effects::default();
            for (family, d) in st.domain.replace(src, Some(db)) {
                st.domain_changed(&self.id, &family, &d, &mut fx);
            }
            self.publish(fx);
        }
    }

    fn g_global(self: &Arc<Self>, src: &str) {
        let out = {
            let mut st = self.state();
            if !self.connected(src) {
                return;
            }
            st.globals.insert(src.to_owned());
            if !st.is_global {
                return;
            }
            // Its domain comes anew with its g_set; we send ours.
            let domain = st.domain.all();
            vec![(
                src.to_owned(),
                request("g_set", vec![db::to_value(&domain)]),
            )]
        };
        self.send_all(out);
        self.keepalive(src);
    }

    fn g_set(self: &Arc<Self>, src: &str, db: Db) {
        {
            let mut st = self.state();
            if !st.is_global || !self.connected(src) {
                return;
            }
            st.globals.insert(src.to_owned());
            let mut fx = Effects::default();
            for (family, d) in st.remote.replace(src, Some(db)) {
                let d = st.merged_only(&family, d);
                st.merged_changed(&family, d, &mut fx);
            }
            self.publish(fx);
        }
        self.keepalive_known_globals();
    }

    fn g_upd(
        self: &Arc<Self>,
        src: &str,
        family: String,
        set: Vec<(String, Value)>,
        del: Vec<String>,
    ) {
        {
            let mut st = self.state();
            if !st.is_global || !self.connected(src) {
                return;
            }
            let mut fx = Effects::default();
            if st.globals.contains(src) && !st.slaves.contains(src) {
                let d = st.remote.apply(src, &family, &set, &del);
                let d = st.merged_only(&family, d);
                st.merged_changed(&family, d, &mut fx);
            } else {
                st.slaves.insert(src.to_owned());
                let d = st.domain.apply(src, &family, &set, &del);
                st.domain_changed(&self.id, &family, &d, &mut fx);
            }
            self.publish(fx);
        }
        if family == GLOBALS {
            self.keepalive_known_globals();
        }
    }

    /// `g_chg1` (`change` is the family's contents) or `g_chg2` (a change): our master
    /// tells us of a family we mirror.
    fn g_chg(self: &Arc<Self>, src: &str, family: String, change: Change) {
        {
            let mut st = self.state();
            if st.master.as_deref() != Some(src) || st.is_global {
                return;
            }
            let Some(mirror) = st.mirrors.get_mut(&family) else {
                return;
            };
            let snapshot = matches!(change, Change::Snapshot(_));
            let d = match change {
                Change::Snapshot(new) => {
                    let d = db::diff_families(mirror, &new);
                    *mirror = new;
                    d
                }
                Change::Diff(set, del) => {
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
                }
            };
            let entries = mirror.clone();
            // Emitted under the lock, in order with every later change.
            self.notify(&family, entries, d);
            if snapshot {
                // Also marks the end of the initial snapshot for waiting subscribers.
                let _ = self.notices.send(Notice::Snapshot {
                    family: family.clone(),
                });
            }
        }
    }
}
