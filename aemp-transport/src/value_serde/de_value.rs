//! Deserializing: [`Value`] → Rust.
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, Expected, IntoDeserializer, Unexpected,
    VariantAccess, Visitor,
};

use super::ValueError;
use crate::Value;

/// Converts a [`Value`] into any deserializable type: the inverse of [`to_value`](crate::to_value), and lenient
/// where values from Perl nodes are loose.
///
/// Perl's CBOR encoder sends most strings (every string never UTF-8 decoded, and most hash
/// keys) as byte strings, Perl has no booleans, and Perl scalars are numbers or strings as
/// their last use made them. So, besides the exact inverse of [`to_value`](crate::to_value):
///
/// - **strings** (`String`, `&str`-like visitors, `char`, struct field and enum variant names)
///   accept [`Value::Bytes`]: UTF-8 if valid, else read as Latin-1 (as [`Value::to_text`]);
/// - **byte buffers** (`deserialize_bytes`/`deserialize_byte_buf`) accept [`Value::Text`] as
///   its UTF-8 bytes, and **sequences and tuples** (e.g. `Vec<u8>`, `[u8; 4]`) accept
///   [`Value::Bytes`] as a sequence of `u8`;
/// - **booleans** accept the integers `0`/`1` and the strings `""`/`"0"` (false) and `"1"`
///   (true), Perl's usual false and true values; anything else is an error;
/// - **integers** accept an integral in-range [`Value::Float`] (Perl's JSON may give `3.0`)
///   and a string that parses as a decimal integer (`"42"`: Perl stringifies numbers);
///   out-of-range values are errors, never truncated;
/// - **floats** accept integers and strings that parse as a number;
/// - **structs** accept a map (by field name) or an array (fields in declaration order);
/// - **enums** accept a string (unit variant) or a map with exactly one entry (variant name →
///   content); a unit variant also accepts `{"A": null}`.
///
/// `Option` maps [`Value::Null`] to `None` and anything else to `Some`; `()` and unit structs
/// want [`Value::Null`]. Types that go through `deserialize_any` (`#[serde(untagged)]`,
/// `#[serde(flatten)]`, internally tagged enums, and [`Value`] itself) get the value as it is,
/// only as lenient as serde's buffering makes them.
///
/// ```
/// use aemp_transport::{from_value, Value};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// struct Job { name: String, prio: u8, urgent: bool }
///
/// // as a Perl node sends { name => "backup", prio => 3, urgent => 1 }
/// let v = Value::Map(vec![
///     (Value::Bytes(b"name".to_vec()), Value::Bytes(b"backup".to_vec())),
///     (Value::Bytes(b"prio".to_vec()), Value::Text("3".into())),
///     (Value::Bytes(b"urgent".to_vec()), Value::Int(1)),
/// ]);
/// let job: Job = from_value(v).unwrap();
/// assert_eq!(job, Job { name: "backup".into(), prio: 3, urgent: true });
///
/// let err = from_value::<u8>(Value::Int(300)).unwrap_err();
/// assert_eq!(err.to_string(), "invalid value: integer `300`, expected u8");
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

impl Value {
    /// What serde error messages call this value.
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(i) => Unexpected::Signed(*i),
            Value::UInt(u) => Unexpected::Unsigned(*u),
            Value::Float(f) => Unexpected::Float(*f),
            Value::Text(s) => Unexpected::Str(s),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => Unexpected::Str(s),
                Err(_) => Unexpected::Bytes(b),
            },
            Value::Array(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }

    fn invalid_type(&self, exp: &dyn Expected) -> ValueError {
        de::Error::invalid_type(self.unexpected(), exp)
    }

    fn invalid_value(&self, exp: &dyn Expected) -> ValueError {
        de::Error::invalid_value(self.unexpected(), exp)
    }

    /// The integer this value stands for, leniently: integers, integral floats, and strings
    /// that parse as an integer.
    fn lenient_integer(&self) -> Option<i128> {
        const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0; // 2^127
        match self {
            Value::Int(i) => Some(i128::from(*i)),
            Value::UInt(u) => Some(i128::from(*u)),
            Value::Float(f) if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f) => Some(*f as i128),
            Value::Text(_) | Value::Bytes(_) => self.as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// The float this value stands for, leniently: numbers, and strings that parse as one.
    fn lenient_float(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::UInt(u) => Some(*u as f64),
            Value::Float(f) => Some(*f),
            Value::Text(_) | Value::Bytes(_) => self.as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// The text of a text or byte string, taking ownership (no copy when possible).
    fn into_text(self) -> Result<String, Value> {
        match self {
            Value::Text(s) => Ok(s),
            Value::Bytes(b) => Ok(match String::from_utf8(b) {
                Ok(s) => s,
                Err(e) => e.into_bytes().into_iter().map(char::from).collect(),
            }),
            other => Err(other),
        }
    }
}

fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let mut seq = SeqDeserializer::new(items.into_iter());
    let value = visitor.visit_seq(&mut seq)?;
    seq.end()?;
    Ok(value)
}

fn visit_byte_seq<'de, V: Visitor<'de>>(
    bytes: Vec<u8>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let mut seq = SeqDeserializer::new(bytes.into_iter());
    let value = visitor.visit_seq(&mut seq)?;
    seq.end()?;
    Ok(value)
}

fn visit_map<'de, V: Visitor<'de>>(
    entries: Vec<(Value, Value)>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let mut map = MapDeserializer::new(entries.into_iter());
    let value = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(value)
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident($ty:ty)),* $(,)?) => {$(
        /// Integers, integral in-range floats (`3.0`), and strings holding a decimal
        /// integer (`"42"`); out of range is an error.
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            // The usual case first, without the lenient detour through `i128`.
            #[allow(irrefutable_let_patterns)] // (for `i64` and `i128`)
            if let Value::Int(i) = self {
                if let Ok(n) = <$ty>::try_from(i) {
                    // (An integer owns nothing: forgotten, it needs no drop glue.)
                    std::mem::forget(self);
                    return visitor.$visit(n);
                }
            }
            match self.lenient_integer() {
                Some(n) => match <$ty>::try_from(n) {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(self.invalid_value(&visitor)),
                },
                None => Err(self.invalid_type(&visitor)),
            }
        }
    )*};
}

/// A [`Value`] deserializes into any Rust type, by value; [`from_value`] is the usual way in,
/// and its documentation lists what is accepted beyond the exact inverse of [`to_value`](crate::to_value).
impl<'de> de::Deserializer<'de> for Value {
    type Error = ValueError;

    /// Hands the value to the visitor as it is: `Null` as unit, non-negative integers as
    /// `u64` and negative ones as `i64` (as serde_json does), `Text` as a string, `Bytes` as
    /// a byte buffer, `Array` as a sequence and `Map` as a map.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => match u64::try_from(i) {
                Ok(u) => visitor.visit_u64(u),
                Err(_) => visitor.visit_i64(i),
            },
            Value::UInt(u) => visitor.visit_u64(u),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Text(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Array(a) => visit_array(a, visitor),
            Value::Map(m) => visit_map(m, visitor),
        }
    }

    /// `Bool`; the integers `0` and `1`; the strings `""` and `"0"` (false) and `"1"` (true).
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        let b = match &self {
            Value::Bool(b) => Some(*b),
            Value::Int(_) | Value::UInt(_) => match self.as_i64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => return Err(self.invalid_value(&visitor)),
            },
            Value::Text(_) | Value::Bytes(_) => match self.as_string_bytes() {
                Some(b"" | b"0") => Some(false),
                Some(b"1") => Some(true),
                _ => return Err(self.invalid_value(&visitor)),
            },
            _ => None,
        };
        match b {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.invalid_type(&visitor)),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    /// Numbers, and strings that parse as a number.
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.lenient_float() {
            Some(f) => visitor.visit_f32(f as f32),
            None => Err(self.invalid_type(&visitor)),
        }
    }

    /// Numbers, and strings that parse as a number.
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.lenient_float() {
            Some(f) => visitor.visit_f64(f),
            None => Err(self.invalid_type(&visitor)),
        }
    }

    /// A text or byte string (UTF-8, else Latin-1) holding one character.
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    /// A text or byte string (UTF-8, else Latin-1).
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    /// A text or byte string (UTF-8, else Latin-1).
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.into_text() {
            Ok(s) => visitor.visit_string(s),
            Err(other) => Err(other.invalid_type(&visitor)),
        }
    }

    /// A byte string, or a text string as its UTF-8 bytes.
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_byte_buf(visitor)
    }

    /// A byte string, or a text string as its UTF-8 bytes.
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Text(s) => visitor.visit_byte_buf(s.into_bytes()),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    /// `Null` is `None`, anything else `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    /// Only `Null`.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    /// Only `Null`.
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    /// The inner value, transparently.
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    /// An array, or a byte string as a sequence of `u8`.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Array(a) => visit_array(a, visitor),
            Value::Bytes(b) => visit_byte_seq(b, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    /// An array, or a byte string as a sequence of `u8`.
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    /// An array, or a byte string as a sequence of `u8`.
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    /// Only a map.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Map(m) => visit_map(m, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    /// A map by field name, or an array with the fields in declaration order.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Map(m) => visit_map(m, visitor),
            Value::Array(a) => visit_array(a, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    /// A text or byte string (a unit variant), or a map with exactly one entry (variant name
    /// → content).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Text(_) | Value::Bytes(_) => visitor.visit_enum(EnumDeserializer {
                variant: self,
                content: None,
            }),
            Value::Map(m) if m.len() == 1 => {
                let (variant, content) = m.into_iter().next().expect("one entry");
                visitor.visit_enum(EnumDeserializer {
                    variant,
                    content: Some(content),
                })
            }
            Value::Map(_) => Err(self.invalid_value(&"a map with a single key (an enum variant)")),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    /// A text or byte string (UTF-8, else Latin-1); otherwise as [`deserialize_any`]
    /// (a non-negative integer is a field or variant index).
    ///
    /// [`deserialize_any`]: de::Deserializer::deserialize_any
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.into_text() {
            Ok(s) => visitor.visit_string(s),
            Err(other) => other.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }
}

/// A [`Value`] is its own deserializer, so it can be used with
/// [`serde::de::value::SeqDeserializer`] and friends.
impl<'de> IntoDeserializer<'de, ValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

/// An enum: the variant name, and its content if it came as a single-entry map.
struct EnumDeserializer {
    variant: Value,
    content: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = ValueError;
    type Variant = VariantDeserializer;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, VariantDeserializer), ValueError> {
        let variant = seed.deserialize(self.variant)?;
        Ok((
            variant,
            VariantDeserializer {
                content: self.content,
            },
        ))
    }
}

/// The content of an enum variant.
struct VariantDeserializer {
    content: Option<Value>,
}

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self.content {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(other.invalid_type(&"unit variant")),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        match self.content {
            Some(content) => seed.deserialize(content),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(content) => de::Deserializer::deserialize_tuple(content, len, visitor),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(content) => de::Deserializer::deserialize_struct(content, "", fields, visitor),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}
