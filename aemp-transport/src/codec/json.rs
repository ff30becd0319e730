//! JSON framing: back-to-back UTF-8 JSON texts, as JSON::XS reads and writes them.
//!
//! Decoding uses serde_json's streaming deserializer, so a text split across reads is simply
//! retried once more bytes arrived. Encoding is written out here because JSON cannot carry
//! everything a [`Value`] holds: byte strings, non-finite floats and non-string map keys are
//! refused with an error instead of being changed silently (serde_json would write a byte
//! string as an array of numbers and NaN as `null`).

use serde::de::{Deserializer as _, IgnoredAny, SeqAccess, Visitor};

use super::{Item, MAX_DEPTH};
use crate::Value;

pub(super) fn decode(buf: &[u8]) -> Result<Item, String> {
    let mut items = serde_json::Deserializer::from_slice(buf).into_iter::<Value>();
    match items.next() {
        None => Ok(Item::Incomplete),
        Some(Ok(v)) => Ok(Item::Done(items.byte_offset(), Ok(v))),
        Some(Err(e)) if e.is_eof() => Ok(Item::Incomplete),
        Some(Err(e)) => Err(e.to_string()),
    }
}

/// Finds where the first JSON text of `buf` ends and checks it is well formed (UTF-8 and
/// JSON syntax), without building it: `Ok(None)` while it is incomplete. Decoding a text it
/// passed cannot fail but for what a [`Value`] cannot hold.
pub(super) fn frame(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut items = serde_json::Deserializer::from_slice(buf).into_iter::<IgnoredAny>();
    match items.next() {
        None => Ok(None),
        Some(Ok(_)) => {
            let end = items.byte_offset();
            std::str::from_utf8(&buf[..end]).map_err(|e| format!("JSON text is not UTF-8: {e}"))?;
            Ok(Some(end))
        }
        Some(Err(e)) if e.is_eof() => Ok(None),
        Some(Err(e)) => Err(e.to_string()),
    }
}

/// Decodes the elements of a framed JSON array after the first (the destination), which is
/// skipped without being built.
pub(super) fn decode_body(item: &[u8]) -> Result<Vec<Value>, String> {
    struct Body;
    impl<'de> Visitor<'de> for Body {
        type Value = Vec<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
            let mut items = Vec::new();
            if seq.next_element::<IgnoredAny>()?.is_some() {
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
            }
            Ok(items)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(item);
    de.deserialize_seq(Body).map_err(|e| e.to_string())
}

pub(super) fn encode_array(
    dest: Option<&str>,
    body: &[Value],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.push(b'[');
    let mut first = true;
    if let Some(dest) = dest {
        string(dest, out);
        first = false;
    }
    for v in body {
        if !first {
            out.push(b',');
        }
        first = false;
        value(v, out, 1)?;
    }
    out.push(b']');
    Ok(())
}

fn string(s: &str, out: &mut Vec<u8>) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn value(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!("JSON cannot carry the float {f}"));
            }
            out.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes());
        }
        Value::Text(s) => string(s, out),
        Value::Bytes(b) => {
            return Err(format!(
                "JSON cannot carry a byte string ({} bytes); send text, or use cbor framing",
                b.len()
            ))
        }
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(format!("nesting deeper than {MAX_DEPTH}"));
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            if depth >= MAX_DEPTH {
                return Err(format!("nesting deeper than {MAX_DEPTH}"));
            }
            out.push(b'{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Value::Text(s) => string(s, out),
                    other => {
                        return Err(format!("JSON map keys must be text, got {}", other.kind()))
                    }
                }
                out.push(b':');
                value(item, out, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}
