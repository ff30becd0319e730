//! Spans to an OpenTelemetry collector (Jaeger, Grafana Tempo, the OpenTelemetry Collector,
//! any OTLP/HTTP receiver), with the trace context joined across nodes.
//!
//! [`layer`] gives a `tracing` layer that exports the spans it sees over OTLP/HTTP
//! (protobuf), and joins aemp's trace context to OpenTelemetry's: a message sent from a span
//! carries that span's trace and id to the aemp nodes it reaches (never to AnyEvent::MP
//! nodes), and the `aemp.handle` span there is its child. A `cal` from node A shows as one
//! trace: A's `aemp.cal` span, and under it B's `aemp.handle` and whatever B's handler
//! does. Both nodes export to a collector, each with its own layer.
//!
//! aemp's spans are at `debug` level (`aemp.handshake`, `aemp.link`, `aemp.handle`,
//! `aemp.cal`): give the layer a filter that lets them through. The `aemp` tool does this
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; its
//! filter is `AEMP_OTEL` (default `aemp=debug,aemp_actor=debug,info`).
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//! use tracing_subscriber::Layer;
//!
//! # fn main() -> Result<(), aemp::otel::OtelError> {
//! let (otel, _flush_on_drop) = aemp::otel::layer(Some("http://127.0.0.1:4318"), "my-service")?;
//! tracing_subscriber::registry()
//!     .with(otel.with_filter(tracing_subscriber::EnvFilter::new("aemp_actor=debug,info")))
//!     .with(tracing_subscriber::fmt::layer())
//!     .init();
//! # Ok(()) }
//! ```

use std::fmt;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// Why the exporter could not be made (an endpoint that is not a URL, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot export to OpenTelemetry: {0}")]
pub struct OtelError(String);

/// Keeps the exporter: when dropped, what is still buffered is sent and the exporter stops.
pub struct OtelGuard {
    provider: SdkTracerProvider,
}

impl fmt::Debug for OtelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelGuard").finish_non_exhaustive()
    }
}

impl OtelGuard {
    /// Sends what is buffered now.
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// A layer exporting spans over OTLP/HTTP to the collector at `endpoint` (its base URL, as
/// `http://127.0.0.1:4318`: spans go to `/v1/traces` there; `None`: the standard
/// `OTEL_EXPORTER_OTLP_*` variables, else `http://localhost:4318`), as service `service`.
/// Spans are batched and sent from a thread of the exporter's own. From now on, aemp's trace
/// context is OpenTelemetry's (see the module docs).
pub fn layer<S>(
    endpoint: Option<&str>,
    service: &str,
) -> Result<(OpenTelemetryLayer<S, SdkTracer>, OtelGuard), OtelError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http();
    if let Some(base) = endpoint {
        let url = format!("{}/v1/traces", base.trim_end_matches('/'));
        exporter = exporter.with_endpoint(url);
    }
    let exporter = exporter.build().map_err(|e| OtelError(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    let tracer = provider.tracer("aemp");
    aemp_actor::trace::join_opentelemetry();
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        OtelGuard { provider },
    ))
}
