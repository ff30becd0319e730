//! The mailbox behind a typed port, as the kernel sees it: messages from the network are
//! decoded here and queued in order, without ever blocking the connection that brought them.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aemp_transport::Value;
use futures::task::AtomicWaker;
use tokio::sync::{mpsc, oneshot};

use super::Message;
use crate::node::WeakNode;
use crate::port::{Body, Host, Port as KernelPort, Sink};
use crate::sync::lock;
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
}

/// The mailbox behind a typed port, as the kernel sees it.
pub(super) struct Mailbox<M: Message> {
    pub(super) id: PortId,
    pub(super) node: WeakNode,
    pub(super) tx: mpsc::Sender<Envelope<M>>,
    pub(super) overflow: Mutex<Overflow<M>>,
    pub(super) limit: usize,
    pub(super) is_killed: std::sync::atomic::AtomicBool,
    /// The actor's task while it waits for mail (set before it looks at `is_killed`).
    pub(super) kill_waker: AtomicWaker,
    /// Deaths of linked ports, while the actor traps exits. Unbounded: each link fires once,
    /// so it holds at most one entry per link the actor made.
    pub(super) exits: mpsc::UnboundedSender<(PortId, Vec<Value>)>,
    /// Messages the actor handled so far.
    pub(super) handled: std::sync::atomic::AtomicU64,
    pub(super) kill_reason: Mutex<Option<Vec<Value>>>,
}

pub(super) struct Overflow<M> {
    pub(super) queue: VecDeque<Envelope<M>>,
    pub(super) draining: bool,
}

impl<M: Message> Mailbox<M> {
    /// Queues a message from the network in order, without ever blocking the caller.
    fn push(self: &Arc<Self>, src: &str, env: Envelope<M>) {
        let mut of = lock(&self.overflow);
        if !of.draining {
            match self.tx.try_send(env) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(env)) => {
                    of.queue.push_back(env);
                    of.draining = true;
                    let me = self.clone();
                    if let Some(node) = self.node.upgrade() {
                        node.runtime().spawn(async move { me.drain().await });
                    }
                    return;
                }
            }
        }
        if of.queue.len() >= self.limit {
            tracing::warn!(port = %self.id, node = src, "actor mailbox and overflow full, message dropped");
            return;
        }
        of.queue.push_back(env);
    }

    async fn drain(self: Arc<Self>) {
        loop {
            let env = {
                let mut of = lock(&self.overflow);
                match of.queue.pop_front() {
                    Some(env) => env,
                    None => {
                        of.draining = false;
                        return;
                    }
                }
            };
            if self.tx.send(env).await.is_err() {
                let mut of = lock(&self.overflow);
                of.queue.clear();
                of.draining = false;
                return;
            }
        }
    }
}

/// The sink is shared with the kernel port; `Arc` so that the overflow task can hold it.
pub(super) struct SharedMailbox<M: Message>(pub(super) Arc<Mailbox<M>>);

impl<M: Message> Sink for SharedMailbox<M> {
    fn deliver(&self, _port: &Arc<KernelPort>, _host: &dyn Host, src: &str, msg: Body) {
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
                self.0.push(src, Envelope { msg, reply });
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
        let mb = &self.0;
        let queued = mb.tx.max_capacity() - mb.tx.capacity() + lock(&mb.overflow).queue.len();
        (
            queued,
            mb.handled.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    fn exit(&self, _port: &Arc<KernelPort>, _host: &dyn Host, from: &PortId, reason: &[Value]) {
        let _ = self.0.exits.send((from.clone(), reason.to_vec()));
    }

    fn killed(&self, reason: &[Value]) {
        *lock(&self.0.kill_reason) = Some(reason.to_vec());
        self.0
            .is_killed
            .store(true, std::sync::atomic::Ordering::Release);
        // Wakes the actor if it waits for mail; a busy one sees the kill before its next
        // message.
        self.0.kill_waker.wake();
    }

    fn as_any(&self) -> &dyn Any {
        &self.0.tx
    }
}
