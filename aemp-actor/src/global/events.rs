//! Database monitors: subscribers, their events, and the guards that end them.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use super::db::Family;
use super::Notice;
use crate::node::NodeInner;
use crate::port::lock;

/// A change of a monitored family (AnyEvent::MP's `db_mon` callback arguments). The first
/// event of a subscription holds the whole family as `added`, even when it is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct DbEvent {
    /// The family.
    pub family: String,
    /// Its contents after the change.
    pub entries: Family,
    /// Keys that appeared.
    pub added: Vec<String>,
    /// Keys whose value changed (may include keys set to the same value again).
    pub changed: Vec<String>,
    /// Keys that disappeared.
    pub deleted: Vec<String>,
}

pub(crate) enum Sub {
    Callback(Box<dyn Fn(&DbEvent) + Send + Sync>),
    Channel(mpsc::UnboundedSender<DbEvent>),
}

#[derive(Default)]
pub(crate) struct Subscribers {
    next: u64,
    by_family: HashMap<String, Vec<(u64, Sub, bool)>>,
    /// The family contents as last delivered (to tell added from changed).
    seen: HashMap<String, Family>,
}

impl Subscribers {
    pub(crate) fn add(&mut self, family: &str, sub: Sub) -> u64 {
        self.next += 1;
        self.by_family
            .entry(family.to_owned())
            .or_default()
            .push((self.next, sub, true));
        self.next
    }

    /// The subscriber waits for the master's snapshot (`g_chg1`) for its first event.
    pub(crate) fn awaiting_initial(&mut self, family: &str, id: u64) {
        if let Some(list) = self.by_family.get_mut(family) {
            for s in list.iter_mut().filter(|s| s.0 == id) {
                s.2 = false;
            }
        }
    }

    /// Removes a subscriber; true if it was the family's last.
    pub(crate) fn remove(&mut self, family: &str, id: u64) -> bool {
        let Some(list) = self.by_family.get_mut(family) else {
            return false;
        };
        list.retain(|s| s.0 != id);
        if list.is_empty() {
            self.by_family.remove(family);
            self.seen.remove(family);
            true
        } else {
            false
        }
    }
}

fn deliver(sub: &Sub, event: &DbEvent) -> bool {
    match sub {
        Sub::Callback(f) => {
            f(event);
            true
        }
        Sub::Channel(tx) => tx.send(event.clone()).is_ok(),
    }
}

/// Delivers changes to the subscribers in the order they happened. The channel is
/// unbounded: it carries database changes, which the whole network writes at human rates,
/// not per message.
pub(crate) async fn dispatch(
    mut rx: mpsc::UnboundedReceiver<Notice>,
    subs: Arc<Mutex<Subscribers>>,
) {
    while let Some(n) = rx.recv().await {
        let mut s = lock(&subs);
        if let Some(target) = n.initial_for {
            if target == 0 {
                // The master's snapshot arrived: subscribers waiting for it get the contents.
                let entries = s.seen.get(&n.family).cloned().unwrap_or_default();
                let event = DbEvent {
                    family: n.family.clone(),
                    added: entries.keys().cloned().collect(),
                    entries,
                    changed: vec![],
                    deleted: vec![],
                };
                if let Some(list) = s.by_family.get_mut(&n.family) {
                    for sub in list.iter_mut().filter(|x| !x.2) {
                        sub.2 = true;
                        deliver(&sub.1, &event);
                    }
                }
                continue;
            }
            let event = DbEvent {
                family: n.family.clone(),
                added: n.entries.keys().cloned().collect(),
                entries: n.entries.clone(),
                changed: vec![],
                deleted: vec![],
            };
            s.seen.insert(n.family.clone(), n.entries);
            if let Some(list) = s.by_family.get_mut(&n.family) {
                if let Some(sub) = list.iter_mut().find(|x| x.0 == target) {
                    sub.2 = true;
                    deliver(&sub.1, &event);
                }
            }
            continue;
        }
        let before = s.seen.get(&n.family).cloned().unwrap_or_default();
        let mut event = DbEvent {
            family: n.family.clone(),
            entries: n.entries.clone(),
            added: vec![],
            changed: vec![],
            deleted: n.diff.del.clone(),
        };
        for (k, _) in &n.diff.set {
            if before.contains_key(k) {
                event.changed.push(k.clone());
            } else {
                event.added.push(k.clone());
            }
        }
        s.seen.insert(n.family.clone(), n.entries);
        if let Some(list) = s.by_family.get_mut(&n.family) {
            list.retain(|sub| !sub.2 || deliver(&sub.1, &event));
        }
    }
}

/// Ends a `db_mon` subscription when dropped (the last one of a family sends `g_mon0`).
#[must_use = "dropping the guard ends the subscription"]
pub struct DbMonGuard {
    pub(crate) node: Weak<NodeInner>,
    pub(crate) family: String,
    pub(crate) id: u64,
}

impl fmt::Debug for DbMonGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbMonGuard")
            .field("family", &self.family)
            .finish()
    }
}

impl Drop for DbMonGuard {
    fn drop(&mut self) {
        if let Some(node) = self.node.upgrade() {
            node.db_unsubscribe(&self.family, self.id);
        }
    }
}

/// A stream of [`DbEvent`]s of one family (from `Node::db_watch`); dropping it ends the
/// subscription.
pub struct DbWatch {
    pub(crate) rx: mpsc::UnboundedReceiver<DbEvent>,
    pub(crate) _guard: DbMonGuard,
}

impl fmt::Debug for DbWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbWatch")
            .field("family", &self._guard.family)
            .finish()
    }
}

impl DbWatch {
    /// The next change.
    pub async fn recv(&mut self) -> Option<DbEvent> {
        self.rx.recv().await
    }
}

impl Stream for DbWatch {
    type Item = DbEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<DbEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// Removes a `db_reg` entry when dropped (it also goes when the port dies).
#[must_use = "dropping the guard removes the registration; call .detach() to keep it until the port dies"]
pub struct DbRegGuard {
    pub(crate) node: Weak<NodeInner>,
    pub(crate) family: String,
    pub(crate) key: String,
    pub(crate) armed: bool,
    pub(crate) _mon: Option<crate::MonGuard>,
}

impl fmt::Debug for DbRegGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbRegGuard")
            .field("family", &self.family)
            .field("key", &self.key)
            .finish()
    }
}

impl DbRegGuard {
    /// Keeps the entry until the port dies.
    pub fn detach(mut self) {
        self.armed = false;
        if let Some(m) = self._mon.take() {
            m.detach();
        }
    }
}

impl Drop for DbRegGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Some(node) = self.node.upgrade() {
                node.db_change(&self.family, vec![], vec![self.key.clone()]);
            }
        }
    }
}
