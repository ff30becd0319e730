//! A serde bridge between arbitrary Rust types and [`Value`]: [`to_value`] serializes any
//! `Serialize` type into a `Value`, [`from_value`] deserializes any `DeserializeOwned` type out
//! of one (`Value` itself is the [`serde::Deserializer`]).
//!
//! The data model is the one serde_json uses (enums externally tagged, structs as maps with
//! text keys), so a Rust type sent this way reads naturally on a Perl node. Deserializing is
//! lenient where Perl is loose: see [`from_value`].

use std::fmt;

use serde::{de, ser};

mod de_value;
mod ser_value;

pub use de_value::from_value;
pub use ser_value::to_value;

/// Why [`to_value`] or [`from_value`] failed, in serde's words, e.g.
/// ``invalid type: integer `5`, expected a string``.
///
/// ```
/// use aemp_transport::{from_value, Value};
/// let err = from_value::<String>(Value::Int(5)).unwrap_err();
/// assert_eq!(err.to_string(), "invalid type: integer `5`, expected a string");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    message: String,
}

impl ValueError {
    fn new(message: impl fmt::Display) -> Self {
        ValueError {
            message: message.to_string(),
        }
    }
}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg)
    }
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg)
    }
}
