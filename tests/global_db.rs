//! Seeds, global nodes and the distributed database, with clusters on 127.0.0.1.

mod support;

use aemp::{msg, Node, Value};
use aemp_actor::DbWatch;
use support::nodes::{inbox, within};

/// A free port on 127.0.0.1, for seeds whose address must be known before they start.
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn seed(id: &str, addr: &str, seeds: &[&str]) -> Node {
    let mut b = Node::builder().node_id(id).bind(addr).secret("db secret");
    for s in seeds {
        b = b.seed(*s);
    }
    b.start().await.unwrap()
}

async fn member(id: &str, seeds: &[&str]) -> Node {
    seed(id, "127.0.0.1:0", seeds).await
}

/// Waits until the watched family satisfies `pred`.
async fn until(
    w: &mut DbWatch,
    what: &str,
    pred: impl Fn(&aemp_actor::DbEvent) -> bool,
) -> aemp_actor::DbEvent {
    within(what, async {
        loop {
            let e = w.recv().await.expect("watch open");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_forms_from_one_seed_and_every_node_sees_every_write() {
    let s_addr = free_addr();
    let s = seed("g-seed", &s_addr, &[&s_addr]).await;
    let mut listeners = s.db_watch(aemp_actor::LISTENERS);
    let mut members = Vec::new();
    for i in 0..5 {
        members.push(member(&format!("g-node{i}"), &[&s_addr]).await);
    }
    // Every node published its listeners through its master.
    until(&mut listeners, "six listeners", |e| e.entries.len() == 6).await;
    assert!(
        s.is_global(),
        "a node that finds itself among its seeds is global"
    );
    for m in &members {
        assert_eq!(m.master().as_deref(), Some("g-seed"));
        assert!(!m.is_global());
    }

    let mut watches: Vec<DbWatch> = members.iter().map(|m| m.db_watch("config")).collect();
    members[0].db_set("config", "color", Value::from("blue"));
    for (i, w) in watches.iter_mut().enumerate() {
        let e = until(w, "color", |e| {
            e.entries.get("color") == Some(&Value::from("blue"))
        })
        .await;
        assert!(
            e.added.contains(&"color".to_owned()) || e.changed.contains(&"color".to_owned()),
            "node {i}: {e:?}"
        );
    }
    for m in &members {
        assert_eq!(m.db_keys("config").await, vec!["color".to_owned()]);
    }
    members[2].db_set("config", "size", Value::from(3));
    members[0].db_set("config", "color", Value::from("red"));
    let e = until(&mut watches[4], "changes", |e| {
        e.entries.len() == 2 && e.entries["color"] == Value::from("red")
    })
    .await;
    assert_eq!(e.entries["size"], Value::from(3));
    members[0].db_del("config", &["color"]);
    let e = until(&mut watches[3], "delete", |e| {
        !e.entries.contains_key("color")
    })
    .await;
    assert_eq!(e.deleted, vec!["color".to_owned()]);
    assert_eq!(s.db_family("config").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_groups_lookup_and_registrations_that_die_with_their_port() {
    let s_addr = free_addr();
    let _s = seed("n-seed", &s_addr, &[&s_addr]).await;
    let a = member("n-a", &[&s_addr]).await;
    let b = member("n-b", &[&s_addr]).await;
    let c = member("n-c", &[&s_addr]).await;
    let mut group = c.watch_name("workers");
    let first = group.recv().await.unwrap();
    assert!(
        first.entries.is_empty(),
        "the first event holds the (empty) contents"
    );

    let (pa, mut a_got) = inbox(&a);
    let (pb, _b_got) = inbox(&b);
    let ga = a.register_name("workers", &pa);
    b.register_name("workers", &pb).detach();
    let e = until(&mut group, "two members", |e| e.entries.len() == 2).await;
    assert!(e.entries.contains_key(pa.as_str()) && e.entries.contains_key(pb.as_str()));

    // Lookup from another node, then a message to the port found there: c has never
    // talked to a, so it learns a's address from its master (g_find).
    let mut found = c.lookup_names("workers").await;
    found.sort();
    assert_eq!(found.len(), 2);
    c.snd(&pa, msg!["hello from c"]).unwrap();
    assert_eq!(a_got.next().await, msg!["hello from c"]);

    // The port dies: its registration goes, everywhere.
    b.kil(&pb, vec![]).unwrap();
    let e = until(&mut group, "b left", |e| e.entries.len() == 1).await;
    assert_eq!(e.deleted, vec![pb.to_string()]);
    // The guard is dropped: the registration goes.
    drop(ga);
    until(&mut group, "a left", |e| e.entries.is_empty()).await;
    assert!(c.lookup_name("workers").await.is_none());

    // A node goes away: everything it wrote vanishes.
    let (pc, _) = inbox(&b);
    b.register_name("workers", &pc).detach();
    b.db_set("b-state", "alive", Value::from(true));
    until(&mut group, "b's port", |e| e.entries.len() == 1).await;
    b.shutdown().await;
    until(&mut group, "b's node gone", |e| e.entries.is_empty()).await;
    let mut state = c.db_watch("b-state");
    until(&mut state, "b's state gone", |e| e.entries.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seeds_that_each_know_only_the_other_form_one_network() {
    let (a_addr, b_addr) = (free_addr(), free_addr());
    let a = seed("two-a", &a_addr, &[&b_addr]).await;
    let b = seed("two-b", &b_addr, &[&a_addr]).await;
    let n1 = member("two-n1", &[&a_addr]).await;
    let n2 = member("two-n2", &[&b_addr]).await;
    let mut w = n2.db_watch("shared");
    n1.db_set("shared", "from-n1", Value::from(1));
    until(&mut w, "n1's write on n2", |e| {
        e.entries.contains_key("from-n1")
    })
    .await;
    assert!(a.is_global() && b.is_global(), "each made the other global");
    assert_eq!(n1.master().as_deref(), Some("two-a"));
    assert_eq!(n2.master().as_deref(), Some("two-b"));
    let (p1, mut got) = inbox(&n1);
    n1.register_name("svc", &p1).detach();
    let mut names = n2.watch_name("svc");
    until(&mut names, "svc", |e| !e.entries.is_empty()).await;
    let found = n2.lookup_name("svc").await.unwrap();
    n2.snd(&found, msg!["across two globals"]).unwrap();
    assert_eq!(got.next().await, msg!["across two globals"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_seed_comes_back_and_the_network_heals() {
    let s_addr = free_addr();
    let s = seed("heal-seed", &s_addr, &[&s_addr]).await;
    let a = member("heal-a", &[&s_addr]).await;
    let b = member("heal-b", &[&s_addr]).await;
    let (pa, _) = inbox(&a);
    a.register_name("heal", &pa).detach();
    let mut w = b.watch_name("heal");
    until(&mut w, "registered", |e| e.entries.len() == 1).await;

    s.shutdown().await;
    drop(s);
    // The seed's port is free again; a new seed process takes it.
    let s2 = within("restart", async {
        loop {
            match Node::builder()
                .node_id("heal-seed")
                .bind(&s_addr)
                .seed(&s_addr)
                .secret("db secret")
                .start()
                .await
            {
                Ok(n) => return n,
                Err(_) => tokio::task::yield_now().await,
            }
        }
    })
    .await;
    let mut s2_view = s2.watch_name("heal");
    until(&mut s2_view, "a's registration back on the new seed", |e| {
        e.entries.len() == 1
    })
    .await;
    // b monitors through its (new) master: the entry is there.
    assert_eq!(
        within("lookup", b.lookup_names("heal")).await,
        vec![pa.clone()]
    );
    assert_eq!(b.master().as_deref(), Some("heal-seed"));
}

/// A node that becomes global owes the globals it knows its domain, as 2.x's
/// `g_global_connect` sends it: `g_global` first, then `g_set` (a 2.x global resets the
/// sender's shard on `g_global` and waits for the `g_set`). The "global" here is a raw
/// connection that speaks the 2.x messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_becomes_global_sends_the_globals_it_knows_its_g_set() {
    let a = member("gs-a", &[]).await;
    let a_addr = a.listen_addrs()[0].to_string();
    let config = aemp::transport::Config::new("gs-perl-global")
        .unwrap()
        .secret("db secret");
    let conn = aemp::transport::connect(a_addr.as_str(), &config)
        .await
        .unwrap();
    let (tx, mut rx) = conn.split();
    // A 2.x global announces itself on connect, then a slave asks `a` to be its master.
    tx.send(&msg!["", "g_global"]).await.unwrap();
    tx.send(&msg!["", "g_slave"]).await.unwrap();
    let mut seen = Vec::new();
    let set = within("a's g_set", async {
        loop {
            let m = rx.recv().await.unwrap().expect("a message from a");
            let tag = m.get(1).and_then(Value::as_str).unwrap_or("").to_owned();
            if tag == "g_set" {
                return m;
            }
            seen.push(tag);
        }
    })
    .await;
    assert!(
        seen.iter().any(|t| t == "g_global"),
        "g_global before g_set: {seen:?}"
    );
    // Its domain: its listeners in 'l and itself in 'g.
    let db = set[2].as_map().expect("g_set carries a map");
    let family = |name: &str| {
        db.iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .and_then(|(_, v)| v.as_map())
            .unwrap_or_else(|| panic!("family {name} in {db:?}"))
    };
    let listeners = family("'l");
    assert!(
        listeners.iter().any(|(k, v)| k.as_str() == Some("gs-a")
            && *v == Value::Array(vec![Value::from(a_addr.as_str())])),
        "{listeners:?}"
    );
    assert!(family("'g").iter().any(|(k, _)| k.as_str() == Some("gs-a")));
}

/// A node on its own (no seeds, so never a master) answers database questions from what it
/// holds itself, instead of waiting for a master that will never come.
#[tokio::test]
async fn a_node_without_seeds_answers_from_its_own_database() {
    let node = Node::builder().node_id("lone").start().await.unwrap();
    let port = node.port_with(|_, _| {});
    let _reg = node.register_name("lonely", &port);
    let found = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        node.lookup_name("lonely"),
    )
    .await
    .expect("an answer, not a wait");
    assert_eq!(found, Some(port));
}
