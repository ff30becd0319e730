//! `aemp bench`: floods a port and reports the rate.

use std::time::{Duration, Instant};

use aemp::{msg, Node, PortId};

use super::snd::confirm;

/// `bench PORT`: `count` messages `["bench", i, payload]` sent as fast as the link takes
/// them, then a round trip through the port's node confirms the last arrived; the rate is
/// over the whole, confirmation included.
pub(crate) async fn bench(
    node: &Node,
    port: &PortId,
    count: u64,
    size: usize,
    limit: Duration,
) -> Result<(), String> {
    let payload = "x".repeat(size);
    let start = Instant::now();
    for i in 0..count {
        node.snd(port, msg!["bench", i, payload.as_str()])
            .map_err(|e| e.to_string())?;
        // Let the connection's writer run now and then: the sender is one task of many.
        if i % 4096 == 4095 {
            tokio::task::yield_now().await;
        }
    }
    confirm(node, port, limit.max(Duration::from_secs(60))).await?;
    let secs = start.elapsed().as_secs_f64();
    let rate = count as f64 / secs;
    println!(
        "{count} messages of {size} bytes to {port} in {secs:.3} s: {rate:.0} msg/s, {:.1} MiB/s",
        rate * size as f64 / (1 << 20) as f64
    );
    Ok(())
}
