//! `aemp spawn`: a port on another node, started by name.

use std::time::Duration;

use aemp::{Node, Value};

use super::snd::confirm;

/// `spawn NODE INIT ARGS...`: spawns, confirms that the port runs (a failing init kills it,
/// and the kill reaches us before the confirmation), prints its id.
pub(crate) async fn spawn(
    node: &Node,
    on: &str,
    init: &str,
    args: Vec<Value>,
    limit: Duration,
) -> Result<(), String> {
    let port = node.spawn(on, init, args).map_err(|e| e.to_string())?;
    confirm(node, &port, limit)
        .await
        .map_err(|e| format!("{init} did not start: {e}"))?;
    println!("{port}");
    Ok(())
}
