//! [`Message`]: a Rust type that travels as a tagged array, `[tag, fields...]`.

use aemp_transport::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::error::{BoxError, MessageError};

/// A message type: encodes to `[tag, fields...]` (the form Perl nodes read and write) and
/// decodes from it. Implemented by `#[derive(Message)]` from `aemp-macros`.
///
/// Decoding takes the message with any elements after the last field (a `cal` reply port)
/// and returns those as the rest.
pub trait Message: Sized + Send + 'static {
    /// The tags this type is made of, in declaration order.
    const TAGS: &'static [&'static str];

    /// `[tag, fields...]`.
    fn into_values(self) -> Result<Vec<Value>, MessageError>;

    /// Decodes `[tag, fields..., rest...]`; returns the value and `rest`.
    fn from_values(msg: Vec<Value>) -> Result<(Self, Vec<Value>), MessageError>;
}

/// What a typed handler's return value sends back to an `ask`: nothing for `()`, else the
/// value as a one-element reply message. A `Result`'s error stops the actor with
/// `["die", error]`, as a failing handler does in the kernel.
pub trait IntoReply {
    /// `Ok(None)`: no reply; `Ok(Some(v))`: reply `[v]`; `Err(e)`: the actor dies.
    fn into_reply(self) -> Result<Option<Value>, BoxError>;
}

impl IntoReply for () {
    fn into_reply(self) -> Result<Option<Value>, BoxError> {
        Ok(None)
    }
}

macro_rules! reply_as_value {
    ($($t:ty),*) => {$(
        impl IntoReply for $t {
            fn into_reply(self) -> Result<Option<Value>, BoxError> {
                aemp_transport::to_value(&self).map(Some).map_err(Into::into)
            }
        }
    )*};
}
reply_as_value!(
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    String,
    &'static str,
    Value
);

impl<T: Serialize> IntoReply for Vec<T> {
    fn into_reply(self) -> Result<Option<Value>, BoxError> {
        aemp_transport::to_value(&self)
            .map(Some)
            .map_err(Into::into)
    }
}

impl<T: Serialize> IntoReply for Option<T> {
    fn into_reply(self) -> Result<Option<Value>, BoxError> {
        aemp_transport::to_value(&self)
            .map(Some)
            .map_err(Into::into)
    }
}

impl<M> IntoReply for crate::typed::PortRef<M> {
    fn into_reply(self) -> Result<Option<Value>, BoxError> {
        Ok(Some(Value::from(self.id())))
    }
}

impl<T: IntoReply, E: Into<BoxError>> IntoReply for Result<T, E> {
    fn into_reply(self) -> Result<Option<Value>, BoxError> {
        self.map_err(Into::into)?.into_reply()
    }
}

/// Wraps any serializable value as a reply: `Reply(my_struct)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoReply for Reply<T> {
    fn into_reply(self) -> Result<Option<Value>, BoxError> {
        aemp_transport::to_value(&self.0)
            .map(Some)
            .map_err(Into::into)
    }
}

/// Helpers for the code `aemp-macros` generates. Not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    pub fn tag_of(msg: &[Value]) -> Result<String, MessageError> {
        msg.first()
            .and_then(Value::to_text)
            .map(|t| t.into_owned())
            .ok_or_else(|| MessageError::NoTag(Value::Array(msg.to_vec()).to_string()))
    }

    pub fn encode<T: Serialize + ?Sized>(
        tag: &str,
        field: &str,
        value: &T,
    ) -> Result<Value, MessageError> {
        aemp_transport::to_value(value).map_err(|e| MessageError::Field {
            tag: tag.to_owned(),
            field: field.to_owned(),
            error: e.to_string(),
        })
    }

    /// Decodes one field; a missing field decodes from null, so trailing `Option` fields may
    /// be left out (as Perl senders do).
    pub fn decode<T: DeserializeOwned>(
        tag: &str,
        field: &str,
        value: Option<Value>,
    ) -> Result<T, MessageError> {
        let missing = value.is_none();
        aemp_transport::from_value(value.unwrap_or(Value::Null)).map_err(|e| {
            if missing {
                MessageError::MissingField {
                    tag: tag.to_owned(),
                    field: field.to_owned(),
                }
            } else {
                MessageError::Field {
                    tag: tag.to_owned(),
                    field: field.to_owned(),
                    error: e.to_string(),
                }
            }
        })
    }

    pub fn unknown(tag: String, expected: &[&str]) -> MessageError {
        MessageError::UnknownTag {
            tag,
            expected: expected.join(", "),
        }
    }
}
