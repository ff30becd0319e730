//! The database operations of this node: its writes (`db_set`/`db_del`/`db_reg` end here)
//! and its family subscriptions (`db_mon`).

use std::sync::Arc;

use aemp_transport::Value;

use super::bus::{DbEvent, DbMonGuard, Notice};
use super::db::Family;
use super::state::Effects;
use super::wire::{keys_value, set_value};
use super::Global;
use crate::sync::bus::Sub;
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
    /// Subscribes to a family: the first event (to this subscriber only) holds its contents.
    pub(crate) fn db_subscribe(self: &Arc<Self>, family: &str, sub: Sub<DbEvent>) -> DbMonGuard {
        // Inactive until its first event, which comes from the snapshot taken below (or the
        // master's), in order with every change after it.
        let id = self.bus.subscribe(family.to_owned(), sub, false);
        let mut out = Vec::new();
        {
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
            if let Some(entries) = snapshot {
                let _ = self.notices.send(Notice::Initial {
                    family: family.to_owned(),
                    entries,
                    id,
                });
            }
        }
        self.send_all(out);
        DbMonGuard::new(Arc::downgrade(self), family.to_owned(), id)
    }

    pub(crate) fn db_unsubscribe(self: &Arc<Self>, family: &str, id: u64) {
        if self.bus.unsubscribe(id) {
            let _ = self.notices.send(Notice::Forget {
                family: family.to_owned(),
            });
            let out = {
                let mut st = self.state();
                st.mirrors.remove(family);
                match st.master.clone() {
                    Some(m) if !st.is_global => {
                        vec![(m, request("g_mon0", vec![Value::from(family)]))]
                    }
                    _ => vec![],
                }
            };
            self.send_all(out);
        }
    }
}
