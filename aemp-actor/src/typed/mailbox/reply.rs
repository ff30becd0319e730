//! Replies to local asks: a slot per ask in the mailbox, under its lock, with the asker's
//! waker. No channel is allocated per ask, and the asker registers its waker in the same
//! lock that queues its request.

use std::task::{Context, Poll, Waker};

use aemp_transport::Value;

use super::{lock, wake, Envelope, Mailbox, Refused, ReplyTo, Seen, State};
use crate::typed::Message;

/// An ask's slot: its place, and the generation that tells it from a later ask's slot in
/// the same place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::typed) struct SlotKey {
    index: usize,
    generation: u64,
}

/// A slot while its ask waits.
pub(super) struct Slot {
    generation: u64,
    answer: Answer,
    waker: Option<Waker>,
}

enum Answer {
    Waiting,
    Given(Value),
    /// No reply will come: the handler failed, or the actor stopped.
    Never,
}

impl<M> State<M> {
    fn new_slot(&mut self, waker: Option<Waker>) -> SlotKey {
        self.next_generation += 1;
        let generation = self.next_generation;
        let index = self.replies.insert(Slot {
            generation,
            answer: Answer::Waiting,
            waker,
        });
        SlotKey { index, generation }
    }

    /// Takes the slot of `key` out; after a burst of asks, the slab gives its memory back.
    #[inline]
    fn take_slot(&mut self, key: SlotKey) -> Slot {
        let slot = self.replies.remove(key.index);
        if self.replies.capacity() > 64 && self.replies.is_empty() {
            self.shrink_replies();
        }
        slot
    }

    #[cold]
    fn shrink_replies(&mut self) {
        self.replies = slab::Slab::new();
    }

    fn slot(&mut self, key: SlotKey) -> Option<&mut Slot> {
        self.replies
            .get_mut(key.index)
            .filter(|s| s.generation == key.generation)
    }

    /// Gives the ask of `key` its answer (`None`: none will come): its asker's waker, or
    /// the answer back if the asker gave up (to be dropped once the lock is let go).
    pub(super) fn give_answer(
        &mut self,
        key: SlotKey,
        value: Option<Value>,
    ) -> Result<Option<Waker>, Option<Value>> {
        let Some(slot) = self.slot(key) else {
            return Err(value);
        };
        slot.answer = match value {
            Some(value) => Answer::Given(value),
            None => Answer::Never,
        };
        Ok(slot.waker.take())
    }

    /// Every ask still waiting learns that no reply will come: their wakers.
    pub(super) fn fail_replies(&mut self) -> Vec<Waker> {
        self.replies
            .iter_mut()
            .filter(|(_, s)| matches!(s.answer, Answer::Waiting))
            .filter_map(|(_, s)| {
                s.answer = Answer::Never;
                s.waker.take()
            })
            .collect()
    }
}

impl<M: Message> Mailbox<M> {
    /// Queues `msg` as an ask if there is room that no waiting sender is owed, with a slot
    /// for its reply that wakes `waker`; else hands the message back.
    pub(in crate::typed) fn try_ask(&self, msg: M, waker: &Waker) -> Result<SlotKey, Refused<M>> {
        let seen = Seen::noted(crate::trace::local());
        // (Cloned before the lock: no executor code runs under it.)
        let waker = waker.clone();
        let mut st = lock(&self.state);
        let env = |reply| Envelope {
            msg,
            reply,
            seen,
            remote: false,
        };
        if st.closed {
            return Err(Refused::Closed(env(ReplyTo::None)));
        }
        if !st.room(self.capacity) || st.queued_senders() {
            return Err(Refused::Full(env(ReplyTo::None)));
        }
        let key = st.new_slot(Some(waker));
        let actor = st.push_local(env(ReplyTo::Slot(key)));
        drop(st);
        wake(actor);
        Ok(key)
    }

    /// A slot for the reply to an ask that waits for room: the envelope to send.
    pub(in crate::typed) fn ask_later(&self, env: Envelope<M>) -> (SlotKey, Envelope<M>) {
        let key = lock(&self.state).new_slot(None);
        (
            key,
            Envelope {
                reply: ReplyTo::Slot(key),
                ..env
            },
        )
    }

    /// The reply to the ask of `key` once it is there (`None`: none will come).
    #[inline]
    pub(in crate::typed) fn poll_reply(
        &self,
        key: SlotKey,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Value>> {
        let mut st = lock(&self.state);
        let closed = st.closed;
        let Some(slot) = st.slot(key) else {
            return Poll::Ready(None);
        };
        match slot.answer {
            Answer::Waiting if !closed => {
                let old = match &slot.waker {
                    Some(w) if w.will_wake(cx.waker()) => None,
                    _ => slot.waker.replace(cx.waker().clone()),
                };
                drop(st);
                drop(old);
                Poll::Pending
            }
            _ => {
                let answer = std::mem::replace(&mut slot.answer, Answer::Never);
                // (What is left owns nothing: the answer is out, the waker was taken by
                // whoever gave the answer or closed the mailbox.)
                drop(st.take_slot(key));
                drop(st);
                Poll::Ready(match answer {
                    Answer::Given(value) => Some(value),
                    _ => None,
                })
            }
        }
    }

    /// The asker of `key` gave up: its slot goes (a reply that comes later is dropped).
    pub(in crate::typed) fn forget_reply(&self, key: SlotKey) {
        let mut st = lock(&self.state);
        if st.slot(key).is_some() {
            let slot = st.take_slot(key);
            drop(st);
            drop(slot);
        }
    }

    /// The actor's answer to the ask of `key` (`None`: the handler failed). (The actor's loop
    /// gives it with its next `poll_next`, under the same lock, when it goes on.)
    pub(in crate::typed) fn answer(&self, key: SlotKey, value: Option<Value>) {
        let given = lock(&self.state).give_answer(key, value);
        if let Ok(waker) = given {
            wake(waker);
        }
    }
}
