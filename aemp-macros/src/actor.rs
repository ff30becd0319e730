//! `#[actor]`: an `impl` block of async handlers becomes an actor.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, ReturnType, Type};

use crate::message::{message_impl, requests, Shape};
use crate::names::{camel_case, runtime};

#[derive(Default)]
pub(crate) struct Args {
    msg: Option<syn::Path>,
    spawn: Option<LitStr>,
}

pub(crate) fn parse_args(attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("msg") {
            args.msg = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("spawn") {
            let name: LitStr = meta.value()?.parse()?;
            if name.value().is_empty() {
                return Err(syn::Error::new(
                    name.span(),
                    "the spawn name must not be empty, as in #[actor(spawn = \"chat::Server\")]",
                ));
            }
            args.spawn = Some(name);
            Ok(())
        } else {
            Err(meta.error(
                "unknown #[actor] argument: use `msg = MessageEnum` and/or `spawn = \"name\"`",
            ))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

/// A handler method: its name, its message parameters, whether it takes the context.
struct Handler {
    method: ImplItemFn,
    params: Vec<(syn::Ident, Type)>,
    has_ctx: bool,
}

fn is_ctx(ty: &Type) -> bool {
    let Type::Reference(r) = ty else { return false };
    let Type::Path(p) = &*r.elem else {
        return false;
    };
    r.mutability.is_some()
        && p.path
            .segments
            .last()
            .is_some_and(|s| s.ident == "ActorCtx")
}

fn handler(method: ImplItemFn) -> syn::Result<Handler> {
    let sig = &method.sig;
    let first = sig.inputs.first();
    match first {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_some() => {}
        _ => {
            let msg = format!(
                "the handler `{}` must take `&mut self` (the actor's state) as its first \
                 parameter: `async fn {}(&mut self, ...)`",
                sig.ident, sig.ident
            );
            return Err(match first {
                Some(FnArg::Receiver(r)) => syn::Error::new_spanned(r, msg),
                _ => syn::Error::new(sig.ident.span(), msg),
            });
        }
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "handlers cannot be generic: each parameter is a message field with one concrete \
             type; remove the generics and use concrete types",
        ));
    }
    let mut params = Vec::new();
    let mut has_ctx = false;
    for (i, arg) in sig.inputs.iter().skip(1).enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        if i == 0 && is_ctx(&pt.ty) {
            has_ctx = true;
            continue;
        }
        if is_ctx(&pt.ty) {
            return Err(syn::Error::new_spanned(
                pt,
                format!(
                    "the context `&mut ActorCtx<Self>` must be the first parameter after \
                     `&mut self`: `async fn {}(&mut self, ctx: &mut ActorCtx<Self>, ...)`",
                    sig.ident
                ),
            ));
        }
        let Pat::Ident(name) = &*pt.pat else {
            return Err(syn::Error::new_spanned(
                &pt.pat,
                "handler parameters must be plain names (they become the message's fields): \
                 bind it to a name, as in `pair: (i64, i64)`, and destructure it in the body",
            ));
        };
        let name = name.ident.clone();
        params.push((name, (*pt.ty).clone()));
    }
    Ok(Handler {
        method,
        params,
        has_ctx,
    })
}

pub(crate) fn expand(args: Args, item: ItemImpl) -> syn::Result<TokenStream> {
    if let Some((_, path, _)) = &item.trait_ {
        return Err(syn::Error::new(
            path.span(),
            "#[actor] goes on an inherent `impl MyActor { ... }` block, not on a trait impl",
        ));
    }
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "#[actor] does not support generic actors yet; use a concrete type",
        ));
    }
    let rt = runtime();
    let self_ty = &item.self_ty;
    let Type::Path(self_path) = &**self_ty else {
        return Err(syn::Error::new(
            self_ty.span(),
            "#[actor] needs a named struct or enum type",
        ));
    };
    let self_name = self_path
        .path
        .segments
        .last()
        .map(|s| s.ident.clone())
        .ok_or_else(|| syn::Error::new(self_ty.span(), "no type name"))?;

    let mut plain = Vec::new();
    let mut handlers = Vec::new();
    let mut started = None;
    let mut stopped = None;
    let mut link_died = None;
    let mut init: Option<ImplItemFn> = None;
    for it in item.items {
        match it {
            ImplItem::Fn(mut f) => {
                if let Some(pos) = f.attrs.iter().position(|a| a.path().is_ident("init")) {
                    f.attrs.remove(pos);
                    const INIT: &str = "the #[init] function is a plain `fn new(args...) -> Self` \
                                        (or `-> Result<Self, E>`)";
                    if let Some(a) = &f.sig.asyncness {
                        return Err(syn::Error::new(
                            a.span,
                            format!("{INIT}: it must not be async; remove `async` and do async setup in `async fn started`"),
                        ));
                    }
                    if let Some(FnArg::Receiver(r)) = f.sig.inputs.first() {
                        return Err(syn::Error::new_spanned(
                            r,
                            format!("{INIT}: it builds the actor, so it takes no `self`"),
                        ));
                    }
                    if init.replace(f.clone()).is_some() {
                        return Err(syn::Error::new(
                            f.sig.ident.span(),
                            "only one #[init] function per actor",
                        ));
                    }
                    plain.push(ImplItem::Fn(f));
                } else if f.sig.asyncness.is_none() {
                    plain.push(ImplItem::Fn(f));
                } else if f.sig.ident == "started" {
                    started = Some(f);
                } else if f.sig.ident == "stopped" {
                    stopped = Some(f);
                } else if f.sig.ident == "on_link_died" {
                    link_died = Some(f);
                } else {
                    handlers.push(handler(f)?);
                }
            }
            other => plain.push(other),
        }
    }
    if handlers.is_empty() && args.msg.is_none() {
        return Err(syn::Error::new(
            self_name.span(),
            "an actor needs at least one handler: `async fn name(&mut self, ctx: &mut ActorCtx<Self>, fields...)` \
             (a non-async fn is a plain method, not a handler)",
        ));
    }

    let lifecycle = {
        let started = started.map(|f| {
            let body = &f.block;
            let ctx = lifecycle_param(&f, 1);
            quote! {
                async fn started(&mut self, #ctx: &mut #rt::typed::ActorCtx<Self>) #body
            }
        });
        let stopped = stopped.map(|f| {
            let body = &f.block;
            let ctx = lifecycle_param(&f, 1);
            let reason = lifecycle_param(&f, 2);
            quote! {
                async fn stopped(&mut self, #ctx: &mut #rt::typed::ActorCtx<Self>, #reason: &[#rt::Value]) #body
            }
        });
        let link_died = link_died.map(|f| {
            let body = &f.block;
            let ctx = lifecycle_param(&f, 1);
            let port = lifecycle_param(&f, 2);
            let reason = lifecycle_param(&f, 3);
            quote! {
                async fn on_link_died(
                    &mut self,
                    #ctx: &mut #rt::typed::ActorCtx<Self>,
                    #port: #rt::PortId,
                    #reason: ::std::vec::Vec<#rt::Value>,
                ) #body
            }
        });
        quote!(#started #stopped #link_died)
    };

    let (msg_ty, generated, handler_impl, dispatch) = match &args.msg {
        Some(path) => {
            // The handlers implement the trait #[derive(Message)] generated for the enum.
            let mut trait_path = path.clone();
            if let Some(last) = trait_path.segments.last_mut() {
                last.ident = format_ident!("{}Handler", last.ident);
                last.arguments = syn::PathArguments::None;
            }
            let methods = handlers.into_iter().map(|h| with_ctx(h, &rt));
            // Spanned at the type, so "not all trait items implemented" points at `impl Type`.
            let handler_impl = quote_spanned! {self_ty.span()=>
                #[allow(refining_impl_trait)]
                impl #trait_path for #self_ty {
                    #(#methods)*
                }
            };
            // The dispatch's own future, returned as it is (no further state machine).
            let dispatch = quote!(msg.__aemp_dispatch(self, ctx));
            (quote!(#path), TokenStream::new(), handler_impl, dispatch)
        }
        None => {
            let enum_name = format_ident!("{}Msg", self_name);
            let shapes: Vec<Shape> = handlers
                .iter()
                .map(|h| Shape {
                    variant: Some(format_ident!(
                        "{}",
                        camel_case(&h.method.sig.ident.to_string())
                    )),
                    tag: h.method.sig.ident.to_string(),
                    tag_span: h.method.sig.ident.span(),
                    fields: h
                        .params
                        .iter()
                        .map(|(n, t)| (n.to_string(), t.clone()))
                        .collect(),
                    named: false,
                    binds: (0..h.params.len())
                        .map(|i| format_ident!("a{}", i))
                        .collect(),
                    reply: Some(reply_of(&h.method.sig.output)),
                })
                .collect();
            let variants = shapes.iter().map(|s| {
                let v = &s.variant;
                let tys = s.fields.iter().map(|(_, t)| t);
                let doc = format!("The message of `{self_name}::{}` (tag `{}`).", s.tag, s.tag);
                if s.fields.is_empty() {
                    quote!(#[doc = #doc] #v)
                } else {
                    quote!(#[doc = #doc] #v(#(#tys),*))
                }
            });
            let doc = format!("The messages of the actor [`{self_name}`], one variant per handler (generated by `#[actor]`).");
            let imp = message_impl(&enum_name, &syn::Generics::default(), &shapes);
            let requests = requests(
                &enum_name,
                &syn::parse_quote!(pub),
                &syn::Generics::default(),
                &shapes,
                true,
            );
            let generated = quote! {
                #[doc = #doc]
                #[derive(Debug, Clone)]
                #[allow(private_interfaces)]
                pub enum #enum_name { #(#variants),* }
                #imp
                #requests
            };
            let arms = shapes.iter().zip(&handlers).map(|(s, h)| {
                let v = &s.variant;
                let binds = &s.binds;
                let m = &h.method.sig.ident;
                let call = if h.has_ctx {
                    quote!(self.#m(ctx, #(#binds),*))
                } else {
                    quote!(self.#m(#(#binds),*))
                };
                let pat = if binds.is_empty() {
                    quote!(#enum_name::#v)
                } else {
                    quote!(#enum_name::#v(#(#binds),*))
                };
                let reply = s.reply_type();
                quote!(#pat => #rt::typed::__private::reply::<#reply>(#rt::typed::Returns::<#reply>::into_result(#call.await)),)
            });
            let dispatch = quote!(async move { let _ = &ctx; match msg { #(#arms)* } });
            let methods = handlers.iter().map(|h| &h.method);
            let handler_impl = quote!(impl #self_ty { #(#methods)* });
            (quote!(#enum_name), generated, handler_impl, dispatch)
        }
    };

    let spawn = match &args.spawn {
        None => TokenStream::new(),
        Some(name) => {
            let (args_ty, build) = match &init {
                None => (
                    quote!(()),
                    quote!(::std::result::Result::Ok(
                        <Self as ::std::default::Default>::default()
                    )),
                ),
                Some(f) => {
                    let f_name = &f.sig.ident;
                    let tys: Vec<&Type> = f
                        .sig
                        .inputs
                        .iter()
                        .filter_map(|a| match a {
                            FnArg::Typed(t) => Some(&*t.ty),
                            FnArg::Receiver(_) => None,
                        })
                        .collect();
                    let binds: Vec<syn::Ident> =
                        (0..tys.len()).map(|i| format_ident!("a{}", i)).collect();
                    let returns_result = matches!(&f.sig.output, ReturnType::Type(_, t) if quote!(#t).to_string().starts_with("Result"));
                    let call = quote!(Self::#f_name(#(#binds),*));
                    let call = if returns_result {
                        quote!(#call.map_err(::std::convert::Into::into))
                    } else {
                        quote!(::std::result::Result::Ok(#call))
                    };
                    (
                        quote!((#(#tys,)*)),
                        quote!({ let (#(#binds,)*) = args; #call }),
                    )
                }
            };
            quote! {
                impl #rt::typed::SpawnActor for #self_ty {
                    const NAME: &'static str = #name;
                    type Args = #args_ty;
                    fn init(args: Self::Args) -> ::std::result::Result<Self, #rt::typed::BoxError> {
                        #build
                    }
                }
            }
        }
    };

    let plain_impl = if plain.is_empty() {
        TokenStream::new()
    } else {
        quote!(impl #self_ty { #(#plain)* })
    };
    Ok(quote! {
        #plain_impl
        #handler_impl
        #generated
        impl #rt::typed::Actor for #self_ty {
            type Msg = #msg_ty;
            fn handle(
                &mut self,
                ctx: &mut #rt::typed::ActorCtx<Self>,
                msg: #msg_ty,
            ) -> impl ::std::future::Future<
                Output = ::std::result::Result<::std::option::Option<#rt::Value>, #rt::typed::BoxError>,
            > + ::std::marker::Send {
                #dispatch
            }
            #lifecycle
        }
        #spawn
    })
}

/// The name of a lifecycle hook's parameter `i` (or `_` when it is left out).
fn lifecycle_param(f: &ImplItemFn, i: usize) -> TokenStream {
    match f.sig.inputs.iter().nth(i) {
        Some(FnArg::Typed(t)) => {
            let pat = &t.pat;
            quote!(#pat)
        }
        _ => quote!(_),
    }
}

/// A handler as a trait method: with the context parameter, added if the user left it out.
fn with_ctx(h: Handler, rt: &TokenStream) -> TokenStream {
    let mut m = h.method;
    if !h.has_ctx {
        let arg: FnArg = syn::parse_quote!(_ctx: &mut #rt::typed::ActorCtx<Self>);
        let mut inputs: Punctuated<FnArg, syn::Token![,]> = Punctuated::new();
        for (i, a) in m.sig.inputs.iter().enumerate() {
            inputs.push(a.clone());
            if i == 0 {
                inputs.push(arg.clone());
            }
        }
        m.sig.inputs = inputs;
    }
    m.vis = syn::Visibility::Inherited;
    let _ = Span::call_site();
    quote!(#m)
}

/// The reply type of a handler returning `output`: `T` for `Result<T, E>` (the error stops
/// the actor), the type itself otherwise, `()` for none.
fn reply_of(output: &ReturnType) -> Type {
    let ReturnType::Type(_, ty) = output else {
        return syn::parse_quote!(());
    };
    if let Type::Path(p) = &**ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "Result" {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(t)) = args.args.first() {
                        return t.clone();
                    }
                }
            }
        }
    }
    (**ty).clone()
}
