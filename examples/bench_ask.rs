//! One side of `bench_hot`'s ask comparison alone, for profilers: `N` round trips from a
//! task of the runtime, either a typed `ask` of a local actor or a tokio mpsc + oneshot
//! round trip with a counting task. Prints nanoseconds per round trip.
//!
//!     cargo run --release --example bench_ask -- typed 1000000
//!     cargo run --release --example bench_ask -- mpsc 1000000
//!
//! Instructions per round trip, as `valgrind --tool=callgrind` counts them: the difference
//! between runs of 50,000 and 10,000 round trips, divided by 40,000.

use aemp::{Framing, Node};
use tokio::sync::{mpsc, oneshot};

#[path = "support/counter.rs"]
mod counter;
use counter::{Count, Counter};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_ask typed|mpsc ROUND_TRIPS";
    let side = args.next().expect(usage);
    let n: u32 = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let node = Node::builder()
        .node_id("bench-ask")
        .bind("127.0.0.1:0")
        .secret("bench_ask")
        .framings([Framing::Cbor])
        .start()
        .await
        .expect("node");
    let took = tokio::spawn(async move {
        match side.as_str() {
            "typed" => {
                let counter = node.spawn_actor(Counter::default());
                let start = std::time::Instant::now();
                for _ in 0..n {
                    let _: u64 = counter.ask(Count::get()).await.unwrap();
                }
                start.elapsed()
            }
            "mpsc" => {
                let (tx, mut rx) = mpsc::channel::<oneshot::Sender<u64>>(1024);
                tokio::spawn(async move {
                    let mut count = 0;
                    while let Some(reply) = rx.recv().await {
                        count += 1;
                        let _ = reply.send(count);
                    }
                });
                let start = std::time::Instant::now();
                for _ in 0..n {
                    let (otx, orx) = oneshot::channel();
                    tx.send(otx).await.unwrap();
                    orx.await.unwrap();
                }
                start.elapsed()
            }
            other => panic!("unknown side {other}; {usage}"),
        }
    })
    .await
    .unwrap();
    println!(
        "{{\"ns_per_round_trip\":{:.1}}}",
        took.as_nanos() as f64 / f64::from(n.max(1))
    );
}
