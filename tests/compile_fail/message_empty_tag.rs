use aemp::Message;

#[derive(Message)]
enum Chat {
    #[message(tag = "")]
    Join(String),
}

fn main() {}
