//! The mailbox of a typed actor: one queue, under one lock, for everything that reaches the
//! actor (its mail, the deaths of linked ports, its kill) and one waker for the actor.
//!
//! Local senders are bounded by the capacity (`tell` fails when it is reached, `send().await`
//! waits, in turn); messages from the network never wait — a connection carries the messages
//! of many ports and must not stall for one slow actor — and may fill the queue up to
//! `capacity × OVERFLOW_FACTOR`, in order with the rest; past that they are dropped and
//! logged. One lock held for a push or a pop, and one waker taken at a time, is less work
//! per message than a bounded channel's semaphore plus two further wakers would be.

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
}

/// The trace a message came with, and when it was queued (for the handler span's wait).
pub(super) struct Seen {
    pub(super) trace: Option<TraceCtx>,
    pub(super) queued_at: Option<Instant>,
}

impl Seen {
    /// Notes for a message queued now by local code: its trace, if it runs in one, and the
    /// time, while debug spans are wanted.
    fn noted(trace: Option<TraceCtx>) -> Option<Box<Seen>> {
        let queued_at = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        (trace.is_some() || queued_at.is_some()).then(|| Box::new(Seen { trace, queued_at }))
    }
}

impl<M> Envelope<M> {
    /// A message from local code, with where its reply goes.
    pub(super) fn local(msg: M, reply: ReplyTo) -> Self {
        Envelope {
            msg,
            reply,
            seen: Seen::noted(crate::trace::outgoing()),
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
    /// How many messages local senders may queue.
    capacity: usize,
    /// How many messages the queue may hold at all (messages from the network beyond the
    /// capacity).
    limit: usize,
    /// Messages the actor handled so far.
    pub(super) handled: AtomicU64,
    state: Mutex<State<M>>,
}

struct State<M> {
    mail: VecDeque<Envelope<M>>,
    /// Deaths of linked ports, while the actor traps exits. Unbounded: each link fires once,
    /// so it holds at most one entry per link the actor made.
    exits: VecDeque<(PortId, Vec<Value>)>,
    kill: Option<Vec<Value>>,
    /// The actor stopped: nothing is queued any more.
    closed: bool,
    /// The actor, while it waits (taken by whoever wakes it).
    actor: Option<Waker>,
    /// Local senders waiting for room, first come first served. Bounded by the number of
    /// `send` futures the program holds.
    senders: VecDeque<(u64, Waker)>,
    next_sender: u64,
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
                exits: VecDeque::new(),
                kill: None,
                closed: false,
                actor: None,
                senders: VecDeque::new(),
                next_sender: 0,
            }),
        }
    }

    /// Queues a local message if there is room and no sender waits before it.
    pub(super) fn try_push(&self, env: Envelope<M>) -> Result<(), Refused<M>> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(Refused::Closed(env));
        }
        if st.mail.len() >= self.capacity || !st.senders.is_empty() {
            return Err(Refused::Full(env));
        }
        st.mail.push_back(env);
        let actor = st.actor.take();
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

    /// Queues a message from the network without ever waiting: up to the limit, else it is
    /// dropped and logged.
    fn push_network(&self, src: &str, env: Envelope<M>) {
        let mut st = lock(&self.state);
        if st.closed {
            return;
        }
        if st.mail.len() >= self.limit {
            drop(st);
            tracing::warn!(port = %self.id, node = src, "actor mailbox and overflow full, message dropped");
            return;
        }
        st.mail.push_back(env);
        let actor = st.actor.take();
        drop(st);
        wake(actor);
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
            // A slot is free: the first waiting sender may take it.
            let sender = if st.mail.len() < self.capacity {
                st.senders.pop_front().map(|(_, w)| w)
            } else {
                None
            };
            drop(st);
            wake(sender);
            return Poll::Ready(Next::Mail(env));
        }
        match &mut st.actor {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The actor stopped: what is queued is dropped (asks waiting for it fail at once), and
    /// senders get their messages back.
    pub(super) fn close(&self) {
        let (mail, senders) = {
            let mut st = lock(&self.state);
            st.closed = true;
            st.exits.clear();
            (
                std::mem::take(&mut st.mail),
                std::mem::take(&mut st.senders),
            )
        };
        // Messages are the program's values: dropped outside the lock.
        drop(mail);
        for (_, w) in senders {
            w.wake();
        }
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
pub(super) struct SendMail<'a, M> {
    mailbox: &'a Mailbox<M>,
    env: Option<Envelope<M>>,
    /// Its place among the waiting senders, once it had to wait.
    waiter: Option<u64>,
}

impl<M> Unpin for SendMail<'_, M> {}

impl<M: Message> Future for SendMail<'_, M> {
    type Output = Result<(), Envelope<M>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mb = this.mailbox;
        let mut st = lock(&mb.state);
        let Some(env) = this.env.take() else {
            return Poll::Ready(Ok(()));
        };
        if st.closed {
            this.waiter = None;
            return Poll::Ready(Err(env));
        }
        // Still queued among the senders: wait on (with this waker).
        if let Some(id) = this.waiter {
            if let Some(entry) = st.senders.iter_mut().find(|(i, _)| *i == id) {
                entry.1.clone_from(cx.waker());
                this.env = Some(env);
                return Poll::Pending;
            }
        }
        // A fresh sender goes behind those waiting; a woken one has its turn.
        let my_turn = this.waiter.is_some() || st.senders.is_empty();
        if my_turn && st.mail.len() < mb.capacity {
            this.waiter = None;
            st.mail.push_back(env);
            let actor = st.actor.take();
            // Room for more: pass the turn on.
            let next = if st.mail.len() < mb.capacity {
                st.senders.pop_front().map(|(_, w)| w)
            } else {
                None
            };
            drop(st);
            wake(actor);
            wake(next);
            return Poll::Ready(Ok(()));
        }
        let entry = match this.waiter {
            // Woken, but a `tell` took the slot: first again.
            Some(id) => {
                st.senders.push_front((id, cx.waker().clone()));
                id
            }
            None => {
                let id = st.next_sender;
                st.next_sender += 1;
                st.senders.push_back((id, cx.waker().clone()));
                id
            }
        };
        this.waiter = Some(entry);
        this.env = Some(env);
        Poll::Pending
    }
}

impl<M> Drop for SendMail<'_, M> {
    fn drop(&mut self) {
        let Some(id) = self.waiter else { return };
        let mut st = lock(&self.mailbox.state);
        if let Some(at) = st.senders.iter().position(|(i, _)| *i == id) {
            st.senders.remove(at);
            return;
        }
        // It was woken for a free slot it will not take: the next sender may.
        if st.mail.len() < self.mailbox.capacity {
            let next = st.senders.pop_front().map(|(_, w)| w);
            drop(st);
            wake(next);
        }
    }
}

/// The sink is shared with the kernel port.
pub(super) struct SharedMailbox<M: Message>(pub(super) Arc<Mailbox<M>>);

impl<M: Message> Sink for SharedMailbox<M> {
    fn deliver(&self, _port: &Arc<KernelPort>, _host: &dyn Host, src: &str, msg: Body) {
        let (trace, _, msg) = msg.take_notes();
        let seen = Seen::noted(trace);
        let msg = match msg.into_values() {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!(port = %self.0.id, node = src, error = %e, "skipped a message that cannot be decoded");
                return;
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
                self.0.push_network(src, Envelope { msg, reply, seen });
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
            }
        }
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
    async fn the_network_fills_past_the_capacity_up_to_the_limit_in_order() {
        let (_node, mb) = mailbox(2, 5).await;
        assert!(mb.try_push(env(0)).is_ok());
        for n in 1..10 {
            mb.push_network("peer", env(n));
        }
        assert_eq!(mb.queued(), 5);
        // Local senders wait until the box is below its capacity again.
        let mut s = mb.send(env(100));
        assert!(poll(&mut s).is_pending());
        let got: Vec<u32> = std::iter::from_fn(|| mail(&mb)).take(4).collect();
        assert_eq!(got, [0, 1, 2, 3]);
        assert!(matches!(poll(&mut s), Poll::Ready(Ok(()))));
        assert_eq!(mail(&mb), Some(4));
        assert_eq!(mail(&mb), Some(100));
        assert_eq!(mail(&mb), None);
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
        mb.push_network("peer", env(4));
        assert_eq!(mb.queued(), 0);
    }
}
