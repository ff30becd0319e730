use aemp::{actor, Message};

#[derive(Message)]
enum Calc {
    #[message(reply = i64)]
    Add(i64, i64),
    Neg(i64),
}

struct Calculator;

#[actor(msg = Calc)]
impl Calculator {
    async fn add(&mut self, a: i64, b: i64) -> i64 {
        a + b
    }
}

fn main() {}
