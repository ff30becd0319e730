use aemp::actor;

struct Counter;

#[actor]
impl Counter {
    async fn get(&self) -> i64 {
        0
    }
}

fn main() {}
