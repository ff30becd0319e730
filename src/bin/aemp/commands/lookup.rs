//! `aemp lookup`: the ports registered under a name.

use std::time::Duration;

use aemp::{PortId, Value};

use super::net::{no_database, secs, Joined};

/// `lookup NAME`: the ports registered as NAME network-wide (`register_name`); if none,
/// the port registered as NAME on each seed (the node port's `lookup`, `Node::register`).
pub(crate) async fn lookup(joined: &Joined, name: &str, limit: Duration) -> Result<(), String> {
    let mut found: Vec<String> =
        match tokio::time::timeout(limit, joined.node.lookup_names(name)).await {
            Ok(ports) => ports.iter().map(ToString::to_string).collect(),
            Err(_) => {
                eprintln!("aemp: warning: lookup: {}", no_database(limit));
                Vec::new()
            }
        };
    if found.is_empty() {
        for (_, id) in &joined.seeds {
            let call = joined.node.cal(
                PortId::new(id, ""),
                vec![Value::from("lookup"), Value::from(name)],
            );
            match tokio::time::timeout(limit, call).await {
                Ok(Ok(reply)) => {
                    if let Some(port) = reply.first().and_then(Value::to_text) {
                        found.push(port.into_owned());
                    }
                }
                Ok(Err(e)) => eprintln!("aemp: warning: lookup: {id}: {e}"),
                Err(_) => eprintln!(
                    "aemp: warning: lookup: {id}: no answer within {}",
                    secs(limit)
                ),
            }
        }
    }
    if found.is_empty() {
        return Err(format!("no port registered as {name}"));
    }
    found.sort();
    found.dedup();
    for port in found {
        println!("{port}");
    }
    Ok(())
}
