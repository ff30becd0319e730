//! A peer floods a typed actor that does not keep up, over a raw authenticated connection:
//! the actor's mailbox takes the network's messages up to its bound and drops the rest, so
//! the node's memory stays flat however much is sent (its own test binary: the process's
//! resident memory is the node's).

mod support;

use std::sync::Arc;

use aemp::transport::{connect, msg, Config};
use aemp::{actor, Node};
use support::nodes::within;
use tokio::sync::Semaphore;

struct Stuck {
    gate: Arc<Semaphore>,
    handled: u64,
}

#[actor]
impl Stuck {
    async fn blob(&mut self, _n: u64, _data: String) {
        let _pass = self.gate.acquire().await.unwrap();
        self.handled += 1;
    }

    async fn handled(&mut self) -> u64 {
        self.handled
    }
}

/// The process's resident memory, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap()
        / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_to_a_stuck_typed_actor_leaves_memory_flat() {
    let node = Node::builder()
        .node_id("flooded")
        .bind("127.0.0.1:0")
        .secret("flood secret")
        .start()
        .await
        .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let capacity = 8;
    let actor = node.spawn_actor_with_capacity(
        Stuck {
            gate: gate.clone(),
            handled: 0,
        },
        capacity,
    );
    let addr = node.listen_addrs()[0].to_string();
    let config = Config::new("flooder").unwrap().secret("flood secret");
    let (tx, _rx) = connect(addr.as_str(), &config).await.unwrap().split();

    // 100,000 messages of 4 KiB (400 MiB if they were all kept).
    let data = "x".repeat(4096);
    let port = actor.id().name().to_owned();
    let send = |from: u64, n: u64| {
        let (tx, data, port) = (&tx, &data, &port);
        async move {
            for i in from..from + n {
                tx.send(&msg![port.as_str(), "blob", i, data.as_str()])
                    .await
                    .unwrap();
            }
        }
    };
    within("the first flood", send(0, 20_000)).await;
    let before = rss_mib();
    within("the rest of the flood", send(20_000, 80_000)).await;
    // Everything sent before this has been routed once it is answered.
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
    let probe = node.port_with(move |_ctx, msg| {
        let _ = ptx.send(msg);
    });
    tx.send(&msg![probe.name(), "sync"]).await.unwrap();
    within("the sync", prx.recv()).await;
    let after = rss_mib();
    eprintln!("rss before {before:.1} MiB, after {after:.1} MiB");
    assert!(
        after - before < 64.0,
        "the node grew from {before:.0} MiB to {after:.0} MiB"
    );
    // What was kept: the network's bound, and the one message in the handler.
    gate.add_permits(1 << 20);
    let handled: u64 = within("the count", actor.ask(StuckMsg::handled()))
        .await
        .unwrap();
    let bound = (capacity * aemp::kernel::typed::OVERFLOW_FACTOR) as u64;
    eprintln!("{handled} handled, bound {bound}");
    assert!(
        handled <= bound + 1 && handled >= bound,
        "{handled} handled, bound {bound}"
    );
}
