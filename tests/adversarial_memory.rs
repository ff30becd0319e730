//! Authenticated peers that try to make an `aemp run` node grow: each test drives a real
//! `aemp run` process over TCP on 127.0.0.1 and reads the node's memory (VmRSS from /proc)
//! before and after. The bounds are generous: these are leak detectors, not benchmarks.

mod support;

use std::time::Duration;

use aemp::transport::{connect, msg, Config, Sender};
use aemp::Value;
use support::aemp_run::RunNode;
use tokio::process::Command;

const SECRET: &str = "adversary test secret";
const PATIENCE: Duration = Duration::from_secs(30);

/// An `aemp run` node (killed when dropped) and its rc file's directory.
struct Target {
    node: RunNode,
    addr: String,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub(crate) struct Dir(pub(crate) std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Target {
    /// `aemp run` with a profile: our secret, a short `monitor_timeout`, `connect_interval`.
    async fn start(name: &str) -> Target {
        Target::start_with(name, "127.0.0.1:0", &[]).await
    }

    /// As [`Target::start`], listening on `bind` with `seeds`.
    async fn start_with(name: &str, bind: &str, seeds: &[&str]) -> Target {
        let dir = std::env::temp_dir().join(format!("aemp-adv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rc = dir.join("rc");
        let config = Command::new(env!("CARGO_BIN_EXE_aemp"))
            .args([
                "setsecret",
                SECRET,
                "profile",
                "adv",
                "setnodeid",
                name,
                "setbinds",
                bind,
                "setseeds",
                &seeds.join(","),
                "setmonitor_timeout",
                "2",
                "setconnect_interval",
                "1",
            ])
            .env("AEMP_RC", &rc)
            .status()
            .await
            .unwrap();
        assert!(config.success());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aemp"));
        cmd.args(["run", "adv"])
            .env("AEMP_RC", &rc)
            .env("AEMP_LOG", "info");
        let node = RunNode::start(cmd).await;
        Target {
            addr: node.addr.clone(),
            node,
            _dir: tempdir::Dir(dir),
        }
    }

    /// The node's resident memory, in MiB.
    fn rss_mib(&self) -> f64 {
        let pid = self.node.child.id().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kib / 1024.0
    }

    /// The highest resident memory seen over `d` (sampled every 50 ms), in MiB.
    async fn peak_rss_mib(&self, d: Duration) -> f64 {
        let end = tokio::time::Instant::now() + d;
        let mut peak = self.rss_mib();
        while tokio::time::Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(50)).await;
            peak = peak.max(self.rss_mib());
        }
        peak
    }

    /// Waits for a log line containing `text`.
    async fn logged(&mut self, text: &str) -> String {
        self.node.logged(text).await
    }

    /// An authenticated connection as node `id`.
    async fn connect(&self, id: &str) -> (Sender, aemp::transport::Receiver) {
        let config = Config::new(id).unwrap().secret(SECRET);
        connect(self.addr.as_str(), &config).await.unwrap().split()
    }

    /// The node answers a request on a fresh connection (it is up and serving).
    async fn answers(&self) {
        let (tx, mut rx) = self.connect("adv-prober").await;
        tx.send(&msg!["", "time", "adv-prober#r"]).await.unwrap();
        // (A global node greets us with `g_global` first.)
        tokio::time::timeout(PATIENCE, async {
            loop {
                let m = rx.recv().await.unwrap().expect("an answer");
                if m[0] == Value::from("r") {
                    return;
                }
            }
        })
        .await
        .expect("an answer in time");
    }
}

/// Sends `make(i)` for i = 0.. until `budget` is spent or sending blocks for good.
async fn flood(tx: &Sender, budget: Duration, make: impl Fn(u64) -> Vec<Value>) -> u64 {
    let mut sent = 0;
    let _ = tokio::time::timeout(budget, async {
        loop {
            if tx.send(&make(sent)).await.is_err() {
                return;
            }
            sent += 1;
        }
    })
    .await;
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_its_replies_costs_a_bounded_buffer() {
    let mut target = Target::start("adv-replies").await;
    let before = target.rss_mib();
    let (tx, _rx_never_read) = target.connect("adv-flooder").await;
    // Every request is answered (`kil0 ... no_such_port`); the flooder reads nothing.
    let (sent, peak) = tokio::join!(
        flood(&tx, Duration::from_secs(4), |i| msg![
            "",
            "mon1",
            format!("p{i}")
        ]),
        target.peak_rss_mib(Duration::from_secs(4)),
    );
    eprintln!("{sent} requests sent; node RSS {before:.1} MiB, at most {peak:.1} MiB");
    assert!(
        peak - before < 40.0,
        "RSS grew from {before:.1} to {peak:.1} MiB"
    );
    // The node gives the link up once writing to it makes no progress (monitor_timeout).
    target.logged("node adv-flooder down").await;
    target.answers().await;
}

/// Waits until the node's memory has settled (two samples 200 ms apart within 1 MiB), at
/// most `d`; the last sample.
async fn settled_rss(target: &Target, d: Duration) -> f64 {
    let end = tokio::time::Instant::now() + d;
    let mut last = target.rss_mib();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = target.rss_mib();
        if (now - last).abs() < 1.0 || tokio::time::Instant::now() >= end {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_to_many_unknown_nodes_keep_little_and_give_it_back() {
    let mut target = Target::start("adv-relays").await;
    let before = target.rss_mib();
    let (tx, _rx) = target.connect("adv-relayer").await;
    const N: u64 = 20_000;
    for i in 0..N {
        tx.send(&msg!["", "snd", format!("ghost{i}#p"), "x"])
            .await
            .unwrap();
    }
    // Past the limit of attempts under way, relays are refused, and it is logged.
    target
        .logged("too many connections being made at once")
        .await;
    let peak = target.peak_rss_mib(Duration::from_secs(1)).await;
    // Every attempt fails within connect_interval (1 s); what it kept goes with it.
    let after = settled_rss(&target, Duration::from_secs(10)).await;
    eprintln!("{N} relays: node RSS {before:.1} MiB, {peak:.1} MiB during, {after:.1} MiB after");
    assert!(
        peak - before < 48.0,
        "RSS grew from {before:.1} to {peak:.1} MiB"
    );
    assert!(
        after - before < 12.0,
        "RSS stayed at {after:.1} MiB (from {before:.1})"
    );
    target.answers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_announcements_of_nodes_that_left_leave_little_behind() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    // A global node (its own seed), as a 2.x network's.
    let target = Target::start_with("adv-global", &addr, &[&addr]).await;
    let before = target.rss_mib();
    let target = &target;
    for round in 0..5 {
        let mut clients = Vec::new();
        for i in 0..100 {
            clients.push(async move {
                let (tx, rx) = target.connect(&format!("adv-ghost{round}-{i}")).await;
                tx.send(&msg!["", "g_global"]).await.unwrap();
                let _ = tx.close().await;
                drop(rx);
            });
        }
        futures::future::join_all(clients).await;
    }
    let after = settled_rss(target, Duration::from_secs(15)).await;
    eprintln!("500 ghosts: node RSS {before:.1} MiB -> {after:.1} MiB");
    assert!(
        after - before < 16.0,
        "RSS grew from {before:.1} to {after:.1} MiB"
    );
    target.answers().await;
}
