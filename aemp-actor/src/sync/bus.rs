//! [`Bus`]: the one subscriber list of the kernel (node events, database monitors).
//!
//! Subscribers are callbacks or channels, each under a key (a database family; `()` for node
//! events). Publishing copies the matching subscribers out under the lock and calls them after
//! releasing it, so a callback may subscribe, unsubscribe or drop its own guard without
//! deadlocking (one consequence: a callback may run once more for an event being delivered
//! while its guard is dropped on another thread). A subscription may start waiting for its
//! first event (a snapshot) and is made active by the publisher.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{lock, run_user};

/// A subscriber: a callback, or a channel whose receiver may go away.
pub(crate) enum Sub<E> {
    /// Called with each event, in order, from the publishing task.
    Callback(Arc<dyn Fn(&E) + Send + Sync>),
    /// Sent each event; a closed channel ends the subscription.
    Channel(mpsc::UnboundedSender<E>),
}

impl<E> Clone for Sub<E> {
    fn clone(&self) -> Self {
        match self {
            Sub::Callback(f) => Sub::Callback(f.clone()),
            Sub::Channel(tx) => Sub::Channel(tx.clone()),
        }
    }
}

impl<E: Clone> Sub<E> {
    /// Delivers `event`; false when the subscriber is gone. A panicking callback is logged
    /// and stays subscribed.
    fn deliver(&self, event: &E) -> bool {
        match self {
            Sub::Callback(f) => {
                if let Err(p) = run_user(|| f(event)) {
                    tracing::warn!(panic = %p, "subscriber callback panicked");
                }
                true
            }
            Sub::Channel(tx) => tx.send(event.clone()).is_ok(),
        }
    }
}

/// Where a subscription stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Gets every event published under its key.
    Active,
    /// Waits for its own first event ([`Bus::publish_to`]).
    AwaitOwn,
    /// Waits for the first event of all that wait under its key ([`Bus::publish_to_waiting`]).
    AwaitShared,
}

struct Entry<K, E> {
    id: u64,
    key: K,
    stage: Stage,
    sub: Sub<E>,
}

/// Subscribers under keys; see the module documentation.
pub(crate) struct Bus<K, E> {
    inner: Mutex<(u64, Vec<Entry<K, E>>)>,
}

impl<K, E> Default for Bus<K, E> {
    fn default() -> Self {
        Bus {
            inner: Mutex::new((0, Vec::new())),
        }
    }
}

impl<K: PartialEq + Clone, E: Clone> Bus<K, E> {
    /// Adds a subscriber under `key`; one that waits gets nothing until its first event.
    pub(crate) fn subscribe(&self, key: K, sub: Sub<E>, stage: Stage) -> u64 {
        let mut inner = lock(&self.inner);
        inner.0 += 1;
        let id = inner.0;
        inner.1.push(Entry {
            id,
            key,
            stage,
            sub,
        });
        id
    }

    /// Removes a subscriber; true if it was the last one under its key.
    pub(crate) fn unsubscribe(&self, id: u64) -> bool {
        let mut inner = lock(&self.inner);
        let Some(at) = inner.1.iter().position(|e| e.id == id) else {
            return false;
        };
        let gone = inner.1.swap_remove(at);
        !inner.1.iter().any(|e| e.key == gone.key)
    }

    /// Delivers `event` to the active subscribers of `key`.
    pub(crate) fn publish(&self, key: &K, event: &E) {
        let subs = self.matching(|e| e.stage == Stage::Active && e.key == *key);
        self.deliver(subs, event);
    }

    /// Delivers `event` to subscriber `id`, if it waits for its own first event; it is
    /// active from then on.
    pub(crate) fn publish_to(&self, id: u64, event: &E) {
        let subs = self.matching(|e| e.id == id && e.stage == Stage::AwaitOwn);
        self.deliver(subs, event);
    }

    /// Delivers `event` to the subscribers of `key` that wait for a shared first event; they
    /// are active from then on.
    pub(crate) fn publish_to_waiting(&self, key: &K, event: &E) {
        let subs = self.matching(|e| e.stage == Stage::AwaitShared && e.key == *key);
        self.deliver(subs, event);
    }

    /// Copies out the subscribers `pick` chooses (and makes them active), under the lock.
    fn matching(&self, pick: impl Fn(&Entry<K, E>) -> bool) -> Vec<(u64, Sub<E>)> {
        let mut inner = lock(&self.inner);
        inner
            .1
            .iter_mut()
            .filter(|e| pick(e))
            .map(|e| {
                e.stage = Stage::Active;
                (e.id, e.sub.clone())
            })
            .collect()
    }

    /// Calls the subscribers with no lock held; removes those that are gone.
    fn deliver(&self, subs: Vec<(u64, Sub<E>)>, event: &E) {
        for (id, sub) in subs {
            if !sub.deliver(event) {
                self.unsubscribe(id);
            }
        }
    }
}

impl<K: PartialEq, E> Bus<K, E> {
    /// Whether anyone subscribes under `key`.
    pub(crate) fn has_key(&self, key: &K) -> bool {
        lock(&self.inner).1.iter().any(|e| e.key == *key)
    }
}
