//! `aemp run`: a node, until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use aemp::{services, Framing, Node, NodeEvent};
use clap::Args;

/// Run a node with the services compiled into this binary (`aemp::echo`, `aemp::sequence`),
/// logging one line per node up or down, until SIGINT or SIGTERM.
#[derive(Debug, Args)]
pub(crate) struct Run {
    /// The node id (default: aemp/<random>). A trailing `/` adds a random part.
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Listen on HOST:PORT (port 0: any free port). May be repeated.
    #[arg(long, value_name = "HOST:PORT")]
    bind: Vec<String>,
    /// The shared secret.
    #[arg(long)]
    secret: Option<String>,
    /// A PEM file with the private key and certificate (TLS).
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    /// The framings to accept, in order of preference.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    framing: Vec<Framing>,
    /// Connect to the node at HOST:PORT on start. May be repeated.
    #[arg(long, value_name = "HOST:PORT")]
    connect: Vec<String>,
}

impl Run {
    pub(crate) async fn run(self) -> Result<(), String> {
        if self.secret.is_none() && self.cert.is_none() {
            return Err(
                "no secret or certificate configured: pass --secret SECRET or --cert PEMFILE"
                    .into(),
            );
        }
        let mut builder = services::register(Node::builder());
        if let Some(id) = self.node_id {
            builder = builder.node_id(id);
        }
        for bind in self.bind {
            builder = builder.bind(bind);
        }
        if let Some(secret) = self.secret {
            builder = builder.secret(secret);
        }
        if let Some(path) = &self.cert {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read certificate {}: {e}", path.display()))?;
            builder = builder.cert_pem(pem);
        }
        if !self.framing.is_empty() {
            builder = builder.framings(self.framing);
        }
        let node = builder.start().await.map_err(|e| e.to_string())?;
        let echo = node
            .spawn(node.id(), services::ECHO, vec![])
            .map_err(|e| e.to_string())?;
        node.register("echo", &echo);
        let _events = node.mon_nodes(|event| match event {
            NodeEvent::Up(id) => tracing::info!("node {id} up"),
            NodeEvent::Down(id, reason) => {
                tracing::info!("node {id} down: {}", aemp::actor::format_reason(reason))
            }
        });
        let addrs: Vec<String> = node
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        println!(
            "aemp run: node {} listening on {}",
            node.id(),
            if addrs.is_empty() {
                "nothing".into()
            } else {
                addrs.join(", ")
            }
        );
        for addr in &self.connect {
            match tokio::time::timeout(Duration::from_secs(30), node.connect(addr)).await {
                Ok(Ok(id)) => tracing::info!("connected to {id} at {addr}"),
                Ok(Err(e)) => tracing::warn!("cannot connect to {addr}: {e}"),
                Err(_) => tracing::warn!("cannot connect to {addr}: timed out"),
            }
        }
        wait_for_signal().await?;
        tracing::info!("shutting down");
        node.shutdown().await;
        Ok(())
    }
}

async fn wait_for_signal() -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(|e| format!("cannot watch SIGINT: {e}")),
        _ = term.recv() => Ok(()),
    }
}
