//! `aemp mon`: waits for a port to die.

use std::time::Duration;

use aemp::actor::format_reason;
use aemp::{Node, PortId, Value};

use super::net::{died, secs};

/// `mon`: the reason; no time limit unless one was given.
pub(crate) async fn mon(node: &Node, port: &PortId, limit: Option<Duration>) -> Result<(), String> {
    let monitor = node.monitor(port);
    let reason = match limit {
        None => monitor.await,
        Some(limit) => tokio::time::timeout(limit, monitor)
            .await
            .map_err(|_| format!("{port} still alive after {}", secs(limit)))?,
    };
    if reason.first().and_then(Value::as_str) == Some("transport_error")
        && format_reason(&reason).contains("no known address")
    {
        return Err(died(port, &reason));
    }
    println!("{}", format_reason(&reason));
    Ok(())
}
