//! [`Mailbox`]: the queue of a handler port. While it is non-empty one task drains it, so a
//! port handles one message at a time, ports run concurrently, and an idle port costs no task.
//! A mailbox may also hold one piece of work (`T`) that its drain runs before any message
//! (a spawned port's init function).

use std::collections::VecDeque;
use std::sync::Mutex;

use super::Body;
use crate::sync::lock;

/// How many messages a port handles before it lets other tasks run.
pub(crate) const BATCH: usize = 256;

/// How many queued messages make a burst that another worker thread should handle.
const HANDOFF: usize = 64;

/// What the caller of [`Mailbox::push`] must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The mailbox was idle: start a drain task.
    Start,
    /// Queued behind others.
    Queued,
    /// A burst queued up while the drain task has not run: let an idle worker take it.
    Burst,
}

struct Queue<T> {
    messages: VecDeque<Body>,
    running: bool,
    /// Boxed: a thin pointer in every mailbox, for the few that have one.
    first: Option<Box<T>>,
}

/// A handler port's message queue.
pub(crate) struct Mailbox<T> {
    queue: Mutex<Queue<T>>,
}

impl<T> Mailbox<T> {
    /// A mailbox whose drain runs `first` before any message. A `held` one queues messages
    /// but starts no drain until [`Mailbox::release`] (its port's init runs elsewhere first).
    pub(crate) fn new(first: Option<T>, held: bool) -> Mailbox<T> {
        Mailbox {
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                running: held,
                first: first.map(Box::new),
            }),
        }
    }

    /// Ends the hold of a held mailbox; true if messages queued meanwhile (the caller starts
    /// the drain).
    pub(crate) fn release(&self) -> bool {
        let mut q = lock(&self.queue);
        q.running = !q.messages.is_empty();
        q.running
    }

    /// Queues `msg`.
    pub(crate) fn push(&self, msg: Body) -> Pushed {
        let mut q = lock(&self.queue);
        q.messages.push_back(msg);
        if !q.running {
            q.running = true;
            Pushed::Start
        } else if q.messages.len() == HANDOFF {
            Pushed::Burst
        } else {
            Pushed::Queued
        }
    }

    /// Queues `msgs` in order (emptying it).
    pub(crate) fn push_many(&self, msgs: &mut Vec<Body>) -> Pushed {
        let mut q = lock(&self.queue);
        let before = q.messages.len();
        q.messages.extend(msgs.drain(..));
        if !q.running {
            q.running = true;
            Pushed::Start
        } else if before < HANDOFF && q.messages.len() >= HANDOFF {
            Pushed::Burst
        } else {
            Pushed::Queued
        }
    }

    /// Messages queued.
    pub(crate) fn len(&self) -> usize {
        lock(&self.queue).messages.len()
    }

    /// Marks an idle mailbox running without a message (for its `first` work); true if the
    /// caller should start the drain task.
    pub(crate) fn wake(&self) -> bool {
        let mut q = lock(&self.queue);
        if q.running {
            return false;
        }
        q.running = true;
        true
    }

    /// Moves the `first` work (once) and up to a batch of queued messages out; false (and
    /// the mailbox is idle again) when there is nothing, or the port is `dead` (what is queued
    /// is dropped then).
    pub(crate) fn take_batch(
        &self,
        batch: &mut VecDeque<Body>,
        first: &mut Option<T>,
        dead: bool,
    ) -> bool {
        let mut q = lock(&self.queue);
        if dead {
            q.messages = VecDeque::new();
            q.first = None;
            q.running = false;
            return false;
        }
        *first = q.first.take().map(|b| *b);
        if q.messages.is_empty() {
            if first.is_some() {
                return true;
            }
            q.running = false;
            if q.messages.capacity() > 1024 {
                q.messages = VecDeque::new();
            }
            return false;
        }
        if q.messages.len() <= BATCH {
            std::mem::swap(&mut q.messages, batch);
        } else {
            batch.extend(q.messages.drain(..BATCH));
        }
        true
    }
}
