use aemp::actor;

#[actor]
struct Counter {
    n: i64,
}

fn main() {}
