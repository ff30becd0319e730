use aemp::actor;

struct Counter;

#[actor]
impl Counter {
    async fn add<T: Into<i64>>(&mut self, k: T) {}
}

fn main() {}
