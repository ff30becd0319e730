//! Supervision: a supervisor is a typed actor that starts its children in order, watches
//! them (their deaths come to it as trapped exits), restarts them as its [`Strategy`] and each child's
//! [`Restart`] policy say, within a restart intensity, and stops them in reverse order. A
//! child may run on this node or be spawned by name on another one, and move to the next
//! node of its [`Placement`] when its node is lost.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use aemp_actor::supervise::{ChildSpec, Strategy, Supervisor, SupervisorMsg};
//! use aemp_actor::{msg, Node};
//!
//! let node = Node::builder().start().await.unwrap();
//! let sup = Supervisor::new()
//!     .strategy(Strategy::OneForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::port("worker", |node| Ok(node.port_with(|_, _| {}))))
//!     .start(&node);
//! let first = sup.ask(SupervisorMsg::children()).await.unwrap()[0].1.clone().unwrap();
//! node.kil(&first, msg!["crash"]).unwrap();
//! // The worker runs again, on a new port.
//! let again = loop {
//!     let now = sup.ask(SupervisorMsg::children()).await.unwrap()[0].1.clone();
//!     if let Some(p) = now.filter(|p| *p != first) { break p; }
//!     tokio::task::yield_now().await;
//! };
//! assert_ne!(again, first);
//! # }
//! ```

mod spec;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use aemp_transport::Value;

use crate::error::{BoxError, MessageError};
use crate::global::DbRegGuard;
use crate::port::monitor::MonGuard;
use crate::typed::{Actor, ActorCtx, ActorRef, Message, Req};
use crate::{Node, PortId};

use spec::Start;
pub use spec::{ChildSpec, Placement, Restart, Strategy};

/// A supervisor's description: its strategy, its restart intensity and its children, in
/// start order. Cloneable, so that a supervisor can itself be a child
/// ([`ChildSpec::supervisor`]).
#[derive(Clone, Debug)]
pub struct Supervisor {
    strategy: Strategy,
    max_restarts: u32,
    within: Duration,
    children: Vec<ChildSpec>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::new()
    }
}

impl Supervisor {
    /// One-for-one, at most 3 restarts in 5 s, no children yet.
    pub fn new() -> Supervisor {
        Supervisor {
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            within: Duration::from_secs(5),
            children: Vec::new(),
        }
    }

    /// Which children are restarted when one dies.
    pub fn strategy(mut self, strategy: Strategy) -> Supervisor {
        self.strategy = strategy;
        self
    }

    /// At most `max` restarts `within` this long; one more and the supervisor stops (its
    /// children first) with `["restart_intensity", CHILD_ID, REASON...]`.
    pub fn intensity(mut self, max: u32, within: Duration) -> Supervisor {
        self.max_restarts = max;
        self.within = within;
        self
    }

    /// Adds a child; children start in the order they are added and stop in reverse.
    pub fn child(mut self, spec: ChildSpec) -> Supervisor {
        self.children.push(spec);
        self
    }

    /// Starts the supervisor on `node`; its children start before it handles anything.
    pub fn start(&self, node: &Node) -> ActorRef<SupervisorMsg> {
        node.spawn_actor(SupervisorActor {
            spec: self.clone(),
            children: self
                .children
                .iter()
                .map(|spec| Child {
                    spec: spec.clone(),
                    port: None,
                    link: None,
                    registration: None,
                    lost_on: None,
                    gone: false,
                    since: None,
                    deaths_in_row: 0,
                })
                .collect(),
            restarts: VecDeque::new(),
        })
    }
}

impl ChildSpec {
    /// A supervisor as a child: a tree. It counts as started once its own children have
    /// (so a tree starts depth first, in order).
    pub fn supervisor(id: impl Into<String>, supervisor: Supervisor) -> ChildSpec {
        ChildSpec::started_by(
            id,
            std::sync::Arc::new(move |node: &Node| {
                let sup = supervisor.start(node);
                Box::pin(async move {
                    // Asks are handled after `started`, which starts the children.
                    sup.ask(SupervisorMsg::children()).await?;
                    Ok(sup.id().clone())
                }) as spec::Started
            }),
        )
    }
}

/// What a supervisor answers.
#[derive(Debug, Clone, PartialEq)]
pub enum SupervisorMsg {
    /// `["children"]`: each child's id and current port (none while it is not running).
    Children,
}

impl SupervisorMsg {
    /// Asks for the children: `(id, port)` in start order.
    pub fn children() -> Req<SupervisorMsg, Vec<(String, Option<PortId>)>> {
        Req::new(SupervisorMsg::Children)
    }
}

impl Message for SupervisorMsg {
    const TAGS: &'static [&'static str] = &["children"];

    fn into_values(self) -> Result<Vec<Value>, MessageError> {
        Ok(vec![Value::from("children")])
    }

    fn from_values(mut msg: Vec<Value>) -> Result<(Self, Vec<Value>), MessageError> {
        use crate::typed::__private::{tag_of, unknown};
        let tag = tag_of(&msg)?;
        match tag.as_str() {
            "children" => Ok((SupervisorMsg::Children, msg.split_off(1))),
            _ => Err(unknown(tag, Self::TAGS)),
        }
    }
}

impl crate::typed::Request for SupervisorMsg {
    type Msg = SupervisorMsg;
    type Reply = Value;
    fn into_message(self) -> SupervisorMsg {
        self
    }
}

/// One child as the supervisor keeps it.
struct Child {
    spec: ChildSpec,
    /// The running incarnation.
    port: Option<PortId>,
    /// Its death comes to the supervisor as an exit (one way: the supervisor stops its
    /// children itself, in order).
    link: Option<MonGuard>,
    registration: Option<DbRegGuard>,
    /// The node its last incarnation was lost with (skipped when it starts again).
    lost_on: Option<String>,
    /// A temporary child that ended, or a transient one that ended normally: not started
    /// again by the strategy either.
    gone: bool,
    /// When the running incarnation started, and how many died in a row (for the backoff).
    since: Option<Instant>,
    deaths_in_row: u32,
}

struct SupervisorActor {
    spec: Supervisor,
    children: Vec<Child>,
    restarts: VecDeque<Instant>,
}

impl SupervisorActor {
    /// Starts child `i`, linked with the supervisor and registered if its spec says so.
    async fn start_child(&mut self, node: &Node, me: &PortId, i: usize) -> Result<(), BoxError> {
        let child = &mut self.children[i];
        let port = match &child.spec.start {
            Start::Local(f) => f(node).await?,
            Start::Spawn {
                init,
                args,
                placement,
            } => {
                let on = choose_node(node, placement, child.lost_on.as_deref()).await?;
                node.spawn(&on, init, args.clone())?
            }
        };
        child.link = Some(node.watch_exit(&port, me));
        child.registration = child
            .spec
            .register
            .as_ref()
            .map(|name| node.register_name(name, &port));
        tracing::info!(supervisor = %me, child = child.spec.id, port = %port, "child started");
        child.port = Some(port);
        child.since = Some(Instant::now());
        Ok(())
    }

    /// Stops child `i` (unlinked first, so its death is not taken for a crash): kills it
    /// with `["shutdown"]` and waits for its death up to its shutdown timeout.
    async fn stop_child(&mut self, node: &Node, i: usize) {
        let child = &mut self.children[i];
        let Some(port) = child.port.take() else {
            return;
        };
        drop(child.link.take());
        drop(child.registration.take());
        let death = node.monitor(&port);
        let _ = node.kil(&port, vec![Value::from("shutdown")]);
        if tokio::time::timeout(child.spec.shutdown, death)
            .await
            .is_err()
        {
            tracing::warn!(child = child.spec.id, port = %port, "child did not confirm its stop in time; going on");
        }
    }

    /// Starts the children `range` in order; the first that cannot start stops the
    /// supervisor.
    async fn start_all(&mut self, ctx: &mut ActorCtx<Self>, range: std::ops::Range<usize>) -> bool {
        let (node, me) = (ctx.node().clone(), ctx.myself().id().clone());
        for i in range {
            if self.children[i].gone || self.children[i].port.is_some() {
                continue;
            }
            if let Err(e) = self.start_child(&node, &me, i).await {
                let id = self.children[i].spec.id.clone();
                tracing::warn!(supervisor = %me, child = id, error = %e, "child cannot start");
                ctx.stop_with(vec![
                    Value::from("start_failed"),
                    Value::from(id),
                    Value::from(e.to_string()),
                ]);
                return false;
            }
        }
        true
    }

    /// Child `i` died with `reason`.
    async fn child_died(&mut self, ctx: &mut ActorCtx<Self>, i: usize, reason: Vec<Value>) {
        let node = ctx.node().clone();
        let child = &mut self.children[i];
        child.port = None;
        drop(child.link.take());
        drop(child.registration.take());
        child.lost_on = lost_node(&reason);
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_empty(),
            Restart::Temporary => false,
        };
        let why = crate::format_reason(&reason);
        if reason.is_empty() {
            tracing::info!(
                "child {} ended normally{}",
                child.spec.id,
                if restart { "; restarting" } else { "" }
            );
        } else {
            tracing::warn!(
                "child {} died ({why}){}",
                child.spec.id,
                if restart { "; restarting" } else { "" }
            );
        }
        if !restart {
            child.gone = true;
            return;
        }
        // The restart intensity.
        let now = Instant::now();
        self.restarts.push_back(now);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.spec.within)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() > self.spec.max_restarts as usize {
            tracing::error!(
                "supervisor gives up: more than {} restarts in {:?} (child {} died: {})",
                self.spec.max_restarts,
                self.spec.within,
                self.children[i].spec.id,
                crate::format_reason(&reason)
            );
            let mut why = vec![
                Value::from("restart_intensity"),
                Value::from(self.children[i].spec.id.clone()),
            ];
            why.extend(reason);
            ctx.stop_with(why);
            return;
        }
        node.count_restart();
        // The backoff of the child that died.
        let child = &mut self.children[i];
        if child
            .since
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(60))
        {
            child.deaths_in_row = 0;
        }
        child.deaths_in_row = child.deaths_in_row.saturating_add(1);
        if let Some((first, max)) = child.spec.backoff {
            let pause = first
                .saturating_mul(1u32 << (child.deaths_in_row - 1).min(16))
                .min(max);
            tracing::info!(child = child.spec.id, pause = ?pause, "restarting after a pause");
            tokio::time::sleep(pause).await;
        }
        let first = match self.spec.strategy {
            Strategy::OneForOne => i,
            Strategy::OneForAll => 0,
            Strategy::RestForOne => i,
        };
        let last = match self.spec.strategy {
            Strategy::OneForOne => i + 1,
            _ => self.children.len(),
        };
        for j in (first..last).rev() {
            if j != i {
                self.stop_child(&node, j).await;
            }
        }
        self.start_all(ctx, first..last).await;
    }
}

/// The node a reason says was lost (`["transport_error", node, ...]`).
fn lost_node(reason: &[Value]) -> Option<String> {
    match (reason.first().and_then(Value::as_str), reason.get(1)) {
        (Some("transport_error"), Some(node)) => node.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Where a child spawned by name starts: the first candidate that is not known to be down,
/// skipping the node its last incarnation was lost with while another is left.
async fn choose_node(
    node: &Node,
    placement: &Placement,
    lost: Option<&str>,
) -> Result<String, BoxError> {
    let candidates: Vec<String> = match placement {
        Placement::Here => vec![node.id().to_owned()],
        Placement::Nodes(list) => list.clone(),
        Placement::Group(name) => {
            let mut nodes: Vec<String> = node
                .lookup_names(name)
                .await
                .iter()
                .map(|p| p.node().to_owned())
                .collect();
            nodes.sort();
            nodes.dedup();
            nodes
        }
    };
    let usable = |n: &&String| {
        Some(n.as_str()) != lost && (n.as_str() == node.id() || node.node_is_up(n) != Some(false))
    };
    candidates
        .iter()
        .find(usable)
        .or_else(|| candidates.iter().find(|n| Some(n.as_str()) != lost))
        .or(candidates.first())
        .cloned()
        .ok_or_else(|| format!("no node to start on ({placement:?} is empty)").into())
}

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;

    async fn handle(
        &mut self,
        _ctx: &mut ActorCtx<Self>,
        msg: SupervisorMsg,
    ) -> Result<Option<Value>, BoxError> {
        match msg {
            SupervisorMsg::Children => {
                let list: Vec<(String, Option<PortId>)> = self
                    .children
                    .iter()
                    .map(|c| (c.spec.id.clone(), c.port.clone()))
                    .collect();
                Ok(Some(aemp_transport::to_value(&list)?))
            }
        }
    }

    async fn started(&mut self, ctx: &mut ActorCtx<Self>) {
        ctx.trap_exits(true);
        let n = self.children.len();
        self.start_all(ctx, 0..n).await;
    }

    async fn on_link_died(&mut self, ctx: &mut ActorCtx<Self>, port: PortId, reason: Vec<Value>) {
        // A death of an earlier incarnation (or of a port it was not asked to watch) is old
        // news.
        if let Some(i) = self
            .children
            .iter()
            .position(|c| c.port.as_ref() == Some(&port))
        {
            self.child_died(ctx, i, reason).await;
        }
    }

    async fn stopped(&mut self, ctx: &mut ActorCtx<Self>, reason: &[Value]) {
        let node = ctx.node().clone();
        tracing::info!(supervisor = %ctx.myself(), reason = %crate::format_reason(reason), "supervisor stopping its children");
        for i in (0..self.children.len()).rev() {
            self.stop_child(&node, i).await;
        }
    }
}
