//! A harness around the Perl reference node `aemp-peer` (the original AnyEvent::MP
//! Transport.pm, driven by JSON lines): spawn it, send it commands, await its events.
//!
//! The peer is a plain `std::process::Child` (the workspace's tokio has no `process`
//! feature): one thread feeds its stdin, one forwards its stdout lines into a tokio channel
//! that the async accessors await, one collects its stderr for failure messages. Dropping a
//! [`Peer`] closes its stdin and kills it.
//!
//! Skipping: every interop test starts with
//! `let Some(_) = support::peer::require() else { return };` (or [`require_tls`]). If the
//! peer cannot run, that prints `SKIPPED interop: <reason>` to stderr and the test returns,
//! unless `AEMP_REQUIRE_PEER=1` is set (CI), in which case it panics.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::sync::mpsc;

/// How long any single wait on the peer may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The Perl modules the peer needs (TLS needs more, see [`available_tls`]).
const MODULES: &[&str] = &[
    "AnyEvent",
    "CBOR::XS",
    "JSON::XS",
    "Digest::SHA3",
    "Digest::HMAC",
    "common::sense",
];
const TLS_MODULES: &[&str] = &["Net::SSLeay", "AnyEvent::TLS"];

/// The peer script: `$AEMP_PEER`, or `shared/interop/aemp-peer` next to the workspace.
pub fn peer_path() -> PathBuf {
    match std::env::var_os("AEMP_PEER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/aemp-peer"),
    }
}

fn check_modules(modules: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("perl");
    cmd.args(modules.iter().map(|m| format!("-M{m}")))
        .arg("-e1");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run perl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "perl lacks one of {}: {}",
            modules.join(" "),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
        ))
    }
}

/// Runs the peer once with stdin closed: it loads the reference Transport and quits at EOF.
fn probe(path: &Path) -> Result<(), String> {
    let mut child = Command::new("perl")
        .arg(path)
        .args(["--node", "probe", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run perl {}: {e}", path.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not quit at EOF within {TIMEOUT:?}",
                    path.display()
                ));
            }
            Err(e) => return Err(format!("waiting for {}: {e}", path.display())),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    Err(format!(
        "{} failed ({status}): {}",
        path.display(),
        stderr.trim()
    ))
}

/// The peer script, if perl, its modules and the script itself work here.
pub fn available() -> Result<PathBuf, String> {
    static CHECK: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            let path = peer_path();
            if !path.is_file() {
                return Err(format!(
                    "peer script {} not found (set AEMP_PEER)",
                    path.display()
                ));
            }
            check_modules(MODULES)?;
            probe(&path)?;
            Ok(path)
        })
        .clone()
}

/// [`available`], and the peer can do TLS (Net::SSLeay, AnyEvent::TLS).
pub fn available_tls() -> Result<PathBuf, String> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let path = available()?;
    CHECK.get_or_init(|| check_modules(TLS_MODULES)).clone()?;
    Ok(path)
}

fn skip_or_panic(check: Result<PathBuf, String>) -> Option<PathBuf> {
    match check {
        Ok(path) => Some(path),
        Err(reason) if std::env::var("AEMP_REQUIRE_PEER").is_ok_and(|v| v == "1") => {
            panic!("AEMP_REQUIRE_PEER=1 but the Perl interop peer cannot run: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED interop: {reason}");
            None
        }
    }
}

/// The skipping policy of every interop test: `Some(peer script)`, or `None` after printing
/// `SKIPPED interop: <reason>`; panics instead if `AEMP_REQUIRE_PEER=1`.
pub fn require() -> Option<PathBuf> {
    skip_or_panic(available())
}

/// [`require`] for tests that need TLS on the Perl side.
pub fn require_tls() -> Option<PathBuf> {
    skip_or_panic(available_tls())
}

/// The options of one peer process.
#[derive(Debug, Clone)]
pub struct PeerBuilder {
    node: String,
    listen: Option<String>,
    connect: Vec<String>,
    secret: Option<String>,
    cert_pem: Option<String>,
    framing: Option<String>,
    auth_offer: Option<String>,
    auth_accept: Option<String>,
}

impl PeerBuilder {
    /// A peer named `node`, with the script's defaults otherwise.
    pub fn new(node: &str) -> Self {
        PeerBuilder {
            node: node.to_owned(),
            listen: None,
            connect: Vec::new(),
            secret: None,
            cert_pem: None,
            framing: None,
            auth_offer: None,
            auth_accept: None,
        }
    }

    /// `--listen HOST:PORT` (use port 0: [`Peer::listen_addr`] has the real one).
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = Some(addr.to_owned());
        self
    }

    /// `--connect HOST:PORT` (may be given several times).
    pub fn connect(mut self, addr: impl ToString) -> Self {
        self.connect.push(addr.to_string());
        self
    }

    /// `--secret S`.
    pub fn secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }

    /// `--cert FILE`, the PEM written to a temporary file that lives as long as the peer.
    pub fn cert_pem(mut self, pem: &str) -> Self {
        self.cert_pem = Some(pem.to_owned());
        self
    }

    /// `--framing LIST`, e.g. `"json,cbor"`.
    pub fn framing(mut self, list: &str) -> Self {
        self.framing = Some(list.to_owned());
        self
    }

    /// `--auth-offer LIST`.
    pub fn auth_offer(mut self, list: &str) -> Self {
        self.auth_offer = Some(list.to_owned());
        self
    }

    /// `--auth-accept LIST`.
    pub fn auth_accept(mut self, list: &str) -> Self {
        self.auth_accept = Some(list.to_owned());
        self
    }

    /// The node id the peer will have.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Starts the peer; with `--listen`, waits for its `["listening", ADDR]` event.
    pub async fn spawn(self) -> Peer {
        let script =
            available().unwrap_or_else(|reason| panic!("the Perl peer cannot run: {reason}"));
        let mut cmd = Command::new("perl");
        cmd.arg(&script).args(["--node", &self.node]);
        let mut cert_file = None;
        if let Some(pem) = &self.cert_pem {
            let path = write_temp_pem(pem);
            cmd.arg("--cert").arg(&path);
            cert_file = Some(path);
        }
        let options = [
            ("--listen", &self.listen),
            ("--secret", &self.secret),
            ("--framing", &self.framing),
            ("--auth-offer", &self.auth_offer),
            ("--auth-accept", &self.auth_accept),
        ];
        for (flag, value) in options {
            if let Some(value) = value {
                cmd.args([flag, value]);
            }
        }
        for addr in &self.connect {
            cmd.args(["--connect", addr]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn perl {}: {e}", script.display()));

        let stdin = child.stdin.take().expect("piped stdin");
        let (commands, command_rx) = std_mpsc::channel::<String>();
        let writer = std::thread::spawn(move || feed_stdin(stdin, command_rx));

        let stdout = child.stdout.take().expect("piped stdout");
        let (event_tx, events) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event = serde_json::from_str::<Json>(&line).map_err(|_| line);
                if event_tx.send(event).is_err() {
                    break;
                }
            }
        });

        let stderr_buf = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = stderr_buf.clone();
        let stderr_thread = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut buf = sink.lock().unwrap_or_else(|e| e.into_inner());
                buf.push_str(&line);
                buf.push('\n');
            }
        });

        let mut peer = Peer {
            node: self.node,
            child,
            commands: Some(commands),
            writer: Some(writer),
            events,
            seen: Vec::new(),
            stderr: stderr_buf,
            stderr_thread: Some(stderr_thread),
            listen_addr: None,
            cert_file,
        };
        if self.listen.is_some() {
            let ev = peer.wait_for(|e| e[0] == "listening").await;
            let addr = ev[1]
                .as_str()
                .unwrap_or_else(|| panic!("bad listening event {ev}"));
            peer.listen_addr = Some(addr.to_owned());
            // The script prints "listening" from tcp_server's `prepare` callback, which runs
            // after bind(2) but *before* listen(2): connecting right away can be refused.
            // Stdin commands are only read once the event loop runs, after tcp_server has
            // returned, so the answer to "count" proves the socket is listening.
            peer.send_command(serde_json::json!(["count"]));
            peer.wait_for(|e| e[0] == "count").await;
        }
        peer
    }
}

fn feed_stdin(mut stdin: ChildStdin, commands: std_mpsc::Receiver<String>) {
    for line in commands {
        if stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .is_err()
        {
            break;
        }
    }
    // Dropping stdin sends EOF: the peer quits.
}

fn write_temp_pem(pem: &str) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("aemp-interop-{}-{n}.pem", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    file.write_all(pem.as_bytes())
        .expect("writing the PEM file");
    path
}

/// A running Perl reference node.
pub struct Peer {
    node: String,
    child: Child,
    commands: Option<std_mpsc::Sender<String>>,
    writer: Option<JoinHandle<()>>,
    events: mpsc::UnboundedReceiver<Result<Json, String>>,
    seen: Vec<Json>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
    listen_addr: Option<String>,
    cert_file: Option<PathBuf>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("node", &self.node)
            .field("pid", &self.child.id())
            .field("listen_addr", &self.listen_addr)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// The peer's node id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Where it listens (from its `["listening", ADDR]` event); panics without `--listen`.
    pub fn listen_addr(&self) -> &str {
        self.listen_addr
            .as_deref()
            .expect("the peer was started without --listen")
    }

    /// Writes one command line (a JSON array) to the peer's stdin.
    pub fn send_command(&self, command: Json) {
        assert!(
            command.is_array(),
            "a peer command is a JSON array, not {command}"
        );
        let line = format!("{command}\n");
        self.commands
            .as_ref()
            .expect("stdin open")
            .send(line)
            .unwrap_or_else(|_| panic!("the peer's stdin is closed; {}", self.report()));
    }

    /// Every event read so far, in order (including those [`Peer::wait_for`] skipped).
    pub fn seen(&self) -> &[Json] {
        &self.seen
    }

    /// Moves events already printed (without waiting) into [`Peer::seen`], and returns them.
    pub fn drain(&mut self) -> &[Json] {
        let start = self.seen.len();
        while let Ok(line) = self.events.try_recv() {
            let event = self.check_line(line);
            self.seen.push(event);
        }
        &self.seen[start..]
    }

    /// The events seen so far and the peer's stderr, for failure messages.
    pub fn report(&self) -> String {
        let mut out = format!("events from peer {}:\n", self.node);
        for e in &self.seen {
            out.push_str(&format!("  {e}\n"));
        }
        let stderr = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        if !stderr.is_empty() {
            out.push_str(&format!("its stderr:\n{stderr}"));
        }
        out
    }

    fn check_line(&self, line: Result<Json, String>) -> Json {
        match line {
            Ok(event) if event.is_array() => event,
            Ok(other) => panic!(
                "the peer printed a non-array event {other}; {}",
                self.report()
            ),
            Err(line) => panic!(
                "the peer printed a line that is not JSON: {line:?}; {}",
                self.report()
            ),
        }
    }

    /// The next event, or `None` once the peer closed its stdout (it exited).
    async fn next_or_eof(
        &mut self,
        deadline: tokio::time::Instant,
        waiting_for: &str,
    ) -> Option<Json> {
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(line)) => {
                let event = self.check_line(line);
                self.seen.push(event.clone());
                Some(event)
            }
            Ok(None) => None,
            Err(_) => panic!(
                "timed out after {TIMEOUT:?} waiting for {waiting_for}; {}",
                self.report()
            ),
        }
    }

    fn exited(&mut self, waiting_for: &str) -> ! {
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        panic!(
            "the peer exited ({status}) while we waited for {waiting_for}; {}",
            self.report()
        )
    }

    /// The next event; fails the test after [`TIMEOUT`] or if the peer exits.
    pub async fn next_event(&mut self) -> Json {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        match self.next_or_eof(deadline, "the next event").await {
            Some(event) => event,
            None => self.exited("the next event"),
        }
    }

    /// Reads events until one matches `pred` and returns it; fails the test (listing the
    /// events seen) after [`TIMEOUT`] or if the peer exits.
    pub async fn wait_for(&mut self, mut pred: impl FnMut(&Json) -> bool) -> Json {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            match self.next_or_eof(deadline, "a matching event").await {
                Some(event) if pred(&event) => return event,
                Some(_) => {}
                None => self.exited("a matching event"),
            }
        }
    }

    /// Waits for the event equal to `expected`.
    pub async fn wait_for_event(&mut self, expected: Json) -> Json {
        self.wait_for(|e| *e == expected).await
    }

    /// Waits until the peer exits (closes its stdout); returns the events read meanwhile.
    pub async fn wait_exit(&mut self) -> Vec<Json> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let start = self.seen.len();
        while self
            .next_or_eof(deadline, "the peer to exit")
            .await
            .is_some()
        {}
        self.seen[start..].to_vec()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Closing stdin asks the peer to quit; kill it anyway so nothing outlives the test.
        drop(self.commands.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = self.writer.take() {
            let _ = t.join();
        }
        if let Some(path) = self.cert_file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
