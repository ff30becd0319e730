//! Request and reply, three ways: Perl's `cal` on a dynamic port, a typed `ask` whose reply
//! type the compiler knows, and an `ask` across nodes with a timeout.
//!
//!     cargo run --example request_reply

use std::time::Duration;

use aemp::prelude::*;

#[derive(Debug, Clone, Message)]
enum Account {
    Deposit(u64),
    #[message(reply = u64)]
    Balance,
    #[message(reply = Result<u64, String>)]
    Withdraw(u64),
}

#[derive(Default)]
struct Bank {
    balance: u64,
}

#[actor(msg = Account)]
impl Bank {
    async fn deposit(&mut self, amount: u64) {
        self.balance += amount;
    }

    async fn balance(&mut self) -> u64 {
        self.balance
    }

    /// The declared reply is a `Result`: an `Err` here is a reply the asker gets, not a
    /// failure of the actor.
    async fn withdraw(&mut self, amount: u64) -> Result<u64, String> {
        if amount > self.balance {
            return Err(format!("only {} left", self.balance));
        }
        self.balance -= amount;
        Ok(self.balance)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = aemp::config::cert::gen_secret()?;
    let a = Node::builder()
        .node_id("branch")
        .bind("127.0.0.1:0")
        .secret(secret.clone())
        .start()
        .await?;
    let b = Node::builder()
        .node_id("atm")
        .secret(secret)
        .start()
        .await?;
    b.connect(&a.listen_addrs()[0].to_string()).await?;

    // 1. cal: the reply port travels as the last element; the port answers there.
    let echo = a.port_with(|ctx, mut msg| {
        let reply = msg.pop().and_then(|r| r.as_str().map(str::to_owned));
        ctx.snd(reply.unwrap_or_default(), msg)
    });
    let back = b
        .cal(&echo, msg!["hello", 42])
        .timeout(Duration::from_secs(5))
        .await?;
    println!("cal: {back:?}");

    // 2. A typed ask: the reply's type comes from the message declaration.
    let bank = a.spawn_actor(Bank::default());
    bank.tell(Account::Deposit(100))?;
    let balance: u64 = bank.ask(Account::balance()).await?;
    println!("balance: {balance}");

    // 3. The same actor from the other node: a reference bound to `atm` crosses the network.
    let remote = bank.bind(&b);
    let left = remote
        .ask(Account::withdraw(30))
        .timeout(Duration::from_secs(5))
        .await?;
    println!("withdraw 30: {left:?}");
    let refused = remote.ask(Account::withdraw(500)).await?;
    println!("withdraw 500: {refused:?}");
    Ok(())
}
