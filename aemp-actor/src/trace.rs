//! Trace context across nodes: which trace a message belongs to, carried between aemp nodes
//! that both offer it in their greeting (`aemp_trace`), invisibly to AnyEvent::MP nodes.
//!
//! A handled message that came with a context runs with it as the current one (its
//! `aemp.handle` span records the trace id), and what the handler sends to aemp nodes
//! carries it on; `Node::cal` starts a trace when its span is wanted. On the wire, a context
//! is the node-port message `["aemp_trace", TRACE_ID, SPAN_ID]` (hex) sent just before the
//! message it belongs to, on the same link.
//!
//! With the `opentelemetry` feature, and once [`join_opentelemetry`] was called (the `aemp`
//! crate's `otel::install` calls it), the context is OpenTelemetry's: a message sent from a
//! span that `tracing-opentelemetry` tracks carries that span's trace and id, and the
//! `aemp.handle` span on the receiving node becomes its child, so a `cal` shows as one trace
//! in Jaeger or any OTLP collector.

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
    /// A new trace (random ids, from a generator of this thread's: no system call).
    pub fn root() -> TraceCtx {
        TraceCtx {
            trace: fastrand::u128(1..),
            span: fastrand::u64(1..),
        }
    }

    /// The same trace, from a new span.
    pub fn child(&self) -> TraceCtx {
        TraceCtx {
            trace: self.trace,
            span: fastrand::u64(1..),
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
#[inline]
pub fn current() -> Option<TraceCtx> {
    CURRENT.with(Cell::get)
}

/// Runs `f` in trace `ctx` (the trace before is back afterwards, panics included).
pub(crate) fn within<T>(ctx: Option<TraceCtx>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<TraceCtx>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(ctx)));
    f()
}

/// The context a message sent to another node now carries: the OpenTelemetry span the code
/// runs in (when joined; as it is, else, the current trace), else the current trace from a
/// new span (the hop).
pub(crate) fn outgoing() -> Option<TraceCtx> {
    #[cfg(feature = "opentelemetry")]
    if otel::joined() {
        return local();
    }
    current().map(|c| c.child())
}

/// The context a message queued on this node now carries: the OpenTelemetry span the code
/// runs in (when joined), else the current trace as it is (no hop to name).
#[inline]
pub(crate) fn local() -> Option<TraceCtx> {
    #[cfg(feature = "opentelemetry")]
    if otel::joined() {
        return otel::of_span(&tracing::Span::current()).or_else(current);
    }
    current()
}

/// The trace a `cal` whose span is wanted carries: its span's own (when joined), else the
/// current trace from a new span, else a new trace.
pub(crate) fn for_call(span: &tracing::Span) -> TraceCtx {
    #[cfg(feature = "opentelemetry")]
    if otel::joined() {
        if let Some(ctx) = otel::of_span(span) {
            return ctx;
        }
    }
    let _ = span;
    current().map(|c| c.child()).unwrap_or_else(TraceCtx::root)
}

/// Marks the span handling a message that came with `ctx`: its `trace_id` field, and (when
/// joined) its OpenTelemetry parent, the span the message was sent from.
pub(crate) fn mark_handler(span: &tracing::Span, ctx: TraceCtx) {
    span.record("trace_id", ctx.trace_hex());
    #[cfg(feature = "opentelemetry")]
    if otel::joined() {
        otel::adopt(span, ctx);
    }
}

/// Joins aemp's trace context to OpenTelemetry's (see the module docs). Call it once a
/// `tracing_opentelemetry` layer is part of the subscriber; until then aemp never asks the
/// subscriber for OpenTelemetry contexts (which would cost every message a lookup).
#[cfg(feature = "opentelemetry")]
pub fn join_opentelemetry() {
    otel::JOINED.store(true, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(feature = "opentelemetry")]
mod otel {
    use std::sync::atomic::{AtomicBool, Ordering};

    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TraceCtx;

    pub(super) static JOINED: AtomicBool = AtomicBool::new(false);

    pub(super) fn joined() -> bool {
        JOINED.load(Ordering::Relaxed)
    }

    /// The context of `span` as OpenTelemetry tracks it: none without its layer, and none
    /// for a span not sampled (the receiving node's sampler decides afresh, rather than
    /// adopting a parent that is never exported).
    pub(super) fn of_span(span: &tracing::Span) -> Option<TraceCtx> {
        if span.is_disabled() {
            return None;
        }
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        (sc.is_valid() && sc.is_sampled()).then(|| TraceCtx {
            trace: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span: u64::from_be_bytes(sc.span_id().to_bytes()),
        })
    }

    /// Makes `span` a child of the remote span `ctx` was sent from.
    pub(super) fn adopt(span: &tracing::Span, ctx: TraceCtx) {
        let remote = SpanContext::new(
            TraceId::from_bytes(ctx.trace.to_be_bytes()),
            SpanId::from_bytes(ctx.span.to_be_bytes()),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
}
