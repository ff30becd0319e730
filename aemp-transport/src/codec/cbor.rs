//! CBOR framing: back-to-back CBOR items, as CBOR::XS reads and writes them.
//!
//! Decoding parses the buffer in place (a slice and a position) and builds values straight
//! into [`Value`] (decoding through `ciborium::Value` first would cost a second tree per
//! message); headers are written by `ciborium-ll`.

use ciborium_io::Write as _;
use ciborium_ll::{Encoder, Header};

use super::{Item, MAX_DEPTH};
use crate::Value;

/// Self-describe CBOR (RFC 8949 3.4.6): a marker without meaning, skipped.
pub(super) const TAG_SELF_DESCRIBE: u64 = 55799;

/// The additional information of indefinite lengths (majors 2-5) and of the break (major 7).
pub(super) const INDEFINITE: u8 = 31;

/// The initial byte of a break, which ends an indefinite-length item.
const BREAK: u8 = 0xff;

/// One item header (RFC 8949 3): the major type, the additional information and the argument
/// it gives, and the header's size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) major: u8,
    /// The low five bits of the initial byte: below 24 the argument itself, 24-27 the size of
    /// the argument that follows, 31 an indefinite length or (major 7) a break.
    pub(super) info: u8,
    /// The argument: an integer, length or tag number, a simple value (info 24) or the bits of
    /// a float (info 25-27). Zero when `info` is 31.
    pub(super) arg: u64,
    /// Bytes taken by the header: 1, 2, 3, 5 or 9.
    pub(super) size: usize,
}

/// A header that is not well formed: reserved additional information (28-30), or an
/// indefinite length on an integer or tag.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Malformed;

/// Reads the header at `buf[pos]`: `Ok(None)` when the buffer ends inside it.
#[inline]
pub(super) fn head(buf: &[u8], pos: usize) -> Result<Option<Head>, Malformed> {
    let Some(&initial) = buf.get(pos) else {
        return Ok(None);
    };
    let (major, info) = (initial >> 5, initial & 0x1f);
    let (arg, size) = match info {
        0..=23 => (u64::from(info), 1),
        24 => match buf.get(pos + 1) {
            Some(&b) => (u64::from(b), 2),
            None => return Ok(None),
        },
        25 => match be::<2>(buf, pos + 1) {
            Some(b) => (u64::from(u16::from_be_bytes(b)), 3),
            None => return Ok(None),
        },
        26 => match be::<4>(buf, pos + 1) {
            Some(b) => (u64::from(u32::from_be_bytes(b)), 5),
            None => return Ok(None),
        },
        27 => match be::<8>(buf, pos + 1) {
            Some(b) => (u64::from_be_bytes(b), 9),
            None => return Ok(None),
        },
        INDEFINITE if matches!(major, 2..=5 | 7) => (0, 1),
        _ => return Err(Malformed),
    };
    Ok(Some(Head {
        major,
        info,
        arg,
        size,
    }))
}

#[inline]
fn be<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// An IEEE 754 half-precision float (CBOR's `f9` floats), widened exactly.
fn f16_to_f64(bits: u16) -> f64 {
    let negative = bits & 0x8000 != 0;
    let exp = u64::from((bits >> 10) & 0x1f);
    let man = u64::from(bits & 0x3ff);
    let sign = u64::from(negative) << 63;
    match exp {
        // Zero and subnormals: man * 2^-24, exact in f64.
        0 => {
            let mag = man as f64 / 16_777_216.0;
            if negative {
                -mag
            } else {
                mag
            }
        }
        // Infinities, and NaNs with their payload kept and the quiet bit set (as `half` and
        // hardware conversions do).
        0x1f if man == 0 => f64::from_bits(sign | 0x7ff0_0000_0000_0000),
        0x1f => f64::from_bits(sign | 0x7ff8_0000_0000_0000 | (man << 42)),
        // Normal numbers: rebias the exponent (15 -> 1023), widen the mantissa (10 -> 52 bits).
        _ => f64::from_bits(sign | ((exp + 1023 - 15) << 52) | (man << 42)),
    }
}

enum Stop {
    Incomplete,
    Corrupt(String),
}

/// Decoding state: the buffer and where in it the next header starts.
struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    max: usize,
    /// The first value that is well framed but not representable: the message is skipped.
    unsupported: Option<String>,
}

pub(super) fn decode(buf: &[u8], max: usize) -> Result<Item, String> {
    if buf.is_empty() {
        return Ok(Item::Incomplete);
    }
    let mut p = Parser {
        buf,
        pos: 0,
        max,
        unsupported: None,
    };
    match p.message() {
        Ok(v) => Ok(Item::Done(p.pos, p.unsupported.map_or(Ok(v), Err))),
        Err(Stop::Incomplete) => Ok(Item::Incomplete),
        Err(Stop::Corrupt(reason)) => Err(reason),
    }
}

/// Decodes the elements of a whole, scanned message from `at` on: `count` of them, or up to
/// the break of an indefinite-length array (`None`).
pub(super) fn decode_elements(
    buf: &[u8],
    at: usize,
    count: Option<usize>,
) -> Result<Vec<Value>, String> {
    let mut p = Parser {
        buf,
        pos: at,
        max: usize::MAX,
        unsupported: None,
    };
    let mut items = Vec::with_capacity(count.unwrap_or(4).min(buf.len()));
    let decoded = match count {
        Some(n) => (0..n).try_for_each(|_| p.value(1, &mut items)),
        None => loop {
            match p.at_break() {
                Ok(true) => break Ok(()),
                Ok(false) => {
                    if let Err(e) = p.value(1, &mut items) {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            }
        },
    };
    match decoded {
        Ok(()) => p.unsupported.map_or(Ok(items), Err),
        Err(Stop::Incomplete) => Err("message ends early".into()),
        Err(Stop::Corrupt(reason)) => Err(reason),
    }
}

fn invalid_header(at: usize) -> Stop {
    Stop::Corrupt(format!("invalid CBOR header at byte {at}"))
}

fn nest(depth: usize) -> Result<usize, Stop> {
    if depth >= MAX_DEPTH {
        Err(Stop::Corrupt(format!("nesting deeper than {MAX_DEPTH}")))
    } else {
        Ok(depth + 1)
    }
}

impl<'a> Parser<'a> {
    fn unsupported(&mut self, what: String) -> Value {
        self.unsupported.get_or_insert(what);
        Value::Null
    }

    /// Reads the next header and moves past it.
    #[inline]
    fn head(&mut self) -> Result<Head, Stop> {
        match head(self.buf, self.pos) {
            Ok(Some(h)) => {
                self.pos += h.size;
                Ok(h)
            }
            Ok(None) => Err(Stop::Incomplete),
            Err(Malformed) => Err(invalid_header(self.pos)),
        }
    }

    /// Bytes left after the position: a bound no declared length can inflate, as every item
    /// takes at least one byte.
    #[inline]
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Moves past a break if one is next (the end of an indefinite-length item).
    #[inline]
    fn at_break(&mut self) -> Result<bool, Stop> {
        match self.buf.get(self.pos) {
            Some(&BREAK) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(Stop::Incomplete),
        }
    }

    /// Decodes the message: one item, in the common case an array.
    fn message(&mut self) -> Result<Value, Stop> {
        if let Ok(Some(h)) = head(self.buf, 0) {
            if h.major == 4 {
                self.pos = h.size;
                return Ok(Value::Array(self.array(h, 0, 0)?));
            }
        }
        let mut one = Vec::with_capacity(1);
        self.value(0, &mut one)?;
        Ok(one.pop().unwrap_or(Value::Null))
    }

    /// Decodes the next item onto the end of `out`.
    ///
    /// Each value is pushed where it is built rather than returned: moving a returned
    /// `Value` into its `Vec` costs a store-forwarding stall per item, a good part of the
    /// decoding time.
    fn value(&mut self, depth: usize, out: &mut Vec<Value>) -> Result<(), Stop> {
        loop {
            let start = self.pos;
            let h = self.head()?;
            match h.major {
                0 => out.push(Value::from(h.arg)),
                1 => match i64::try_from(h.arg) {
                    Ok(n) => out.push(Value::Int(-1 - n)),
                    Err(_) => {
                        let v = self
                            .unsupported(format!("integer -1-{} is below the 64-bit range", h.arg));
                        out.push(v)
                    }
                },
                2 => {
                    let bytes = match h.info {
                        INDEFINITE => self.chunks(2)?,
                        _ => self.take(len(h.arg, start)?)?.to_vec(),
                    };
                    out.push(Value::Bytes(bytes))
                }
                3 => {
                    let text = match h.info {
                        INDEFINITE => String::from_utf8(self.chunks(3)?).ok(),
                        _ => std::str::from_utf8(self.take(len(h.arg, start)?)?)
                            .ok()
                            .map(str::to_owned),
                    };
                    match text {
                        Some(s) => out.push(Value::Text(s)),
                        None => {
                            let v = self.unsupported("CBOR text string is not valid UTF-8".into());
                            out.push(v)
                        }
                    }
                }
                4 => {
                    let items = self.array(h, start, depth)?;
                    out.push(Value::Array(items))
                }
                5 => {
                    let entries = self.map(h, start, depth)?;
                    out.push(Value::Map(entries))
                }
                // Looping, not recursing: a long run of these cannot exhaust the stack.
                6 if h.arg == TAG_SELF_DESCRIBE => continue,
                6 => {
                    self.value(nest(depth)?, out)?;
                    out.pop();
                    let v = self.unsupported(format!("unsupported CBOR tag {}", h.arg));
                    out.push(v)
                }
                _ => match h.info {
                    25 => out.push(Value::Float(f16_to_f64(h.arg as u16))),
                    26 => out.push(Value::Float(f64::from(f32::from_bits(h.arg as u32)))),
                    27 => out.push(Value::Float(f64::from_bits(h.arg))),
                    INDEFINITE => {
                        return Err(Stop::Corrupt(format!(
                            "unexpected CBOR break at byte {start}"
                        )))
                    }
                    // Simple values: in the initial byte (info < 24) or the next (info 24).
                    _ => match h.arg {
                        20 => out.push(Value::Bool(false)),
                        21 => out.push(Value::Bool(true)),
                        22 | 23 => out.push(Value::Null),
                        n => {
                            let v = self.unsupported(format!("unsupported CBOR simple value {n}"));
                            out.push(v)
                        }
                    },
                },
            }
            return Ok(());
        }
    }

    /// The items of the array whose header `h` (at `start`) was just read.
    fn array(&mut self, h: Head, start: usize, depth: usize) -> Result<Vec<Value>, Stop> {
        let depth = nest(depth)?;
        let mut items;
        if h.info == INDEFINITE {
            items = Vec::new();
            while !self.at_break()? {
                self.value(depth, &mut items)?;
            }
        } else {
            let n = len(h.arg, start)?;
            items = Vec::with_capacity(n.min(self.remaining()));
            for _ in 0..n {
                self.value(depth, &mut items)?;
            }
        }
        Ok(items)
    }

    /// The entries of the map whose header `h` (at `start`) was just read.
    fn map(&mut self, h: Head, start: usize, depth: usize) -> Result<Vec<(Value, Value)>, Stop> {
        let depth = nest(depth)?;
        // Keys and values are decoded in turn into `flat`, then paired.
        let mut flat;
        if h.info == INDEFINITE {
            flat = Vec::new();
            while !self.at_break()? {
                self.value(depth, &mut flat)?;
                self.value(depth, &mut flat)?;
            }
        } else {
            let n = len(h.arg, start)?;
            flat = Vec::with_capacity(n.saturating_mul(2).min(self.remaining()));
            for _ in 0..n {
                self.value(depth, &mut flat)?;
                self.value(depth, &mut flat)?;
            }
        }
        let mut entries = Vec::with_capacity(flat.len() / 2);
        let mut flat = flat.into_iter();
        while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
            entries.push((k, v));
        }
        Ok(entries)
    }

    /// The next `n` bytes of string content.
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        if n > self.max {
            return Err(Stop::Corrupt(format!(
                "CBOR string of {n} bytes exceeds the message limit of {} bytes",
                self.max
            )));
        }
        if n > self.remaining() {
            return Err(Stop::Incomplete);
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// The content of an indefinite-length string of `major` (2 bytes, 3 text): definite-length
    /// chunks of the same major type up to a break.
    fn chunks(&mut self, major: u8) -> Result<Vec<u8>, Stop> {
        let mut out = Vec::new();
        loop {
            let start = self.pos;
            let h = self.head()?;
            if h.major == 7 && h.info == INDEFINITE {
                return Ok(out);
            }
            if h.major != major || h.info == INDEFINITE {
                return Err(Stop::Corrupt(
                    "invalid chunk in indefinite-length CBOR string".into(),
                ));
            }
            out.extend_from_slice(self.take(len(h.arg, start)?)?);
        }
    }
}

/// A length argument as `usize`.
#[inline]
fn len(arg: u64, start: usize) -> Result<usize, Stop> {
    usize::try_from(arg).map_err(|_| invalid_header(start))
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

#[cfg(test)]
#[path = "cbor_tests.rs"]
mod tests;
