//! The kernel's wire vocabulary, as AnyEvent::MP 2.x spells it: node-port request names, the
//! bodies of the monitor requests, and the kill reasons the kernel makes. Every subsystem
//! builds these shapes here, so that the wire stays byte-identical in one place.

use aemp_transport::Value;

use crate::PortId;

/// The spawn request: `["", "AnyEvent::MP::_spawn", NAME, INITFUNC, ARGS...]`.
pub(crate) const SPAWN: &str = "AnyEvent::MP::_spawn";

/// The requests this node answers besides registered functions (for `can`).
pub const BUILTIN_REQUESTS: &[&str] = &[
    "", "devnull", "mon0", "mon1", "kil0", "kil1", "kil", "snd", "can", "time", "info", "lookup",
    STATS, SPAWN,
];

/// The node-port request for a `Stats` snapshot (`Node::stats`; an aemp extension: ask
/// `can` first; Perl nodes do not know it).
pub const STATS: &str = "aemp_stats";

/// The greeting key that offers the heartbeat: our interval in seconds. Perl ignores it.
pub(crate) const HEARTBEAT_KEY: &str = "aemp_hb";

/// A value as text, the way Perl reads it (byte strings too).
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::to_text).map(|t| t.into_owned())
}

/// `[tag, args...]`.
pub(crate) fn request(tag: &str, args: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let args = args.into_iter();
    let mut body = Vec::with_capacity(args.size_hint().0 + 1);
    body.push(Value::from(tag));
    body.extend(args);
    body
}

/// `["mon1", port]`: monitor our port `port` on the receiving node.
pub(crate) fn mon1(port: &str) -> Vec<Value> {
    vec![Value::from("mon1"), Value::from(port)]
}

/// `["mon0", port]`: stop monitoring it.
pub(crate) fn mon0(port: &str) -> Vec<Value> {
    vec![Value::from("mon0"), Value::from(port)]
}

/// `["kil0", port, reason...]`: a port the receiver monitors died.
pub(crate) fn kil0(port: &str, reason: &[Value]) -> Vec<Value> {
    let mut body = Vec::with_capacity(reason.len() + 2);
    body.push(Value::from("kil0"));
    body.push(Value::from(port));
    body.extend_from_slice(reason);
    body
}

/// `["kil1", port, reason...]`: kill the receiver's port.
pub(crate) fn kil1(port: &str, reason: Vec<Value>) -> Vec<Value> {
    let mut body = Vec::with_capacity(reason.len() + 2);
    body.push(Value::from("kil1"));
    body.push(Value::from(port));
    body.extend(reason);
    body
}

/// The reason monitors get when a node is lost: `["transport_error", node, text]`.
pub(crate) fn transport_error(node: &str, text: &str) -> Vec<Value> {
    vec![
        Value::from("transport_error"),
        Value::from(node),
        Value::from(text),
    ]
}

/// The reason for monitoring a port that does not exist, as AnyEvent::MP 2.x gives it.
pub(crate) fn no_such_port(port: &PortId) -> Vec<Value> {
    vec![
        Value::from("no_such_port"),
        Value::from("cannot monitor nonexistent port"),
        Value::from(port.as_str()),
    ]
}

/// The reason of a port whose handler (or init function) failed: `["die", text]`.
pub(crate) fn die(error: impl std::fmt::Display) -> Vec<Value> {
    vec![Value::from("die"), Value::from(error.to_string())]
}

/// The reason of a port that got a message no handler takes.
pub(crate) fn unhandled_message(msg: &[Value]) -> Vec<Value> {
    let tag = msg
        .first()
        .map(|t| {
            t.to_text()
                .map_or_else(|| t.to_string(), |s| s.into_owned())
        })
        .unwrap_or_default();
    let tag: String = tag.chars().take(30).collect();
    vec![
        Value::from("unhandled_message"),
        Value::from(format!("no callback found for message '{tag}'")),
    ]
}
