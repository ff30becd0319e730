//! What a node tells about itself: `Node::stats`, the node-port `aemp_stats` request, and
//! `aemp top` (once as JSON against a cluster with the Perl peer in it, and the live view
//! driven in a terminal).

mod support;

use std::process::Stdio;
use std::time::Duration;

use aemp::kernel::Stats;
use aemp::{msg, PortId, Value};
use support::aemp_run::RunNode;
use support::nodes::{pair, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_links_ports_and_queues() {
    let (a, b) = pair("obs-a", "obs-b").await;
    // A port that takes its time over each message (it blocks its own task: allowed for a
    // handler, which never runs on a connection's), so that they queue.
    let slow = b.port_with(move |_ctx, _msg| {
        std::thread::sleep(Duration::from_millis(20));
    });
    for i in 0..100 {
        a.snd(&slow, msg!["work", i]).unwrap();
    }
    // Node a watches the slow port (one remote monitor on b), b's own code twice.
    let _watch_a = a.monitor(&slow);
    let _watch_b1 = b.monitor(&slow);
    let _watch_b2 = b.monitor(&slow);
    // The node-port request answers the same snapshot, across the network, counting what
    // came on its link before it. (Asked again while the counts are short or the link is
    // down: should the two nodes have swapped connections meanwhile — both dialled at once
    // and each kept a different one — the old one's reader may not have counted all yet.)
    let seen: Stats = within("stats that count the traffic", async {
        loop {
            let reply = a
                .cal(PortId::new("obs-b", ""), msg!["aemp_stats"])
                .await
                .unwrap();
            let seen: Stats = aemp::transport::from_value(reply[0].clone()).unwrap();
            if seen
                .links
                .iter()
                .any(|l| l.node == "obs-a" && l.up && l.messages_in >= 100)
            {
                return seen;
            }
        }
    })
    .await;
    assert_eq!(seen.node, "obs-b");
    assert!(seen.monitors >= 3, "{seen:?}");
    // (The entry that counted the traffic: should the nodes have swapped connections, an
    // earlier one may be listed too.)
    let link = seen
        .links
        .iter()
        .find(|l| l.node == "obs-a" && l.up && l.messages_in >= 100)
        .unwrap();
    assert!(
        link.up && link.bytes_in > 1000,
        "{link:?} of {:?}",
        seen.links
    );
    let busiest = &seen.busiest[0];
    assert_eq!(busiest.port, slow.to_string());
    assert!(busiest.queued > 0, "{busiest:?}");
    // `can` says the request is known.
    let can = within(
        "can",
        a.cal(PortId::new("obs-b", ""), msg!["can", "aemp_stats"]),
    )
    .await
    .unwrap();
    assert_eq!(can, msg![1]);

    let here = a.stats();
    let out = here.links.iter().find(|l| l.node == "obs-b").unwrap();
    assert!(out.messages_out >= 100, "{out:?}");
    let done = within("the queue to empty", async {
        loop {
            let st = b.stats();
            if st
                .busiest
                .iter()
                .any(|p| p.port == slow.to_string() && p.queued == 0 && p.handled == 100)
            {
                return st;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(done.ports >= 1);
}

async fn run_node(rc: &std::path::Path, id: &str, seeds: &[&str]) -> RunNode {
    RunNode::node(rc, id, "obs secret", seeds).await
}

fn aemp(rc: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_aemp"));
    cmd.args(args)
        .env("AEMP_RC", rc.join("rc"))
        .env_remove("PERL_ANYEVENT_MP_RC")
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_once_as_json_lists_every_node_of_a_mixed_cluster() {
    let rc = std::env::temp_dir().join(format!("aemp-top-{}", std::process::id()));
    std::fs::create_dir_all(&rc).unwrap();
    let seed = run_node(&rc, "top-seed", &[]).await;
    let member = run_node(&rc, "top-member", &[&seed.addr]).await;
    // The Perl peer, linked with the seed (it speaks AEMP, not the global protocol).
    let peer = match support::peer::require() {
        Some(_) => {
            let peer = support::peer::PeerBuilder::new("top-perl")
                .secret("obs secret")
                .connect(&seed.addr)
                .spawn()
                .await;
            Some(peer)
        }
        None => None,
    };
    let out = within("aemp top --once --json", async {
        loop {
            let out = aemp(
                &rc,
                &[
                    "top",
                    "--once",
                    "--json",
                    "--seed",
                    &seed.addr,
                    "--secret",
                    "obs secret",
                ],
            )
            .output()
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).unwrap();
            // The member's registration and the peer's link reach the seed as they come
            // up: survey again until every node is listed as one.
            let doc = aemp::config::parse_json(&text).unwrap();
            let listed: Vec<String> = doc
                .get("nodes")
                .and_then(Value::as_array)
                .map(|nodes| {
                    nodes
                        .iter()
                        .filter_map(|n| n.get("node").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let wanted: &[&str] = match peer {
                Some(_) => &["top-seed", "top-member", "top-perl"],
                None => &["top-seed", "top-member"],
            };
            let ready = wanted.iter().all(|id| listed.iter().any(|l| l == id));
            if ready {
                return text;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let doc = aemp::config::parse_json(&out).unwrap();
    let nodes = doc.get("nodes").and_then(Value::as_array).unwrap().to_vec();
    let find = |id: &str| {
        nodes
            .iter()
            .find(|n| n.get("node").and_then(Value::as_str) == Some(id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing from {out}"))
    };
    for id in ["top-seed", "top-member"] {
        let n = find(id);
        assert_eq!(n.get("kind").and_then(Value::as_str), Some("aemp"), "{out}");
        let stats = n.get("stats").unwrap();
        assert_eq!(stats.get("node").and_then(Value::as_str), Some(id));
        assert!(
            stats.get("ports").and_then(Value::as_i64).unwrap() >= 2,
            "{out}"
        );
    }
    // The seed is global and sees the families; the member reports to it.
    let seed_stats = find("top-seed").get("stats").cloned().unwrap();
    assert_eq!(seed_stats.get("global"), Some(&Value::Bool(true)));
    let families = seed_stats.get("families").unwrap();
    assert!(families.get("aemp::echo").is_some(), "{out}");
    if peer.is_some() {
        let perl = find("top-perl");
        assert_eq!(
            perl.get("kind").and_then(Value::as_str),
            Some("other"),
            "{out}"
        );
        assert_eq!(perl.get("stats"), Some(&Value::Null));
    }
    drop(member);
    let _ = std::fs::remove_dir_all(&rc);
}

/// The live view in a real terminal (tmux): it draws the nodes, shows nodes coming and
/// going as the database reports them, follows the keys, and gives the terminal back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_live_view_in_a_terminal() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED top live view: tmux is not installed");
        return;
    }
    let rc = std::env::temp_dir().join(format!("aemp-toplive-{}", std::process::id()));
    std::fs::create_dir_all(&rc).unwrap();
    let seed = run_node(&rc, "live-seed", &[]).await;
    let session = format!("aemp-top-{}", std::process::id());
    // The shell reports how `aemp top` ended, and keeps the pane open to read it.
    let command = format!(
        "AEMP_RC={} {} top --seed {} --secret 'obs secret'; echo \"top exited $?\"; sleep 60",
        rc.join("rc").display(),
        env!("CARGO_BIN_EXE_aemp"),
        seed.addr
    );
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(args)
            .stdout(Stdio::piped())
            .output()
            .unwrap()
    };
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "200",
        "-y",
        "50",
        "sh",
        "-c",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    let pane = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned()
    };
    // The terminal's state has no event to await: it is looked at until it shows `what`.
    let shows = |what: &'static str, test: fn(&str) -> bool| {
        let pane = &pane;
        async move {
            within(what, async {
                loop {
                    let view = pane();
                    if test(&view) {
                        return view;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await
        }
    };
    let view = shows("the first view", |v| {
        v.contains("live-seed") && v.contains("aemp top: 1 nodes")
    })
    .await;
    assert!(view.contains("links of live-seed"), "{view}");

    // A node joins: listed at once (the database says so), with an event.
    let member = run_node(&rc, "live-member", &[&seed.addr]).await;
    let view = shows("the joining node", |v| {
        v.contains("node live-member up") && v.contains("aemp top: 2 nodes")
    })
    .await;
    assert!(view.contains("member of live-seed"), "{view}");
    // The selection moves with the keys; the detail follows it.
    tmux(&["send-keys", "-t", &session, "Home"]);
    shows("the first node selected", |v| {
        v.contains("links of live-member")
    })
    .await;
    tmux(&["send-keys", "-t", &session, "Down"]);
    shows("the second node selected", |v| {
        v.contains("links of live-seed")
    })
    .await;

    // The node goes: the database tells, the view says so.
    drop(member);
    shows("the leaving node", |v| v.contains("node live-member down")).await;

    // `q` quits and gives the terminal back.
    tmux(&["send-keys", "-t", &session, "q"]);
    let view = shows("top's exit", |v| v.contains("top exited")).await;
    assert!(view.contains("top exited 0"), "{view}");
    assert!(!view.contains("busiest ports"), "the view was left: {view}");
    tmux(&["kill-session", "-t", &session]);
    let _ = std::fs::remove_dir_all(&rc);
}

/// Span names and fields, as a test subscriber records them.
#[derive(Clone, Default)]
struct Spans(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push_str(&format!(" {}={}", field.name(), value));
    }
}

impl<S> tracing_subscriber::Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut line = attrs.metadata().name().to_owned();
        attrs.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let name = ctx.span(id).map(|s| s.name()).unwrap_or("?");
        let mut line = format!("{name} (recorded)");
        values.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
}

/// A handshake, a connection and a handled message each show as a span with what an
/// operator needs (checked with a test subscriber on this test's thread).
#[tokio::test(flavor = "current_thread")]
async fn spans_of_handshakes_links_and_handled_messages() {
    use tracing_subscriber::layer::SubscriberExt;
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry()
        .with(spans.clone())
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    let _guard = tracing::subscriber::set_default(subscriber);

    let (a, b) = pair("span-a", "span-b").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let port = b.port_with(move |_ctx, msg| {
        let _ = tx.send(msg);
    });
    a.snd(&port, msg!["greet", 1]).unwrap();
    within("the message", rx.recv()).await.unwrap();

    // A cal across the nodes: one trace, on both sides.
    let echo = b.port_with(|ctx, mut msg| {
        let reply = msg.pop().and_then(|r| r.as_str().map(str::to_owned));
        let _ = ctx.snd(reply.unwrap_or_default(), msg);
    });
    let answer = within("the answer", a.cal(&echo, msg!["traced"]))
        .await
        .unwrap();
    assert_eq!(answer, msg!["traced"]);

    // A cal made while the link is down waits for the connection, its trace with it.
    let mut events = a.node_events();
    a.disconnect("span-b");
    within("the link down", async {
        while !matches!(events.recv().await, Some(aemp::NodeEvent::Down(..))) {}
    })
    .await;
    let echo_later = b.port_with(|ctx, mut msg| {
        let reply = msg.pop().and_then(|r| r.as_str().map(str::to_owned));
        let _ = ctx.snd(reply.unwrap_or_default(), msg);
    });
    let answer = within(
        "the answer after reconnecting",
        a.cal(&echo_later, msg!["later"]),
    )
    .await
    .unwrap();
    assert_eq!(answer, msg!["later"]);

    let seen = spans.0.lock().unwrap().clone();
    let has = |needle: &[&str]| seen.iter().any(|l| needle.iter().all(|n| l.contains(n)));
    let trace_of = |prefix: &str| {
        seen.iter().filter(|l| l.starts_with(prefix)).find_map(|l| {
            l.split(" trace_id=")
                .nth(1)
                .map(|t| t.split(' ').next().unwrap().to_owned())
        })
    };
    let sent = trace_of("aemp.cal (recorded)").unwrap_or_else(|| panic!("{seen:#?}"));
    let handled = seen
        .iter()
        .filter(|l| l.starts_with("aemp.handle") && l.contains(&format!("port={}", echo.name())))
        .find_map(|l| {
            l.split(" trace_id=")
                .nth(1)
                .map(|t| t.split(' ').next().unwrap().to_owned())
        });
    let handled = handled
        .or_else(|| trace_of("aemp.handle (recorded)"))
        .unwrap_or_else(|| panic!("{seen:#?}"));
    assert!(
        has(&["aemp.handle (recorded)", "wait_us="]),
        "the mailbox wait: {seen:#?}"
    );
    assert_eq!(sent.len(), 32, "{sent}");
    assert_eq!(
        handled, sent,
        "the handler on node b is in the caller's trace: {seen:#?}"
    );
    // The call queued while connecting: its handler is in its trace too.
    let traces_of = |prefix: &str| -> Vec<String> {
        seen.iter()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| {
                l.split(" trace_id=")
                    .nth(1)
                    .map(|t| t.split(' ').next().unwrap().to_owned())
            })
            .collect()
    };
    let calls = traces_of("aemp.cal (recorded)");
    assert_eq!(calls.len(), 2, "{seen:#?}");
    assert!(
        traces_of("aemp.handle (recorded)").contains(&calls[1]),
        "the queued call's trace reached its handler: {seen:#?}"
    );
    assert!(has(&["aemp.handshake", "peer="]), "{seen:#?}");
    for field in [
        "node=span-",
        "auth=hmac_sha3_512",
        "framing=cbor",
        "tls=false",
        "duration_ms=",
    ] {
        assert!(
            has(&["aemp.handshake (recorded)", field]),
            "{field}: {seen:#?}"
        );
    }
    assert!(has(&["aemp.link", "node=span-a"]), "{seen:#?}");
    assert!(
        has(&[
            "aemp.handle",
            "node=span-b",
            &format!("port={}", port.name()),
            "tag=greet"
        ]),
        "{seen:#?}"
    );
}

/// `GET /metrics` over a raw TCP connection: the body.
async fn scrape(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The value of the sample whose line starts with `prefix` (name and labels).
fn sample(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aemp_run_serves_prometheus_metrics_that_count_known_traffic() {
    let rc = std::env::temp_dir().join(format!("aemp-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&rc).unwrap();
    let metrics_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_aemp"));
    cmd.args([
        "run",
        "--node-id",
        "metered",
        "--bind",
        "127.0.0.1:0",
        "--secret",
        "obs secret",
        "--metrics",
        &metrics_addr,
    ])
    .env("AEMP_RC", rc.join("rc"))
    .env_remove("PERL_ANYEVENT_MP_RC");
    let node = RunNode::start(cmd).await;

    // Known traffic: 50 messages from one node to the node's rpc service's group member.
    let sender = support::nodes::builder("meter-client")
        .secret("obs secret")
        .start()
        .await
        .unwrap();
    let rpc = node.service_port(&sender, "rpc").await;
    for i in 0..50 {
        sender
            .snd(&rpc, msg!["n", i, "meter-client#nowhere"])
            .unwrap();
    }
    let body = within("the counters", async {
        loop {
            let body = scrape(&metrics_addr).await;
            let received = sample(&body, "aemp_link_messages_in_total{peer=\"meter-client\"}");
            if received.is_some_and(|n| n >= 51.0) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(body.starts_with("HTTP/1."), "{body}");
    assert!(
        sample(&body, "aemp_handshakes_total{outcome=\"ok\"}").unwrap() >= 1.0,
        "{body}"
    );
    assert!(sample(&body, "aemp_ports ").unwrap() >= 2.0, "{body}");
    assert!(sample(&body, "aemp_monitors ").is_some(), "{body}");
    assert_eq!(sample(&body, "aemp_links_up ").unwrap(), 1.0, "{body}");
    assert!(
        sample(&body, "aemp_uptime_seconds ").unwrap() > 0.0,
        "{body}"
    );
    let _ = std::fs::remove_dir_all(&rc);
}

struct Doubler;

#[aemp::actor]
impl Doubler {
    async fn double(&mut self, n: i64) -> i64 {
        2 * n
    }
}

/// A typed actor's handled message has its span too: the actor, the trace of a remote
/// caller, and the time it waited in the mailbox.
#[tokio::test(flavor = "current_thread")]
async fn typed_actor_spans_carry_the_callers_trace_and_the_mailbox_wait() {
    use tracing_subscriber::layer::SubscriberExt;
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry()
        .with(spans.clone())
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    let _guard = tracing::subscriber::set_default(subscriber);

    let (a, b) = pair("typed-span-a", "typed-span-b").await;
    let local = b.spawn_actor(Doubler);
    let remote = aemp::ActorRef::<DoublerMsg>::from_id(local.id().clone()).bind(&a);
    let n = within("the remote ask", remote.ask(DoublerMsg::double(21)))
        .await
        .unwrap();
    assert_eq!(n, 42);

    let seen = spans.0.lock().unwrap().clone();
    let trace_of = |l: &String| {
        l.split(" trace_id=")
            .nth(1)
            .map(|t| t.split(' ').next().unwrap().to_owned())
    };
    let sent = seen
        .iter()
        .filter(|l| l.starts_with("aemp.cal (recorded)"))
        .find_map(trace_of)
        .unwrap_or_else(|| panic!("{seen:#?}"));
    assert!(
        seen.iter().any(|l| l.starts_with("aemp.handle")
            && l.contains("Doubler")
            && l.contains("tag=double")
            && l.contains("node=typed-span-b")),
        "{seen:#?}"
    );
    let handled: Vec<String> = seen
        .iter()
        .filter(|l| l.starts_with("aemp.handle (recorded)"))
        .filter_map(trace_of)
        .collect();
    assert!(
        handled.contains(&sent),
        "the actor's handler is in the caller's trace: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("aemp.handle (recorded)") && l.contains("wait_us=")),
        "{seen:#?}"
    );
}
