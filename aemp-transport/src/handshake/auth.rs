//! Authentication: the methods, the tokens they send, and the auth line.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha3::{Digest, Sha3_512};

/// An authentication method of the AEMP handshake.
///
/// ```
/// use aemp_transport::AuthMethod;
/// assert_eq!("hmac_sha3_512".parse::<AuthMethod>().unwrap(), AuthMethod::HmacSha3_512);
/// assert_eq!(AuthMethod::TlsAnon.to_string(), "tls_anon");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// SHA3-512 of the greetings, sent over TLS (the certificates authenticate).
    TlsSha3_512,
    /// HMAC-SHA3-512 of the greetings, keyed with the shared secret.
    HmacSha3_512,
    /// No token, over TLS; a peer that uses it is marked untrusted.
    TlsAnon,
    /// The secret in lowercase hex: accepted, never sent.
    Cleartext,
}

impl AuthMethod {
    /// The name used on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::TlsSha3_512 => "tls_sha3_512",
            AuthMethod::HmacSha3_512 => "hmac_sha3_512",
            AuthMethod::TlsAnon => "tls_anon",
            AuthMethod::Cleartext => "cleartext",
        }
    }

    /// The method of that name, if aemp knows it.
    pub fn from_name(name: &str) -> Option<AuthMethod> {
        match name {
            "tls_sha3_512" => Some(AuthMethod::TlsSha3_512),
            "hmac_sha3_512" => Some(AuthMethod::HmacSha3_512),
            "tls_anon" => Some(AuthMethod::TlsAnon),
            "cleartext" => Some(AuthMethod::Cleartext),
            _ => None,
        }
    }

    /// Whether the method is only valid over TLS.
    pub fn needs_tls(self) -> bool {
        self.name().starts_with("tls_")
    }

    /// AnyEvent::MP 2.x's default `auth_offer`: what we send.
    pub const DEFAULT_OFFER: [AuthMethod; 2] = [AuthMethod::TlsSha3_512, AuthMethod::HmacSha3_512];
    /// AnyEvent::MP 2.x's default `auth_accept`: what we accept.
    pub const DEFAULT_ACCEPT: [AuthMethod; 4] = [
        AuthMethod::TlsSha3_512,
        AuthMethod::HmacSha3_512,
        AuthMethod::TlsAnon,
        AuthMethod::Cleartext,
    ];
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown auth method name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown auth method '{0}' (known: tls_sha3_512, hmac_sha3_512, tls_anon, cleartext)")]
pub struct UnknownAuthMethod(pub String);

impl FromStr for AuthMethod {
    type Err = UnknownAuthMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuthMethod::from_name(s).ok_or_else(|| UnknownAuthMethod(s.to_owned()))
    }
}

/// The text both tokens are computed over: `first1\nfirst2\nsecond1\nsecond2\n`.
fn transcript(first: (&str, &str), second: (&str, &str)) -> String {
    format!("{}\n{}\n{}\n{}\n", first.0, first.1, second.0, second.1)
}

/// `hmac_sha3_512`: lowercase hex of HMAC-SHA3-512 keyed with `secret` over the greeting
/// lines of `first`, then those of `second` (the sender puts its own lines first).
pub fn hmac_sha3_512_hex(secret: &[u8], first: (&str, &str), second: (&str, &str)) -> String {
    // HMAC accepts keys of any length.
    let mut mac =
        <Hmac<Sha3_512> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(transcript(first, second).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `tls_sha3_512`: lowercase hex of SHA3-512 over the greeting lines of `first`, then those
/// of `second` (as the seed's code does: the sender's own lines first).
pub fn sha3_512_hex(first: (&str, &str), second: (&str, &str)) -> String {
    hex::encode(Sha3_512::digest(transcript(first, second).as_bytes()))
}

/// Compares two tokens in time independent of where they differ.
pub(crate) fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The auth line: `METHOD;TOKEN;FRAMING[;KEY=VALUE...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthLine {
    pub method: String,
    pub token: String,
    pub framing: String,
}

impl AuthLine {
    pub(crate) fn parse(line: &str) -> Result<AuthLine, crate::Error> {
        let mut fields = line.split(';');
        match (fields.next(), fields.next(), fields.next()) {
            (Some(method), Some(token), Some(framing)) if !method.is_empty() => Ok(AuthLine {
                method: method.to_owned(),
                token: token.to_owned(),
                framing: framing.to_owned(),
            }),
            _ => Err(crate::Error::MalformedLine {
                what: "auth line",
                reason: format!("expected METHOD;TOKEN;FRAMING, got '{}'", truncate(line)),
            }),
        }
    }
}

/// A line shortened for an error message.
pub(crate) fn truncate(line: &str) -> String {
    if line.len() <= 80 {
        line.to_owned()
    } else {
        let mut end = 80;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &line[..end])
    }
}
