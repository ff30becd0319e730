//! `aemp run` and the protocol commands (`snd`, `cal`, `mon`, `nodes`, `lookup`, `db`) as
//! processes, against each other (a seed and a member: the commands join the network
//! through the seed) and against the Perl peer, and their error messages.

mod support;

use support::aemp_run::RunNode;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

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

    /// Runs `args` (which must succeed) until `done` holds of its output, which it returns.
    async fn ok_until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let out = self.ok(args).await;
            if done(&out) {
                return out;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "aemp {args:?}: still {out}"
            );
            // Other processes' database converges with no event this test could await:
            // ask again, a little later (bounded by PATIENCE).
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts `aemp mon --seed ADDR PORT` and waits until its monitor is armed.
    async fn armed_mon(&self, addr: &str, port: &str) -> Child {
        let mut mon = self
            .command(&["mon", "--seed", addr, port])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        armed(&mut mon).await;
        mon
    }

    /// Starts `aemp run ARGS...` and waits for its `listening` line.
    async fn run(&self, args: &[&str]) -> RunNode {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        RunNode::start(self.command(&all)).await
    }
}

impl Drop for Rc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
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
    // The short-lived node made the seed a global node; it lists itself in 'l.
    assert_eq!(
        rc.ok(&["nodes", "--seed", &addr]).await,
        format!(
            "master: cli-srv {addr}\nglobal: cli-srv {addr}\nup: cli-srv {addr}\n\
             known: cli-srv {addr}"
        )
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
    let mon = rc.armed_mon(&addr, &seq).await;
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
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[\"boom\",\"now\"]\n");

    // The dead port: mon returns at once, snd and cal fail.
    assert_eq!(
        rc.ok(&["mon", "--seed", &addr, &seq]).await,
        format!(r#"["no_such_port","cannot monitor nonexistent port","{seq}"]"#)
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
        "lookup: no port registered as nothing",
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

/// A port free on 127.0.0.1 (bound, read, released).
#[tokio::test]
async fn services_survive_malformed_requests_and_come_back_after_a_crash() {
    let rc = Rc::new("svc");
    rc.ok(&[
        "setsecret",
        "s3cr3t",
        "profile",
        "svc",
        "setnodeid",
        "cli-svc",
        "setbinds",
        "127.0.0.1:0",
        "setservices",
        "aemp::sequence",
    ])
    .await;
    let node = rc.run(&["svc"]).await;
    let addr = node.addr.clone();
    let lookup = |name: &'static str| {
        let rc = &rc;
        let addr = addr.clone();
        async move {
            let found = rc
                .ok(&["cal", "--seed", &addr, "cli-svc", "lookup", name])
                .await;
            found.trim_matches('"').to_owned()
        }
    };
    let echo = lookup("echo").await;
    assert!(echo.starts_with("cli-svc#"), "{echo}");

    // Requests echo cannot answer: logged, the port stays.
    for bad in ["5", "null", "{}", r##""#""##] {
        let args = format!(r#"["snd", "--seed", "{addr}", "{echo}", {bad}]"#);
        assert_eq!(rc.ok(&[&args]).await, "message sent successfully");
    }
    rc.fails(
        &["mon", "--seed", &addr, "--timeout", "0.3", &echo],
        "still alive after 0.3 s",
    )
    .await;
    assert_eq!(lookup("echo").await, echo);
    // A request the sequence does not know is answered with an error at its reply port.
    let seq = lookup("aemp::sequence").await;
    let answer = rc.ok(&["cal", "--seed", &addr, &seq, "bogus"]).await;
    assert!(
        answer.starts_with(r#""error","aemp::sequence: unexpected message"#),
        "{answer}"
    );
    assert_eq!(
        rc.ok(&["cal", "--seed", &addr, &seq, "report"]).await,
        r#""count",0,true"#
    );

    // A service that dies anyway (killed here) comes back, registered again, and the log
    // says so.
    let mut node = node;
    node.drain_log();
    let name = echo.split_once('#').unwrap().1.to_owned();
    assert_eq!(
        rc.ok(&["snd", "--seed", &addr, "cli-svc", "kil1", &name, "crash"])
            .await,
        "message sent successfully"
    );
    let again = rc
        .ok_until(
            &["cal", "--seed", &addr, "cli-svc", "lookup", "echo"],
            |out| out.starts_with("\"cli-svc#") && out.trim_matches('"') != echo,
        )
        .await;
    assert_ne!(again.trim_matches('"'), echo);
    node.logged("child aemp::echo died (crash); restarting")
        .await;
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_seed_and_a_member_db_nodes_lookup_and_ports_beyond_the_seed() {
    let rc = Rc::new("mesh");
    rc.ok(&[
        "setsecret",
        "mesh secret",
        "profile",
        "member",
        "setservices",
        "aemp::sequence",
    ])
    .await;
    let seed_addr = format!("127.0.0.1:{}", free_port());
    let mut seed = rc
        .run(&[
            "--node-id",
            "cli-seed",
            "--bind",
            &seed_addr,
            "--seed",
            &seed_addr,
        ])
        .await;
    assert_eq!(seed.addr, seed_addr);
    let member = rc
        .run(&[
            "member",
            "--node-id",
            "cli-member",
            "--bind",
            "127.0.0.1:0",
            "--seed",
            &seed_addr,
        ])
        .await;
    let member_addr = member.addr.clone();
    seed.logged("node cli-member up").await;

    // db 'l: every node's listeners (the member's come with its g_slave, after its up).
    let db = rc
        .ok_until(&["db", "--seed", &seed_addr, "'l"], |out| {
            out.contains("cli-member")
        })
        .await;
    let json: serde_json::Value = serde_json::from_str(&db).unwrap_or_else(|e| panic!("{e}: {db}"));
    assert_eq!(json["cli-seed"], serde_json::json!([seed_addr]), "{db}");
    assert_eq!(json["cli-member"], serde_json::json!([member_addr]), "{db}");
    assert!(db.contains("\n   \"cli-seed\" : ["), "pretty: {db}");

    // nodes: the seed is the master and the only global node; both are known.
    let nodes = rc.ok(&["nodes", "--seed", &seed_addr]).await;
    let lines: Vec<&str> = nodes.lines().collect();
    assert_eq!(
        lines,
        [
            format!("master: cli-seed {seed_addr}"),
            format!("global: cli-seed {seed_addr}"),
            format!("up: cli-seed {seed_addr}"),
            format!("known: cli-member {member_addr}"),
            format!("known: cli-seed {seed_addr}"),
        ],
        "{nodes}"
    );

    // lookup: the group of every aemp run node's echo port, registered network-wide.
    let echoes = rc
        .ok_until(&["lookup", "--seed", &seed_addr, "aemp::echo"], |out| {
            out.lines().count() == 2
        })
        .await;
    let echoes: Vec<&str> = echoes.lines().collect();
    assert!(echoes[0].starts_with("cli-member#"), "{echoes:?}");
    assert!(echoes[1].starts_with("cli-seed#"), "{echoes:?}");
    let member_echo = echoes[0].to_owned();

    // Ports on the member, given only the seed: its address comes from the master (g_find).
    assert_eq!(
        rc.ok(&["snd", "--seed", &seed_addr, &member_echo, "x"])
            .await,
        "message sent successfully"
    );
    let echo = rc
        .ok(&["cal", "--seed", &seed_addr, "cli-member", "lookup", "echo"])
        .await;
    assert_eq!(echo, format!("\"{member_echo}\""));
    let seq = rc
        .ok(&[
            "cal",
            "--seed",
            &seed_addr,
            "cli-member",
            "lookup",
            "aemp::sequence",
        ])
        .await;
    let seq = seq.trim_matches('"').to_owned();
    assert!(seq.starts_with("cli-member#"), "{seq}");
    assert_eq!(
        rc.ok(&["cal", "--seed", &seed_addr, &seq, "report"]).await,
        r#""count",0,true"#
    );
    // A locally registered name is found through the seeds' node ports only.
    rc.fails(
        &["lookup", "--seed", &seed_addr, "aemp::sequence"],
        "lookup: no port registered as aemp::sequence",
    )
    .await;

    // An unreachable seed among others is a warning; a wrong secret fails at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let out = rc
        .aemp(&[
            "cal",
            "--seed",
            &closed_addr,
            "--seed",
            &seed_addr,
            "cli-member",
            "lookup",
            "echo",
        ])
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("warning: {closed_addr}"))
            && stderr.contains("is a node listening there?"),
        "{stderr}"
    );
    let started = std::time::Instant::now();
    rc.fails(
        &[
            "cal", "--secret", "wrong", "--seed", &seed_addr, &seq, "report",
        ],
        "the secrets differ",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // The member stops: its entries vanish everywhere, its ports cannot be reached.
    assert!(member.terminate().await.success());
    rc.ok_until(&["lookup", "--seed", &seed_addr, "aemp::echo"], |out| {
        out.lines().count() == 1
    })
    .await;
    rc.fails(
        &["snd", "--seed", &seed_addr, &member_echo, "x"],
        "cannot reach node cli-member: no address is known",
    )
    .await;
    assert!(seed.terminate().await.success());
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

    // Services must be compiled in; db needs exactly one family.
    rc.ok(&["profile", "svc", "addservice", "Some::Perl::"])
        .await;
    rc.fails(
        &["run", "svc", "--bind", "127.0.0.1:0"],
        "service Some::Perl:: is not compiled into this binary",
    )
    .await;
    let out = rc.aemp(&["db", "--seed", &node.addr]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("db: FAMILY is missing"));
    let out = rc.aemp(&["db", "--seed", &node.addr, "a", "b"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("takes exactly one FAMILY"));
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
    // The peer speaks AEMP but not the global protocol: the database does not answer, and
    // lookup takes the node port's answer without waiting for it (a 60 s limit would
    // outlast the test's patience), nodes lists what the node knows.
    assert_eq!(
        rc.ok(&["lookup", "--seed", &addr, "--timeout", "60", "echo"])
            .await,
        "perlcli#echo"
    );
    rc.fails(
        &["lookup", "--seed", &addr, "--timeout", "60", "nothing"],
        "no port registered as nothing",
    )
    .await;
    assert_eq!(
        rc.ok(&["nodes", "--seed", &addr, "--timeout", "1"]).await,
        format!("master: perlcli {addr}\nup: perlcli {addr}")
    );
    rc.fails(
        &["db", "--seed", &addr, "--timeout", "0.5", "'l"],
        "the global database did not answer within 0.5 s",
    )
    .await;
    assert_eq!(
        rc.ok(&["mon", "--seed", &addr, "perlcli#nope"]).await,
        r#"["no_such_port","cannot monitor nonexistent port","perlcli#nope"]"#
    );
    rc.fails(
        &["snd", "--seed", &addr, "perlcli#nope", "x"],
        "no such port",
    )
    .await;

    // mon on the echo port; the peer kills it.
    peer.drain();
    let mon = rc.armed_mon(&addr, "perlcli#echo").await;
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
    // The reason as JSON: the string stays a string, the number a number.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[\"gone\",7]\n");

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

/// Waits until `aemp mon` says its monitor is armed (the port's node handled its `mon1`).
async fn armed(mon: &mut Child) {
    let stderr = mon.stderr.take().expect("mon's stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.expect("mon's stderr") {
            if line.contains("monitoring") {
                return;
            }
        }
        panic!("mon ended before its monitor was armed");
    })
    .await
    .expect("mon's monitor armed in time");
}

/// The verbs of a mixed network: spawn, kil, bench, messages from a file or standard input,
/// the rpc service, and run's handshake flags; against `aemp run` and the Perl peer.
#[tokio::test]
async fn spawn_kil_bench_input_and_rpc() {
    let rc = Rc::new("verbs");
    rc.ok(&["setsecret", "verbs secret"]).await;
    let mut node = rc
        .run(&[
            "--node-id",
            "cli-verbs",
            "--bind",
            "127.0.0.1:0",
            "--auth-offer",
            "hmac_sha3_512",
            "--auth-accept",
            "hmac_sha3_512",
            "--monitor-timeout",
            "7",
        ])
        .await;
    let addr = node.addr.clone();

    // The cal-style service (the group aemp::rpc) answers at the port the message ends with.
    let rpc = rc.ok(&["lookup", "--seed", &addr, "aemp::rpc"]).await;
    assert!(rpc.starts_with("cli-verbs#"), "{rpc}");
    assert_eq!(
        rc.ok(&["cal", "--seed", &addr, &rpc, "hello", "[1, 2]"])
            .await,
        r#""hello",[1,2]"#
    );

    // spawn: a sink on the node, its id printed; bench floods it; the sink counted all.
    let sink = rc
        .ok(&["spawn", "--seed", &addr, "cli-verbs", "aemp::sink"])
        .await;
    assert!(sink.starts_with("cli-verbs#"), "{sink}");
    let bench = rc
        .ok(&[
            "bench", "--seed", &addr, "--count", "5000", "--size", "64", &sink,
        ])
        .await;
    assert!(
        bench.starts_with(&format!("5000 messages of 64 bytes to {sink} in "))
            && bench.contains(" msg/s"),
        "{bench}"
    );
    assert_eq!(
        rc.ok(&["cal", "--seed", &addr, &sink, "report"]).await,
        r#""count",5000"#
    );
    rc.fails(
        &["spawn", "--seed", &addr, "cli-verbs", "no::such::init"],
        "no::such::init did not start",
    )
    .await;

    // A message too large for a command line, from a file and from standard input.
    let big = "x".repeat(300 * 1024);
    let file = rc.dir.join("msg.json");
    std::fs::write(&file, format!(r#"["{big}", 7]"#)).unwrap();
    let reply = rc
        .ok(&[
            "cal",
            "--seed",
            &addr,
            "--input",
            file.to_str().unwrap(),
            &rpc,
            "big",
        ])
        .await;
    assert_eq!(reply, format!(r#""big","{big}",7"#));
    let mut cmd = rc.command(&["cal", "--seed", &addr, "--input", "-", &rpc]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(br#"["from stdin", {"k": true}]"#)
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "\"from stdin\",{\"k\":true}\n"
    );
    rc.fails(
        &[
            "snd",
            "--seed",
            &addr,
            "--input",
            "/nonexistent/msg.json",
            &rpc,
        ],
        "cannot read /nonexistent/msg.json",
    )
    .await;

    // kil: the reason reaches the port's monitors.
    let mon = rc.armed_mon(&addr, &sink).await;
    assert_eq!(
        rc.ok(&[&format!(
            r#"["kil", "--seed", "{addr}", "{sink}", "overloaded", 9]"#
        )])
        .await,
        format!(r#"{sink} killed: ["overloaded",9]"#)
    );
    let out = tokio::time::timeout(PATIENCE, mon.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[\"overloaded\",9]\n");
    rc.fails(&["kil", "--seed", &addr, &sink, "again"], "no such port")
        .await;
    node.drain_log();

    // The Perl peer: spawn its echo by name, bench its sink, kill a port of it.
    if support::peer::require().is_none() {
        return;
    }
    rc.ok(&["setsecret", "perl verbs"]).await;
    let peer = support::peer::PeerBuilder::new("perlverbs")
        .listen("127.0.0.1:0")
        .secret("perl verbs")
        .spawn()
        .await;
    let paddr = peer.listen_addr().to_owned();
    let echo = rc
        .ok(&["spawn", "--seed", &paddr, "perlverbs", "aemp_peer::echo"])
        .await;
    assert!(echo.starts_with("perlverbs#"), "{echo}");
    let bench = rc
        .ok(&[
            "bench",
            "--seed",
            &paddr,
            "--count",
            "2000",
            "perlverbs#sink",
        ])
        .await;
    assert!(bench.starts_with("2000 messages of 40 bytes"), "{bench}");
    assert_eq!(
        rc.ok(&[&format!(
            r#"["kil", "--seed", "{paddr}", "{echo}", "done", 1]"#
        )])
        .await,
        format!(r#"{echo} killed: ["done",1]"#)
    );
}
