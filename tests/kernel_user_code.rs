//! Where user code runs: never in a connection's reader (a slow node-port function or
//! database callback does not delay the other ports behind the same connection), and never
//! under the lock of the list it was called from (a callback may drop its own guard).

mod support;

use std::sync::{Arc, Mutex};

use aemp_actor::{msg, NodeEvent, PortId, Value};
use support::nodes::{addr, builder, inbox, node, within};
use tokio::sync::mpsc;

/// A free port on 127.0.0.1, for a seed whose address must be known before it starts.
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// A node that is its own seed: a global node, holding the database.
async fn self_seeded(id: &str, addr: &str) -> aemp_actor::Node {
    builder(id).bind(addr).seed(addr).start().await.unwrap()
}

/// A gate user code blocks on (a real thread block, as a slow function would) until opened.
fn gate() -> (
    std::sync::mpsc::Sender<()>,
    Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
) {
    let (open, wait) = std::sync::mpsc::channel();
    (open, Arc::new(Mutex::new(wait)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_node_port_function_does_not_delay_other_ports_on_its_connection() {
    let (open, wait) = gate();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let server = builder("uc-fn-server")
        .function("slow", move |_ctx, _args| {
            let _ = entered_tx.send(());
            // Blocks its thread until the test opens the gate.
            let _ = wait.lock().unwrap().recv();
        })
        .start()
        .await
        .unwrap();
    let (target, mut got) = inbox(&server);
    let client = node("uc-fn-client").await;
    client.connect(&addr(&server)).await.unwrap();

    client.snd_to_func(server.id(), "slow", vec![]).unwrap();
    within("the function to start", entered.recv()).await;
    // Same connection, right behind the blocked function: delivered all the same.
    client.snd(&target, msg!["while", "blocked"]).unwrap();
    assert_eq!(got.next().await, msg!["while", "blocked"]);
    // Node-port requests keep their order: a monitor request behind the function is
    // answered once the function returns.
    let ghost = PortId::new(server.id(), "ghost");
    let mut monitor = client.monitor(&ghost);
    let early = tokio::time::timeout(std::time::Duration::from_millis(200), &mut monitor).await;
    assert!(
        early.is_err(),
        "answered before the function returned: {early:?}"
    );
    open.send(()).unwrap();
    assert_eq!(
        within("the kil0", monitor).await[0],
        Value::from("no_such_port")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_db_callback_does_not_delay_other_ports_on_its_connection() {
    let seed_addr = free_addr();
    let seed = self_seeded("uc-db-seed", &seed_addr).await;
    let (open, wait) = gate();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let _mon = seed.db_mon("uc-family", move |event| {
        if event.added.iter().any(|k| k == "key") {
            let _ = entered_tx.send(());
            let _ = wait.lock().unwrap().recv();
        }
    });
    let (target, mut got) = inbox(&seed);
    let member = builder("uc-db-member")
        .seed(seed_addr)
        .start()
        .await
        .unwrap();
    within("the member's master", async {
        while member.master().is_none() {
            tokio::task::yield_now().await;
        }
    })
    .await;

    member.db_set("uc-family", "key", Value::from(1));
    within("the callback to start", entered.recv()).await;
    member.snd(&target, msg!["while", "blocked"]).unwrap();
    assert_eq!(got.next().await, msg!["while", "blocked"]);
    open.send(()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_event_callback_may_drop_its_own_guard() {
    let a = node("uc-guard-a").await;
    let slot: Arc<Mutex<Option<aemp_actor::NodesGuard>>> = Arc::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let guard = a.mon_nodes({
        let slot = slot.clone();
        move |event: &NodeEvent| {
            let _ = tx.send(event.clone());
            // Dropping the guard inside the callback unsubscribes it; no deadlock.
            drop(slot.lock().unwrap().take());
        }
    });
    *slot.lock().unwrap() = Some(guard);
    let mut events = a.node_events();

    let b = node("uc-guard-b").await;
    a.connect(&addr(&b)).await.unwrap();
    assert_eq!(
        within("the up event", rx.recv()).await,
        Some(NodeEvent::Up("uc-guard-b".into()))
    );
    assert_eq!(
        within("the stream's up", events.recv()).await,
        Some(NodeEvent::Up("uc-guard-b".into()))
    );
    a.disconnect("uc-guard-b");
    // The stream still gets events (the bus is not stuck), the dropped callback none.
    assert!(matches!(
        within("the stream's down", events.recv()).await,
        Some(NodeEvent::Down(..))
    ));
    assert!(rx.try_recv().is_err(), "the callback was unsubscribed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_callback_may_drop_its_own_guard() {
    let n = self_seeded("uc-dbguard", &free_addr()).await;
    let slot: Arc<Mutex<Option<aemp_actor::DbMonGuard>>> = Arc::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let guard = n.db_mon("uc-guarded", {
        let slot = slot.clone();
        move |event| {
            let _ = tx.send(event.added.clone());
            if event.added.iter().any(|k| k == "first") {
                drop(slot.lock().unwrap().take());
            }
        }
    });
    *slot.lock().unwrap() = Some(guard);
    let mut watch = n.db_watch("uc-guarded");
    assert_eq!(within("the initial event", rx.recv()).await, Some(vec![]));
    n.db_set("uc-guarded", "first", Value::from(1));
    assert_eq!(
        within("the first change", rx.recv()).await,
        Some(vec!["first".to_owned()])
    );
    n.db_set("uc-guarded", "second", Value::from(2));
    // The watch sees both writes; the callback, unsubscribed by itself, not the second.
    loop {
        let e = within("the watch", watch.recv()).await.unwrap();
        if e.entries.contains_key("second") {
            break;
        }
    }
    assert!(rx.try_recv().is_err(), "the callback was unsubscribed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_write_that_waited_behind_a_function_is_dropped_if_its_node_left() {
    let (open, wait) = gate();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let (mark_tx, mut marked) = mpsc::unbounded_channel();
    let addr = free_addr();
    let global = builder("uc-late-global")
        .bind(addr.clone())
        .seed(addr.clone())
        .function("slow", move |_ctx, _args| {
            let _ = entered_tx.send(());
            let _ = wait.lock().unwrap().recv();
        })
        .function("mark", move |_ctx, _args| {
            let _ = mark_tx.send(());
        })
        .start()
        .await
        .unwrap();
    let mut listeners = global.db_watch(aemp_actor::LISTENERS);
    let member = builder("uc-late-member").seed(addr).start().await.unwrap();
    within("the member's master", async {
        while member.master().is_none() {
            tokio::task::yield_now().await;
        }
    })
    .await;

    // The member's write waits on the global node's runner behind a slow function...
    member.snd_to_func(global.id(), "slow", vec![]).unwrap();
    within("the function to start", entered.recv()).await;
    member.db_set("uc-late", "key", Value::from(1));
    // ...while the member leaves, and the global node forgets what it contributed.
    within("the member's listeners", async {
        while let Some(e) = listeners.recv().await {
            if e.entries.contains_key("uc-late-member") {
                return;
            }
        }
    })
    .await;
    member.shutdown().await;
    within("the member's listeners gone", async {
        while let Some(e) = listeners.recv().await {
            if e.deleted.iter().any(|k| k == "uc-late-member") {
                return;
            }
        }
    })
    .await;
    open.send(()).unwrap();
    // The runner is in order: once `mark` ran, the late write was handled (and dropped).
    global.snd_to_func(global.id(), "mark", vec![]).unwrap();
    within("the mark", marked.recv()).await;
    assert!(
        global.db_family("uc-late").await.is_empty(),
        "a write of a node that left came back"
    );
    let listeners = global.db_family(aemp_actor::LISTENERS).await;
    assert!(!listeners.contains_key("uc-late-member"), "{listeners:?}");
}
