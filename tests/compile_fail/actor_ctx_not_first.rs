use aemp::actor;

struct Counter;

#[actor]
impl Counter {
    async fn add(&mut self, k: i64, ctx: &mut aemp::ActorCtx<Self>) {}
}

fn main() {}
