use aemp::Message;

#[derive(Message)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
