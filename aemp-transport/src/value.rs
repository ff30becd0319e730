//! [`Value`]: one element of an AEMP message, faithful to both JSON and CBOR framing.

use std::fmt;

/// One value inside a message: what JSON and CBOR can both carry, plus byte strings (CBOR only).
///
/// Integers keep their full 64-bit range: [`Value::Int`] holds every value that fits an `i64`,
/// [`Value::UInt`] the values above `i64::MAX`. Decoders always produce the smallest form, and
/// equality compares integers by value, so `Value::UInt(5) == Value::Int(5)`.
///
/// Perl's CBOR encoder sends strings that were never UTF-8 decoded (string literals such as
/// message tags, and most hash keys) as CBOR *byte* strings. They arrive here as
/// [`Value::Bytes`], unchanged; every accessor that wants text ([`Value::as_str`],
/// [`Value::get`]) also accepts byte strings that hold valid UTF-8.
///
/// ```
/// use aemp_transport::Value;
/// let v = Value::from(vec![Value::from("tag"), Value::from(42), Value::Null]);
/// assert_eq!(v.as_array().unwrap()[0].as_str(), Some("tag"));
/// assert_eq!(Value::Bytes(b"tag".to_vec()).as_str(), Some("tag"));
/// ```
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// JSON `null`, CBOR null or undefined, Perl `undef`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer in `i64` range.
    Int(i64),
    /// An integer above `i64::MAX` (up to `u64::MAX`).
    UInt(u64),
    /// A 64-bit float.
    Float(f64),
    /// A text string.
    Text(String),
    /// A byte string (CBOR only: JSON framing refuses it with an error).
    Bytes(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map, in wire order. Keys are usually strings (Perl hashes have string keys).
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// The text of a [`Value::Text`], or of a [`Value::Bytes`] that is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The raw bytes of a string, text or byte string alike.
    pub fn as_string_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Text(s) => Some(s.as_bytes()),
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is an integer that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// The integer, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// The number as a float (integers converted).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text of a string as Perl sees it: a text string, a byte string holding UTF-8, or
    /// else a byte string read as Latin-1 (a Perl string of characters below 256 travels as
    /// such bytes: CBOR::XS sends hash keys like `"é"` as the single byte `0xE9`).
    ///
    /// ```
    /// use aemp_transport::Value;
    /// assert_eq!(Value::Bytes(vec![0xE9]).to_text().as_deref(), Some("é"));
    /// assert_eq!(Value::Bytes("é".as_bytes().to_vec()).to_text().as_deref(), Some("é"));
    /// ```
    pub fn to_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Value::Text(s) => Some(s.as_str().into()),
            Value::Bytes(b) => Some(match std::str::from_utf8(b) {
                Ok(s) => s.into(),
                Err(_) => b.iter().map(|&c| char::from(c)).collect::<String>().into(),
            }),
            _ => None,
        }
    }

    /// The value under a string key, if this is a map. Text keys, and byte-string keys as
    /// [`Value::to_text`] reads them, both match.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| {
                k.as_string_bytes() == Some(key.as_bytes()) || k.to_text().as_deref() == Some(key)
            })
            .map(|(_, v)| v)
    }

    /// A short name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::UInt(_) => "integer",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }
}

/// Integers compare by value across [`Value::Int`] and [`Value::UInt`]; maps compare as sets
/// of entries (Perl hashes have no order, so a map that went through a Perl node comes back
/// reordered); everything else compares structurally.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(_) | UInt(_), Int(_) | UInt(_)) => int128(self) == int128(other),
            (Float(a), Float(b)) => a == b,
            (Text(a), Text(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Map(a), Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2))
            }
            _ => false,
        }
    }
}

fn int128(v: &Value) -> i128 {
    match *v {
        Value::Int(i) => i128::from(i),
        Value::UInt(u) => i128::from(u),
        _ => 0,
    }
}

impl fmt::Display for Value {
    /// JSON-like text; byte strings are shown as `h'hex'` (CBOR diagnostic notation).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Text(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => write!(f, "{}", serde_json::Value::String(s.to_owned())),
                Err(_) => write!(f, "h'{}'", hex::encode(b)),
            },
            Value::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::Int(i64::from(v)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(v),
        }
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

impl From<Vec<(Value, Value)>> for Value {
    fn from(v: Vec<(Value, Value)>) -> Self {
        Value::Map(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<()> for Value {
    fn from(_: ()) -> Self {
        Value::Null
    }
}

/// Builds a message (a `Vec<Value>`) from anything convertible into [`Value`].
///
/// ```
/// use aemp_transport::{msg, Value};
/// let m = msg!["add", 1, 2.5, true, ()];
/// assert_eq!(m, vec![Value::from("add"), 1.into(), 2.5.into(), true.into(), Value::Null]);
/// ```
#[macro_export]
macro_rules! msg {
    () => { ::std::vec::Vec::<$crate::Value>::new() };
    ($($x:expr),+ $(,)?) => { ::std::vec![$($crate::Value::from($x)),+] };
}
