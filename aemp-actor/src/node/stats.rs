//! [`Stats`]: a snapshot of what a node holds and carries, for tools (the node port's
//! `aemp_stats` request, `aemp top`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::link::LinkStats;

/// How many of the busiest ports a snapshot lists.
pub const BUSIEST: usize = 10;

/// One port's load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStats {
    /// The port.
    pub port: String,
    /// Messages waiting for it.
    pub queued: usize,
    /// Messages it handled so far.
    pub handled: u64,
}

/// What a node holds and carries, at one moment.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let node = aemp_actor::Node::builder().node_id("s").start().await.unwrap();
/// let port = node.port_with(|_, _| {});
/// let stats = node.stats();
/// assert_eq!((stats.node.as_str(), stats.ports), ("s", 1));
/// assert_eq!(stats.busiest[0].port, port.to_string());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The node's id.
    pub node: String,
    /// What it runs: `aemp-VERSION`.
    pub provider: String,
    /// Seconds since it started.
    pub uptime_s: f64,
    /// Whether it is a global node (it holds the merged database).
    pub global: bool,
    /// The global node it reports to (itself on a global node).
    pub master: Option<String>,
    /// Ports alive.
    pub ports: usize,
    /// Monitors held on its ports: local ones, and one per remote node watching a port.
    #[serde(default)]
    pub monitors: usize,
    /// Every node it has or had a link with.
    pub links: Vec<LinkStats>,
    /// The ports with the most messages waiting, then the most handled (at most
    /// [`BUSIEST`]).
    pub busiest: Vec<PortStats>,
    /// Database families it sees, and their sizes.
    pub families: BTreeMap<String, usize>,
    /// Handshakes so far, by outcome: `ok`, or the kind of failure (`auth_failed`,
    /// `timeout`, ...).
    pub handshakes: BTreeMap<String, u64>,
    /// Children its supervisors restarted so far.
    pub restarts: u64,
}
