//! The distributed database across processes: an `aemp run` member joins through an
//! in-process seed, its registrations are seen everywhere, and they vanish when the process
//! is killed with SIGKILL.

mod support;

use std::process::Stdio;

use aemp::{msg, Node};
use support::nodes::{inbox, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_process_takes_its_entries_with_it() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let seed = Node::builder()
        .node_id("gp-seed")
        .bind(&addr)
        .seed(&addr)
        .secret("gp secret")
        .start()
        .await
        .unwrap();
    let mut group = seed.watch_name("aemp::echo");
    assert!(within("first event", group.recv())
        .await
        .unwrap()
        .entries
        .is_empty());

    let mut member = Command::new(env!("CARGO_BIN_EXE_aemp"))
        .args([
            "run",
            "--node-id",
            "gp-member",
            "--bind",
            "127.0.0.1:0",
            "--seed",
            &addr,
            "--secret",
            "gp secret",
        ])
        .env("AEMP_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(member.stdout.take().unwrap()).lines();
    let line = within("aemp run", lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(line.contains("gp-member"), "{line}");

    // The member's echo port, registered network-wide by aemp run, reaches the seed.
    let joined = within("the member's registration", async {
        loop {
            let e = group.recv().await.unwrap();
            if let Some(port) = e.entries.keys().next() {
                return port.clone();
            }
        }
    })
    .await;
    assert!(joined.starts_with("gp-member#"), "{joined}");
    let other = Node::builder()
        .node_id("gp-other")
        .seed(&addr)
        .secret("gp secret")
        .start()
        .await
        .unwrap();
    let found = within("lookup", async {
        loop {
            if let Some(p) = other.lookup_name("aemp::echo").await {
                return p;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let (me, mut got) = inbox(&other);
    other
        .snd(&found, msg![&me, "through the database"])
        .unwrap();
    assert_eq!(got.next().await, msg!["through the database"]);

    member.start_kill().unwrap(); // SIGKILL
    member.wait().await.unwrap();
    within("the entry to vanish", async {
        loop {
            if group.recv().await.unwrap().entries.is_empty() {
                return;
            }
        }
    })
    .await;
    assert!(other.lookup_name("aemp::echo").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_member_processes_form_one_mesh_through_one_seed() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let seed = Node::builder()
        .node_id("mesh5-seed")
        .bind(&addr)
        .seed(&addr)
        .secret("m5 secret")
        .start()
        .await
        .unwrap();
    let mut listeners = seed.db_watch(aemp_actor::LISTENERS);
    let mut members = Vec::new();
    for i in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aemp"))
            .args([
                "run",
                "--node-id",
                &format!("mesh5-m{i}"),
                "--bind",
                "127.0.0.1:0",
                "--seed",
                &addr,
                "--secret",
                "m5 secret",
            ])
            .env("AEMP_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        within("aemp run", lines.next_line())
            .await
            .unwrap()
            .unwrap();
        members.push(child);
    }
    // Every member published its listeners through the seed: six nodes in 'l.
    within("six listeners", async {
        loop {
            if listeners.recv().await.unwrap().entries.len() == 6 {
                return;
            }
        }
    })
    .await;
    // A plain node joining later sees every member's echo port in the group, and reaches one.
    let late = Node::builder()
        .node_id("mesh5-late")
        .seed(&addr)
        .secret("m5 secret")
        .start()
        .await
        .unwrap();
    let mut group = late.watch_name("aemp::echo");
    within("five echo ports", async {
        loop {
            if group.recv().await.unwrap().entries.len() == 5 {
                return;
            }
        }
    })
    .await;
    let mut ports = late.lookup_names("aemp::echo").await;
    ports.sort();
    let (me, mut got) = inbox(&late);
    late.snd(&ports[3], msg![&me, "to the fourth member"])
        .unwrap();
    assert_eq!(got.next().await, msg!["to the fourth member"]);

    members[2].start_kill().unwrap(); // SIGKILL
    members[2].wait().await.unwrap();
    let e = within("the killed member's entry to vanish", async {
        loop {
            let e = group.recv().await.unwrap();
            if e.entries.len() == 4 {
                return e;
            }
        }
    })
    .await;
    assert!(
        e.entries.keys().all(|p| !p.starts_with("mesh5-m2#")),
        "{e:?}"
    );
}
