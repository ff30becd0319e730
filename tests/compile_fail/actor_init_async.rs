use aemp::actor;

struct Counter {
    n: i64,
}

#[actor(spawn = "test::Counter")]
impl Counter {
    #[init]
    async fn new(n: i64) -> Self {
        Counter { n }
    }

    async fn add(&mut self, k: i64) {
        self.n += k;
    }
}

fn main() {}
