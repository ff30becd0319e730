use aemp::actor;

struct Counter;

#[actor(name = "counter")]
impl Counter {
    async fn add(&mut self, k: i64) {}
}

fn main() {}
