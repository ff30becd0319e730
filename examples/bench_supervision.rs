//! Supervision's two latencies, as a program sees them. Prints one JSON line.
//!
//!     cargo run --release --example bench_supervision
//!
//! - restart: a local child is killed; the time until its successor answers a `cal`
//!   (the supervisor noticing, restarting, the new port handling a message), p50/p99 over
//!   500 crashes.
//! - failover: two `aemp run` processes (b, c); a child spawned by name on b; b is SIGKILLed;
//!   the time until the child, started again on c, answers a `cal`, p50/p99 over 10 runs
//!   (the processes are started outside the measured time). Uses the `aemp` binary next to
//!   this example (built here if missing).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aemp::kernel::supervise::{ChildSpec, Placement, Supervisor, SupervisorMsg};
use aemp::{msg, ActorRef, Node, PortId};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const SECRET: &str = "bench_supervision";

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// A port that answers `[..., REPLY]` at REPLY.
fn answering(node: &Node) -> PortId {
    node.port_with(|ctx, mut msg| {
        if let Some(reply) = msg.pop().and_then(|r| r.as_str().map(str::to_owned)) {
            let _ = ctx.snd(reply, msg);
        }
    })
}

async fn restart_latency() -> (f64, f64) {
    let node = Node::builder()
        .node_id("bench-sup")
        .start()
        .await
        .expect("node");
    let (tx, mut started) = mpsc::unbounded_channel();
    let sup = Supervisor::new()
        .intensity(1_000_000, Duration::from_secs(1))
        .child(ChildSpec::port("worker", move |node| {
            let port = answering(node);
            let _ = tx.send(port.clone());
            Ok(port)
        }))
        .start(&node);
    let mut current = started.recv().await.expect("first start");
    let mut times = Vec::new();
    let crashes = if std::env::var_os("AEMP_BENCH_QUICK").is_some() {
        20
    } else {
        500
    };
    for _ in 0..crashes {
        let t0 = Instant::now();
        node.kil(&current, msg!["crash"]).unwrap();
        current = started.recv().await.expect("restart");
        node.cal(&current, msg!["ping"]).await.expect("answer");
        times.push(t0.elapsed());
    }
    drop(sup);
    percentiles(times)
}

fn aemp_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("aemp");
    if !path.exists() {
        let profile = if cfg!(debug_assertions) {
            vec![]
        } else {
            vec!["--release"]
        };
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--bin", "aemp"])
            .args(profile)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    path
}

/// An `aemp run` node: the process and its address.
async fn run(id: &str, seed: Option<&str>, rc: &std::path::Path) -> (Child, String) {
    let mut cmd = Command::new(aemp_binary());
    cmd.args([
        "run",
        "--node-id",
        id,
        "--bind",
        "127.0.0.1:0",
        "--secret",
        SECRET,
    ])
    .env("AEMP_RC", rc.join("rc"))
    .env("AEMP_LOG", "error")
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .kill_on_drop(true);
    if let Some(seed) = seed {
        cmd.args(["--seed", seed]);
    }
    let mut child = cmd.spawn().expect("aemp run");
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next_line()
        .await
        .unwrap()
        .expect("listening line");
    let addr = line.rsplit(' ').next().unwrap().to_owned();
    (child, addr)
}

async fn failover_time(round: usize) -> Duration {
    let rc = std::env::temp_dir().join(format!("aemp-bench-sup-{}-{round}", std::process::id()));
    std::fs::create_dir_all(&rc).unwrap();
    let (b_id, c_id) = (format!("bs-b{round}"), format!("bs-c{round}"));
    let (mut b, b_addr) = run(&b_id, None, &rc).await;
    let (_c, c_addr) = run(&c_id, Some(&b_addr), &rc).await;
    let a = Node::builder()
        .node_id(format!("bs-a{round}"))
        .secret(SECRET)
        .seed(&b_addr)
        .seed(&c_addr)
        .start()
        .await
        .unwrap();
    a.connect(&b_addr).await.unwrap();
    a.connect(&c_addr).await.unwrap();
    let sup = Supervisor::new()
        .child(
            ChildSpec::spawn("rpc", "aemp::rpc", vec![])
                .placement(Placement::Nodes(vec![b_id.clone(), c_id.clone()])),
        )
        .start(&a);
    let on_b = child_port(&sup).await;
    a.cal(&on_b, msg!["warm"]).await.unwrap();
    let t0 = Instant::now();
    b.start_kill().unwrap();
    let on_c = loop {
        let p = child_port(&sup).await;
        if p != on_b {
            break p;
        }
        tokio::task::yield_now().await;
    };
    a.cal(&on_c, msg!["ping"]).await.unwrap();
    let took = t0.elapsed();
    a.shutdown().await;
    let _ = std::fs::remove_dir_all(&rc);
    took
}

async fn child_port(sup: &ActorRef<SupervisorMsg>) -> PortId {
    loop {
        let list = sup.ask(SupervisorMsg::children()).await.unwrap();
        if let Some(p) = list.first().and_then(|(_, p)| p.clone()) {
            return p;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (r50, r99) = restart_latency().await;
    let mut fails = Vec::new();
    let rounds = if std::env::var_os("AEMP_BENCH_QUICK").is_some() {
        2
    } else {
        10
    };
    for round in 0..rounds {
        fails.push(failover_time(round).await);
    }
    let (f50, f99) = percentiles(fails);
    println!(
        "{{\"local_restart_p50_us\":{r50:.1},\"local_restart_p99_us\":{r99:.1},\
         \"failover_p50_ms\":{:.1},\"failover_p99_ms\":{:.1}}}",
        f50 / 1000.0,
        f99 / 1000.0
    );
}
