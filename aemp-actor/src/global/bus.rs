//! Database monitors: their events, the task that delivers them in order (through the
//! kernel's one subscriber [`Bus`], callbacks after unlock), the guards that end them, and
//! the stream of a channel subscription.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use super::db::{Diff, Family};
use super::Global;
use crate::port::monitor::MonGuard;
use crate::sync::bus::Bus;

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

/// The subscribers of families.
pub(crate) type DbBus = Bus<String, DbEvent>;

/// What travels to the dispatcher task, in the order of the changes.
pub(crate) enum Notice {
    /// A family changed: every active subscriber of it learns so.
    Change {
        family: String,
        entries: Family,
        diff: Diff,
    },
    /// The first event of subscriber `id`: the family's contents.
    Initial {
        family: String,
        entries: Family,
        id: u64,
    },
    /// The master's snapshot of a mirrored family arrived: the subscribers that waited for
    /// it get the contents.
    Snapshot { family: String },
    /// The family's last subscriber left.
    Forget { family: String },
}

/// Delivers notices to the subscribers, one at a time, in the order they happened. The
/// channel is unbounded: it carries database changes of families this node monitors, which
/// the network writes at human rates, not per message.
pub(super) async fn dispatch(mut rx: mpsc::UnboundedReceiver<Notice>, bus: Arc<DbBus>) {
    // The family contents as last delivered (to tell added from changed).
    let mut seen: HashMap<String, Family> = HashMap::new();
    while let Some(notice) = rx.recv().await {
        match notice {
            Notice::Forget { family } => {
                seen.remove(&family);
            }
            Notice::Snapshot { family } => {
                let entries = seen.get(&family).cloned().unwrap_or_default();
                bus.publish_to_waiting(&family, &initial(family.clone(), entries));
            }
            Notice::Initial {
                family,
                entries,
                id,
            } => {
                seen.insert(family.clone(), entries.clone());
                bus.publish_to(id, &initial(family, entries));
            }
            Notice::Change {
                family,
                entries,
                diff,
            } => {
                if !bus.has_key(&family) {
                    continue;
                }
                let before = seen.get(&family);
                let mut event = DbEvent {
                    family: family.clone(),
                    entries: entries.clone(),
                    added: vec![],
                    changed: vec![],
                    deleted: diff.del,
                };
                for (k, _) in &diff.set {
                    if before.is_some_and(|b| b.contains_key(k)) {
                        event.changed.push(k.clone());
                    } else {
                        event.added.push(k.clone());
                    }
                }
                seen.insert(family.clone(), entries);
                bus.publish(&family, &event);
            }
        }
    }
}

fn initial(family: String, entries: Family) -> DbEvent {
    DbEvent {
        family,
        added: entries.keys().cloned().collect(),
        entries,
        changed: vec![],
        deleted: vec![],
    }
}

/// Ends a `db_mon` subscription when dropped (the last one of a family sends `g_mon0`).
/// Dropping it from inside its own callback is fine.
#[must_use = "dropping the guard ends the subscription"]
pub struct DbMonGuard {
    global: Weak<Global>,
    family: String,
    id: u64,
}

impl DbMonGuard {
    pub(crate) fn new(global: Weak<Global>, family: String, id: u64) -> DbMonGuard {
        DbMonGuard { global, family, id }
    }
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
        if let Some(global) = self.global.upgrade() {
            global.db_unsubscribe(&self.family, self.id);
        }
    }
}

/// A stream of [`DbEvent`]s of one family (from `Node::db_watch`); dropping it ends the
/// subscription.
pub struct DbWatch {
    // The guard first: dropped before the receiver, it ends the subscription while the
    // channel is still open (so the family's last subscriber is seen to leave).
    guard: DbMonGuard,
    rx: mpsc::UnboundedReceiver<DbEvent>,
}

impl DbWatch {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<DbEvent>, guard: DbMonGuard) -> DbWatch {
        DbWatch { rx, guard }
    }

    /// The next change.
    pub async fn recv(&mut self) -> Option<DbEvent> {
        self.rx.recv().await
    }
}

impl fmt::Debug for DbWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbWatch")
            .field("family", &self.guard.family)
            .finish()
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
    global: Weak<Global>,
    family: String,
    key: String,
    armed: bool,
    mon: Option<MonGuard>,
}

impl DbRegGuard {
    pub(crate) fn new(
        global: Weak<Global>,
        family: String,
        key: String,
        mon: MonGuard,
    ) -> DbRegGuard {
        DbRegGuard {
            global,
            family,
            key,
            armed: true,
            mon: Some(mon),
        }
    }

    /// Keeps the entry until the port dies.
    pub fn detach(mut self) {
        self.armed = false;
        if let Some(m) = self.mon.take() {
            m.detach();
        }
    }
}

impl fmt::Debug for DbRegGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbRegGuard")
            .field("family", &self.family)
            .field("key", &self.key)
            .finish()
    }
}

impl Drop for DbRegGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Some(global) = self.global.upgrade() {
                global.db_change(&self.family, vec![], vec![self.key.clone()]);
            }
        }
    }
}
