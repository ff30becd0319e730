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

/// Derives `aemp_actor::typed::Message`: the tagged-array form of an enum or struct.
#[proc_macro_derive(Message, attributes(message))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    message::derive(input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Makes an `impl` block of async handlers an actor (see the crate docs).
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
