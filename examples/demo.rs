//! The aemp demo: two nodes on 127.0.0.1 authenticate with a shared secret and do some work.
//!
//! Node `worker` listens; node `client` connects, sends it text chunks to count words in,
//! and collects the answers. Then it measures one-way throughput over the same connection.
//!
//! Run it with `cargo run --release --example demo`.

use std::collections::BTreeMap;
use std::time::Instant;

use aemp::transport::{accept, connect, msg, Config, Value};
use tokio::net::TcpListener;

const TEXT: &str =
    "the quick brown fox jumps over the lazy dog and the dog sleeps while the fox runs";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::transport::random_alnum(32, false);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("worker listening on {addr}");

    // The worker node: answers ["count", text, reply_port] with ["counted", {word: n}]
    // sent to the reply port, and counts ["tick", n] messages until ["done"].
    let worker_config = Config::new("worker")?.secret(secret.clone());
    let worker = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let conn = accept(stream, &worker_config).await?;
        println!(
            "worker: {} connected ({} auth, {} framing)",
            conn.info().node_id,
            conn.info().peer_auth,
            conn.info().recv_framing
        );
        let (tx, mut rx) = conn.split();
        let mut ticks = 0u64;
        while let Some(m) = rx.recv().await? {
            match m.get(1).and_then(Value::as_str) {
                Some("count") => {
                    let text = m.get(2).and_then(Value::as_str).unwrap_or_default();
                    let reply = m.get(3).and_then(Value::as_str).unwrap_or_default();
                    let mut counts = BTreeMap::<&str, i64>::new();
                    for word in text.split_whitespace() {
                        *counts.entry(word).or_default() += 1;
                    }
                    let map = counts
                        .into_iter()
                        .map(|(w, n)| (Value::from(w), Value::from(n)))
                        .collect::<Vec<_>>();
                    // The reply port is "client#name": on this connection only the name travels.
                    let name = reply.split_once('#').map_or(reply, |(_, n)| n);
                    tx.send_to(name, &[Value::from("counted"), Value::Map(map)])
                        .await?;
                }
                Some("tick") => ticks += 1,
                Some("done") => {
                    tx.send_to("results", &msg!["ticks", ticks]).await?;
                }
                _ => {}
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    });

    let client_config = Config::new("client")?.secret(secret);
    let conn = connect(addr, &client_config).await?;
    let info = conn.info().clone();
    println!(
        "client: connected to {} in {:.2} ms, sending {}, receiving {}",
        info.node_id,
        info.handshake_time.as_secs_f64() * 1e3,
        info.send_framing,
        info.recv_framing
    );
    let (tx, mut rx) = conn.split();

    for (i, chunk) in TEXT.split(" and ").enumerate() {
        tx.send_to("", &msg!["count", chunk, format!("client#reply{i}")])
            .await?;
        let answer = rx.recv().await?.ok_or("worker went away")?;
        println!("client: {} <- {:?}: {}", answer[0], chunk, answer[2]);
    }

    const N: u64 = 200_000;
    let started = Instant::now();
    for i in 0..N {
        tx.send_to("", &msg!["tick", i]).await?;
    }
    tx.send_to("", &msg!["done"]).await?;
    let result = rx.recv().await?.ok_or("worker went away")?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "client: worker counted {} of {N} messages in {:.3} s ({:.0} messages/s)",
        result[2],
        secs,
        N as f64 / secs
    );

    tx.close().await?;
    drop(rx);
    worker.await?.map_err(|e| e.to_string())?;
    println!("demo done");
    Ok(())
}
