//! `aemp nodes`: the network as this node sees it.

use std::time::Duration;

use aemp::Value;

use aemp::kernel::{GLOBALS, LISTENERS};

use super::net::{no_database, Joined};

/// `nodes`: the master, the global nodes, the nodes this node is connected to, and every
/// node with listeners the database knows, each with its listeners.
pub(crate) async fn nodes(joined: &Joined, limit: Duration) -> Result<(), String> {
    let node = &joined.node;
    let db = tokio::time::timeout(limit, async {
        (
            node.db_family(GLOBALS).await,
            node.db_family(LISTENERS).await,
        )
    })
    .await;
    let (globals, listeners) = match db {
        Ok(families) => families,
        Err(_) => {
            eprintln!(
                "aemp: warning: nodes: {}; listing what this node knows",
                no_database(limit)
            );
            Default::default()
        }
    };
    let line = |label: &str, id: &str| {
        let addrs: Vec<String> = match listeners.get(id).and_then(Value::as_array) {
            Some(addrs) => addrs
                .iter()
                .filter_map(|a| a.to_text().map(|t| t.into_owned()))
                .collect(),
            None => joined
                .seeds
                .iter()
                .filter(|s| s.id == id)
                .map(|s| s.addr.clone())
                .collect(),
        };
        if addrs.is_empty() {
            println!("{label} {id}");
        } else {
            println!("{label} {id} {}", addrs.join(","));
        }
    };
    match node.master() {
        Some(master) => line("master:", &master),
        None => println!("master: none"),
    }
    let mut global: Vec<String> = node.global_nodes();
    global.extend(globals.into_keys());
    global.sort();
    global.dedup();
    for id in &global {
        line("global:", id);
    }
    let mut up = node.up_nodes();
    up.sort();
    for id in &up {
        line("up:", id);
    }
    // Nodes without listeners (short-lived ones such as this) cannot be reached: left out.
    for (id, addrs) in &listeners {
        if addrs.as_array().is_some_and(|a| !a.is_empty()) {
            line("known:", id);
        }
    }
    Ok(())
}
