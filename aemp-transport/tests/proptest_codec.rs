//! Properties: decoders and the greeting parser never panic on arbitrary input, and every
//! value a framing can carry comes back exactly, however the bytes are split.

use aemp_transport::{Decoder, Encoder, Framing, Greeting, Value};
use proptest::prelude::*;

fn value(json_safe: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".*".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(move |b| if json_safe {
            Value::Text(hex::encode(b))
        } else {
            Value::Bytes(b)
        }),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((".*".prop_map(Value::Text), inner), 0..8)
                .prop_map(Value::Map),
        ]
    })
}

fn drain(dec: &mut Decoder) {
    loop {
        match dec.next_message() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) if e.is_fatal() => break,
            Err(_) => {}
        }
    }
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
        for framing in [Framing::Cbor, Framing::Json] {
            let mut dec = Decoder::with_limit(framing, 256);
            let split = split.min(bytes.len());
            dec.extend(&bytes[..split]);
            drain(&mut dec);
            dec.extend(&bytes[split..]);
            drain(&mut dec);
        }
    }

    #[test]
    fn greeting_parser_never_panics(line in ".*") {
        if let Ok(g) = Greeting::parse(&line) {
            let _ = g.to_line();
        }
    }

    #[test]
    fn greetings_round_trip(node in "[a-z/0-9]{1,12}", keys in proptest::collection::vec(("[a-z]{1,6}", proptest::option::of("[ -~]{0,12}")), 0..5)) {
        let g = Greeting {
            protocol: "aemp".into(),
            version: "1".into(),
            node_id: node,
            auths: vec!["hmac_sha3_512".into()],
            framings: vec!["cbor".into(), "json".into()],
            keys,
        };
        prop_assert_eq!(Greeting::parse(&g.to_line()).unwrap(), g);
    }

    #[test]
    fn cbor_round_trips_exactly(msg in proptest::collection::vec(value(false), 0..6), split in any::<prop::sample::Index>()) {
        round_trip(Framing::Cbor, msg, split)?;
    }

    #[test]
    fn json_round_trips_exactly(msg in proptest::collection::vec(value(true), 0..6), split in any::<prop::sample::Index>()) {
        round_trip(Framing::Json, msg, split)?;
    }
}

fn round_trip(
    framing: Framing,
    msg: Vec<Value>,
    split: prop::sample::Index,
) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    Encoder::new(framing).encode(&msg, &mut wire).unwrap();
    Encoder::new(framing).encode(&msg, &mut wire).unwrap();
    let at = split.index(wire.len() + 1);
    let mut dec = Decoder::new(framing);
    let mut got = Vec::new();
    for piece in [&wire[..at], &wire[at..]] {
        dec.extend(piece);
        while let Some(m) = dec.next_message().unwrap() {
            got.push(m);
        }
    }
    prop_assert_eq!(got, vec![msg.clone(), msg]);
    Ok(())
}

proptest! {
    /// Byte by byte and in small chunks: the resumable scanners must agree with the decoder.
    #[test]
    fn small_chunks_decode_exactly(msg in proptest::collection::vec(value(false), 0..6), chunk in 1usize..9) {
        for framing in [Framing::Cbor, Framing::Json] {
            let msg: Vec<Value> = if framing == Framing::Json {
                msg.iter().map(json_safe).collect()
            } else {
                msg.clone()
            };
            let mut wire = Vec::new();
            for _ in 0..3 {
                Encoder::new(framing).encode(&msg, &mut wire).unwrap();
            }
            let mut dec = Decoder::new(framing);
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                dec.extend(piece);
                while let Some(m) = dec.next_message().unwrap() {
                    got.push(m);
                }
            }
            prop_assert_eq!(got, vec![msg.clone(), msg.clone(), msg]);
        }
    }
}

fn json_safe(v: &Value) -> Value {
    match v {
        Value::Bytes(b) => Value::Text(hex::encode(b)),
        Value::Array(a) => Value::Array(a.iter().map(json_safe).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (json_safe(k), json_safe(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

proptest! {
    /// Undecoded messages: the destination read off the wire and the body decoded later are
    /// exactly what was sent, in both framings, however the bytes are split.
    #[test]
    fn raw_messages_route_and_decode_exactly(dest in ".*", body in proptest::collection::vec(value(false), 0..6), chunk in 1usize..64) {
        for framing in [Framing::Cbor, Framing::Json] {
            let body: Vec<Value> = if framing == Framing::Json {
                body.iter().map(json_safe).collect()
            } else {
                body.clone()
            };
            let mut wire = Vec::new();
            for _ in 0..2 {
                Encoder::new(framing).encode_message(&dest, &body, &mut wire).unwrap();
            }
            let mut dec = Decoder::new(framing);
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                dec.extend(piece);
                while let Some(raw) = dec.next_raw().unwrap() {
                    // JSON escapes some names: those are found by decoding the whole message.
                    let name = match raw.dest() {
                        Some(d) => d.to_owned(),
                        None => raw.decode().unwrap()[0].as_str().unwrap().to_owned(),
                    };
                    got.push((name, raw.decode_body().unwrap()));
                }
            }
            prop_assert_eq!(got, vec![(dest.clone(), body.clone()), (dest.clone(), body)]);
        }
    }
}
