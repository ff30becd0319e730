//! The aemp demo: a small cluster on 127.0.0.1 doing real work.
//!
//! Three nodes authenticate with a shared secret. The coordinator spawns a word-count worker
//! on each of the two worker nodes (by the name of a registered init function), splits a text
//! among them with `cal`, merges the counts, watches the workers with monitors, measures
//! port-to-port throughput, and finally sees a worker node go away.
//!
//! Run it with `cargo run --release --example demo`.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use aemp::{msg, Node, Value};

const TEXT: &str =
    "It is a truth universally acknowledged, that a single man in possession of a good \
fortune, must be in want of a wife. However little known the feelings or views of such a man may \
be on his first entering a neighbourhood, this truth is so well fixed in the minds of the \
surrounding families, that he is considered the rightful property of some one or other of their \
daughters.";

/// The init function workers run when spawned: count words of `["count", text, reply]`.
fn word_counter(ctx: &aemp::Ctx<'_>, _args: Vec<Value>) {
    ctx.rcv("count", |ctx, msg| {
        let text = msg[0].to_text().unwrap_or_default();
        let mut counts = BTreeMap::<String, i64>::new();
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            *counts.entry(word.to_lowercase()).or_default() += 1;
        }
        let map = counts
            .into_iter()
            .map(|(w, n)| (Value::from(w), Value::from(n)))
            .collect();
        let reply = msg[1].to_text().ok_or("no reply port")?.into_owned();
        ctx.snd(reply, vec![Value::Map(map)])
            .map_err(|e| e.to_string())
    });
    ctx.rcv("tick", |_ctx, _msg| {});
    ctx.rcv("ticks?", {
        let mut seen = 0i64;
        move |ctx, msg| {
            seen += 1;
            let reply = msg[0].to_text().ok_or("no reply port")?.into_owned();
            ctx.snd(reply, msg![seen]).map_err(|e| e.to_string())
        }
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::config::cert::gen_secret()?;
    let mut workers = Vec::new();
    for name in ["worker-1", "worker-2"] {
        let node = Node::builder()
            .node_id(name)
            .bind("127.0.0.1:0")
            .secret(secret.clone())
            .spawnable("demo::word_counter", word_counter)
            .start()
            .await?;
        println!("{} listening on {}", node.id(), node.listen_addrs()[0]);
        workers.push(node);
    }
    let coordinator = Node::builder()
        .node_id("coordinator")
        .secret(secret)
        .start()
        .await?;
    let _events = coordinator.mon_nodes(|e| match e {
        aemp::NodeEvent::Up(n) => println!("coordinator: node {n} up"),
        aemp::NodeEvent::Down(n, reason) => println!(
            "coordinator: node {n} down ({})",
            aemp::format_reason(reason)
        ),
    });

    // Spawn one counter on each worker node; monitor them.
    let mut counters = Vec::new();
    for w in &workers {
        coordinator.set_addresses(w.id(), vec![w.listen_addrs()[0].to_string()]);
        let port = coordinator.spawn(w.id(), "demo::word_counter", vec![])?;
        let id = port.clone();
        coordinator
            .mon(&port, move |reason| {
                println!("coordinator: {id} died: {}", aemp::format_reason(&reason))
            })
            .detach();
        println!("coordinator: spawned {port}");
        counters.push(port);
    }

    // Split the text by sentence and count in parallel with cal.
    let chunks: Vec<&str> = TEXT.split_inclusive('.').collect();
    let calls = chunks.iter().enumerate().map(|(i, chunk)| {
        coordinator
            .cal(&counters[i % counters.len()], msg!["count", *chunk])
            .timeout(Duration::from_secs(5))
            .into_future()
    });
    let mut total = BTreeMap::<String, i64>::new();
    for reply in futures::future::join_all(calls).await {
        let reply = reply?;
        for (word, n) in reply[0].as_map().unwrap_or_default() {
            *total
                .entry(word.to_text().unwrap_or_default().into_owned())
                .or_default() += n.as_i64().unwrap_or(0);
        }
    }
    let mut top: Vec<_> = total.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("coordinator: most frequent words: {:?}", &top[..5]);

    // Throughput: one-way messages to a remote port, then one round trip to confirm.
    const N: i64 = 500_000;
    let started = Instant::now();
    for i in 0..N {
        coordinator.snd(&counters[0], msg!["tick", i])?;
    }
    let seen = coordinator
        .cal(&counters[0], msg!["ticks?"])
        .timeout(Duration::from_secs(30))
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "coordinator: {N} messages to {} and a reply in {secs:.3} s ({:.0} messages/s)",
        counters[0],
        N as f64 / secs
    );
    let _ = seen;

    // A worker node goes away: its monitors fire with transport_error.
    let gone = coordinator.monitor(&counters[1]);
    workers[1].shutdown().await;
    let reason = tokio::time::timeout(Duration::from_secs(10), gone).await?;
    println!(
        "coordinator: monitor of {} fired: {}",
        counters[1],
        aemp::format_reason(&reason)
    );
    println!("demo done");
    Ok(())
}
