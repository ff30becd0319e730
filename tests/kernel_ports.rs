//! Ports on one node: rcv, snd, kil, mon, cal, spawn.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aemp_actor::{msg, Error, Node, Value};
use support::nodes::{inbox, within};

async fn node() -> Node {
    Node::builder().node_id("local").start().await.unwrap()
}

#[tokio::test]
async fn tag_handlers_default_handler_and_replacement() {
    let node = node().await;
    let (sink, mut got) = inbox(&node);
    let port = node.port();
    let s = sink.clone();
    node.rcv(&port, "a", move |ctx, m| {
        ctx.snd(&s, [vec![Value::from("a got")], m].concat())
    })
    .unwrap();
    let s = sink.clone();
    node.rcv_default(&port, move |ctx, m| {
        ctx.snd(&s, [vec![Value::from("default got")], m].concat())
    })
    .unwrap();
    node.snd(&port, msg!["a", 1]).unwrap();
    assert_eq!(
        got.next().await,
        msg!["a got", 1],
        "the tag handler gets the message without its tag"
    );
    node.snd(&port, msg!["b", 2]).unwrap();
    assert_eq!(
        got.next().await,
        msg!["default got", "b", 2],
        "the default handler gets it whole"
    );
    // Perl's CBOR sends tags as byte strings: they match too.
    node.snd(&port, vec![Value::Bytes(b"a".to_vec()), 3.into()])
        .unwrap();
    assert_eq!(got.next().await, msg!["a got", 3]);

    let s = sink.clone();
    node.rcv(&port, "a", move |ctx, m| {
        ctx.snd(&s, [vec![Value::from("new a")], m].concat())
    })
    .unwrap();
    node.snd(&port, msg!["a", 4]).unwrap();
    assert_eq!(got.next().await, msg!["new a", 4]);
    node.unrcv(&port, Some("a")).unwrap();
    node.snd(&port, msg!["a", 5]).unwrap();
    assert_eq!(got.next().await, msg!["default got", "a", 5]);
}

#[tokio::test]
async fn a_port_without_handlers_dies_of_its_first_message() {
    let node = node().await;
    let port = node.port();
    let death = node.monitor(&port);
    node.snd(&port, msg!["hello", "there"]).unwrap();
    assert_eq!(
        within("death", death).await,
        msg!["unhandled_message", "no callback found for message 'hello'"]
    );
    assert!(matches!(
        node.rcv(&port, "x", |_, _| ()),
        Err(Error::NoSuchPort(_))
    ));
}

#[tokio::test]
async fn failing_and_panicking_handlers_kill_their_port_with_die() {
    let node = node().await;
    let port = node.port_with(|_ctx, _m| Err::<(), _>("no good"));
    let death = node.monitor(&port);
    node.snd(&port, msg!["x"]).unwrap();
    assert_eq!(within("death", death).await, msg!["die", "no good"]);

    let port = node.port_with(|_ctx, _m| -> () { panic!("boom") });
    let death = node.monitor(&port);
    node.snd(&port, msg!["x"]).unwrap();
    assert_eq!(within("death", death).await, msg!["die", "boom"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_handles_one_message_at_a_time_in_order() {
    let node = node().await;
    let busy = Arc::new(AtomicUsize::new(0));
    let (sink, mut got) = inbox(&node);
    let b = busy.clone();
    let mut expected = 0i64;
    let port = node.port_with(move |ctx, m| {
        assert_eq!(
            b.fetch_add(1, Ordering::SeqCst),
            0,
            "two messages handled at once"
        );
        let n = m[0].as_i64().unwrap();
        assert_eq!(n, expected, "out of order");
        expected += 1;
        std::thread::yield_now();
        b.fetch_sub(1, Ordering::SeqCst);
        if n == 9999 {
            ctx.snd(&sink, msg!["done"]).unwrap();
        }
    });
    let senders: Vec<_> = (0..1)
        .map(|_| {
            let (node, port) = (node.clone(), port.clone());
            tokio::spawn(async move {
                for i in 0..10_000i64 {
                    node.snd(&port, msg![i]).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    assert_eq!(got.next().await, msg!["done"]);
}

#[tokio::test]
async fn kil_with_and_without_reason_and_every_mon_form() {
    let node = node().await;
    let (sink, mut got) = inbox(&node);

    // callback
    let a = node.port_with(|_, _| ());
    let s = sink.clone();
    let n = node.clone();
    node.mon(&a, move |reason| {
        n.snd(&s, [vec![Value::from("cb")], reason].concat())
            .unwrap()
    })
    .detach();
    node.kil(&a, msg!["oops", 1]).unwrap();
    assert_eq!(got.next().await, msg!["cb", "oops", 1]);

    // send the reason appended
    let b = node.port_with(|_, _| ());
    node.mon_snd(&b, &sink, msg!["b died:"]).detach();
    node.kil(&b, vec![]).unwrap();
    assert_eq!(
        got.next().await,
        msg!["b died:"],
        "a normal kill appends nothing"
    );

    // kill another port, only for non-empty reasons
    let victim = node.port_with(|_, _| ());
    let victim_death = node.monitor(&victim);
    let c = node.port_with(|_, _| ());
    node.mon_kill(&c, &victim).detach();
    node.kil(&c, vec![]).unwrap();
    let d = node.port_with(|_, _| ());
    node.mon_kill(&d, &victim).detach();
    node.kil(&d, msg!["linked"]).unwrap();
    assert_eq!(
        within("victim", victim_death).await,
        msg!["linked"],
        "survived the normal kill, died of the reason"
    );

    // a dropped guard unmonitors; monitors are one-shot
    let e = node.port_with(|_, _| ());
    let guard = node.mon_snd(&e, &sink, msg!["must not arrive"]);
    drop(guard);
    node.mon_snd(&e, &sink, msg!["e died"]).detach();
    node.kil(&e, vec![]).unwrap();
    node.kil(&e, vec![]).unwrap();
    assert_eq!(got.next().await, msg!["e died"]);
    got.nothing_within(Duration::from_millis(50)).await;

    // monitoring a port that does not exist
    let ghost = aemp_actor::PortId::new("local", "ghost");
    assert_eq!(
        within("no_such_port", node.monitor(&ghost)).await,
        msg![
            "no_such_port",
            "cannot monitor nonexistent port",
            "local#ghost"
        ]
    );

    assert!(matches!(
        node.kil(node.node_port(), vec![]),
        Err(Error::NodePort(_))
    ));
}

#[tokio::test]
async fn cal_replies_times_out_and_sees_death() {
    let node = node().await;
    let doubler = node.port();
    node.rcv(&doubler, "double", |ctx, m| {
        ctx.snd(m[1].as_str().unwrap(), msg![m[0].as_i64().unwrap() * 2])
    })
    .unwrap();
    assert_eq!(
        node.cal(&doubler, msg!["double", 21])
            .timeout(Duration::from_secs(5))
            .await
            .unwrap(),
        msg![42]
    );
    assert_eq!(
        node.cal(&doubler, msg!["double", 4]).await.unwrap(),
        msg![8]
    );

    let silent = node.port_with(|_, _| ());
    let err = node
        .cal(&silent, msg!["hello"])
        .timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");

    let dying = node.port_with(|ctx, _| ctx.kil(msg!["no reply for you"]));
    let err = node.cal(&dying, msg!["hello"]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Killed { reason, .. } if *reason == msg!["no reply for you"]),
        "{err:?}"
    );
}

#[tokio::test]
async fn cal_reply_ports_are_cleaned_up() {
    let node = node().await;
    let (sink, mut got) = inbox(&node);
    let silent = node.port();
    let s = sink.clone();
    node.rcv(&silent, "q", move |ctx, m| ctx.snd(&s, m))
        .unwrap();
    let _ = node
        .cal(&silent, msg!["q"])
        .timeout(Duration::from_millis(10))
        .await;
    let reply_port = got.next().await.pop().unwrap();
    let reply_port = aemp_actor::PortId::try_from(&reply_port).unwrap();
    assert_eq!(
        within("no_such_port", node.monitor(&reply_port)).await[0],
        Value::from("no_such_port"),
        "the reply port is gone after a timeout"
    );
}

#[tokio::test]
async fn spawn_runs_registered_init_functions_only() {
    let node = Node::builder()
        .node_id("spawner")
        .spawnable("test::adder", |ctx, args| {
            let base = args[0].as_i64().unwrap_or(0);
            ctx.rcv("add", move |ctx, m| {
                ctx.snd(m[1].as_str().unwrap(), msg![base + m[0].as_i64().unwrap()])
            });
        })
        .spawnable("test::fails", |_ctx, _args| Err::<(), _>("init failed"))
        .start()
        .await
        .unwrap();
    let adder = node.spawn(node.id(), "test::adder", msg![100]).unwrap();
    assert!(adder.name().ends_with(|c: char| c.is_ascii_digit()));
    assert_eq!(
        node.cal(&adder, msg!["add", 5])
            .timeout(Duration::from_secs(5))
            .await
            .unwrap(),
        msg![105]
    );

    let failing = node.spawn(node.id(), "test::fails", vec![]).unwrap();
    // The init ran (and failed) before spawn returned: the port is gone.
    assert_eq!(
        within("death", node.monitor(&failing)).await[0],
        Value::from("no_such_port")
    );

    let unknown = node.spawn(node.id(), "std::process::exit", vec![]).unwrap();
    assert_eq!(
        within("death", node.monitor(&unknown)).await[0],
        Value::from("no_such_port")
    );
}

#[tokio::test]
async fn port_names_are_unique_and_never_reused() {
    let node = node().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let p = node.port();
        node.kil(&p, vec![]).unwrap();
        assert!(seen.insert(p.name().to_owned()), "name reused: {p}");
    }
}

#[tokio::test]
async fn the_node_port_answers_locally() {
    let node = Node::builder()
        .node_id("np")
        .function("test::hello", |ctx, args| {
            ctx.node()
                .snd(args[0].as_str().unwrap(), msg!["hello from", ctx.src()])
        })
        .start()
        .await
        .unwrap();
    let (sink, mut got) = inbox(&node);
    node.register("the_sink", &sink).unwrap();
    node.snd(
        node.node_port(),
        msg!["lookup", "the_sink", &sink, "resolved"],
    )
    .unwrap();
    assert_eq!(got.next().await, msg!["resolved", &sink]);
    node.snd(node.node_port(), msg!["can", "mon1", &sink])
        .unwrap();
    assert_eq!(got.next().await, msg![1]);
    node.snd(node.node_port(), msg!["can", "eval", &sink])
        .unwrap();
    assert_eq!(got.next().await, msg![0]);
    node.snd_to_func("np", "test::hello", msg![&sink]).unwrap();
    assert_eq!(got.next().await, msg!["hello from", "np"]);
    node.snd(node.node_port(), msg!["time", &sink, "now"])
        .unwrap();
    let t = got.next().await;
    assert_eq!(t[0], Value::from("now"));
    assert!(t[1].as_f64().unwrap() > 1.7e9);
}
