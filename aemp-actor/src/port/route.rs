//! [`Route`]: what a connection's reader remembers of where its messages went, so that a
//! burst of messages to one port costs one lookup and one mailbox lock.

use std::sync::Arc;

use aemp_transport::RawMessage;

use super::{Body, Host, Port, PortTable};

/// How many messages for one port a reader gathers before it hands them over.
const GATHER: usize = 64;

/// The port the last message went to (while it lives), and the messages for it not handed
/// over yet. The reader flushes it before anything else happens on its link (a message to
/// another port, a node-port request, waiting for more bytes), so no message waits in it
/// and the order of a link's messages is kept.
#[derive(Default)]
pub(crate) struct Route {
    port: Option<Arc<Port>>,
    pending: Vec<Body>,
    /// The trace context the peer sent for its next message.
    trace: Option<crate::trace::TraceCtx>,
}

impl Route {
    /// Queues `msg` for the port of `ports` it names ([`RawMessage::dest`]); hands it back
    /// if there is no such port. Hands over what was gathered for another port first.
    pub(crate) fn deliver(
        &mut self,
        ports: &PortTable,
        host: &dyn Host,
        src: &str,
        msg: RawMessage,
    ) -> Result<(), RawMessage> {
        // (The port of the message before, compared by bytes: no UTF-8 check per message.)
        let name = msg.dest_bytes().unwrap_or_default();
        let cached = self
            .port
            .as_ref()
            .is_some_and(|p| p.id.name().as_bytes() == name && !p.is_dead());
        if !cached {
            self.flush(host, src);
            self.port = msg.dest().and_then(|name| ports.get(name));
        }
        if self.port.is_none() {
            return Err(msg);
        }
        let body = Body::Raw(msg);
        self.pending.push(match self.trace.take() {
            Some(ctx) => Body::Noted(Box::new(super::Notes {
                trace: Some(ctx),
                queued_at: None,
                body,
            })),
            None => body,
        });
        if self.pending.len() >= GATHER {
            self.flush(host, src);
        }
        Ok(())
    }

    /// The peer's trace context for its next message.
    pub(crate) fn set_trace(&mut self, ctx: crate::trace::TraceCtx) {
        self.trace = Some(ctx);
    }

    /// Forgets the peer's trace context (its message was not one a port handles).
    pub(crate) fn clear_trace(&mut self) {
        self.trace = None;
    }

    /// Hands what was gathered to its port.
    pub(crate) fn flush(&mut self, host: &dyn Host, src: &str) {
        if self.pending.is_empty() {
            return;
        }
        match &self.port {
            Some(port) => port.deliver_many(host, src, &mut self.pending),
            None => self.pending.clear(),
        }
    }

    /// Flushes and forgets the port (the link ends).
    pub(crate) fn clear(&mut self, host: &dyn Host, src: &str) {
        self.flush(host, src);
        self.port = None;
    }
}
