//! `aemp ping`: one handshake, reported.

use std::path::PathBuf;
use std::time::Duration;

use aemp::transport::{connect, msg, random_node_id, Config, Error, Framing};
use clap::Args;

/// Connect to a node, authenticate, report what was negotiated, send `["", "devnull"]` and
/// close. Use it to debug secret and certificate mismatches.
#[derive(Debug, Args)]
pub(crate) struct Ping {
    /// The node to ping, as HOST:PORT.
    address: String,
    /// The shared secret.
    #[arg(long, conflicts_with = "cert")]
    secret: Option<String>,
    /// A PEM file with the private key and certificate (TLS).
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    /// The framings to accept, in order of preference, e.g. `cbor,json`.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "cbor,json"
    )]
    framing: Vec<Framing>,
    /// Our node id (default: aemp/ping/<random>).
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
}

impl Ping {
    pub(crate) async fn run(self) -> Result<(), String> {
        if self.secret.is_none() && self.cert.is_none() {
            return Err(
                "no secret or certificate configured: pass --secret SECRET or --cert PEMFILE \
                        (the same secret or certificate the node uses)"
                    .into(),
            );
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err(format!(
                "--timeout must be a positive number of seconds, got {}",
                self.timeout
            ));
        }
        let node_id = self
            .node_id
            .clone()
            .unwrap_or_else(|| random_node_id("aemp/ping"));
        let mut config = Config::new(node_id)
            .map_err(|e| e.to_string())?
            .framings(self.framing.clone())
            .map_err(|e| e.to_string())?
            .monitor_timeout(Duration::from_secs_f64(self.timeout));
        if let Some(secret) = &self.secret {
            config = config.secret(secret.clone());
        }
        if let Some(path) = &self.cert {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read certificate {}: {e}", path.display()))?;
            config = config
                .cert_pem(pem)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let conn = connect(self.address.as_str(), &config)
            .await
            .map_err(|e| explain(&self.address, e))?;
        let info = conn.info().clone();
        println!("node:       {}", info.node_id);
        println!(
            "address:    {}",
            info.peer_addr
                .map_or_else(|| self.address.clone(), |a| a.to_string())
        );
        if let Some(provider) = info.greeting.key("provider") {
            println!("provider:   {provider}");
        }
        println!(
            "auth:       we sent {}, peer sent {}{}",
            info.send_auth,
            info.peer_auth,
            if info.trusted { "" } else { " (untrusted)" }
        );
        println!(
            "framing:    we send {}, peer sends {}",
            info.send_framing, info.recv_framing
        );
        println!("tls:        {}", if info.tls { "yes" } else { "no" });
        println!(
            "handshake:  {:.3} ms",
            info.handshake_time.as_secs_f64() * 1000.0
        );
        let (tx, _rx) = conn.split();
        tx.send(&msg!["", "devnull"])
            .await
            .map_err(|e| e.to_string())?;
        tx.close().await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// The error with a hint at the usual cause.
fn explain(address: &str, e: Error) -> String {
    let hint = match &e {
        Error::AuthFailed => " (the secrets differ, or the peer uses another certificate)",
        Error::Tls(_) => " (the certificates differ: both nodes need the same certificate or CA)",
        Error::NoCredentials => " (the peer offers no TLS: pass --secret)",
        Error::ClosedDuringHandshake {
            during: "auth line",
        } => " (the peer rejected our authentication: check the secret or certificate)",
        Error::Connect { .. } => " (is a node listening there?)",
        _ => "",
    };
    format!("ping {address}: {e}{hint}")
}
