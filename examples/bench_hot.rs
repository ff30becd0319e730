//! The hot paths as a program sees them: public API only, messages built per send, sent
//! from the main task, completion detected by a message back. Prints one JSON line (median
//! of 3 runs per figure) with tokio references measured in the same run.
//!
//!     cargo run --release --example bench_hot
//!
//! criterion's benches (`cargo bench`) stay for micro-benchmarks; this is what the README's
//! performance figures quote.

use std::time::{Duration, Instant};

use aemp::{msg, Framing, Node, PortId, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

#[path = "support/counter.rs"]
mod counter;
use counter::{Count, Counter};

const PAYLOAD: &str = "a 40-byte payload.......................";
/// `AEMP_BENCH_QUICK=1` divides every count by 100: a smoke run (the tests use it).
fn quick<T: From<u8> + std::ops::Div<Output = T>>(n: T) -> T {
    if std::env::var_os("AEMP_BENCH_QUICK").is_some() {
        n / T::from(100)
    } else {
        n
    }
}

fn remote_n() -> u64 {
    quick(200_000u64)
}
fn local_n() -> u64 {
    quick(100_000u64)
}
fn rtt_n() -> usize {
    quick(5_000usize)
}
/// Round trips between two tasks of the runtime: fast, so many more are timed.
fn task_rtt_n() -> usize {
    quick(50_000usize)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn node(id: &str, framings: &[Framing]) -> Node {
    let node = Node::builder()
        .node_id(id)
        .bind("127.0.0.1:0")
        .secret("bench_hot")
        .framings(framings.iter().copied())
        .start()
        .await
        .expect("node");
    // `AEMP_BENCH_METRICS=1`: as `aemp run --metrics` runs, a Prometheus recorder installed
    // and every node's stats published to it once a second.
    if std::env::var_os("AEMP_BENCH_METRICS").is_some() {
        static RECORDER: std::sync::Once = std::sync::Once::new();
        RECORDER.call_once(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("recorder");
        });
        std::mem::forget(aemp::metrics::publish(&node, Duration::from_secs(1)));
    }
    node
}

/// A port on `node` that counts `n` messages, then tells `done` (a port anywhere).
fn counter(node: &Node, n: u64, done: PortId) -> PortId {
    let mut seen = 0u64;
    node.port_with(move |ctx, msg| {
        std::hint::black_box(msg);
        seen += 1;
        if seen == n {
            seen = 0;
            let _ = ctx.snd(&done, msg!["done"]);
        }
    })
}

/// A port that forwards every message to a channel.
fn inbox(node: &Node) -> (PortId, mpsc::UnboundedReceiver<Vec<Value>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        node.port_with(move |_ctx, msg| {
            let _ = tx.send(msg);
        }),
        rx,
    )
}

/// Remote one-way messages per second over one connection in `framing`.
async fn remote_one_way(framing: Framing) -> f64 {
    let name = framing.name();
    let a = node(&format!("hot-a-{name}"), &[framing]).await;
    let b = node(&format!("hot-b-{name}"), &[framing]).await;
    a.connect(&b.listen_addrs()[0].to_string()).await.unwrap();
    let (done, mut done_rx) = inbox(&a);
    let port = counter(&b, remote_n(), done);
    let mut rates = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        for i in 0..remote_n() {
            a.snd(&port, msg!["tag", i, PAYLOAD]).unwrap();
        }
        done_rx.recv().await.unwrap();
        rates.push(remote_n() as f64 / start.elapsed().as_secs_f64());
    }
    median(rates)
}

/// Nanoseconds per local `snd` to a `port_with` counter.
async fn local_snd() -> f64 {
    let n = node("hot-local", &[Framing::Cbor]).await;
    let (done, mut done_rx) = inbox(&n);
    let port = counter(&n, local_n(), done);
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        for i in 0..local_n() {
            n.snd(&port, msg!["tag", i, PAYLOAD]).unwrap();
        }
        done_rx.recv().await.unwrap();
        times.push(start.elapsed().as_nanos() as f64 / local_n() as f64);
    }
    median(times)
}

/// Nanoseconds per message through a bounded tokio mpsc(1024) to a counting task.
async fn mpsc_of<T: Send + 'static>(make: impl Fn(u64) -> T) -> f64 {
    let mut times = Vec::new();
    for _ in 0..3 {
        let (tx, mut rx) = mpsc::channel::<T>(1024);
        let counter = tokio::spawn(async move {
            let mut seen = 0;
            while let Some(m) = rx.recv().await {
                std::hint::black_box(m);
                seen += 1;
                if seen == local_n() {
                    break;
                }
            }
        });
        let start = Instant::now();
        for i in 0..local_n() {
            tx.send(make(i)).await.unwrap();
        }
        counter.await.unwrap();
        times.push(start.elapsed().as_nanos() as f64 / local_n() as f64);
    }
    median(times)
}

/// A 24-byte message, as a typed channel would carry.
#[allow(dead_code)]
enum Small {
    Tag(u64, &'static str),
}

/// Nanoseconds per typed `send().await` to a local actor.
async fn typed() -> f64 {
    let n = node("hot-typed", &[Framing::Cbor]).await;
    let counter = n.spawn_actor(Counter::default());
    let mut tells = Vec::new();
    for round in 1..=3u64 {
        let start = Instant::now();
        for i in 0..local_n() {
            counter
                .send(Count::Tag(i, PAYLOAD.to_owned()))
                .await
                .unwrap();
        }
        let seen: u64 = counter.ask(Count::get()).await.unwrap();
        assert_eq!(seen, round * local_n());
        tells.push(start.elapsed().as_nanos() as f64 / local_n() as f64);
    }
    median(tells)
}

/// Nanoseconds per typed `ask` round trip and per mpsc + oneshot round trip, timed in turns
/// (5 runs each, medians) so that both meet the same runtime and machine state: from
/// `main`'s thread (`in_task` false: every round trip crosses threads), or from a task of
/// the runtime (as an actor or a request handler asks).
async fn asks(in_task: bool) -> (f64, f64) {
    let n = node("hot-typed-ask", &[Framing::Cbor]).await;
    let rounds = if in_task { task_rtt_n() } else { rtt_n() };
    let turns = async move {
        let counter = n.spawn_actor(Counter::default());
        let tx = oneshot_counter();
        let (mut asks, mut refs) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..rounds {
                let _: u64 = counter.ask(Count::get()).await.unwrap();
            }
            asks.push(start.elapsed().as_nanos() as f64 / rounds as f64);
            let start = Instant::now();
            for _ in 0..rounds {
                let (otx, orx) = oneshot::channel();
                tx.send(otx).await.unwrap();
                orx.await.unwrap();
            }
            refs.push(start.elapsed().as_nanos() as f64 / rounds as f64);
        }
        (median(asks), median(refs))
    };
    if in_task {
        tokio::spawn(turns).await.unwrap()
    } else {
        turns.await
    }
}

/// The reference's counter: a task answering each request (a oneshot sender) with a count.
fn oneshot_counter() -> mpsc::Sender<oneshot::Sender<u64>> {
    let (tx, mut rx) = mpsc::channel::<oneshot::Sender<u64>>(1024);
    tokio::spawn(async move {
        let mut n = 0;
        while let Some(reply) = rx.recv().await {
            n += 1;
            let _ = reply.send(n);
        }
    });
    tx
}

fn percentiles(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let at = |p: f64| d[((d.len() as f64 * p) as usize).min(d.len() - 1)].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// `cal` round trips to a port on another node: p50, p99 in microseconds.
async fn cal_rtt() -> (f64, f64) {
    let a = node("hot-cal-a", &[Framing::Cbor]).await;
    let b = node("hot-cal-b", &[Framing::Cbor]).await;
    a.connect(&b.listen_addrs()[0].to_string()).await.unwrap();
    let echo = b.port_with(|ctx, mut msg| {
        let reply = msg
            .pop()
            .and_then(|r| r.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = ctx.snd(reply, msg);
    });
    let mut times = Vec::with_capacity(rtt_n());
    for i in 0..rtt_n() {
        let start = Instant::now();
        a.cal(&echo, msg!["ping", i]).await.unwrap();
        times.push(start.elapsed());
    }
    percentiles(times)
}

/// Raw TCP ping-pong of 64 bytes over loopback: p50, p99 in microseconds.
async fn raw_tcp_rtt() -> (f64, f64) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf).await.is_err() {
                return;
            }
        }
    });
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = [7u8; 64];
    let mut times = Vec::with_capacity(rtt_n());
    for _ in 0..rtt_n() {
        let start = Instant::now();
        s.write_all(&buf).await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        times.push(start.elapsed());
    }
    percentiles(times)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `bench_hot remote_cbor` (or another figure's name) runs that figure alone, for profiling.
    if let Some(only) = std::env::args().nth(1) {
        let figure = match only.as_str() {
            "remote_cbor" => remote_one_way(Framing::Cbor).await,
            "remote_json" => remote_one_way(Framing::Json).await,
            "local_snd" => local_snd().await,
            "typed" => typed().await,
            "cal" => cal_rtt().await.0,
            // Both sides of a comparison, from one process.
            "ask" | "ask_task" => {
                let (ask, reference) = asks(only == "ask_task").await;
                println!(
                    "{{\"{only}\":{ask:.1},\"mpsc_oneshot\":{reference:.1},\"ratio\":{:.2}}}",
                    ask / reference
                );
                return;
            }
            other => panic!("unknown figure {other}"),
        };
        println!("{{\"{only}\":{figure:.1}}}");
        return;
    }
    let cbor = remote_one_way(Framing::Cbor).await;
    let json = remote_one_way(Framing::Json).await;
    let snd = local_snd().await;
    let mpsc_vec = mpsc_of(|i| msg!["tag", i, PAYLOAD]).await;
    let mpsc_small = mpsc_of(|i| Small::Tag(i, PAYLOAD)).await;
    let tell = typed().await;
    let (ask, ask_ref) = asks(false).await;
    let (ask_task, ask_ref_task) = asks(true).await;
    let (cal50, cal99) = cal_rtt().await;
    let (raw50, raw99) = raw_tcp_rtt().await;
    println!(
        "{{\"remote_one_way_cbor_msg_s\":{cbor:.0},\"remote_one_way_json_msg_s\":{json:.0},\
         \"local_snd_ns\":{snd:.0},\"mpsc_vec_value_ns\":{mpsc_vec:.0},\"mpsc_24b_enum_ns\":{mpsc_small:.0},\
         \"local_snd_vs_mpsc_vec\":{:.2},\"local_snd_vs_mpsc_24b\":{:.2},\
         \"typed_tell_ns\":{tell:.0},\"typed_tell_vs_mpsc_vec\":{:.2},\
         \"typed_ask_ns\":{ask:.0},\"mpsc_oneshot_rtt_ns\":{ask_ref:.0},\"typed_ask_vs_mpsc_oneshot\":{:.2},\
         \"typed_ask_in_task_ns\":{ask_task:.0},\"mpsc_oneshot_rtt_in_task_ns\":{ask_ref_task:.0},\"typed_ask_in_task_vs_mpsc_oneshot\":{:.2},\
         \"cal_p50_us\":{cal50:.1},\"cal_p99_us\":{cal99:.1},\"raw_tcp_p50_us\":{raw50:.1},\
         \"raw_tcp_p99_us\":{raw99:.1},\"cal_vs_raw_p50\":{:.2}}}",
        snd / mpsc_vec,
        snd / mpsc_small,
        tell / mpsc_vec,
        ask / ask_ref,
        ask_task / ask_ref_task,
        cal50 / raw50,
    );
}
