//! `aemp snd`: a message, and the confirmation that it reached its node.

use std::time::Duration;

use aemp::format_reason;
use aemp::{Node, PortId, Value};
use tokio::sync::mpsc;

use super::net::{died, secs};

pub(crate) enum Event {
    Confirmed(Vec<Value>),
    Died(Vec<Value>),
}

/// `snd`: the message, then a monitor and a node-port round trip that confirms delivery.
pub(crate) async fn snd(
    node: &Node,
    port: &PortId,
    msg: Vec<Value>,
    limit: Duration,
) -> Result<(), String> {
    node.snd(port, msg).map_err(|e| e.to_string())?;
    let confirmed = confirm(node, port, limit).await?;
    println!("{}", format_reason(&confirmed));
    Ok(())
}

/// Confirms that what was sent to `port` reached its node: a node-port round trip on the
/// same link (so it comes back after what went before it), while a monitor of `port` says
/// if the port is gone. The confirmation's text.
pub(crate) async fn confirm(
    node: &Node,
    port: &PortId,
    limit: Duration,
) -> Result<Vec<Value>, String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let died_tx = tx.clone();
    let _monitor = (!port.is_node_port()).then(|| {
        node.mon(port, move |reason| {
            let _ = died_tx.send(Event::Died(reason));
        })
    });
    let reply = node.port_inline(move |msg| {
        let _ = tx.send(Event::Confirmed(msg));
    });
    node.snd(
        port.node(),
        vec![
            Value::from("snd"),
            Value::from(&reply),
            Value::from("message sent successfully"),
        ],
    )
    .map_err(|e| e.to_string())?;
    let event = tokio::time::timeout(limit, rx.recv()).await;
    let _ = node.kil(&reply, vec![]);
    match event {
        Ok(Some(Event::Confirmed(msg))) => Ok(msg),
        Ok(Some(Event::Died(reason))) => Err(died(port, &reason)),
        Ok(None) => Err("the node shut down".into()),
        Err(_) => Err(format!(
            "no confirmation from {} within {}",
            port.node(),
            secs(limit)
        )),
    }
}
