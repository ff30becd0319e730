//! [`Mailbox`]: the queue of a handler port. While it is non-empty one task drains it, so a
//! port handles one message at a time, ports run concurrently, and an idle port costs no task.

use std::collections::VecDeque;
use std::sync::Mutex;

use aemp_transport::Value;

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

#[derive(Default)]
struct Queue {
    messages: VecDeque<Vec<Value>>,
    running: bool,
    closed: bool,
}

/// A handler port's message queue.
#[derive(Default)]
pub(crate) struct Mailbox {
    queue: Mutex<Queue>,
}

impl Mailbox {
    /// Queues `msg`; `None` if the mailbox is closed (the port died).
    pub(crate) fn push(&self, msg: Vec<Value>) -> Option<Pushed> {
        let mut q = lock(&self.queue);
        if q.closed {
            return None;
        }
        q.messages.push_back(msg);
        Some(if !q.running {
            q.running = true;
            Pushed::Start
        } else if q.messages.len() == HANDOFF {
            Pushed::Burst
        } else {
            Pushed::Queued
        })
    }

    /// Marks an idle mailbox running without a message (for work that must run on the
    /// port's task before its messages); true if the caller should start the drain task.
    pub(crate) fn wake(&self) -> bool {
        let mut q = lock(&self.queue);
        if q.closed || q.running {
            return false;
        }
        q.running = true;
        true
    }

    /// Moves up to a batch of queued messages into `batch`; false (and the mailbox is idle
    /// again) when there are none or it is closed.
    pub(crate) fn take_batch(&self, batch: &mut VecDeque<Vec<Value>>) -> bool {
        let mut q = lock(&self.queue);
        if q.closed || q.messages.is_empty() {
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

    /// Drops what is queued and refuses more.
    pub(crate) fn close(&self) {
        let mut q = lock(&self.queue);
        q.closed = true;
        q.messages = VecDeque::new();
    }
}
