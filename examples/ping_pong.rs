//! Two typed actors on two nodes play ping-pong over TCP.
//!
//!     cargo run --release --example ping_pong

use std::time::{Duration, Instant};

use aemp::{actor, ActorCtx, ActorRef, BoxError, Message, Node};

/// The ball the two players hit back and forth.
#[derive(Debug, Clone, Message)]
pub enum Ball {
    /// `["ping", n, reply_to]`
    Ping(u64, ActorRef<Ball>),
    /// `["pong", n]`
    Pong(u64),
}

struct Player {
    name: &'static str,
    rounds: u64,
    partner: Option<ActorRef<Ball>>,
    started: Option<Instant>,
    done: Option<tokio::sync::oneshot::Sender<Duration>>,
}

#[actor(msg = Ball)]
impl Player {
    async fn ping(
        &mut self,
        ctx: &mut ActorCtx<Self>,
        n: u64,
        from: ActorRef<Ball>,
    ) -> Result<(), BoxError> {
        let _ = ctx;
        Ok(from.tell(Ball::Pong(n))?)
    }

    async fn pong(&mut self, ctx: &mut ActorCtx<Self>, n: u64) -> Result<(), BoxError> {
        if n == 1 || n % 2500 == 0 {
            println!("{}: pong {n}", self.name);
        }
        if n < self.rounds {
            if let Some(partner) = &self.partner {
                partner.tell(Ball::Ping(n + 1, ctx.myself().clone()))?;
            }
        } else if let (Some(started), Some(done)) = (self.started, self.done.take()) {
            let _ = done.send(started.elapsed());
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::config::cert::gen_secret()?;
    let left = Node::builder()
        .node_id("left")
        .bind("127.0.0.1:0")
        .secret(secret.clone())
        .start()
        .await?;
    let right = Node::builder()
        .node_id("right")
        .secret(secret)
        .start()
        .await?;
    right.connect(&left.listen_addrs()[0].to_string()).await?;

    let pinger_partner = left.spawn_actor(Player {
        name: "left",
        rounds: 0,
        partner: None,
        started: None,
        done: None,
    });
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let rounds = 10_000;
    let player = right.spawn_actor(Player {
        name: "right",
        rounds,
        // Bound to `right`: the reference goes over the network, as one a message brought
        // would (bound to `left`, it would reach the mailbox directly, in this process).
        partner: Some(pinger_partner.bind(&right)),
        started: Some(Instant::now()),
        done: Some(done_tx),
    });
    pinger_partner
        .bind(&right)
        .tell(Ball::Ping(1, player.clone()))?;
    let took = tokio::time::timeout(Duration::from_secs(60), done_rx).await??;
    println!(
        "{rounds} round trips between two nodes in {took:.2?} ({:.1} µs each)",
        took.as_secs_f64() * 1e6 / rounds as f64
    );
    Ok(())
}
