//! The global protocol's state: what this node wrote, what it holds as a global node (its
//! domain and the other globals' shards), the families it mirrors, the requests it waits on;
//! and how a change of it becomes messages and notices ([`Effects`]).

use std::collections::{BTreeSet, HashMap};

use aemp_transport::Value;
use tokio::sync::oneshot;

use super::db::{Db, Diff, Family, Shards};
use super::wire::{keys_value, set_value};
use crate::wire::request;

#[derive(Default)]
pub(crate) struct State {
    pub(crate) seeds: Vec<String>,
    pub(crate) is_global: bool,
    pub(crate) master: Option<String>,
    /// Global nodes we know of (from `g_global`).
    pub(crate) globals: BTreeSet<String>,
    /// What this node wrote.
    pub(crate) local: Db,
    pub(crate) next_req: u64,
    /// Queries sent to the master, by id: the request (re-sent to a new master) and the caller.
    pub(crate) pending: HashMap<String, (Vec<Value>, oneshot::Sender<Value>)>,
    /// `g_find`s sent to the master, by node.
    pub(crate) finds: HashMap<String, Vec<oneshot::Sender<Option<Vec<String>>>>>,
    /// Families monitored on this node (not global): the mirror, from the master.
    pub(crate) mirrors: HashMap<String, Family>,
    // Global node: the domain (own shard and the slaves'), the other globals' domains, the
    // slaves, and which slaves monitor which families.
    pub(crate) slaves: BTreeSet<String>,
    pub(crate) domain: Shards,
    pub(crate) remote: Shards,
    pub(crate) watchers: HashMap<String, BTreeSet<String>>,
    pub(crate) keepalive: BTreeSet<String>,
}

/// Messages to send once the state lock is released: (node, message to its node port).
pub(crate) type Out = Vec<(String, Vec<Value>)>;

/// What a change produced, to send and deliver.
#[derive(Default)]
pub(crate) struct Effects {
    pub(crate) out: Out,
    pub(crate) notices: Vec<(String, Family, Diff)>,
}

impl State {
    /// The merged value of a key (own domain first).
    pub(crate) fn merged_value(&self, family: &str, key: &str) -> Option<&Value> {
        self.domain
            .value(family, key)
            .or_else(|| self.remote.value(family, key))
    }

    pub(crate) fn merged_family(&self, family: &str) -> Family {
        let mut f = self.remote.family(family);
        f.extend(self.domain.family(family));
        f
    }

    /// Our domain changed (`d` as the domain sees it): the other globals get `g_upd`, the
    /// watching slaves `g_chg2`, local subscribers a notice.
    pub(crate) fn domain_changed(&self, me: &str, family: &str, d: &Diff, fx: &mut Effects) {
        fx.out.extend(self.broadcast_upd(me, family, d));
        let d = self.merged_of_domain(family, d);
        self.merged_changed(family, d, fx);
    }

    /// The merged view changed: watching slaves get `g_chg2`, local subscribers a notice.
    pub(crate) fn merged_changed(&self, family: &str, d: Diff, fx: &mut Effects) {
        fx.out.extend(self.watch_messages(family, &d));
        fx.notices
            .push((family.to_owned(), self.merged_family(family), d));
    }

    /// `g_upd` of a domain change to every other global node.
    fn broadcast_upd(&self, me: &str, family: &str, d: &Diff) -> Out {
        if d.is_empty() {
            return Vec::new();
        }
        let (set, del) = (set_value(&d.set), keys_value(&d.del));
        self.globals
            .iter()
            .filter(|g| **g != *me)
            .map(|g| {
                (
                    g.clone(),
                    request("g_upd", vec![Value::from(family), set.clone(), del.clone()]),
                )
            })
            .collect()
    }

    /// `g_chg2` for the slaves that monitor `family`.
    pub(crate) fn watch_messages(&self, family: &str, d: &Diff) -> Out {
        if d.is_empty() {
            return Vec::new();
        }
        // g_chg2 carries a map, even an empty one.
        let set = Value::Map(set_value(&d.set).as_map().unwrap_or_default().to_vec());
        let del = keys_value(&d.del);
        self.watchers
            .get(family)
            .into_iter()
            .flatten()
            .map(|n| {
                (
                    n.clone(),
                    request(
                        "g_chg2",
                        vec![Value::from(family), set.clone(), del.clone()],
                    ),
                )
            })
            .collect()
    }

    /// A change of a remote shard, as seen through the merged view (our domain shadows it).
    pub(crate) fn merged_only(&self, family: &str, d: Diff) -> Diff {
        Diff {
            set: d
                .set
                .into_iter()
                .filter(|(k, _)| self.domain.value(family, k).is_none())
                .map(|(k, _)| {
                    let v = self
                        .merged_value(family, &k)
                        .cloned()
                        .unwrap_or(Value::Null);
                    (k, v)
                })
                .collect(),
            del: d
                .del
                .into_iter()
                .filter(|k| self.merged_value(family, k).is_none())
                .collect(),
        }
    }

    /// A change of our domain, as seen through the merged view: a key our domain dropped may
    /// still be held by another global's domain.
    pub(crate) fn merged_of_domain(&self, family: &str, d: &Diff) -> Diff {
        let mut out = Diff {
            set: d.set.clone(),
            del: Vec::new(),
        };
        for k in &d.del {
            match self.merged_value(family, k) {
                Some(v) => out.set.push((k.clone(), v.clone())),
                None => out.del.push(k.clone()),
            }
        }
        out
    }
}
