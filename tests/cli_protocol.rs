//! `aemp run` and the protocol commands (`snd`, `cal`, `mon`, `nodes`, `lookup`) as
//! processes, against each other and against the Perl peer, and their error messages.

mod support;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a test waits for a process to do something before failing.
const PATIENCE: Duration = Duration::from_secs(20);

/// A temporary rc file; its directory is removed when dropped.
struct Rc {
    dir: PathBuf,
}

impl Rc {
    fn new(name: &str) -> Rc {
        let dir = std::env::temp_dir().join(format!("aemp-proto-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Rc { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aemp"));
        cmd.args(args)
            .env("AEMP_RC", self.dir.join("rc"))
            .env_remove("PERL_ANYEVENT_MP_RC")
            .env_remove("AEMP_LOG")
            .kill_on_drop(true);
        cmd
    }

    async fn aemp(&self, args: &[&str]) -> Output {
        tokio::time::timeout(PATIENCE, self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("aemp {args:?} did not finish"))
            .expect("run aemp")
    }

    /// Runs `args`, which must succeed; returns stdout without the final newline.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.aemp(args).await;
        assert!(
            out.status.success(),
            "aemp {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end_matches('\n')
            .to_owned()
    }

    /// Runs `args`, which must fail (exit 1) saying `msg`.
    async fn fails(&self, args: &[&str], msg: &str) {
        let out = self.aemp(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "aemp {args:?}: stdout {} stderr {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.contains(msg), "aemp {args:?}: {stderr}");
    }

    /// Starts `aemp run ARGS...` and waits for its `listening` line.
    async fn run(&self, args: &[&str]) -> RunNode {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let mut child = self
            .command(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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
            .unwrap_or_else(|| panic!("aemp run {args:?} printed nothing"));
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
}

impl Drop for Rc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An `aemp run` process (killed when dropped) and its log lines.
struct RunNode {
    child: Child,
    id: String,
    addr: String,
    log: mpsc::UnboundedReceiver<String>,
}

impl RunNode {
    /// Waits for a log line containing `text`.
    async fn logged(&mut self, text: &str) -> String {
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

    fn drain_log(&mut self) {
        while self.log.try_recv().is_ok() {}
    }

    async fn terminate(mut self) -> std::process::ExitStatus {
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
}

#[tokio::test]
async fn run_a_profile_and_snd_cal_mon_nodes_lookup_against_it() {
    let rc = Rc::new("run");
    rc.ok(&[
        "setsecret",
        "s3cr3t",
        "profile",
        "srv",
        "setnodeid",
        "cli-srv",
        "setbinds",
        "127.0.0.1:0",
        "setservices",
        "aemp::sequence",
    ])
    .await;
    let mut node = rc.run(&["srv"]).await;
    assert_eq!(node.id, "cli-srv");
    assert!(node.addr.starts_with("127.0.0.1:"), "{}", node.addr);
    let addr = node.addr.clone();

    // The profile's service runs, registered under its name.
    let seq = rc.ok(&["lookup", "--seed", &addr, "aemp::sequence"]).await;
    assert!(seq.starts_with("cli-srv#"), "{seq}");
    assert_eq!(
        rc.ok(&["nodes", "--seed", &addr]).await,
        format!("cli-srv {addr}")
    );
    for i in 0..2 {
        // The whole argument list as JSON, to send a number.
        let args = format!(r#"["snd", "--seed", "{addr}", "{seq}", "n", {i}]"#);
        assert_eq!(rc.ok(&[&args]).await, "message sent successfully");
    }
    assert_eq!(
        rc.ok(&["cal", "--seed", &addr, &seq, "report"]).await,
        r#""count",2,true"#
    );
    let time = rc.ok(&["cal", "--seed", &addr, "cli-srv", "time"]).await;
    assert!(time.parse::<f64>().unwrap() > 1e9, "{time}");
    let echo = rc
        .ok(&["cal", "--seed", &addr, "cli-srv", "lookup", "echo"])
        .await;
    let echo = echo.trim_matches('"').to_owned();
    assert!(echo.starts_with("cli-srv#"), "{echo}");

    // mon: waits for the death and prints the reason.
    node.drain_log();
    let mon = rc
        .command(&["mon", "--seed", &addr, &seq])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    node.logged(" up").await; // the mon node is connected; its mon1 follows at once
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seq_name = seq.split_once('#').unwrap().1.to_owned();
    assert_eq!(
        rc.ok(&["snd", "--seed", &addr, "cli-srv", "kil1", &seq_name, "boom", "now"])
            .await,
        "message sent successfully"
    );
    let out = tokio::time::timeout(PATIENCE, mon.wait_with_output())
        .await
        .expect("mon to return")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "boom now\n");

    // The dead port: mon returns at once, snd and cal fail.
    assert_eq!(
        rc.ok(&["mon", "--seed", &addr, &seq]).await,
        format!("no_such_port cannot monitor nonexistent port {seq}")
    );
    rc.fails(&["snd", "--seed", &addr, &seq, "n", "3"], "no such port")
        .await;
    rc.fails(&["cal", "--seed", &addr, &seq, "report"], "no such port")
        .await;
    rc.fails(
        &[
            "cal",
            "--seed",
            &addr,
            "--timeout",
            "0.5",
            "cli-srv",
            "devnull",
        ],
        "no reply from cli-srv within 0.5 s",
    )
    .await;
    rc.fails(
        &["mon", "--seed", &addr, "--timeout", "0.3", &echo],
        "still alive after 0.3 s",
    )
    .await;
    rc.fails(
        &["lookup", "--seed", &addr, "nothing"],
        "is not registered on cli-srv",
    )
    .await;
    rc.fails(
        &["snd", "--seed", &addr, "elsewhere#port", "x"],
        "cannot reach node elsewhere: no address is known",
    )
    .await;

    // SIGTERM: a graceful stop.
    let status = node.terminate().await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn errors_say_what_to_do() {
    let rc = Rc::new("errors");
    rc.fails(
        &["snd", "--seed", "127.0.0.1:1", "n#p", "x"],
        "no secret or certificate configured",
    )
    .await;
    rc.fails(&["cal", "--seed", "127.0.0.1:1", "n#p"], "aemp gensecret")
        .await;
    rc.fails(&["run", "--bind", "127.0.0.1:0"], "aemp gensecret")
        .await;
    rc.ok(&["setsecret", "right"]).await;
    rc.fails(
        &["cal", "n#p"],
        "no seeds to join through: pass --seed HOST:PORT",
    )
    .await;

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    rc.fails(&["cal", "--seed", &closed_addr, "n#p"], "nothing reachable")
        .await;
    rc.fails(
        &["cal", "--seed", &closed_addr, "n#p"],
        "is a node listening there?",
    )
    .await;

    // Something listening that never speaks: the time limit.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    rc.fails(
        &["mon", "--timeout", "0.5", "--seed", &silent_addr, "n#p"],
        "no answer within 0.5 s",
    )
    .await;
    hold.abort();

    // The secrets differ.
    let node = rc
        .run(&[
            "--node-id",
            "cli-auth",
            "--bind",
            "127.0.0.1:0",
            "--secret",
            "other",
        ])
        .await;
    rc.fails(
        &["cal", "--seed", &node.addr, "cli-auth", "time"],
        "the secrets differ",
    )
    .await;
    assert!(!rc
        .ok(&["cal", "--secret", "other", "--seed", &node.addr, "cli-auth", "time"])
        .await
        .is_empty());

    // Services must be compiled in; db needs the global database.
    rc.ok(&["profile", "svc", "addservice", "Some::Perl::"])
        .await;
    rc.fails(
        &["run", "svc", "--bind", "127.0.0.1:0"],
        "service Some::Perl:: is not compiled into this binary",
    )
    .await;
    rc.fails(&["db", "--seed", &node.addr, "family"], "not available yet")
        .await;
}

#[tokio::test]
async fn tls_with_a_generated_certificate() {
    let rc = Rc::new("tls");
    rc.ok(&[
        "gencert",
        "profile",
        "t",
        "setnodeid",
        "cli-tls",
        "setbinds",
        "127.0.0.1:0",
    ])
    .await;
    let node = rc.run(&["--profile", "t"]).await;
    assert_eq!(node.id, "cli-tls");
    let time = rc
        .ok(&["cal", "--seed", &node.addr, "cli-tls", "time"])
        .await;
    assert!(time.parse::<f64>().is_ok(), "{time}");
    // Another certificate is not trusted.
    let other = rc.dir.join("other.pem");
    std::fs::write(&other, support::certs::self_signed_pem()).unwrap();
    rc.fails(
        &[
            "cal",
            "--cert",
            other.to_str().unwrap(),
            "--seed",
            &node.addr,
            "cli-tls",
            "time",
        ],
        "nothing reachable",
    )
    .await;
}

#[tokio::test]
async fn cal_snd_mon_lookup_against_the_perl_peer() {
    if support::peer::require().is_none() {
        return;
    }
    let rc = Rc::new("perl");
    rc.ok(&["setsecret", "perl secret"]).await;
    let mut peer = support::peer::PeerBuilder::new("perlcli")
        .listen("127.0.0.1:0")
        .secret("perl secret")
        .spawn()
        .await;
    let addr = peer.listen_addr().to_owned();
    assert_eq!(
        rc.ok(&[
            "cal",
            "--seed",
            &addr,
            "perlcli#rpc",
            "hello",
            "[42, {\"k\": null}]"
        ])
        .await,
        r#""hello",[42,{"k":null}]"#
    );
    assert_eq!(
        rc.ok(&["snd", "--seed", &addr, "perlcli#sink", "x"]).await,
        "message sent successfully"
    );
    assert_eq!(
        rc.ok(&["lookup", "--seed", &addr, "echo"]).await,
        "perlcli#echo"
    );
    assert_eq!(
        rc.ok(&["nodes", "--seed", &addr]).await,
        format!("perlcli {addr}")
    );
    assert_eq!(
        rc.ok(&["mon", "--seed", &addr, "perlcli#nope"]).await,
        "no_such_port cannot monitor nonexistent port perlcli#nope"
    );
    rc.fails(
        &["snd", "--seed", &addr, "perlcli#nope", "x"],
        "no such port",
    )
    .await;

    // mon on the echo port; the peer kills it.
    peer.drain();
    let mon = rc
        .command(&["mon", "--seed", &addr, "perlcli#echo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    peer.wait_for(|e| e[0] == "up").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rc.ok(&[&format!(
            r#"["snd", "--seed", "{addr}", "perlcli", "kil1", "echo", "gone", 7]"#
        )])
        .await,
        "message sent successfully"
    );
    let out = tokio::time::timeout(PATIENCE, mon.wait_with_output())
        .await
        .expect("mon to return")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "gone 7\n");

    rc.fails(
        &[
            "cal",
            "--secret",
            "wrong",
            "--seed",
            &addr,
            "perlcli#rpc",
            "x",
        ],
        "the secrets differ",
    )
    .await;
}
