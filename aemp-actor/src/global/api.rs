//! The database and named ports as the user sees them: `db_*`, names and groups, mesh state.

use std::sync::Arc;

use aemp_transport::Value;
use tokio::sync::mpsc;

use super::db::Family;
use super::events::Sub;
use super::{DbEvent, DbMonGuard, DbRegGuard, DbWatch};
use crate::typed::PortRef;
use crate::{Node, PortId};

impl Node {
    /// Sets `key` in `family` in this node's part of the global database (AnyEvent::MP's
    /// `db_set`); every node sees it until it is deleted or this node goes down.
    /// Families starting with `'` are reserved.
    pub fn db_set(&self, family: &str, key: &str, value: Value) {
        self.inner
            .db_change(family, vec![(key.to_owned(), value)], vec![]);
    }

    /// Deletes keys this node set in `family` (`db_del`).
    pub fn db_del(&self, family: &str, keys: &[&str]) {
        self.inner.db_change(
            family,
            vec![],
            keys.iter().map(|k| (*k).to_owned()).collect(),
        );
    }

    /// Sets `family`/`port` to `value` for as long as the port lives (`db_reg`): the entry
    /// goes when the port dies, or when the guard is dropped.
    pub fn db_reg(&self, family: &str, port: &PortId, value: Value) -> DbRegGuard {
        let key = port.to_string();
        self.inner
            .db_change(family, vec![(key.clone(), value)], vec![]);
        let node = Arc::downgrade(&self.inner);
        let (f, k) = (family.to_owned(), key.clone());
        let mon = self.mon(port, move |_reason| {
            if let Some(node) = node.upgrade() {
                node.db_change(&f, vec![], vec![k]);
            }
        });
        DbRegGuard {
            node: Arc::downgrade(&self.inner),
            family: family.to_owned(),
            key,
            armed: true,
            _mon: Some(mon),
        }
    }

    /// The whole family, merged from every node (`db_family`), asked of the master.
    pub async fn db_family(&self, family: &str) -> Family {
        super::db::family_from_value(&self.inner.db_query("g_db_family", family).await)
    }

    /// The keys of a family (`db_keys`).
    pub async fn db_keys(&self, family: &str) -> Vec<String> {
        super::db::keys_from_value(&self.inner.db_query("g_db_keys", family).await)
    }

    /// The values of a family (`db_values`).
    pub async fn db_values(&self, family: &str) -> Vec<Value> {
        self.inner
            .db_query("g_db_values", family)
            .await
            .as_array()
            .unwrap_or_default()
            .to_vec()
    }

    /// Calls `f` with the family's contents at once, then on every change (`db_mon`), until
    /// the guard is dropped.
    pub fn db_mon(&self, family: &str, f: impl Fn(&DbEvent) + Send + Sync + 'static) -> DbMonGuard {
        let id = self.inner.db_subscribe(family, Sub::Callback(Box::new(f)));
        DbMonGuard {
            node: Arc::downgrade(&self.inner),
            family: family.to_owned(),
            id,
        }
    }

    /// A stream of a family's contents, then its changes (`db_mon` as a stream).
    pub fn db_watch(&self, family: &str) -> DbWatch {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.inner.db_subscribe(family, Sub::Channel(tx));
        DbWatch {
            rx,
            _guard: DbMonGuard {
                node: Arc::downgrade(&self.inner),
                family: family.to_owned(),
                id,
            },
        }
    }

    /// Registers `port` under `name` network-wide, for as long as it lives. Several ports
    /// may share a name: a group. (A `db_reg` of family `name`, as AnyEvent::MP 2.x's
    /// `grp_reg`; Perl nodes see the same entries.)
    pub fn register_name(&self, name: &str, port: &PortId) -> DbRegGuard {
        self.db_reg(name, port, Value::Null)
    }

    /// The ports registered under `name` anywhere (the members of the group).
    pub async fn lookup_names(&self, name: &str) -> Vec<PortId> {
        self.db_keys(name)
            .await
            .iter()
            .filter_map(|k| PortId::parse(k).ok())
            .collect()
    }

    /// One port registered under `name`, if any.
    pub async fn lookup_name(&self, name: &str) -> Option<PortId> {
        self.lookup_names(name).await.into_iter().next()
    }

    /// One port registered under `name`, as a typed reference.
    pub async fn lookup_typed<M>(&self, name: &str) -> Option<PortRef<M>> {
        self.lookup_name(name).await.map(PortRef::from_id)
    }

    /// Watches the members of the group `name`: the first event lists them all.
    pub fn watch_name(&self, name: &str) -> DbWatch {
        self.db_watch(name)
    }

    /// Whether this node is a global node (it holds the merged database).
    pub fn is_global(&self) -> bool {
        self.inner.global.state().is_global
    }

    /// The master this node reports to (itself on a global node).
    pub fn master(&self) -> Option<String> {
        self.inner.global.state().master.clone()
    }

    /// The global nodes this node knows of.
    pub fn global_nodes(&self) -> Vec<String> {
        let st = self.inner.global.state();
        let mut g: Vec<String> = st.globals.iter().cloned().collect();
        if st.is_global && !g.iter().any(|n| *n == *self.inner.id) {
            g.push(self.inner.id.to_string());
        }
        g.sort();
        g
    }
}
