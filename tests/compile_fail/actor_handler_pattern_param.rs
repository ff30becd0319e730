use aemp::actor;

struct Counter;

#[actor]
impl Counter {
    async fn add(&mut self, (a, b): (i64, i64)) {}
}

fn main() {}
