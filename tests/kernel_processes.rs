//! Nodes in separate processes (`aemp run`), over loopback: a million ordered messages,
//! monitors across processes, and a node process killed with SIGKILL.

mod support;

use std::time::Duration;

use aemp_actor::{msg, NodeEvent, PortId, Value};
use support::aemp_run::RunNode;
use support::nodes::{inbox, node, within};

/// `aemp run --node-id ID` on 127.0.0.1 with the tests' secret (killed when dropped).
async fn run_node(id: &str) -> RunNode {
    let mut cmd = RunNode::command(id, "test secret");
    cmd.env("AEMP_LOG", "warn");
    let node = RunNode::start(cmd).await;
    assert_eq!(node.id, id);
    assert!(node.addr.starts_with("127.0.0.1:"), "{}", node.addr);
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_messages_in_order_to_another_process() {
    let proc = run_node("proc-seq").await;
    // A bulk transfer on a loaded two-core machine: a slow heartbeat (the process then
    // allows three of our intervals too), so that CPU starvation is not taken for death.
    let local = support::nodes::builder("seq-sender")
        .heartbeat(aemp_actor::Heartbeat {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        })
        .start()
        .await
        .unwrap();
    assert_eq!(local.connect(&proc.addr).await.unwrap(), proc.id);
    let seq = local
        .spawn(&proc.id, aemp::services::SEQUENCE, vec![])
        .unwrap();
    let death = local.monitor(&seq);
    for i in 0..1_000_000i64 {
        local.snd(&seq, msg!["n", i]).unwrap();
    }
    let report = tokio::select! {
        r = local.cal(&seq, msg!["report"]).timeout(Duration::from_secs(60)) => r.unwrap(),
        reason = death => panic!("sequence port died: {reason:?}"),
    };
    assert_eq!(report, msg!["count", 1_000_000, true]);
}

#[tokio::test]
async fn monitors_fire_with_transport_error_when_a_node_process_is_killed() {
    let mut proc = run_node("proc-victim").await;
    let local = node("watcher").await;
    let mut events = local.node_events();
    local.connect(&proc.addr).await.unwrap();
    assert_eq!(
        within("up", events.recv()).await.unwrap(),
        NodeEvent::Up("proc-victim".into())
    );

    // A port in the other process, spawned from here, used, and monitored in every form.
    let echo = local.spawn(&proc.id, aemp::services::ECHO, vec![]).unwrap();
    let (me, mut got) = inbox(&local);
    local.snd(&echo, msg![&me, "ping"]).unwrap();
    assert_eq!(got.next().await, msg!["ping"]);
    let registered = local
        .cal(PortId::new(&proc.id, ""), msg!["lookup", "echo"])
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        registered[0].as_str().unwrap().starts_with("proc-victim#"),
        "{registered:?}"
    );

    let death = local.monitor(&echo);
    local.mon_snd(&echo, &me, msg!["echo gone"]).detach();
    let linked = local.port_with(|_, _| ());
    let linked_death = local.monitor(&linked);
    local.mon_kill(&echo, &linked).detach();
    // The monitors are registered remotely once a round trip on the same connection is done.
    local
        .cal(PortId::new(&proc.id, ""), msg!["can", "mon1"])
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();

    proc.child.start_kill().unwrap(); // SIGKILL
    proc.child.wait().await.unwrap();

    let reason = within("the monitor", death).await;
    assert_eq!(
        reason[..2],
        msg!["transport_error", "proc-victim"][..],
        "{reason:?}"
    );
    let m = got.next().await;
    assert_eq!(
        m[..3],
        msg!["echo gone", "transport_error", "proc-victim"][..],
        "{m:?}"
    );
    assert_eq!(
        within("the linked port", linked_death).await[0],
        Value::from("transport_error")
    );
    match within("down", events.recv()).await.unwrap() {
        NodeEvent::Down(id, reason) => assert_eq!(
            (id.as_str(), &reason[0]),
            ("proc-victim", &Value::from("transport_error"))
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(local.node_is_up("proc-victim"), Some(false));
}

#[tokio::test]
async fn a_stopped_process_is_found_dead_by_the_heartbeat() {
    let proc = run_node("proc-frozen").await;
    let local = support::nodes::builder("hb-watcher")
        .heartbeat(aemp_actor::Heartbeat {
            interval: Duration::from_millis(200),
            timeout: Duration::from_millis(600),
        })
        .start()
        .await
        .unwrap();
    let mut events = local.node_events();
    local.connect(&proc.addr).await.unwrap();
    assert!(within("up", events.recv()).await.unwrap().is_up());
    let pid = proc.child.id().unwrap().to_string();
    // SIGSTOP: the process keeps its sockets open but answers nothing.
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let started = std::time::Instant::now();
    let down = within("down", events.recv()).await.unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status();
    match down {
        NodeEvent::Down(_, reason) => assert!(
            reason[2].as_str().unwrap().contains("no heartbeat"),
            "{reason:?}"
        ),
        other => panic!("{other:?}"),
    }
    // aemp run's default heartbeat interval is 1 s, so we allow three of them.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
