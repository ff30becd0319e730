//! The database operations of this node: its writes (`db_set`/`db_del`/`db_reg` end here)
//! and its family subscriptions (`db_mon`).

use std::sync::Arc;

use aemp_transport::Value;

use super::bus::{DbEvent, DbMonGuard, Notice};
use super::db::Family;
use super::state::Effects;
use super::wire::{keys_value, set_value};
use super::Global;
use crate::sync::bus::{Stage, Sub};
use crate::wire::request;

impl Global {
    pub(crate) fn db_change(
        self: &Arc<Self>,
        family: &str,
        set: Vec<(String, Value)>,
        del: Vec<String>,
    ) {
        {
            let mut st = self.state();
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
                st.domain_changed(&self.id, family, &d, &mut fx);
            } else if let Some(master) = st.master.clone() {
                let upd = request(
                    "g_upd",
                    vec![Value::from(family), set_value(&set), keys_value(&del)],
                );
                fx.out.push((master, upd));
            }
            self.publish(fx);
        }
    }

    /// Subscribes to a family: the first event (to this subscriber only) holds its contents.
    /// Subscribing and unsubscribing happen under the state lock, so that the family's
    /// mirror (and the master's `g_mon1`/`g_mon0`) follow whether anyone subscribes.
    pub(crate) fn db_subscribe(self: &Arc<Self>, family: &str, sub: Sub<DbEvent>) -> DbMonGuard {
        let mut out = Vec::new();
        let id = {
            let mut st = self.state();
            let snapshot = if st.is_global {
                Some(st.merged_family(family))
            } else if let Some(m) = st.mirrors.get(family) {
                Some(m.clone())
            } else {
                st.mirrors.insert(family.to_owned(), Family::new());
                if let Some(master) = st.master.clone() {
                    out.push((master, request("g_mon1", vec![Value::from(family)])));
                }
                None
            };
            // Its first event is its own snapshot (taken now, in order with every change
            // after it), or the master's when that arrives.
            let stage = if snapshot.is_some() {
                Stage::AwaitOwn
            } else {
                Stage::AwaitShared
            };
            let id = self.bus.subscribe(family.to_owned(), sub, stage);
            if let Some(entries) = snapshot {
                let _ = self.notices.send(Notice::Initial {
                    family: family.to_owned(),
                    entries,
                    id,
                });
            }
            id
        };
        self.send_all(out);
        DbMonGuard::new(Arc::downgrade(self), family.to_owned(), id)
    }

    /// Ends subscription `id`; the family's last one ends its mirror (`g_mon0`).
    pub(crate) fn db_unsubscribe(self: &Arc<Self>, family: &str, id: u64) {
        let out = {
            let mut st = self.state();
            self.bus.unsubscribe(id);
            if self.bus.has_key(&family.to_owned()) {
                return;
            }
            let _ = self.notices.send(Notice::Forget {
                family: family.to_owned(),
            });
            let mirrored = st.mirrors.remove(family).is_some();
            match st.master.clone() {
                Some(m) if mirrored && !st.is_global => {
                    vec![(m, request("g_mon0", vec![Value::from(family)]))]
                }
                _ => vec![],
            }
        };
        self.send_all(out);
    }
}
