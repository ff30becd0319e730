//! Services compiled into the `aemp` binary: init functions that other nodes may spawn on an
//! `aemp run` node, Perl nodes included.

use aemp_actor::{msg, NodeBuilder, PortId, Value};

/// `aemp::echo`: a port that answers `[REPLYPORT, MSG...]` by sending `MSG...` to
/// `REPLYPORT` (as the reference Perl node's `echo` port does).
pub const ECHO: &str = "aemp::echo";

/// `aemp::rpc`: a port that answers `[MSG..., REPLYPORT]` by sending `MSG...` to `REPLYPORT`
/// (the reply port comes last, as `cal` sends it; as the reference Perl node's `rpc` port).
pub const RPC: &str = "aemp::rpc";

/// `aemp::sink`: a port that counts the messages it gets and answers `["report", REPLYPORT]`
/// with `["count", N]` (as the reference Perl node's `sink`): a target for `aemp bench`.
pub const SINK: &str = "aemp::sink";

/// `aemp::sequence`: a port that checks that `["n", I]` messages arrive with I = 0, 1, 2...
/// and answers `["report", REPLYPORT]` with `["count", N, IN_ORDER]`.
pub const SEQUENCE: &str = "aemp::sequence";

/// Registers the built-in services on a node builder. A malformed request never kills a
/// service: it is answered with `["error", TEXT]` when it carries a reply port (as its last
/// element), and logged otherwise.
///
/// ```
/// let builder = aemp::services::register(aemp::Node::builder());
/// # let _ = builder;
/// ```
pub fn register(builder: NodeBuilder) -> NodeBuilder {
    builder
        .spawnable(ECHO, |ctx, _args| {
            ctx.rcv_default(|ctx, mut msg| {
                if msg.is_empty() {
                    return;
                }
                let reply = msg.remove(0);
                let sent = match reply.to_text().map(|r| PortId::parse(&r)) {
                    Some(Ok(port)) => ctx.snd(&port, msg).map_err(|e| e.to_string()),
                    Some(Err(e)) => Err(e.to_string()),
                    None => Err(format!("the first element must be a reply port, not {reply}")),
                };
                if let Err(e) = sent {
                    tracing::warn!(port = %ctx.port(), error = %e, "echo: malformed request ignored");
                }
            });
        })
        .spawnable(RPC, |ctx, _args| {
            ctx.rcv_default(|ctx, mut msg| {
                let sent = match msg.pop().map(|r| (r.to_text().map(|r| PortId::parse(&r)), r)) {
                    Some((Some(Ok(port)), _)) => ctx.snd(&port, msg).map_err(|e| e.to_string()),
                    Some((Some(Err(e)), _)) => Err(e.to_string()),
                    Some((None, last)) => {
                        Err(format!("the last element must be a reply port, not {last}"))
                    }
                    None => Err("an empty message has no reply port".to_owned()),
                };
                if let Err(e) = sent {
                    tracing::warn!(port = %ctx.port(), error = %e, "rpc: malformed request ignored");
                }
            });
        })
        .spawnable(SINK, |ctx, _args| {
            let mut count = 0i64;
            ctx.rcv_default(move |ctx, msg| {
                if msg.first().and_then(Value::as_str) == Some("report") {
                    match reply_port(msg.get(1)) {
                        Some(reply) => {
                            let _ = ctx.snd(&reply, msg!["count", count]);
                        }
                        None => answer_error(ctx, &msg, "sink: report needs a reply port"),
                    }
                } else {
                    count += 1;
                }
            });
        })
        .spawnable(SEQUENCE, |ctx, _args| {
            let (mut count, mut in_order) = (0i64, true);
            ctx.rcv_default(move |ctx, msg| {
                let result = match msg.first().and_then(Value::as_str) {
                    Some("n") => {
                        in_order &= msg.get(1).and_then(Value::as_i64) == Some(count);
                        count += 1;
                        Ok(())
                    }
                    Some("report") => match reply_port(msg.get(1)) {
                        Some(reply) => ctx
                            .snd(&reply, msg!["count", count, in_order])
                            .map_err(|e| e.to_string()),
                        None => Err("report: the second element must be a reply port".to_owned()),
                    },
                    _ => Err(format!("unexpected message {}", Value::Array(msg.clone()))),
                };
                if let Err(e) = result {
                    answer_error(ctx, &msg, &format!("{SEQUENCE}: {e}"));
                }
            });
        })
}

/// A value as a port id, if it is one.
fn reply_port(v: Option<&Value>) -> Option<PortId> {
    PortId::parse(&v?.to_text()?).ok()
}

/// Answers a malformed request with `["error", text]` at its reply port (its last element),
/// if it has one; logs it in any case. The service goes on.
fn answer_error(ctx: &aemp_actor::Ctx<'_>, msg: &[Value], text: &str) {
    tracing::warn!(port = %ctx.port(), error = text, "malformed request");
    if let Some(reply) = reply_port(msg.last()).filter(|p| !p.is_node_port()) {
        let _ = ctx.snd(&reply, msg!["error", text]);
    }
}
