//! The chat server of AnyEvent::MP's Intro, as a typed actor.
//!
//!     cargo run --example chat_server -- 127.0.0.1:1299 SECRET
//!
//! It registers its port as `chatter`, so clients find it with the node port's `lookup`
//! request (as in the Intro), and Perl clients can send it `["join", port]` and
//! `["message", text]` arrays. Then start clients with `cargo run --example chat_client`.

use std::collections::HashMap;

use aemp::{actor, ActorCtx, ActorRef, Message, MonGuard, Node};

/// A line of chat, as the server sends it to every client: `["line", from, text]`.
#[derive(Debug, Clone, Message)]
pub enum ChatLine {
    /// `["line", from, text]`
    Line(String, String),
}

/// What clients send the server.
#[derive(Debug, Clone, Message)]
pub enum ChatMsg {
    /// `["join", client_port, nick]`
    Join(ActorRef<ChatLine>, Option<String>),
    /// `["message", text, client_port]`
    Message(String, Option<ActorRef<ChatLine>>),
}

#[derive(Default)]
struct ChatServer {
    clients: HashMap<ActorRef<ChatLine>, (String, MonGuard)>,
}

impl ChatServer {
    fn broadcast(&self, from: &str, text: &str) {
        for client in self.clients.keys() {
            if let Err(e) = client.tell(ChatLine::Line(from.to_owned(), text.to_owned())) {
                eprintln!("cannot send to {client}: {e}");
            }
        }
    }
}

#[actor(msg = ChatMsg)]
impl ChatServer {
    async fn join(
        &mut self,
        ctx: &mut ActorCtx<Self>,
        client: ActorRef<ChatLine>,
        nick: Option<String>,
    ) {
        let nick = nick.unwrap_or_else(|| client.id().node().to_owned());
        println!("{nick} joined ({client})");
        // When the client's port dies (it quit, or its node went away), it leaves the chat.
        let me = ctx.myself().clone();
        let leave = ChatMsg::Message(format!("{nick} left"), None);
        let guard = ctx.node().mon(&client, move |reason| {
            println!("{me}: client gone ({})", aemp::format_reason(&reason));
            let _ = me.tell(leave);
        });
        self.clients.retain(|c, _| c != &client);
        self.clients.insert(client, (nick.clone(), guard));
        self.broadcast("server", &format!("{nick} joined"));
    }

    async fn message(&mut self, text: String, from: Option<ActorRef<ChatLine>>) {
        let nick = from
            .and_then(|f| self.clients.get(&f).map(|(n, _)| n.clone()))
            .unwrap_or_else(|| "server".into());
        println!("{nick}: {text}");
        self.broadcast(&nick, &text);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:1299".into());
    let secret = args
        .next()
        .or_else(|| std::env::var("AEMP_SECRET").ok())
        .ok_or("usage: chat_server [LISTEN] SECRET")?;
    let node = Node::builder()
        .node_id("chat")
        .bind(listen)
        .secret(secret)
        .start()
        .await?;
    let server = node.spawn_actor(ChatServer::default());
    node.register("chatter", &server)?;
    println!(
        "chat server {} listening on {}",
        server.id(),
        node.listen_addrs()[0]
    );
    tokio::signal::ctrl_c().await?;
    node.shutdown().await;
    Ok(())
}
