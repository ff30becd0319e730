//! `cal`: a request with a reply port, awaited.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use aemp_transport::Value;
use tokio::sync::oneshot;

use super::inner::Node;
use crate::sync::lock;
use crate::{Error, PortId};

/// A call in the making: `node.cal(&port, msg)`, optionally `.timeout(d)`, then `.await`.
///
/// The message goes out with a fresh reply port's id appended as its last element; the
/// first message that port receives is the result. With a timeout, no reply in time is
/// [`Error::Timeout`]; without one, the called port is monitored and its death is
/// [`Error::Killed`] (as AnyEvent::MP does). The reply port is removed in every case, also
/// when the future is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), aemp_actor::Error> {
/// use std::time::Duration;
/// use aemp_actor::{msg, Node, Value};
/// let node = Node::builder().start().await?;
/// let adder = node.port();
/// node.rcv(&adder, "add", |ctx, msg| {
///     let sum = msg[0].as_i64().unwrap_or(0) + msg[1].as_i64().unwrap_or(0);
///     let reply = msg[2].as_str().unwrap_or_default().to_owned();
///     ctx.snd(reply, msg![sum])
/// })?;
/// let reply = node.cal(&adder, msg!["add", 1, 2]).timeout(Duration::from_secs(5)).await?;
/// assert_eq!(reply, msg![3]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a call does nothing until awaited"]
pub struct Call {
    node: Node,
    /// The port called (or why the argument was not a port id: the call fails with it).
    port: Result<PortId, Error>,
    msg: Vec<Value>,
    timeout: Option<Duration>,
}

impl Call {
    pub(crate) fn new(node: Node, port: Result<PortId, Error>, msg: Vec<Value>) -> Call {
        Call {
            node,
            port,
            msg,
            timeout: None,
        }
    }

    /// Gives up after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Call {
        self.timeout = Some(timeout);
        self
    }

    async fn run(self) -> Result<Vec<Value>, Error> {
        let port = self.port?;
        let (tx, rx) = oneshot::channel();
        let tx = Mutex::new(Some(tx));
        let reply = self.node.port_inline(move |msg| {
            if let Some(tx) = lock(&tx).take() {
                let _ = tx.send(msg);
            }
        });
        let _cleanup = KillOnDrop {
            node: &self.node,
            port: &reply,
        };
        let mut msg = self.msg;
        msg.push(Value::from(&reply));
        // The call's span; when it is wanted, the call carries a trace (the current one, or
        // a new one) to aemp nodes, so the handler that answers shows in the same trace.
        let span = tracing::debug_span!(
            "aemp.cal",
            port = %port,
            trace_id = tracing::field::Empty,
        );
        let trace = (!span.is_disabled()).then(|| {
            let ctx = crate::trace::for_call(&span);
            span.record("trace_id", ctx.trace_hex());
            ctx
        });
        // Sent from within the call's span (the parent of the handler's, where OpenTelemetry
        // joins in).
        // (Without a span of its own, the call goes in the trace its caller runs in.)
        let send = |port: &PortId, msg| match trace {
            Some(_) => span.in_scope(|| crate::trace::within(trace, || self.node.snd(port, msg))),
            None => self.node.snd(port, msg),
        };
        match self.timeout {
            Some(after) => {
                send(&port, msg)?;
                match tokio::time::timeout(after, rx).await {
                    Ok(reply) => reply.map_err(|_| Error::Shutdown),
                    Err(_) => Err(Error::Timeout {
                        port: port.to_string(),
                        after,
                    }),
                }
            }
            None => {
                let death = self.node.monitor(&port);
                send(&port, msg)?;
                tokio::select! {
                    reply = rx => reply.map_err(|_| Error::Shutdown),
                    reason = death => Err(Error::Killed { port: port.to_string(), reason }),
                }
            }
        }
    }
}

struct KillOnDrop<'a> {
    node: &'a Node,
    port: &'a PortId,
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        self.node.kill_local(self.port, Vec::new());
    }
}

impl IntoFuture for Call {
    type Output = Result<Vec<Value>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
