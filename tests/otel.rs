//! OpenTelemetry: two `aemp` processes export their spans over OTLP/HTTP to a collector
//! (this test's own, decoding what a real one would), and a `cal` from one to the other is
//! one trace: the caller's `aemp.cal` span is the parent of the handler's `aemp.handle`.
#![cfg(feature = "otel")]

mod support;

use std::collections::HashMap;
use std::convert::Infallible;

use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message as _;
use support::aemp_run::RunNode;
use support::nodes::within;
use tokio::sync::mpsc;

/// A span as the collector got it.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    name: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
}

/// An OTLP/HTTP collector on 127.0.0.1: every span of every export request, decoded.
async fn collector() -> (String, mpsc::UnboundedReceiver<Got>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        assert_eq!(req.uri().path(), "/v1/traces");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let export =
                            ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                        for rs in export.resource_spans {
                            let service = rs
                                .resource
                                .iter()
                                .flat_map(|r| &r.attributes)
                                .find(|a| a.key == "service.name")
                                .and_then(|a| a.value.as_ref()?.value.as_ref())
                                .map(|v| match v {
                                    any_value::Value::StringValue(s) => s.clone(),
                                    other => format!("{other:?}"),
                                })
                                .unwrap_or_default();
                            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                                let _ = tx.send(Got {
                                    service: service.clone(),
                                    name: span.name,
                                    trace: span.trace_id,
                                    id: span.span_id,
                                    parent: span.parent_span_id,
                                });
                            }
                        }
                        Ok::<_, Infallible>(hyper::Response::new(http_body_util::Empty::<
                            hyper::body::Bytes,
                        >::new()))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (url, rx)
}

fn with_otel(cmd: &mut tokio::process::Command, collector: &str, service: &str) {
    cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env("OTEL_SERVICE_NAME", service)
        // Batches go out every 100 ms rather than every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("AEMP_OTEL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cal_across_two_processes_is_one_trace_in_the_collector() {
    let (url, mut spans) = collector().await;
    let rc = std::env::temp_dir().join(format!("aemp-otel-{}", std::process::id()));
    std::fs::create_dir_all(&rc).unwrap();

    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_aemp"));
    cmd.args([
        "run",
        "--node-id",
        "otel-b",
        "--bind",
        "127.0.0.1:0",
        "--secret",
        "otel secret",
    ])
    .env("AEMP_RC", rc.join("rc"))
    .env_remove("PERL_ANYEVENT_MP_RC")
    .env_remove("AEMP_LOG");
    with_otel(&mut cmd, &url, "node-b");
    let b = RunNode::start(cmd).await;

    // The rpc service's port, asked of B's node port by a node of this process.
    let helper = support::nodes::builder("otel-helper")
        .secret("otel secret")
        .start()
        .await
        .unwrap();
    let rpc = b.service_port(&helper, "rpc").await.to_string();

    // Node A: `aemp cal`, a process of its own exporting as `node-a`.
    let mut cal = tokio::process::Command::new(env!("CARGO_BIN_EXE_aemp"));
    cal.args([
        "cal",
        "--seed",
        &b.addr,
        "--secret",
        "otel secret",
        &rpc,
        "\"traced\"",
    ])
    .env("AEMP_RC", rc.join("rc"))
    .env_remove("PERL_ANYEVENT_MP_RC")
    .kill_on_drop(true);
    with_otel(&mut cal, &url, "node-a");
    let out = within("aemp cal", cal.output()).await.unwrap();
    assert!(
        out.status.success(),
        "aemp cal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "\"traced\"");

    // Spans arrive from both processes; the cal's and the handler's must meet.
    let mut seen: Vec<Got> = Vec::new();
    let (call, handled) = within("the two spans of one trace", async {
        loop {
            let got = spans.recv().await.expect("collector runs");
            eprintln!("span {got:02x?}");
            seen.push(got);
            let calls: HashMap<Vec<u8>, &Got> = seen
                .iter()
                .filter(|s| s.service == "node-a" && s.name == "aemp.cal")
                .map(|s| (s.id.clone(), s))
                .collect();
            if let Some(h) = seen.iter().find(|s| {
                s.service == "node-b" && s.name == "aemp.handle" && calls.contains_key(&s.parent)
            }) {
                return (calls[&h.parent].clone(), h.clone());
            }
        }
    })
    .await;
    assert_eq!(call.trace, handled.trace, "one trace id on both nodes");
    assert_eq!(call.trace.len(), 16);
    assert!(call.trace.iter().any(|b| *b != 0));
    drop(b);
}
