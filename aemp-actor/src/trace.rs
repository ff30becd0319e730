//! Trace context across nodes: which trace a message belongs to, carried between aemp nodes
//! that both offer it in their greeting (`aemp_trace`), invisibly to AnyEvent::MP nodes.
//!
//! A handled message that came with a context runs with it as the current one (its
//! `aemp.handle` span records the trace id), and what the handler sends to aemp nodes
//! carries it on; `Node::cal` starts a trace when its span is wanted. On the wire, a context
//! is the node-port message `["aemp_trace", TRACE_ID, SPAN_ID]` (hex) sent just before the
//! message it belongs to, on the same link.

use std::cell::Cell;

use aemp_transport::Value;

/// The greeting key that offers trace contexts. Perl ignores it.
pub(crate) const TRACE_KEY: &str = "aemp_trace";

/// The node-port request that carries a context for the next message on its link.
pub(crate) const TRACE_REQUEST: &str = "aemp_trace";

/// A trace and the span a message was sent from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceCtx {
    /// The trace, as W3C trace context and OpenTelemetry number them (128 bits).
    pub trace: u128,
    /// The span the message was sent from (64 bits).
    pub span: u64,
}

impl TraceCtx {
    /// A new trace.
    pub fn root() -> TraceCtx {
        let id = uuid::Uuid::new_v4().as_u128();
        TraceCtx {
            trace: id,
            span: (id >> 64) as u64 ^ id as u64,
        }
    }

    /// The same trace, from a new span.
    pub fn child(&self) -> TraceCtx {
        TraceCtx {
            trace: self.trace,
            span: uuid::Uuid::new_v4().as_u128() as u64,
        }
    }

    /// The trace id as 32 hex digits.
    pub fn trace_hex(&self) -> String {
        format!("{:032x}", self.trace)
    }

    pub(crate) fn to_wire(self) -> Vec<Value> {
        vec![
            Value::from(TRACE_REQUEST),
            Value::from(self.trace_hex()),
            Value::from(format!("{:016x}", self.span)),
        ]
    }

    /// The context of `["aemp_trace", TRACE, SPAN]` (without the tag).
    pub(crate) fn from_wire(args: &[Value]) -> Option<TraceCtx> {
        let trace = u128::from_str_radix(args.first()?.as_str()?, 16).ok()?;
        let span = u64::from_str_radix(args.get(1)?.as_str()?, 16).ok()?;
        Some(TraceCtx { trace, span })
    }
}

thread_local! {
    static CURRENT: Cell<Option<TraceCtx>> = const { Cell::new(None) };
}

/// The trace the code on this thread runs in, if any.
pub fn current() -> Option<TraceCtx> {
    CURRENT.with(Cell::get)
}

/// Runs `f` in trace `ctx`.
pub(crate) fn within<T>(ctx: Option<TraceCtx>, f: impl FnOnce() -> T) -> T {
    let before = CURRENT.with(|c| c.replace(ctx));
    let out = f();
    CURRENT.with(|c| c.set(before));
    out
}
