//! Services compiled into the `aemp` binary: init functions that other nodes may spawn on an
//! `aemp run` node, Perl nodes included.

use aemp_actor::{msg, NodeBuilder, Value};

/// `aemp::echo`: a port that answers `[REPLYPORT, MSG...]` by sending `MSG...` to
/// `REPLYPORT` (as the reference Perl node's `echo` port does).
pub const ECHO: &str = "aemp::echo";

/// `aemp::sequence`: a port that checks that `["n", I]` messages arrive with I = 0, 1, 2...
/// and answers `["report", REPLYPORT]` with `["count", N, IN_ORDER]`.
pub const SEQUENCE: &str = "aemp::sequence";

/// Registers the built-in services on a node builder.
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
                    return Ok(());
                }
                let reply = msg.remove(0);
                let reply = reply
                    .to_text()
                    .ok_or("echo: the first element must be a reply port")?
                    .into_owned();
                ctx.snd(reply, msg).map_err(|e| e.to_string())
            });
        })
        .spawnable(SEQUENCE, |ctx, _args| {
            let (mut count, mut in_order) = (0i64, true);
            ctx.rcv_default(move |ctx, msg| {
                match msg.first().and_then(Value::as_str) {
                    Some("n") => {
                        in_order &= msg.get(1).and_then(Value::as_i64) == Some(count);
                        count += 1;
                    }
                    Some("report") => {
                        let reply = msg
                            .get(1)
                            .and_then(Value::to_text)
                            .ok_or("report: no reply port")?
                            .into_owned();
                        ctx.snd(reply, msg!["count", count, in_order])
                            .map_err(|e| e.to_string())?;
                    }
                    _ => {
                        return Err(format!(
                            "sequence: unexpected message {}",
                            Value::Array(msg)
                        ))
                    }
                }
                Ok::<(), String>(())
            });
        })
}
