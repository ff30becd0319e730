//! The one way the kernel writes to a link.
//!
//! On a JSON link, byte strings (which Perl nodes send for most of their strings over CBOR) go
//! out as JSON strings, read as Perl reads them (UTF-8, else Latin-1): to Perl they are
//! strings, and JSON::XS would write them so. The transport itself refuses bytes in JSON; this
//! is the kernel's decision, made here only.

use aemp_transport::{Sender, Value};

/// Puts `[name, body...]` on a link without waiting (the sender's buffer is bounded and
/// flushed by its writer task).
pub(super) fn put(
    sender: &Sender,
    name: &str,
    body: &[Value],
) -> Result<(), aemp_transport::Error> {
    match sender.send_now(name, body) {
        Err(aemp_transport::Error::Encode {
            framing: aemp_transport::Framing::Json,
            ..
        }) if has_bytes(body) => {
            let body: Vec<Value> = body.iter().map(bytes_as_text).collect();
            sender.send_now(name, &body)
        }
        other => other,
    }
}

/// The heartbeat: an empty message (Perl ignores `[]`), skipped when the buffer is full
/// (the link is busy then, which is as good as a beat).
pub(super) fn beat(sender: &Sender) -> Result<(), aemp_transport::Error> {
    sender.try_send(&[])
}

fn has_bytes(values: &[Value]) -> bool {
    values.iter().any(|v| match v {
        Value::Bytes(_) => true,
        Value::Array(a) => has_bytes(a),
        Value::Map(m) => m
            .iter()
            .any(|(k, v)| has_bytes(std::slice::from_ref(k)) || has_bytes(std::slice::from_ref(v))),
        _ => false,
    })
}

fn bytes_as_text(v: &Value) -> Value {
    match v {
        Value::Bytes(_) => Value::Text(v.to_text().map(|t| t.into_owned()).unwrap_or_default()),
        Value::Array(a) => Value::Array(a.iter().map(bytes_as_text).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (bytes_as_text(k), bytes_as_text(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
