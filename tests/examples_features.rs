//! Each feature example runs to completion as a user would run it, and prints what it shows.

mod support;

use std::time::Duration;

use support::examples::example;

async fn run(name: &str, expect: &[&str]) {
    run_with(name, &[], expect).await
}

async fn run_with(name: &str, env: &[(&str, &str)], expect: &[&str]) {
    run_args(name, &[], env, expect).await
}

async fn run_args(name: &str, args: &[&str], env: &[(&str, &str)], expect: &[&str]) {
    let mut cmd = tokio::process::Command::new(example(name));
    cmd.args(args).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
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

#[tokio::test]
async fn the_demo() {
    run(
        "demo",
        &[
            "most frequent words",
            "messages/s",
            "monitor of worker-2",
            "demo done",
        ],
    )
    .await;
}

/// The bench binaries, in their smoke mode (every count divided by 100): they run to the
/// end and print their JSON line with every figure.
#[tokio::test]
async fn the_benchmarks_run() {
    let quick = [("AEMP_BENCH_QUICK", "1")];
    run_with(
        "bench_hot",
        &quick,
        &[
            "\"remote_one_way_cbor_msg_s\":",
            "\"typed_ask_in_task_ns\":",
            "\"cal_vs_raw_p50\":",
        ],
    )
    .await;
    run_with(
        "bench_scale",
        &quick,
        &[
            "\"fan_in_paced_p99_us\":",
            "\"links_100_bytes_per_link\":",
            "\"sizes\":[{\"bytes\":64",
        ],
    )
    .await;
    run_with(
        "bench_supervision",
        &quick,
        &["\"local_restart_p50_us\":", "\"failover_p99_ms\":"],
    )
    .await;
    for side in ["typed", "mpsc"] {
        run_args(
            "bench_ask",
            &[side, "1000"],
            &[],
            &["{\"ns_per_round_trip\":"],
        )
        .await;
    }
}
