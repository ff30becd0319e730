//! Typed messages and actors: #[derive(Message)], #[actor], Port, ActorRef, tell/ask.

mod support;

use std::time::Duration;

use aemp::{actor, msg, ActorCtx, ActorRef, Message, Node, TellError, Value};
use serde::{Deserialize, Serialize};
use support::nodes::{inbox, pair, within};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i64,
    y: i64,
}

#[derive(Debug, Clone, PartialEq, Message)]
enum Shape {
    Circle(Point, f64),
    Rect {
        corner: Point,
        w: u32,
        h: u32,
    },
    #[message(tag = "nothing")]
    Empty,
    Labelled(String, Option<String>),
}

#[derive(Debug, Clone, PartialEq, Message)]
struct ChatLine {
    from: String,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Message)]
#[message(tag = "ping")]
struct Ping(u32);

#[test]
fn derive_message_encodes_tagged_arrays() {
    let c = Shape::Circle(Point { x: 1, y: -2 }, 2.5);
    let v = c.clone().into_values().unwrap();
    assert_eq!(v[0], Value::from("circle"));
    assert_eq!(v[2], Value::from(2.5));
    assert_eq!(v[1].get("x"), Some(&Value::from(1)));
    assert_eq!(Shape::from_values(v).unwrap(), (c, vec![]));

    let r = Shape::Rect {
        corner: Point { x: 0, y: 0 },
        w: 3,
        h: 4,
    };
    let v = r.clone().into_values().unwrap();
    assert_eq!(v.len(), 4, "named fields in declaration order: {v:?}");
    assert_eq!(v[2..], msg![3, 4][..]);
    assert_eq!(Shape::from_values(v).unwrap().0, r);

    assert_eq!(Shape::Empty.into_values().unwrap(), msg!["nothing"]);
    assert_eq!(
        ChatLine {
            from: "a".into(),
            text: "hi".into()
        }
        .into_values()
        .unwrap(),
        msg!["chat_line", "a", "hi"]
    );
    assert_eq!(Ping(7).into_values().unwrap(), msg!["ping", 7]);
    assert_eq!(
        <Shape as Message>::TAGS,
        &["circle", "rect", "nothing", "labelled"]
    );
    // Each value knows its own tag (spans and logs name it).
    assert_eq!(Shape::Circle(Point { x: 0, y: 0 }, 1.0).tag(), "circle");
    assert_eq!(r.tag(), "rect");
    assert_eq!(Shape::Empty.tag(), "nothing");
    assert_eq!(Shape::Labelled("x".into(), None).tag(), "labelled");
    assert_eq!(Ping(1).tag(), "ping");
}

#[test]
fn decoding_is_lenient_as_perl_needs_and_errors_name_tag_and_field() {
    // Perl sends tags and strings as byte strings, may leave out trailing optional fields,
    // and cal appends a reply port.
    let (m, rest) = Shape::from_values(vec![
        Value::Bytes(b"labelled".to_vec()),
        Value::Bytes(b"x".to_vec()),
    ])
    .unwrap();
    assert_eq!((m, rest), (Shape::Labelled("x".into(), None), vec![]));
    let (_, rest) = Ping::from_values(msg!["ping", 1, "node#reply"]).unwrap();
    assert_eq!(rest, msg!["node#reply"]);

    let err = Shape::from_values(msg!["rect", Value::Map(vec![]), 1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("'rect'") && err.contains("corner"), "{err}");
    let err = Shape::from_values(msg![
        "rect",
        Value::Map(vec![("x".into(), 0.into()), ("y".into(), 0.into())]),
        1
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing field h"), "{err}");
    let err = Shape::from_values(msg!["square"]).unwrap_err().to_string();
    assert!(
        err.contains("unknown tag 'square'") && err.contains("circle, rect, nothing, labelled"),
        "{err}"
    );
    let err = Ping::from_values(msg!["ping", "many"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("'ping'") && err.contains("field 0"), "{err}");
    assert!(Ping::from_values(vec![]).is_err());
}

/// An actor whose messages are inferred from its handlers.
#[derive(Default)]
struct Counter {
    n: i64,
    log: Option<ActorRef<ChatLine>>,
}

#[actor(spawn = "test::Counter")]
impl Counter {
    #[init]
    fn new(start: i64) -> Self {
        Counter {
            n: start,
            log: None,
        }
    }

    async fn add(&mut self, k: i64) {
        self.n += k;
    }

    async fn get(&mut self, _ctx: &mut ActorCtx<Self>) -> i64 {
        self.n
    }

    async fn log_to(
        &mut self,
        ctx: &mut ActorCtx<Self>,
        port: ActorRef<ChatLine>,
    ) -> Result<(), aemp::Error> {
        port.tell(ChatLine {
            from: ctx.myself().id().to_string(),
            text: format!("n = {}", self.n),
        })?;
        self.log = Some(port);
        Ok(())
    }

    async fn fail(&mut self, why: String) -> Result<(), String> {
        Err(why)
    }

    async fn stop(&mut self, ctx: &mut ActorCtx<Self>) {
        ctx.stop_with(msg!["stopped on request"]);
    }

    async fn stopped(&mut self, ctx: &mut ActorCtx<Self>, reason: &[Value]) {
        if let Some(log) = &self.log {
            let _ = ctx;
            let _ = log.tell(ChatLine {
                from: "counter".into(),
                text: format!("stopped: {}", aemp::format_reason(reason)),
            });
        }
    }
}

#[tokio::test]
async fn inferred_actor_tell_ask_and_lifecycle() {
    let node = Node::builder().node_id("typed").start().await.unwrap();
    let counter = node.spawn_actor(Counter::new(10));
    counter.tell(CounterMsg::Add(5)).unwrap();
    let n: i64 = counter
        .ask(CounterMsg::get())
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(n, 15);

    // Dynamic senders use the tagged arrays, cal gets the reply.
    node.snd(counter.id(), msg!["add", 1]).unwrap();
    assert_eq!(
        node.cal(counter.id(), msg!["get"])
            .timeout(Duration::from_secs(5))
            .await
            .unwrap(),
        msg![16]
    );
    // A handler without a reply answers a `cal` with an empty message.
    assert_eq!(
        node.cal(counter.id(), msg!["add", 0])
            .timeout(Duration::from_secs(5))
            .await
            .unwrap(),
        msg![]
    );

    // A message that does not fit: answered with an error, the actor keeps running.
    let reply = node
        .cal(counter.id(), msg!["add", "not a number"])
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply[0], Value::from("error"));
    assert!(reply[1].as_str().unwrap().contains("'add'"), "{reply:?}");
    let reply = node
        .cal(counter.id(), msg!["explode"])
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        reply[1].as_str().unwrap().contains("unknown tag 'explode'"),
        "{reply:?}"
    );
    assert_eq!(counter.ask(CounterMsg::get()).await.unwrap(), 16);

    // ActorRef travels inside messages; stopped hook runs with the reason.
    let (log, mut logged) = inbox(&node);
    let death = counter.monitor();
    counter
        .tell(CounterMsg::LogTo(ActorRef::from_id(log.clone())))
        .unwrap();
    assert_eq!(
        logged.next().await,
        msg!["chat_line", counter.id().to_string(), "n = 16"]
    );
    counter.tell(CounterMsg::Stop).unwrap();
    assert_eq!(within("death", death).await, msg!["stopped on request"]);
    assert_eq!(
        logged.next().await,
        msg!["chat_line", "counter", "stopped: stopped on request"]
    );
    assert!(matches!(
        counter.tell(CounterMsg::Add(1)),
        Err(TellError::Closed(CounterMsg::Add(1)))
    ));
}

#[tokio::test]
async fn a_failing_handler_stops_the_actor_with_die() {
    let node = Node::builder().node_id("typed-die").start().await.unwrap();
    let counter = node.spawn_actor(Counter::default());
    let death = counter.monitor();
    counter.tell(CounterMsg::Fail("bad input".into())).unwrap();
    assert_eq!(within("death", death).await, msg!["die", "bad input"]);
}

#[tokio::test]
async fn full_mailboxes_hand_the_message_back_and_send_waits() {
    let node = Node::builder().node_id("typed-full").start().await.unwrap();
    struct Slow(tokio::sync::Semaphore);
    #[actor]
    impl Slow {
        async fn work(&mut self, n: u32) -> u32 {
            let _permit = self.0.acquire().await.unwrap();
            n
        }
    }
    let gate = Slow(tokio::sync::Semaphore::new(0));
    let port = node.spawn_actor_with_capacity(gate, 2);
    // The first message is taken by the handler (blocked on the semaphore), two fill the box.
    port.tell(SlowMsg::Work(1)).unwrap();
    let mut queued = 0;
    let rejected = loop {
        match port.tell(SlowMsg::Work(100 + queued)) {
            Ok(()) => queued += 1,
            Err(e) => break e,
        }
        assert!(queued <= 3, "the mailbox should be bounded at 2");
    };
    assert!(
        matches!(rejected, TellError::Full(SlowMsg::Work(n)) if n == 100 + queued),
        "{rejected:?}"
    );
}

/// An actor over a user-supplied message enum: every variant needs a handler.
#[derive(Debug, Clone, Message)]
enum Calc {
    #[message(reply = i64)]
    Add(i64, i64),
    #[message(reply = i64)]
    Neg(i64),
    #[message(reply = String)]
    Describe,
}

struct Calculator;

#[actor(msg = Calc)]
impl Calculator {
    async fn add(&mut self, a: i64, b: i64) -> i64 {
        a + b
    }
    async fn neg(&mut self, _ctx: &mut ActorCtx<Self>, a: i64) -> i64 {
        -a
    }
    async fn describe(&mut self, ctx: &mut ActorCtx<Self>) -> String {
        format!("calculator at {}", ctx.myself().id())
    }
}

#[tokio::test]
async fn enum_actor_dispatches_every_variant() {
    let node = Node::builder().node_id("calc").start().await.unwrap();
    let calc = node.spawn_actor(Calculator);
    assert_eq!(calc.ask(Calc::add(2, 3)).await.unwrap(), 5);
    assert_eq!(calc.ask(Calc::neg(7)).await.unwrap(), -7);
    let d = calc.ask(Calc::describe()).await.unwrap();
    // The message itself is a request too, its reply undecoded.
    assert_eq!(calc.ask(Calc::Neg(1)).await.unwrap(), Value::from(-1));
    assert!(d.starts_with("calculator at calc#"), "{d}");
}

#[tokio::test]
async fn typed_actors_across_nodes_and_spawn_by_name() {
    let server = support::nodes::builder("typed-server")
        .actor::<Counter>()
        .start()
        .await
        .unwrap();
    let client = support::nodes::node("typed-client").await;
    client
        .connect(&support::nodes::addr(&server))
        .await
        .unwrap();
    let remote: ActorRef<CounterMsg> = client
        .spawn_actor_on::<Counter>("typed-server", (40,))
        .unwrap();
    assert_eq!(remote.id().node(), "typed-server");
    remote.tell(CounterMsg::Add(2)).unwrap();
    let n: i64 = remote
        .ask(CounterMsg::get())
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(n, 42);

    // A dynamic spawn with bad init arguments kills the port with die.
    let bad = client
        .spawn("typed-server", "test::Counter", msg!["forty"])
        .unwrap();
    let reason = within("death", client.monitor(&bad)).await;
    assert_eq!(reason[0], Value::from("no_such_port"), "{reason:?}");

    // tell to a remote calculator port through the typed API
    let (a, b) = pair("typed-a", "typed-b").await;
    let calc = b.spawn_actor(Calculator);
    // The reference, as node a would have it from a message: bound to a, so the request
    // crosses the network.
    let r: ActorRef<Calc> = calc.bind(&a);
    assert_eq!(
        r.ask(Calc::add(20, 22))
            .timeout(Duration::from_secs(5))
            .await
            .unwrap(),
        42
    );
}

/// A struct message that declares its reply: asked directly, no constructor needed.
#[derive(Debug, Clone, PartialEq, Message)]
#[message(tag = "locate", reply = Point)]
struct Locate(String);

#[derive(Default)]
struct Atlas;

#[actor]
impl Atlas {
    /// Replies a serde struct as it is, no wrapper.
    async fn origin(&mut self) -> Point {
        Point { x: 0, y: 0 }
    }

    async fn scale(&mut self, p: Point, k: i64) -> Result<Point, String> {
        if k == 0 {
            return Err("scale by zero".into());
        }
        Ok(Point {
            x: p.x * k,
            y: p.y * k,
        })
    }
}

#[tokio::test]
async fn replies_are_typed_by_the_handlers_and_serde_structs_need_no_wrapper() {
    let (a, b) = pair("reply-a", "reply-b").await;
    let atlas = b.spawn_actor(Atlas);
    // Locally: the reply's type comes from the handler's return type.
    let p: Point = atlas.ask(AtlasMsg::origin()).await.unwrap();
    assert_eq!(p, Point { x: 0, y: 0 });
    let p = atlas
        .ask(AtlasMsg::scale(Point { x: 1, y: 2 }, 3))
        .await
        .unwrap();
    assert_eq!(p, Point { x: 3, y: 6 });
    // Across nodes, the same request, as the tagged array a Perl node would send.
    let remote: ActorRef<AtlasMsg> = atlas.bind(&a);
    let p = remote
        .ask(AtlasMsg::scale(Point { x: -1, y: 1 }, 2))
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(p, Point { x: -2, y: 2 });
    // An error in the handler stops the actor with it; the ask learns it got no reply.
    let death = b.monitor(atlas.id());
    let err = atlas
        .ask(AtlasMsg::scale(Point { x: 1, y: 1 }, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, aemp::Error::NoReply { .. }), "{err:?}");
    assert_eq!(within("death", death).await, msg!["die", "scale by zero"]);
}

#[test]
fn a_struct_message_with_a_reply_is_a_request() {
    fn reply_of<Q: aemp::kernel::typed::Request<Reply = Point>>(_: &Q) {}
    reply_of(&Locate("home".into()));
    assert_eq!(
        Locate("home".into()).into_values().unwrap(),
        msg!["locate", "home"]
    );
}

/// Why a counter is stopped: travels as `["overloaded", load]`.
#[derive(Debug, Clone, PartialEq, Message)]
enum Stop {
    Overloaded(u32),
}

#[tokio::test]
async fn one_reference_for_local_and_remote_ports() {
    let (a, b) = pair("ref-a", "ref-b").await;
    let counter = b.spawn_actor(Counter::new(1));

    // It travels as its port id, and comes out of a message bound to the node that got it.
    let as_value = aemp::transport::to_value(&counter).unwrap();
    assert_eq!(as_value, Value::from(counter.id().to_string()));
    // (Decoded in a handler of node a, as a program decodes what its ports get.)
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let port = a.port_with(move |_ctx, mut msg| {
        let r: ActorRef<CounterMsg> = aemp::transport::from_value(msg.remove(0)).unwrap();
        let _ = tx.send(r);
    });
    b.snd(&port, vec![as_value]).unwrap();
    let travelled = within("the reference", rx.recv()).await.unwrap();
    assert_eq!(travelled, counter);
    assert_eq!(travelled.node().unwrap().id(), "ref-a");

    // The same calls work on it: tell, ask, send.
    travelled.tell(CounterMsg::Add(2)).unwrap();
    travelled.send(CounterMsg::Add(3)).await.unwrap();
    let n = travelled
        .ask(CounterMsg::get())
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(n, 6);

    // A per-call timeout on a port that never answers.
    let silent: ActorRef<CounterMsg> = ActorRef::from_id(b.port_with(|_ctx, _msg| {})).bind(&a);
    let err = silent
        .ask(CounterMsg::get())
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, aemp::Error::Timeout { .. }), "{err:?}");

    // A typed kill reason travels as its tagged array.
    let death = travelled.monitor();
    travelled.kil(Stop::Overloaded(9)).unwrap();
    let reason = within("death", death).await;
    assert_eq!(reason, msg!["overloaded", 9]);
    assert_eq!(
        Stop::from_values(reason).unwrap().0,
        Stop::Overloaded(9),
        "and decodes back"
    );
}

#[tokio::test]
async fn every_port_argument_takes_ids_references_and_text() {
    let node = Node::builder().node_id("args").start().await.unwrap();
    let counter = node.spawn_actor(Counter::new(0));
    // Text, a PortId, an ActorRef: the same port.
    node.snd(counter.id().to_string(), msg!["add", 1]).unwrap();
    node.snd(counter.id(), msg!["add", 1]).unwrap();
    node.snd(&counter, msg!["add", 1]).unwrap();
    assert_eq!(counter.ask(CounterMsg::get()).await.unwrap(), 3);
    // Something that is not a port id: the monitor fires at once, saying why.
    let reason = within("refusal", node.monitor("#nonsense")).await;
    assert_eq!(reason[0], Value::from("no_such_port"), "{reason:?}");
    assert!(node.cal("#nonsense", msg![]).await.is_err());
}

struct Gated {
    gate: std::sync::Arc<tokio::sync::Semaphore>,
    seen: Vec<u32>,
}

#[actor]
impl Gated {
    async fn item(&mut self, n: u32) {
        let _pass = self.gate.acquire().await.unwrap();
        self.seen.push(n);
    }

    async fn seen(&mut self) -> Vec<u32> {
        self.seen.clone()
    }
}

/// A `Gated` actor on `node` with a mailbox of `capacity`, and its gate (shut).
fn gated(
    node: &Node,
    capacity: usize,
) -> (ActorRef<GatedMsg>, std::sync::Arc<tokio::sync::Semaphore>) {
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let actor = node.spawn_actor_with_capacity(
        Gated {
            gate: gate.clone(),
            seen: Vec::new(),
        },
        capacity,
    );
    (actor, gate)
}

/// Messages from the network never wait for a full typed mailbox (the connection carries
/// other ports' messages): they queue past its capacity, in order, up to
/// `OVERFLOW_FACTOR` times it; what comes beyond is dropped, and the link carries on.
#[tokio::test]
async fn network_messages_queue_past_a_full_mailbox_up_to_its_bound() {
    let (a, b) = pair("overflow-a", "overflow-b").await;
    let capacity = 2;
    let (actor, gate) = gated(&b, capacity);
    let bound = capacity * aemp::kernel::typed::OVERFLOW_FACTOR;
    for n in 0..(bound as u32 + 100) {
        a.snd(actor.id(), msg!["item", n]).unwrap();
    }
    // Everything before it on the link has been routed once this arrives.
    let (sync, mut synced) = inbox(&b);
    a.snd(&sync, msg!["sync"]).unwrap();
    synced.next().await;
    gate.add_permits(1 << 20);
    let seen = within("the actor", actor.ask(GatedMsg::seen()))
        .await
        .unwrap();
    // The handler may have taken the first item before the rest arrived.
    assert!(
        seen.len() == bound || seen.len() == bound + 1,
        "{} handled",
        seen.len()
    );
    assert_eq!(seen, (0..seen.len() as u32).collect::<Vec<_>>());
    a.snd(actor.id(), msg!["item", 7777]).unwrap();
    a.snd(&sync, msg!["sync"]).unwrap();
    synced.next().await;
    let seen = within("the actor", actor.ask(GatedMsg::seen()))
        .await
        .unwrap();
    assert_eq!(seen.last(), Some(&7777));
}

/// Local senders that find the mailbox full wait their turn, and none is lost.
#[tokio::test]
async fn local_senders_wait_for_room_in_turn() {
    let node = Node::builder()
        .node_id("typed-senders")
        .start()
        .await
        .unwrap();
    let (actor, gate) = gated(&node, 1);
    let senders: Vec<_> = (0..4u32)
        .map(|s| {
            let actor = actor.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    actor.send(GatedMsg::Item(s * 1000 + i)).await.unwrap();
                }
            })
        })
        .collect();
    gate.add_permits(1 << 20);
    for s in senders {
        within("a sender", s).await.unwrap();
    }
    let seen = within("the actor", actor.ask(GatedMsg::seen()))
        .await
        .unwrap();
    assert_eq!(seen.len(), 200);
    for s in 0..4 {
        let mine: Vec<u32> = seen.iter().copied().filter(|n| n / 1000 == s).collect();
        assert_eq!(mine, (0..50).map(|i| s * 1000 + i).collect::<Vec<_>>());
    }
    actor.kil(msg!["bye"]).unwrap();
    within("the kill", actor.monitor()).await;
    assert!(matches!(
        actor.ask(GatedMsg::seen()).await,
        Err(aemp::Error::NoReply { .. })
    ));
}

/// When the runtime that runs an actor goes away, the actor's task is dropped: its port
/// dies, and an ask waiting for it fails instead of waiting for ever.
#[test]
fn an_actor_whose_runtime_ends_fails_its_askers() {
    let rt_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (_node, actor, _gate) = rt_a.block_on(async {
        let node = Node::builder().node_id("typed-rt-a").start().await.unwrap();
        let (actor, gate) = gated(&node, aemp::kernel::typed::DEFAULT_CAPACITY);
        // A handler that never finishes: what comes next waits in the mailbox.
        actor.tell(GatedMsg::Item(1)).unwrap();
        (node, actor, gate)
    });
    let rt_b = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt_b.block_on(async {
        let mut ask = std::pin::pin!(std::future::IntoFuture::into_future(
            actor.ask(GatedMsg::seen())
        ));
        assert!(futures::poll!(ask.as_mut()).is_pending(), "queued");
        rt_a.shutdown_background();
        let answer = within("the ask to fail", ask).await;
        assert!(
            matches!(answer, Err(aemp::Error::NoReply { .. })),
            "{answer:?}"
        );
        assert!(matches!(
            actor.tell(GatedMsg::Item(2)),
            Err(TellError::Closed(_))
        ));
    });
}

/// A hand-written actor whose handler panics before its future exists.
struct Brittle;

impl aemp::Actor for Brittle {
    type Msg = GatedMsg;

    #[allow(clippy::manual_async_fn)]
    fn handle(
        &mut self,
        _ctx: &mut ActorCtx<Self>,
        msg: GatedMsg,
    ) -> impl std::future::Future<Output = Result<Option<Value>, aemp::BoxError>> + Send {
        if let GatedMsg::Item(13) = msg {
            panic!("unlucky");
        }
        async { Ok(None) }
    }
}

#[tokio::test]
async fn a_handler_that_panics_before_its_future_exists_stops_the_actor_with_die() {
    let node = Node::builder()
        .node_id("typed-brittle")
        .start()
        .await
        .unwrap();
    let actor = node.spawn_actor(Brittle);
    let died = actor.monitor();
    actor.tell(GatedMsg::Item(1)).unwrap();
    actor.tell(GatedMsg::Item(13)).unwrap();
    let reason = within("the death", died).await;
    assert_eq!(reason[0], Value::from("die"), "{reason:?}");
    assert!(
        reason[1].as_str().unwrap_or_default().contains("unlucky"),
        "{reason:?}"
    );
}

struct Parting;

#[actor]
impl Parting {
    /// Answers, and stops the actor after this handler.
    async fn last_word(&mut self, ctx: &mut ActorCtx<Self>) -> u32 {
        ctx.stop();
        7
    }

    async fn fail(&mut self) -> Result<u32, String> {
        Err("no".into())
    }
}

/// The answer of a handler that stops its actor still reaches the asker; a handler that
/// fails answers nothing, and the asker learns it at once.
#[tokio::test]
async fn asks_answered_as_the_actor_stops_or_fails() {
    let node = Node::builder()
        .node_id("typed-parting")
        .start()
        .await
        .unwrap();
    let a = node.spawn_actor(Parting);
    assert_eq!(
        within("the last word", a.ask(PartingMsg::last_word()))
            .await
            .unwrap(),
        7
    );
    within("the stop", a.monitor()).await;
    let b = node.spawn_actor(Parting);
    let failed = within("the failed ask", b.ask(PartingMsg::fail())).await;
    assert!(
        matches!(failed, Err(aemp::Error::NoReply { .. })),
        "{failed:?}"
    );
    // Asks made while it goes fail too, never hang.
    let gone = within("an ask of a stopped actor", b.ask(PartingMsg::last_word())).await;
    assert!(matches!(gone, Err(aemp::Error::NoReply { .. })), "{gone:?}");
}

/// An ask that waits for room in a full mailbox gives up at its timeout, and fails at once
/// when the actor stops.
#[tokio::test]
async fn asks_waiting_for_room_time_out_or_fail_when_the_actor_stops() {
    let node = Node::builder()
        .node_id("typed-full-asks")
        .start()
        .await
        .unwrap();
    let (actor, _gate) = gated(&node, 1);
    // One message in the handler (stuck at the gate), one filling the mailbox.
    actor.tell(GatedMsg::Item(1)).unwrap();
    within("room", actor.send(GatedMsg::Item(2))).await.unwrap();
    let timed_out = actor
        .ask(GatedMsg::seen())
        .timeout(std::time::Duration::from_millis(20))
        .await;
    assert!(
        matches!(timed_out, Err(aemp::Error::Timeout { .. })),
        "{timed_out:?}"
    );
    let waiting = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(GatedMsg::seen()).await })
    };
    // It waits for room (the gate is shut); the actor is killed meanwhile.
    tokio::task::yield_now().await;
    actor.kil(msg!["enough"]).unwrap();
    let failed = within("the waiting ask", waiting).await.unwrap();
    assert!(
        matches!(failed, Err(aemp::Error::NoReply { .. })),
        "{failed:?}"
    );
}

/// A kill stops an actor whose handler waits: the handler is dropped where it waits, the
/// monitors see the kill's reason, and the `stopped` hook runs.
#[tokio::test]
async fn a_kill_stops_a_handler_where_it_waits() {
    struct Waiting {
        gate: std::sync::Arc<tokio::sync::Semaphore>,
        entered: std::sync::Arc<tokio::sync::Notify>,
        stopped: Option<tokio::sync::oneshot::Sender<Vec<Value>>>,
    }
    #[actor]
    impl Waiting {
        async fn wait(&mut self) -> u32 {
            self.entered.notify_one();
            let _pass = self.gate.acquire().await.unwrap();
            1
        }
        async fn stopped(&mut self, _ctx: &mut ActorCtx<Self>, reason: &[Value]) {
            if let Some(tx) = self.stopped.take() {
                let _ = tx.send(reason.to_vec());
            }
        }
    }
    let node = Node::builder()
        .node_id("typed-kill-wait")
        .start()
        .await
        .unwrap();
    let (tx, stopped) = tokio::sync::oneshot::channel();
    let entered = std::sync::Arc::new(tokio::sync::Notify::new());
    let actor = node.spawn_actor(Waiting {
        gate: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
        entered: entered.clone(),
        stopped: Some(tx),
    });
    let death = actor.monitor();
    let asking = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(WaitingMsg::wait()).await })
    };
    // The handler waits at the gate for good; the kill ends it.
    within("the handler", entered.notified()).await;
    actor.kil(msg!["shutdown"]).unwrap();
    assert_eq!(within("the death", death).await, msg!["shutdown"]);
    assert_eq!(
        within("the stopped hook", stopped).await.unwrap(),
        msg!["shutdown"]
    );
    let asked = within("the ask", asking).await.unwrap();
    assert!(
        matches!(asked, Err(aemp::Error::NoReply { .. })),
        "{asked:?}"
    );
}
