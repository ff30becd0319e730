use aemp::Message;

#[derive(Message)]
enum Chat {
    Join(String),
    #[message(tag = "join")]
    Enter(String),
}

fn main() {}
