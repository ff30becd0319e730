//! Tests of the CBOR codec: CBOR::XS bytes, limits, malformed input.

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
