//! [`Message`]: a Rust type that travels as a tagged array, `[tag, fields...]`.

use std::fmt;
use std::marker::PhantomData;

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

    /// This message's tag (for logs and spans; `#[derive(Message)]` gives each variant's).
    /// By default the first of [`TAGS`](Message::TAGS).
    fn tag(&self) -> &'static str {
        Self::TAGS.first().copied().unwrap_or("")
    }
}

/// What a handler may return for a message whose reply type is `R`: `R` itself, or
/// `Result<R, E>` (an error stops the actor with `["die", error]`, as a failing handler does
/// in the kernel). Checked when the actor compiles: a handler whose return type does not fit
/// its message's declared reply is an error there, not at run time.
#[diagnostic::on_unimplemented(
    message = "this handler returns `{Self}`, but its message's reply type is `{R}`",
    label = "returns `{Self}`",
    note = "return `{R}` or `Result<{R}, E>`; or declare the reply this handler gives on the message variant: `#[message(reply = T)]` (no attribute means no reply: `()`)"
)]
pub trait Returns<R> {
    /// The reply, or the error that stops the actor.
    fn into_result(self) -> Result<R, BoxError>;
}

impl<R> Returns<R> for R {
    fn into_result(self) -> Result<R, BoxError> {
        Ok(self)
    }
}

impl<R, E: Into<BoxError>> Returns<R> for Result<R, E> {
    fn into_result(self) -> Result<R, BoxError> {
        self.map_err(Into::into)
    }
}

/// Something that can be asked of a typed port: a message, and the type its reply decodes
/// to. `#[derive(Message)]` gives every enum variant a constructor that returns a
/// [`Req`] with the variant's declared reply (`Count::get()` for `Count::Get`), and makes
/// the message type itself a request whose reply is an undecoded [`Value`] (or, for a
/// struct with `#[message(reply = T)]`, a `T`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be asked of a typed port",
    label = "not a message or a request",
    note = "ask a request made by the message's constructor, as `Count::get()` for `Count::Get` (its reply's type comes from `#[message(reply = T)]`), or the message itself (its reply comes back as a `Value`); `ask` takes no type parameter for the reply"
)]
pub trait Request: Send + 'static {
    /// The message type.
    type Msg: Message;
    /// What the reply decodes to.
    type Reply: DeserializeOwned + Send + 'static;
    /// The message to send.
    fn into_message(self) -> Self::Msg;
}

/// A message with the type of its reply (see [`Request`]).
///
/// ```
/// use aemp_actor::typed::{Req, Request};
/// # #[derive(Debug)] enum Count { Get }
/// # impl aemp_actor::typed::Message for Count { const TAGS: &'static [&'static str] = &["get"];
/// #   fn into_values(self) -> Result<Vec<aemp_actor::Value>, aemp_actor::typed::MessageError> { Ok(vec!["get".into()]) }
/// #   fn from_values(m: Vec<aemp_actor::Value>) -> Result<(Self, Vec<aemp_actor::Value>), aemp_actor::typed::MessageError> { Ok((Count::Get, m)) } }
/// let get: Req<Count, u64> = Req::new(Count::Get);
/// assert!(matches!(get.into_message(), Count::Get));
/// ```
pub struct Req<M, R> {
    msg: M,
    _reply: PhantomData<fn() -> R>,
}

impl<M, R> Req<M, R> {
    /// `msg`, whose reply decodes to `R`.
    pub fn new(msg: M) -> Self {
        Req {
            msg,
            _reply: PhantomData,
        }
    }
}

impl<M: fmt::Debug, R> fmt::Debug for Req<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Req").field(&self.msg).finish()
    }
}

impl<M: Message, R: DeserializeOwned + Send + 'static> Request for Req<M, R> {
    type Msg = M;
    type Reply = R;
    fn into_message(self) -> M {
        self.msg
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

    /// A handler's reply as the kernel sends it: nothing for `()`, else one value.
    #[inline]
    pub fn reply<R: Serialize + 'static>(
        r: Result<R, BoxError>,
    ) -> Result<Option<Value>, BoxError> {
        let r = r?;
        if std::any::TypeId::of::<R>() == std::any::TypeId::of::<()>() {
            return Ok(None);
        }
        aemp_transport::to_value(&r).map(Some).map_err(Into::into)
    }

    pub fn unknown(tag: String, expected: &[&str]) -> MessageError {
        MessageError::UnknownTag {
            tag,
            expected: expected.join(", "),
        }
    }
}
