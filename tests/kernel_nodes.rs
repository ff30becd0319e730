//! Several nodes in one process, over real TCP on 127.0.0.1.

mod support;

use std::time::Duration;

use aemp_actor::{msg, Error, Heartbeat, NodeEvent, PortId, Value};
use support::nodes::{addr, builder, inbox, node, pair, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_messages_arrive_in_order() {
    let (a, b) = pair("order-a", "order-b").await;
    let (done, mut got) = inbox(&b);
    const N: i64 = 1_000_000;
    let mut expected = 0i64;
    let counter = b.port_with(move |ctx, m| {
        let n = m[0].as_i64().unwrap();
        if n != expected {
            return Err(format!("got {n}, expected {expected}"));
        }
        expected += 1;
        if expected == N {
            ctx.snd(&done, msg!["all", expected])
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    let death = a.monitor(&counter);
    for i in 0..N {
        a.snd(&counter, msg![i]).unwrap();
    }
    tokio::select! {
        m = got.next() => assert_eq!(m, msg!["all", N]),
        reason = death => panic!("counter died: {reason:?}"),
    }
}

#[tokio::test]
async fn remote_snd_kil_and_monitors() {
    let (a, b) = pair("rk-a", "rk-b").await;
    let (a_in, mut a_got) = inbox(&a);
    let echo = b.port_with(|ctx, mut m| {
        let reply = m.remove(0);
        ctx.snd(reply.as_str().unwrap(), m)
    });
    a.snd(&echo, msg![&a_in, "hi", 1.5, Value::Null]).unwrap();
    assert_eq!(a_got.next().await, msg!["hi", 1.5, Value::Null]);

    // a monitors b's port; b's port is killed remotely by a (kil1)
    a.mon_snd(&echo, &a_in, msg!["echo died"]).detach();
    a.kil(&echo, msg!["enough"]).unwrap();
    assert_eq!(a_got.next().await, msg!["echo died", "enough"]);

    // monitoring a remote port that does not exist
    let ghost = PortId::new("rk-b", "ghost");
    assert_eq!(
        within("no_such_port", a.monitor(&ghost)).await,
        msg![
            "no_such_port",
            "cannot monitor nonexistent port",
            "rk-b#ghost"
        ]
    );

    // b monitors a's port, which dies of a failing handler
    let (b_in, mut b_got) = inbox(&b);
    let fragile = a.port_with(|_, _| Err::<(), _>("fragile"));
    b.mon_snd(&fragile, &b_in, msg!["fragile died"]).detach();
    // The mon1 travels before the message that kills the port: same connection, in order.
    b.snd(&fragile, msg!["x"]).unwrap();
    assert_eq!(b_got.next().await, msg!["fragile died", "die", "fragile"]);

    // an unmonitored remote port does not report (mon0 was sent)
    let quiet = b.port_with(|_, _| ());
    let guard = a.mon_snd(&quiet, &a_in, msg!["must not arrive"]);
    drop(guard);
    let check = a.monitor(&quiet);
    a.kil(&quiet, msg!["bye"]).unwrap();
    assert_eq!(within("kill", check).await, msg!["bye"]);
    a_got.nothing_within(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn remote_cal_spawn_and_node_port_requests() {
    let b = builder("cs-b")
        .spawnable("test::square", |ctx, _args| {
            ctx.rcv("square", |ctx, m| {
                ctx.snd(m[1].as_str().unwrap(), msg![m[0].as_i64().unwrap().pow(2)])
            });
        })
        .start()
        .await
        .unwrap();
    let a = node("cs-a").await;
    a.connect(&addr(&b)).await.unwrap();
    let sq = a.spawn("cs-b", "test::square", vec![]).unwrap();
    assert_eq!(sq.node(), "cs-b");
    assert_eq!(
        a.cal(&sq, msg!["square", 12])
            .timeout(Duration::from_secs(5))
            .await
            .unwrap(),
        msg![144]
    );
    assert_eq!(a.cal(&sq, msg!["square", 3]).await.unwrap(), msg![9]);

    let silent = b.port_with(|_, _| ());
    let err = a
        .cal(&silent, msg!["x"])
        .timeout(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }));
    b.kil(&silent, msg!["gone"]).unwrap();
    let err = a.cal(&silent, msg!["x"]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Killed { reason, .. } if reason[0] == Value::from("no_such_port")),
        "{err:?}"
    );

    let (a_in, mut a_got) = inbox(&a);
    a.snd("cs-b", msg!["time", &a_in, "time"]).unwrap();
    assert_eq!(a_got.next().await[0], Value::from("time"));
    b.register("squarer", &sq).unwrap();
    a.snd("cs-b", msg!["lookup", "squarer", &a_in, "found"])
        .unwrap();
    assert_eq!(a_got.next().await, msg!["found", &sq]);
    a.snd_on("cs-b", &a_in, msg!["relayed"]).unwrap();
    assert_eq!(a_got.next().await, msg!["relayed"]);
}

#[tokio::test]
async fn node_events_up_nodes_and_transport_errors() {
    let a = node("ev-a").await;
    let mut events = a.node_events();
    let b = node("ev-b").await;
    assert_eq!(a.node_is_up("ev-b"), None);
    a.connect(&addr(&b)).await.unwrap();
    assert_eq!(
        within("up", events.recv()).await,
        Some(NodeEvent::Up("ev-b".into()))
    );
    assert_eq!(a.up_nodes(), vec!["ev-b".to_owned()]);
    assert_eq!(a.node_is_up("ev-b"), Some(true));
    assert_eq!(a.node_is_up("ev-a"), Some(true));

    let far = b.port_with(|_, _| ());
    let death = a.monitor(&far);
    within(
        "monitor registered",
        a.cal(b.node_port(), msg!["can", "mon1"]),
    )
    .await
    .unwrap();
    b.shutdown().await;
    let reason = within("transport error", death).await;
    assert_eq!(
        reason[..2],
        msg!["transport_error", "ev-b"][..],
        "{reason:?}"
    );
    match within("down", events.recv()).await {
        Some(NodeEvent::Down(node, reason)) => {
            assert_eq!(node, "ev-b");
            assert_eq!(reason[0], Value::from("transport_error"));
        }
        other => panic!("expected down, got {other:?}"),
    }
    assert_eq!(a.node_is_up("ev-b"), Some(false));
}

#[tokio::test]
async fn an_unreachable_node_fires_monitors_with_transport_error() {
    let a = impatient("un-a", 500).await;
    // A listener that accepts and never answers: the handshake cannot complete.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    a.set_addresses("mute", vec![mute.local_addr().unwrap().to_string()]);
    let target = PortId::new("mute", "p");
    let death = a.monitor(&target);
    a.snd(&target, msg!["lost"]).unwrap();
    assert_eq!(
        within("transport error", death).await,
        msg!["transport_error", "mute", "connect timeout"]
    );

    let nowhere = PortId::new("nowhere", "p");
    let death = a.monitor(&nowhere);
    assert_eq!(
        within("no address", death).await,
        msg!["transport_error", "nowhere", "no known address"]
    );
}

/// Asserts that `n` completed exactly one handshake (in round `round`).
fn one_handshake(n: &aemp_actor::Node, round: usize) {
    let ok = n.stats().handshakes.get("ok").copied();
    assert_eq!(
        ok,
        Some(1),
        "round {round}: {} completed {ok:?} handshakes",
        n.id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_connects_leave_one_connection_and_fire_nothing() {
    for round in 0..10 {
        let (a, b) = (
            node(&format!("sim{round}-a")).await,
            node(&format!("sim{round}-b")).await,
        );
        a.set_addresses(b.id(), vec![addr(&b)]);
        b.set_addresses(a.id(), vec![addr(&a)]);
        let (a_in, mut a_got) = inbox(&a);
        let (b_in, mut b_got) = inbox(&b);
        let mut a_events = a.node_events();
        let mut b_events = b.node_events();
        let a_watch = a.mon_snd(&b_in, &a_in, msg!["b port died"]);
        let b_watch = b.mon_snd(&a_in, &b_in, msg!["a port died"]);
        // Both dial at once (the monitors above already started both dials).
        a.snd(&b_in, msg!["from a"]).unwrap();
        b.snd(&a_in, msg!["from b"]).unwrap();
        assert_eq!(b_got.next().await, msg!["from a"]);
        assert_eq!(a_got.next().await, msg!["from b"]);
        assert_eq!(
            within("a up", a_events.recv()).await.unwrap(),
            NodeEvent::Up(b.id().into())
        );
        assert_eq!(
            within("b up", b_events.recv()).await.unwrap(),
            NodeEvent::Up(a.id().into())
        );
        // Round trips on the surviving connection prove it is the only one both sides use.
        for i in 0..3 {
            a.snd(&b_in, msg![i]).unwrap();
            assert_eq!(b_got.next().await, msg![i]);
        }
        within("cal", a.cal(b.node_port(), msg!["can", "snd"]))
            .await
            .unwrap();
        for n in [&a, &b] {
            one_handshake(n, round);
        }
        a_got.nothing_within(Duration::from_millis(20)).await;
        b_got.nothing_within(Duration::from_millis(20)).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(20), a_events.recv())
                .await
                .is_err(),
            "no down event on a"
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(20), b_events.recv())
                .await
                .is_err(),
            "no down event on b"
        );
        drop((a_watch, b_watch));
    }
}

/// Both nodes dial the other's address at once (as two seeds of each other do at start):
/// the greeting hooks let exactly one connection complete its handshake on both sides, so no
/// message can travel on a connection one side then drops, and no down event fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_address_dials_complete_one_handshake() {
    simultaneous_address_dials(None, 40).await;
}

/// The same over TLS (where a refused dial fails in the TLS handshake instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_address_dials_over_tls_complete_one_handshake() {
    simultaneous_address_dials(Some(support::certs::self_signed_pem()), 20).await;
}

async fn simultaneous_address_dials(pem: Option<String>, rounds: usize) {
    let tls = if pem.is_some() { "t" } else { "" };
    let start = |id: String| {
        let b = builder(&id);
        let b = match &pem {
            Some(pem) => b.cert_pem(pem.clone()),
            None => b,
        };
        async move { b.start().await.unwrap() }
    };
    for round in 0..rounds {
        let (a, b) = (
            start(format!("sad{tls}{round}-a")).await,
            start(format!("sad{tls}{round}-b")).await,
        );
        let mut a_events = a.node_events();
        let mut b_events = b.node_events();
        let (a_addr, b_addr) = (addr(&a), addr(&b));
        let (to_b, to_a) = tokio::join!(a.connect(&b_addr), b.connect(&a_addr));
        assert_eq!(to_b.unwrap(), b.id(), "round {round}");
        assert_eq!(to_a.unwrap(), a.id(), "round {round}");
        // A round trip each way on the link both use.
        let (a_in, mut a_got) = inbox(&a);
        let (b_in, mut b_got) = inbox(&b);
        a.snd(&b_in, msg!["from a"]).unwrap();
        b.snd(&a_in, msg!["from b"]).unwrap();
        assert_eq!(b_got.next().await, msg!["from a"]);
        assert_eq!(a_got.next().await, msg!["from b"]);
        within("cal", a.cal(b.node_port(), msg!["can", "snd"]))
            .await
            .unwrap();
        for (n, events) in [(&a, &mut a_events), (&b, &mut b_events)] {
            one_handshake(n, round);
            assert!(matches!(
                within("up", events.recv()).await,
                Some(NodeEvent::Up(_))
            ));
            assert!(
                tokio::time::timeout(Duration::from_millis(20), events.recv())
                    .await
                    .is_err(),
                "round {round}: no down event on {}",
                n.id()
            );
        }
    }
}

/// A node that gives a dial `ms` milliseconds.
async fn impatient(id: &str, ms: u64) -> aemp_actor::Node {
    builder(id)
        .connect_interval(Duration::from_millis(ms))
        .start()
        .await
        .unwrap()
}

/// A node that answers as `id`, takes the dialler's greeting and auth line (sent once the
/// dialler's greeting hook counted the dial), tells `passed`, and then says nothing more.
async fn stalling_node(id: &'static str) -> (String, tokio::sync::mpsc::Receiver<()>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stall = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = stall.local_addr().unwrap().to_string();
    let (passed, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut socket, _) = stall.accept().await.unwrap();
            let greeting = format!("aemp;1;{id};hmac_sha3_512;json\nbm9uY2U=\n");
            socket.write_all(greeting.as_bytes()).await.unwrap();
            let mut lines = BufReader::new(socket).lines();
            for _ in 0..3 {
                lines.next_line().await.unwrap().unwrap();
            }
            let _ = passed.send(()).await;
            held.push(lines);
        }
    });
    (addr, rx)
}

/// A dial given up while its handshake is under way (its future dropped after the greeting,
/// as a caller's timeout does) leaves nothing behind: the address can be dialled again, and
/// a later message to that node dials it.
#[tokio::test]
async fn a_dial_given_up_mid_handshake_does_not_block_the_next() {
    let a = impatient("gu-a", 400).await;
    let (stall_addr, mut passed) = stalling_node("gu-b").await;
    tokio::select! {
        r = a.connect(&stall_addr) => panic!("the stalled dial ended: {r:?}"),
        _ = passed.recv() => {}
    }
    // The address again: a dial of its own (not one that joins the given-up dial and waits
    // for ever), which ends with the connect interval.
    assert!(within("the address again", a.connect(&stall_addr))
        .await
        .is_err());
    let b = node("gu-b").await;
    a.set_addresses("gu-b", vec![addr(&b)]);
    let (b_in, mut got) = inbox(&b);
    a.snd(&b_in, msg!["after"]).unwrap();
    assert_eq!(got.next().await, msg!["after"]);
}

/// While a dial to a node is past its greeting, a monitor of that node's port waits for it;
/// when that dial fails, the monitor fires (it is not left waiting for a dial that is gone).
#[tokio::test]
async fn monitors_learn_when_a_dial_past_its_greeting_fails() {
    let a = impatient("mf-a", 400).await;
    let (stall_addr, mut passed) = stalling_node("mf-b").await;
    let dial = tokio::spawn({
        let a = a.clone();
        async move { a.connect(&stall_addr).await }
    });
    within("greeting", passed.recv()).await;
    let death = a.monitor(PortId::new("mf-b", "p"));
    assert_eq!(
        within("the monitor", death).await,
        msg!["transport_error", "mf-b", "connect timeout"]
    );
    assert!(within("the dial", dial).await.unwrap().is_err());
}

/// Connects to `node` claiming to be `claims`, and stays after the greeting: returns once
/// `node` sent its own greeting, nonce and auth line (its hook counted the connection). The
/// connection lasts as long as the returned reader.
async fn stalled_impostor(
    node: &aemp_actor::Node,
    claims: &str,
) -> tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut socket = tokio::net::TcpStream::connect(addr(node)).await.unwrap();
    let greeting = format!("aemp;1;{claims};hmac_sha3_512;json\nbm9uY2U=\n");
    socket.write_all(greeting.as_bytes()).await.unwrap();
    let mut lines = BufReader::new(socket).lines();
    for _ in 0..3 {
        lines.next_line().await.unwrap().unwrap();
    }
    lines
}

/// Anyone may connect and send a greeting that claims a node's id (it authenticates only
/// afterwards): such a connection that then stalls does not keep the node from dialling the
/// real one (its dial waits half the connect interval for that connection, then goes on).
#[tokio::test]
async fn a_stalled_impostor_does_not_block_dialling_the_real_node() {
    let a = node("imp-a").await;
    let b = node("imp-b").await;
    let impostor = stalled_impostor(&a, "imp-b").await;
    assert_eq!(within("dial", a.connect(&addr(&b))).await.unwrap(), "imp-b");
    let (b_in, mut got) = inbox(&b);
    a.snd(&b_in, msg!["real"]).unwrap();
    assert_eq!(got.next().await, msg!["real"]);
    drop(impostor);
}

/// Nor does it hold up messages sent to that node by id: the dial they start waits for the
/// impostor's connection half the connect interval at most, then reaches the real node.
#[tokio::test]
async fn a_stalled_impostor_does_not_hold_up_messages_by_id() {
    let a = impatient("simp-a", 600).await;
    let b = node("simp-b").await;
    let impostor = stalled_impostor(&a, "simp-b").await;
    a.set_addresses("simp-b", vec![addr(&b)]);
    let (b_in, mut got) = inbox(&b);
    let death = a.monitor(&b_in);
    a.snd(&b_in, msg!["through"]).unwrap();
    assert_eq!(got.next().await, msg!["through"]);
    // The link is the real one: the monitor stays quiet while it lasts.
    let mut death = std::pin::pin!(death);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut death)
            .await
            .is_err(),
        "the monitor fired"
    );
    drop(impostor);
}

/// An impostor that keeps connecting with the real node's id (each connection closed after
/// the greeting, so that each wait for it ends at once) does not stop the dial either.
#[tokio::test]
async fn a_reconnecting_impostor_does_not_block_dialling_the_real_node() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let a = impatient("rimp-a", 600).await;
    let b = node("rimp-b").await;
    let target = addr(&a);
    let impostor = tokio::spawn(async move {
        loop {
            let Ok(mut socket) = tokio::net::TcpStream::connect(&target).await else {
                continue;
            };
            let _ = socket
                .write_all(b"aemp;1;rimp-b;hmac_sha3_512;json\nbm9uY2U=\n")
                .await;
            let mut lines = BufReader::new(socket).lines();
            let _ = lines.next_line().await;
        }
    });
    assert_eq!(
        within("dial", a.connect(&addr(&b))).await.unwrap(),
        "rimp-b"
    );
    impostor.abort();
    let (b_in, mut got) = inbox(&b);
    a.snd(&b_in, msg!["real"]).unwrap();
    assert_eq!(got.next().await, msg!["real"]);
}

#[tokio::test]
async fn up_and_down_alternate_across_reconnects() {
    let a = node("alt-a").await;
    let b = node("alt-b").await;
    let mut events = a.node_events();
    a.set_addresses("alt-b", vec![addr(&b)]);
    let (b_in, mut b_got) = inbox(&b);
    for round in 0..3 {
        a.snd(&b_in, msg![round]).unwrap();
        assert_eq!(b_got.next().await, msg![round]);
        assert!(within("up", events.recv()).await.unwrap().is_up());
        // b drops the connection; a reconnects on the next message
        b.disconnect("alt-a");
        let down = within("down", events.recv()).await.unwrap();
        assert!(!down.is_up(), "{down:?}");
    }
}

#[tokio::test]
async fn heartbeat_detects_a_silent_peer_quickly() {
    let hb = Heartbeat {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(400),
    };
    let a = builder("hb-a").heartbeat(hb).start().await.unwrap();
    // A fake aemp peer that completes the handshake, offers a heartbeat, then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_addr = listener.local_addr().unwrap().to_string();
    let fake = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let config = aemp_transport::Config::new("hb-fake")
            .unwrap()
            .secret("test secret")
            .greeting_key("aemp_hb", Some("0.1".into()))
            .unwrap();
        let conn = aemp_transport::accept(s, &config).await.unwrap();
        let (_tx, mut rx) = conn.split();
        while let Ok(Some(_)) = rx.recv().await {}
        // hold the connection open, silent, until the test ends
        std::future::pending::<()>().await;
    });
    let mut events = a.node_events();
    a.connect(&fake_addr).await.unwrap();
    assert!(within("up", events.recv()).await.unwrap().is_up());
    let started = std::time::Instant::now();
    match within("down", events.recv()).await.unwrap() {
        NodeEvent::Down(_, reason) => assert!(
            reason[2].as_str().unwrap().contains("no heartbeat"),
            "{reason:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    fake.abort();
}

/// CBOR for a text string of fewer than 24 bytes.
fn cbor_text(s: &str) -> Vec<u8> {
    assert!(s.len() < 24);
    let mut out = vec![0x60 + s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

/// The reader routes messages by the destination read off the wire and leaves decoding to
/// the port: a message holding a value aemp cannot represent is skipped there, alone;
/// destinations written unusually still arrive; per-port order holds across interleaving;
/// the connection stays up throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_routed_undecoded_and_only_what_cannot_be_decoded_is_skipped() {
    use aemp::transport::{connect, Config, Decoder, Encoder, Framing};

    let b = node("raw-b").await;
    let (p, mut p_got) = inbox(&b);
    let (q, mut q_got) = inbox(&b);
    let config = Config::new("raw-peer")
        .unwrap()
        .secret("test secret")
        .framings([Framing::Cbor])
        .unwrap();
    let (tx, _rx) = connect(addr(&b).as_str(), &config).await.unwrap().split();
    assert_eq!(tx.framing(), Framing::Cbor);

    let enc = Encoder::new(Framing::Cbor);
    let mut wire = Vec::new();
    let plain = |dest: &PortId, body: Vec<Value>, wire: &mut Vec<u8>| {
        enc.encode_message(dest.name(), &body, wire).unwrap()
    };
    plain(&p, msg!["a", 1], &mut wire);
    // [p, "bad", 1(0)]: a tag aemp does not represent.
    wire.push(0x83);
    wire.extend(cbor_text(p.name()));
    wire.extend(cbor_text("bad"));
    wire.extend([0xc1, 0x00]);
    // [(_ p), "c"]: the destination as a chunked string.
    wire.push(0x82);
    wire.push(0x7f);
    wire.extend(cbor_text(p.name()));
    wire.push(0xff);
    wire.extend(cbor_text("c"));
    // [55799(p), "d"]: a self-described destination.
    wire.extend([0x82, 0xd9, 0xd9, 0xf7]);
    wire.extend(cbor_text(p.name()));
    wire.extend(cbor_text("d"));
    plain(&q, msg!["e"], &mut wire);
    plain(&p, msg!["f"], &mut wire);
    wire.extend([0x82, 0x63, b'z', b'z', b'z', 0x61, b'g']); // ["zzz", "g"]: no such port
    wire.push(0x80); // []: a keepalive
    for i in 0..200 {
        plain(&p, msg!["burst", i], &mut wire);
        plain(&q, msg!["burst", i], &mut wire);
    }
    plain(&p, msg!["z"], &mut wire);

    let mut dec = Decoder::new(Framing::Cbor);
    dec.extend(&wire);
    let mut sent = 0;
    loop {
        match dec.next_raw() {
            Ok(Some(raw)) => {
                tx.send_raw(&raw).await.unwrap();
                sent += 1;
            }
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(sent, 8 + 400 + 1);

    for want in [msg!["a", 1], msg!["c"], msg!["d"], msg!["f"]] {
        assert_eq!(p_got.next().await, want);
    }
    assert_eq!(q_got.next().await, msg!["e"]);
    for i in 0..200 {
        assert_eq!(p_got.next().await, msg!["burst", i]);
        assert_eq!(q_got.next().await, msg!["burst", i]);
    }
    assert_eq!(p_got.next().await, msg!["z"]);
    // The link never went down.
    assert!(b.up_nodes().iter().any(|n| n == "raw-peer"));
}
