//! Criterion benchmarks of the seeds / global-database layer (`aemp-actor/src/global/`), with
//! clusters on 127.0.0.1 and a multi-thread tokio runtime of two workers:
//!
//! 1. mesh convergence: N members (10, 20) started at once against one seed (a global node),
//!    until the seed's listener family `'l` holds every node, every member has the seed as
//!    master, and a `db_set` on the last member reaches a `db_watch` on the first;
//! 2. `db_set` -> `db_mon` latency: 1 seed + 9 members, every member watching `bench`; one
//!    member sets a fresh key, the time until all nine watchers have seen it;
//! 3. `lookup_name` latency: a name registered on one member, looked up on another (a
//!    `g_db_keys` round trip to the master).
//!
//! Run with short timings on small machines:
//!
//! ```text
//! cargo bench --bench global -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Percentiles (p50 / p99, computed here) and the convergence spread are printed alongside
//! criterion's figures, with the targets (20 nodes < 2 s; set->mon p99 < 50 ms).

#[path = "support/mod.rs"]
mod support;
use support::wanted;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aemp::kernel::{DbWatch, LISTENERS};
use aemp::{Node, Value};
use criterion::{BenchmarkId, Criterion, SamplingMode};
use futures::future::join_all;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

const SECRET: &str = "global bench secret";
/// How long any wait may take before the bench gives up (a hang is a bug, not a figure).
const PATIENCE: Duration = Duration::from_secs(30);
/// Changes / lookups measured for the printed percentiles.
const SAMPLES: usize = 300;
/// Members of the cluster of benches 2 and 3 (plus one seed).
const MEMBERS: usize = 9;

/// A fresh number per cluster, so that node ids never repeat.
static RUN: AtomicU64 = AtomicU64::new(0);
/// Clusters whose seed's `db_watch` of `'l` never showed every node (200 ms after its
/// `db_keys` did): its events' `entries` went stale.
static STALE_WATCHES: AtomicU64 = AtomicU64::new(0);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A free port on 127.0.0.1, for a seed whose address must be known before it starts.
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn start_node(id: &str, bind: &str, seed: &str) -> Node {
    Node::builder()
        .node_id(id)
        .bind(bind)
        .seed(seed)
        .secret(SECRET)
        .start()
        .await
        .unwrap()
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Waits until the watched family satisfies `pred`.
async fn until(w: &mut DbWatch, what: &str, pred: impl Fn(&aemp::DbEvent) -> bool) {
    within(what, async {
        loop {
            let e = w.recv().await.expect("watch open");
            if pred(&e) {
                return;
            }
        }
    })
    .await
}

/// Polls `f` (every 200 µs) until it holds.
async fn poll_until(what: &str, f: impl Fn() -> bool) {
    within(what, async {
        while !f() {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    })
    .await
}

/// One seed (a global node: its own address is among its seeds) and `n` members.
struct Cluster {
    seed: Node,
    members: Vec<Node>,
}

impl Cluster {
    /// Starts the seed (and waits until it is global), then all members at once, and waits
    /// for the mesh; returns the time from the first member's start until: the seed's `'l`
    /// holds every node, every member's master is the seed, and a `db_set` on the last
    /// member shows in a `db_watch` on the first (subscribed, and its first event received,
    /// before the write).
    ///
    /// The seed's `'l` is judged by `db_keys` on the seed (a local read of its merged
    /// database), with a `db_watch` of `'l` as the wake-up: a watch's `entries` can end up
    /// stale (see [`STALE_WATCHES`]), which would hang a bench that trusted them. The watch is
    /// made once the seed is global: made before, it is left stale about once in 5000 runs
    /// (`become_global` racing the members' `g_slave`s).
    async fn start(n: usize) -> (Cluster, Duration) {
        let run = RUN.fetch_add(1, Ordering::Relaxed);
        let s_addr = free_addr();
        let seed_id = format!("gb{run}-seed");
        let seed = start_node(&seed_id, &s_addr, &s_addr).await;
        poll_until("the seed to be global", || seed.is_global()).await;
        let mut listeners = seed.db_watch(LISTENERS);
        let mut watched = 0;

        let start = Instant::now();
        let members = join_all((0..n).map(|i| {
            let (id, s) = (format!("gb{run}-n{i}"), s_addr.clone());
            async move { start_node(&id, "127.0.0.1:0", &s).await }
        }))
        .await;
        within("every listener on the seed", async {
            while seed.db_keys(LISTENERS).await.len() < n + 1 {
                tokio::select! {
                    e = listeners.recv() => watched = e.expect("watch open").entries.len(),
                    () = tokio::time::sleep(Duration::from_millis(1)) => {}
                }
            }
        })
        .await;
        poll_until("every member's master", || {
            members
                .iter()
                .all(|m| m.master().as_deref() == Some(seed_id.as_str()))
        })
        .await;
        if n > 0 {
            let mut w = members[0].db_watch("converged");
            within("the first event", w.recv())
                .await
                .expect("watch open");
            members[n - 1].db_set("converged", "last", Value::from(run));
            until(&mut w, "the last member's write on the first", |e| {
                e.entries.contains_key("last")
            })
            .await;
        }
        let took = start.elapsed();

        // Untimed: does the seed's watch of 'l come to show every node too?
        let caught_up = watched == n + 1
            || tokio::time::timeout(Duration::from_millis(200), async {
                while let Some(e) = listeners.recv().await {
                    if e.entries.len() == n + 1 {
                        return;
                    }
                    watched = e.entries.len();
                }
            })
            .await
            .is_ok();
        if !caught_up {
            STALE_WATCHES.fetch_add(1, Ordering::Relaxed);
            if std::env::var_os("GLOBAL_BENCH_DEBUG").is_some() {
                eprintln!(
                    "run {run}: the seed's db_watch('l) stuck at {watched} entries; db_keys: {}",
                    seed.db_keys(LISTENERS).await.len()
                );
            }
        }
        (Cluster { seed, members }, took)
    }

    async fn shutdown(self) {
        for m in &self.members {
            m.shutdown().await;
        }
        self.seed.shutdown().await;
    }
}

/// p50 and p99 (nearest rank) of `v`.
fn percentiles(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.50), at(0.99))
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

// ---------------------------------------------------------------------------------------
// 1. Mesh convergence.

fn convergence(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("global_convergence");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for n in [10usize, 20] {
        let seen = Mutex::new(Vec::new());
        STALE_WATCHES.store(0, Ordering::Relaxed);
        group.bench_with_input(BenchmarkId::new("members", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (cluster, took) = Cluster::start(n).await;
                        total += took;
                        seen.lock().unwrap().push(took);
                        cluster.shutdown().await;
                    }
                    total
                })
            })
        });
        let mut seen = seen.into_inner().unwrap();
        if !seen.is_empty() {
            let (p50, p99) = percentiles(&mut seen);
            let max = *seen.last().unwrap();
            let target = if n == 20 {
                format!(
                    "; target (20 nodes) < 2 s: {}",
                    if max < Duration::from_secs(2) {
                        "met"
                    } else {
                        "MISSED"
                    }
                )
            } else {
                String::new()
            };
            println!(
                "global_convergence/members/{n}: seed + {n} members, {} runs: min {}, \
                 p50 {}, p99 {}, max {}{target}; seed's db_watch('l) left stale in {} runs",
                seen.len(),
                ms(seen[0]),
                ms(p50),
                ms(p99),
                ms(max),
                STALE_WATCHES.load(Ordering::Relaxed)
            );
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------
// 2. db_set -> db_mon on every node.

/// What a watcher task reports: a key it saw appear (true) or go (false), and when.
type Seen = (String, bool, Instant);

struct Watched {
    cluster: Cluster,
    seen: mpsc::UnboundedReceiver<Seen>,
    next: u64,
}

impl Watched {
    /// Every member watches `bench`, in a task of its own that timestamps what it sees.
    async fn new(cluster: Cluster) -> Watched {
        let (tx, seen) = mpsc::unbounded_channel();
        for m in &cluster.members {
            let mut w = m.db_watch("bench");
            within("the first event", w.recv())
                .await
                .expect("watch open");
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(e) = w.recv().await {
                    let now = Instant::now();
                    for k in e.added.into_iter().chain(e.changed) {
                        let _ = tx.send((k, true, now));
                    }
                    for k in e.deleted {
                        let _ = tx.send((k, false, now));
                    }
                }
            });
        }
        Watched {
            cluster,
            seen,
            next: 0,
        }
    }

    /// Waits for all watchers to report `key` set (`set`) or deleted; the last report's time.
    async fn all_saw(&mut self, key: &str, set: bool) -> Instant {
        let mut n = 0;
        let mut last = None;
        within("every watcher", async {
            while n < self.cluster.members.len() {
                let (k, s, t) = self.seen.recv().await.expect("watchers run");
                if k == key && s == set {
                    n += 1;
                    last = Some(last.map_or(t, |l: Instant| l.max(t)));
                }
            }
        })
        .await;
        last.unwrap()
    }

    /// One change: member 0 sets a fresh key; the time until every watcher has it. The key
    /// is deleted again (untimed), so the family stays small however many runs there are.
    async fn one(&mut self) -> Duration {
        self.next += 1;
        let key = format!("k{}", self.next);
        let start = Instant::now();
        self.cluster.members[0].db_set("bench", &key, Value::from(self.next));
        let took = self.all_saw(&key, true).await - start;
        self.cluster.members[0].db_del("bench", &[&key]);
        self.all_saw(&key, false).await;
        took
    }
}

fn set_to_mon(c: &mut Criterion, rt: &Runtime) {
    let mut w = rt.block_on(async { Watched::new(Cluster::start(MEMBERS).await.0).await });
    let mut lat: Vec<Duration> = rt.block_on(async {
        for _ in 0..20 {
            w.one().await;
        }
        let mut v = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            v.push(w.one().await);
        }
        v
    });
    let (p50, p99) = percentiles(&mut lat);
    println!(
        "global_set_to_mon: seed + {MEMBERS} members, all watching; {SAMPLES} changes: p50 {}, \
         p99 {}, max {}; target p99 < 50 ms: {}",
        ms(p50),
        ms(p99),
        ms(*lat.last().unwrap()),
        if p99 < Duration::from_millis(50) {
            "met"
        } else {
            "MISSED"
        }
    );

    let mut group = c.benchmark_group("global_set_to_mon");
    group.sampling_mode(SamplingMode::Flat).sample_size(20);
    group.bench_function("all_9_watchers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += w.one().await;
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(w.cluster.shutdown());
}

// ---------------------------------------------------------------------------------------
// 3. Name lookup.

fn lookup(c: &mut Criterion, rt: &Runtime) {
    let (cluster, port) = rt.block_on(async {
        let (cluster, _) = Cluster::start(MEMBERS).await;
        let port = cluster.members[0].port_with(|_ctx, _msg| {});
        cluster.members[0]
            .register_name("bench-service", &port)
            .detach();
        let found = within("the name on another member", async {
            loop {
                if let Some(p) = cluster.members[1].lookup_name("bench-service").await {
                    return p;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(found, port);
        (cluster, port)
    });
    let client = &cluster.members[1];
    let once = || async {
        let start = Instant::now();
        let p = client.lookup_name("bench-service").await;
        let took = start.elapsed();
        assert_eq!(p.as_ref(), Some(&port));
        took
    };
    let mut lat: Vec<Duration> = rt.block_on(async {
        for _ in 0..50 {
            once().await;
        }
        let mut v = Vec::with_capacity(SAMPLES * 3);
        for _ in 0..SAMPLES * 3 {
            v.push(once().await);
        }
        v
    });
    let (p50, p99) = percentiles(&mut lat);
    println!(
        "global_lookup_name: {} lookups from another member: p50 {}, p99 {}, max {}",
        lat.len(),
        ms(p50),
        ms(p99),
        ms(*lat.last().unwrap())
    );

    let mut group = c.benchmark_group("global_lookup_name");
    group.sampling_mode(SamplingMode::Flat).sample_size(20);
    group.bench_function("remote_member", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += once().await;
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(cluster.shutdown());
}

// ---------------------------------------------------------------------------------------

fn main() {
    let rt = runtime();
    let mut c = Criterion::default().configure_from_args();
    if wanted("global_convergence") {
        convergence(&mut c, &rt);
    }
    if wanted("global_set_to_mon") {
        set_to_mon(&mut c, &rt);
    }
    if wanted("global_lookup_name") {
        lookup(&mut c, &rt);
    }
    c.final_summary();
}
