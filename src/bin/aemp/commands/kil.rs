//! `aemp kil`: kills a port, with a reason.

use std::time::Duration;

use aemp::config::to_json;
use aemp::{Node, PortId, Value};

use super::net::secs;

/// `kil PORT REASON...`: the kill, then a monitor of the port: its death (with our reason,
/// or the one it already died of) confirms it.
pub(crate) async fn kil(
    node: &Node,
    port: &PortId,
    reason: Vec<Value>,
    limit: Duration,
) -> Result<(), String> {
    if port.is_node_port() {
        return Err(format!("{port} is a node port: it cannot be killed"));
    }
    // The monitor goes out first: the kill that follows on the same link kills a monitored
    // port, and the monitor reports it.
    let death = node.monitor(port);
    node.kil(port, reason).map_err(|e| e.to_string())?;
    let got = tokio::time::timeout(limit, death)
        .await
        .map_err(|_| format!("{port}: no word of its death within {}", secs(limit)))?;
    if got.first().and_then(Value::as_str) == Some("no_such_port") {
        return Err(format!(
            "{port}: no such port ({})",
            to_json(&Value::Array(got), false)
        ));
    }
    println!("{port} killed: {}", to_json(&Value::Array(got), false));
    Ok(())
}
