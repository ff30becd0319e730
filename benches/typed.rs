//! Typed `tell` and `ask` against dynamic `snd`/`cal` and raw tokio mpsc + oneshot, on one
//! node (the local paths, where the typed layer should cost next to nothing).
//!
//!     cargo bench --bench typed
// criterion_group! makes a public function without documentation.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aemp::{actor, msg, Message, Node, Value};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::sync::{mpsc, oneshot, Notify};

const N: u64 = 100_000;

#[derive(Debug, Clone, Message)]
enum Work {
    Item(i64, String),
    #[message(reply = u64)]
    Get,
}

struct Counter {
    seen: Arc<AtomicU64>,
    done: Arc<Notify>,
    target: u64,
}

#[actor(msg = Work)]
impl Counter {
    async fn item(&mut self, _n: i64, _payload: String) {
        if self.seen.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.done.notify_one();
        }
    }
    async fn get(&mut self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const PAYLOAD: &str = "a 40-byte payload........................";

fn tell(c: &mut Criterion) {
    let rt = runtime();
    let node = rt
        .block_on(Node::builder().node_id("bench-typed").start())
        .unwrap();
    let mut g = c.benchmark_group("local_tell");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);

    g.bench_function("typed_tell", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let node = node.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let seen = Arc::new(AtomicU64::new(0));
                    let done = Arc::new(Notify::new());
                    let port = node.spawn_actor_with_capacity(
                        Counter {
                            seen: seen.clone(),
                            done: done.clone(),
                            target: N,
                        },
                        4096,
                    );
                    let wait = done.notified();
                    tokio::pin!(wait);
                    wait.as_mut().enable();
                    let start = Instant::now();
                    for i in 0..N as i64 {
                        port.send(Work::Item(i, PAYLOAD.to_owned())).await.unwrap();
                    }
                    wait.await;
                    total += start.elapsed();
                    let _ = port.kil(vec![]);
                }
                total
            }
        })
    });

    g.bench_function("dynamic_snd", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let node = node.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let seen = Arc::new(AtomicU64::new(0));
                    let done = Arc::new(Notify::new());
                    let (s, d) = (seen.clone(), done.clone());
                    let port = node.port_with(move |_ctx, _msg| {
                        if s.fetch_add(1, Ordering::Relaxed) + 1 == N {
                            d.notify_one();
                        }
                    });
                    let wait = done.notified();
                    tokio::pin!(wait);
                    wait.as_mut().enable();
                    let start = Instant::now();
                    for i in 0..N as i64 {
                        node.snd(&port, msg!["item", i, PAYLOAD]).unwrap();
                    }
                    wait.await;
                    total += start.elapsed();
                    node.kil(&port, vec![]).unwrap();
                }
                total
            }
        })
    });

    g.bench_function("mpsc_baseline", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, mut rx) = mpsc::channel::<Work>(4096);
                let counter = tokio::spawn(async move {
                    let mut n = 0u64;
                    while let Some(_m) = rx.recv().await {
                        n += 1;
                        if n == N {
                            break;
                        }
                    }
                });
                let start = Instant::now();
                for i in 0..N as i64 {
                    tx.send(Work::Item(i, PAYLOAD.to_owned())).await.unwrap();
                }
                counter.await.unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

const ASKS: u64 = 10_000;

fn ask(c: &mut Criterion) {
    let rt = runtime();
    let node = rt
        .block_on(Node::builder().node_id("bench-ask").start())
        .unwrap();
    let mut g = c.benchmark_group("local_ask");
    g.throughput(Throughput::Elements(ASKS));
    g.sample_size(10);

    let port = {
        let _guard = rt.enter();
        node.spawn_actor(Counter {
            seen: Arc::default(),
            done: Arc::default(),
            target: u64::MAX,
        })
    };
    g.bench_function("typed_ask", |b| {
        b.to_async(&rt).iter(|| {
            let port = port.clone();
            async move {
                for _ in 0..ASKS {
                    let _: u64 = port.ask(Work::get()).await.unwrap();
                }
            }
        })
    });

    let echo = node.port_with(|ctx, mut m| {
        let reply = m
            .pop()
            .and_then(|r| r.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = ctx.snd(reply, vec![Value::from(0)]);
    });
    g.bench_function("dynamic_cal", |b| {
        b.to_async(&rt).iter(|| {
            let (node, echo) = (node.clone(), echo.clone());
            async move {
                for _ in 0..ASKS {
                    node.cal(&echo, msg!["get"]).await.unwrap();
                }
            }
        })
    });

    let (tx, mut rx) = mpsc::channel::<oneshot::Sender<u64>>(1024);
    rt.spawn(async move {
        while let Some(reply) = rx.recv().await {
            let _ = reply.send(0);
        }
    });
    g.bench_function("mpsc_oneshot_baseline", |b| {
        b.to_async(&rt).iter(|| {
            let tx = tx.clone();
            async move {
                for _ in 0..ASKS {
                    let (otx, orx) = oneshot::channel();
                    tx.send(otx).await.unwrap();
                    orx.await.unwrap();
                }
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = tell, ask
}
criterion_main!(benches);
