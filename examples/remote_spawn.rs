//! Spawning an actor on another node by name, and talking to it through one reference.
//!
//!     cargo run --example remote_spawn
//!
//! Node `worker` registers the actor `Squarer` under the name `example::Squarer`; node `boss`
//! spawns it there with an init argument, asks it, and kills it with a typed reason.

use std::time::Duration;

use aemp::prelude::*;

#[derive(Debug, Clone, Message)]
enum Square {
    #[message(reply = i64)]
    Square(i64),
}

/// Why the boss stops a squarer: a typed reason, as `["retired", count]` on the wire.
#[derive(Debug, Clone, Message)]
enum Why {
    Retired(u32),
}

struct Squarer {
    offset: i64,
}

#[actor(msg = Square, spawn = "example::Squarer")]
impl Squarer {
    /// The spawner's arguments: `(offset,)`.
    #[init]
    fn new(offset: i64) -> Self {
        Squarer { offset }
    }

    async fn square(&mut self, n: i64) -> i64 {
        n * n + self.offset
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::config::cert::gen_secret()?;
    let worker = Node::builder()
        .node_id("worker")
        .bind("127.0.0.1:0")
        .secret(secret.clone())
        .actor::<Squarer>()
        .start()
        .await?;
    let boss = Node::builder()
        .node_id("boss")
        .secret(secret)
        .start()
        .await?;
    boss.connect(&worker.listen_addrs()[0].to_string()).await?;

    let squarer: ActorRef<Square> = boss.spawn_actor_on::<Squarer>("worker", (1,))?;
    println!("spawned {squarer}");
    let nine_plus_one = squarer
        .ask(Square::square(3))
        .timeout(Duration::from_secs(5))
        .await?;
    println!("square(3) + 1 = {nine_plus_one}");

    let death = squarer.monitor();
    squarer.kil(Why::Retired(1))?;
    println!("it died: {}", aemp::format_reason(&death.await));
    Ok(())
}
