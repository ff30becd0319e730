//! The chat client of AnyEvent::MP's Intro, as a typed actor.
//!
//!     cargo run --example chat_client -- 127.0.0.1:1299 SECRET [NICK]
//!
//! Finds the server's `chatter` port with the node port's `lookup` request, joins, then
//! sends every line of standard input; `/quit` (or end of input) leaves.

use std::time::Duration;

use aemp::{actor, msg, ActorRef, Message, Node, PortId, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A line of chat from the server: `["line", from, text]`.
#[derive(Debug, Clone, Message)]
pub enum ChatLine {
    /// `["line", from, text]`
    Line(String, String),
}

/// What the client sends the server (the server's `ChatMsg`).
#[derive(Debug, Clone, Message)]
pub enum ChatMsg {
    /// `["join", client_port, nick]`
    Join(ActorRef<ChatLine>, Option<String>),
    /// `["message", text, client_port]`
    Message(String, Option<ActorRef<ChatLine>>),
}

/// Prints what the server sends.
struct Screen;

#[actor(msg = ChatLine)]
impl Screen {
    async fn line(&mut self, from: String, text: String) {
        println!("chat> {from}: {text}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server_addr = args.next().unwrap_or_else(|| "127.0.0.1:1299".into());
    let secret = args
        .next()
        .or_else(|| std::env::var("AEMP_SECRET").ok())
        .ok_or("usage: chat_client [SERVER] SECRET [NICK]")?;
    let nick = args.next();
    let node = Node::builder()
        .node_id("chat-client/")
        .secret(secret)
        .start()
        .await?;
    let server_node = node.connect(&server_addr).await?;

    // The Intro's lookup: ask the server node for the port registered as "chatter".
    let reply = node
        .cal(PortId::new(&server_node, ""), msg!["lookup", "chatter"])
        .timeout(Duration::from_secs(5))
        .await?;
    let server: ActorRef<ChatMsg> = match reply.first().map(PortId::try_from) {
        Some(Ok(id)) => ActorRef::from_id(id).bind(&node),
        _ => return Err(format!("{server_node} has no chatter port registered").into()),
    };
    println!("resolved the server port 'chatter' to {server}");

    let screen = node.spawn_actor(Screen);
    server.tell(ChatMsg::Join(screen.clone(), nick))?;
    let mut gone = Box::pin(server.monitor());

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(line) if line.starts_with("/quit") => break,
                Some(line) => server.tell(ChatMsg::Message(line, Some(screen.clone())))?,
                None => break,
            },
            reason = gone.as_mut() => {
                println!("the server went away: {}", aemp::format_reason(&reason));
                break;
            }
        }
    }
    screen.kil(vec![Value::from("quit")])?;
    node.shutdown().await;
    Ok(())
}
