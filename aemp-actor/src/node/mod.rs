//! [`Node`]: one process's place in the network, and its whole public API in one place:
//! ports (`port`, `rcv`), messages (`snd`, `cal`), deaths (`kil`, `mon`), spawning, names,
//! connections and node events, the global database (links and `stats` in `linking.rs`).
//! The typed layer adds `spawn_actor` and typed references in `typed/`.
//!
//! | file | holds |
//! |---|---|
//! | `inner.rs` | what a node is made of, and the operations that span its parts |
//! | `ctx.rs` | what user code gets: `Ctx`, `CallCtx`, `HandlerOutcome` |
//! | `sink.rs` | handler ports (mailbox + drain task) and inline ports |
//! | `cal.rs` | `cal`: a request with a reply port, awaited |
//! | `listener.rs` | accepting connections |
//! | `linking.rs` | links, trapped exits, `stats` |
//! | `current.rs` | the node whose code runs on this thread |
//! | `stats.rs` | the `Stats` snapshot |

mod cal;
pub(crate) mod ctx;
mod current;
pub(crate) mod inner;
mod linking;
mod listener;
pub(crate) mod sink;
pub(crate) mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use aemp_transport::Value;
use tokio::sync::{mpsc, oneshot};

use crate::global::db::{self, Family};
use crate::global::{DbEvent, DbMonGuard, DbRegGuard, DbWatch, Query};
use crate::link::{NodeEvent, NodeEvents, NodesGuard};
use crate::port::monitor::{Action, MonGuard, Monitor};
use crate::port::{Port, Sink};
use crate::port_id::split;
use crate::sync::bus::Sub;
use crate::sync::lock;
use crate::{wire, Error, PortId, ToPort};
use ctx::{boxed, BoxHandler, BoxStart, Ctx, HandlerOutcome};
use inner::{NodeInner, NodePort, Parts};
pub(crate) use sink::Start;
use sink::{HandlerSink, InlineSink};

pub use cal::Call;
pub(crate) use current::{current_node, in_node, InNode};
pub use inner::Node;
pub(crate) use inner::{process_node, WeakNode};

impl Node {
    /// This node's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// This node's node port (the bare node id).
    pub fn node_port(&self) -> PortId {
        PortId::new(&self.inner.id, "")
    }

    /// The addresses the node listens on (ports resolved when bound to port 0).
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        lock(&self.inner.listen_addrs).clone()
    }

    /// Creates a port without handlers (its first message kills it with `unhandled_message`
    /// until [`Node::rcv`] gives it one).
    pub fn port(&self) -> PortId {
        self.handler_port(None, None)
            .expect("generated names are unique")
            .id
            .clone()
    }

    /// Creates a port whose default handler is `handler` (Perl's `port { ... }`).
    pub fn port_with<F, R>(&self, handler: F) -> PortId
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        let port = self
            .handler_port(None, None)
            .expect("generated names are unique");
        if let Some(h) = port.sink().as_any().downcast_ref::<HandlerSink>() {
            h.set_handler(None, Some(boxed(handler)));
        }
        port.id.clone()
    }

    /// Creates a port that calls `f` with every message right in the delivering task: for
    /// quick, non-blocking work (a channel send), not for handlers that take time.
    pub fn port_inline(&self, f: impl Fn(Vec<Value>) + Send + Sync + 'static) -> PortId {
        self.inner
            .create_port(None, InlineSink(Box::new(f)))
            .expect("generated names are unique")
            .id
            .clone()
    }

    /// Sets a handler of a local port (a typed actor's port takes none: its handlers are
    /// its methods).
    fn set_handler(
        &self,
        port: impl ToPort,
        tag: Option<&str>,
        h: Option<BoxHandler>,
    ) -> Result<(), Error> {
        let port = self.local(&port.to_port()?)?;
        if let Some(sink) = port.sink().as_any().downcast_ref::<HandlerSink>() {
            sink.set_handler(tag, h);
        }
        Ok(())
    }

    fn local(&self, port: &PortId) -> Result<Arc<Port>, Error> {
        if port.node() != self.id() {
            return Err(Error::NotLocal(port.to_string()));
        }
        if port.is_node_port() {
            return Err(Error::NodePort("given handlers"));
        }
        self.inner
            .ports
            .get(port.name())
            .ok_or_else(|| Error::NoSuchPort(port.to_string()))
    }

    /// Sets the handler for messages whose first element is `tag` (matched exactly); it gets
    /// the message without the tag. Replaces an earlier handler of that tag.
    pub fn rcv<F, R>(&self, port: impl ToPort, tag: &str, handler: F) -> Result<(), Error>
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        self.set_handler(port, Some(tag), Some(boxed(handler)))
    }

    /// Sets the default handler: it gets every message no tag handler takes, tag included.
    pub fn rcv_default<F, R>(&self, port: impl ToPort, handler: F) -> Result<(), Error>
    where
        F: FnMut(&Ctx<'_>, Vec<Value>) -> R + Send + 'static,
        R: HandlerOutcome,
    {
        self.set_handler(port, None, Some(boxed(handler)))
    }

    /// Removes the handler of `tag` (`None`: the default handler).
    pub fn unrcv(&self, port: impl ToPort, tag: Option<&str>) -> Result<(), Error> {
        self.set_handler(port, tag, None)
    }

    /// Sends `msg` to `port`, local or remote, without waiting. Messages from one port to
    /// another arrive in order. A remote node is connected on demand; messages wait for the
    /// connection (see `docs/semantics.md` for what happens when it fails).
    pub fn snd(&self, port: impl ToPort, msg: Vec<Value>) -> Result<(), Error> {
        self.inner
            .send_split(port.port_text(), port.node_and_name(), msg)
    }

    /// Sends `["snd", port, msg...]` to `node`'s node port, which relays it (Perl's `snd_on`).
    pub fn snd_on(&self, node: &str, port: impl ToPort, msg: Vec<Value>) -> Result<(), Error> {
        let port = port.to_port()?;
        let body = wire::request("snd", std::iter::once(Value::from(&port)).chain(msg));
        self.inner.send(node, body)
    }

    /// Calls the function registered as `name` on `node` with `args` (Perl's `snd_to_func`).
    pub fn snd_to_func(&self, node: &str, name: &str, args: Vec<Value>) -> Result<(), Error> {
        self.inner.send(node, wire::request(name, args))
    }

    /// Kills `port` with `reason` (empty: a normal exit), local or remote. Killing a port that
    /// does not exist is fine; killing a node port is an error.
    pub fn kil(&self, port: impl ToPort, reason: Vec<Value>) -> Result<(), Error> {
        self.inner.kill(port.port_text(), reason)
    }

    pub(crate) fn kill_local(&self, port: &PortId, reason: Vec<Value>) {
        self.inner.kill_local(port.name(), reason)
    }

    /// Calls `f` once with the kill reason when `port` dies (at once, with
    /// `["no_such_port", ...]`, if it does not exist or `port` is not a port id).
    pub fn mon(&self, port: impl ToPort, f: impl FnOnce(Vec<Value>) + Send + 'static) -> MonGuard {
        self.watch(port, Action::Callback(Box::new(f)))
    }

    /// When `port` dies with a non-empty reason, kills `receiver` with the same reason.
    pub fn mon_kill(&self, port: impl ToPort, receiver: impl ToPort) -> MonGuard {
        match receiver.to_port() {
            Ok(receiver) => self.watch(port, Action::Kill(receiver)),
            Err(e) => self.refused(port.port_text(), &e, Action::Callback(Box::new(drop))),
        }
    }

    /// When `port` dies, sends `receiver` the message `msg` with the reason appended.
    pub fn mon_snd(&self, port: impl ToPort, receiver: impl ToPort, msg: Vec<Value>) -> MonGuard {
        match receiver.to_port() {
            Ok(receiver) => self.watch(port, Action::Send(receiver, msg)),
            Err(e) => self.refused(port.port_text(), &e, Action::Callback(Box::new(drop))),
        }
    }

    /// A future that resolves with the kill reason of `port`.
    pub fn monitor(&self, port: impl ToPort) -> Monitor {
        let (tx, rx) = oneshot::channel();
        Monitor::new(self.watch(port, Action::Notify(tx)), rx)
    }

    fn watch(&self, port: impl ToPort, action: Action) -> MonGuard {
        match port.to_port() {
            Ok(port) => self.inner.monitor(&port, action),
            Err(e) => self.refused(port.port_text(), &e, action),
        }
    }

    /// A monitor of something that is not a port id: it fires at once.
    fn refused(&self, text: &str, error: &Error, action: Action) -> MonGuard {
        self.inner.refuse_monitor(text, error, action)
    }

    /// Sends `msg` with a fresh reply port appended; resolves to the reply (see [`Call`]).
    pub fn cal(&self, port: impl ToPort, msg: Vec<Value>) -> Call {
        Call::new(self.clone(), port.to_port(), msg)
    }

    /// Creates a port on `node` (a node id or any port id of it) and runs the init function
    /// registered there as `init` with `args`. Returns the new port's id at once.
    pub fn spawn(&self, node: impl ToPort, init: &str, args: Vec<Value>) -> Result<PortId, Error> {
        let node = split(node.port_text()).0;
        aemp_transport::check_node_id(node).map_err(|e| Error::InvalidPortId {
            id: node.to_owned(),
            reason: e.to_string(),
        })?;
        let name = self.inner.ports.spawn_name();
        let id = PortId::new(node, &name);
        let head = [Value::from(name), Value::from(init)];
        self.inner.send(
            node,
            wire::request(wire::SPAWN, head.into_iter().chain(args)),
        )?;
        Ok(id)
    }

    /// Registers `port` under `name` on this node, for the node port's `lookup` request.
    pub fn register(&self, name: &str, port: impl ToPort) -> Result<(), Error> {
        self.inner.ports.register(name, &port.to_port()?);
        Ok(())
    }

    /// Removes a registration.
    pub fn unregister(&self, name: &str) {
        self.inner.ports.unregister(name);
    }

    /// The port registered under `name` on this node.
    pub fn registered(&self, name: &str) -> Option<PortId> {
        self.inner.ports.registered(name)
    }

    /// Connects to the node listening at `addr` and returns its id once the connection is up
    /// (at once if it is up already). The address is remembered for reconnecting.
    pub async fn connect(&self, addr: &str) -> Result<String, Error> {
        Ok(self.inner.links.connect_addr(addr).await?)
    }

    /// Sets the addresses of `node`, tried in turn when a message needs a connection.
    pub fn set_addresses(&self, node: &str, addrs: Vec<String>) {
        self.inner.links.set_addresses(node, addrs);
    }

    /// The ids of the nodes connected now.
    pub fn up_nodes(&self) -> Vec<String> {
        self.inner.links.up_nodes()
    }

    /// `Some(true)` if connected (or this node), `Some(false)` if known but not connected,
    /// `None` if unknown.
    pub fn node_is_up(&self, node: &str) -> Option<bool> {
        if node == self.id() {
            return Some(true);
        }
        self.inner.links.is_up(node)
    }

    /// Calls `f` for every node up and down event, in order, until the guard is dropped.
    pub fn mon_nodes(&self, f: impl Fn(&NodeEvent) + Send + Sync + 'static) -> NodesGuard {
        self.inner.links.subscribe(Sub::Callback(Arc::new(f)))
    }

    /// A stream of node up and down events.
    pub fn node_events(&self) -> NodeEvents {
        let (rx, guard) = self.inner.links.event_channel();
        NodeEvents::new(rx, guard)
    }

    /// Closes the connection to `node` (writing out what is queued first): its monitors
    /// fire and a down event follows, as for a lost connection. A later message reconnects.
    pub fn disconnect(&self, node: &str) {
        self.inner.links.disconnect(node, "disconnected");
    }

    /// Stops listening, writes out what is queued on every connection and closes them (their
    /// monitors fire with `transport_error`). Local ports stay usable for local messages.
    pub async fn shutdown(&self) {
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        self.inner.links.shutdown().await;
    }

    // ---- the global database ----
    /// Sets `key` in `family` in this node's part of the global database (AnyEvent::MP's
    /// `db_set`); every node sees it until it is deleted or this node goes down.
    /// Families starting with `'` are reserved.
    pub fn db_set(&self, family: &str, key: &str, value: Value) {
        self.inner
            .global
            .db_change(family, vec![(key.to_owned(), value)], vec![]);
    }

    /// Deletes keys this node set in `family` (`db_del`).
    pub fn db_del(&self, family: &str, keys: &[&str]) {
        self.inner.global.db_change(
            family,
            vec![],
            keys.iter().map(|k| (*k).to_owned()).collect(),
        );
    }

    /// Sets `family`/`port` to `value` for as long as the port lives (`db_reg`): the entry
    /// goes when the port dies, or when the guard is dropped.
    pub fn db_reg(&self, family: &str, port: impl ToPort, value: Value) -> DbRegGuard {
        let key = port.port_text().to_owned();
        let global = &self.inner.global;
        global.db_change(family, vec![(key.clone(), value)], vec![]);
        let weak = Arc::downgrade(global);
        let (f, k) = (family.to_owned(), key.clone());
        let cleanup = Action::Internal(Box::new(move |_reason: &[Value]| {
            if let Some(global) = weak.upgrade() {
                global.db_change(&f, vec![], vec![k]);
            }
        }));
        // (Not a port id: the monitor fires at once and the entry goes again.)
        let mon = self.watch(port, cleanup);
        DbRegGuard::new(Arc::downgrade(global), family.to_owned(), key, mon)
    }

    /// The whole family, merged from every node (`db_family`), asked of the master.
    pub async fn db_family(&self, family: &str) -> Family {
        db::family_from_value(&self.inner.global.db_query(Query::Family, family).await)
    }

    /// The keys of a family (`db_keys`).
    pub async fn db_keys(&self, family: &str) -> Vec<String> {
        db::keys_from_value(&self.inner.global.db_query(Query::Keys, family).await)
    }

    /// The values of a family (`db_values`).
    pub async fn db_values(&self, family: &str) -> Vec<Value> {
        self.inner
            .global
            .db_query(Query::Values, family)
            .await
            .as_array()
            .unwrap_or_default()
            .to_vec()
    }

    /// Calls `f` with the family's contents at once, then on every change (`db_mon`), until
    /// the guard is dropped.
    pub fn db_mon(&self, family: &str, f: impl Fn(&DbEvent) + Send + Sync + 'static) -> DbMonGuard {
        self.inner
            .global
            .db_subscribe(family, Sub::Callback(Arc::new(f)))
    }

    /// A stream of a family's contents, then its changes (`db_mon` as a stream).
    pub fn db_watch(&self, family: &str) -> DbWatch {
        let (tx, rx) = mpsc::unbounded_channel();
        DbWatch::new(rx, self.inner.global.db_subscribe(family, Sub::Channel(tx)))
    }

    /// Registers `port` under `name` network-wide, for as long as it lives. Several ports
    /// may share a name: a group. (A `db_reg` of family `name`, as AnyEvent::MP 2.x's
    /// `grp_reg`; Perl nodes see the same entries.)
    pub fn register_name(&self, name: &str, port: impl ToPort) -> DbRegGuard {
        self.db_reg(name, port, Value::Null)
    }

    /// The ports registered under `name` anywhere (the members of the group).
    pub async fn lookup_names(&self, name: &str) -> Vec<PortId> {
        self.db_keys(name)
            .await
            .iter()
            .filter_map(|k| PortId::parse(k).ok())
            .collect()
    }

    /// One port registered under `name`, if any.
    pub async fn lookup_name(&self, name: &str) -> Option<PortId> {
        self.lookup_names(name).await.into_iter().next()
    }

    /// Watches the members of the group `name`: the first event lists them all.
    pub fn watch_name(&self, name: &str) -> DbWatch {
        self.db_watch(name)
    }

    /// Whether this node is a global node (it holds the merged database).
    pub fn is_global(&self) -> bool {
        self.inner.global.is_global()
    }

    /// The master this node reports to (itself on a global node).
    pub fn master(&self) -> Option<String> {
        self.inner.global.master()
    }

    /// The global nodes this node knows of.
    pub fn global_nodes(&self) -> Vec<String> {
        self.inner.global.global_nodes()
    }

    // ---- for the other parts of the crate (the builder, the node port, the typed layer) ----

    /// Makes a node of `parts`, its node port made by `node_port`, and starts it: listeners
    /// on `binds`, then the seeds.
    pub(crate) async fn assemble(
        parts: Parts,
        node_port: impl FnOnce(WeakNode) -> Arc<dyn NodePort>,
        binds: &[String],
        seeds: Vec<String>,
    ) -> Result<Node, Error> {
        let inner = NodeInner::new(parts);
        inner.set_node_port(node_port(inner.weak()));
        for bind in binds {
            listener::listen(&inner, bind).await?;
        }
        let listeners = lock(&inner.listen_addrs).clone();
        inner.global.start(&listeners, seeds);
        let node = Node { inner };
        inner::remember(&node);
        Ok(node)
    }

    /// Counts a supervisor's restart (for `stats`).
    pub(crate) fn count_restart(&self) {
        self.inner
            .restarts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn weak(&self) -> WeakNode {
        self.inner.weak()
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        self.inner.runtime()
    }

    /// Creates a port with handlers named `name` (generated when `None`); `start` runs on
    /// the port's task before its first message. `None` if the name is taken.
    fn handler_port(&self, name: Option<String>, start: Option<Start>) -> Option<Arc<Port>> {
        let has_start = start.is_some();
        let port = self
            .inner
            .create_port(name, HandlerSink::new(start, false))?;
        if has_start {
            sink::start(&port, self.inner.clone());
        }
        Some(port)
    }

    /// A spawned port: created now (messages sent after the spawn request find it), its
    /// init function run on its own task first. `None` if the name is taken.
    pub(crate) fn spawned_port(&self, name: String, start: Start) -> Option<PortId> {
        self.handler_port(Some(name), Some(start))
            .map(|p| p.id.clone())
    }

    /// A port spawned by this node on itself: created and its init function run now, in
    /// the caller's task (as AnyEvent::MP does; the caller is the user's code, not a
    /// connection), while its messages wait. `None` if the name is taken.
    pub(crate) fn spawned_port_now(&self, name: String, init: BoxStart) -> Option<PortId> {
        let port = self
            .inner
            .create_port(Some(name), HandlerSink::new(None, true))?;
        sink::run_init(self, &port.id, init);
        sink::release(&port, &self.inner);
        Some(port.id.clone())
    }

    /// Creates a port with any sink (typed actors); `None` if the name is taken.
    pub(crate) fn sink_port(&self, name: Option<String>, sink: impl Sink) -> Option<PortId> {
        self.inner.create_port(name, sink).map(|p| p.id.clone())
    }

    /// A fresh name for a local port.
    pub(crate) fn generated_name(&self) -> String {
        self.inner.ports.generated_name()
    }

    /// A local port (for the typed layer's local fast path).
    pub(crate) fn local_port(&self, name: &str) -> Option<Arc<Port>> {
        self.inner.ports.get(name)
    }

    /// `mon1` from `src` (see [`NodeInner::monitored_by`]).
    pub(crate) fn monitored_by(&self, src: &str, name: &str) {
        self.inner.monitored_by(src, name)
    }

    /// `mon0` from `src`.
    pub(crate) fn unmonitored_by(&self, src: &str, name: &str) {
        self.inner.unmonitored_by(src, name)
    }

    /// `kil0` from `src`: its port `name` died with `reason`; our monitors of it fire.
    pub(crate) fn remote_died(&self, src: &str, name: &str, reason: &[Value]) {
        for (_, action) in self.inner.links.take_monitors(src, name) {
            self.inner.fire(action, reason);
        }
    }

    /// Hands a `g_*` request to the global protocol.
    pub(crate) fn global_request(&self, src: &str, request: crate::global::wire::GRequest) {
        self.inner.global.handle(src, request)
    }
}
