//! `aemp ping` as operators run it: the real binary against a Rust node and the Perl peer.

mod support;

use std::process::Output;

use aemp_transport::{accept, Config};
use tokio::net::TcpListener;

async fn aemp(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_aemp"))
        .args(args)
        .output()
        .await
        .expect("run aemp")
}

/// A Rust node that accepts one connection with `secret`; returns its address.
async fn rust_node(
    secret: &'static str,
) -> (
    String,
    tokio::task::JoinHandle<Result<Vec<aemp_transport::Value>, String>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let conn = accept(s, &Config::new("rustnode").unwrap().secret(secret))
            .await
            .map_err(|e| e.to_string())?;
        let (_tx, mut rx) = conn.split();
        rx.recv()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "closed without a message".to_owned())
    });
    (addr, task)
}

#[tokio::test]
async fn ping_reports_the_handshake_and_sends_devnull() {
    let (addr, node) = rust_node("s3cr3t").await;
    let out = aemp(&["ping", &addr, "--secret", "s3cr3t", "--framing", "json"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("node:       rustnode"), "{stdout}");
    assert!(
        stdout.contains("we sent hmac_sha3_512, peer sent hmac_sha3_512"),
        "{stdout}"
    );
    assert!(
        stdout.contains("framing:    we send json, peer sends json"),
        "{stdout}"
    );
    assert!(stdout.contains("tls:        no"), "{stdout}");
    assert!(stdout.contains("handshake:"), "{stdout}");
    assert_eq!(
        node.await.unwrap().unwrap(),
        aemp_transport::msg!["", "devnull"]
    );
}

#[tokio::test]
async fn ping_with_the_wrong_secret_fails_with_a_hint() {
    let (addr, node) = rust_node("right").await;
    let out = aemp(&["ping", &addr, "--secret", "wrong"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("authentication failure/shared secret mismatch"),
        "{stderr}"
    );
    assert!(stderr.contains("secrets differ"), "{stderr}");
    assert!(node
        .await
        .unwrap()
        .unwrap_err()
        .contains("authentication failure"));
}

#[tokio::test]
async fn ping_refuses_bad_arguments() {
    for (args, expect) in [
        (
            vec!["ping", "127.0.0.1:1"],
            "no secret or certificate configured",
        ),
        (
            vec![
                "ping",
                "127.0.0.1:1",
                "--secret",
                "s",
                "--framing",
                "storable",
            ],
            "unsupported framing 'storable'",
        ),
        (
            vec!["ping", "127.0.0.1:1", "--secret", "s", "--node-id", "a#b"],
            "node id",
        ),
        (
            vec!["ping", "127.0.0.1:1", "--cert", "/nonexistent.pem"],
            "cannot read certificate",
        ),
        (
            vec!["ping", "127.0.0.1:1", "--secret", "s"],
            "Connection refused",
        ),
    ] {
        let out = aemp(&args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn ping_the_perl_peer_with_hmac_and_tls() {
    let Some(_) = support::peer::require_tls() else {
        return;
    };
    let pem = support::certs::self_signed_pem();
    let peer = support::peer::PeerBuilder::new("perlping")
        .listen("127.0.0.1:0")
        .secret("s")
        .cert_pem(&pem)
        .spawn()
        .await;
    let out = aemp(&["ping", peer.listen_addr(), "--secret", "s"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("node:       perlping") && stdout.contains("provider:   AE-2.02"),
        "{stdout}"
    );
    assert!(stdout.contains("tls:        no"), "{stdout}");

    let dir = std::env::temp_dir().join(format!("aemp-ping-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem_path = dir.join("node.pem");
    std::fs::write(&pem_path, &pem).unwrap();
    let out = aemp(&[
        "ping",
        peer.listen_addr(),
        "--cert",
        pem_path.to_str().unwrap(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("tls:        yes") && stdout.contains("we sent tls_sha3_512"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
