//! Two typed actors on two nodes play ping-pong over TCP.
//!
//!     cargo run --release --example ping_pong

use std::time::{Duration, Instant};

use aemp::{actor, ActorCtx, Message, Node, PortRef};

/// The ball the two players hit back and forth.
#[derive(Debug, Clone, Message)]
pub enum Ball {
    /// `["ping", n, reply_to]`
    Ping(u64, PortRef<Ball>),
    /// `["pong", n]`
    Pong(u64),
}

struct Player {
    name: &'static str,
    rounds: u64,
    partner: Option<PortRef<Ball>>,
    started: Option<Instant>,
    done: Option<tokio::sync::oneshot::Sender<Duration>>,
}

#[actor(msg = Ball)]
impl Player {
    async fn ping(
        &mut self,
        ctx: &mut ActorCtx<Self>,
        n: u64,
        from: PortRef<Ball>,
    ) -> Result<(), aemp::Error> {
        ctx.tell(&from, Ball::Pong(n))
    }

    async fn pong(&mut self, ctx: &mut ActorCtx<Self>, n: u64) -> Result<(), aemp::Error> {
        if n == 1 || n % 2500 == 0 {
            println!("{}: pong {n}", self.name);
        }
        if n < self.rounds {
            if let Some(partner) = &self.partner {
                ctx.tell(partner, Ball::Ping(n + 1, ctx.port_ref()))?;
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
        partner: Some(pinger_partner.port_ref()),
        started: Some(Instant::now()),
        done: Some(done_tx),
    });
    right.tell(&pinger_partner.port_ref(), Ball::Ping(1, player.port_ref()))?;
    let took = tokio::time::timeout(Duration::from_secs(60), done_rx).await??;
    println!(
        "{rounds} round trips between two nodes in {took:.2?} ({:.1} µs each)",
        took.as_secs_f64() * 1e6 / rounds as f64
    );
    Ok(())
}
