//! The mailbox of a typed actor: one queue, under one lock, for everything that reaches the
//! actor (its mail, the deaths of linked ports, its kill) and one waker for the actor.
//!
//! Local senders are bounded by the capacity: `tell` fails when it is reached, `send().await`
//! waits, first come first served (a slot freed for a waiting sender is owed to it: a `tell`
//! cannot take it). Messages from the network never wait — a connection carries the
//! messages of many ports and must not stall for one slow actor — and are bounded apart:
//! up to `capacity × OVERFLOW_FACTOR` of them may wait, in order with the rest; past that
//! they are dropped and logged. So the network never starves local senders, nor they it.
//! One lock held for a push or a pop, and one waker taken at a time, is less work per
//! message than a bounded channel's semaphore plus two further wakers would be.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use aemp_transport::Value;

use super::Message;
use crate::node::WeakNode;
use crate::trace::TraceCtx;
use crate::PortId;

mod reply;
mod send;
mod sink;
#[cfg(test)]
mod tests;

use parking_lot::{Mutex, MutexGuard};

pub(super) use reply::SlotKey;
pub(super) use send::SendMail;
pub(super) use sink::SharedMailbox;

/// The target of the spans of handled messages (`aemp.handle`), and of the check whether
/// they are wanted when a message is queued.
pub(super) const SPAN_TARGET: &str = "aemp_actor::typed::actor";

/// Where the reply to a message goes.
pub(super) enum ReplyTo {
    None,
    /// A local ask's slot in this mailbox.
    Slot(SlotKey),
    /// The reply port a message from the network ends with.
    Port(String),
}

/// A message and where its reply goes.
pub(crate) struct Envelope<M> {
    pub(super) msg: M,
    pub(super) reply: ReplyTo,
    /// What is noted of it while someone observes (boxed: most messages have nothing).
    pub(super) seen: Option<Box<Seen>>,
    /// It came from the network (bounded by the overflow limit, not the capacity).
    remote: bool,
}

/// The trace a message came with, and when it was queued (for the handler span's wait).
pub(super) struct Seen {
    pub(super) trace: Option<TraceCtx>,
    pub(super) queued_at: Option<Instant>,
}

impl Seen {
    /// Notes for a message queued now: its trace, and the time while handler spans are
    /// wanted.
    #[inline]
    fn noted(trace: Option<TraceCtx>) -> Option<Box<Seen>> {
        let queued_at =
            tracing::enabled!(target: SPAN_TARGET, tracing::Level::DEBUG).then(Instant::now);
        (trace.is_some() || queued_at.is_some()).then(|| Box::new(Seen { trace, queued_at }))
    }
}

impl<M> Envelope<M> {
    /// A message from local code (in the trace it runs in), with where its reply goes.
    pub(super) fn local(msg: M, reply: ReplyTo) -> Self {
        Envelope {
            msg,
            reply,
            seen: Seen::noted(crate::trace::local()),
            remote: false,
        }
    }
}

/// What the actor takes next, in this order of precedence.
pub(super) enum Next<M> {
    /// The port was killed with this reason.
    Killed(Vec<Value>),
    /// A linked port died (only while the actor traps exits).
    Exit(PortId, Vec<Value>),
    Mail(Envelope<M>),
}

/// Why a message was not queued: it is handed back.
pub(super) enum Refused<M> {
    Full(Envelope<M>),
    Closed(Envelope<M>),
}

/// The mailbox behind a typed port.
pub(crate) struct Mailbox<M> {
    pub(super) id: PortId,
    pub(super) node: WeakNode,
    /// How many local messages may wait.
    capacity: usize,
    /// How many messages from the network may wait.
    limit: usize,
    /// Messages the actor handled so far.
    pub(super) handled: AtomicU64,
    /// (parking_lot's: no poisoning to track, the lock and unlock inlined.)
    state: Mutex<State<M>>,
}

struct State<M> {
    mail: VecDeque<Envelope<M>>,
    /// How many of `mail` came from local senders.
    local: usize,
    /// Deaths of linked ports, while the actor traps exits. Unbounded: each link fires once,
    /// so it holds at most one entry per link the actor made.
    exits: VecDeque<(PortId, Vec<Value>)>,
    kill: Option<Vec<Value>>,
    /// The actor stopped: nothing is queued any more.
    closed: bool,
    /// The actor, while it waits (taken by whoever wakes it).
    actor: Option<Waker>,
    /// The actor, while a handler of its waits (woken by a kill only).
    busy: Option<Waker>,
    /// Local senders waiting for room: bounded by the `send` futures the program holds.
    waiters: foldhash::HashMap<u64, Waiter>,
    /// Their ids in arrival order; an id no longer among `waiters` (its sender gave up) is
    /// skipped, and swept out when such ids pile up.
    turns: VecDeque<u64>,
    /// Senders woken for a slot they have not taken yet: the slots they are owed.
    owed: usize,
    next_sender: u64,
    /// Replies to local asks, one slot per ask (while it waits): bounded by the asks the
    /// program has under way.
    replies: slab::Slab<reply::Slot>,
    next_generation: u64,
}

struct Waiter {
    waker: Option<Waker>,
    /// Its turn came: a slot is kept for it.
    woken: bool,
}

impl<M> State<M> {
    /// Whether a local message may take a slot now without taking one owed to a sender.
    fn room(&self, capacity: usize) -> bool {
        self.local + self.owed < capacity
    }

    /// Whether senders wait whose turn has not come.
    fn queued_senders(&self) -> bool {
        self.waiters.len() > self.owed
    }

    /// Gives the next waiting sender its turn if there is room: its waker, to wake once
    /// the lock is let go.
    fn give_turn(&mut self, capacity: usize) -> Option<Waker> {
        while self.room(capacity) {
            let id = self.turns.pop_front()?;
            if let Some(w) = self.waiters.get_mut(&id) {
                w.woken = true;
                self.owed += 1;
                return w.waker.take();
            }
        }
        None
    }

    fn push_local(&mut self, env: Envelope<M>) -> Option<Waker> {
        self.mail.push_back(env);
        self.local += 1;
        self.actor.take()
    }
}

impl<M: Message> Mailbox<M> {
    pub(super) fn new(id: PortId, node: WeakNode, capacity: usize, limit: usize) -> Self {
        Mailbox {
            id,
            node,
            capacity,
            limit,
            handled: AtomicU64::new(0),
            state: Mutex::new(State {
                mail: VecDeque::new(),
                local: 0,
                exits: VecDeque::new(),
                kill: None,
                closed: false,
                actor: None,
                busy: None,
                waiters: Default::default(),
                turns: VecDeque::new(),
                owed: 0,
                next_sender: 0,
                replies: slab::Slab::new(),
                next_generation: 0,
            }),
        }
    }

    /// Queues a local message if there is room that no waiting sender is owed.
    pub(super) fn try_push(&self, env: Envelope<M>) -> Result<(), Refused<M>> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(Refused::Closed(env));
        }
        if !st.room(self.capacity) || st.queued_senders() {
            return Err(Refused::Full(env));
        }
        let actor = st.push_local(env);
        drop(st);
        wake(actor);
        Ok(())
    }

    /// Queues a local message, waiting (in turn) while the mailbox is full; hands it back if
    /// the actor stops.
    pub(super) fn send(&self, env: Envelope<M>) -> SendMail<'_, M> {
        SendMail::new(self, env)
    }

    /// Queues messages from the network, in order, without ever waiting: up to the limit,
    /// the rest dropped and logged.
    fn push_network(&self, src: &str, envs: impl Iterator<Item = Envelope<M>>) {
        let mut dropped = Vec::new();
        let actor = {
            let mut st = lock(&self.state);
            if st.closed {
                dropped.extend(envs);
                None
            } else {
                for env in envs {
                    if st.mail.len() - st.local >= self.limit {
                        dropped.push(env);
                    } else {
                        st.mail.push_back(env);
                    }
                }
                st.actor.take()
            }
        };
        wake(actor);
        if !dropped.is_empty() && !self.is_closed() {
            tracing::warn!(port = %self.id, node = src, dropped = dropped.len(), "actor mailbox and overflow full, messages dropped");
        }
        // The program's values: dropped outside the lock.
        drop(dropped);
    }

    fn push_exit(&self, from: PortId, reason: Vec<Value>) {
        let mut st = lock(&self.state);
        if st.closed {
            return;
        }
        st.exits.push_back((from, reason));
        let actor = st.actor.take();
        drop(st);
        wake(actor);
    }

    fn kill(&self, reason: Vec<Value>) {
        let mut st = lock(&self.state);
        if st.closed || st.kill.is_some() {
            return;
        }
        st.kill = Some(reason);
        let actor = st.actor.take();
        let busy = st.busy.take();
        drop(st);
        wake(actor);
        wake(busy);
    }

    /// While a handler waits: the kill's reason if the actor was killed (the handler is to be
    /// dropped), else `None` with the actor's waker kept for a kill.
    pub(super) fn watch_kill(&self, cx: &mut Context<'_>) -> Option<Vec<Value>> {
        let mut st = lock(&self.state);
        if let Some(reason) = st.kill.take() {
            return Some(reason);
        }
        let old = match &st.busy {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => st.busy.replace(cx.waker().clone()),
        };
        drop(st);
        drop(old);
        None
    }

    /// The actor's next item, or `Pending` with its waker kept. A kill comes first, then a
    /// linked death, then the mail in order. The answer to the ask just handled, if any, is
    /// given first, under the same lock.
    pub(super) fn poll_next(
        &self,
        cx: &mut Context<'_>,
        answer: &mut Option<(SlotKey, Option<Value>)>,
    ) -> Poll<Next<M>> {
        let mut st = lock(&self.state);
        // (An answer nobody waits for any more is dropped once the lock is let go.)
        let (asker, _unwanted) = match answer.take() {
            Some((key, value)) => match st.give_answer(key, value) {
                Ok(waker) => (waker, None),
                Err(value) => (None, value),
            },
            None => (None, None),
        };
        // (Looked at before taken: the common case writes nothing back.)
        let next = if st.kill.is_some() {
            Poll::Ready(Next::Killed(st.kill.take().unwrap_or_default()))
        } else if let Some((port, reason)) = st.exits.pop_front() {
            Poll::Ready(Next::Exit(port, reason))
        } else if let Some(env) = st.mail.pop_front() {
            let turn = if env.remote {
                None
            } else {
                st.local -= 1;
                // A slot is free: the first waiting sender may take it.
                st.give_turn(self.capacity)
            };
            // After a burst from the network, the queue gives its memory back.
            if st.mail.is_empty() && st.mail.capacity() > self.capacity.max(64) {
                st.mail.shrink_to(64);
            }
            drop(st);
            wake(asker);
            wake(turn);
            return Poll::Ready(Next::Mail(env));
        } else {
            let old = match &st.actor {
                Some(w) if w.will_wake(cx.waker()) => None,
                _ => st.actor.replace(cx.waker().clone()),
            };
            drop(st);
            wake(asker);
            // (A waker may own a task: dropped outside the lock.)
            drop(old);
            return Poll::Pending;
        };
        drop(st);
        wake(asker);
        next
    }

    /// The actor stopped: what is queued is dropped (asks waiting for it fail at once), and
    /// senders get their messages back.
    pub(super) fn close(&self) {
        let (mail, waiters, actor, askers) = {
            let mut st = lock(&self.state);
            st.closed = true;
            st.exits.clear();
            st.kill = None;
            st.local = 0;
            st.owed = 0;
            st.turns.clear();
            (
                std::mem::take(&mut st.mail),
                std::mem::take(&mut st.waiters),
                (st.actor.take(), st.busy.take()),
                st.fail_replies(),
            )
        };
        // Messages are the program's values: dropped outside the lock.
        drop(mail);
        drop(actor);
        for w in waiters.into_values() {
            wake(w.waker);
        }
        for w in askers {
            w.wake();
        }
    }

    fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Messages queued now.
    fn queued(&self) -> usize {
        lock(&self.state).mail.len()
    }
}

/// Locks a mailbox's state. (No user code runs under it: nothing can panic while it is
/// held but the kernel's own code, and a panic there unlocks it.)
fn lock<M>(state: &Mutex<State<M>>) -> MutexGuard<'_, State<M>> {
    state.lock()
}

#[inline]
fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}
