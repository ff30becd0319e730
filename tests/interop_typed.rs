//! Typed messages and actors against the reference Perl node: derived messages come back
//! exactly through its echo port, and Perl spawns and talks to a typed Rust actor by name.

mod support;

use std::time::Duration;

use aemp::{actor, ActorRef, Framing, Message, Node, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::nodes::{inbox, within};
use support::peer::PeerBuilder;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    age: u8,
    tags: Vec<String>,
    home: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Message)]
enum Event {
    Joined(ActorRef<Event>, Profile),
    Said {
        who: String,
        text: String,
        at: u64,
    },
    #[message(tag = "bye")]
    Left(Option<String>),
    Ping,
}

fn events(me: &str) -> Vec<Event> {
    vec![
        Event::Joined(
            ActorRef::from_id(format!("{me}#x1").parse().unwrap()),
            Profile {
                name: "Zoë 🦀".into(),
                age: 42,
                tags: vec!["a".into(), "ü".into()],
                home: Some((52.52, -13.4)),
            },
        ),
        Event::Said {
            who: "perl".into(),
            text: "multi\nline \"quoted\"".into(),
            at: u64::MAX,
        },
        Event::Left(None),
        Event::Left(Some("timeout".into())),
        Event::Ping,
    ]
}

#[tokio::test]
async fn derived_messages_round_trip_through_perl_echo_in_both_framings() {
    let Some(_) = support::peer::require() else {
        return;
    };
    for framing in [Framing::Cbor, Framing::Json] {
        let peer = PeerBuilder::new("perl-typed")
            .secret("typed secret")
            .framing(framing.name())
            .listen("127.0.0.1:0")
            .spawn()
            .await;
        let node = Node::builder()
            .node_id("rust-typed")
            .secret("typed secret")
            .framings([framing])
            .start()
            .await
            .unwrap();
        node.connect(peer.listen_addr()).await.unwrap();
        let (me, mut got) = inbox(&node);
        for event in events(node.id()) {
            let mut request = vec![Value::from(&me)];
            request.extend(event.clone().into_values().unwrap());
            node.snd("perl-typed#echo", request).unwrap();
            let back = got.next().await;
            let (decoded, rest) = Event::from_values(back.clone())
                .unwrap_or_else(|e| panic!("{framing}: {e}: {back:?}"));
            assert_eq!(decoded, event, "{framing}");
            assert!(rest.is_empty());
        }
    }
}

#[derive(Default)]
struct Tally {
    total: i64,
}

#[actor(spawn = "test::Tally")]
impl Tally {
    #[init]
    fn new(start: i64) -> Self {
        Tally { total: start }
    }

    async fn add(&mut self, n: i64) {
        self.total += n;
    }

    async fn total(&mut self) -> i64 {
        self.total
    }
}

#[tokio::test]
async fn perl_spawns_a_typed_actor_by_name_and_talks_to_it() {
    let Some(_) = support::peer::require() else {
        return;
    };
    let node = Node::builder()
        .node_id("rust-tally")
        .bind("127.0.0.1:0")
        .secret("typed secret")
        .actor::<Tally>()
        .start()
        .await
        .unwrap();
    let mut peer = PeerBuilder::new("perl-tally")
        .secret("typed secret")
        .connect(node.listen_addrs()[0])
        .spawn()
        .await;
    peer.wait_for_event(json!(["up", "rust-tally"])).await;

    // spawn $node, "test::Tally", 5 — as AnyEvent::MP sends it
    peer.send_command(json!([
        "snd",
        "rust-tally",
        "AnyEvent::MP::_spawn",
        "tally1",
        "test::Tally",
        5
    ]));
    peer.send_command(json!(["snd", "rust-tally#tally1", "add", 2]));
    peer.send_command(json!(["snd", "rust-tally#tally1", "add", 3]));
    // A cal from Perl: the reply port comes last; the handler's value is the reply.
    peer.send_command(json!([
        "snd",
        "rust-tally#tally1",
        "total",
        "perl-tally#inbox"
    ]));
    let reply = peer.wait_for(|e| e[0] == "recv" && e[2] == "inbox").await;
    assert_eq!(reply, json!(["recv", "rust-tally", "inbox", 10]));

    // A message that does not fit is answered with an error, and the actor keeps running.
    peer.send_command(json!([
        "snd",
        "rust-tally#tally1",
        "add",
        "lots",
        "perl-tally#inbox"
    ]));
    let reply = peer.wait_for(|e| e[0] == "recv" && e[2] == "inbox").await;
    assert_eq!(reply[3], "error", "{reply}");
    assert!(reply[4].as_str().unwrap().contains("'add'"), "{reply}");
    let total: i64 = ActorRef::<TallyMsg>::from_id("rust-tally#tally1".parse().unwrap())
        .bind(&node)
        .ask(TallyMsg::total())
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(total, 10);

    // Rust spawns a Perl echo and uses it with typed messages.
    let echo = node.spawn("perl-tally", "aemp_peer::echo", vec![]).unwrap();
    let (me, mut got) = inbox(&node);
    let mut request = vec![Value::from(&me)];
    request.extend(TallyMsg::Add(7).into_values().unwrap());
    node.snd(&echo, request).unwrap();
    let back = within("echo", got.next()).await;
    assert!(matches!(
        TallyMsg::from_values(back).unwrap().0,
        TallyMsg::Add(7)
    ));
}
