//! The typed layer: messages as Rust types, actors as structs with async handlers.
//!
//! A typed port is a port like any other: its id is `node#name`, Perl nodes send it plain
//! arrays, and `#[derive(Message)]` types decide which arrays it takes. Locally, `tell`
//! hands the Rust value to the actor's mailbox without encoding it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), aemp_actor::Error> {
//! use std::time::Duration;
//! use aemp_actor::typed::{Actor, ActorCtx, BoxError, Message, MessageError, Req};
//! use aemp_actor::{Node, Value};
//!
//! // What #[derive(Message)] and #[actor] generate, written by hand.
//! enum Count { Add(i64), Get }
//! impl Message for Count {
//!     const TAGS: &'static [&'static str] = &["add", "get"];
//!     fn into_values(self) -> Result<Vec<Value>, MessageError> {
//!         Ok(match self { Count::Add(n) => vec!["add".into(), n.into()], Count::Get => vec!["get".into()] })
//!     }
//!     fn from_values(mut msg: Vec<Value>) -> Result<(Self, Vec<Value>), MessageError> {
//!         use aemp_actor::typed::__private::*;
//!         let tag = tag_of(&msg)?;
//!         let mut rest = msg.split_off(1).into_iter();
//!         let m = match tag.as_str() {
//!             "add" => Count::Add(decode(&tag, "0", rest.next())?),
//!             "get" => Count::Get,
//!             _ => return Err(unknown(tag, Self::TAGS)),
//!         };
//!         Ok((m, rest.collect()))
//!     }
//! }
//! impl Count {
//!     fn get() -> Req<Count, i64> { Req::new(Count::Get) } // the reply's type, known here
//! }
//! struct Counter(i64);
//! impl Actor for Counter {
//!     type Msg = Count;
//!     async fn handle(&mut self, _ctx: &mut ActorCtx<Self>, msg: Count) -> Result<Option<Value>, BoxError> {
//!         match msg {
//!             Count::Add(n) => { self.0 += n; Ok(None) }
//!             Count::Get => Ok(Some(self.0.into())),
//!         }
//!     }
//! }
//!
//! let node = Node::builder().start().await?;
//! let counter = node.spawn_actor(Counter(0));
//! counter.tell(Count::Add(2)).unwrap();
//! counter.tell(Count::Add(3)).unwrap();
//! let n = counter.ask(Count::get()).timeout(Duration::from_secs(5)).await?;
//! assert_eq!(n, 5);
//! // Dynamic senders (and Perl nodes) send arrays:
//! node.snd(counter.id(), aemp_actor::msg!["add", 10])?;
//! let n = counter.ask(Count::get()).await?;
//! assert_eq!(n, 15);
//! # Ok(()) }
//! ```

mod actor;
mod actor_ref;
mod ask;
mod mailbox;
mod message;

pub use actor::{Actor, ActorCtx, SpawnActor, DEFAULT_CAPACITY, OVERFLOW_FACTOR};
pub use actor_ref::{ActorRef, IntoReason, TellError};
pub use ask::{Ask, Asking, DEFAULT_ASK_TIMEOUT};
#[doc(hidden)]
pub use message::__private;
pub use message::{BoxError, Message, MessageError, Req, Request, Returns};
