//! A node's figures through the [`metrics`] facade, for whatever exporter the program
//! installs; with the `prometheus` feature (on by default), [`serve_prometheus`] serves them
//! on HTTP in Prometheus' format (`aemp run --metrics ADDR`).
//!
//! The figures come from [`Node::stats`], taken once a second: the hot paths count nothing
//! for metrics (the kernel keeps its counters where they are anyway), and the labels are
//! bounded (one per linked node, the ten busiest ports, the database's families).
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `aemp_uptime_seconds` | | since the node started |
//! | `aemp_ports` | | ports alive |
//! | `aemp_monitors` | | monitors held on the node's ports |
//! | `aemp_links_up` | | nodes linked now |
//! | `aemp_link_messages_in_total`, `aemp_link_bytes_in_total` | `peer` | received from a node |
//! | `aemp_link_messages_out_total`, `aemp_link_bytes_out_total` | `peer` | queued to a node on its current link |
//! | `aemp_link_send_buffer_bytes` | `peer` | queued to it, not yet written |
//! | `aemp_port_queued`, `aemp_port_handled_total` | `port` | the ten busiest ports |
//! | `aemp_db_keys` | `family` | keys of a database family |
//! | `aemp_handshakes_total` | `outcome` | `ok`, or the kind of failure |
//! | `aemp_restarts_total` | | children restarted by supervisors |

use std::time::Duration;

use aemp_actor::{Node, Stats};

/// Sets the metrics from one snapshot.
pub fn record(stats: &Stats) {
    metrics::gauge!("aemp_uptime_seconds").set(stats.uptime_s);
    metrics::gauge!("aemp_ports").set(stats.ports as f64);
    metrics::gauge!("aemp_monitors").set(stats.monitors as f64);
    metrics::gauge!("aemp_links_up").set(stats.links.iter().filter(|l| l.up).count() as f64);
    for l in &stats.links {
        let peer = l.node.clone();
        metrics::counter!("aemp_link_messages_in_total", "peer" => peer.clone())
            .absolute(l.messages_in);
        metrics::counter!("aemp_link_bytes_in_total", "peer" => peer.clone()).absolute(l.bytes_in);
        metrics::counter!("aemp_link_messages_out_total", "peer" => peer.clone())
            .absolute(l.messages_out);
        metrics::counter!("aemp_link_bytes_out_total", "peer" => peer.clone())
            .absolute(l.bytes_out);
        metrics::gauge!("aemp_link_send_buffer_bytes", "peer" => peer).set(l.buffered as f64);
    }
    for p in &stats.busiest {
        metrics::gauge!("aemp_port_queued", "port" => p.port.clone()).set(p.queued as f64);
        metrics::counter!("aemp_port_handled_total", "port" => p.port.clone()).absolute(p.handled);
    }
    for (family, keys) in &stats.families {
        metrics::gauge!("aemp_db_keys", "family" => family.clone()).set(*keys as f64);
    }
    for (outcome, n) in &stats.handshakes {
        metrics::counter!("aemp_handshakes_total", "outcome" => outcome.clone()).absolute(*n);
    }
    metrics::counter!("aemp_restarts_total").absolute(stats.restarts);
}

/// Keeps the metrics of `node` current: a snapshot every `every`, until the returned task
/// is aborted (it holds the node).
pub fn publish(node: &Node, every: Duration) -> tokio::task::JoinHandle<()> {
    let node = node.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            record(&node.stats());
        }
    })
}

/// Serves the metrics of `node` on `addr` (`GET /metrics`), in Prometheus' text format,
/// refreshed every second. Installs the process's metrics recorder: once per process.
#[cfg(feature = "prometheus")]
pub fn serve_prometheus(node: &Node, addr: std::net::SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    publish(node, Duration::from_secs(1));
    Ok(())
}
