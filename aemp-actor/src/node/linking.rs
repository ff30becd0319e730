//! Links between ports, trapped exits, and a node's statistics: the parts of the `Node` API
//! built on monitors and on the counters of the layers below.

use aemp_transport::Value;

use super::{stats, Node};
use crate::port::monitor::{Action, LinkGuard, MonGuard};
use crate::{Error, PortId, ToPort};

impl Node {
    /// Links `a` and `b` (local or remote, Perl ports too): when either dies with a
    /// non-empty reason, the other is killed with the same reason; a normal exit (empty
    /// reason) does not propagate. A port of this node that traps exits
    /// ([`Node::trap_exits`]) gets `["EXIT", port, reason...]` instead (normal exits too).
    /// Across nodes it rides on AnyEvent::MP's monitors (`mon $a, $b` both ways), so the loss
    /// of a node counts as a death with `["transport_error", ...]`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use aemp_actor::{msg, Node};
    /// let node = Node::builder().start().await.unwrap();
    /// let (a, b) = (node.port_with(|_, _| {}), node.port_with(|_, _| {}));
    /// node.link(&a, &b).detach();
    /// let b_died = node.monitor(&b);
    /// node.kil(&a, msg!["crashed"]).unwrap();
    /// assert_eq!(b_died.await, msg!["crashed"]);
    /// # }
    /// ```
    pub fn link(&self, a: impl ToPort, b: impl ToPort) -> LinkGuard {
        let (a, b) = match (a.to_port(), b.to_port()) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                let text = format!("{}, {}", a.port_text(), b.port_text());
                let refused = |action| self.refused(&text, &e, action);
                return LinkGuard::new(
                    refused(Action::Callback(Box::new(drop))),
                    refused(Action::Callback(Box::new(drop))),
                );
            }
        };
        let ab = self.inner.monitor(
            &a,
            Action::Link {
                receiver: b.clone(),
                watched: a.clone(),
            },
        );
        let ba = self.inner.monitor(
            &b,
            Action::Link {
                receiver: a,
                watched: b.clone(),
            },
        );
        LinkGuard::new(ab, ba)
    }

    /// One half of a link: `receiver` learns of `watched`'s death as a linked port would
    /// (an `["EXIT", ...]` message if it traps exits, else a kill for a non-empty reason),
    /// but not the other way round. What a supervisor holds on its children: it stops them
    /// itself, in order.
    pub(crate) fn watch_exit(&self, watched: &PortId, receiver: &PortId) -> MonGuard {
        self.inner.monitor(
            watched,
            Action::Link {
                receiver: receiver.clone(),
                watched: watched.clone(),
            },
        )
    }

    /// Makes the local `port` trap (or no longer trap) the exits of the ports linked with it:
    /// their deaths come as the message `["EXIT", port, reason...]` instead of killing it.
    /// Only links fired on this node are trapped: a port of another node linked with it
    /// reaches it as a kill there (AnyEvent::MP's protocol has no exit signal), which kills
    /// it as `kil` does.
    pub fn trap_exits(&self, port: impl ToPort, on: bool) -> Result<(), Error> {
        self.local(&port.to_port()?)?.set_trap(on);
        Ok(())
    }

    /// Spawns a port on `node` (see [`Node::spawn`]) linked with `with` from the start: if
    /// the new port's init fails, `with` learns it as from any linked death.
    pub fn spawn_link(
        &self,
        node: impl ToPort,
        init: &str,
        args: Vec<Value>,
        with: impl ToPort,
    ) -> Result<PortId, Error> {
        let with = with.to_port()?;
        let port = self.spawn(node, init, args)?;
        self.link(&port, &with).detach();
        Ok(port)
    }

    /// A snapshot of what the node holds and carries (ports, links and their traffic, the
    /// busiest ports, database families). Other nodes ask for it with the node-port request
    /// `["aemp_stats", REPLY...]` (an aemp extension; `aemp top` uses it).
    pub fn stats(&self) -> stats::Stats {
        let census = self.inner.ports.busiest(stats::BUSIEST);
        stats::Stats {
            node: self.id().to_owned(),
            provider: format!("aemp-{}", env!("CARGO_PKG_VERSION")),
            uptime_s: self.inner.links.uptime().as_secs_f64(),
            global: self.inner.global.is_global(),
            master: self.inner.global.master(),
            ports: census.ports,
            monitors: census.monitors,
            links: self.inner.links.stats(),
            busiest: census
                .busiest
                .into_iter()
                .map(|(port, queued, handled)| stats::PortStats {
                    port: port.to_string(),
                    queued,
                    handled,
                })
                .collect(),
            families: self.inner.global.family_sizes(),
            handshakes: self.inner.links.handshakes(),
            restarts: self
                .inner
                .restarts
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}
