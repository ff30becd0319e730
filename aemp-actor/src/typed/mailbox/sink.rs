//! The mailbox as the kernel's port sees it: messages from the network (and the kernel's
//! local `snd`) decoded into the actor's type and queued.

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use aemp_transport::Value;

use super::{Envelope, Mailbox, ReplyTo, Seen};
use crate::port::{Body, Host, Port as KernelPort, Sink};
use crate::typed::Message;
use crate::PortId;

/// The sink is shared with the kernel port.
pub(in crate::typed) struct SharedMailbox<M: Message>(pub(in crate::typed) Arc<Mailbox<M>>);

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
