//! Listening: each bind address gets a listener task that hands accepted connections to the
//! links (which run their handshakes).

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::inner::NodeInner;
use crate::sync::lock;
use crate::Error;

/// Binds `addr` and starts accepting on it.
pub(super) async fn listen(node: &Arc<NodeInner>, addr: &str) -> Result<(), Error> {
    let bind_error = |source| Error::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    lock(&node.listen_addrs).push(local);
    let task = node
        .runtime()
        .spawn(accept_loop(listener, Arc::downgrade(node)));
    lock(&node.tasks).push(task);
    Ok(())
}

async fn accept_loop(listener: tokio::net::TcpListener, node: Weak<NodeInner>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(node) = node.upgrade() else { return };
        if node.links.is_shutting_down() {
            return;
        }
        let _ = stream.set_nodelay(true);
        node.runtime().spawn(node.links.clone().accept(stream));
    }
}
