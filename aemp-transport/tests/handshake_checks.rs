//! Every check of the handshake, against a scripted peer over real TCP on 127.0.0.1.
//!
//! The scripted peer reads our two greeting lines, then sends whatever the table says,
//! computing real tokens from both sides' lines where a case needs a valid one.

use std::time::Duration;

use aemp_transport::{accept, hmac_sha3_512_hex, AuthMethod, Config, Connection, Error};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const NONCE: &str =
    "cGVlcm5vbmNlcGVlcm5vbmNlcGVlcm5vbmNlcGVlcm5vbmNlcGVlcm5vbmNlcGVlcm5vbmNlcGVlcm5vbmNl";

struct Fake {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    ours: (String, String),
}

impl Fake {
    /// Starts `accept` with `config` and connects a scripted peer that has read our greeting.
    async fn start(config: Config) -> (Fake, JoinHandle<Result<Connection, Error>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ours = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            accept(s, &config).await
        });
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut fake = Fake {
            r: BufReader::new(r),
            w,
            ours: Default::default(),
        };
        let g1 = fake.line().await;
        let g2 = fake.line().await;
        fake.ours = (g1, g2);
        (fake, ours)
    }

    async fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).await.unwrap();
        l.trim_end_matches(['\r', '\n']).to_owned()
    }

    async fn send(&mut self, s: &str) {
        // The peer may already have closed on us; that is what some cases test.
        let _ = self.w.write_all(s.as_bytes()).await;
    }

    /// The hmac token the peer sends: its own lines first.
    fn hmac(&self, secret: &str, g1: &str) -> String {
        hmac_sha3_512_hex(secret.as_bytes(), (g1, NONCE), (&self.ours.0, &self.ours.1))
    }
}

fn config() -> Config {
    Config::new("us").unwrap().secret("sesame")
}

async fn outcome(config: Config, greeting: &str) -> Result<Connection, Error> {
    let (mut fake, ours) = Fake::start(config).await;
    fake.send(greeting).await;
    // End of stream after the scripted lines: a handshake that wants more sees the close.
    let _ = fake.w.shutdown().await;
    let res = ours.await.unwrap();
    drop(fake);
    res
}

#[tokio::test]
async fn greeting_checks() {
    type Check = fn(&Error) -> bool;
    let long = format!("aemp;1;{};hmac_sha3_512;json\n", "x".repeat(4096));
    let cases: Vec<(&str, Config, String, Check)> = vec![
        (
            "other protocol",
            config(),
            format!("http;1;p;hmac_sha3_512;json\n{NONCE}\n"),
            |e| matches!(e, Error::ProtocolMismatch { got, .. } if got == "http"),
        ),
        (
            "version 2",
            config(),
            format!("aemp;2;p;hmac_sha3_512;json\n{NONCE}\n"),
            |e| matches!(e, Error::VersionMismatch { theirs, .. } if theirs == "2"),
        ),
        (
            "version not a number",
            config(),
            format!("aemp;x;p;hmac_sha3_512;json\n{NONCE}\n"),
            |e| matches!(e, Error::VersionMismatch { .. }),
        ),
        (
            "our own node id",
            config(),
            format!("aemp;1;us;hmac_sha3_512;json\n{NONCE}\n"),
            |e| matches!(e, Error::TalkingToMyself { node } if node == "us"),
        ),
        (
            "already connected",
            config().already_connected(|n| n == "dup"),
            format!("aemp;1;dup;hmac_sha3_512;json\n{NONCE}\n"),
            |e| matches!(e, Error::AlreadyConnected { node } if node == "dup"),
        ),
        (
            "too few fields",
            config(),
            format!("aemp;1;p\n{NONCE}\n"),
            |e| {
                matches!(
                    e,
                    Error::MalformedLine {
                        what: "greeting",
                        ..
                    }
                )
            },
        ),
        ("line over 4096 bytes", config(), long, |e| {
            matches!(e, Error::LineTooLong { limit: 4096, .. })
        }),
        (
            "no newline in 4096 bytes",
            config(),
            "a".repeat(5000),
            |e| matches!(e, Error::LineTooLong { .. }),
        ),
        (
            "no common auth",
            config(),
            format!("aemp;1;p;hmac_md6_64_256,tls_anon;json\n{NONCE}\n"),
            |e| matches!(e, Error::NoCommonAuth { theirs, .. } if theirs == "hmac_md6_64_256,tls_anon"),
        ),
        (
            "no common framing",
            config(),
            format!("aemp;1;p;hmac_sha3_512;storable\n{NONCE}\n"),
            |e| matches!(e, Error::NoCommonFraming { theirs, .. } if theirs == "storable"),
        ),
        (
            "no secret, no certificate",
            Config::new("us").unwrap(),
            format!("aemp;1;p;hmac_sha3_512;json\n{NONCE}\n"),
            |e| matches!(e, Error::NoCredentials),
        ),
        (
            "closed before the nonce",
            config(),
            "aemp;1;p;hmac_sha3_512;json\n".to_owned(),
            |e| {
                matches!(
                    e,
                    Error::ClosedDuringHandshake {
                        during: "nonce line"
                    }
                )
            },
        ),
    ];
    for (name, config, greeting, check) in cases {
        let res = outcome(config, &greeting).await;
        match res {
            Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
            Ok(c) => panic!("{name}: handshake succeeded with {:?}", c.info()),
        }
    }
}

#[tokio::test]
async fn invalid_utf8_greeting_is_malformed() {
    let (mut fake, ours) = Fake::start(config()).await;
    let _ = fake.w.write_all(b"aemp;1;p\xff;hmac_sha3_512;json\n").await;
    let err = ours.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::MalformedLine {
                what: "greeting line",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn echoed_greeting_is_an_echo_attack() {
    // With plain `aemp` the node id check fires first (as in AnyEvent::MP), so the echo
    // check is reached on a sub-protocol connection, where node ids are not compared.
    let (mut fake, ours) = Fake::start(config().protocol("aemp-dataconn").unwrap()).await;
    let echo = format!("{}\n{}\n", fake.ours.0, fake.ours.1);
    fake.send(&echo).await;
    let err = ours.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::EchoAttack), "{err:?}");
}

#[tokio::test]
async fn silent_peer_times_out() {
    let (_fake, ours) = Fake::start(config().monitor_timeout(Duration::from_millis(200))).await;
    let err = ours.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::HandshakeTimeout {
                during: "greeting line",
                ..
            }
        ),
        "{err:?}"
    );
}

/// Runs a handshake where the peer greets with `g1` and answers with the auth line that
/// `auth` builds from the scripted peer.
async fn auth_outcome(
    config: Config,
    g1: &str,
    auth: impl FnOnce(&Fake) -> String,
) -> Result<Connection, Error> {
    let (mut fake, ours) = Fake::start(config).await;
    fake.send(&format!("{g1}\r\n{NONCE}\r\n")).await;
    let line = auth(&fake);
    fake.send(&line).await;
    // Our auth line arrives too; read it so that nothing blocks.
    let _ = fake.line().await;
    let res = ours.await.unwrap();
    drop(fake);
    res
}

const G1: &str = "aemp;1;p;hmac_sha3_512,cleartext;json;provider=test;peeraddr=1.2.3.4:5";

#[tokio::test]
async fn auth_line_checks() {
    type Check = fn(&Result<Connection, Error>) -> bool;
    type Build = fn(&Fake) -> String;
    let cases: Vec<(&str, Config, Build, Check)> = vec![
        (
            "valid hmac",
            config(),
            |f| format!("hmac_sha3_512;{};json\n", f.hmac("sesame", G1)),
            |r| {
                r.as_ref().is_ok_and(|c| {
                    c.info().peer_auth == AuthMethod::HmacSha3_512 && c.info().trusted
                })
            },
        ),
        (
            "wrong secret",
            config(),
            |f| format!("hmac_sha3_512;{};json\n", f.hmac("wrong", G1)),
            |r| matches!(r, Err(Error::AuthFailed)),
        ),
        (
            "cleartext, accepted by default",
            config(),
            |_| format!("cleartext;{};cbor\n", hex::encode("sesame")),
            |r| {
                r.as_ref()
                    .is_ok_and(|c| c.info().peer_auth == AuthMethod::Cleartext)
            },
        ),
        (
            "cleartext, not accepted",
            config().auth_accept([AuthMethod::HmacSha3_512]).unwrap(),
            |_| format!("cleartext;{};json\n", hex::encode("sesame")),
            |r| matches!(r, Err(Error::AuthNotAccepted { method, .. }) if method == "cleartext"),
        ),
        (
            "wrong cleartext",
            config(),
            |_| "cleartext;00;json\n".into(),
            |r| matches!(r, Err(Error::AuthFailed)),
        ),
        (
            "unknown method",
            config(),
            |_| "hmac_md6_64_256;00;json\n".into(),
            |r| matches!(r, Err(Error::UnsupportedReceiveAuth { method }) if method == "hmac_md6_64_256"),
        ),
        (
            "tls_anon without TLS",
            config(),
            |_| "tls_anon;;json\n".into(),
            |r| matches!(r, Err(Error::AuthFailed)),
        ),
        (
            "tls_sha3_512 without TLS",
            config(),
            |_| "tls_sha3_512;00;json\n".into(),
            |r| matches!(r, Err(Error::AuthFailed)),
        ),
        (
            "malformed",
            config(),
            |_| "garbage\n".into(),
            |r| {
                matches!(
                    r,
                    Err(Error::MalformedLine {
                        what: "auth line",
                        ..
                    })
                )
            },
        ),
        (
            "storable framing",
            config(),
            |f| format!("hmac_sha3_512;{};storable\n", f.hmac("sesame", G1)),
            |r| matches!(r, Err(Error::UnsupportedFraming { framing }) if framing == "storable"),
        ),
        (
            "extra keys after the framing",
            config(),
            |f| format!("hmac_sha3_512;{};json;x=1\n", f.hmac("sesame", G1)),
            |r| r.is_ok(),
        ),
    ];
    for (name, config, build, check) in cases {
        let res = auth_outcome(config, G1, build).await;
        assert!(check(&res), "{name}: {:?}", res.map(|c| c.info().clone()));
    }
}

#[tokio::test]
async fn handshake_reports_greeting_keys_framings_and_sub_protocol() {
    let g1 =
        "aemp-dataconn;1.0;p;hmac_sha3_512;cbor,json;provider=AE-2.01;flag;semi=a%3bb%25c;raw=50%";
    let conn = auth_outcome(config(), g1, |f| {
        let token = hmac_sha3_512_hex(b"sesame", (g1, NONCE), (&f.ours.0, &f.ours.1));
        format!("hmac_sha3_512;{token};json\n")
    })
    .await
    .unwrap();
    let info = conn.info();
    assert_eq!(info.protocol, "aemp-dataconn");
    assert_eq!(info.node_id, "p");
    assert_eq!(info.greeting.key("provider"), Some("AE-2.01"));
    assert!(info.greeting.has_key("flag"));
    assert_eq!(info.greeting.key("semi"), Some("a;b%c"));
    assert_eq!(info.greeting.key("raw"), Some("50%"));
    assert_eq!(info.send_framing, aemp_transport::Framing::Cbor);
    assert_eq!(info.recv_framing, aemp_transport::Framing::Json);
}

#[tokio::test]
async fn our_greeting_has_the_documented_shape() {
    let (fake, ours) = Fake::start(config().greeting_key("hb", Some("5".into())).unwrap()).await;
    let g = aemp_transport::Greeting::parse(&fake.ours.0).unwrap();
    assert_eq!(
        (g.protocol.as_str(), g.version.as_str(), g.node_id.as_str()),
        ("aemp", "1", "us")
    );
    assert_eq!(
        g.auths,
        ["tls_sha3_512", "hmac_sha3_512", "tls_anon", "cleartext"]
    );
    assert_eq!(g.framings, ["cbor", "json"]);
    assert!(g.key("provider").unwrap().starts_with("aemp-"));
    assert!(g.key("peeraddr").unwrap().starts_with("127.0.0.1:"));
    assert_eq!(g.key("hb"), Some("5"));
    assert!(!g.has_key("tls"), "no certificate, no tls key");
    let nonce = base64_decode_len(&fake.ours.1);
    assert_eq!(nonce, 66);
    drop(fake);
    assert!(ours.await.unwrap().is_err());
}

fn base64_decode_len(s: &str) -> usize {
    assert_eq!(s.len(), 88, "66 bytes are 88 base64 characters");
    assert!(s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'));
    s.len() / 4 * 3
}

#[tokio::test]
async fn node_ids_that_cannot_be_ids_are_refused() {
    for id in ["evil#port", "#", ""] {
        let (mut fake, ours) = Fake::start(config()).await;
        let g1 = format!("aemp;1;{id};hmac_sha3_512;json");
        let token = fake.hmac("sesame", &g1);
        fake.send(&format!("{g1}\n{NONCE}\nhmac_sha3_512;{token};json\n"))
            .await;
        let err = ours.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidNodeId { node, .. } if node == id),
            "{id:?}: {err:?}"
        );
        assert!(err.to_string().contains("invalid node id"), "{err}");
    }
}

#[tokio::test]
async fn a_peer_that_replays_our_nonce_is_refused() {
    let (mut fake, ours) = Fake::start(config()).await;
    let g1 = "aemp;1;other;hmac_sha3_512;json".to_owned();
    let nonce = fake.ours.1.clone();
    let token = hmac_sha3_512_hex(b"sesame", (&g1, &nonce), (&fake.ours.0, &fake.ours.1));
    fake.send(&format!("{g1}\n{nonce}\nhmac_sha3_512;{token};json\n"))
        .await;
    let err = ours.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::SameNonce), "{err:?}");
}

mod fuzz {
    //! Random auth lines (and random bytes after a valid greeting) over real TCP: the
    //! handshake refuses them with an error, never panics, never accepts.
    use super::*;
    use proptest::prelude::*;

    fn refused(tail: Vec<u8>) -> Result<(), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let res = rt.block_on(async {
            let (mut fake, ours) =
                Fake::start(config().monitor_timeout(Duration::from_secs(2))).await;
            let g1 = "aemp;1;fuzzer;hmac_sha3_512;json".to_owned();
            fake.send(&format!("{g1}\n{NONCE}\n")).await;
            let _ = fake.w.write_all(&tail).await;
            let _ = fake.w.shutdown().await;
            ours.await.unwrap()
        });
        prop_assert!(
            res.is_err(),
            "accepted: {:?}",
            res.map(|c| c.info().clone())
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn random_auth_lines_are_refused(line in "[ -~]{0,200}") {
            refused(format!("{line}\n").into_bytes())?;
        }

        #[test]
        fn random_bytes_after_the_greeting_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            refused(bytes)?;
        }
    }
}

/// Bytes that come with the end of the handshake (the peer's first message right behind its
/// auth line, read with it) count as received, as every later byte does.
#[tokio::test]
async fn bytes_behind_the_auth_line_count_as_received() {
    let frame = r#"["p","early"]"#;
    let (mut fake, ours) = Fake::start(config()).await;
    fake.send(&format!("{G1}\r\n{NONCE}\r\n")).await;
    let line = format!("hmac_sha3_512;{};json\n{frame}", fake.hmac("sesame", G1));
    fake.send(&line).await;
    let _ = fake.line().await;
    let conn = ours.await.unwrap().unwrap();
    let (_tx, mut rx) = conn.split();
    assert_eq!(
        rx.recv().await.unwrap().unwrap(),
        aemp_transport::msg!["p", "early"]
    );
    let traffic = rx.traffic();
    assert_eq!(traffic.messages, 1, "{traffic:?}");
    assert!(traffic.bytes >= frame.len() as u64, "{traffic:?}");
    drop(fake);
}
