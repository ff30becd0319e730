//! Helpers for kernel tests: nodes on 127.0.0.1 and waiting for events without sleeping.

use std::time::Duration;

use aemp_actor::{Node, NodeBuilder, Value};
use tokio::sync::mpsc;

/// How long a test waits for something that should happen promptly before failing.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A node listening on 127.0.0.1:0 with the shared test secret.
pub async fn node(id: &str) -> Node {
    builder(id).start().await.expect("start node")
}

pub fn builder(id: &str) -> NodeBuilder {
    Node::builder()
        .node_id(id)
        .bind("127.0.0.1:0")
        .secret("test secret")
}

pub fn addr(node: &Node) -> String {
    node.listen_addrs()[0].to_string()
}

/// Two connected nodes.
pub async fn pair(a: &str, b: &str) -> (Node, Node) {
    let (a, b) = (node(a).await, node(b).await);
    a.connect(&addr(&b)).await.expect("connect");
    (a, b)
}

/// A port on `node` that forwards every message (whole, tag included) into a channel.
pub fn inbox(node: &Node) -> (aemp_actor::PortId, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let port = node.port_with(move |_ctx, msg| {
        let _ = tx.send(msg);
    });
    (port, Inbox(rx))
}

pub struct Inbox(pub mpsc::UnboundedReceiver<Vec<Value>>);

impl Inbox {
    pub async fn next(&mut self) -> Vec<Value> {
        tokio::time::timeout(PATIENCE, self.0.recv())
            .await
            .expect("a message in time")
            .expect("inbox open")
    }

    /// Asserts that nothing arrives within `d` (for things that must not happen).
    pub async fn nothing_within(&mut self, d: Duration) {
        if let Ok(Some(m)) = tokio::time::timeout(d, self.0.recv()).await {
            panic!("unexpected message {m:?}");
        }
    }
}

/// Awaits a future with [`PATIENCE`].
pub async fn within<T>(what: &str, f: impl std::future::IntoFuture<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f.into_future())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
