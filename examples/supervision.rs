//! A supervisor keeps a counter running: it crashes on a bad request and comes back, fresh,
//! under the same name.
//!
//!     cargo run --example supervision

use std::time::Duration;

use aemp::kernel::supervise::{ChildSpec, Strategy, Supervisor, SupervisorMsg};
use aemp::prelude::*;

#[derive(Debug, Clone, Message)]
enum Count {
    Add(i64),
    #[message(reply = i64)]
    Get,
}

#[derive(Default)]
struct Counter(i64);

#[actor(msg = Count)]
impl Counter {
    async fn add(&mut self, n: i64) -> Result<(), String> {
        if n < 0 {
            return Err(format!("cannot add {n}"));
        }
        self.0 += n;
        Ok(())
    }

    async fn get(&mut self) -> i64 {
        self.0
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::config::cert::gen_secret()?;
    // A seed holds the network's database (where names live).
    let seed = Node::builder()
        .node_id("seed")
        .bind("127.0.0.1:0")
        .secret(secret.clone())
        .start()
        .await?;
    let node = Node::builder()
        .node_id("supervised")
        .bind("127.0.0.1:0")
        .secret(secret)
        .seed(seed.listen_addrs()[0].to_string())
        .start()
        .await?;
    let sup = Supervisor::new()
        .strategy(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(10))
        .child(ChildSpec::actor("counter", Counter::default).register_as("counter"))
        .start(&node);

    let counter = lookup(&node, None).await;
    counter.tell(Count::Add(5))?;
    println!(
        "counter {counter} says {}",
        counter.ask(Count::get()).await?
    );

    // A bad request crashes it; the supervisor starts a fresh one under the name.
    let died = counter.monitor();
    counter.tell(Count::Add(-1))?;
    println!("it died: {}", aemp::format_reason(&died.await));
    let fresh = lookup(&node, Some(&counter)).await;
    println!(
        "restarted as {fresh}, which says {}",
        fresh.ask(Count::get()).await?
    );
    let children = sup.ask(SupervisorMsg::children()).await?;
    println!("the supervisor's children: {}", children.len());
    Ok(())
}

/// The counter registered under its name (other than `not`, the one that died).
async fn lookup(node: &Node, not: Option<&ActorRef<Count>>) -> ActorRef<Count> {
    let mut watch = node.watch_name("counter");
    loop {
        if let Some(r) = node.lookup_typed::<Count>("counter").await {
            if Some(&r) != not {
                return r;
            }
        }
        // Wait for the name to change.
        let _ = watch.recv().await;
    }
}
