//! `aemp lookup`: the ports registered under a name.

use std::time::Duration;

use aemp::{PortId, Value};
use tokio::task::JoinSet;

use super::net::{secs, Joined};

/// What one question of `lookup` answered.
enum Answer {
    /// The global database: the ports registered as NAME network-wide (`register_name`).
    Database(Vec<PortId>),
    /// Seed `index`'s node port: the port registered there as NAME (`Node::register`).
    Seed(usize, Option<String>),
}

/// `lookup NAME`: the ports registered as NAME network-wide (`register_name`) and the port
/// registered as NAME on each seed (the node port's `lookup`, `Node::register`), asked at
/// once. It answers as soon as it knows: AnyEvent::MP 2.x seeds keep names in the database
/// only and never answer the node-port request, so it is awaited from aemp seeds alone once
/// the database has answered; a seed without the database (a minimal node) is answered by
/// its node port.
pub(crate) async fn lookup(joined: &Joined, name: &str, limit: Duration) -> Result<(), String> {
    let mut questions = JoinSet::new();
    let node = joined.node.clone();
    let family = name.to_owned();
    questions.spawn(async move { Answer::Database(node.lookup_names(&family).await) });
    for (i, seed) in joined.seeds.iter().enumerate() {
        let call = joined.node.cal(
            PortId::new(&seed.id, ""),
            vec![Value::from("lookup"), Value::from(name)],
        );
        questions.spawn(async move {
            let port = call.await.ok().and_then(|reply| {
                reply
                    .first()
                    .and_then(Value::to_text)
                    .map(|p| p.into_owned())
            });
            Answer::Seed(i, port)
        });
    }
    let mut found: Vec<String> = Vec::new();
    let mut database: Option<bool> = None; // answered, and whether it knew the name
    let mut seeds_done = vec![false; joined.seeds.len()];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let done = match database {
            Some(true) => true,
            // The database knows no such name: only aemp seeds may still answer.
            Some(false) => joined
                .seeds
                .iter()
                .zip(&seeds_done)
                .all(|(seed, done)| *done || !seed.is_aemp()),
            // No database answer (yet): every seed answered, and one knew the name, or no
            // seed is a global node (a global seed says so on connecting, before it answers
            // anything), so no database will answer.
            None => {
                seeds_done.iter().all(|d| *d)
                    && (!found.is_empty() || joined.node.global_nodes().is_empty())
            }
        };
        if done {
            break;
        }
        match tokio::time::timeout_at(deadline, questions.join_next()).await {
            Ok(Some(Ok(Answer::Database(ports)))) => {
                database = Some(!ports.is_empty());
                found.extend(ports.iter().map(ToString::to_string));
            }
            Ok(Some(Ok(Answer::Seed(i, port)))) => {
                seeds_done[i] = true;
                found.extend(port);
            }
            Ok(Some(Err(_))) => {}
            Ok(None) => break,
            Err(_) => {
                if database.is_none() {
                    eprintln!(
                        "aemp: warning: lookup: the global database did not answer within {}",
                        secs(limit)
                    );
                }
                break;
            }
        }
    }
    questions.abort_all();
    if found.is_empty() {
        return Err(match database {
            Some(_) => format!("no port registered as {name} (the global database knows none, and no seed has one of that name)"),
            None => format!("no port registered as {name}"),
        });
    }
    found.sort();
    found.dedup();
    for port in found {
        println!("{port}");
    }
    Ok(())
}
