//! [`Serial`]: jobs run one at a time, in the order queued, on a task of their own; and
//! [`Wait`], what a connection's reader awaits before it reads more.
//!
//! The node port's requests that run user code or database work run here, never in the task
//! that queued them (a connection's reader). Like a port's mailbox, an idle runner costs no
//! task. The queue is bounded: past its limit, [`Serial::push`] hands back a [`Wait`] that
//! the queuing reader awaits before it reads more from its connection, so a flood slows its
//! sender down and nothing is dropped. A job that panics is logged; the runner goes on.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::Notify;

use super::lock;

/// How many jobs run before the runner lets other tasks run.
const BATCH: usize = 64;

struct Queue<J> {
    jobs: VecDeque<J>,
    running: bool,
}

/// An ordered job runner; see the module documentation.
pub(crate) struct Serial<J> {
    queue: Mutex<Queue<J>>,
    run: Box<dyn Fn(J) + Send + Sync>,
    /// Woken when the queue falls below half its limit.
    room: Notify,
    limit: usize,
    runtime: tokio::runtime::Handle,
}

impl<J: Send + 'static> Serial<J> {
    /// A runner that calls `run` with each job; `limit` jobs may wait before pushers are
    /// asked to wait.
    pub(crate) fn new(
        runtime: tokio::runtime::Handle,
        limit: usize,
        run: impl Fn(J) + Send + Sync + 'static,
    ) -> Arc<Serial<J>> {
        Arc::new(Serial {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                running: false,
            }),
            run: Box::new(run),
            room: Notify::new(),
            limit: limit.max(2),
            runtime,
        })
    }

    /// Queues `job`. `Some` when the queue has reached its limit: the caller should await it
    /// before queuing more (the job itself is queued either way).
    pub(crate) fn push(self: &Arc<Self>, job: J) -> Option<Wait> {
        let mut q = lock(&self.queue);
        q.jobs.push_back(job);
        if !q.running {
            q.running = true;
            let me = self.clone();
            self.runtime.spawn(async move { me.drain().await });
        }
        (q.jobs.len() >= self.limit).then(|| Wait::new(self.clone()))
    }

    /// Whether jobs are queued or running (a request that must keep its order behind them
    /// is queued too).
    pub(crate) fn is_busy(&self) -> bool {
        lock(&self.queue).running
    }

    fn below_half(&self) -> bool {
        lock(&self.queue).jobs.len() < self.limit / 2
    }

    async fn drain(self: Arc<Self>) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            {
                let mut q = lock(&self.queue);
                if q.jobs.is_empty() {
                    q.running = false;
                    drop(q);
                    self.room.notify_waiters();
                    return;
                }
                let n = q.jobs.len().min(BATCH);
                batch.extend(q.jobs.drain(..n));
                if q.jobs.len() < self.limit / 2 {
                    self.room.notify_waiters();
                }
            }
            for job in batch.drain(..) {
                if let Err(p) = super::run_user(|| (self.run)(job)) {
                    tracing::error!(panic = %p, "a node-port job panicked");
                }
            }
            tokio::task::yield_now().await;
        }
    }
}

/// What a connection's reader awaits before it reads more: room in a full [`Serial`] queue
/// (below half its limit), or work that must be done first (a spawned port's init).
#[must_use = "a wait does nothing unless awaited"]
pub(crate) struct Wait(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Wait {
    /// Waits for `f` (a spawned port's init function to finish, say).
    pub(crate) fn until(f: impl Future<Output = ()> + Send + 'static) -> Wait {
        Wait(Box::pin(f))
    }

    fn new<J: Send + 'static>(serial: Arc<Serial<J>>) -> Wait {
        Wait(Box::pin(async move {
            super::until(&serial.room, || serial.below_half()).await
        }))
    }
}

impl Future for Wait {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}
