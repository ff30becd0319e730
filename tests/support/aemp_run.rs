//! An `aemp run` process for tests: started from a prepared command, its node id and
//! address read from its `listening` line, its log lines collected.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a test waits for the process before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// An `aemp run` process (killed when dropped) and its log lines.
pub struct RunNode {
    pub child: Child,
    pub id: String,
    pub addr: String,
    pub log: mpsc::UnboundedReceiver<String>,
}

impl RunNode {
    /// `aemp run --node-id ID --bind 127.0.0.1:0 --secret SECRET [--seed S]...` with the rc
    /// file in `rc` (a test's own directory), started.
    pub async fn node(rc: &std::path::Path, id: &str, secret: &str, seeds: &[&str]) -> RunNode {
        let mut cmd = RunNode::command(id, secret);
        for seed in seeds {
            cmd.args(["--seed", seed]);
        }
        cmd.env("AEMP_RC", rc.join("rc"))
            .env_remove("PERL_ANYEVENT_MP_RC")
            .env_remove("AEMP_LOG");
        RunNode::start(cmd).await
    }

    /// The command `aemp run --node-id ID --bind 127.0.0.1:0 --secret SECRET`, to add to.
    pub fn command(id: &str, secret: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aemp"));
        cmd.args([
            "run",
            "--node-id",
            id,
            "--bind",
            "127.0.0.1:0",
            "--secret",
            secret,
        ]);
        cmd
    }

    /// Starts `cmd` (an `aemp run ...` command, kill-on-drop) and waits for its
    /// `aemp run: node ID listening on ADDR` line.
    pub async fn start(mut cmd: Command) -> RunNode {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start aemp run");
        let (tx, log) = mpsc::unbounded_channel();
        let stderr = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(PATIENCE, out.next_line())
            .await
            .expect("aemp run to start")
            .unwrap()
            .expect("aemp run printed nothing");
        let rest = line
            .strip_prefix("aemp run: node ")
            .unwrap_or_else(|| panic!("{line}"));
        let (id, addr) = rest.split_once(" listening on ").expect("listening");
        RunNode {
            child,
            id: id.to_owned(),
            addr: addr.to_owned(),
            log,
        }
    }

    /// Waits for a log line containing `text`.
    pub async fn logged(&mut self, text: &str) -> String {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.log.recv())
                .await
                .unwrap_or_else(|_| panic!("no log line with {text:?}"))
                .unwrap_or_else(|| panic!("aemp run exited before logging {text:?}"));
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Stops it with SIGTERM; its exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("aemp run to stop")
            .unwrap()
    }

    /// The port of its service `name` (as `rpc`), asked of its node port by `client`
    /// (connected to it first) until the service is up.
    pub async fn service_port(&self, client: &aemp::Node, name: &str) -> aemp::PortId {
        use aemp::{msg, PortId, Value};
        tokio::time::timeout(PATIENCE, async {
            client.connect(&self.addr).await.expect("connect");
            loop {
                let reply = client
                    .cal(PortId::new(&self.id, ""), msg!["lookup", name])
                    .await
                    .expect("the node port answers");
                if let Some(p) = reply.first().and_then(Value::as_str) {
                    return p.parse::<PortId>().expect("a port id");
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {name} service on {}", self.id))
    }

    /// Forgets the log lines so far.
    pub fn drain_log(&mut self) {
        while self.log.try_recv().is_ok() {}
    }
}
