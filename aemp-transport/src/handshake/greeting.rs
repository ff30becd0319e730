//! The greeting: the two lines each side sends first.

use std::fmt::Write as _;

use crate::Error;

/// The protocol name of AEMP.
pub const PROTOCOL: &str = "aemp";
/// The protocol version aemp speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The longest handshake line, delimiter included, that either side accepts.
pub const MAX_LINE: usize = 4096;

/// The first greeting line: `aemp;1;NODEID;AUTHS;FRAMINGS;KEY=VALUE...`.
///
/// Parsing is as lenient as AnyEvent::MP's: the checks (protocol, version, node id) are made
/// by the handshake, each with its own error. `KEY=VALUE` pairs may lack the `=VALUE`
/// (the value is then `None`), and values are unescaped (`%3b` is `;`, `%25` is `%`), while
/// a bare `%` is taken as it is, since Perl nodes never escape.
///
/// ```
/// use aemp_transport::Greeting;
/// let g = Greeting::parse("aemp;1;n1;hmac_sha3_512;cbor,json;provider=AE-2.01;tls=1.0;flag").unwrap();
/// assert_eq!(g.node_id, "n1");
/// assert_eq!(g.framings, ["cbor", "json"]);
/// assert_eq!(g.key("provider"), Some("AE-2.01"));
/// assert!(g.has_key("flag") && g.key("flag").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// `aemp`, or `aemp-WORD` for a sub-protocol.
    pub protocol: String,
    /// The protocol version as sent (compared numerically, as Perl does).
    pub version: String,
    /// The sender's node id.
    pub node_id: String,
    /// The auth methods the sender accepts, in its order of preference.
    pub auths: Vec<String>,
    /// The framings the sender accepts, in its order of preference.
    pub framings: Vec<String>,
    /// The `KEY[=VALUE]` pairs, in order, unescaped.
    pub keys: Vec<(String, Option<String>)>,
}

impl Greeting {
    /// Parses a first greeting line (without its line delimiter).
    pub fn parse(line: &str) -> Result<Greeting, Error> {
        let mut fields = line.split(';');
        let protocol = fields.next().unwrap_or_default().to_owned();
        let mut fixed = || fields.next();
        let (version, node_id, auths, framings) = (fixed(), fixed(), fixed(), fixed());
        let malformed = |reason: &str| Error::MalformedLine {
            what: "greeting",
            reason: reason.into(),
        };
        let version = version
            .ok_or_else(|| malformed("no protocol version"))?
            .to_owned();
        let node_id = node_id.ok_or_else(|| malformed("no node id"))?.to_owned();
        let auths = list(auths.ok_or_else(|| malformed("no auth methods"))?);
        let framings = list(framings.ok_or_else(|| malformed("no framings"))?);
        let keys = fields
            .filter_map(|kv| {
                let (k, v) = match kv.split_once('=') {
                    Some((k, v)) => (k, Some(unescape(v))),
                    None => (kv, None),
                };
                (!k.is_empty()).then(|| (k.to_owned(), v))
            })
            .collect();
        Ok(Greeting {
            protocol,
            version,
            node_id,
            auths,
            framings,
            keys,
        })
    }

    /// The value of `key`; `None` when it is missing or has no `=VALUE`.
    pub fn key(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether `key` was sent, with or without a value.
    pub fn has_key(&self, key: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == key)
    }

    /// The line as sent (without delimiter); values are escaped.
    pub fn to_line(&self) -> String {
        let mut line = format!(
            "{};{};{};{};{}",
            self.protocol,
            self.version,
            self.node_id,
            self.auths.join(","),
            self.framings.join(",")
        );
        for (k, v) in &self.keys {
            match v {
                Some(v) => {
                    let _ = write!(line, ";{k}={}", escape(v));
                }
                None => {
                    let _ = write!(line, ";{k}");
                }
            }
        }
        line
    }

    /// The version as Perl's `==` sees it.
    pub(crate) fn version_number(&self) -> f64 {
        perl_number(&self.version)
    }

    /// Whether the `tls` key asks for TLS, as Perl's `1 == int $tls` decides.
    pub(crate) fn wants_tls(&self) -> bool {
        self.key("tls")
            .is_some_and(|v| perl_number(v).trunc() == 1.0)
    }
}

/// Splits a comma-separated list as Perl's `split /,/` does (trailing empty fields dropped).
fn list(s: &str) -> Vec<String> {
    let mut items: Vec<String> = s.split(',').map(str::to_owned).collect();
    while items.last().is_some_and(String::is_empty) {
        items.pop();
    }
    items
}

/// Escapes `%` and `;` in a greeting value.
pub(crate) fn escape(v: &str) -> String {
    v.replace('%', "%25").replace(';', "%3b")
}

/// Undoes [`escape`]; anything else, a lone `%` included, is kept as it is.
pub(crate) fn unescape(v: &str) -> String {
    if !v.contains('%') {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.len() >= 3 && tail[1..3].eq_ignore_ascii_case("3b") {
            out.push(';');
            rest = &tail[3..];
        } else if let Some(after) = tail.strip_prefix("%25") {
            out.push('%');
            rest = after;
        } else {
            out.push('%');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The number Perl sees in a string: leading whitespace, then the longest numeric prefix
/// (`"1.0"` is 1, `"1x"` is 1, `"x"` is 0).
pub(crate) fn perl_number(s: &str) -> f64 {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut end = 0;
    if end < b.len() && (b[end] == b'+' || b[end] == b'-') {
        end += 1;
    }
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits(end);
    let mut num_end = int_end;
    if num_end < b.len() && b[num_end] == b'.' {
        let frac_end = digits(num_end + 1);
        if frac_end > num_end + 1 || int_end > end {
            num_end = frac_end;
        }
    }
    if num_end > end && num_end < b.len() && (b[num_end] == b'e' || b[num_end] == b'E') {
        let mut e = num_end + 1;
        if e < b.len() && (b[e] == b'+' || b[e] == b'-') {
            e += 1;
        }
        let exp_end = digits(e);
        if exp_end > e {
            num_end = exp_end;
        }
    }
    s[..num_end].parse().unwrap_or(0.0)
}
