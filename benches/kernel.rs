//! Criterion benchmarks of the AEMP kernel (`aemp-actor`): local `snd` throughput against a
//! bounded tokio mpsc channel, remote one-way throughput between two nodes over loopback,
//! `cal` round-trip latency against raw TCP ping-pong, port creation (and removal) rate, and
//! the memory an idle port costs.
//!
//! Run with short timings on small machines:
//!
//! ```text
//! cargo bench --bench kernel -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Some figures are printed besides criterion's: the bytes per idle port (counted by the
//! allocator below, and as RSS), the `cal` and raw-TCP round-trip percentiles (p50, p99) with
//! their ratio, the port creation rate per on-CPU second, and after each group how long its
//! threads waited for a CPU (on a shared machine, timings mean little without that).
//! A filter on the command line skips the printed figures it does not name.
// criterion_group! makes a public function without documentation.
#![allow(missing_docs)]

#[path = "support/contention.rs"]
mod contention;
#[path = "support/mod.rs"]
mod support;
use contention::{thread_cpu, Contention};
use support::wanted;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aemp::kernel::{msg, Node, PortId, Value};
use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, Notify};

// ---------------------------------------------------------------------------------------
// A counting allocator, for the memory per idle port.

/// Forwards every call to [`System`] and, while [`COUNTING`] is set, adds the bytes allocated
/// to [`NET_BYTES`] and subtracts the bytes freed.
///
/// Soundness: every method calls the same method of `System` with exactly the arguments it
/// was given and returns its result unchanged, so `System`'s guarantees (which satisfy the
/// `GlobalAlloc` contract) carry over as they are; the caller's obligations (a valid layout,
/// pointers from this allocator with their layout) are passed on to `System` unchanged, and
/// every pointer this allocator hands out came from `System`. The bookkeeping only touches
/// two atomics: it does not allocate (no recursion into the allocator), cannot panic (atomic
/// adds wrap), and does not read or write the memory being managed.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static NET_BYTES: AtomicIsize = AtomicIsize::new(0);

impl Counting {
    #[inline]
    fn count(delta: isize) {
        if COUNTING.load(Ordering::Relaxed) {
            NET_BYTES.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

// SAFETY: see the soundness argument on `Counting`: pure forwarding to `System`.
#[allow(unsafe_code)] // Reviewed: see the soundness comment above.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are those `System.alloc` needs.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Counting::count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Counting::count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` (every pointer we return does) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        Counting::count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; `new_size` is the caller's, valid.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            Counting::count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------------------
// Shared setup.

const PAYLOAD: &str = "a 40-byte payload.......................";
const _: () = assert!(PAYLOAD.len() == 40);

/// Messages per local `snd` iteration.
const LOCAL_N: usize = 100_000;
/// Messages per remote one-way iteration.
const REMOTE_N: usize = 200_000;
/// Ports per creation iteration (and for the memory figure).
const PORTS_N: usize = 100_000;
/// Capacity of the mpsc baseline's channel.
const MPSC_CAP: usize = 1024;
/// Round trips timed one by one for the percentiles, and the warm-up before them.
const RTT_N: usize = 20_000;
const RTT_WARMUP: usize = 2_000;
/// Size of the raw-TCP ping-pong message.
const RAW_PING: usize = 64;

fn message() -> Vec<Value> {
    msg!["tag", 1, PAYLOAD]
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn node(id: &str) -> Node {
    Node::builder()
        .node_id(id)
        .bind("127.0.0.1:0")
        .secret("bench secret")
        .start()
        .await
        .expect("start node")
}

/// Two nodes, `a` connected to `b`.
async fn pair(a: &str, b: &str) -> (Node, Node) {
    let (a, b) = (node(a).await, node(b).await);
    a.connect(&b.listen_addrs()[0].to_string())
        .await
        .expect("connect");
    (a, b)
}

/// A port on `node` that counts messages and signals `done` after every `n` of them.
fn counter(node: &Node, n: usize, done: Arc<Notify>) -> PortId {
    let mut seen = 0usize;
    node.port_with(move |_ctx, msg| {
        black_box(msg);
        seen += 1;
        if seen == n {
            seen = 0;
            done.notify_one();
        }
    })
}

/// Runs `f` as a task on a worker of `rt` (not on the thread that blocks on it) and waits.
fn on_worker<F>(rt: &Runtime, f: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(f).await.expect("bench task") })
}

// ---------------------------------------------------------------------------------------
// 1. Local snd throughput, against a bounded tokio mpsc channel.

fn local_snd(c: &mut Criterion) {
    let rt = runtime();
    let done = Arc::new(Notify::new());
    let (node, port) = rt.block_on(async {
        let node = node("bench-local").await;
        let port = counter(&node, LOCAL_N, done.clone());
        (node, port)
    });

    let contention = Contention::start(false);
    let mut group = c.benchmark_group("local_snd");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(LOCAL_N as u64));

    group.bench_function("aemp_snd", |b| {
        b.iter_custom(|iters| {
            let (node, port, done) = (node.clone(), port.clone(), done.clone());
            on_worker(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..LOCAL_N {
                        node.snd(&port, message()).unwrap();
                    }
                    done.notified().await;
                }
                start.elapsed()
            })
        })
    });

    group.bench_function("tokio_mpsc_bounded", |b| {
        b.iter_custom(|iters| {
            on_worker(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let (tx, mut rx) = mpsc::channel::<Vec<Value>>(MPSC_CAP);
                    let receiver = tokio::spawn(async move {
                        let mut seen = 0usize;
                        while let Some(msg) = rx.recv().await {
                            black_box(msg);
                            seen += 1;
                            if seen == LOCAL_N {
                                break;
                            }
                        }
                        seen
                    });
                    for _ in 0..LOCAL_N {
                        tx.send(message()).await.unwrap();
                    }
                    assert_eq!(receiver.await.unwrap(), LOCAL_N);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    contention.report("local_snd");
    drop(node);
}

// ---------------------------------------------------------------------------------------
// 2. Remote one-way throughput, port to port over loopback.

fn remote_snd(c: &mut Criterion) {
    let rt = runtime();
    let done = Arc::new(Notify::new());
    let (a, b, port) = rt.block_on(async {
        let (a, b) = pair("bench-ra", "bench-rb").await;
        let port = counter(&b, REMOTE_N, done.clone());
        (a, b, port)
    });

    let contention = Contention::start(false);
    let mut group = c.benchmark_group("remote_snd");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(REMOTE_N as u64));
    group.bench_function("aemp_one_way", |bench| {
        bench.iter_custom(|iters| {
            let (a, port, done) = (a.clone(), port.clone(), done.clone());
            on_worker(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..REMOTE_N {
                        a.snd(&port, message()).unwrap();
                    }
                    done.notified().await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    contention.report("remote_snd");
    drop((a, b));
}

// ---------------------------------------------------------------------------------------
// 3. cal round-trip latency, against raw TCP ping-pong.

/// A reply port on `b` that echoes the message (without the reply port) to the reply port.
fn echo(b: &Node) -> PortId {
    b.port_with(|ctx, mut msg| {
        let reply = msg.pop().expect("a reply port");
        let reply = reply.as_str().expect("a reply port id").to_owned();
        ctx.snd(reply, msg)
    })
}

async fn one_cal(a: &Node, echo: &PortId) {
    let reply = a
        .cal(echo, msg!["ping", 1])
        .timeout(Duration::from_secs(5))
        .await
        .expect("cal");
    debug_assert_eq!(reply.len(), 2);
    black_box(reply);
}

/// A raw TCP ping-pong: an echo task on the server side, the client stream returned.
async fn raw_pair() -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; RAW_PING];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let client = TcpStream::connect(addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    client
}

async fn one_ping(s: &mut TcpStream) {
    let mut buf = [7u8; RAW_PING];
    s.write_all(&buf).await.unwrap();
    s.read_exact(&mut buf).await.unwrap();
    black_box(buf);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// (p50, p99) of round-trip times.
fn p50_p99(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort_unstable();
    (percentile(&times, 0.50), percentile(&times, 0.99))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times `n` round trips one by one (after `warmup`), for aemp's `cal` and for raw TCP,
/// and prints their p50 and p99 and the ratios; gives the raw stream back.
fn print_rtt_percentiles(
    rt: &Runtime,
    a: &Node,
    echo_port: &PortId,
    stream: TcpStream,
) -> TcpStream {
    let (n, warmup) = if criterion_is_benching() {
        (RTT_N, RTT_WARMUP)
    } else {
        (200, 20)
    };
    let (a, echo_port) = (a.clone(), echo_port.clone());
    let (cal50, cal99) = on_worker(rt, async move {
        for _ in 0..warmup {
            one_cal(&a, &echo_port).await;
        }
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            one_cal(&a, &echo_port).await;
            times.push(t.elapsed());
        }
        p50_p99(times)
    });
    let mut stream = stream;
    let ((raw50, raw99), stream) = on_worker(rt, async move {
        for _ in 0..warmup {
            one_ping(&mut stream).await;
        }
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            one_ping(&mut stream).await;
            times.push(t.elapsed());
        }
        (p50_p99(times), stream)
    });
    println!(
        "cal_latency: {n} round trips: aemp cal p50 {:.1} us, p99 {:.1} us; raw TCP ({RAW_PING} B) \
         p50 {:.1} us, p99 {:.1} us; ratio aemp/raw p50 {:.2} (target <= 1.5: {}), p99 {:.2}",
        us(cal50),
        us(cal99),
        us(raw50),
        us(raw99),
        us(cal50) / us(raw50),
        if us(cal50) <= 1.5 * us(raw50) { "met" } else { "MISSED" },
        us(cal99) / us(raw99),
    );
    stream
}

fn cal_latency(c: &mut Criterion) {
    let rt = runtime();
    let (a, b, echo_port) = rt.block_on(async {
        let (a, b) = pair("bench-ca", "bench-cb").await;
        let echo_port = echo(&b);
        (a, b, echo_port)
    });
    let raw = rt.block_on(raw_pair());
    let mut raw = Some(raw);

    let contention = Contention::start(false);
    if wanted("cal_latency/percentiles") {
        let stream = raw.take().expect("the raw stream");
        raw = Some(print_rtt_percentiles(&rt, &a, &echo_port, stream));
    }

    let mut group = c.benchmark_group("cal_latency");
    group.sample_size(20).throughput(Throughput::Elements(1));
    group.bench_function("aemp_cal_round_trip", |bench| {
        bench.iter_custom(|iters| {
            let (a, echo_port) = (a.clone(), echo_port.clone());
            on_worker(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    one_cal(&a, &echo_port).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("raw_tcp_ping_pong", |bench| {
        bench.iter_custom(|iters| {
            let mut s = raw.take().expect("the raw stream");
            let (elapsed, s) = on_worker(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    one_ping(&mut s).await;
                }
                (start.elapsed(), s)
            });
            raw = Some(s);
            elapsed
        })
    });
    group.finish();
    contention.report("cal_latency");
    drop((a, b, raw));
}

// ---------------------------------------------------------------------------------------
// 4. Port creation (and removal) rate.

/// Creates [`PORTS_N`] ports with a small default handler.
fn create_ports(node: &Node) -> Vec<PortId> {
    let mut ports = Vec::with_capacity(PORTS_N);
    for _ in 0..PORTS_N {
        ports.push(node.port_with(|_ctx, msg| {
            black_box(msg);
        }));
    }
    ports
}

fn kil_ports(node: &Node, ports: &[PortId]) {
    for p in ports {
        node.kil(p, vec![]).unwrap();
    }
}

/// Port creation timed by the wall clock and by the thread's own CPU time, best of a few
/// rounds: the second is what the rate would be on an idle machine (this one is often shared).
fn print_port_creation_rate(node: &Node) {
    let rounds = if criterion_is_benching() { 10 } else { 1 };
    let (mut wall, mut cpu) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let (t, c) = (Instant::now(), thread_cpu());
        let ports = create_ports(node);
        wall = wall.min(t.elapsed());
        cpu = cpu.min(thread_cpu().saturating_sub(c));
        kil_ports(node, &ports);
    }
    let rate = |d: Duration| PORTS_N as f64 / d.as_secs_f64() / 1e6;
    println!(
        "ports/port_with: {PORTS_N} ports, best of {rounds}: {:.2} M/s wall clock, {:.2} M/s per \
         on-CPU second of the creating thread; target >= 1 M/s: {}",
        rate(wall),
        rate(cpu),
        if rate(wall) >= 1.0 { "met" } else { "MISSED" },
    );
}

fn port_creation(c: &mut Criterion) {
    let rt = runtime();
    let node = rt.block_on(node("bench-ports"));
    let _guard = rt.enter();
    if wanted("ports/port_with") {
        print_port_creation_rate(&node);
    }
    let contention = Contention::start(true);

    let mut group = c.benchmark_group("ports");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(PORTS_N as u64));
    group.bench_function("port_with", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let ports = create_ports(&node);
                total += start.elapsed();
                kil_ports(&node, &ports);
            }
            total
        })
    });
    group.bench_function("kil", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ports = create_ports(&node);
                let start = Instant::now();
                kil_ports(&node, &ports);
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
    contention.report("ports");
    drop(node);
}

// ---------------------------------------------------------------------------------------
// 5. Memory per idle port.

/// Resident set size in bytes, from /proc/self/statm (0 where there is none).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn memory_per_port() {
    let rt = runtime();
    let node = rt.block_on(node("bench-memory"));
    let _guard = rt.enter();
    let mut ports = Vec::with_capacity(PORTS_N);
    // Let the node's start-up tasks settle, so that they allocate outside the window.
    std::thread::sleep(Duration::from_millis(50));

    let rss_before = rss_bytes();
    NET_BYTES.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for i in 0..PORTS_N {
        let port = node.port_with(move |_ctx, msg| {
            black_box((i, msg));
        });
        ports.push(port);
    }
    COUNTING.store(false, Ordering::SeqCst);
    let net = NET_BYTES.load(Ordering::SeqCst);
    let rss_after = rss_bytes();

    // The vector of ids is the bench's, not the ports': it was allocated before the window.
    let per_port = net as f64 / PORTS_N as f64;
    let rss_per_port = (rss_after.saturating_sub(rss_before)) as f64 / PORTS_N as f64;
    println!(
        "memory_per_idle_port: {PORTS_N} ports: {per_port:.0} bytes/port live heap (counting \
         allocator), {rss_per_port:.0} bytes/port RSS delta; target <= 512: {}",
        if per_port <= 512.0 { "met" } else { "MISSED" }
    );
    kil_ports(&node, &ports);
    drop(node);
}

/// Whether criterion runs the benchmarks for real (`cargo bench`), not as a quick test
/// (`cargo test --benches`), so that the printed figures can use their full sizes.
fn criterion_is_benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

criterion_group!(benches, local_snd, remote_snd, cal_latency, port_creation);

fn main() {
    if wanted("memory_per_idle_port") {
        memory_per_port();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
