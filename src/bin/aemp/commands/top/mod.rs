//! `aemp top`: every node of the network, its links with their rates, its busiest ports and
//! the database's families, from each aemp node's `aemp_stats` snapshot; AnyEvent::MP
//! nodes are listed from the database with their listeners.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aemp::config::to_json;
use aemp::kernel::{LinkStats, Stats, LISTENERS, STATS};
use aemp::{PortId, Value};

use super::net::Joined;

mod tui;

/// How long a node gets to answer the snapshot request (Perl nodes never do).
const ASK: Duration = Duration::from_millis(1500);

/// One node as `top` sees it.
struct Seen {
    id: String,
    listeners: Vec<String>,
    stats: Option<Stats>,
}

/// Every node the network knows (the database's listeners, and those we are linked with),
/// with the snapshot of those that answer.
async fn survey(joined: &Joined, limit: Duration) -> Vec<Seen> {
    let node = &joined.node;
    let listeners = tokio::time::timeout(limit, node.db_family(LISTENERS))
        .await
        .unwrap_or_default();
    let mut ids: BTreeSet<String> = listeners.keys().cloned().collect();
    ids.extend(node.up_nodes());
    ids.extend(joined.seeds.iter().map(|s| s.id.clone()));
    ids.remove(node.id());
    let first: Vec<String> = ids.into_iter().collect();
    let answers = ask_all(node, first.iter(), limit).await;
    // Nodes linked now with the surveyed ones that the database does not list (AnyEvent::MP
    // nodes without the global protocol, say): listed too, asked too. (A link that is down
    // names a node that left, or this tool's own probe.)
    let more: BTreeSet<String> = answers
        .iter()
        .flatten()
        .flat_map(|st| st.links.iter().filter(|l| l.up).map(|l| l.node.clone()))
        .filter(|id| !first.contains(id) && id != node.id())
        .collect();
    let more: Vec<String> = more.into_iter().collect();
    let more_answers = ask_all(node, more.iter(), limit).await;
    first
        .into_iter()
        .zip(answers)
        .chain(more.into_iter().zip(more_answers))
        .map(|(id, stats)| Seen {
            listeners: listeners
                .get(&id)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.to_text().map(|t| t.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            id,
            stats,
        })
        .collect()
}

/// Asks each node for its snapshot, at once: the answers, in the same order.
async fn ask_all<'a>(
    node: &aemp::Node,
    ids: impl Iterator<Item = &'a String>,
    limit: Duration,
) -> Vec<Option<Stats>> {
    let asks = ids.map(|id| {
        let call = node.cal(PortId::new(id, ""), vec![Value::from(STATS)]);
        async move {
            match tokio::time::timeout(ASK.min(limit), call).await {
                Ok(Ok(mut reply)) if !reply.is_empty() => {
                    aemp::transport::from_value::<Stats>(reply.swap_remove(0)).ok()
                }
                _ => None,
            }
        }
    });
    futures::future::join_all(asks).await
}

/// `top --once [--json]`: one survey, printed.
pub(crate) async fn once(joined: &Joined, json: bool, limit: Duration) -> Result<(), String> {
    let seen = survey(joined, limit).await;
    if json {
        let nodes: Vec<Value> = seen.iter().map(node_json).collect();
        let doc = Value::Map(vec![(Value::from("nodes"), Value::Array(nodes))]);
        println!("{}", to_json(&doc, false));
    } else {
        print!("{}", render(&seen, None, &[]));
    }
    Ok(())
}

/// `top`: the live view in a terminal; on anything else (a pipe, a file) the text view,
/// written again every second until interrupted.
pub(crate) async fn live(joined: &Joined, limit: Duration) -> Result<(), String> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        return tui::run(joined, limit).await;
    }
    text_loop(joined, limit).await
}

/// The text view every second, with the nodes that came and went since it started.
async fn text_loop(joined: &Joined, limit: Duration) -> Result<(), String> {
    let mut before: Option<(Instant, Vec<Seen>)> = None;
    let mut events: Vec<String> = Vec::new();
    let mut known: Option<BTreeSet<String>> = None;
    loop {
        let seen = survey(joined, limit).await;
        let ids: BTreeSet<String> = seen.iter().map(|s| s.id.clone()).collect();
        if let Some(old) = &known {
            for id in ids.difference(old) {
                events.push(format!("{} node {id} up", clock()));
            }
            for id in old.difference(&ids) {
                events.push(format!("{} node {id} down", clock()));
            }
        }
        known = Some(ids);
        let tail = events.len().saturating_sub(8);
        println!(
            "{}",
            render(
                &seen,
                before.as_ref().map(|(t, s)| (t.elapsed(), s.as_slice())),
                &events[tail..]
            )
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        before = Some((Instant::now(), seen));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

fn node_json(s: &Seen) -> Value {
    let stats = s
        .stats
        .as_ref()
        .and_then(|st| aemp::transport::to_value(st).ok())
        .unwrap_or(Value::Null);
    Value::Map(vec![
        (Value::from("node"), Value::from(s.id.as_str())),
        (
            Value::from("listeners"),
            Value::Array(
                s.listeners
                    .iter()
                    .map(|l| Value::from(l.as_str()))
                    .collect(),
            ),
        ),
        (
            Value::from("kind"),
            Value::from(if s.stats.is_some() { "aemp" } else { "other" }),
        ),
        (Value::from("stats"), stats),
    ])
}

/// Messages per second on `node`'s `link` since the survey `before` (taken that long
/// before this one), as `pick` counts them.
fn link_rate(
    before: Option<(Duration, &[Seen])>,
    node: &str,
    link: &LinkStats,
    pick: fn(&LinkStats) -> u64,
) -> Option<f64> {
    let (dt, old) = before?;
    let was = old
        .iter()
        .find(|s| s.id == node)?
        .stats
        .as_ref()?
        .links
        .iter()
        .find(|l| l.node == link.node)
        .map(pick)?;
    Some(pick(link).saturating_sub(was) as f64 / dt.as_secs_f64().max(1e-3))
}

/// The text view; with an earlier survey (and how long ago), the links' rates.
fn render(seen: &[Seen], before: Option<(Duration, &[Seen])>, events: &[String]) -> String {
    let mut out = String::new();
    out.push_str(&format!("aemp top: {} nodes\n\n", seen.len()));
    let mut families: BTreeMap<String, usize> = BTreeMap::new();
    for s in seen {
        match &s.stats {
            None => out.push_str(&format!(
                "{}  (not aemp: no snapshot)  listeners {}\n",
                s.id,
                s.listeners.join(",")
            )),
            Some(st) => {
                out.push_str(&format!(
                    "{}  {}  up {:.0} s  ports {}  monitors {}  {}{}\n",
                    st.node,
                    st.provider,
                    st.uptime_s,
                    st.ports,
                    st.monitors,
                    if st.global { "global" } else { "member" },
                    st.master
                        .as_ref()
                        .map(|m| format!(" of {m}"))
                        .unwrap_or_default()
                ));
                for l in &st.links {
                    let r_in = link_rate(before, &st.node, l, |l| l.messages_in);
                    let r_out = link_rate(before, &st.node, l, |l| l.messages_out);
                    out.push_str(&format!(
                        "  link {:<24} {:<4} in {:>10} msg {:>12} B{}  out {:>10} msg {:>12} B{}  buffered {}\n",
                        l.node,
                        if l.up { "up" } else { "down" },
                        l.messages_in,
                        l.bytes_in,
                        r_in.map(|r| format!(" ({r:.0}/s)")).unwrap_or_default(),
                        l.messages_out,
                        l.bytes_out,
                        r_out.map(|r| format!(" ({r:.0}/s)")).unwrap_or_default(),
                        l.buffered
                    ));
                }
                for p in st.busiest.iter().take(5) {
                    out.push_str(&format!(
                        "  port {:<32} queued {:>8}  handled {:>10}\n",
                        p.port, p.queued, p.handled
                    ));
                }
                for (f, n) in &st.families {
                    let e = families.entry(f.clone()).or_default();
                    *e = (*e).max(*n);
                }
            }
        }
    }
    if !families.is_empty() {
        out.push_str("\ndatabase families:");
        for (f, n) in &families {
            out.push_str(&format!(" {f} ({n})"));
        }
        out.push('\n');
    }
    if !events.is_empty() {
        out.push_str("\nevents:\n");
        for e in events {
            out.push_str(&format!("  {e}\n"));
        }
    }
    out
}
