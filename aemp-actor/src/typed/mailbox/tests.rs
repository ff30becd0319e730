//! The mailbox's rules, one at a time, without an actor.

use std::future::Future;
use std::pin::{pin, Pin};
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
    match mb.poll_next(&mut Context::from_waker(noop_waker_ref()), &mut None) {
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
    let asked = mb
        .try_ask(N(1), noop_waker_ref())
        .unwrap_or_else(|_| panic!("room for the ask"));
    let mut s = pin!(mb.send(env(2)));
    assert!(s
        .as_mut()
        .poll(&mut Context::from_waker(noop_waker_ref()))
        .is_pending());
    mb.close();
    // The queued ask learns that no reply will come.
    assert!(matches!(
        mb.poll_reply(asked, &mut Context::from_waker(noop_waker_ref())),
        Poll::Ready(None)
    ));
    assert!(matches!(
        s.as_mut().poll(&mut Context::from_waker(noop_waker_ref())),
        Poll::Ready(Err(e)) if e.msg == N(2)
    ));
    assert!(matches!(mb.try_push(env(3)), Err(Refused::Closed(_))));
    from_network(&mb, 4);
    assert_eq!(mb.queued(), 0);
}

#[tokio::test]
async fn replies_reach_their_own_ask_and_slots_do_not_outlive_them() {
    let (_node, mb) = mailbox(4, 16).await;
    let cx = &mut Context::from_waker(noop_waker_ref());
    let a = mb
        .try_ask(N(1), noop_waker_ref())
        .unwrap_or_else(|_| panic!("room"));
    let b = mb
        .try_ask(N(2), noop_waker_ref())
        .unwrap_or_else(|_| panic!("room"));
    assert!(mb.poll_reply(a, cx).is_pending());
    // The actor answers `b`, then `a` (a failed handler: no reply).
    mb.answer(b, Some(Value::from(20)));
    mb.answer(a, None);
    assert_eq!(mb.poll_reply(b, cx), Poll::Ready(Some(Value::from(20))));
    assert_eq!(mb.poll_reply(a, cx), Poll::Ready(None));
    // A slot given up goes; a late answer to it reaches no one, not a later ask in its place.
    let c = mb
        .try_ask(N(3), noop_waker_ref())
        .unwrap_or_else(|_| panic!("room"));
    mb.forget_reply(c);
    let d = mb
        .try_ask(N(4), noop_waker_ref())
        .unwrap_or_else(|_| panic!("room"));
    mb.answer(c, Some(Value::from(30)));
    assert!(mb.poll_reply(d, cx).is_pending());
    mb.answer(d, Some(Value::from(40)));
    assert_eq!(mb.poll_reply(d, cx), Poll::Ready(Some(Value::from(40))));
    assert!(lock(&mb.state).replies.is_empty());
}
