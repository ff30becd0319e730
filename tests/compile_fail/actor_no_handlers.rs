use aemp::actor;

struct Counter;

#[actor]
impl Counter {
    fn helper(&self) {}
}

fn main() {}
