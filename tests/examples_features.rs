//! Each feature example runs to completion as a user would run it, and prints what it shows.

mod support;

use std::time::Duration;

use support::examples::example;

async fn run(name: &str, expect: &[&str]) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(example(name))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("example {name} did not finish"))
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "example {name} failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    for line in expect {
        assert!(
            stdout.contains(line),
            "example {name} should print {line:?}:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn remote_spawn_by_name() {
    run(
        "remote_spawn",
        &[
            "spawned worker#",
            "square(3) + 1 = 10",
            "it died: retired 1",
        ],
    )
    .await;
}

#[tokio::test]
async fn named_lookup_with_a_watch() {
    run(
        "named_lookup",
        &[
            "registered: [\"server#",
            "it says 1",
            "unregistered: [\"server#",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_group() {
    run(
        "group",
        &[
            "3 workers in the group",
            "\"worker0\" answered 10",
            "\"worker1\" answered 20",
            "\"worker2\" answered 30",
        ],
    )
    .await;
}

#[tokio::test]
async fn request_and_reply() {
    run(
        "request_reply",
        &[
            "cal: [Text(\"hello\"), Int(42)]",
            "balance: 100",
            "withdraw 30: Ok(70)",
            "withdraw 500: Err(\"only 70 left\")",
        ],
    )
    .await;
}

#[tokio::test]
async fn ping_pong_between_two_nodes() {
    run("ping_pong", &["10000 round trips between two nodes"]).await;
}

#[tokio::test]
async fn supervision_restarts_a_crashed_child_under_its_name() {
    run(
        "supervision",
        &[
            "says 5",
            "it died: die cannot add -1",
            "which says 0",
            "the supervisor's children: 1",
        ],
    )
    .await;
}
