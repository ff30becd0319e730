use aemp::Message;

struct Opaque;

#[derive(Message)]
enum Chat {
    Join(Opaque),
}

fn main() {}
