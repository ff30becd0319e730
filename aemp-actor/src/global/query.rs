//! The global protocol's queries: where a node listens (`g_find`), a family's contents
//! (`g_db_*`), and family monitors of slaves (`g_mon1`/`g_mon0`); answered on global nodes,
//! asked of the master elsewhere.

use std::sync::Arc;

use aemp_transport::Value;
use tokio::sync::oneshot;

use super::db;
use super::wire::{GRequest, Query};
use super::{Global, LISTENERS};
use crate::wire::{request, text};

impl Global {
    /// Answers (or takes the answer of) a query from `src`.
    pub(super) fn answer(self: &Arc<Self>, src: &str, query: GRequest) {
        match query {
            GRequest::Find(node) => {
                let binds = self
                    .state()
                    .merged_value(LISTENERS, &node)
                    .cloned()
                    .unwrap_or(Value::Null);
                self.send_all(vec![(
                    src.to_owned(),
                    request("g_found", vec![Value::from(node), binds]),
                )]);
            }
            GRequest::Found { node, binds } => {
                let waiters = self.state().finds.remove(&node).unwrap_or_default();
                for w in waiters {
                    let _ = w.send(binds.clone().filter(|b| !b.is_empty()));
                }
            }
            GRequest::Db { query, family, id } => {
                let result = query.answer(self.state().merged_family(&family));
                self.send_all(vec![(src.to_owned(), request("g_reply", vec![id, result]))]);
            }
            GRequest::Reply { id, result } => {
                if let Some((_, tx)) = self.state().pending.remove(&id) {
                    let _ = tx.send(result);
                }
            }
            GRequest::Mon1(family) => {
                let snapshot = {
                    let mut st = self.state();
                    if !self.connected(src) {
                        return;
                    }
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
                    request("g_chg1", vec![Value::from(family), snapshot]),
                )]);
            }
            GRequest::Mon0(family) => {
                if let Some(w) = self.state().watchers.get_mut(&family) {
                    w.remove(src);
                }
            }
            other => tracing::debug!(node = src, request = ?other, "not a query"),
        }
    }

    /// A query to the master (`g_db_family`, ...), answered locally on a global node.
    pub(crate) async fn db_query(self: &Arc<Self>, query: Query, family: &str) -> Value {
        let rx = {
            let mut st = self.state();
            // A global node answers from its merged view; so does a node on its own (no
            // seeds, no master): there is no one else to ask, and waiting would be forever.
            if st.is_global {
                return query.answer(st.merged_family(family));
            }
            if st.seeds.is_empty() && st.master.is_none() {
                let mut own = st.merged_family(family);
                own.extend(st.local.get(family).cloned().unwrap_or_default());
                return query.answer(own);
            }
            st.next_req += 1;
            let id = format!("{}.{}", self.id, st.next_req);
            let request = request(
                query.tag(),
                vec![Value::from(family), Value::from(id.as_str())],
            );
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
            let mut st = self.state();
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
                self.send_all(vec![(master, request("g_find", vec![Value::from(node)]))]);
            }
            rx
        };
        rx.await.ok().flatten()
    }
}
