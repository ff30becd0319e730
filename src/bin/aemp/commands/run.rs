//! `aemp run`: a node from a profile and flags, until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use aemp::config::{bind_address, expand_node_id, nodename, seed_address, RcFile};
use aemp::kernel::supervise::{ChildSpec, Supervisor};
use aemp::transport::AuthMethod;
use aemp::{services, Framing, Node, NodeEvent, Value};
use clap::Args;

/// The services compiled into this binary, which a profile's `services` may name.
const SERVICES: &[&str] = &[
    services::ECHO,
    services::RPC,
    services::SINK,
    services::SEQUENCE,
];

/// Run a node from a profile of the rc file and flags (the flags win), with the services
/// compiled into this binary (`aemp::echo`, `aemp::rpc`, `aemp::sequence`; a profile's
/// `services` start instances, registered under their names). Every node also runs an
/// `aemp::echo` port (replies to the first element) and an `aemp::rpc` port (replies to the
/// last, as `cal` asks), registered on the node as `echo` and `rpc` and network-wide in the
/// groups `aemp::echo` and `aemp::rpc` (`aemp lookup aemp::rpc` lists every node's). Logs one line per
/// node up or down (AEMP_LOG sets the level), prints `aemp run: node ID listening on ADDR`,
/// and stops gracefully on SIGINT or SIGTERM.
#[derive(Debug, Args)]
pub(crate) struct Run {
    /// The profile (default: the host name, as AnyEvent::MP).
    #[arg(value_name = "PROFILE")]
    profile_arg: Option<String>,
    /// The profile, as an option.
    #[arg(long, value_name = "NAME", conflicts_with = "profile_arg")]
    profile: Option<String>,
    /// The node id (default: the profile's, else PROFILE/). `%n`: the host name; `%u` and a
    /// trailing `/`: random characters.
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Listen on HOST:PORT (`*`: every interface; port 0 or `*`: any free port). Repeatable;
    /// default: the profile's binds, else `*`.
    #[arg(long, value_name = "HOST:PORT")]
    bind: Vec<String>,
    /// A seed to join through (repeatable; default: the profile's seeds). The node keeps a
    /// connection to each (AnyEvent::MP's seeds).
    #[arg(long, value_name = "HOST:PORT")]
    seed: Vec<String>,
    /// The shared secret (default: the profile's).
    #[arg(long)]
    secret: Option<String>,
    /// A PEM file with the private key and certificate, for TLS (default: the profile's).
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    /// The framings to accept, in order of preference.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    framing: Vec<Framing>,
    /// Connect to the node at HOST:PORT on start. Repeatable.
    #[arg(long, value_name = "HOST:PORT")]
    connect: Vec<String>,
    /// The auth methods to offer, in order (default: the profile's, else
    /// tls_sha3_512,hmac_sha3_512).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    auth_offer: Vec<AuthMethod>,
    /// The auth methods to accept (default: the profile's, else all four).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    auth_accept: Vec<AuthMethod>,
    /// The handshake limit and the cap of reconnect backoff, in seconds (default: the
    /// profile's, else 30).
    #[arg(long, value_name = "SECONDS", value_parser = monitor_timeout)]
    monitor_timeout: Option<Duration>,
    /// Serve the node's metrics on HOST:PORT in Prometheus' format (`GET /metrics`).
    #[arg(long, value_name = "HOST:PORT")]
    metrics: Option<std::net::SocketAddr>,
}

/// `--monitor-timeout`'s value.
fn monitor_timeout(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("--monitor-timeout must be a number of seconds, not {value:?}"))?;
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!(
            "--monitor-timeout must be a positive number of seconds, not {value}"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl Run {
    pub(crate) async fn run(self) -> Result<(), String> {
        let name = self
            .profile
            .clone()
            .or(self.profile_arg.clone())
            .unwrap_or_else(nodename);
        let rc = RcFile::load().map_err(|e| {
            format!("{e} (the file was left as it is: fix it, or move it away to start anew)")
        })?;
        let profile = rc
            .profile_settings(&name)
            .map_err(|e| format!("profile {name}: {e}"))?;
        if self.secret.is_none()
            && self.cert.is_none()
            && profile.secret.is_none()
            && profile.cert.is_none()
        {
            return Err(format!(
                "no secret or certificate configured for profile {name}: run `aemp gensecret` \
                 (or `aemp profile {name} gensecret`), or pass --secret SECRET or --cert PEMFILE"
            ));
        }
        if let Some(unknown) = profile
            .services
            .iter()
            .find(|s| !SERVICES.contains(&s.name.as_str()))
        {
            return Err(format!(
                "profile {name}: service {} is not compiled into this binary (it has {})",
                unknown.name,
                SERVICES.join(", ")
            ));
        }

        let mut builder = services::register(Node::builder());
        if let Some(id) = &self.node_id {
            builder = builder.node_id(expand_node_id(id));
        }
        for bind in &self.bind {
            builder = builder.bind(bind_address(bind));
        }
        for seed in &self.seed {
            builder = builder.seed(seed_address(seed));
        }
        if let Some(secret) = &self.secret {
            builder = builder.secret(secret.clone());
        }
        if let Some(path) = &self.cert {
            builder = builder.cert_pem(super::values::read_pem(path)?);
        }
        if !self.framing.is_empty() {
            builder = builder.framings(self.framing.clone());
        }
        if !self.auth_offer.is_empty() {
            builder = builder.auth_offer(self.auth_offer.clone());
        }
        if !self.auth_accept.is_empty() {
            builder = builder.auth_accept(self.auth_accept.clone());
        }
        if let Some(t) = self.monitor_timeout {
            builder = builder.monitor_timeout(t);
        }
        let services = profile.services.clone();
        let node = profile
            .apply_to(builder)
            .map_err(|e| format!("profile {name}: {e}"))?
            .start()
            .await
            .map_err(|e| e.to_string())?;
        // Every node runs an echo and an rpc port, registered as `echo` and `rpc` and
        // network-wide in the groups of every aemp run node's; and the profile's services;
        // all under one supervisor, which restarts a service that dies (after a pause that
        // grows while it keeps dying) and gives up after 10 restarts in a minute.
        let mut supervisor = Supervisor::new().intensity(10, Duration::from_secs(60));
        supervisor = supervisor
            .child(service(services::ECHO, Vec::new(), "echo", true))
            .child(service(services::RPC, Vec::new(), "rpc", true));
        for s in &services {
            supervisor = supervisor.child(service(&s.name, s.args.clone(), &s.name, false));
        }
        let services_sup = supervisor.start(&node);
        if let Some(addr) = self.metrics {
            #[cfg(feature = "prometheus")]
            {
                aemp::metrics::serve_prometheus(&node, addr)?;
                tracing::info!("metrics on http://{addr}/metrics");
            }
            #[cfg(not(feature = "prometheus"))]
            return Err(format!(
                "--metrics {addr}: this aemp was built without the `prometheus` feature"
            ));
        }
        let gave_up = services_sup.monitor();
        tokio::spawn(async move {
            let reason = gave_up.await;
            tracing::error!(
                "the services' supervisor gave up: {}; the node runs on without them",
                aemp::format_reason(&reason)
            );
        });
        let _events = node.mon_nodes(|event| match event {
            NodeEvent::Up(id) => tracing::info!("node {id} up"),
            NodeEvent::Down(id, reason) => {
                tracing::info!("node {id} down: {}", aemp::format_reason(reason))
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

/// Service `init` as a supervised child: started on the node with `args`, registered on
/// the node as `name` (for node-port `lookup`) and, when `group`, network-wide in the group
/// `init`; restarted after a pause of 100 ms doubling to 5 s while it keeps dying.
fn service(init: &str, args: Vec<Value>, name: &str, group: bool) -> ChildSpec {
    let (init_name, local) = (init.to_owned(), name.to_owned());
    let mut spec = ChildSpec::port(init, move |node| {
        let port = node.spawn(node.id(), &init_name, args.clone())?;
        node.register(&local, &port)?;
        tracing::info!("service {init_name} started as {port}");
        Ok(port)
    })
    .backoff(Duration::from_millis(100), Duration::from_secs(5));
    if group {
        spec = spec.register_as(init);
    }
    spec
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
