//! # aemp-macros
//!
//! Typed messages and actors for aemp. Use them through the `aemp` crate
//! (`aemp::Message`, `aemp::actor`; both in `aemp::prelude`), which re-exports them with the
//! runtime they target (`aemp::kernel`).
//!
//! - `#[derive(Message)]`: an enum whose variants become `[tag, fields...]` arrays (the
//!   tag is the variant's name in snake_case, or `#[message(tag = "...")]`), or a struct
//!   that becomes `[tag, fields...]` with its own tag. For an enum it also generates the
//!   trait `<Enum>Handler`, with one async method per variant, for `#[actor(msg = Enum)]`.
//! - `#[actor]` on an `impl` block: each `async fn name(&mut self, ctx: &mut ActorCtx<Self>,
//!   fields...)` handles the message tagged `name` (the message enum `<Type>Msg` is
//!   generated), or, with `#[actor(msg = Enum)]`, the variants of a `#[derive(Message)]`
//!   enum, every one of which must have a handler. `async fn started` and `async fn stopped`
//!   are lifecycle hooks. `#[actor(spawn = "name")]` makes the actor spawnable by name, with
//!   init arguments taken from an `#[init] fn new(args...) -> Self` (or `Default`).
//!
//! The examples live in the `aemp` crate, where the runtime is.

mod actor;
mod message;
mod names;

use proc_macro::TokenStream;

/// Derives `Message`: the tagged-array form of an enum or struct, as Perl nodes read and
/// write it.
///
/// - An enum variant travels as `[tag, fields...]`; the tag is the variant's name in
///   snake_case, or `#[message(tag = "...")]`. A struct travels as `[tag, fields...]` with
///   its own tag (the same attribute on the struct).
/// - `#[message(reply = T)]` declares what an `ask` of the variant (or struct) gets back:
///   handlers must return `T` (or `Result<T, E>`), checked when the actor compiles. No
///   attribute: no reply, `()`.
/// - For an enum it generates one constructor per variant, named in snake_case, returning a
///   `Req<Enum, T>`: `actor.ask(Enum::variant(...))` resolves to a `T`. It also generates
///   the trait `<Enum>Handler` (one async method per variant) that `#[actor(msg = Enum)]`
///   implements.
///
/// ```
/// use aemp_macros::Message;
/// use aemp_actor::typed::{Message as _, Req};
/// use aemp_actor::{msg, typed::ActorRef};
///
/// #[derive(Debug, Clone, PartialEq, Message)]
/// enum Chat {
///     /// `["join", port, nick]`: the port is a typed reference (its id on the wire).
///     Join(ActorRef<Line>, Option<String>),
///     /// `["say", text, at]`: named fields travel in declaration order.
///     Say { text: String, at: u64 },
///     /// `["who"]`, answered with the nicks.
///     #[message(reply = Vec<String>)]
///     Who,
///     /// `["bye"]` under another tag: `["quit"]`.
///     #[message(tag = "quit")]
///     Bye,
/// }
///
/// #[derive(Debug, Clone, PartialEq, Message)]
/// #[message(tag = "line")]
/// struct Line(String);
///
/// assert_eq!(
///     Chat::Say { text: "hi".into(), at: 3 }.into_values().unwrap(),
///     msg!["say", "hi", 3]
/// );
/// assert_eq!(Chat::Bye.into_values().unwrap(), msg!["quit"]);
/// assert_eq!(Line("x".into()).into_values().unwrap(), msg!["line", "x"]);
/// let (decoded, rest) = Chat::from_values(msg!["who", "node#reply"]).unwrap();
/// assert_eq!((decoded, rest), (Chat::Who, msg!["node#reply"]));
/// // The constructor carries the reply's type:
/// let _who: Req<Chat, Vec<String>> = Chat::who();
/// ```
#[proc_macro_derive(Message, attributes(message))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    message::derive(input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Makes an `impl` block of async handlers an actor.
///
/// - Each `async fn name(&mut self, [ctx: &mut ActorCtx<Self>,] fields...)` handles the
///   message `["name", fields...]`; the enum `<Type>Msg` is generated, one variant per
///   handler (`get` -> `<Type>Msg::Get`), with constructors that carry each handler's return
///   type as the reply type (`<Type>Msg::get()`).
/// - `#[actor(msg = Enum)]` instead handles the variants of a `#[derive(Message)]` enum:
///   every variant needs a handler (named after it in snake_case), whose return type must
///   fit the variant's `#[message(reply = T)]`.
/// - `async fn started(&mut self, ctx)` runs before the first message, `async fn
///   stopped(&mut self, ctx, reason: &[Value])` after the last; a non-async fn is a plain
///   method.
/// - `#[actor(spawn = "name")]` makes the actor spawnable by name on nodes built with
///   `NodeBuilder::actor::<A>()`, from any node (Perl: `spawn $node, "name", @args`). Its
///   `Args` (what the spawner sends) are the parameters of the `#[init] fn new(...) -> Self`
///   (or `-> Result<Self, E>`) as a tuple, decoded from the spawn arguments; without
///   `#[init]`, `Default` builds it and `Args` is `()`.
///
/// ```
/// use aemp_macros::actor;
/// use aemp_actor::typed::ActorCtx;
/// use aemp_actor::Node;
///
/// struct Counter {
///     n: i64,
/// }
///
/// #[actor(spawn = "example::Counter")]
/// impl Counter {
///     /// `Args` is `(i64,)`: `spawn $node, "example::Counter", 10` starts at 10.
///     #[init]
///     fn new(start: i64) -> Self {
///         Counter { n: start }
///     }
///
///     async fn add(&mut self, by: i64) {
///         self.n += by;
///     }
///
///     /// Replies an `i64`: `CounterMsg::get()` asks for one.
///     async fn get(&mut self) -> i64 {
///         self.n
///     }
///
///     /// An error stops the actor with `["die", text]`.
///     async fn check(&mut self, ctx: &mut ActorCtx<Self>, max: i64) -> Result<(), String> {
///         let _ = ctx;
///         if self.n > max { Err(format!("{} is over {max}", self.n)) } else { Ok(()) }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = Node::builder().actor::<Counter>().start().await.unwrap();
/// let counter = node.spawn_actor(Counter::new(1));
/// counter.tell(CounterMsg::Add(2)).unwrap();
/// assert_eq!(counter.ask(CounterMsg::get()).await.unwrap(), 3);
/// # }
/// ```
#[proc_macro_attribute]
pub fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match actor::parse_args(attr.into()) {
        Ok(a) => a,
        Err(e) => return e.to_compile_error().into(),
    };
    let item = match syn::parse::<syn::ItemImpl>(item.clone()) {
        Ok(i) => i,
        Err(e) => return not_an_impl(item, e).to_compile_error().into(),
    };
    actor::expand(args, item)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// The error for `#[actor]` on something other than an `impl` block, naming what it is.
fn not_an_impl(item: TokenStream, e: syn::Error) -> syn::Error {
    use syn::Item;
    const FIX: &str =
        "#[actor] goes on an `impl MyActor { async fn handler(&mut self, ...) ... }` block";
    // (what it is, its name, whether it is a type that can have an impl block)
    let (what, name, is_type) = match syn::parse::<Item>(item) {
        Ok(Item::Struct(i)) => ("a struct", i.ident, true),
        Ok(Item::Enum(i)) => ("an enum", i.ident, true),
        Ok(Item::Union(i)) => ("a union", i.ident, true),
        Ok(Item::Fn(i)) => ("a function", i.sig.ident, false),
        Ok(Item::Trait(i)) => ("a trait", i.ident, false),
        Ok(Item::Mod(i)) => ("a module", i.ident, false),
        _ => return syn::Error::new(e.span(), FIX),
    };
    let msg = if is_type {
        format!("{FIX}, not on {what}: put it on `impl {name} {{ ... }}` instead")
    } else {
        format!("{FIX}, not on {what}")
    };
    syn::Error::new(name.span(), msg)
}
