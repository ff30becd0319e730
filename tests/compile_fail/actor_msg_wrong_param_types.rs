use aemp::{actor, Message};

#[derive(Message)]
enum Calc {
    Neg(i64),
}

struct Calculator;

#[actor(msg = Calc)]
impl Calculator {
    async fn neg(&mut self, a: String) -> String {
        a
    }
}

fn main() {}
