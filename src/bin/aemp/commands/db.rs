//! `aemp db`: a family of the global database.

use std::time::Duration;

use aemp::config::to_json;
use aemp::{Node, Value};

use super::net::no_database;

/// `db FAMILY`: the family, merged from every node, as pretty JSON (an object).
pub(crate) async fn db(node: &Node, family: &str, limit: Duration) -> Result<(), String> {
    let entries = tokio::time::timeout(limit, node.db_family(family))
        .await
        .map_err(|_| no_database(limit))?;
    if entries.is_empty() {
        println!("{{}}");
    } else {
        let map = Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        );
        println!("{}", to_json(&map, true));
    }
    Ok(())
}
