//! What a supervisor is told: its children's specs, its strategy and its limits.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aemp_transport::Value;

use crate::error::BoxError;
use crate::typed::Actor;
use crate::{Node, PortId};

/// Which children a supervisor restarts when one dies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that died.
    #[default]
    OneForOne,
    /// Every child: the others are stopped (in reverse order), then all start again (in
    /// order).
    OneForAll,
    /// The child that died and those after it (in the order of the specs).
    RestForOne,
}

/// When a child is restarted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restart {
    /// Always.
    #[default]
    Permanent,
    /// Only after an abnormal exit (a non-empty reason).
    Transient,
    /// Never: once it ends, it is gone.
    Temporary,
}

/// Where a child spawned by name runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// This node.
    Here,
    /// These nodes, in order of preference: the child runs on the first one that is up, and
    /// after a death moves on to the next (the one it died on last).
    Nodes(Vec<String>),
    /// The nodes of the ports registered under this name network-wide (a group,
    /// `register_name`), in the order of their ids.
    Group(String),
}

/// What a local child's start gives: its port, once it has started.
pub(crate) type Started = Pin<Box<dyn Future<Output = Result<PortId, BoxError>> + Send>>;

pub(crate) type StartFn = Arc<dyn Fn(&Node) -> Started + Send + Sync>;

/// How a child starts.
#[derive(Clone)]
pub(crate) enum Start {
    /// A function that makes a port on the supervisor's node.
    Local(StartFn),
    /// The init function `init` with `args`, spawned by name where the placement says.
    Spawn {
        init: String,
        args: Vec<Value>,
        placement: Placement,
    },
}

/// A child of a supervisor: how it starts, when it is restarted, how long it gets to stop,
/// and the name it is registered under network-wide, if any.
///
/// ```
/// use std::time::Duration;
/// use aemp_actor::supervise::{ChildSpec, Placement, Restart};
/// let spec = ChildSpec::spawn("squarer", "example::Squarer", vec![1.into()])
///     .placement(Placement::Nodes(vec!["b".into(), "c".into()]))
///     .restart(Restart::Transient)
///     .shutdown(Duration::from_secs(2))
///     .register_as("squarer");
/// assert_eq!(spec.id(), "squarer");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    pub(crate) start: Start,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Duration,
    pub(crate) register: Option<String>,
    /// The pause before a restart: the first, and the most it doubles to.
    pub(crate) backoff: Option<(Duration, Duration)>,
}

impl ChildSpec {
    fn new(id: impl Into<String>, start: Start) -> ChildSpec {
        ChildSpec {
            id: id.into(),
            start,
            restart: Restart::Permanent,
            shutdown: Duration::from_secs(5),
            register: None,
            backoff: None,
        }
    }

    /// A child that `start` makes on the supervisor's node (any port: `port_with`, a typed
    /// actor, another supervisor); its id is the port's.
    pub fn port(
        id: impl Into<String>,
        start: impl Fn(&Node) -> Result<PortId, BoxError> + Send + Sync + 'static,
    ) -> ChildSpec {
        ChildSpec::new(
            id,
            Start::Local(Arc::new(move |node: &Node| {
                let port = start(node);
                Box::pin(async move { port }) as Started
            })),
        )
    }

    /// A child whose start is done when the future `start` makes resolves (a supervisor
    /// whose own children have started, say).
    pub(crate) fn started_by(id: impl Into<String>, start: StartFn) -> ChildSpec {
        ChildSpec::new(id, Start::Local(start))
    }

    /// A typed actor that `make` builds afresh for every start, on the supervisor's node.
    pub fn actor<A: Actor>(
        id: impl Into<String>,
        make: impl Fn() -> A + Send + Sync + 'static,
    ) -> ChildSpec {
        ChildSpec::port(id, move |node| Ok(node.spawn_actor(make()).id().clone()))
    }

    /// A child spawned by name (`spawn NODE, INIT, ARGS...`: a spawnable actor or init
    /// function, on an aemp or a Perl node), on this node unless [`ChildSpec::placement`]
    /// says otherwise.
    pub fn spawn(id: impl Into<String>, init: impl Into<String>, args: Vec<Value>) -> ChildSpec {
        ChildSpec::new(
            id,
            Start::Spawn {
                init: init.into(),
                args,
                placement: Placement::Here,
            },
        )
    }

    /// Where a child spawned by name runs (ignored for the others).
    pub fn placement(mut self, placement: Placement) -> ChildSpec {
        if let Start::Spawn { placement: p, .. } = &mut self.start {
            *p = placement;
        }
        self
    }

    /// When it is restarted (default: [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> ChildSpec {
        self.restart = restart;
        self
    }

    /// How long its stop may take before the supervisor goes on without it (default 5 s).
    pub fn shutdown(mut self, timeout: Duration) -> ChildSpec {
        self.shutdown = timeout;
        self
    }

    /// Registers every incarnation under `name` network-wide (`register_name`), so that
    /// `lookup_name` finds the current one and `watch_name` sees each change.
    pub fn register_as(mut self, name: impl Into<String>) -> ChildSpec {
        self.register = Some(name.into());
        self
    }

    /// Pauses before restarting it: `first` after a death, doubling with every death in a
    /// row up to `max`; a child that ran a minute or more starts the count anew. (Default:
    /// none: restarted at once. The supervisor handles nothing else while it waits.)
    pub fn backoff(mut self, first: Duration, max: Duration) -> ChildSpec {
        self.backoff = Some((first, max.max(first)));
        self
    }

    /// Its id within the supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = match &self.start {
            Start::Local(_) => "local".to_owned(),
            Start::Spawn {
                init, placement, ..
            } => format!("spawn {init} {placement:?}"),
        };
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("start", &start)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("register", &self.register)
            .finish()
    }
}
