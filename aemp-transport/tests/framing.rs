//! The data phase framings: round trips, split and coalesced reads, and the exact bytes
//! Perl's CBOR::XS and JSON::XS produce.

use aemp_transport::{msg, Decoder, Encoder, Error, Framing, Value};

fn samples() -> Vec<Vec<Value>> {
    vec![
        msg![
            "port",
            "tag",
            1,
            "a 40-byte payload........................"
        ],
        msg!["", "devnull"],
        msg![""],
        msg![
            "p",
            i64::MIN,
            i64::MAX,
            u64::MAX,
            -1,
            0,
            23,
            24,
            255,
            256,
            65536,
            4294967296u64
        ],
        msg!["p", 0.5, -2.25, 1.0e300, 1.1, f64::MIN_POSITIVE, -0.0],
        msg![
            "p",
            true,
            false,
            Value::Null,
            "",
            "ünïcødé 🎉",
            "quote\" backslash\\ newline\n tab\t nul\u{0}"
        ],
        msg![
            "p",
            Value::Array(vec![]),
            Value::Map(vec![]),
            Value::Array(vec![Value::Array(vec![
                1.into(),
                Value::Map(vec![("k".into(), "v".into())])
            ])]),
            Value::Map(vec![
                ("a".into(), Value::Array(vec![Value::Null])),
                ("ü".into(), 3.into())
            ])
        ],
        vec![Value::from("long"), Value::Text("x".repeat(100_000))],
    ]
}

fn encode_all(framing: Framing, msgs: &[Vec<Value>]) -> Vec<u8> {
    let enc = Encoder::new(framing);
    let mut out = Vec::new();
    for m in msgs {
        enc.encode(m, &mut out).unwrap();
    }
    out
}

/// Feeds `wire` in pieces of `chunk` bytes, collecting every message.
fn decode_chunked(framing: Framing, wire: &[u8], chunk: usize) -> Vec<Vec<Value>> {
    let mut dec = Decoder::new(framing);
    let mut got = Vec::new();
    for piece in wire.chunks(chunk) {
        dec.extend(piece);
        while let Some(m) = dec.next_message().unwrap() {
            got.push(m);
        }
    }
    assert_eq!(dec.buffered(), 0, "everything consumed");
    got
}

#[test]
fn round_trip_coalesced_and_split_at_every_size() {
    for framing in [Framing::Cbor, Framing::Json] {
        let msgs = samples();
        let wire = encode_all(framing, &msgs);
        for chunk in [1, 2, 3, 7, 64, 1000, wire.len()] {
            assert_eq!(
                decode_chunked(framing, &wire, chunk),
                msgs,
                "{framing} in chunks of {chunk}"
            );
        }
    }
}

#[test]
fn bytes_travel_in_cbor_only() {
    let m = msg!["p", Value::Bytes(vec![0, 1, 255])];
    let wire = encode_all(Framing::Cbor, std::slice::from_ref(&m));
    assert_eq!(decode_chunked(Framing::Cbor, &wire, 1), vec![m.clone()]);

    let mut out = b"kept".to_vec();
    let err = Encoder::new(Framing::Json)
        .encode(&m, &mut out)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Encode {
                framing: Framing::Json,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("byte string"), "{err}");
    assert_eq!(out, b"kept", "a failed encode leaves the buffer as it was");
}

#[test]
fn json_refuses_what_it_cannot_carry() {
    let enc = Encoder::new(Framing::Json);
    for bad in [
        msg!["p", f64::NAN],
        msg!["p", f64::INFINITY],
        vec![Value::from("p"), Value::Map(vec![(1.into(), 2.into())])],
    ] {
        let mut out = Vec::new();
        assert!(
            matches!(enc.encode(&bad, &mut out), Err(Error::Encode { .. })),
            "{bad:?}"
        );
        assert!(out.is_empty());
    }
}

#[test]
fn json_as_perl_writes_it() {
    // JSON::XS output: no delimiters, whitespace tolerated, \u escapes, big integers.
    let wire = br#"["a",1,"d\u00e9",18446744073709551615]  ["b",{"k":[true,null]}]
["c",-1.5e-7]"#;
    let got = decode_chunked(Framing::Json, wire, 5);
    assert_eq!(
        got,
        vec![
            msg!["a", 1, "dé", u64::MAX],
            vec![
                "b".into(),
                Value::Map(vec![(
                    "k".into(),
                    Value::Array(vec![true.into(), Value::Null])
                )])
            ],
            msg!["c", -1.5e-7],
        ]
    );
}

#[test]
fn cbor_as_perl_writes_it() {
    // perl -MCBOR::XS -MJSON::XS -e 'my $j = JSON::XS::decode_json(q(["abc","d\u00e9",1.5,1.0,
    //   18446744073709551615,-9223372036854775808,true,null]));
    //   print unpack("H*", CBOR::XS::encode_cbor(["kil0", "x", 1, 0.5, 1.1, 1e300, undef, $j]))'
    // Every ASCII string travels as a byte string (only strings with non-ASCII characters
    // carry Perl's UTF-8 flag and become text); 0.5 and 1.5 travel as single floats.
    let wire = hex::decode(
        "88446b696c30417801fa3f000000fb3ff199999999999afb7e37e43c8800759cf688436162636364c3a9fa3fc00000011bffffffffffffffff542d39323233333732303336383534373735383038f5f6",
    )
    .unwrap();
    let got = decode_chunked(Framing::Cbor, &wire, 3);
    assert_eq!(
        got,
        vec![vec![
            Value::Bytes(b"kil0".to_vec()),
            Value::Bytes(b"x".to_vec()),
            1.into(),
            0.5.into(),
            1.1.into(),
            1e300.into(),
            Value::Null,
            Value::Array(vec![
                // JSON::XS leaves ASCII strings as bytes, so even these travel as byte strings.
                Value::Bytes(b"abc".to_vec()),
                "dé".into(),
                1.5.into(),
                1.into(),
                u64::MAX.into(),
                Value::Bytes(b"-9223372036854775808".to_vec()),
                true.into(),
                Value::Null,
            ]),
        ]]
    );
    assert_eq!(
        got[0][0].as_str(),
        Some("kil0"),
        "byte strings read as text where text is wanted"
    );
}

#[test]
fn cbor_half_floats_indefinite_lengths_and_self_describe() {
    // [1.0 (half), [_ 1, 2], (_ "ab", "c"), 55799("x")]
    let wire = hex::decode("84f93c009f0102ff7f6261626163ffd9d9f76178").unwrap();
    assert_eq!(
        decode_chunked(Framing::Cbor, &wire, 1),
        vec![vec![
            1.0.into(),
            Value::Array(vec![1.into(), 2.into()]),
            "abc".into(),
            "x".into()
        ]]
    );
}

#[test]
fn bad_messages_are_skipped_and_the_stream_goes_on() {
    // 42 (not an array), [tag 1(0)], [h'...' as text with invalid UTF-8], then a good message.
    let mut wire = hex::decode("182a").unwrap(); // 42
    wire.extend(hex::decode("81c100").unwrap()); // [1(0)]
    wire.extend(hex::decode("8161ff").unwrap()); // ["\xff"] (invalid UTF-8 text)
    wire.extend(hex::decode("813b8000000000000000").unwrap()); // [-1-2^63-... below i64]
    wire.extend(encode_all(Framing::Cbor, &[msg!["ok"]]));
    let mut dec = Decoder::new(Framing::Cbor);
    dec.extend(&wire);
    for what in ["must be an array", "tag 1", "UTF-8", "64-bit range"] {
        let err = dec.next_message().unwrap_err();
        assert!(!err.is_fatal(), "{err}");
        assert!(
            err.to_string().contains(what),
            "{err} should mention {what}"
        );
    }
    assert_eq!(dec.next_message().unwrap(), Some(msg!["ok"]));

    let mut dec = Decoder::new(Framing::Json);
    dec.extend(br#"{"a":1}"x"["ok"]"#);
    assert!(!dec.next_message().unwrap_err().is_fatal());
    assert!(!dec.next_message().unwrap_err().is_fatal());
    assert_eq!(dec.next_message().unwrap(), Some(msg!["ok"]));
}

#[test]
fn corrupt_streams_are_fatal_for_good() {
    for (framing, bytes) in [
        (Framing::Cbor, vec![0xff]),             // a lone break
        (Framing::Cbor, vec![0x1c]),             // reserved additional information
        (Framing::Cbor, vec![0x7f, 0x01, 0xff]), // an integer inside an indefinite text
        (Framing::Json, b"[1,]".to_vec()),
        (Framing::Json, b"]".to_vec()),
    ] {
        let mut dec = Decoder::new(framing);
        dec.extend(&bytes);
        let err = dec.next_message().unwrap_err();
        assert!(
            err.is_fatal() && matches!(err, Error::Decode { .. }),
            "{framing} {bytes:?}: {err:?}"
        );
        dec.extend(&encode_all(framing, &[msg!["ok"]]));
        assert!(
            dec.next_message().is_err(),
            "a corrupt stream stays corrupt"
        );
    }
}

#[test]
fn hostile_lengths_neither_allocate_nor_hang() {
    // An array that claims 2^63 elements, with none following: wait for more, allocate nothing.
    let mut dec = Decoder::with_limit(Framing::Cbor, 1024);
    dec.extend(&hex::decode("9b7fffffffffffffff").unwrap());
    assert_eq!(dec.next_message().unwrap(), None);
    // Elements keep arriving: once more than the limit is buffered, the stream is refused.
    dec.extend(&[0x01; 2000]);
    let err = dec.next_message().unwrap_err();
    assert!(err.is_fatal() && err.to_string().contains("limit"), "{err}");

    // A string longer than the limit is refused as soon as its header is read.
    let mut dec = Decoder::with_limit(Framing::Cbor, 1024);
    dec.extend(&hex::decode("817a00100000").unwrap());
    assert!(dec
        .next_message()
        .unwrap_err()
        .to_string()
        .contains("exceeds"));
}

#[test]
fn nesting_is_limited() {
    let mut wire = vec![0x81; 600];
    wire.push(0x01);
    let mut dec = Decoder::new(Framing::Cbor);
    dec.extend(&wire);
    assert!(dec
        .next_message()
        .unwrap_err()
        .to_string()
        .contains("nesting"));

    let mut deep = Value::Null;
    for _ in 0..600 {
        deep = Value::Array(vec![deep]);
    }
    for framing in [Framing::Cbor, Framing::Json] {
        let err = Encoder::new(framing)
            .encode(&[deep.clone()], &mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("nesting"), "{err}");
    }
}

#[test]
fn values_compare_by_meaning() {
    assert_eq!(Value::UInt(5), Value::Int(5));
    assert_eq!(
        Value::Map(vec![("a".into(), 1.into()), ("b".into(), 2.into())]),
        Value::Map(vec![("b".into(), 2.into()), ("a".into(), 1.into())])
    );
    assert_ne!(Value::Text("a".into()), Value::Bytes(b"a".to_vec()));
    assert_eq!(Value::Bytes(b"a".to_vec()).as_str(), Some("a"));
    let m = Value::Map(vec![(Value::Bytes(b"key".to_vec()), 7.into())]);
    assert_eq!(m.get("key"), Some(&Value::Int(7)));
}
