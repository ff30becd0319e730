//! A local sender waiting for room in a full mailbox, in turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{lock, wake, Envelope, Mailbox, State, Waiter};
use crate::typed::Message;

/// A local send waiting for room: see [`Mailbox::send`].
pub(in crate::typed) struct SendMail<'a, M: Message> {
    mailbox: &'a Mailbox<M>,
    env: Option<Envelope<M>>,
    /// Its id among the waiting senders, once it had to wait.
    waiter: Option<u64>,
}

impl<'a, M: Message> SendMail<'a, M> {
    pub(super) fn new(mailbox: &'a Mailbox<M>, env: Envelope<M>) -> Self {
        SendMail {
            mailbox,
            env: Some(env),
            waiter: None,
        }
    }
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
