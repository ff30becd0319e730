//! A group: several ports under one name, network-wide, each reached by a broadcast.
//!
//!     cargo run --example group
//!
//! Three worker nodes register a port each under `workers`; a fourth node looks the group up
//! and sends every member a job, collecting the answers.

use std::time::Duration;

use aemp::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::config::cert::gen_secret()?;
    let seed = Node::builder()
        .node_id("hub")
        .bind("127.0.0.1:0")
        .secret(secret.clone())
        .start()
        .await?;
    let addr = seed.listen_addrs()[0].to_string();
    let mut workers = Vec::new();
    for i in 0..3 {
        let node = Node::builder()
            .node_id(format!("worker{i}"))
            .bind("127.0.0.1:0")
            .secret(secret.clone())
            .seed(&addr)
            .start()
            .await?;
        // A dynamic port, as a Perl node would have: ["job", n, reply_port] -> reply [n * 10].
        let port = node.port_with(|ctx, msg| {
            let n = msg.get(1).and_then(Value::as_i64).unwrap_or(0);
            let reply = msg.get(2).and_then(Value::as_str).unwrap_or_default();
            ctx.snd(reply, msg![ctx.port().node(), n * 10])
        });
        node.register_name("workers", &port).detach();
        workers.push(node);
    }
    let boss = Node::builder()
        .node_id("boss")
        .bind("127.0.0.1:0")
        .secret(secret)
        .seed(&addr)
        .start()
        .await?;

    // The group fills as the registrations reach the database: watch it.
    let mut watch = boss.watch_name("workers");
    let members: Vec<PortId> = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = watch.recv().await {
            if event.entries.len() == 3 {
                return event
                    .entries
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .collect();
            }
        }
        Vec::new()
    })
    .await?;
    println!("{} workers in the group", members.len());

    let mut answers = Vec::new();
    for (i, member) in members.iter().enumerate() {
        let reply = boss
            .cal(member, msg!["job", i as i64 + 1])
            .timeout(Duration::from_secs(5))
            .await?;
        answers.push(reply);
    }
    answers.sort_by_key(|a| a[1].as_i64());
    for a in &answers {
        println!("{} answered {}", a[0], a[1]);
    }
    Ok(())
}
