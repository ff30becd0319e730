//! The serde bridge: `to_value` shapes, `from_value` round trips, the leniencies for values from
//! Perl nodes, and error messages.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use aemp_transport::{from_value, to_value, Value, ValueError};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A byte buffer that serializes with `serialize_bytes` (serde_bytes is not a dependency).
#[derive(Debug, Clone, PartialEq)]
struct ByteBuf(Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pair(i32, String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(u32, u32),
    Poly {
        points: Vec<(i16, i16)>,
        closed: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    tags: Vec<String>,
    maybe: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rich {
    flag: bool,
    small: i8,
    big: u64,
    neg: i64,
    wide: u128,
    ratio: f64,
    single: f32,
    letter: char,
    text: String,
    blob: ByteBuf,
    raw: Vec<u8>,
    none: Option<String>,
    some: Option<Inner>,
    shapes: Vec<Shape>,
    by_name: HashMap<String, Inner>,
    sorted: BTreeMap<i32, Vec<bool>>,
    tuple: (u8, String, Option<i8>),
    unit: (),
    unit_struct: Unit,
    newtype: Meters,
    pair: Pair,
    nested: Vec<Vec<Option<Shape>>>,
}

fn rich() -> Rich {
    let inner = Inner {
        name: "ïnner".into(),
        tags: vec!["a".into(), "".into()],
        maybe: Some(255),
    };
    Rich {
        flag: true,
        small: -128,
        big: u64::MAX,
        neg: i64::MIN,
        wide: u128::from(u64::MAX),
        ratio: -1.5e-300,
        single: 0.25,
        letter: 'é',
        text: "hello\0world ✓".into(),
        blob: ByteBuf(vec![0, 0xff, 0x80]),
        raw: vec![1, 2, 3],
        none: None,
        some: Some(inner.clone()),
        shapes: vec![
            Shape::Empty,
            Shape::Circle(2.5),
            Shape::Rect(3, 4),
            Shape::Poly {
                points: vec![(0, 0), (-1, 7)],
                closed: false,
            },
        ],
        by_name: HashMap::from([("x".to_owned(), inner.clone()), ("y".to_owned(), inner)]),
        sorted: BTreeMap::from([(-3, vec![true]), (10, vec![])]),
        tuple: (9, "nine".into(), Some(-1)),
        unit: (),
        unit_struct: Unit,
        newtype: Meters(1.0),
        pair: Pair(-7, "seven".into()),
        nested: vec![vec![None, Some(Shape::Circle(0.0))], vec![]],
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(v: &T) {
    let value = to_value(v).unwrap();
    let back: T = from_value(value.clone()).unwrap_or_else(|e| panic!("{e} in {value}"));
    assert_eq!(&back, v);
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn b(s: &[u8]) -> Value {
    Value::Bytes(s.to_vec())
}

fn err<T: DeserializeOwned + fmt::Debug>(v: Value) -> String {
    from_value::<T>(v).unwrap_err().to_string()
}

// ---- round trips ------------------------------------------------------------------------------

#[test]
fn rich_struct_round_trips() {
    round_trip(&rich());
}

#[test]
fn every_enum_variant_kind_round_trips() {
    for s in rich().shapes {
        round_trip(&s);
    }
}

#[test]
fn primitives_round_trip() {
    round_trip(&u64::MAX);
    round_trip(&i64::MIN);
    round_trip(&i64::MAX);
    round_trip(&(i64::MAX as u64 + 1));
    round_trip(&u128::from(u64::MAX));
    round_trip(&i128::from(i64::MIN));
    round_trip(&f64::MAX);
    round_trip(&f64::MIN_POSITIVE);
    round_trip(&'\u{10FFFF}');
    round_trip(&String::new());
    round_trip(&Some(Some(3u8)));
    round_trip(&Option::<u8>::None);
    round_trip(&());
    round_trip(&ByteBuf(vec![]));
    round_trip(&vec![(1u8, 'x'), (2, 'y')]);
    round_trip(&[1u16, 2, 3]);
}

#[test]
fn maps_with_non_string_keys_round_trip() {
    round_trip(&BTreeMap::from([
        ((1u8, 2u8), "a".to_owned()),
        ((3, 4), "b".into()),
    ]));
    #[derive(Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    enum Key {
        A,
        B(u8),
    }
    round_trip(&HashMap::from([(Key::A, 1), (Key::B(2), 2)]));
    round_trip(&HashMap::from([(Some(true), ()), (None, ())]));
}

// ---- shapes -----------------------------------------------------------------------------------

#[test]
fn struct_becomes_map_with_text_keys_in_declaration_order() {
    let v = to_value(&Inner {
        name: "n".into(),
        tags: vec![],
        maybe: None,
    })
    .unwrap();
    match &v {
        Value::Map(entries) => {
            let keys: Vec<_> = entries.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(keys, vec![t("name"), t("tags"), t("maybe")]);
            assert!(entries.iter().all(|(k, _)| matches!(k, Value::Text(_))));
            assert!(matches!(entries[0].1, Value::Text(ref s) if s == "n"));
            assert!(matches!(entries[1].1, Value::Array(ref a) if a.is_empty()));
            assert!(matches!(entries[2].1, Value::Null));
        }
        other => panic!("not a map: {other:?}"),
    }
}

#[test]
fn enum_shapes_are_externally_tagged() {
    assert!(matches!(to_value(&Shape::Empty).unwrap(), Value::Text(s) if s == "Empty"));
    assert_eq!(
        format!("{:?}", to_value(&Shape::Circle(1.5)).unwrap()),
        format!("{:?}", Value::Map(vec![(t("Circle"), Value::Float(1.5))]))
    );
    assert_eq!(
        format!("{:?}", to_value(&Shape::Rect(1, 2)).unwrap()),
        format!(
            "{:?}",
            Value::Map(vec![(
                t("Rect"),
                Value::Array(vec![Value::Int(1), Value::Int(2)])
            )])
        )
    );
    let poly = Shape::Poly {
        points: vec![(1, 2)],
        closed: true,
    };
    assert_eq!(
        format!("{:?}", to_value(&poly).unwrap()),
        format!(
            "{:?}",
            Value::Map(vec![(
                t("Poly"),
                Value::Map(vec![
                    (
                        t("points"),
                        Value::Array(vec![Value::Array(vec![Value::Int(1), Value::Int(2)])])
                    ),
                    (t("closed"), Value::Bool(true)),
                ])
            )])
        )
    );
}

#[test]
fn scalar_shapes() {
    let dbg = |v: Value| format!("{v:?}");
    assert_eq!(
        dbg(to_value(&u64::MAX).unwrap()),
        dbg(Value::UInt(u64::MAX))
    );
    assert_eq!(dbg(to_value(&5u64).unwrap()), dbg(Value::Int(5)));
    assert_eq!(dbg(to_value(&5u128).unwrap()), dbg(Value::Int(5)));
    assert_eq!(dbg(to_value(&-5i128).unwrap()), dbg(Value::Int(-5)));
    assert_eq!(
        dbg(to_value(&u128::from(u64::MAX)).unwrap()),
        dbg(Value::UInt(u64::MAX))
    );
    assert_eq!(dbg(to_value(&i64::MIN).unwrap()), dbg(Value::Int(i64::MIN)));
    assert_eq!(dbg(to_value(&0.5f32).unwrap()), dbg(Value::Float(0.5)));
    assert_eq!(dbg(to_value(&'x').unwrap()), dbg(t("x")));
    assert_eq!(dbg(to_value("s").unwrap()), dbg(t("s")));
    assert_eq!(dbg(to_value(&ByteBuf(vec![1])).unwrap()), dbg(b(&[1])));
    assert_eq!(
        dbg(to_value(&vec![1u8]).unwrap()),
        dbg(Value::Array(vec![Value::Int(1)]))
    );
    assert_eq!(dbg(to_value(&None::<u8>).unwrap()), dbg(Value::Null));
    assert_eq!(dbg(to_value(&Some(1u8)).unwrap()), dbg(Value::Int(1)));
    assert_eq!(dbg(to_value(&()).unwrap()), dbg(Value::Null));
    assert_eq!(dbg(to_value(&Unit).unwrap()), dbg(Value::Null));
    assert_eq!(dbg(to_value(&Meters(2.0)).unwrap()), dbg(Value::Float(2.0)));
    assert_eq!(
        dbg(to_value(&Pair(1, "a".into())).unwrap()),
        dbg(Value::Array(vec![Value::Int(1), t("a")]))
    );
    assert_eq!(
        dbg(to_value(&(1u8, true)).unwrap()),
        dbg(Value::Array(vec![Value::Int(1), Value::Bool(true)]))
    );
    assert_eq!(
        dbg(to_value(&BTreeMap::from([(2u8, 'b')])).unwrap()),
        dbg(Value::Map(vec![(Value::Int(2), t("b"))]))
    );
}

#[test]
fn serializing_out_of_range_integers_fails() {
    assert_eq!(
        to_value(&u128::MAX).unwrap_err().to_string(),
        format!("integer {} is outside the 64-bit range", u128::MAX)
    );
    assert_eq!(
        to_value(&(i128::from(i64::MIN) - 1))
            .unwrap_err()
            .to_string(),
        "integer -9223372036854775809 is outside the 64-bit range"
    );
    assert!(to_value(&(u128::from(u64::MAX) + 1)).is_err());
}

// ---- leniencies -------------------------------------------------------------------------------

#[test]
fn strings_accept_byte_strings() {
    assert_eq!(from_value::<String>(b(b"tag")).unwrap(), "tag");
    assert_eq!(from_value::<String>(b("é".as_bytes())).unwrap(), "é");
    // Latin-1: Perl sends the character é as the single byte 0xE9
    assert_eq!(from_value::<String>(b(&[0xE9])).unwrap(), "é");
    assert_eq!(from_value::<char>(b(&[0xE9])).unwrap(), 'é');
    assert_eq!(from_value::<char>(b(b"x")).unwrap(), 'x');
}

#[test]
fn struct_fields_and_variants_accept_byte_string_names() {
    let v = Value::Map(vec![
        (b(b"name"), b(b"n")),
        (b(b"tags"), Value::Array(vec![b(b"t")])),
        (b(b"maybe"), t("7")),
    ]);
    assert_eq!(
        from_value::<Inner>(v).unwrap(),
        Inner {
            name: "n".into(),
            tags: vec!["t".into()],
            maybe: Some(7)
        }
    );
    assert_eq!(from_value::<Shape>(b(b"Empty")).unwrap(), Shape::Empty);
    assert_eq!(
        from_value::<Shape>(Value::Map(vec![(b(b"Circle"), Value::Int(2))])).unwrap(),
        Shape::Circle(2.0)
    );
    let m: HashMap<String, u8> = from_value(Value::Map(vec![(b(&[0xE9]), Value::Int(1))])).unwrap();
    assert_eq!(m, HashMap::from([("é".to_owned(), 1)]));
}

#[test]
fn booleans_accept_perl_truth_values() {
    assert!(from_value::<bool>(Value::Int(1)).unwrap());
    assert!(!from_value::<bool>(Value::Int(0)).unwrap());
    assert!(from_value::<bool>(t("1")).unwrap());
    assert!(from_value::<bool>(b(b"1")).unwrap());
    assert!(!from_value::<bool>(t("0")).unwrap());
    assert!(!from_value::<bool>(b(b"")).unwrap());
    assert!(from_value::<bool>(Value::Bool(true)).unwrap());
    assert_eq!(
        err::<bool>(Value::Int(2)),
        "invalid value: integer `2`, expected a boolean"
    );
    assert_eq!(
        err::<bool>(t("yes")),
        "invalid value: string \"yes\", expected a boolean"
    );
    assert_eq!(
        err::<bool>(Value::Null),
        "invalid type: unit value, expected a boolean"
    );
}

#[test]
fn integers_accept_integral_floats_and_numeric_strings() {
    assert_eq!(from_value::<i32>(Value::Float(3.0)).unwrap(), 3);
    assert_eq!(from_value::<i32>(Value::Float(-3.0)).unwrap(), -3);
    assert_eq!(from_value::<u16>(t("42")).unwrap(), 42);
    assert_eq!(from_value::<u16>(b(b"42")).unwrap(), 42);
    assert_eq!(
        from_value::<i64>(t("-9223372036854775808")).unwrap(),
        i64::MIN
    );
    assert_eq!(
        from_value::<u64>(t("18446744073709551615")).unwrap(),
        u64::MAX
    );
    assert_eq!(from_value::<u64>(Value::UInt(u64::MAX)).unwrap(), u64::MAX);
    assert_eq!(
        from_value::<i128>(Value::UInt(u64::MAX)).unwrap(),
        18446744073709551615
    );
    assert_eq!(from_value::<u128>(Value::Int(5)).unwrap(), 5);
    assert_eq!(
        err::<i32>(Value::Float(3.5)),
        "invalid type: floating point `3.5`, expected i32"
    );
    assert_eq!(
        err::<u16>(t("4x")),
        "invalid type: string \"4x\", expected u16"
    );
    assert_eq!(
        err::<u16>(t("70000")),
        "invalid value: string \"70000\", expected u16"
    );
    assert_eq!(
        err::<u8>(Value::Float(256.0)),
        "invalid value: floating point `256.0`, expected u8"
    );
    assert!(from_value::<i64>(Value::Float(f64::INFINITY)).is_err());
    assert!(from_value::<i64>(Value::Float(f64::NAN)).is_err());
}

#[test]
fn map_keys_parse_as_integers() {
    let m: BTreeMap<u32, String> =
        from_value(Value::Map(vec![(b(b"10"), t("x")), (t("2"), b(b"y"))])).unwrap();
    assert_eq!(m, BTreeMap::from([(2, "y".into()), (10, "x".into())]));
}

#[test]
fn floats_accept_integers_and_numeric_strings() {
    assert_eq!(from_value::<f64>(Value::Int(-3)).unwrap(), -3.0);
    assert_eq!(
        from_value::<f64>(Value::UInt(u64::MAX)).unwrap(),
        u64::MAX as f64
    );
    assert_eq!(from_value::<f64>(t("2.5")).unwrap(), 2.5);
    assert_eq!(from_value::<f32>(b(b"1e3")).unwrap(), 1000.0);
    assert_eq!(
        err::<f64>(t("abc")),
        "invalid type: string \"abc\", expected f64"
    );
}

#[test]
fn bytes_accept_text_and_byte_sequences_accept_bytes() {
    assert_eq!(
        from_value::<ByteBuf>(t("é")).unwrap(),
        ByteBuf(vec![0xC3, 0xA9])
    );
    assert_eq!(
        from_value::<ByteBuf>(b(&[0xE9])).unwrap(),
        ByteBuf(vec![0xE9])
    );
    assert_eq!(from_value::<Vec<u8>>(b(&[0, 255])).unwrap(), vec![0, 255]);
    assert_eq!(from_value::<[u8; 2]>(b(&[7, 8])).unwrap(), [7, 8]);
    assert_eq!(
        err::<ByteBuf>(Value::Int(1)),
        "invalid type: integer `1`, expected bytes"
    );
}

#[test]
fn structs_accept_arrays_positionally() {
    let v = Value::Array(vec![t("n"), Value::Array(vec![]), Value::Null]);
    assert_eq!(
        from_value::<Inner>(v).unwrap(),
        Inner {
            name: "n".into(),
            tags: vec![],
            maybe: None
        }
    );
    assert_eq!(
        err::<Inner>(Value::Array(vec![t("n")])),
        "invalid length 1, expected struct Inner with 3 elements"
    );
    assert_eq!(
        err::<Inner>(Value::Array(vec![
            t("n"),
            Value::Array(vec![]),
            Value::Null,
            Value::Null
        ])),
        "invalid length 4, expected 3 elements in sequence"
    );
}

#[test]
fn some_of_null_reads_back_as_none() {
    // Some(x) is just x, as in serde_json: a Some whose content is Null cannot be told apart.
    assert!(matches!(to_value(&Some(())).unwrap(), Value::Null));
    assert_eq!(
        from_value::<Option<()>>(to_value(&Some(())).unwrap()).unwrap(),
        None
    );
    assert_eq!(
        from_value::<Option<Option<u8>>>(to_value(&Some(None::<u8>)).unwrap()).unwrap(),
        None
    );
}

#[test]
fn unit_variant_accepts_null_content() {
    assert_eq!(
        from_value::<Shape>(Value::Map(vec![(t("Empty"), Value::Null)])).unwrap(),
        Shape::Empty
    );
}

#[test]
fn value_deserializes_as_itself() {
    let v = Value::Map(vec![(
        b(&[0xE9]),
        Value::Array(vec![Value::UInt(u64::MAX), t("x")]),
    )]);
    let back: Value = from_value(v.clone()).unwrap();
    assert_eq!(format!("{back:?}"), format!("{v:?}"));
}

// ---- errors -----------------------------------------------------------------------------------

#[test]
fn errors_name_what_was_wrong() {
    assert_eq!(
        err::<String>(Value::Int(5)),
        "invalid type: integer `5`, expected a string"
    );
    assert_eq!(
        err::<u8>(Value::Int(300)),
        "invalid value: integer `300`, expected u8"
    );
    assert_eq!(
        err::<i8>(Value::Int(-129)),
        "invalid value: integer `-129`, expected i8"
    );
    assert_eq!(
        err::<u32>(Value::Int(-1)),
        "invalid value: integer `-1`, expected u32"
    );
    assert_eq!(
        err::<i64>(Value::UInt(u64::MAX)),
        "invalid value: integer `18446744073709551615`, expected i64"
    );
    assert_eq!(
        err::<Vec<u8>>(t("x")),
        "invalid type: string \"x\", expected a sequence"
    );
    assert_eq!(
        err::<HashMap<String, u8>>(Value::Array(vec![])),
        "invalid type: sequence, expected a map"
    );
    assert_eq!(
        err::<()>(Value::Array(vec![])),
        "invalid type: sequence, expected unit"
    );
    assert_eq!(
        err::<Inner>(Value::Map(vec![(t("name"), t("n"))])),
        "missing field `tags`"
    );
    assert_eq!(
        err::<Inner>(Value::Map(vec![
            (t("name"), t("n")),
            (t("tags"), Value::Array(vec![Value::Int(1)])),
            (t("maybe"), Value::Null),
        ])),
        "invalid type: integer `1`, expected a string"
    );
    assert_eq!(
        err::<Shape>(t("Hexagon")),
        "unknown variant `Hexagon`, expected one of `Empty`, `Circle`, `Rect`, `Poly`"
    );
    assert_eq!(
        err::<Shape>(Value::Map(vec![
            (t("Empty"), Value::Null),
            (t("Circle"), Value::Null)
        ])),
        "invalid value: map, expected a map with a single key (an enum variant)"
    );
    assert_eq!(
        err::<Shape>(t("Circle")),
        "invalid type: unit variant, expected newtype variant"
    );
    assert_eq!(
        err::<Shape>(Value::Int(1)),
        "invalid type: integer `1`, expected enum Shape"
    );
    assert_eq!(
        err::<Shape>(Value::Map(vec![(
            t("Rect"),
            Value::Array(vec![Value::Int(1)])
        )])),
        "invalid length 1, expected tuple variant Shape::Rect with 2 elements"
    );
    assert_eq!(
        err::<i32>(b(&[0xff, 0x00])),
        "invalid type: byte array, expected i32"
    );
}

#[test]
fn value_error_is_a_std_error() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let e: ValueError = from_value::<u8>(Value::Null).unwrap_err();
    assert_error(&e);
    assert_eq!(e.to_string(), "invalid type: unit value, expected u8");
}

// ---- property: every Value survives to_value/from_value exactly -------------------------------

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Value::Float),
        ".*".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(Value::Map),
        ]
    })
}

proptest! {
    #[test]
    fn values_round_trip_exactly(v in any_value()) {
        let serialized = to_value(&v).unwrap();
        // Debug is stricter than ==: it sees Int vs UInt, Text vs Bytes, map order, -0.0.
        prop_assert_eq!(format!("{serialized:?}"), format!("{v:?}"));
        let back: Value = from_value(serialized).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(format!("{back:?}"), format!("{v:?}"));
    }
}
