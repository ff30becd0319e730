//! Runs the Intro's chat as people would: `examples/chat_server.rs` and two
//! `examples/chat_client.rs` processes, typing lines into the clients.

mod support;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use support::examples::example;

struct Proc {
    child: Child,
    out: Lines<BufReader<ChildStdout>>,
}

impl Proc {
    fn start(name: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(example(name))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        Proc { child, out }
    }

    /// The next output line that contains `what` (earlier lines are skipped).
    async fn expect(&mut self, what: &str) -> String {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = self.out.next_line().await.unwrap() {
                if line.contains(what) {
                    return Some(line);
                }
                seen.push(line);
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no line with {what:?}; saw {seen:?}"),
        }
    }

    async fn type_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }
}

#[tokio::test]
async fn two_clients_chat_through_the_server() {
    let mut server = Proc::start("chat_server", &["127.0.0.1:0", "chat secret"]);
    let line = server.expect("listening on").await;
    let addr = line.rsplit(' ').next().unwrap().to_owned();
    assert!(line.starts_with("chat server chat#"), "{line}");

    let mut alice = Proc::start("chat_client", &[&addr, "chat secret", "alice"]);
    alice
        .expect("resolved the server port 'chatter' to chat#")
        .await;
    alice.expect("chat> server: alice joined").await;
    let mut bob = Proc::start("chat_client", &[&addr, "chat secret", "bob"]);
    bob.expect("chat> server: bob joined").await;
    alice.expect("chat> server: bob joined").await;

    alice.type_line("hello bob").await;
    assert_eq!(bob.expect("hello bob").await, "chat> alice: hello bob");
    alice.expect("chat> alice: hello bob").await;
    bob.type_line("hi alice ✓").await;
    assert_eq!(alice.expect("hi alice").await, "chat> bob: hi alice ✓");

    // bob quits: his port dies, the server's monitor notices, everyone is told.
    bob.type_line("/quit").await;
    assert!(
        tokio::time::timeout(Duration::from_secs(30), bob.child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    alice.expect("chat> server: bob left").await;
    server.expect("client gone").await;

    // A wrong secret is refused.
    let mut eve = Proc::start("chat_client", &[&addr, "wrong secret", "eve"]);
    let status = tokio::time::timeout(Duration::from_secs(30), eve.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
}
