//! `aemp mon`: waits for a port to die.

use std::time::Duration;

use aemp::format_reason;
use aemp::{Node, PortId, Value};
use tokio::sync::mpsc;

use super::net::{died, secs};

/// `mon`: the reason, as a JSON array; no time limit unless one was given. Once the monitor is armed (the
/// port's node has handled our `mon1`), says so on stderr: from then on, a death is seen.
pub(crate) async fn mon(node: &Node, port: &PortId, limit: Option<Duration>) -> Result<(), String> {
    let mut monitor = node.monitor(port);
    let wait = async {
        // The `mon1` went out first on the link to the port's node; a message that node
        // relays back to us comes after it has handled the `mon1`.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let reply = node.port_inline(move |_| {
            let _ = tx.send(());
        });
        let relay = vec![
            Value::from("snd"),
            Value::from(&reply),
            Value::from("armed"),
        ];
        let armed = node.snd(port.node(), relay).is_ok()
            && tokio::select! {
                biased;
                reason = &mut monitor => { let _ = node.kil(&reply, vec![]); return reason }
                got = rx.recv() => got.is_some(),
            };
        let _ = node.kil(&reply, vec![]);
        if armed {
            eprintln!("aemp: mon: monitoring {port}");
        }
        (&mut monitor).await
    };
    let reason = match limit {
        None => wait.await,
        Some(limit) => tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| format!("{port} still alive after {}", secs(limit)))?,
    };
    if reason.first().and_then(Value::as_str) == Some("transport_error")
        && format_reason(&reason).contains("no known address")
    {
        return Err(died(port, &reason));
    }
    // As JSON, so that 17 and "17" differ; `[]` is a normal exit.
    println!("{}", aemp::config::to_json(&Value::Array(reason), false));
    Ok(())
}
