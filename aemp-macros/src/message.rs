//! `#[derive(Message)]`: the tagged-array form of an enum or struct, and for enums the
//! handler trait that `#[actor(msg = ...)]` implements.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::names::{ident, runtime, snake_case};

/// One way a message can look: a tag and its fields.
pub(crate) struct Shape {
    /// The enum variant (None for a struct).
    pub variant: Option<syn::Ident>,
    pub tag: String,
    pub tag_span: proc_macro2::Span,
    /// Field names for errors and handler parameters, and types.
    pub fields: Vec<(String, syn::Type)>,
    pub named: bool,
    /// The identifiers the fields are bound to in patterns.
    pub binds: Vec<syn::Ident>,
    /// The reply's type (`#[message(reply = T)]`, or a handler's return type); `()` if none.
    pub reply: Option<syn::Type>,
}

impl Shape {
    /// The reply's type, `()` when none is declared.
    pub(crate) fn reply_type(&self) -> TokenStream {
        match &self.reply {
            Some(t) => quote!(#t),
            None => quote!(()),
        }
    }
}

/// `#[message(tag = "...", reply = Type)]`: the tag and the reply's type, if given.
fn message_attr(attrs: &[syn::Attribute]) -> syn::Result<(Option<LitStr>, Option<syn::Type>)> {
    let mut tag = None;
    let mut reply = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("message")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("tag") {
                tag = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else if meta.path.is_ident("reply") {
                reply = Some(meta.value()?.parse::<syn::Type>()?);
                Ok(())
            } else {
                Err(meta.error("unknown `message` attribute: the keys are `tag` and `reply`, as in #[message(tag = \"join\", reply = u64)]"))
            }
        })?;
    }
    Ok((tag, reply))
}

fn shape(
    variant: Option<syn::Ident>,
    default_tag: String,
    attrs: &[syn::Attribute],
    fields: &Fields,
    span: proc_macro2::Span,
) -> syn::Result<Shape> {
    let (tag, reply) = message_attr(attrs)?;
    let (tag, tag_span) = match tag {
        Some(t) if t.value().is_empty() => {
            const EMPTY: &str = "a message tag must not be empty: give it a name, as in \
                #[message(tag = \"join\")], or remove the attribute to use the snake_case name";
            return Err(syn::Error::new(t.span(), EMPTY));
        }
        Some(t) => (t.value(), t.span()),
        None => (default_tag, span),
    };
    let (named, fields, binds) = match fields {
        Fields::Named(f) => (
            true,
            f.named
                .iter()
                .map(|f| {
                    (
                        f.ident
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        f.ty.clone(),
                    )
                })
                .collect::<Vec<_>>(),
            f.named
                .iter()
                .map(|f| f.ident.clone().unwrap_or_else(|| format_ident!("_")))
                .collect(),
        ),
        Fields::Unnamed(f) => (
            false,
            f.unnamed
                .iter()
                .enumerate()
                .map(|(i, f)| (i.to_string(), f.ty.clone()))
                .collect(),
            (0..f.unnamed.len())
                .map(|i| format_ident!("a{}", i))
                .collect(),
        ),
        Fields::Unit => (false, Vec::new(), Vec::new()),
    };
    Ok(Shape {
        variant,
        tag,
        tag_span,
        fields,
        named,
        binds,
        reply,
    })
}

pub(crate) fn shapes(input: &DeriveInput) -> syn::Result<Vec<Shape>> {
    let shapes = match &input.data {
        Data::Enum(e) => {
            if e.variants.is_empty() {
                return Err(syn::Error::new(input.ident.span(), "a Message enum needs at least one variant (one per tag)"));
            }
            e.variants
                .iter()
                .map(|v| shape(Some(v.ident.clone()), snake_case(&v.ident.to_string()), &v.attrs, &v.fields, v.ident.span()))
                .collect::<syn::Result<Vec<_>>>()?
        }
        Data::Struct(s) => vec![shape(None, snake_case(&input.ident.to_string()), &input.attrs, &s.fields, input.ident.span())?],
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Message)] works on enums (one tag per variant) and structs (one tag), not unions",
            ))
        }
    };
    for (i, s) in shapes.iter().enumerate() {
        if let Some(other) = shapes[..i].iter().find(|o| o.tag == s.tag) {
            let what = other
                .variant
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err(syn::Error::new(
                s.tag_span,
                format!("duplicate message tag \"{}\" (also used by `{what}`): give one of them another #[message(tag = \"...\")]", s.tag),
            ));
        }
    }
    Ok(shapes)
}

/// The `Message` impl for `ty` (with generics) made of `shapes`.
pub(crate) fn message_impl(
    ty: &syn::Ident,
    generics: &syn::Generics,
    shapes: &[Shape],
) -> TokenStream {
    let rt = runtime();
    let (impl_g, ty_g, where_g) = generics.split_for_impl();
    let tags: Vec<&str> = shapes.iter().map(|s| s.tag.as_str()).collect();
    let encode_arms = shapes.iter().map(|s| {
        let tag = &s.tag;
        let binds = &s.binds;
        let pattern = pattern(s, binds);
        // Spanned at the field's type, so that "`T: Serialize` is not satisfied" points at it.
        // (Only the path: the locals keep the macro's hygiene; `__p` is an item, not a local.)
        let pushes = s.fields.iter().zip(binds).map(|((name, ty), b)| {
            let encode = quote_spanned!(ty.span()=> __p::encode::<#ty>);
            quote! { __v.push(#encode(#tag, #name, &#b)?); }
        });
        let n = s.fields.len() + 1;
        quote! {
            #pattern => {
                let mut __v = ::std::vec::Vec::with_capacity(#n);
                __v.push(#rt::Value::from(#tag));
                #(#pushes)*
                __v
            }
        }
    });
    let decode_arms = shapes.iter().map(|s| {
        let tag = &s.tag;
        let binds = &s.binds;
        let lets = s.fields.iter().zip(binds).map(|((name, ty), b)| {
            let decode = quote_spanned!(ty.span()=> __p::decode::<#ty>);
            quote! { let #b = #decode(&__tag, #name, __rest.next())?; }
        });
        let build = pattern(s, binds);
        quote! {
            #tag => {
                #(#lets)*
                #build
            }
        }
    });
    let tag_arms = shapes.iter().map(|s| {
        let tag = &s.tag;
        let path = match &s.variant {
            Some(v) => quote!(Self::#v),
            None => quote!(Self),
        };
        let any = match (s.fields.is_empty(), s.named) {
            (true, false) => quote!(#path),
            (_, true) => quote!(#path { .. }),
            (false, false) => quote!(#path(..)),
        };
        quote! { #any => #tag, }
    });
    quote! {
        impl #impl_g #rt::typed::Message for #ty #ty_g #where_g {
            const TAGS: &'static [&'static str] = &[#(#tags),*];

            fn tag(&self) -> &'static str {
                match self { #(#tag_arms)* }
            }

            fn into_values(self) -> ::std::result::Result<::std::vec::Vec<#rt::Value>, #rt::typed::MessageError> {
                use #rt::typed::__private as __p;
                ::std::result::Result::Ok(match self { #(#encode_arms)* })
            }

            fn from_values(
                mut __msg: ::std::vec::Vec<#rt::Value>,
            ) -> ::std::result::Result<(Self, ::std::vec::Vec<#rt::Value>), #rt::typed::MessageError> {
                use #rt::typed::__private as __p;
                let __tag = __p::tag_of(&__msg)?;
                let mut __rest = __msg.split_off(1).into_iter();
                let __value = match __tag.as_str() {
                    #(#decode_arms)*
                    _ => return ::std::result::Result::Err(__p::unknown(__tag, <Self as #rt::typed::Message>::TAGS)),
                };
                ::std::result::Result::Ok((__value, __rest.collect()))
            }
        }
    }
}

/// `Self::V(a0, a1)`, `Self::V { x, y }`, `Self::V`, or the struct forms.
fn pattern(s: &Shape, binds: &[syn::Ident]) -> TokenStream {
    let path = match &s.variant {
        Some(v) => quote!(Self::#v),
        None => quote!(Self),
    };
    if s.fields.is_empty() {
        if s.named {
            quote!(#path {})
        } else {
            quote!(#path)
        }
    } else if s.named {
        quote!(#path { #(#binds),* })
    } else {
        quote!(#path ( #(#binds),* ))
    }
}

/// For enums: `trait <Enum>Handler` (one method per variant) and the dispatch function.
fn handler_trait(input: &DeriveInput, shapes: &[Shape]) -> TokenStream {
    if !matches!(input.data, Data::Enum(_)) || !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let rt = runtime();
    let ty = &input.ident;
    let vis = &input.vis;
    let trait_name = format_ident!("{}Handler", ty);
    let doc = format!(
        "The handlers of [`{ty}`]: one async method per variant, named after its tag. \
         `#[actor(msg = {ty})]` implements it; a variant without a handler does not compile."
    );
    let methods = shapes.iter().map(|s| {
        let method = ident(&snake_case(&s.variant.as_ref().map(ToString::to_string).unwrap_or_default()), s.tag_span);
        let params = s.binds.iter().zip(&s.fields).map(|(b, (_, t))| quote!(#b: #t));
        let doc = format!("Handles `{ty}::{}` (tag `{}`).", s.variant.as_ref().map(ToString::to_string).unwrap_or_default(), s.tag);
        let reply = s.reply_type();
        quote_spanned! {s.tag_span=>
            #[doc = #doc]
            fn #method(
                &mut self,
                ctx: &mut #rt::typed::ActorCtx<Self>,
                #(#params),*
            ) -> impl ::std::future::Future<Output = impl #rt::typed::Returns<#reply> + ::std::marker::Send> + ::std::marker::Send;
        }
    });
    let arms = shapes.iter().map(|s| {
        let method = ident(&snake_case(&s.variant.as_ref().map(ToString::to_string).unwrap_or_default()), s.tag_span);
        let pattern = pattern(s, &s.binds);
        let binds = &s.binds;
        let reply = s.reply_type();
        quote! { #pattern => #rt::typed::__private::reply::<#reply>(#rt::typed::Returns::<#reply>::into_result(__actor.#method(__ctx, #(#binds),*).await)), }
    });
    quote! {
        #[doc = #doc]
        #vis trait #trait_name: #rt::typed::Actor<Msg = #ty> {
            #(#methods)*
        }

        impl #ty {
            #[doc(hidden)]
            pub async fn __aemp_dispatch<__A: #trait_name>(
                self,
                __actor: &mut __A,
                __ctx: &mut #rt::typed::ActorCtx<__A>,
            ) -> ::std::result::Result<::std::option::Option<#rt::Value>, #rt::typed::BoxError> {
                match self { #(#arms)* }
            }
        }
    }
}

pub(crate) fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let shapes = shapes(&input)?;
    let imp = message_impl(&input.ident, &input.generics, &shapes);
    let handlers = handler_trait(&input, &shapes);
    let requests = requests(
        &input.ident,
        &input.vis,
        &input.generics,
        &shapes,
        matches!(input.data, Data::Enum(_)),
    );
    Ok(quote!(#imp #handlers #requests))
}

/// What can be asked of a port that takes `ty`: for an enum, one constructor per variant
/// returning a `Req` with the variant's reply type (`Count::get()`), and the enum itself
/// with an undecoded `Value` as its reply; a struct, with its declared reply (or a `Value`).
pub(crate) fn requests(
    ty: &syn::Ident,
    vis: &syn::Visibility,
    generics: &syn::Generics,
    shapes: &[Shape],
    is_enum: bool,
) -> TokenStream {
    let rt = runtime();
    let (impl_g, ty_g, where_g) = generics.split_for_impl();
    let own_reply = match (is_enum, shapes.first().and_then(|s| s.reply.as_ref())) {
        (false, Some(t)) => quote!(#t),
        _ => quote!(#rt::Value),
    };
    let request = quote! {
        impl #impl_g #rt::typed::Request for #ty #ty_g #where_g {
            type Msg = Self;
            type Reply = #own_reply;
            fn into_message(self) -> Self {
                self
            }
        }
    };
    if !is_enum {
        return request;
    }
    let ctors = shapes.iter().map(|s| {
        let Some(variant) = &s.variant else {
            return TokenStream::new();
        };
        let name = ident(&snake_case(&variant.to_string()), s.tag_span);
        let params = s
            .binds
            .iter()
            .zip(&s.fields)
            .map(|(b, (_, t))| quote!(#b: #t));
        let build = pattern(s, &s.binds);
        let reply = s.reply_type();
        let doc = format!(
            "`{ty}::{variant}` (tag `{}`) as a request: asking it resolves to its reply, a `{}`.",
            s.tag,
            reply.to_string().replace(' ', "")
        );
        quote_spanned! {s.tag_span=>
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            #vis fn #name(#(#params),*) -> #rt::typed::Req<Self, #reply> {
                #rt::typed::Req::new(#build)
            }
        }
    });
    quote! {
        #request
        #[allow(private_interfaces, dead_code, clippy::self_named_constructors)]
        impl #impl_g #ty #ty_g #where_g {
            #(#ctors)*
        }
    }
}
