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

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use aemp_transport::Value;
use tokio::sync::oneshot;

use super::Message;
use crate::node::WeakNode;
use crate::port::{Body, Host, Port as KernelPort, Sink};
use crate::sync::lock;
use crate::trace::TraceCtx;
use crate::PortId;

/// The target of the spans of handled messages (`aemp.handle`), and of the check whether
/// they are wanted when a message is queued.
pub(super) const SPAN_TARGET: &str = "aemp_actor::typed::actor";

/// Where the reply to a message goes.
pub(super) enum ReplyTo {
    None,
    Local(oneshot::Sender<Value>),
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
    /// Local senders waiting for room: bounded by the `send` futures the program holds.
    waiters: foldhash::HashMap<u64, Waiter>,
    /// Their ids in arrival order; an id no longer among `waiters` (its sender gave up) is
    /// skipped, and swept out when such ids pile up.
    turns: VecDeque<u64>,
    /// Senders woken for a slot they have not taken yet: the slots they are owed.
    owed: usize,
    next_sender: u64,
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
                waiters: Default::default(),
                turns: VecDeque::new(),
                owed: 0,
                next_sender: 0,
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
        SendMail {
            mailbox: self,
            env: Some(env),
            waiter: None,
        }
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
        drop(st);
        wake(actor);
    }

    /// The actor's next item, or `Pending` with its waker kept. A kill comes first, then a
    /// linked death, then the mail in order.
    pub(super) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Next<M>> {
        let mut st = lock(&self.state);
        if let Some(reason) = st.kill.take() {
            return Poll::Ready(Next::Killed(reason));
        }
        if let Some((port, reason)) = st.exits.pop_front() {
            return Poll::Ready(Next::Exit(port, reason));
        }
        if let Some(env) = st.mail.pop_front() {
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
            wake(turn);
            return Poll::Ready(Next::Mail(env));
        }
        let old = match &st.actor {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => st.actor.replace(cx.waker().clone()),
        };
        drop(st);
        // (A waker may own a task: dropped outside the lock.)
        drop(old);
        Poll::Pending
    }

    /// The actor stopped: what is queued is dropped (asks waiting for it fail at once), and
    /// senders get their messages back.
    pub(super) fn close(&self) {
        let (mail, waiters, actor) = {
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
                st.actor.take(),
            )
        };
        // Messages are the program's values: dropped outside the lock.
        drop(mail);
        drop(actor);
        for w in waiters.into_values() {
            wake(w.waker);
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

fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

/// A local send waiting for room: see [`Mailbox::send`].
pub(super) struct SendMail<'a, M: Message> {
    mailbox: &'a Mailbox<M>,
    env: Option<Envelope<M>>,
    /// Its id among the waiting senders, once it had to wait.
    waiter: Option<u64>,
}

impl<M: Message> Unpin for SendMail<'_, M> {}

impl<M: Message> Future for SendMail<'_, M> {
    type Output = Result<(), Envelope<M>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mb = this.mailbox;
        let Some(env) = this.env.take() else {
            panic!("a mailbox send polled after it completed");
        };
        let mut st = lock(&mb.state);
        if st.closed {
            this.waiter = None;
            return Poll::Ready(Err(env));
        }
        let mut old = None;
        let may_push = match this.waiter {
            // A fresh sender goes behind those waiting.
            None => st.room(mb.capacity) && !st.queued_senders(),
            Some(id) => match st.waiters.get_mut(&id) {
                // Still waiting for its turn: with this waker.
                Some(w) if !w.woken => {
                    old = w.waker.replace(cx.waker().clone());
                    false
                }
                // Its turn came: the slot kept for it is its own.
                _ => {
                    if st.waiters.remove(&id).is_some() {
                        st.owed -= 1;
                    }
                    this.waiter = None;
                    st.room(mb.capacity)
                }
            },
        };
        if may_push {
            let actor = st.push_local(env);
            // Room for more (several slots freed at once): the next sender's turn.
            let next = st.give_turn(mb.capacity);
            drop(st);
            wake(actor);
            wake(next);
            return Poll::Ready(Ok(()));
        }
        if this.waiter.is_none() {
            let id = st.next_sender;
            st.next_sender += 1;
            st.waiters.insert(
                id,
                Waiter {
                    waker: Some(cx.waker().clone()),
                    woken: false,
                },
            );
            st.turns.push_back(id);
            this.waiter = Some(id);
        }
        drop(st);
        drop(old);
        this.env = Some(env);
        Poll::Pending
    }
}

impl<M: Message> Drop for SendMail<'_, M> {
    fn drop(&mut self) {
        let Some(id) = self.waiter else { return };
        let capacity = self.mailbox.capacity;
        let mut st = lock(&self.mailbox.state);
        let Some(w) = st.waiters.remove(&id) else {
            return;
        };
        let next = if w.woken {
            // It gives up the slot kept for it: the next sender's turn.
            st.owed -= 1;
            st.give_turn(capacity)
        } else {
            // Its id stays among the turns, skipped; swept out when such ids pile up.
            if st.turns.len() > 2 * st.waiters.len() + 16 {
                let State { turns, waiters, .. } = &mut *st;
                turns.retain(|id| waiters.contains_key(id));
            }
            None
        };
        drop(st);
        drop(w);
        wake(next);
    }
}

/// The sink is shared with the kernel port.
pub(super) struct SharedMailbox<M: Message>(pub(super) Arc<Mailbox<M>>);

impl<M: Message> SharedMailbox<M> {
    /// A message from node `src` as the actor takes it; `None` if it does not fit the
    /// actor's type (logged, and answered with an error if it ends with a reply port) or
    /// cannot be decoded.
    fn envelope(&self, src: &str, msg: Body) -> Option<Envelope<M>> {
        let (trace, _, msg) = msg.take_notes();
        // A local sender's message (values, not bytes from a link): its trace is the one
        // its code runs in.
        let trace = match (&msg, trace) {
            (Body::Values(_), None) => crate::trace::local(),
            (_, trace) => trace,
        };
        let seen = Seen::noted(trace);
        let msg = match msg.into_values() {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!(port = %self.0.id, node = src, error = %e, "skipped a message that cannot be decoded");
                return None;
            }
        };
        // Kept aside for an error's answer: a message from `cal` ends with its reply port.
        let cal_reply = msg
            .last()
            .and_then(Value::to_text)
            .filter(|p| p.contains('#'))
            .map(|p| p.into_owned());
        // References in the message come out bound to this node.
        match crate::node::in_node(&self.0.node, || M::from_values(msg)) {
            Ok((msg, rest)) => {
                let reply = match rest.last().and_then(Value::to_text) {
                    Some(port) if !port.is_empty() => ReplyTo::Port(port.into_owned()),
                    _ => ReplyTo::None,
                };
                Some(Envelope {
                    msg,
                    reply,
                    seen,
                    remote: true,
                })
            }
            Err(e) => {
                // (The error names the tag and the field.)
                tracing::warn!(port = %self.0.id, node = src, error = %e, "message does not fit the actor's type, answered with an error");
                if let Some(reply) = cal_reply {
                    let answer = vec![
                        Value::from("error"),
                        Value::from(format!("{}: {e}", self.0.id)),
                    ];
                    if let Some(node) = self.0.node.upgrade() {
                        let _ = node.snd(&*reply, answer);
                    }
                }
                None
            }
        }
    }
}

impl<M: Message> Sink for SharedMailbox<M> {
    fn deliver(&self, _port: &Arc<KernelPort>, _host: &dyn Host, src: &str, msg: Body) {
        if let Some(env) = self.envelope(src, msg) {
            self.0.push_network(src, std::iter::once(env));
        }
    }

    fn deliver_many(
        &self,
        _port: &Arc<KernelPort>,
        _host: &dyn Host,
        src: &str,
        msgs: &mut Vec<Body>,
    ) {
        // Decoded first, then queued under one lock.
        let envs: Vec<Envelope<M>> = msgs
            .drain(..)
            .filter_map(|msg| self.envelope(src, msg))
            .collect();
        self.0.push_network(src, envs.into_iter());
    }

    fn load(&self) -> (usize, u64) {
        (self.0.queued(), self.0.handled.load(Ordering::Relaxed))
    }

    fn exit(&self, _port: &Arc<KernelPort>, _host: &dyn Host, from: &PortId, reason: &[Value]) {
        self.0.push_exit(from.clone(), reason.to_vec());
    }

    fn killed(&self, reason: &[Value]) {
        // Wakes the actor if it waits for mail; a busy one sees the kill before its next
        // message.
        self.0.kill(reason.to_vec());
    }

    fn as_any(&self) -> &dyn Any {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};

    use futures::task::noop_waker_ref;

    use super::*;
    use crate::typed::MessageError;
    use crate::Node;

    #[derive(Debug, PartialEq)]
    struct N(u32);

    impl Message for N {
        const TAGS: &'static [&'static str] = &["n"];
        fn into_values(self) -> Result<Vec<Value>, MessageError> {
            Ok(vec!["n".into(), self.0.into()])
        }
        fn from_values(msg: Vec<Value>) -> Result<(Self, Vec<Value>), MessageError> {
            let n = msg.get(1).and_then(Value::as_u64).unwrap_or(0) as u32;
            Ok((N(n), msg.into_iter().skip(2).collect()))
        }
    }

    fn env(n: u32) -> Envelope<N> {
        Envelope::local(N(n), ReplyTo::None)
    }

    /// As a message from another node arrives.
    fn from_network(mb: &Mailbox<N>, n: u32) {
        let env = Envelope {
            msg: N(n),
            reply: ReplyTo::None,
            seen: None,
            remote: true,
        };
        mb.push_network("peer", std::iter::once(env));
    }

    async fn mailbox(capacity: usize, limit: usize) -> (Node, Mailbox<N>) {
        let node = Node::builder().start().await.unwrap();
        let id = PortId::new(node.id(), "mb");
        let mb = Mailbox::new(id, node.weak(), capacity, limit);
        (node, mb)
    }

    /// What the actor would take next, without waiting.
    fn next(mb: &Mailbox<N>) -> Option<Next<N>> {
        match mb.poll_next(&mut Context::from_waker(noop_waker_ref())) {
            Poll::Ready(n) => Some(n),
            Poll::Pending => None,
        }
    }

    fn mail(mb: &Mailbox<N>) -> Option<u32> {
        match next(mb)? {
            Next::Mail(env) => Some(env.msg.0),
            _ => panic!("expected mail"),
        }
    }

    fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(noop_waker_ref()))
    }

    #[tokio::test]
    async fn local_senders_wait_in_turn_and_a_tell_does_not_jump_them() {
        let (_node, mb) = mailbox(1, 16).await;
        assert!(mb.try_push(env(0)).is_ok());
        assert!(matches!(mb.try_push(env(9)), Err(Refused::Full(_))));
        let mut a = mb.send(env(1));
        let mut b = mb.send(env(2));
        assert!(poll(&mut a).is_pending());
        assert!(poll(&mut b).is_pending());
        assert_eq!(mail(&mb), Some(0));
        // Room for one: `a` has its turn, a tell still finds the box taken.
        assert!(matches!(mb.try_push(env(9)), Err(Refused::Full(_))));
        assert!(poll(&mut b).is_pending());
        assert!(matches!(poll(&mut a), Poll::Ready(Ok(()))));
        assert_eq!(mail(&mb), Some(1));
        assert!(matches!(poll(&mut b), Poll::Ready(Ok(()))));
        assert_eq!(mail(&mb), Some(2));
        assert_eq!(mail(&mb), None);
    }

    #[tokio::test]
    async fn the_slot_of_a_lone_woken_sender_is_kept_for_it() {
        let (_node, mb) = mailbox(1, 16).await;
        assert!(mb.try_push(env(0)).is_ok());
        let mut a = mb.send(env(1));
        assert!(poll(&mut a).is_pending());
        assert_eq!(mail(&mb), Some(0));
        // No sender is left waiting, but the free slot is `a`'s: a tell and a new sender
        // find the box full.
        assert!(matches!(mb.try_push(env(9)), Err(Refused::Full(_))));
        let mut c = mb.send(env(3));
        assert!(poll(&mut c).is_pending());
        assert!(matches!(poll(&mut a), Poll::Ready(Ok(()))));
        assert!(poll(&mut c).is_pending());
        assert_eq!(mail(&mb), Some(1));
        assert!(matches!(poll(&mut c), Poll::Ready(Ok(()))));
        assert_eq!(mail(&mb), Some(3));
    }

    #[tokio::test]
    async fn a_sender_dropped_after_its_turn_came_passes_it_on() {
        let (_node, mb) = mailbox(1, 16).await;
        assert!(mb.try_push(env(0)).is_ok());
        let mut a = mb.send(env(1));
        let mut b = mb.send(env(2));
        assert!(poll(&mut a).is_pending());
        assert!(poll(&mut b).is_pending());
        assert_eq!(mail(&mb), Some(0));
        drop(a);
        assert!(matches!(poll(&mut b), Poll::Ready(Ok(()))));
        assert_eq!(mail(&mb), Some(2));
        // A waiting sender dropped before its turn leaves no trace.
        assert!(mb.try_push(env(3)).is_ok());
        let mut c = mb.send(env(4));
        assert!(poll(&mut c).is_pending());
        drop(c);
        assert_eq!(mail(&mb), Some(3));
        assert!(mb.try_push(env(5)).is_ok());
    }

    #[tokio::test]
    async fn senders_that_give_up_leave_nothing_behind() {
        let (_node, mb) = mailbox(1, 16).await;
        assert!(mb.try_push(env(0)).is_ok());
        for n in 0..10_000 {
            let mut s = mb.send(env(n));
            assert!(poll(&mut s).is_pending());
        }
        let st = lock(&mb.state);
        assert!(st.waiters.is_empty());
        assert!(st.turns.len() <= 16, "{} ids kept", st.turns.len());
    }

    #[tokio::test]
    async fn the_network_is_bounded_apart_and_never_keeps_local_senders_waiting() {
        let (_node, mb) = mailbox(2, 5).await;
        assert!(mb.try_push(env(0)).is_ok());
        for n in 1..10 {
            from_network(&mb, n);
        }
        // Five from the network (the rest dropped), and the local one.
        assert_eq!(mb.queued(), 6);
        let mut s = mb.send(env(100));
        assert!(matches!(poll(&mut s), Poll::Ready(Ok(()))));
        assert!(matches!(mb.try_push(env(101)), Err(Refused::Full(_))));
        let got: Vec<u32> = std::iter::from_fn(|| mail(&mb)).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 5, 100]);
    }

    #[tokio::test]
    async fn a_kill_comes_before_exits_and_exits_before_mail() {
        let (node, mb) = mailbox(4, 16).await;
        assert!(mb.try_push(env(1)).is_ok());
        let from = PortId::new(node.id(), "other");
        mb.push_exit(from.clone(), vec!["boom".into()]);
        mb.kill(vec!["killed".into()]);
        mb.kill(vec!["again".into()]);
        assert!(matches!(next(&mb), Some(Next::Killed(r)) if r == vec![Value::from("killed")]));
        assert!(matches!(next(&mb), Some(Next::Exit(p, _)) if p == from));
        assert_eq!(mail(&mb), Some(1));
    }

    #[tokio::test]
    async fn closing_fails_what_waits_and_refuses_what_comes() {
        let (_node, mb) = mailbox(1, 16).await;
        let (reply, answer) = oneshot::channel();
        assert!(mb
            .try_push(Envelope::local(N(1), ReplyTo::Local(reply)))
            .is_ok());
        let mut s = pin!(mb.send(env(2)));
        assert!(s
            .as_mut()
            .poll(&mut Context::from_waker(noop_waker_ref()))
            .is_pending());
        mb.close();
        // The queued ask's reply channel is gone: its asker fails at once.
        assert!(answer.await.is_err());
        assert!(matches!(
            s.as_mut().poll(&mut Context::from_waker(noop_waker_ref())),
            Poll::Ready(Err(e)) if e.msg == N(2)
        ));
        assert!(matches!(mb.try_push(env(3)), Err(Refused::Closed(_))));
        from_network(&mb, 4);
        assert_eq!(mb.queued(), 0);
    }
}
