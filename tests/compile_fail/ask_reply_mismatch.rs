use aemp::{actor, Message, Node};

#[derive(Message)]
enum Count {
    #[message(reply = u64)]
    Get,
}

#[derive(Default)]
struct Counter(u64);

#[actor(msg = Count)]
impl Counter {
    async fn get(&mut self) -> u64 {
        self.0
    }
}

async fn run(node: Node) {
    let counter = node.spawn_actor(Counter::default());
    // The reply is a u64: asking for a String does not compile.
    let _s: String = counter.ask(Count::get()).await.unwrap();
    // Nor does naming the reply's type by hand.
    let _n = counter.ask::<i64>(Count::Get).await;
}

fn main() {
    let _ = run;
}
