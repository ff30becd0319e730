//! Links: a death with a reason propagates both ways, a normal exit does not, a port may
//! trap exits; locally, across nodes (where the loss of a node counts as a death), with a
//! typed actor, and with a port on the reference Perl node.

mod support;

use aemp::{actor, msg, ActorCtx, ActorRef, Message, Node, PortId, Value};
use support::nodes::{addr, inbox, node, pair, within};
use support::peer::PeerBuilder;

/// A port that answers `["ping", REPLY]` with `["pong"]`, and records nothing else.
fn pinger(node: &Node) -> PortId {
    node.port_with(|ctx, msg| {
        if let (Some("ping"), Some(reply)) = (msg[0].as_str(), msg.get(1).and_then(Value::as_str)) {
            let _ = ctx.snd(reply, msg!["pong"]);
        }
    })
}

/// Whether `port` still answers.
async fn alive(node: &Node, port: &PortId) -> bool {
    // (No timeout: a call to a dead port fails at once, through its monitor.)
    match within("an answer or a death", node.cal(port, msg!["ping"])).await {
        Ok(reply) => reply == msg!["pong"],
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_death_with_a_reason_propagates_a_normal_exit_does_not() {
    let node = node("links-local").await;
    let (a, b, c) = (pinger(&node), pinger(&node), pinger(&node));
    node.link(&a, &b).detach();
    node.link(&b, &c).detach();
    let c_died = node.monitor(&c);
    node.kil(&a, msg!["crashed", 1]).unwrap();
    // Through b to c, the same reason.
    assert_eq!(within("c's death", c_died).await, msg!["crashed", 1]);
    assert!(!alive(&node, &b).await);

    let (d, e) = (pinger(&node), pinger(&node));
    node.link(&d, &e).detach();
    node.kil(&d, vec![]).unwrap();
    assert!(alive(&node, &e).await, "a normal exit does not propagate");

    // Dropping the guard undoes the link.
    let (f, g) = (pinger(&node), pinger(&node));
    drop(node.link(&f, &g));
    node.kil(&f, msg!["bye"]).unwrap();
    assert!(alive(&node, &g).await);
}

#[tokio::test]
async fn a_port_that_traps_exits_gets_them_as_messages() {
    let node = node("links-trap").await;
    let (watcher, mut got) = inbox(&node);
    node.trap_exits(&watcher, true).unwrap();
    let (a, b) = (pinger(&node), pinger(&node));
    node.link(&a, &watcher).detach();
    node.link(&b, &watcher).detach();
    node.kil(&a, msg!["boom"]).unwrap();
    assert_eq!(got.next().await, msg!["EXIT", a.to_string(), "boom"]);
    node.kil(&b, vec![]).unwrap();
    assert_eq!(got.next().await, msg!["EXIT", b.to_string()]);
    assert!(
        node.trap_exits("other#x", true).is_err(),
        "only local ports"
    );
}

#[tokio::test]
async fn links_across_nodes_and_the_loss_of_a_node() {
    let (a, b) = pair("links-a", "links-b").await;
    let (pa, pb) = (pinger(&a), pinger(&b));
    a.link(&pa, &pb).detach();
    // b's port dies: a's follows. (Killed through a's connection, which carried the link's
    // monitor request first: the link is in place when the kill arrives.)
    let pa_died = a.monitor(&pa);
    a.kil(&pb, msg!["remote", "crash"]).unwrap();
    assert_eq!(within("pa's death", pa_died).await, msg!["remote", "crash"]);

    // And back: a's port dies, b's follows.
    let (pa, pb) = (pinger(&a), pinger(&b));
    a.link(&pa, &pb).detach();
    let pb_died = b.monitor(&pb);
    a.kil(&pa, msg!["local", "crash"]).unwrap();
    assert_eq!(within("pb's death", pb_died).await, msg!["local", "crash"]);

    // The node of a linked port goes away: a death with transport_error.
    let (pa, pb) = (pinger(&a), pinger(&b));
    a.link(&pa, &pb).detach();
    assert!(alive(&a, &pb).await);
    let pa_died = a.monitor(&pa);
    b.shutdown().await;
    let reason = within("pa's death", pa_died).await;
    assert_eq!(reason[0], Value::from("transport_error"), "{reason:?}");
}

#[tokio::test]
async fn spawn_link_learns_that_the_init_failed() {
    let (a, b) = pair("links-spawner", "links-host").await;
    let (watcher, mut got) = inbox(&a);
    a.trap_exits(&watcher, true).unwrap();
    let child = a
        .spawn_link(b.id(), "no::such::init", vec![], &watcher)
        .unwrap();
    let exit = got.next().await;
    assert_eq!(exit[0], Value::from("EXIT"));
    assert_eq!(exit[1], Value::from(child.to_string()));
    assert_eq!(exit[2], Value::from("no_such_port"), "{exit:?}");
}

#[derive(Debug, Clone, Message)]
enum Watch {
    /// Link with this port.
    Follow(PortId),
    #[message(reply = Vec<String>)]
    Seen,
}

#[derive(Default)]
struct Watcher {
    trap: bool,
    seen: Vec<String>,
}

#[actor(msg = Watch)]
impl Watcher {
    async fn started(&mut self, ctx: &mut ActorCtx<Self>) {
        ctx.trap_exits(self.trap);
    }

    async fn follow(&mut self, ctx: &mut ActorCtx<Self>, port: PortId) {
        ctx.link(port);
    }

    async fn seen(&mut self) -> Vec<String> {
        self.seen.clone()
    }

    async fn on_link_died(&mut self, _ctx: &mut ActorCtx<Self>, port: PortId, reason: Vec<Value>) {
        self.seen
            .push(format!("{port} {}", aemp::format_reason(&reason)));
    }
}

#[tokio::test]
async fn typed_actors_trap_exits_in_a_hook_or_die_with_the_link() {
    let node = node("links-typed").await;
    let trapping: ActorRef<Watch> = node.spawn_actor(Watcher {
        trap: true,
        ..Default::default()
    });
    let plain: ActorRef<Watch> = node.spawn_actor(Watcher::default());
    let (x, y) = (pinger(&node), pinger(&node));
    trapping.tell(Watch::Follow(x.clone())).unwrap();
    plain.tell(Watch::Follow(y.clone())).unwrap();
    // The links are made once the actors handled Follow: ask them.
    assert!(trapping.ask(Watch::seen()).await.unwrap().is_empty());
    assert!(plain.ask(Watch::seen()).await.unwrap().is_empty());

    node.kil(&x, msg!["oops"]).unwrap();
    let seen = trapping.ask(Watch::seen()).await.unwrap();
    assert_eq!(seen, vec![format!("{x} oops")]);

    let plain_died = plain.monitor();
    node.kil(&y, msg!["oops"]).unwrap();
    assert_eq!(
        within("the plain actor's death", plain_died).await,
        msg!["oops"]
    );
}

#[tokio::test]
async fn a_link_with_a_port_on_the_perl_node() {
    if support::peer::require().is_none() {
        return;
    }
    let node = support::nodes::builder("links-rust")
        .secret("link secret")
        .start()
        .await
        .unwrap();
    let mut peer = PeerBuilder::new("links-perl")
        .listen("127.0.0.1:0")
        .secret("link secret")
        .spawn()
        .await;
    within("connect", node.connect(peer.listen_addr()))
        .await
        .unwrap();
    let _ = addr(&node);

    // The Perl port dies with a reason: the Rust port dies with it.
    let rust = pinger(&node);
    node.link(&rust, "links-perl#echo").detach();
    let rust_died = node.monitor(&rust);
    // (Through the link's own connection, after its monitor request.)
    node.kil("links-perl#echo", msg!["perl", "crash"]).unwrap();
    assert_eq!(
        within("rust's death", rust_died).await,
        msg!["perl", "crash"]
    );

    // And back: the Rust port dies, the Perl port (its sink) is killed with the reason.
    let rust = pinger(&node);
    node.link(&rust, "links-perl#sink").detach();
    let perl_died = node.monitor("links-perl#sink");
    node.kil(&rust, msg!["rust", "crash", 7]).unwrap();
    assert_eq!(
        within("perl's death", perl_died).await,
        msg!["rust", "crash", 7]
    );
    let _ = peer.drain();
}
