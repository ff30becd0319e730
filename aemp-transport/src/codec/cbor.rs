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
const TAG_SELF_DESCRIBE: u64 = 55799;

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
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// Decodes one item that must be whole and well formed: its value and size.
    fn ok(wire: &[u8]) -> (Value, usize) {
        match decode(wire, 1 << 20) {
            Ok(Item::Done(used, Ok(v))) => (v, used),
            Ok(Item::Done(_, Err(reason))) => panic!("{wire:02x?}: unsupported: {reason}"),
            Ok(Item::Incomplete) => panic!("{wire:02x?}: incomplete"),
            Err(reason) => panic!("{wire:02x?}: corrupt: {reason}"),
        }
    }

    fn value(wire: &[u8]) -> Value {
        let (v, used) = ok(wire);
        assert_eq!(used, wire.len(), "{wire:02x?}");
        v
    }

    fn incomplete(wire: &[u8]) -> bool {
        matches!(decode(wire, 1 << 20), Ok(Item::Incomplete))
    }

    fn corrupt(wire: &[u8], max: usize) -> String {
        match decode(wire, max) {
            Err(reason) => reason,
            _ => panic!("{wire:02x?} should be corrupt"),
        }
    }

    /// A whole item that is well framed but has no `Value`: its size and the reason.
    fn unsupported(wire: &[u8]) -> (usize, String) {
        match decode(wire, 1 << 20) {
            Ok(Item::Done(used, Err(reason))) => (used, reason),
            _ => panic!("{wire:02x?} should be unsupported"),
        }
    }

    #[test]
    fn f16_special_values() {
        for (bits, want) in [
            (0x0000, 0.0),
            (0x3c00, 1.0),
            (0x3e00, 1.5),
            (0xc000, -2.0),
            (0x3555, 0.333_251_953_125),
            (0x7bff, 65504.0),                 // largest normal
            (0x0400, 2f64.powi(-14)),          // smallest normal
            (0x0001, 2f64.powi(-24)),          // smallest subnormal
            (0x03ff, 1023.0 * 2f64.powi(-24)), // largest subnormal
            (0x8001, -(2f64.powi(-24))),
            (0x7c00, f64::INFINITY),
            (0xfc00, f64::NEG_INFINITY),
        ] {
            assert_eq!(f16_to_f64(bits).to_bits(), want.to_bits(), "{bits:04x}");
        }
        assert_eq!(f16_to_f64(0x8000).to_bits(), (-0.0f64).to_bits());
        assert!(f16_to_f64(0x7e00).is_nan());
        assert!(f16_to_f64(0xfe00).is_nan() && f16_to_f64(0xfe00).is_sign_negative());
        // A NaN keeps its payload, and becomes quiet.
        assert_eq!(f16_to_f64(0x7c01).to_bits(), 0x7ff8_0400_0000_0000);
        assert_eq!(f16_to_f64(0x7dff).to_bits(), 0x7fff_fc00_0000_0000);
    }

    #[test]
    fn f16_every_finite_value() {
        for bits in 0..=u16::MAX {
            let (exp, man) = (i32::from((bits >> 10) & 0x1f), f64::from(bits & 0x3ff));
            if exp == 0x1f {
                continue;
            }
            let mag = if exp == 0 {
                man * 2f64.powi(-24)
            } else {
                (1.0 + man / 1024.0) * 2f64.powi(exp - 15)
            };
            let want = if bits & 0x8000 != 0 { -mag } else { mag };
            assert_eq!(f16_to_f64(bits).to_bits(), want.to_bits(), "{bits:04x}");
            // And f16 values widen exactly as f32 ones do.
            assert_eq!(f64::from(want as f32), want);
        }
    }

    #[test]
    fn header_sizes() {
        for (wire, arg) in [
            ("00", 0),
            ("17", 23),
            ("18 18", 24),
            ("18 ff", 255),
            ("19 0100", 256),
            ("19 ffff", 65535),
            ("1a 00010000", 65536),
            ("1a ffffffff", u64::from(u32::MAX)),
            ("1b 0000000100000000", 1 << 32),
            ("1b ffffffffffffffff", u64::MAX),
            ("18 05", 5), // not the shortest form: still read
        ] {
            let wire = hex(wire);
            let want = Head {
                major: 0,
                info: wire[0] & 0x1f,
                arg,
                size: wire.len(),
            };
            assert_eq!(head(&wire, 0), Ok(Some(want)), "{wire:02x?}");
            // At an offset, and followed by more bytes.
            let mut padded = vec![0xaa; 3];
            padded.extend(&wire);
            padded.push(0xbb);
            assert_eq!(head(&padded, 3), Ok(Some(want)), "{wire:02x?}");
            for cut in 0..wire.len() {
                assert_eq!(head(&wire[..cut], 0), Ok(None), "{wire:02x?} cut at {cut}");
            }
            assert_eq!(value(&wire), Value::from(arg));
        }
        assert_eq!(head(&[], 0), Ok(None));
        assert_eq!(head(&[0x00], 1), Ok(None));
    }

    #[test]
    fn header_additional_information() {
        for major in 0..8u8 {
            for info in 28..=30 {
                assert_eq!(head(&[major << 5 | info, 0, 0], 0), Err(Malformed));
            }
            let indefinite = head(&[major << 5 | INDEFINITE], 0);
            if matches!(major, 2..=5 | 7) {
                assert_eq!(
                    indefinite,
                    Ok(Some(Head {
                        major,
                        info: INDEFINITE,
                        arg: 0,
                        size: 1,
                    }))
                );
            } else {
                assert_eq!(indefinite, Err(Malformed), "major {major}");
            }
        }
        assert_eq!(
            corrupt(&hex("82 01 1c"), 100),
            "invalid CBOR header at byte 2"
        );
        assert_eq!(
            corrupt(&hex("82 01 1f"), 100),
            "invalid CBOR header at byte 2"
        );
        assert_eq!(corrupt(&hex("81 df"), 100), "invalid CBOR header at byte 1");
        assert_eq!(
            corrupt(&hex("82 01 ff"), 100),
            "unexpected CBOR break at byte 2"
        );
    }

    #[test]
    fn integers() {
        assert_eq!(value(&hex("20")), Value::Int(-1));
        assert_eq!(value(&hex("38 ff")), Value::Int(-256));
        assert_eq!(value(&hex("39 ffff")), Value::Int(-65536));
        assert_eq!(value(&hex("3a ffffffff")), Value::Int(-(1 << 32)));
        assert_eq!(value(&hex("3b 7fffffffffffffff")), Value::Int(i64::MIN));
        assert_eq!(value(&hex("1b 7fffffffffffffff")), Value::Int(i64::MAX));
        assert_eq!(value(&hex("1b 8000000000000000")), Value::UInt(1 << 63));
        let (used, why) = unsupported(&hex("3b 8000000000000000"));
        assert_eq!(used, 9);
        assert!(why.contains("64-bit range"), "{why}");
    }

    #[test]
    fn floats_and_simple_values() {
        assert_eq!(value(&hex("f9 3e00")), Value::Float(1.5));
        assert_eq!(value(&hex("f9 0001")), Value::Float(2f64.powi(-24)));
        assert_eq!(value(&hex("f9 fc00")), Value::Float(f64::NEG_INFINITY));
        assert_eq!(value(&hex("fa 47c35000")), Value::Float(100000.0));
        assert_eq!(value(&hex("fa 7f800000")), Value::Float(f64::INFINITY));
        assert_eq!(value(&hex("fb 3ff199999999999a")), Value::Float(1.1));
        for wire in ["f9 7e00", "fa 7fc00000", "fb 7ff8000000000000"] {
            assert!(matches!(value(&hex(wire)), Value::Float(f) if f.is_nan()));
        }
        assert_eq!(value(&hex("f4")), Value::Bool(false));
        assert_eq!(value(&hex("f5")), Value::Bool(true));
        assert_eq!(value(&hex("f6")), Value::Null);
        assert_eq!(value(&hex("f7")), Value::Null); // undefined
        assert_eq!(value(&hex("f8 15")), Value::Bool(true)); // two-byte form
        for (wire, size) in [("e0", 1), ("f3", 1), ("f8 20", 2), ("f8 ff", 2)] {
            let (used, why) = unsupported(&hex(wire));
            assert_eq!(used, size);
            assert!(why.contains("simple value"), "{why}");
        }
        for wire in ["f9", "f9 00", "fa 000000", "fb 00000000000000", "f8"] {
            assert!(incomplete(&hex(wire)), "{wire}");
        }
    }

    #[test]
    fn strings() {
        assert_eq!(value(&hex("60")), Value::Text(String::new()));
        assert_eq!(value(&hex("63 c3a978")), Value::Text("éx".into()));
        assert_eq!(value(&hex("78 03 616263")), Value::Text("abc".into()));
        assert_eq!(value(&hex("79 0001 61")), Value::Text("a".into()));
        assert_eq!(value(&hex("7a 00000001 61")), Value::Text("a".into()));
        assert_eq!(
            value(&hex("7b 0000000000000001 61")),
            Value::Text("a".into())
        );
        assert_eq!(value(&hex("43 00ff01")), Value::Bytes(vec![0, 255, 1]));
        // Indefinite length: chunks (possibly empty) up to a break.
        assert_eq!(
            value(&hex("7f 6161 60 62c3a9 ff")),
            Value::Text("aé".into())
        );
        assert_eq!(value(&hex("5f ff")), Value::Bytes(vec![]));
        assert_eq!(value(&hex("5f 4101 4102 ff")), Value::Bytes(vec![1, 2]));
        // A character split across chunks: only the whole is checked.
        assert_eq!(value(&hex("7f 61c3 61a9 ff")), Value::Text("é".into()));
        // Invalid UTF-8 skips the message but consumes the whole item.
        let (used, why) = unsupported(&hex("82 62c328 01"));
        assert_eq!(used, 5);
        assert!(why.contains("UTF-8"), "{why}");
        let (used, _) = unsupported(&hex("7f 61ff ff"));
        assert_eq!(used, 4);
        // Chunks must be definite strings of the same type.
        for wire in [
            "7f 4161 ff",
            "7f 7f ff ff",
            "5f 6161 ff",
            "7f 01 ff",
            "5f f6 ff",
        ] {
            let why = corrupt(&hex(wire), 100);
            assert!(why.contains("invalid chunk"), "{wire}: {why}");
        }
        assert_eq!(corrupt(&hex("7f 1c"), 100), "invalid CBOR header at byte 1");
    }

    #[test]
    fn string_lengths() {
        // Declared longer than what has arrived: wait.
        assert!(incomplete(&hex("65 6162")));
        assert!(incomplete(&hex("5a 00001000 00")));
        assert!(incomplete(&hex("7f 6161")));
        assert!(incomplete(&hex("7f 63 61")));
        // Longer than a whole message may be: refused on the header alone.
        let why = corrupt(&hex("78 0b"), 10);
        assert!(why.contains("exceeds") && why.contains("11 bytes"), "{why}");
        assert!(corrupt(&hex("5b ffffffffffffffff"), 10).contains("exceeds"));
        assert!(corrupt(&hex("7f 78 0b"), 10).contains("exceeds"));
        assert_eq!(value(&hex("6a 30313233343536373839")), "0123456789".into());
    }

    #[test]
    fn arrays_and_maps() {
        assert_eq!(value(&hex("80")), Value::Array(vec![]));
        assert_eq!(
            value(&hex("83 01 82 02 03 9f 04 ff")),
            Value::Array(vec![
                1.into(),
                Value::Array(vec![2.into(), 3.into()]),
                Value::Array(vec![4.into()])
            ])
        );
        assert_eq!(value(&hex("98 01 01")), Value::Array(vec![1.into()]));
        assert_eq!(value(&hex("9f ff")), Value::Array(vec![]));
        assert_eq!(value(&hex("a0")), Value::Map(vec![]));
        assert_eq!(
            value(&hex("a2 6161 01 02 a1 f5 f6")),
            Value::Map(vec![
                ("a".into(), 1.into()),
                (2.into(), Value::Map(vec![(true.into(), Value::Null)]))
            ])
        );
        assert_eq!(
            value(&hex("bf 01 02 03 04 ff")),
            Value::Map(vec![(1.into(), 2.into()), (3.into(), 4.into())])
        );
        // The top level need not be an array.
        assert_eq!(value(&hex("01")), Value::Int(1));
        // Only the first item is taken.
        assert_eq!(ok(&hex("81 01 82")), (Value::Array(vec![1.into()]), 2));
        // A break where a map value belongs is corrupt; so is one outside any item.
        assert!(corrupt(&hex("bf 01 ff"), 100).contains("unexpected CBOR break"));
        assert!(corrupt(&hex("ff"), 100).contains("unexpected CBOR break at byte 0"));
    }

    #[test]
    fn hostile_lengths_wait_for_bytes() {
        for wire in [
            "9b 7fffffffffffffff",
            "9b ffffffffffffffff 01",
            "bb 7fffffffffffffff 01",
            "bb ffffffffffffffff 01 02",
            "9f 01 02",
            "bf 01",
        ] {
            assert!(incomplete(&hex(wire)), "{wire}");
        }
    }

    #[test]
    fn tags() {
        assert_eq!(value(&hex("d9d9f7 01")), Value::Int(1));
        assert_eq!(
            value(&hex("82 d9d9f7 d9d9f7 01 02")),
            Value::Array(vec![1.into(), 2.into()])
        );
        // Unknown tags skip the message, and consume the tagged item.
        let (used, why) = unsupported(&hex("82 c1 82 01 02 03"));
        assert_eq!(used, 6);
        assert!(why.contains("tag 1"), "{why}");
        let (used, why) = unsupported(&hex("c1 c2 00"));
        assert_eq!(used, 3);
        assert!(
            why.contains("tag 2"),
            "the innermost is reported first: {why}"
        );
        assert!(incomplete(&hex("c1")));
        assert!(incomplete(&hex("d9d9")));
        // A long run of self-describe tags does not recurse.
        let mut wire = hex("d9d9f7").repeat(200_000);
        wire.push(0x07);
        assert_eq!(value(&wire), Value::Int(7));
    }

    #[test]
    fn nesting_limit() {
        let mut wire = vec![0x81; MAX_DEPTH];
        wire.push(0x01);
        ok(&wire);
        for deeper in [0x81, 0xa1, 0x9f, 0xc1] {
            let mut wire = vec![0x81; MAX_DEPTH];
            wire.extend([deeper, 0x01, 0x01]);
            assert!(corrupt(&wire, 1 << 20).contains("nesting"), "{deeper:02x}");
        }
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let wire = hex(concat!(
            "86 64706f7274 1b0000000100000000 f93c00",
            "9f 7f 6161 6162 ff 5f 4101 ff ff",
            "bf 01 fa3fc00000 ff d9d9f7 a1 f5 3903e7"
        ));
        let (_, used) = ok(&wire);
        assert_eq!(used, wire.len());
        for cut in 0..wire.len() {
            assert!(incomplete(&wire[..cut]), "cut at {cut}");
        }
    }

    #[test]
    fn encoded_messages_decode() {
        let body = vec![
            Value::Text("tag".into()),
            Value::Int(-70000),
            Value::UInt(u64::MAX),
            Value::Float(0.1),
            Value::Float(1.5),
            Value::Bytes(vec![1; 300]),
            Value::Text("é".repeat(100)),
            Value::Map(vec![(
                "k".into(),
                Value::Array(vec![Value::Null, true.into()]),
            )]),
        ];
        let mut wire = Vec::new();
        encode_array(Some("port"), &body, &mut wire).unwrap();
        let mut want = vec![Value::Text("port".into())];
        want.extend(body);
        assert_eq!(value(&wire), Value::Array(want));
    }
}
