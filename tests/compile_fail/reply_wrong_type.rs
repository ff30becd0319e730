use aemp::{actor, Message};

#[derive(Message)]
enum Count {
    Add(i64),
    #[message(reply = u64)]
    Get,
}

#[derive(Default)]
struct Counter(u64);

#[actor(msg = Count)]
impl Counter {
    async fn add(&mut self, n: i64) {
        self.0 += n as u64;
    }
    // Declared to reply a u64, but replies nothing.
    async fn get(&mut self) {}
}

fn main() {}
