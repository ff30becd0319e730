//! Serializing: Rust → [`Value`].

use serde::ser::{self, Serialize};

use super::ValueError;
use crate::Value;

/// Converts any serializable value into a [`Value`].
///
/// The mapping (the same as serde_json's, with byte strings kept):
///
/// | Rust | `Value` |
/// |---|---|
/// | `bool` | `Bool` |
/// | integers (`i8` … `u128`) | `Int`, or `UInt` above `i64::MAX`; beyond 64 bits an error |
/// | `f32`, `f64` | `Float` |
/// | `char`, `str`, `String` | `Text` |
/// | bytes (`serialize_bytes`) | `Bytes` |
/// | `None`, `()`, unit structs | `Null` |
/// | `Some(x)`, newtype structs | `x` |
/// | unit variant `E::A` | `Text("A")` |
/// | newtype variant `E::A(x)` | `Map[("A", x)]` |
/// | tuple variant `E::A(x, y)` | `Map[("A", Array[x, y])]` |
/// | struct variant `E::A { f }` | `Map[("A", Map[("f", f)])]` |
/// | sequences, tuples, tuple structs | `Array` |
/// | maps | `Map` (keys may be any `Value`) |
/// | structs | `Map` with `Text` keys, in declaration order |
///
/// As in serde_json, `Some(x)` is just `x`: `Some(())` and `Some(None)` become `Null` and read
/// back as `None`.
///
/// ```
/// use aemp_transport::{to_value, Value};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Ping { seq: u32, from: String }
///
/// let v = to_value(&Ping { seq: 7, from: "a".into() }).unwrap();
/// assert_eq!(v, Value::Map(vec![
///     (Value::from("seq"), Value::Int(7)),
///     (Value::from("from"), Value::from("a")),
/// ]));
/// assert!(to_value(&u128::MAX).is_err());
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

/// The [`serde::Serializer`] behind [`to_value`].
struct ValueSerializer;

fn int128(v: i128) -> Result<Value, ValueError> {
    if let Ok(i) = i64::try_from(v) {
        Ok(Value::Int(i))
    } else if let Ok(u) = u64::try_from(v) {
        Ok(Value::UInt(u))
    } else {
        Err(ValueError::new(format_args!(
            "integer {v} is outside the 64-bit range"
        )))
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SerializeArray;
    type SerializeTuple = SerializeArray;
    type SerializeTupleStruct = SerializeArray;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeMap;
    type SerializeStruct = SerializeStruct;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        int128(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        match u64::try_from(v) {
            Ok(u) => Ok(Value::from(u)),
            Err(_) => Err(ValueError::new(format_args!(
                "integer {v} is outside the 64-bit range"
            ))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::Text(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::Text(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::from(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(Value::Map(vec![(Value::from(variant), to_value(value)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeArray, ValueError> {
        Ok(SerializeArray {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SerializeArray, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeArray, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, ValueError> {
        Ok(SerializeTupleVariant {
            variant,
            items: Vec::with_capacity(len.min(4096)),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<SerializeMap, ValueError> {
        Ok(SerializeMap {
            entries: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeStruct, ValueError> {
        Ok(SerializeStruct {
            fields: Vec::with_capacity(len.min(4096)),
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeStructVariant, ValueError> {
        Ok(SerializeStructVariant {
            variant,
            fields: Vec::with_capacity(len.min(4096)),
        })
    }
}

/// Sequences, tuples and tuple structs: an [`Value::Array`].
struct SerializeArray {
    items: Vec<Value>,
}

impl ser::SerializeSeq for SerializeArray {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Array(self.items))
    }
}

impl ser::SerializeTuple for SerializeArray {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeArray {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// A tuple variant: `Map[(variant, Array)]`.
struct SerializeTupleVariant {
    variant: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(vec![(
            Value::from(self.variant),
            Value::Array(self.items),
        )]))
    }
}

/// A map: keys may be any [`Value`].
struct SerializeMap {
    entries: Vec<(Value, Value)>,
    key: Option<Value>,
}

impl ser::SerializeMap for SerializeMap {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        if self.key.is_some() {
            return Err(ValueError::new("map key serialized twice without a value"));
        }
        self.key = Some(to_value(key)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError::new("map value serialized without a key"))?;
        self.entries.push((key, to_value(value)?));
        Ok(())
    }
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), ValueError> {
        if self.key.is_some() {
            return Err(ValueError::new("map key serialized twice without a value"));
        }
        self.entries.push((to_value(key)?, to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        if self.key.is_some() {
            return Err(ValueError::new("map key serialized without a value"));
        }
        Ok(Value::Map(self.entries))
    }
}

/// A struct: a map with text keys, in declaration order.
struct SerializeStruct {
    fields: Vec<(Value, Value)>,
}

impl ser::SerializeStruct for SerializeStruct {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.fields.push((Value::from(key), to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.fields))
    }
}

/// A struct variant: `Map[(variant, Map[fields])]`.
struct SerializeStructVariant {
    variant: &'static str,
    fields: Vec<(Value, Value)>,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.fields.push((Value::from(key), to_value(value)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(vec![(
            Value::from(self.variant),
            Value::Map(self.fields),
        )]))
    }
}
