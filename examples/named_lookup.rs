//! A name registered network-wide, found from another node, and watched as it changes.
//!
//!     cargo run --example named_lookup
//!
//! `Node::register_name` puts a port in the global database (AnyEvent::MP 2.x's `db_reg`);
//! any node finds it with `lookup_name`, and `watch_name` streams its changes.

use std::time::Duration;

use aemp::prelude::*;

#[derive(Debug, Clone, Message)]
enum Clock {
    #[message(reply = u64)]
    Now,
}

#[derive(Default)]
struct Ticker(u64);

#[actor(msg = Clock)]
impl Ticker {
    async fn now(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::config::cert::gen_secret()?;
    // `seed` is a global node: it holds the database.
    let seed = Node::builder()
        .node_id("seed")
        .bind("127.0.0.1:0")
        .secret(secret.clone())
        .start()
        .await?;
    let addr = seed.listen_addrs()[0].to_string();
    let server = Node::builder()
        .node_id("server")
        .bind("127.0.0.1:0")
        .secret(secret.clone())
        .seed(&addr)
        .start()
        .await?;
    let client = Node::builder()
        .node_id("client")
        .bind("127.0.0.1:0")
        .secret(secret)
        .seed(&addr)
        .start()
        .await?;

    let mut watch = client.watch_name("clock");
    let ticker = server.spawn_actor(Ticker::default());
    let registration = server.register_name("clock", &ticker);

    // The watch sees the registration arrive.
    let added = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match watch.recv().await {
                Some(DbEvent { added, .. }) if !added.is_empty() => return added,
                Some(_) => continue,
                None => return Vec::new(),
            }
        }
    })
    .await?;
    println!("registered: {added:?}");

    let clock: ActorRef<Clock> = client
        .lookup_typed("clock")
        .await
        .ok_or("no clock registered")?;
    println!(
        "clock found at {clock}, it says {}",
        clock.ask(Clock::now()).await?
    );

    // Dropping the guard (or the port's death) removes the name; the watch sees it go.
    drop(registration);
    let deleted = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match watch.recv().await {
                Some(DbEvent { deleted, .. }) if !deleted.is_empty() => return deleted,
                Some(_) => continue,
                None => return Vec::new(),
            }
        }
    })
    .await?;
    println!("unregistered: {deleted:?}");
    Ok(())
}
