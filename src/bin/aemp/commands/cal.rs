//! `aemp cal`: a request, and its reply printed as JSON.

use std::time::Duration;

use aemp::config::to_json;
use aemp::{Error, Node, PortId, Value};

use super::net::{died, secs};

/// `cal`: the reply as comma-separated JSON values.
pub(crate) async fn cal(
    node: &Node,
    port: &PortId,
    msg: Vec<Value>,
    limit: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(limit, node.cal(port, msg)).await {
        Ok(Ok(reply)) => {
            let values: Vec<String> = reply.iter().map(|v| to_json(v, false)).collect();
            println!("{}", values.join(","));
            Ok(())
        }
        Ok(Err(Error::Killed { reason, .. })) => Err(died(port, &reason)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no reply from {port} within {}", secs(limit))),
    }
}
