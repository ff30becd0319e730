//! [`PortTable`]: this node's ports by name, the names they are registered under, and how new
//! port names are made (never reused).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Port, Sink};
use crate::sync::{rlock, wlock};
use crate::PortId;

/// The table's hasher: fast on short names (every message is looked up), and seeded per
/// table, so names a peer chooses (remote spawns) cannot be made to collide.
type Hasher = foldhash::fast::RandomState;

/// The ports of one node.
pub(crate) struct PortTable {
    node: Arc<str>,
    ports: RwLock<HashMap<Arc<str>, Arc<Port>, Hasher>>,
    /// Names registered on this node (`Node::register`), for the node port's `lookup`.
    names: RwLock<HashMap<String, PortId>>,
    counter: AtomicU64,
    /// Unique to this start of the node when its id was given (a restarted node keeps its
    /// id, not its port names).
    port_prefix: String,
    /// Names of ports this node spawns elsewhere (unique network-wide with the node id).
    spawn_prefix: String,
}

/// What the table holds, counted: ports, the monitors on them, the busiest ports (id,
/// queued, handled).
pub(crate) struct Census {
    pub(crate) ports: usize,
    pub(crate) monitors: usize,
    pub(crate) busiest: Vec<(PortId, usize, u64)>,
}

impl PortTable {
    pub(crate) fn new(node: Arc<str>, random_id: bool) -> PortTable {
        // Lowercase: never equal to a spawn prefix (whose last letter is uppercase).
        let port_prefix = if random_id {
            String::new()
        } else {
            aemp_transport::random_node_suffix().to_ascii_lowercase()
        };
        PortTable {
            node,
            ports: RwLock::default(),
            names: RwLock::default(),
            counter: AtomicU64::new(0),
            port_prefix,
            spawn_prefix: aemp_transport::random_node_suffix(),
        }
    }

    fn next_name(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{prefix}{n}")
    }

    /// A fresh name for a local port.
    pub(crate) fn generated_name(&self) -> String {
        self.next_name(&self.port_prefix)
    }

    /// A fresh name for a port this node spawns on another node.
    pub(crate) fn spawn_name(&self) -> String {
        self.next_name(&self.spawn_prefix)
    }

    /// Creates port `name` (generated when `None`) with `sink`; `None` if the name is taken.
    pub(crate) fn create(&self, name: Option<String>, sink: impl Sink) -> Option<Arc<Port>> {
        let name = name.unwrap_or_else(|| self.generated_name());
        let port: Arc<Port> = Arc::new(Port::new(PortId::new(&self.node, &name), sink));
        let mut ports = wlock(&self.ports);
        if ports.contains_key(name.as_str()) {
            return None;
        }
        ports.insert(name.into(), port.clone());
        Some(port)
    }

    /// How many ports there are, and the `n` with the most messages waiting (then the most
    /// handled): (id, waiting, handled).
    pub(crate) fn busiest(&self, n: usize) -> Census {
        let ports: Vec<Arc<Port>> = rlock(&self.ports).values().cloned().collect();
        let mut monitors = 0;
        let mut loads: Vec<(PortId, usize, u64)> = ports
            .iter()
            .map(|p| {
                monitors += p.monitor_count();
                let (queued, handled) = p.sink().load();
                (p.id.clone(), queued, handled)
            })
            .collect();
        loads.sort_by(|a, b| (b.1, b.2).cmp(&(a.1, a.2)).then_with(|| a.0.cmp(&b.0)));
        loads.truncate(n);
        Census {
            ports: ports.len(),
            monitors,
            busiest: loads,
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<Port>> {
        rlock(&self.ports).get(name).cloned()
    }

    /// Removes port `name` and its name registrations.
    pub(crate) fn remove(&self, name: &str) -> Option<Arc<Port>> {
        let port = wlock(&self.ports).remove(name)?;
        if port.is_named() {
            wlock(&self.names).retain(|_, p| *p != port.id);
        }
        Some(port)
    }

    /// Registers `port` under `name` on this node.
    pub(crate) fn register(&self, name: &str, port: &PortId) {
        wlock(&self.names).insert(name.to_owned(), port.clone());
        if port.node() == &*self.node {
            if let Some(p) = self.get(port.name()) {
                p.set_named();
            }
        }
    }

    pub(crate) fn unregister(&self, name: &str) {
        wlock(&self.names).remove(name);
    }

    pub(crate) fn registered(&self, name: &str) -> Option<PortId> {
        rlock(&self.names).get(name).cloned()
    }
}
