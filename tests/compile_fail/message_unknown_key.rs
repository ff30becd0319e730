use aemp::Message;

#[derive(Message)]
enum Chat {
    #[message(name = "join")]
    Join(String),
}

fn main() {}
