//! The live view of `aemp top` in a terminal (ratatui): every node with its rates, the
//! links and busiest ports of the node selected, the database's families, and nodes coming
//! and going as the database and this node's links report them.
//!
//! Keys: `↑`/`↓` (or `k`/`j`) select a node, `r` surveys again now, `q`, `Esc` or `Ctrl-C`
//! quit. A survey runs beside the keys, so a slow node never freezes the view.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aemp::kernel::{LinkStats, LISTENERS};
use aemp::NodeEvent;
use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use futures::StreamExt;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::{DefaultTerminal, Frame};

use super::{clock, link_rate, survey, Seen};
use crate::commands::net::Joined;

/// How many events the view keeps.
const EVENTS: usize = 200;

/// What the view shows.
struct Model {
    seen: Vec<Seen>,
    /// The survey before, and how long before the last one it was taken (for rates).
    before: Option<(Duration, Vec<Seen>)>,
    surveyed_at: Option<(tokio::time::Instant, String)>,
    events: VecDeque<String>,
    known: Option<BTreeSet<String>>,
    nodes: TableState,
}

impl Model {
    fn surveyed(&mut self, seen: Vec<Seen>) {
        let now = tokio::time::Instant::now();
        let ids: BTreeSet<String> = seen.iter().map(|s| s.id.clone()).collect();
        if let Some(old) = self.known.take() {
            for id in ids.difference(&old) {
                self.event(format!("node {id} seen"));
            }
            for id in old.difference(&ids) {
                self.event(format!("node {id} gone"));
            }
        }
        self.known = Some(ids);
        let old = std::mem::replace(&mut self.seen, seen);
        self.before = self.surveyed_at.take().map(|(at, _)| (now - at, old));
        self.surveyed_at = Some((now, clock()));
        let n = self.seen.len();
        match self.nodes.selected() {
            _ if n == 0 => self.nodes.select(None),
            None => self.nodes.select(Some(0)),
            Some(i) if i >= n => self.nodes.select(Some(n - 1)),
            Some(_) => {}
        }
    }

    /// Nodes the database lists or no longer lists (`own`, this view's node, aside). Before
    /// the first survey, what the database holds is the starting point, not news.
    fn listed(&mut self, own: &str, added: Vec<String>, deleted: Vec<String>) {
        let Some(mut known) = self.known.take() else {
            return;
        };
        for id in added.into_iter().filter(|id| id != own) {
            if known.insert(id.clone()) {
                self.event(format!("node {id} up"));
            }
        }
        for id in deleted.into_iter().filter(|id| id != own) {
            if known.remove(&id) {
                self.event(format!("node {id} down"));
            }
        }
        self.known = Some(known);
    }

    fn event(&mut self, what: String) {
        if self.events.len() == EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(format!("{} {what}", clock()));
    }

    /// Messages per second on `node`'s `link` since the survey before.
    fn rate(&self, node: &str, link: &LinkStats, pick: fn(&LinkStats) -> u64) -> Option<f64> {
        let before = self.before.as_ref().map(|(dt, old)| (*dt, old.as_slice()));
        link_rate(before, node, link, pick)
    }

    fn move_selection(&mut self, by: isize) {
        let n = self.seen.len();
        if n == 0 {
            return;
        }
        let at = self.nodes.selected().unwrap_or(0) as isize + by;
        self.nodes
            .select(Some(at.clamp(0, n as isize - 1) as usize));
    }
}

/// Restores the terminal however the view ends (an error, a panic unwinding).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

type Survey<'a> = Pin<Box<dyn Future<Output = Vec<Seen>> + 'a>>;

/// Runs the view until the user quits.
pub(crate) async fn run(joined: &Joined, limit: Duration) -> Result<(), String> {
    let mut terminal = ratatui::try_init().map_err(|e| format!("cannot use the terminal: {e}"))?;
    let _restore = Restore;
    let mut model = Model {
        seen: Vec::new(),
        before: None,
        surveyed_at: None,
        events: VecDeque::new(),
        known: None,
        nodes: TableState::default(),
    };
    let mut keys = EventStream::new();
    let mut links = joined.node.node_events();
    let mut listeners = joined.node.db_watch(LISTENERS);
    let mut pending: Option<Survey<'_>> = Some(Box::pin(survey(joined, limit)));
    let mut next = tokio::time::Instant::now();
    loop {
        draw(&mut terminal, &mut model)?;
        tokio::select! {
            seen = async { pending.as_mut().expect("guarded").await }, if pending.is_some() => {
                pending = None;
                model.surveyed(seen);
                next = tokio::time::Instant::now() + Duration::from_secs(1);
            }
            _ = tokio::time::sleep_until(next), if pending.is_none() => {
                pending = Some(Box::pin(survey(joined, limit)));
            }
            Some(event) = links.next() => match event {
                NodeEvent::Up(id) => model.event(format!("link to {id} up")),
                NodeEvent::Down(id, reason) => {
                    model.event(format!("link to {id} down: {}", aemp::format_reason(&reason)))
                }
            },
            Some(change) = listeners.recv() => {
                model.listed(joined.node.id(), change.added, change.deleted);
                // What changed shows at once, not at the next tick.
                if pending.is_none() {
                    pending = Some(Box::pin(survey(joined, limit)));
                }
            }
            key = keys.next() => match key {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => match k.code {
                    KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        return Ok(())
                    }
                    KeyCode::Up | KeyCode::Char('k') => model.move_selection(-1),
                    KeyCode::Down | KeyCode::Char('j') => model.move_selection(1),
                    KeyCode::Home => model.move_selection(isize::MIN / 2),
                    KeyCode::End => model.move_selection(isize::MAX / 2),
                    KeyCode::Char('r') if pending.is_none() => {
                        pending = Some(Box::pin(survey(joined, limit)));
                    }
                    _ => {}
                },
                Some(Ok(_)) => {} // a resize or the like: drawn again above
                Some(Err(e)) => return Err(format!("reading the terminal: {e}")),
                None => return Ok(()),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn draw(terminal: &mut DefaultTerminal, model: &mut Model) -> Result<(), String> {
    terminal
        .draw(|f| view(f, model))
        .map(|_| ())
        .map_err(|e| format!("drawing: {e}"))
}

fn view(f: &mut Frame<'_>, m: &mut Model) {
    let [nodes, detail, bottom, help] = Layout::vertical([
        Constraint::Percentage(35),
        Constraint::Percentage(40),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    nodes_table(f, m, nodes);
    let [links, ports] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(detail);
    let selected = m.nodes.selected().and_then(|i| m.seen.get(i));
    links_table(f, m, selected, links);
    ports_table(f, selected, ports);
    let [families, events] =
        Layout::horizontal([Constraint::Percentage(35), Constraint::Fill(1)]).areas(bottom);
    families_list(f, m, families);
    let shown = events.height.saturating_sub(2) as usize;
    let lines: Vec<Line<'_>> = m
        .events
        .iter()
        .skip(m.events.len().saturating_sub(shown))
        .map(|e| Line::raw(e.as_str()))
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" events ")),
        events,
    );
    f.render_widget(
        Line::raw(" q quit · ↑/↓ select a node · r survey now").dim(),
        help,
    );
}

fn nodes_table(f: &mut Frame<'_>, m: &mut Model, area: Rect) {
    let aemp = m.seen.iter().filter(|s| s.stats.is_some()).count();
    let title = format!(
        " aemp top: {} nodes ({aemp} aemp, {} other){} ",
        m.seen.len(),
        m.seen.len() - aemp,
        m.surveyed_at
            .as_ref()
            .map(|(_, at)| format!(", surveyed {at}"))
            .unwrap_or_else(|| ", surveying...".to_owned())
    );
    let rows: Vec<Row<'_>> = m
        .seen
        .iter()
        .map(|s| match &s.stats {
            None => Row::new(vec![
                s.id.clone(),
                "other".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                s.listeners.join(","),
            ]),
            Some(st) => {
                let sum = |pick: fn(&LinkStats) -> u64| {
                    st.links
                        .iter()
                        .map(|l| m.rate(&s.id, l, pick))
                        .sum::<Option<f64>>()
                };
                Row::new(vec![
                    s.id.clone(),
                    st.provider.clone(),
                    format!("{:.0} s", st.uptime_s),
                    st.ports.to_string(),
                    st.monitors.to_string(),
                    format!(
                        "{}/{}",
                        st.links.iter().filter(|l| l.up).count(),
                        st.links.len()
                    ),
                    rate_text(sum(|l| l.messages_in)),
                    rate_text(sum(|l| l.messages_out)),
                    match &st.master {
                        _ if st.global => "global".to_owned(),
                        Some(master) => format!("member of {master}"),
                        None => "member".to_owned(),
                    },
                ])
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(2),
            Constraint::Length(12),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Fill(2),
        ],
    )
    .header(
        Row::new(vec![
            "node",
            "kind",
            "up",
            "ports",
            "monitors",
            "links",
            "in msg/s",
            "out msg/s",
            "role",
        ])
        .bold(),
    )
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .highlight_symbol("> ")
    .block(Block::bordered().title(title));
    f.render_stateful_widget(table, area, &mut m.nodes);
}

fn links_table(f: &mut Frame<'_>, m: &Model, node: Option<&Seen>, area: Rect) {
    let title = format!(" links of {} ", node.map_or("-", |s| s.id.as_str()));
    let rows: Vec<Row<'_>> = node
        .and_then(|s| Some((s, s.stats.as_ref()?)))
        .map(|(s, st)| {
            st.links
                .iter()
                .map(|l| {
                    Row::new(vec![
                        l.node.clone(),
                        if l.up { "up" } else { "down" }.to_owned(),
                        rate_text(m.rate(&s.id, l, |l| l.messages_in)),
                        rate_text(m.rate(&s.id, l, |l| l.messages_out)),
                        l.messages_in.to_string(),
                        l.messages_out.to_string(),
                        l.buffered.to_string(),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(5),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(9),
        ],
    )
    .header(
        Row::new(vec![
            "peer",
            "state",
            "in msg/s",
            "out msg/s",
            "msgs in",
            "msgs out",
            "buffered",
        ])
        .bold(),
    )
    .block(Block::bordered().title(title));
    f.render_widget(table, area);
}

fn ports_table(f: &mut Frame<'_>, node: Option<&Seen>, area: Rect) {
    let rows: Vec<Row<'_>> = node
        .and_then(|s| s.stats.as_ref())
        .map(|st| {
            st.busiest
                .iter()
                .map(|p| {
                    Row::new(vec![
                        p.port.clone(),
                        p.queued.to_string(),
                        p.handled.to_string(),
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(10),
        ],
    )
    .header(Row::new(vec!["port", "queued", "handled"]).bold())
    .block(Block::bordered().title(" busiest ports "));
    f.render_widget(table, area);
}

fn families_list(f: &mut Frame<'_>, m: &Model, area: Rect) {
    // What the nodes report (a global node knows every family; others, their own).
    let mut families: BTreeMap<&str, usize> = BTreeMap::new();
    for st in m.seen.iter().filter_map(|s| s.stats.as_ref()) {
        for (name, keys) in &st.families {
            let n = families.entry(name.as_str()).or_default();
            *n = (*n).max(*keys);
        }
    }
    let lines: Vec<Line<'_>> = families
        .iter()
        .map(|(name, keys)| Line::raw(format!("{name}  {keys}")))
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" database families (keys) ")),
        area,
    );
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"))
}
