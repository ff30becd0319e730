//! Supervisors: each strategy and restart policy, the restart intensity, nesting, the order
//! and time limit of stopping, and children on other nodes that move when their node dies
//! (separate `aemp run` processes, one of them SIGKILLed).

mod support;

use std::time::Duration;

use aemp::kernel::supervise::{ChildSpec, Placement, Restart, Strategy, Supervisor, SupervisorMsg};
use aemp::{msg, ActorRef, Node, PortId, Value};
use support::aemp_run::RunNode;
use support::nodes::{inbox, node, within, Inbox};

/// A child that says `["started", id]` to `log` whenever it starts and answers pings.
fn logged_child(id: &'static str, log: &PortId) -> ChildSpec {
    let log = log.clone();
    ChildSpec::port(id, move |node| {
        let port = node.port_with(|ctx, msg| {
            if let Some(reply) = msg.get(1).and_then(Value::as_str) {
                let _ = ctx.snd(reply, msg!["pong"]);
            }
        });
        node.snd(&log, msg!["started", id])?;
        Ok(port)
    })
}

async fn children(sup: &ActorRef<SupervisorMsg>) -> Vec<(String, Option<PortId>)> {
    within("the children", sup.ask(SupervisorMsg::children()))
        .await
        .unwrap()
}

/// The port of child `id` once it differs from `old` (it was restarted).
async fn restarted(sup: &ActorRef<SupervisorMsg>, id: &str, old: &PortId) -> PortId {
    within("a restart", async {
        loop {
            let now = children(sup).await;
            let port = now
                .iter()
                .find(|(c, _)| c == id)
                .and_then(|(_, p)| p.clone());
            if let Some(p) = port.filter(|p| p != old) {
                return p;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
}

async fn starts(log: &mut Inbox, n: usize) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..n {
        let m = log.next().await;
        v.push(m[1].as_str().unwrap().to_owned());
    }
    v
}

fn port_of(list: &[(String, Option<PortId>)], id: &str) -> PortId {
    list.iter()
        .find(|(c, _)| c == id)
        .and_then(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("{id} is not running: {list:?}"))
}

async fn three(node: &Node, strategy: Strategy) -> (ActorRef<SupervisorMsg>, Inbox, Vec<PortId>) {
    let (log, mut got) = inbox(node);
    let sup = Supervisor::new()
        .strategy(strategy)
        .child(logged_child("a", &log))
        .child(logged_child("b", &log))
        .child(logged_child("c", &log))
        .start(node);
    assert_eq!(
        starts(&mut got, 3).await,
        ["a", "b", "c"],
        "started in order"
    );
    let list = children(&sup).await;
    let ports = ["a", "b", "c"]
        .iter()
        .map(|id| port_of(&list, id))
        .collect();
    (sup, got, ports)
}

#[tokio::test]
async fn one_for_one_restarts_the_child_that_died() {
    let node = node("sup-141").await;
    let (sup, mut log, ports) = three(&node, Strategy::OneForOne).await;
    node.kil(&ports[1], msg!["crash"]).unwrap();
    let b = restarted(&sup, "b", &ports[1]).await;
    assert_eq!(starts(&mut log, 1).await, ["b"]);
    let list = children(&sup).await;
    assert_eq!(port_of(&list, "a"), ports[0]);
    assert_eq!(port_of(&list, "c"), ports[2]);
    assert_ne!(b, ports[1]);
}

#[tokio::test]
async fn one_for_all_restarts_every_child_in_order() {
    let node = node("sup-14all").await;
    let (sup, mut log, ports) = three(&node, Strategy::OneForAll).await;
    let (a_dead, c_dead) = (node.monitor(&ports[0]), node.monitor(&ports[2]));
    node.kil(&ports[1], msg!["crash"]).unwrap();
    assert_eq!(within("a stopped", a_dead).await, msg!["shutdown"]);
    assert_eq!(within("c stopped", c_dead).await, msg!["shutdown"]);
    assert_eq!(starts(&mut log, 3).await, ["a", "b", "c"]);
    let _ = restarted(&sup, "c", &ports[2]).await;
}

#[tokio::test]
async fn rest_for_one_restarts_it_and_those_after() {
    let node = node("sup-rest").await;
    let (sup, mut log, ports) = three(&node, Strategy::RestForOne).await;
    node.kil(&ports[1], msg!["crash"]).unwrap();
    assert_eq!(starts(&mut log, 2).await, ["b", "c"]);
    let _ = restarted(&sup, "c", &ports[2]).await;
    assert_eq!(port_of(&children(&sup).await, "a"), ports[0]);
}

#[tokio::test]
async fn restart_policies() {
    let node = node("sup-policy").await;
    let (log, mut got) = inbox(&node);
    let sup = Supervisor::new()
        .child(logged_child("perm", &log))
        .child(logged_child("trans", &log).restart(Restart::Transient))
        .child(logged_child("temp", &log).restart(Restart::Temporary))
        .start(&node);
    starts(&mut got, 3).await;
    let list = children(&sup).await;
    let (perm, trans, temp) = (
        port_of(&list, "perm"),
        port_of(&list, "trans"),
        port_of(&list, "temp"),
    );
    // A normal exit: the permanent child comes back, the transient one does not.
    node.kil(&perm, vec![]).unwrap();
    assert_eq!(starts(&mut got, 1).await, ["perm"]);
    node.kil(&trans, vec![]).unwrap();
    node.kil(&temp, msg!["crash"]).unwrap();
    // An abnormal exit of a fresh transient child brings it back; the temporary one is gone.
    let list = within("both ended", async {
        loop {
            let list = children(&sup).await;
            let ended = |id: &str| list.iter().any(|(c, p)| c == id && p.is_none());
            if ended("trans") && ended("temp") {
                return list;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(list.iter().any(|(c, p)| c == "perm" && p.is_some()));
    got.nothing_within(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn too_many_restarts_stop_the_supervisor_and_its_children() {
    let node = node("sup-intensity").await;
    let (log, mut got) = inbox(&node);
    let sup = Supervisor::new()
        .intensity(2, Duration::from_secs(60))
        .child(logged_child("w", &log))
        .child(logged_child("other", &log))
        .start(&node);
    starts(&mut got, 2).await;
    let sup_died = sup.monitor();
    let other = port_of(&children(&sup).await, "other");
    let other_died = node.monitor(&other);
    let mut w = port_of(&children(&sup).await, "w");
    for _ in 0..2 {
        node.kil(&w, msg!["crash"]).unwrap();
        w = restarted(&sup, "w", &w).await;
    }
    node.kil(&w, msg!["crash"]).unwrap();
    assert_eq!(
        within("the supervisor's death", sup_died).await,
        msg!["restart_intensity", "w", "crash"]
    );
    assert_eq!(within("other stopped", other_died).await, msg!["shutdown"]);
}

#[tokio::test]
async fn nested_supervisors_and_the_order_of_stopping() {
    let node = node("sup-nested").await;
    let (log, mut got) = inbox(&node);
    let inner = Supervisor::new().child(logged_child("leaf", &log));
    let outer = Supervisor::new()
        .child(logged_child("first", &log))
        .child(ChildSpec::supervisor("inner", inner))
        .child(logged_child("last", &log))
        .start(&node);
    assert_eq!(starts(&mut got, 3).await, ["first", "leaf", "last"]);
    let list = children(&outer).await;
    let inner_sup: ActorRef<SupervisorMsg> = ActorRef::from_id(port_of(&list, "inner")).bind(&node);
    let leaf = port_of(&children(&inner_sup).await, "leaf");

    // The inner supervisor restarts its leaf.
    node.kil(&leaf, msg!["crash"]).unwrap();
    assert_eq!(starts(&mut got, 1).await, ["leaf"]);
    // The outer restarts the inner supervisor, which starts its leaf again.
    node.kil(inner_sup.id(), msg!["crash"]).unwrap();
    assert_eq!(starts(&mut got, 1).await, ["leaf"]);
    let _ = restarted(&outer, "inner", inner_sup.id()).await;

    // Stopping the outer stops its children last to first; each confirms before the next.
    let (order, mut deaths) = inbox(&node);
    let list = children(&outer).await;
    for id in ["first", "inner", "last"] {
        let order = order.clone();
        node.mon(port_of(&list, id), move |_| {
            let _ = node_snd(&order, id);
        })
        .detach();
    }
    node.kil(outer.id(), msg!["stop"]).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(deaths.next().await[0].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["last", "inner", "first"]);
}

/// Sends `[id]` to `port` from whatever node runs (a monitor callback has no context).
fn node_snd(port: &PortId, id: &str) -> Result<(), aemp::Error> {
    let r: ActorRef<aemp::kernel::supervise::SupervisorMsg> = ActorRef::from_id(port.clone());
    r.node()?.snd(port, msg![id])
}

#[tokio::test]
async fn a_child_that_does_not_confirm_its_stop_is_given_up_after_its_timeout() {
    use aemp::transport::{connect, Config};
    let node = node("sup-stall").await;
    // A node that completes the handshake and then never reads: nothing sent there is
    // answered.
    let config = Config::new("stalled").unwrap().secret("test secret");
    let _stalled = connect(support::nodes::addr(&node).as_str(), &config)
        .await
        .unwrap()
        .split();
    let sup = Supervisor::new()
        .child(
            ChildSpec::spawn("far", "anything", vec![])
                .placement(Placement::Nodes(vec!["stalled".into()]))
                .shutdown(Duration::from_millis(200)),
        )
        .start(&node);
    assert!(port_of(&children(&sup).await, "far")
        .to_string()
        .starts_with("stalled#"));
    let died = sup.monitor();
    node.kil(sup.id(), msg!["stop"]).unwrap();
    // The stop completes (its monitor fires at once; the stop hook gives the child up
    // after 200 ms and ends).
    assert_eq!(within("the supervisor's stop", died).await, msg!["stop"]);
}

/// `aemp run` nodes for the remote children, with the test node's secret.
async fn run_node(rc: &std::path::Path, id: &str, seeds: &[&str]) -> RunNode {
    RunNode::node(rc, id, "test secret", seeds).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_child_moves_to_the_next_node_when_its_node_is_killed() {
    let dir = std::env::temp_dir().join(format!("aemp-sup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // b and c are the seeds of one network (c joins through b).
    let mut b = run_node(&dir, "sup-b", &[]).await;
    let c = run_node(&dir, "sup-c", &[&b.addr]).await;
    let a = support::nodes::builder("sup-a")
        .seed(&b.addr)
        .seed(&c.addr)
        .start()
        .await
        .unwrap();
    within("b", a.connect(&b.addr)).await.unwrap();
    within("c", a.connect(&c.addr)).await.unwrap();
    let client = support::nodes::builder("sup-client")
        .seed(&b.addr)
        .seed(&c.addr)
        .start()
        .await
        .unwrap();
    within("client to b", client.connect(&b.addr))
        .await
        .unwrap();
    within("client to c", client.connect(&c.addr))
        .await
        .unwrap();

    let sup = Supervisor::new()
        .child(
            ChildSpec::spawn("rpc", "aemp::rpc", vec![])
                .placement(Placement::Nodes(vec!["sup-b".into(), "sup-c".into()]))
                .register_as("the-rpc"),
        )
        .start(&a);
    let first = port_of(&children(&sup).await, "rpc");
    assert_eq!(first.node(), "sup-b");
    // A client finds it by name and calls it.
    let found = within("the name", async {
        loop {
            if let Some(p) = client.lookup_name("the-rpc").await.filter(|p| *p == first) {
                return p;
            }
            // The registration travels to the global nodes: ask again.
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(
        within("a reply", client.cal(&found, msg!["hi"]))
            .await
            .unwrap(),
        msg!["hi"]
    );

    // SIGKILL b: the child runs again on c, registered under its name again.
    b.child.start_kill().unwrap();
    let _ = b.child.wait().await;
    let moved = restarted(&sup, "rpc", &first).await;
    assert_eq!(moved.node(), "sup-c");
    let found = within("the name again", async {
        loop {
            if let Some(p) = client.lookup_name("the-rpc").await.filter(|p| *p == moved) {
                return p;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(
        within("a reply from c", client.cal(&found, msg!["again"]))
            .await
            .unwrap(),
        msg!["again"]
    );
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A child placed on a group's nodes starts on the first of them and moves to the next
/// when that node goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_placed_on_a_groups_nodes() {
    let seed = support::nodes::builder("grp-seed").start().await.unwrap();
    let seed_addr = support::nodes::addr(&seed);
    let host = |id: &'static str| {
        let seed_addr = seed_addr.clone();
        async move {
            let n = aemp::services::register(support::nodes::builder(id))
                .seed(seed_addr)
                .start()
                .await
                .unwrap();
            let p = n.port_with(|_, _| {});
            n.register_name("hosts", &p).detach();
            n
        }
    };
    let (h1, h2) = (host("grp-h1").await, host("grp-h2").await);
    let a = support::nodes::builder("grp-a")
        .seed(&seed_addr)
        .start()
        .await
        .unwrap();
    // Both hosts are in the group before the supervisor looks.
    within("the group", async {
        while a.lookup_names("hosts").await.len() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let sup = Supervisor::new()
        .child(
            ChildSpec::spawn("rpc", aemp::services::RPC, vec![])
                .placement(Placement::Group("hosts".into())),
        )
        .start(&a);
    let first = port_of(&children(&sup).await, "rpc");
    assert_eq!(
        first.node(),
        "grp-h1",
        "the first of the group's nodes, by id"
    );
    assert_eq!(
        within("a reply", a.cal(&first, msg!["x"])).await.unwrap(),
        msg!["x"]
    );
    h1.shutdown().await;
    let moved = restarted(&sup, "rpc", &first).await;
    assert_eq!(moved.node(), "grp-h2");
    drop(h2);
}
