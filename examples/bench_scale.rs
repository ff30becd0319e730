//! How throughput, latency and memory grow with ports, connections and message size, as a
//! program sees them: public API only, every node in this process over real TCP on
//! 127.0.0.1, completion detected by messages back. Prints one JSON line.
//!
//!     cargo run --release --example bench_scale
//!
//! - `fan_in`: 1,000 ports on one node, each receiving from 10 remote senders spread over
//!   4 connections: aggregate msg/s flooding, and latency p50/p99 at half that rate.
//! - `links`: one node holding connections to 100 nodes: memory per link (both ends, as
//!   RSS), and msg/s with all 100 sending to it at once.
//! - `ports`: memory per idle port, and msg/s from one remote sender spread over 1 .. 10,000
//!   destination ports.
//! - `sizes`: one connection, messages of 64 B .. 1 MiB (a CBOR byte string), the sender
//!   keeping at most 16 MiB unacknowledged: msg/s, MiB/s, and the process's RSS after.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aemp::{msg, Framing, Node, PortId, Value};
use tokio::sync::mpsc;

/// `AEMP_BENCH_QUICK=1` divides the counts by 100 (a smoke run; the tests use it).
fn quick(n: u64) -> u64 {
    if std::env::var_os("AEMP_BENCH_QUICK").is_some() {
        (n / 100).max(1)
    } else {
        n
    }
}

const PAYLOAD: &str = "a 40-byte payload.......................";

/// When the run started: message timestamps count from here (every node is in this process).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// The process's resident memory in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn node(id: &str) -> Node {
    Node::builder()
        .node_id(id)
        .bind("127.0.0.1:0")
        .secret("bench_scale")
        .framings([Framing::Cbor])
        .start()
        .await
        .expect("node")
}

async fn connect(from: &Node, to: &Node) {
    from.connect(&to.listen_addrs()[0].to_string())
        .await
        .expect("connect");
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

/// Waits for `n` messages on `rx`.
async fn collect(rx: &mut mpsc::UnboundedReceiver<Vec<Value>>, n: usize) {
    for _ in 0..n {
        rx.recv().await.expect("inbox open");
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1000.0
}

/// Ports on `node` that each count `expect` messages, note the latency of every one (its
/// second element is the send time), then tell `done`. The latencies go to `lat`.
fn counting_ports(
    node: &Node,
    count: usize,
    expect: u64,
    done: &PortId,
    lat: &Arc<Mutex<Vec<u64>>>,
) -> Vec<PortId> {
    (0..count)
        .map(|_| {
            let (done, lat) = (done.clone(), lat.clone());
            let mut seen = 0u64;
            let mut mine = Vec::new();
            node.port_with(move |ctx, msg| {
                if let Some(sent) = msg.get(1).and_then(Value::as_u64) {
                    mine.push(now_ns().saturating_sub(sent));
                }
                seen += 1;
                if seen == expect {
                    lat.lock().unwrap().append(&mut mine);
                    let _ = ctx.snd(&done, msg!["done"]);
                }
            })
        })
        .collect()
}

/// 1,000 ports, 10 senders over 4 connections: (paced rate, flood msg/s, p50 us, p99 us).
async fn fan_in() -> (f64, f64, f64, f64) {
    const PORTS: usize = 1_000;
    const SENDERS: usize = 10;
    const CONNS: usize = 4;
    let rounds_flood = (quick(5_000) / 100).max(1); // per sender per port when flooding (50)
    let hub = node("scale-fan-hub").await;
    let mut senders = Vec::new();
    for i in 0..CONNS {
        let n = node(&format!("scale-fan-{i}")).await;
        connect(&n, &hub).await;
        senders.push(n);
    }
    let (done, mut done_rx) = inbox(&hub);

    // Flood: every sender sends rounds_flood messages to every port, as fast as it can.
    let lat = Arc::new(Mutex::new(Vec::new()));
    let ports = Arc::new(counting_ports(
        &hub,
        PORTS,
        SENDERS as u64 * rounds_flood,
        &done,
        &lat,
    ));
    let start = Instant::now();
    for s in 0..SENDERS {
        let (from, ports) = (senders[s % CONNS].clone(), ports.clone());
        tokio::spawn(async move {
            for round in 0..rounds_flood {
                for port in ports.iter() {
                    from.snd(port, msg!["tag", now_ns(), s, round, PAYLOAD])
                        .unwrap();
                }
                tokio::task::yield_now().await;
            }
        });
    }
    collect(&mut done_rx, PORTS).await;
    let flood = (PORTS * SENDERS) as f64 * rounds_flood as f64 / start.elapsed().as_secs_f64();
    for p in ports.iter() {
        hub.kil(p, vec![]).unwrap();
    }

    // Paced at half the flood rate for about a second: latency as a loaded system sees it.
    let rate = flood / 2.0;
    let per_tick = ((rate / 1000.0) / SENDERS as f64).max(1.0) as usize; // per sender per ms
    let rounds = ((rate / (PORTS * SENDERS) as f64).round() as u64).max(1); // ~1 s
    let lat = Arc::new(Mutex::new(Vec::new()));
    let ports = Arc::new(counting_ports(
        &hub,
        PORTS,
        SENDERS as u64 * rounds,
        &done,
        &lat,
    ));
    for s in 0..SENDERS {
        let (from, ports) = (senders[s % CONNS].clone(), ports.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let mut sent = 0;
            for round in 0..rounds {
                for port in ports.iter() {
                    if sent % per_tick == 0 {
                        tick.tick().await;
                    }
                    sent += 1;
                    from.snd(port, msg!["tag", now_ns(), s, round, PAYLOAD])
                        .unwrap();
                }
            }
        });
    }
    collect(&mut done_rx, PORTS).await;
    let mut lat = std::mem::take(&mut *lat.lock().unwrap());
    lat.sort_unstable();
    (rate, flood, percentile(&lat, 0.5), percentile(&lat, 0.99))
}

/// One node linked to 100: (bytes per link, both ends; aggregate msg/s).
async fn links() -> (f64, f64) {
    const NODES: usize = 100;
    let each_leaf = quick(5_000);
    let hub = node("scale-links-hub").await;
    let mut leaves = Vec::new();
    for i in 0..NODES {
        leaves.push(node(&format!("scale-links-{i}")).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // let the new nodes settle
    let before = rss();
    for leaf in &leaves {
        connect(leaf, &hub).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let per_link = rss().saturating_sub(before) as f64 / NODES as f64;

    let (done, mut done_rx) = inbox(&hub);
    let lat = Arc::new(Mutex::new(Vec::new()));
    let port = counting_ports(&hub, 1, NODES as u64 * each_leaf, &done, &lat).remove(0);
    let start = Instant::now();
    for leaf in &leaves {
        let (leaf, port) = (leaf.clone(), port.clone());
        tokio::spawn(async move {
            for i in 0..each_leaf {
                leaf.snd(&port, msg!["tag", i, PAYLOAD]).unwrap();
                if i % 1000 == 999 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    collect(&mut done_rx, 1).await;
    (
        per_link,
        (NODES as u64 * each_leaf) as f64 / start.elapsed().as_secs_f64(),
    )
}

/// Memory per idle port, and msg/s from one remote sender over 1, 100 and 10,000 ports.
async fn ports() -> (f64, Vec<(usize, f64)>) {
    let idle_n = quick(100_000) as usize;
    let total = quick(300_000);
    let n = node("scale-ports").await;
    let before = rss();
    let idle: Vec<PortId> = (0..idle_n).map(|_| n.port()).collect();
    let per_port = rss().saturating_sub(before) as f64 / idle_n as f64;
    for p in &idle {
        n.kil(p, vec![]).unwrap();
    }
    drop(idle);

    let sender = node("scale-ports-sender").await;
    connect(&sender, &n).await;
    let (done, mut done_rx) = inbox(&n);
    let mut rates = Vec::new();
    for count in [1usize, 100, 10_000] {
        let lat = Arc::new(Mutex::new(Vec::new()));
        let each = (total / count as u64).max(1);
        let ports = counting_ports(&n, count, each, &done, &lat);
        let start = Instant::now();
        for i in 0..each {
            for p in &ports {
                sender.snd(p, msg!["tag", i, PAYLOAD]).unwrap();
            }
        }
        collect(&mut done_rx, count).await;
        rates.push((
            count,
            (each * count as u64) as f64 / start.elapsed().as_secs_f64(),
        ));
        for p in &ports {
            n.kil(p, vec![]).unwrap();
        }
    }
    (per_port, rates)
}

/// One connection, messages of each size: (size, msg/s, MiB/s, RSS MiB after).
async fn sizes() -> Vec<(usize, f64, f64, f64)> {
    const WINDOW: usize = 16 << 20;
    const BUDGET: usize = 512 << 20;
    let a = node("scale-size-a").await;
    let b = node("scale-size-b").await;
    connect(&a, &b).await;
    let (acks, mut ack_rx) = inbox(&a);
    let mut out = Vec::new();
    for size in [64usize, 1 << 10, 16 << 10, 256 << 10, 1 << 20] {
        let count = (quick((BUDGET / size) as u64) as usize).min(300_000);
        let ack_every = (WINDOW / 4 / size).max(1);
        let window = (WINDOW / size).max(2);
        let acks = acks.clone();
        let mut seen = 0usize;
        let port = b.port_with(move |ctx, msg| {
            std::hint::black_box(msg);
            seen += 1;
            if seen % ack_every == 0 || seen == count {
                let _ = ctx.snd(&acks, msg!["ack", seen]);
            }
        });
        let payload = vec![0x5a_u8; size];
        let start = Instant::now();
        let mut acked = 0usize;
        for i in 0..count {
            while i - acked >= window {
                let m = ack_rx.recv().await.expect("acks");
                acked = m[1].as_u64().unwrap() as usize;
            }
            a.snd(
                &port,
                vec![Value::from("blob"), Value::Bytes(payload.clone())],
            )
            .unwrap();
        }
        while acked < count {
            let m = ack_rx.recv().await.expect("acks");
            acked = m[1].as_u64().unwrap() as usize;
        }
        let secs = start.elapsed().as_secs_f64();
        out.push((
            size,
            count as f64 / secs,
            (count * size) as f64 / secs / (1 << 20) as f64,
            rss() as f64 / (1 << 20) as f64,
        ));
        b.kil(&port, vec![]).unwrap();
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    epoch();
    let (paced_rate, flood, p50, p99) = fan_in().await;
    let (per_link, links_rate) = links().await;
    let (per_port, port_rates) = ports().await;
    let sizes = sizes().await;
    let port_rates: Vec<String> = port_rates
        .iter()
        .map(|(n, r)| format!("{{\"ports\":{n},\"msg_s\":{r:.0}}}"))
        .collect();
    let sizes: Vec<String> = sizes
        .iter()
        .map(|(s, r, m, rss)| {
            format!("{{\"bytes\":{s},\"msg_s\":{r:.0},\"mib_s\":{m:.1},\"rss_mib\":{rss:.1}}}")
        })
        .collect();
    println!(
        "{{\"fan_in_1000_ports_10_senders_4_links_msg_s\":{flood:.0},\
         \"fan_in_paced_msg_s\":{paced_rate:.0},\"fan_in_paced_p50_us\":{p50:.1},\
         \"fan_in_paced_p99_us\":{p99:.1},\
         \"links_100_bytes_per_link\":{per_link:.0},\"links_100_msg_s\":{links_rate:.0},\
         \"idle_port_bytes\":{per_port:.0},\"ports\":[{}],\"sizes\":[{}]}}",
        port_rates.join(","),
        sizes.join(",")
    );
}
