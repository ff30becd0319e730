//! Case conversions and the path of the runtime crate.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// `JoinRoom` -> `join_room`, `HTTPServer` -> `http_server`.
pub(crate) fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0
                && (prev_lower || (next_lower && chars[i - 1].is_uppercase()))
                && !out.ends_with('_')
            {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `join_room` -> `JoinRoom`.
pub(crate) fn camel_case(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The path to the runtime (`aemp_actor`), as the user's crate names it: `::aemp::kernel`
/// when it depends on the `aemp` facade, else `::aemp_actor`.
pub(crate) fn runtime() -> TokenStream {
    use proc_macro_crate::{crate_name, FoundCrate};
    if let Ok(found) = crate_name("aemp") {
        let name = match found {
            FoundCrate::Itself => syn::Ident::new("aemp", Span::call_site()),
            FoundCrate::Name(n) => syn::Ident::new(&n, Span::call_site()),
        };
        return quote!(::#name::kernel);
    }
    match crate_name("aemp-actor") {
        Ok(FoundCrate::Itself) => quote!(crate),
        Ok(FoundCrate::Name(n)) => {
            let name = syn::Ident::new(&n, Span::call_site());
            quote!(::#name)
        }
        Err(_) => quote!(::aemp_actor),
    }
}

/// An identifier for `name`, raw (`r#type`) when `name` is a keyword.
pub(crate) fn ident(name: &str, span: Span) -> syn::Ident {
    match syn::parse_str::<syn::Ident>(name) {
        Ok(mut id) => {
            id.set_span(span);
            id
        }
        Err(_) => syn::Ident::new_raw(name, span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake_case("Join"), "join");
        assert_eq!(snake_case("JoinRoom"), "join_room");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Ping2Pong"), "ping2_pong");
        assert_eq!(camel_case("join_room"), "JoinRoom");
        assert_eq!(camel_case("get"), "Get");
    }
}
