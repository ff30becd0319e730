//! [`NodeBuilder`]: how a node is configured and started. The builder is the kernel's
//! composition root: it makes the node and installs its node port, so it sits above both.

use std::sync::Arc;
use std::time::Duration;

use aemp_transport::{AuthMethod, Framing, Value};

use crate::link::{Heartbeat, LinkSettings};
use crate::node::ctx::{CallCtx, Ctx, HandlerOutcome};
use crate::node::inner::Parts;
use crate::node::Node;
use crate::protocol::spawn::{BoxInit, CustomSpawn};
use crate::protocol::{NodePortRunner, Registry, Spawnable};
use crate::wire::{BUILTIN_REQUESTS, HEARTBEAT_KEY};
use crate::Error;

/// AnyEvent::MP 2.x's `connect_interval`: the time a connection attempt may take, 2 s.
pub const DEFAULT_CONNECT_INTERVAL: Duration = Duration::from_secs(2);

/// Settings a builder takes for what it leaves unset (a profile's, from `aemp-config`).
/// Every field is optional; empty lists count as unset.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Defaults {
    /// The node id (a trailing `/` is expanded as in [`NodeBuilder::node_id`]).
    pub node_id: Option<String>,
    /// Listen addresses (`host:port`); `Some(vec![])` means none.
    pub binds: Option<Vec<String>>,
    /// Seed addresses.
    pub seeds: Vec<String>,
    /// The shared secret.
    pub secret: Option<String>,
    /// The certificate PEM.
    pub cert_pem: Option<Vec<u8>>,
    /// Framings, in order of preference.
    pub framings: Option<Vec<Framing>>,
    /// Auth methods to send.
    pub auth_offer: Option<Vec<AuthMethod>>,
    /// Auth methods to accept.
    pub auth_accept: Option<Vec<AuthMethod>>,
    /// The handshake limit.
    pub monitor_timeout: Option<Duration>,
    /// How long a connection attempt may take.
    pub connect_interval: Option<Duration>,
}

type DefaultsFn = Box<dyn FnOnce() -> Result<Defaults, Error> + Send>;

/// Configures and starts a [`Node`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), aemp_actor::Error> {
/// use aemp_actor::Node;
/// let node = Node::builder()
///     .node_id("web1")
///     .bind("127.0.0.1:0")
///     .secret("s3cr3t")
///     .spawnable("web::worker", |ctx, _args| {
///         ctx.rcv("ping", |ctx, _msg| { let _ = ctx.kil(vec![]); });
///     })
///     .start()
///     .await?;
/// assert_eq!(node.id(), "web1");
/// assert_eq!(node.listen_addrs().len(), 1);
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct NodeBuilder {
    node_id: Option<String>,
    binds: Vec<String>,
    seeds: Vec<String>,
    /// Set by `defaults_from()`: run at `start()`, for what was not set explicitly.
    defaults: Option<DefaultsFn>,
    secret: Option<String>,
    cert_pem: Option<Vec<u8>>,
    framings: Option<Vec<Framing>>,
    auth_offer: Option<Vec<AuthMethod>>,
    auth_accept: Option<Vec<AuthMethod>>,
    monitor_timeout: Option<Duration>,
    send_buffer_limit: Option<usize>,
    connect_interval: Option<Duration>,
    heartbeat: Option<Option<Heartbeat>>,
    registry: Registry,
    errors: Vec<Error>,
}

impl std::fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("node_id", &self.node_id)
            .field("binds", &self.binds)
            .finish_non_exhaustive()
    }
}

impl NodeBuilder {
    /// The node id (default: `aemp/` and 10 random characters, as AnyEvent::MP's `%u`).
    /// A trailing `/` is expanded the same way (`"web/"` becomes `web/Xq3…`).
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.node_id = Some(id.into());
        self
    }

    /// Listens on `addr` (`host:port`; port 0 picks a free port, see
    /// [`Node::listen_addrs`]). May be given several times. Without binds the node can only
    /// dial out.
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.binds.push(addr.into());
        self
    }

    /// A seed node's address (`host:port`), to join the network through (see
    /// `docs/semantics.md`, seeds). May be given several times.
    pub fn seed(mut self, addr: impl Into<String>) -> Self {
        self.seeds.push(addr.into());
        self
    }

    /// The shared secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The certificate PEM (private key and certificates), as AnyEvent::MP's `cert`.
    pub fn cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cert_pem = Some(pem.into());
        self
    }

    /// The framings to accept, in order of preference (default `cbor,json`).
    pub fn framings(mut self, framings: impl IntoIterator<Item = Framing>) -> Self {
        self.framings = Some(framings.into_iter().collect());
        self
    }

    /// The auth methods to send (default `tls_sha3_512,hmac_sha3_512`).
    pub fn auth_offer(mut self, methods: impl IntoIterator<Item = AuthMethod>) -> Self {
        self.auth_offer = Some(methods.into_iter().collect());
        self
    }

    /// The auth methods to accept (default `tls_sha3_512,hmac_sha3_512,tls_anon,cleartext`).
    pub fn auth_accept(mut self, methods: impl IntoIterator<Item = AuthMethod>) -> Self {
        self.auth_accept = Some(methods.into_iter().collect());
        self
    }

    /// The send buffer of each connection, in bytes (default 8 MiB): past it, the node
    /// reads no more from a peer until the peer has read what it was sent (see
    /// `docs/semantics.md`, "A peer that does not read costs a bounded buffer").
    pub fn send_buffer_limit(mut self, bytes: usize) -> Self {
        self.send_buffer_limit = Some(bytes);
        self
    }

    /// The handshake limit (default 30 s), and how long a write to a peer may make no
    /// progress before its connection is given up.
    pub fn monitor_timeout(mut self, timeout: Duration) -> Self {
        self.monitor_timeout = Some(timeout);
        self
    }

    /// How long a connection attempt may take before its messages are dropped and its
    /// monitors fire (default 2 s).
    pub fn connect_interval(mut self, interval: Duration) -> Self {
        self.connect_interval = Some(interval);
        self
    }

    /// The heartbeat between aemp nodes (default: every second, dead after 5 s of silence).
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(Some(heartbeat));
        self
    }

    /// No heartbeat: rely on TCP alone, as AnyEvent::MP does.
    pub fn no_heartbeat(mut self) -> Self {
        self.heartbeat = Some(None);
        self
    }

    /// Registers a function other nodes may call by name through the node port
    /// (`["", name, args...]`, Perl's `snd_to_func`). Only registered names can be called.
    pub fn function<F, R>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(&CallCtx<'_>, Vec<Value>) -> R + Send + Sync + 'static,
        R: HandlerOutcome,
    {
        if BUILTIN_REQUESTS.contains(&name)
            || self.registry.functions.contains_key(name)
            || name.starts_with("g_")
        {
            self.errors.push(Error::NameTaken(name.to_owned()));
        } else {
            self.registry.functions.insert(
                name.to_owned(),
                Box::new(move |ctx, args| f(ctx, args).into_outcome()),
            );
        }
        self
    }

    /// Registers an init function that `spawn` may run by name on this node, from any node
    /// (Perl ones too: `spawn $node, "name", @args`). It gets the new port's context and the
    /// spawn arguments, and must give the port its handlers.
    pub fn spawnable<F, R>(self, name: &str, init: F) -> Self
    where
        F: Fn(&Ctx<'_>, Vec<Value>) -> R + Send + Sync + 'static,
        R: HandlerOutcome,
    {
        let init: BoxInit = Arc::new(move |ctx, args| init(ctx, args).into_outcome());
        self.add_spawnable(name, Spawnable::Handlers(init))
    }

    /// Registers a spawnable that creates its port itself (see [`CustomSpawn`]).
    pub(crate) fn custom_spawnable(self, name: &str, f: Arc<CustomSpawn>) -> Self {
        self.add_spawnable(name, Spawnable::Custom(f))
    }

    fn add_spawnable(mut self, name: &str, s: Spawnable) -> Self {
        if self.registry.spawnables.contains_key(name) {
            self.errors.push(Error::NameTaken(name.to_owned()));
        } else {
            self.registry.spawnables.insert(name.to_owned(), s);
        }
        self
    }

    /// Takes every setting this builder leaves unset from `defaults`, now. A later call of a
    /// single setting (`secret`, `node_id`, ...) replaces the default; a later `bind` or
    /// `seed` adds to the defaults' lists. (To have explicit calls win whatever their order,
    /// use [`NodeBuilder::defaults_from`].)
    ///
    /// ```
    /// use aemp_actor::{Defaults, Node};
    /// let mut d = Defaults::default();
    /// d.secret = Some("from a file".into());
    /// let builder = Node::builder().node_id("n").defaults(d);
    /// # let _ = builder;
    /// ```
    pub fn defaults(mut self, defaults: Defaults) -> Self {
        self.fill(defaults);
        self
    }

    /// Like [`NodeBuilder::defaults`], but the defaults are made by `f` when the node starts
    /// (so that a profile is read then, and explicit calls win whatever their order). An
    /// error of `f` fails [`NodeBuilder::start`].
    pub fn defaults_from(
        mut self,
        f: impl FnOnce() -> Result<Defaults, Error> + Send + 'static,
    ) -> Self {
        self.defaults = Some(Box::new(f));
        self
    }

    /// Fills what is unset from `d`.
    fn fill(&mut self, d: Defaults) {
        if self.node_id.is_none() {
            self.node_id = d.node_id;
        }
        if self.binds.is_empty() {
            self.binds = d.binds.unwrap_or_default();
        }
        if self.seeds.is_empty() {
            self.seeds = d.seeds;
        }
        if self.secret.is_none() {
            self.secret = d.secret;
        }
        if self.cert_pem.is_none() {
            self.cert_pem = d.cert_pem;
        }
        if self.framings.is_none() {
            self.framings = d.framings;
        }
        if self.auth_offer.is_none() {
            self.auth_offer = d.auth_offer;
        }
        if self.auth_accept.is_none() {
            self.auth_accept = d.auth_accept;
        }
        if self.monitor_timeout.is_none() {
            self.monitor_timeout = d.monitor_timeout;
        }
        if self.connect_interval.is_none() {
            self.connect_interval = d.connect_interval;
        }
    }

    /// Binds the listeners and starts the node (on the current tokio runtime).
    pub async fn start(mut self) -> Result<Node, Error> {
        if let Some(f) = self.defaults.take() {
            let d = f()?;
            self.fill(d);
        }
        if let Some(e) = self.errors.drain(..).next() {
            return Err(e);
        }
        let (id, random_id) = match self.node_id.take() {
            None => (aemp_transport::random_node_id("aemp"), true),
            Some(id) if id.ends_with('/') => (aemp_transport::random_node_id(&id), true),
            Some(id) => (id, false),
        };
        let heartbeat = self.heartbeat.unwrap_or(Some(Heartbeat::default()));
        let mut transport =
            aemp_transport::Config::new(id.clone())?.greeting_key("mproto", Some("1".into()))?;
        if let Some(hb) = heartbeat {
            if hb.interval.is_zero() || hb.timeout.is_zero() {
                return Err(Error::ZeroDuration {
                    setting: "heartbeat",
                });
            }
            transport = transport.greeting_key(
                HEARTBEAT_KEY,
                Some(format!("{}", hb.interval.as_secs_f64())),
            )?;
        }
        transport = transport.greeting_key(crate::trace::TRACE_KEY, Some("1".into()))?;
        if let Some(secret) = self.secret.take() {
            transport = transport.secret(secret);
        }
        if let Some(pem) = &self.cert_pem {
            transport = transport.cert_pem(pem)?;
        }
        if let Some(f) = self.framings.take() {
            transport = transport.framings(f)?;
        }
        if let Some(a) = self.auth_offer.take() {
            transport = transport.auth_offer(a)?;
        }
        if let Some(a) = self.auth_accept.take() {
            transport = transport.auth_accept(a)?;
        }
        if let Some(bytes) = self.send_buffer_limit {
            transport = transport.send_buffer_limit(bytes);
        }
        if let Some(t) = self.monitor_timeout {
            transport = transport.monitor_timeout(t);
        }
        let connect_interval = self.connect_interval.unwrap_or(DEFAULT_CONNECT_INTERVAL);
        if connect_interval.is_zero() {
            return Err(Error::ZeroDuration {
                setting: "connect_interval",
            });
        }
        let parts = Parts {
            id,
            random_id,
            settings: LinkSettings {
                connect_interval,
                heartbeat,
            },
            transport,
        };
        let registry = std::mem::take(&mut self.registry);
        let runtime = tokio::runtime::Handle::current();
        Node::assemble(
            parts,
            move |node| Arc::new(NodePortRunner::new(node, registry, runtime)),
            &self.binds,
            std::mem::take(&mut self.seeds),
        )
        .await
    }
}

impl Node {
    /// A builder for a node.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }
}
