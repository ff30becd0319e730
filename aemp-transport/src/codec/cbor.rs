//! CBOR framing: back-to-back CBOR items, as CBOR::XS reads and writes them.
//!
//! Headers are read and written by `ciborium-ll`; values are built straight into [`Value`]
//! (decoding through `ciborium::Value` first would cost a second tree per message).

use ciborium_io::Write as _;
use ciborium_ll::{Decoder, Encoder, Header};

use super::{Item, MAX_DEPTH};
use crate::Value;

/// Self-describe CBOR (RFC 8949 3.4.6): a marker without meaning, skipped.
const TAG_SELF_DESCRIBE: u64 = 55799;

enum Stop {
    Incomplete,
    Corrupt(String),
}

type Dec<'a> = Decoder<&'a [u8]>;

struct Ctx {
    total: usize,
    max: usize,
    /// The first value that is well framed but not representable: the message is skipped.
    unsupported: Option<String>,
}

impl Ctx {
    fn unsupported(&mut self, what: String) -> Value {
        self.unsupported.get_or_insert(what);
        Value::Null
    }
}

pub(super) fn decode(buf: &[u8], max: usize) -> Result<Item, String> {
    if buf.is_empty() {
        return Ok(Item::Incomplete);
    }
    let mut dec = Decoder::from(buf);
    let mut ctx = Ctx {
        total: buf.len(),
        max,
        unsupported: None,
    };
    match value(&mut dec, &mut ctx, 0) {
        Ok(v) => {
            let used = dec.offset();
            Ok(Item::Done(used, ctx.unsupported.map_or(Ok(v), Err)))
        }
        Err(Stop::Incomplete) => Ok(Item::Incomplete),
        Err(Stop::Corrupt(reason)) => Err(reason),
    }
}

fn pull(dec: &mut Dec<'_>) -> Result<Header, Stop> {
    dec.pull().map_err(|e| match e {
        ciborium_ll::Error::Io(_) => Stop::Incomplete,
        ciborium_ll::Error::Syntax(at) => {
            Stop::Corrupt(format!("invalid CBOR header at byte {at}"))
        }
    })
}

fn value(dec: &mut Dec<'_>, ctx: &mut Ctx, depth: usize) -> Result<Value, Stop> {
    Ok(match pull(dec)? {
        Header::Positive(n) => Value::from(n),
        Header::Negative(n) => match i64::try_from(n) {
            Ok(n) => Value::Int(-1 - n),
            Err(_) => ctx.unsupported(format!("integer -1-{n} is below the 64-bit range")),
        },
        Header::Float(f) => Value::Float(f),
        Header::Simple(20) => Value::Bool(false),
        Header::Simple(21) => Value::Bool(true),
        Header::Simple(22 | 23) => Value::Null,
        Header::Simple(n) => ctx.unsupported(format!("unsupported CBOR simple value {n}")),
        Header::Bytes(len) => Value::Bytes(string(dec, ctx, len, false)?),
        Header::Text(len) => {
            let bytes = string(dec, ctx, len, true)?;
            match String::from_utf8(bytes) {
                Ok(s) => Value::Text(s),
                Err(_) => ctx.unsupported("CBOR text string is not valid UTF-8".into()),
            }
        }
        Header::Array(len) => {
            let depth = nest(depth)?;
            let mut items = Vec::with_capacity(capacity(dec, ctx, len));
            match len {
                Some(n) => {
                    for _ in 0..n {
                        items.push(value(dec, ctx, depth)?);
                    }
                }
                None => {
                    while !at_break(dec)? {
                        items.push(value(dec, ctx, depth)?);
                    }
                }
            }
            Value::Array(items)
        }
        Header::Map(len) => {
            let depth = nest(depth)?;
            let mut entries = Vec::with_capacity(capacity(dec, ctx, len) / 2);
            match len {
                Some(n) => {
                    for _ in 0..n {
                        let k = value(dec, ctx, depth)?;
                        entries.push((k, value(dec, ctx, depth)?));
                    }
                }
                None => {
                    while !at_break(dec)? {
                        let k = value(dec, ctx, depth)?;
                        entries.push((k, value(dec, ctx, depth)?));
                    }
                }
            }
            Value::Map(entries)
        }
        Header::Tag(TAG_SELF_DESCRIBE) => value(dec, ctx, depth)?,
        Header::Tag(tag) => {
            value(dec, ctx, nest(depth)?)?;
            ctx.unsupported(format!("unsupported CBOR tag {tag}"))
        }
        Header::Break => {
            return Err(Stop::Corrupt(format!(
                "unexpected CBOR break at byte {}",
                dec.offset() - 1
            )))
        }
    })
}

fn nest(depth: usize) -> Result<usize, Stop> {
    if depth >= MAX_DEPTH {
        Err(Stop::Corrupt(format!("nesting deeper than {MAX_DEPTH}")))
    } else {
        Ok(depth + 1)
    }
}

/// A capacity to reserve for `len` items that a hostile length cannot inflate: every item
/// takes at least one byte of input.
fn capacity(dec: &mut Dec<'_>, ctx: &Ctx, len: Option<usize>) -> usize {
    len.unwrap_or(0).min(ctx.total - dec.offset())
}

fn at_break(dec: &mut Dec<'_>) -> Result<bool, Stop> {
    match pull(dec)? {
        Header::Break => Ok(true),
        h => {
            dec.push(h);
            Ok(false)
        }
    }
}

fn string(dec: &mut Dec<'_>, ctx: &Ctx, len: Option<usize>, text: bool) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::new();
    match len {
        Some(n) => chunk(dec, ctx, n, &mut out)?,
        None => loop {
            match pull(dec)? {
                Header::Break => break,
                Header::Text(Some(n)) if text => chunk(dec, ctx, n, &mut out)?,
                Header::Bytes(Some(n)) if !text => chunk(dec, ctx, n, &mut out)?,
                _ => {
                    return Err(Stop::Corrupt(
                        "invalid chunk in indefinite-length CBOR string".into(),
                    ))
                }
            }
        },
    }
    Ok(out)
}

fn chunk(dec: &mut Dec<'_>, ctx: &Ctx, n: usize, out: &mut Vec<u8>) -> Result<(), Stop> {
    if n > ctx.max {
        return Err(Stop::Corrupt(format!(
            "CBOR string of {n} bytes exceeds the message limit of {} bytes",
            ctx.max
        )));
    }
    if n > ctx.total - dec.offset() {
        return Err(Stop::Incomplete);
    }
    let start = out.len();
    out.resize(start + n, 0);
    ciborium_io::Read::read_exact(dec, &mut out[start..]).map_err(|_| Stop::Incomplete)
}

pub(super) fn encode_array(
    dest: Option<&str>,
    body: &[Value],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut enc = Encoder::from(out);
    let len = body.len() + usize::from(dest.is_some());
    push(&mut enc, Header::Array(Some(len)));
    if let Some(dest) = dest {
        push(&mut enc, Header::Text(Some(dest.len())));
        write(&mut enc, dest.as_bytes());
    }
    for v in body {
        encode_value(&mut enc, v, 1)?;
    }
    Ok(())
}

// Writing into a Vec<u8> cannot fail.
fn push(enc: &mut Encoder<&mut Vec<u8>>, h: Header) {
    let _ = enc.push(h);
}

fn write(enc: &mut Encoder<&mut Vec<u8>>, b: &[u8]) {
    let _ = enc.write_all(b);
}

fn encode_value(enc: &mut Encoder<&mut Vec<u8>>, v: &Value, depth: usize) -> Result<(), String> {
    match v {
        Value::Null => push(enc, Header::Simple(22)),
        Value::Bool(b) => push(enc, Header::Simple(if *b { 21 } else { 20 })),
        Value::Int(i) if *i >= 0 => push(enc, Header::Positive(*i as u64)),
        Value::Int(i) => push(enc, Header::Negative(!*i as u64)),
        Value::UInt(u) => push(enc, Header::Positive(*u)),
        Value::Float(f) => push(enc, Header::Float(*f)),
        Value::Text(s) => {
            push(enc, Header::Text(Some(s.len())));
            write(enc, s.as_bytes());
        }
        Value::Bytes(b) => {
            push(enc, Header::Bytes(Some(b.len())));
            write(enc, b);
        }
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(format!("nesting deeper than {MAX_DEPTH}"));
            }
            push(enc, Header::Array(Some(items.len())));
            for item in items {
                encode_value(enc, item, depth + 1)?;
            }
        }
        Value::Map(entries) => {
            if depth >= MAX_DEPTH {
                return Err(format!("nesting deeper than {MAX_DEPTH}"));
            }
            push(enc, Header::Map(Some(entries.len())));
            for (k, item) in entries {
                encode_value(enc, k, depth + 1)?;
                encode_value(enc, item, depth + 1)?;
            }
        }
    }
    Ok(())
}
