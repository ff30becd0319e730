//! Interop with the Perl reference node: AnyEvent::MP's own Transport.pm, run by
//! `shared/interop/aemp-peer` (see `support::peer`). Every scenario runs in both directions
//! where the direction matters: Rust dials Perl's listener, and Perl dials a Rust listener.
//!
//! Wire facts of the Perl side that the assertions rely on (observed, CBOR::XS and JSON::XS
//! as AnyEvent::MP calls them):
//! - CBOR: strings that Perl decoded from CBOR *text* go back out as text, but strings Perl
//!   made itself (literals, `"$NODE#echo"`) and ASCII strings it decoded from JSON (its stdin,
//!   or a json-framed connection) go out as *byte* strings; so does every hash key that fits
//!   Latin-1 (ASCII keys come back as UTF-8-compatible bytes, `"é"` comes back as the single
//!   byte 0xE9). Keys beyond U+00FF stay text. Integral floats that fit a u32 (1.0, -0.0)
//!   come back as integers.
//! - JSON: integral floats come back as integers, floats keep 15 significant digits,
//!   i64::MIN comes back as a string, denormals come back as 0.
//!
//! No sleeps: every wait is on an event or a message, bounded by `support::peer::TIMEOUT`.

mod support;

use std::future::Future;

use aemp_transport::{
    accept, connect, msg, AuthMethod, Config, Connection, Error, Framing, Receiver, Sender, Value,
};
use serde_json::{json, Value as Json};
use support::peer::{require, require_tls, Peer, PeerBuilder, TIMEOUT};
use tokio::net::TcpListener;

const SECRET: &str = "interop secret";

/// Who dials.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Dir {
    RustConnects,
    PerlConnects,
}

const BOTH: [Dir; 2] = [Dir::RustConnects, Dir::PerlConnects];

fn rust_config(node: &str) -> Config {
    Config::new(node).unwrap().secret(SECRET)
}

fn perl(node: &str) -> PeerBuilder {
    PeerBuilder::new(node).secret(SECRET)
}

/// `fut`, or a test failure (with the peer's events) after `TIMEOUT`.
async fn within<T>(peer: &Peer, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TIMEOUT, fut).await {
        Ok(v) => v,
        Err(_) => panic!(
            "timed out after {TIMEOUT:?} waiting for {what}; {}",
            peer.report()
        ),
    }
}

/// Starts the peer and runs the Rust side of the handshake in direction `dir`.
async fn try_establish(
    dir: Dir,
    rust: &Config,
    peer: PeerBuilder,
) -> (Peer, Result<Connection, Error>) {
    match dir {
        Dir::RustConnects => {
            let peer = peer.listen("127.0.0.1:0").spawn().await;
            let conn = within(&peer, "connect", connect(peer.listen_addr(), rust)).await;
            (peer, conn)
        }
        Dir::PerlConnects => {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = peer.connect(addr).spawn().await;
            let (stream, _) = within(&peer, "the peer's TCP connection", listener.accept())
                .await
                .unwrap();
            let conn = within(&peer, "accept", accept(stream, rust)).await;
            (peer, conn)
        }
    }
}

/// [`try_establish`], which must succeed on both sides (the peer reports `["up", NODE]`).
async fn establish(dir: Dir, rust: &Config, peer: PeerBuilder) -> (Peer, Connection) {
    let (mut peer, conn) = try_establish(dir, rust, peer).await;
    let conn = conn.unwrap_or_else(|e| panic!("{dir:?}: handshake failed: {e}; {}", peer.report()));
    assert_eq!(conn.info().node_id, peer.node(), "{dir:?}");
    peer.wait_for_event(json!(["up", rust.node_id()])).await;
    (peer, conn)
}

/// The next message; fails the test on timeout, close or error.
async fn recv(peer: &Peer, rx: &mut Receiver) -> Vec<Value> {
    match within(peer, "a message from the peer", rx.recv()).await {
        Ok(Some(m)) => m,
        Ok(None) => panic!("the peer closed the connection; {}", peer.report()),
        Err(e) => panic!("receiving: {e}; {}", peer.report()),
    }
}

/// Sends `payload` through the peer's echo port back to our port `port`; returns what came
/// back after the port name (which must be `port`).
async fn echo(
    peer: &Peer,
    conn: (&Sender, &mut Receiver),
    me: &str,
    port: &str,
    payload: &[Value],
) -> Vec<Value> {
    let (tx, rx) = conn;
    let mut body = vec![Value::from(format!("{me}#{port}"))];
    body.extend_from_slice(payload);
    tx.send_to("echo", &body).await.unwrap();
    let mut m = recv(peer, rx).await;
    assert_eq!(
        m[0].as_str(),
        Some(port),
        "reply to the wrong port: {}",
        show(&m)
    );
    m.remove(0);
    m
}

/// A message for a failure message, cut short.
fn show(m: &[Value]) -> String {
    let text = Value::Array(m.to_vec()).to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}... ({} chars)", &text[..cut], text.chars().count()),
        None => text,
    }
}

/// Byte strings that hold UTF-8 become text, everywhere (Perl sends strings it did not decode
/// as CBOR byte strings, see the module docs): for comparing what Perl built itself.
fn text_bytes(v: &Value) -> Value {
    match v {
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::Text(s.to_owned()),
            Err(_) => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(text_bytes).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (text_bytes(k), text_bytes(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Only map keys that are UTF-8 byte strings become text (CBOR::XS sends hash keys as byte
/// strings); values are left exactly as received, so Text vs Bytes is still checked there.
fn text_keys(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(text_keys).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (text_bytes(k), text_keys(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

// ---------------------------------------------------------------------------------------
// handshakes

async fn handshake_and_echo(rust: Config, peer: PeerBuilder, send: Framing, recv_framing: Framing) {
    for dir in BOTH {
        let (peer, conn) = establish(dir, &rust, peer.clone()).await;
        let info = conn.info().clone();
        assert_eq!(
            (info.send_framing, info.recv_framing),
            (send, recv_framing),
            "{dir:?}"
        );
        assert_eq!(info.send_auth, AuthMethod::HmacSha3_512, "{dir:?}");
        assert_eq!(info.peer_auth, AuthMethod::HmacSha3_512, "{dir:?}");
        assert!(!info.tls && info.trusted, "{dir:?}: {info:?}");
        assert_eq!(info.greeting.key("provider"), Some("AE-2.02"), "{dir:?}");
        assert_eq!(info.greeting.key("mproto"), Some("1"), "{dir:?}");
        let (tx, mut rx) = conn.split();
        let me = rust.node_id();
        let sent = msg!["hello", "grüße", 42, -7, 2.5, true, ()];
        let back = echo(&peer, (&tx, &mut rx), me, "r", &sent).await;
        // Perl's JSON decoder yields byte strings for ASCII text, which CBOR::XS then sends
        // as byte strings: with json in and cbor out, "hello" comes back as bytes.
        let back = if (send, recv_framing) == (Framing::Json, Framing::Cbor) {
            assert_eq!(back[0], Value::Bytes(b"hello".to_vec()), "{dir:?}");
            assert_eq!(back[1], Value::Text("grüße".into()), "{dir:?}");
            back.iter().map(text_bytes).collect()
        } else {
            back
        };
        assert_eq!(back, sent, "{dir:?}");
    }
}

#[tokio::test]
async fn hmac_sha3_512_with_json_framing() {
    let Some(_) = require() else { return };
    let rust = rust_config("rust-json").framings([Framing::Json]).unwrap();
    handshake_and_echo(
        rust,
        perl("perl-json").framing("json"),
        Framing::Json,
        Framing::Json,
    )
    .await;
}

#[tokio::test]
async fn hmac_sha3_512_with_cbor_framing() {
    let Some(_) = require() else { return };
    let rust = rust_config("rust-cbor").framings([Framing::Cbor]).unwrap();
    handshake_and_echo(
        rust,
        perl("perl-cbor").framing("cbor"),
        Framing::Cbor,
        Framing::Cbor,
    )
    .await;
}

/// Each side sends in the first framing of the *other* side's list.
#[tokio::test]
async fn mixed_framings_rust_prefers_json_perl_prefers_cbor() {
    let Some(_) = require() else { return };
    let rust = rust_config("rust-mix1")
        .framings([Framing::Json, Framing::Cbor])
        .unwrap();
    let peer = perl("perl-mix1").framing("cbor,json");
    handshake_and_echo(rust, peer, Framing::Cbor, Framing::Json).await;
}

#[tokio::test]
async fn mixed_framings_rust_prefers_cbor_perl_prefers_json() {
    let Some(_) = require() else { return };
    let rust = rust_config("rust-mix2")
        .framings([Framing::Cbor, Framing::Json])
        .unwrap();
    let peer = perl("perl-mix2").framing("json,cbor");
    handshake_and_echo(rust, peer, Framing::Json, Framing::Cbor).await;
}

#[tokio::test]
async fn tls_sha3_512_with_rcgen_certificate() {
    let Some(_) = require_tls() else { return };
    let pem = support::certs::self_signed_pem();
    // No secret on either side: only the certificate can authenticate.
    let rust = Config::new("rust-tls").unwrap().cert_pem(&pem).unwrap();
    for dir in BOTH {
        let (peer, conn) = establish(dir, &rust, PeerBuilder::new("perl-tls").cert_pem(&pem)).await;
        let info = conn.info().clone();
        assert!(info.tls, "{dir:?}: {info:?}");
        assert_eq!(info.greeting.key("tls"), Some("1.0"), "{dir:?}");
        assert_eq!(info.peer_auth, AuthMethod::TlsSha3_512, "{dir:?}");
        assert_eq!(info.send_auth, AuthMethod::TlsSha3_512, "{dir:?}");
        assert!(info.trusted, "{dir:?}");
        let (tx, mut rx) = conn.split();
        for i in 0..200 {
            let payload = msg![i, "x".repeat(i * 50), Value::Bytes(vec![i as u8; i])];
            let back = echo(&peer, (&tx, &mut rx), "rust-tls", "t", &payload).await;
            assert_eq!(back, payload, "{dir:?} #{i}");
        }
    }
}

/// The other deployment AnyEvent::MP documents: one CA, a certificate per node, each PEM
/// holding the node's key, its certificate and the CA certificate.
#[tokio::test]
async fn tls_with_ca_signed_node_certificates() {
    let Some(_) = require_tls() else { return };
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "aemp interop CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let node_pem = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        format!("{}{}{}", key.serialize_pem(), cert.pem(), ca.pem())
    };
    let rust = Config::new("rust-ca")
        .unwrap()
        .cert_pem(node_pem("rust-ca"))
        .unwrap();
    for dir in BOTH {
        let (peer, conn) = establish(
            dir,
            &rust,
            PeerBuilder::new("perl-ca").cert_pem(&node_pem("perl-ca")),
        )
        .await;
        let info = conn.info().clone();
        assert!(info.tls && info.trusted, "{dir:?}: {info:?}");
        assert_eq!(
            (info.send_auth, info.peer_auth),
            (AuthMethod::TlsSha3_512, AuthMethod::TlsSha3_512),
            "{dir:?}"
        );
        let (tx, mut rx) = conn.split();
        let back = echo(&peer, (&tx, &mut rx), "rust-ca", "t", &msg!["over tls"]).await;
        assert_eq!(back, msg!["over tls"], "{dir:?}");
    }
}

/// TLS needs a certificate on both sides; otherwise both fall back to the shared secret.
#[tokio::test]
async fn certificate_on_one_side_only_falls_back_to_hmac() {
    let Some(_) = require_tls() else { return };
    let pem = support::certs::self_signed_pem();
    let cases = [
        (
            rust_config("rust-half").cert_pem(&pem).unwrap(),
            perl("perl-half"),
        ),
        (rust_config("rust-half"), perl("perl-half").cert_pem(&pem)),
    ];
    for (i, (rust, peer)) in cases.into_iter().enumerate() {
        for dir in BOTH {
            let (peer, conn) = establish(dir, &rust, peer.clone()).await;
            let info = conn.info().clone();
            assert!(!info.tls, "case {i} {dir:?}: {info:?}");
            assert_eq!(
                (info.send_auth, info.peer_auth),
                (AuthMethod::HmacSha3_512, AuthMethod::HmacSha3_512),
                "case {i} {dir:?}"
            );
            let (tx, mut rx) = conn.split();
            let back = echo(&peer, (&tx, &mut rx), "rust-half", "h", &msg![i]).await;
            assert_eq!(back, msg![i], "case {i} {dir:?}");
        }
    }
}

/// Certificates that do not trust each other: no connection, on either side.
#[tokio::test]
async fn tls_with_untrusted_certificate_is_refused() {
    let Some(_) = require_tls() else { return };
    let (ours, theirs) = (
        support::certs::self_signed_pem(),
        support::certs::self_signed_pem(),
    );
    let rust = Config::new("rust-tlsbad").unwrap().cert_pem(&ours).unwrap();
    for dir in BOTH {
        let (mut peer, conn) = try_establish(
            dir,
            &rust,
            PeerBuilder::new("perl-tlsbad").cert_pem(&theirs),
        )
        .await;
        // Whichever side verifies first refuses: rustls's verdict, or Perl's OpenSSL closing
        // the TLS handshake ("tls handshake eof"). Either way a TLS error, during TLS.
        let err = conn.expect_err("a connection despite untrusted certificates");
        assert!(
            matches!(err, Error::Tls(_)) && err.is_auth_failure(),
            "{dir:?}: {err:?}"
        );
        let closed = peer.wait_for(|e| e[0] == "closed").await;
        assert_eq!(
            closed,
            json!(["closed", "rust-tlsbad", "127.0.0.1"]),
            "{dir:?}"
        );
        peer.drain();
        assert!(
            !peer.seen().iter().any(|e| e[0] == "up"),
            "{dir:?}: {}",
            peer.report()
        );
    }
}

/// `tls_anon` (an empty token over TLS) in each direction: the side that receives it marks
/// the peer untrusted.
#[tokio::test]
async fn tls_anon_both_ways() {
    let Some(_) = require_tls() else { return };
    let pem = support::certs::self_signed_pem();
    for dir in BOTH {
        // Perl authenticates with tls_anon: we accept it and mark Perl untrusted.
        let rust = Config::new("rust-anon").unwrap().cert_pem(&pem).unwrap();
        let peer = PeerBuilder::new("perl-anon")
            .cert_pem(&pem)
            .auth_offer("tls_anon");
        let (peer, conn) = establish(dir, &rust, peer).await;
        let info = conn.info().clone();
        assert!(info.tls, "{dir:?}");
        assert_eq!(info.peer_auth, AuthMethod::TlsAnon, "{dir:?}");
        assert!(!info.trusted, "{dir:?}: a tls_anon peer must be untrusted");
        let (tx, mut rx) = conn.split();
        assert_eq!(
            echo(&peer, (&tx, &mut rx), "rust-anon", "a", &msg![1]).await,
            msg![1],
            "{dir:?}"
        );
        drop(peer);

        // We authenticate with tls_anon, the only method Perl accepts.
        let rust = Config::new("rust-anon")
            .unwrap()
            .cert_pem(&pem)
            .unwrap()
            .auth_offer([AuthMethod::TlsAnon])
            .unwrap();
        let peer = PeerBuilder::new("perl-anon")
            .cert_pem(&pem)
            .auth_accept("tls_anon");
        let (peer, conn) = establish(dir, &rust, peer).await;
        let info = conn.info().clone();
        assert_eq!(
            (info.send_auth, info.peer_auth),
            (AuthMethod::TlsAnon, AuthMethod::TlsSha3_512),
            "{dir:?}"
        );
        assert!(info.trusted, "{dir:?}");
        let (tx, mut rx) = conn.split();
        assert_eq!(
            echo(&peer, (&tx, &mut rx), "rust-anon", "b", &msg![2]).await,
            msg![2],
            "{dir:?}"
        );
    }
}

/// No auth method Perl offers is one we accept: Perl finds nothing to send from our accept
/// list ("no common auth type supported") and hangs up before its auth line. Without TLS we
/// see the connection end while waiting for that line; with TLS (both greetings say tls=1.0,
/// so we already started TLS) the TLS handshake ends early.
#[tokio::test]
async fn no_common_auth_method_is_refused() {
    use std::io::ErrorKind::{ConnectionReset, UnexpectedEof};
    let Some(_) = require_tls() else { return };
    let pem = support::certs::self_signed_pem();
    let plain = rust_config("rust-noauth")
        .auth_accept([AuthMethod::TlsSha3_512])
        .unwrap();
    let tls = Config::new("rust-noauth")
        .unwrap()
        .cert_pem(&pem)
        .unwrap()
        .auth_accept([AuthMethod::TlsSha3_512, AuthMethod::HmacSha3_512])
        .unwrap();
    let cases = [
        (plain, perl("perl-noauth")),
        (
            tls,
            PeerBuilder::new("perl-noauth")
                .cert_pem(&pem)
                .auth_offer("tls_anon"),
        ),
    ];
    for (rust, builder) in cases {
        for dir in BOTH {
            let (mut peer, conn) = try_establish(dir, &rust, builder.clone()).await;
            let err = conn.expect_err("a connection without a common auth method");
            // Perl may close while our auth line (or TLS hello) is still unread on its side:
            // then the kernel answers with a reset instead of a clean end of stream.
            let ok = if rust.has_cert() {
                matches!(&err, Error::Tls(e) if matches!(e.kind(), UnexpectedEof | ConnectionReset))
            } else {
                matches!(
                    &err,
                    Error::ClosedDuringHandshake {
                        during: "auth line"
                    }
                ) || matches!(&err, Error::Io { during: "auth line", source }
                        if source.kind() == ConnectionReset)
            };
            assert!(
                ok,
                "tls {} {dir:?}: {err:?}; {}",
                rust.has_cert(),
                peer.report()
            );
            let closed = peer.wait_for(|e| e[0] == "closed").await;
            assert_eq!(
                closed,
                json!(["closed", "rust-noauth", "127.0.0.1"]),
                "{dir:?}"
            );
        }
    }
}

/// A wrong secret: Rust reports `AuthFailed`; Perl drops the connection before it is "up"
/// and, having no node for it, reports `["closed", RUSTNODE, HOST]` (its HOOK_DESTROY).
#[tokio::test]
async fn wrong_secret_is_refused_on_both_sides() {
    let Some(_) = require() else { return };
    let rust = Config::new("rust-badsecret")
        .unwrap()
        .secret("not the secret");
    for dir in BOTH {
        let (mut peer, conn) = try_establish(dir, &rust, perl("perl-badsecret")).await;
        match conn {
            Err(Error::AuthFailed) => {}
            other => panic!(
                "{dir:?}: expected AuthFailed, got {other:?}; {}",
                peer.report()
            ),
        }
        let closed = peer.wait_for(|e| e[0] == "closed").await;
        assert_eq!(
            closed,
            json!(["closed", "rust-badsecret", "127.0.0.1"]),
            "{dir:?}"
        );
        peer.send_command(json!(["count"]));
        peer.wait_for(|e| e[0] == "count").await;
        assert!(
            !peer.seen().iter().any(|e| e[0] == "up" || e[0] == "down"),
            "{dir:?}: {}",
            peer.report()
        );
    }
}

// ---------------------------------------------------------------------------------------
// values

/// Values that survive a trip through Perl in both framings, bit for bit.
fn portable_values() -> Vec<(&'static str, Value)> {
    vec![
        ("ascii", "hello".into()),
        ("empty string", "".into()),
        ("latin-1", "grüße, naïve café".into()),
        ("cjk", "日本語テキスト".into()),
        ("emoji", "🦀🚀 👩‍👩‍👧".into()),
        ("escapes", "a\u{0}b\"c\\d\ne\tf\u{1f}\u{7f}/".into()),
        ("zero", 0.into()),
        ("negative", (-1).into()),
        ("u32 max + 1", 4_294_967_296u64.into()),
        ("negative large", (-4_294_967_297i64).into()),
        ("i64 max", i64::MAX.into()),
        ("i64 min + 1", (i64::MIN + 1).into()),
        ("u64 max", u64::MAX.into()),
        // JSON::XS prints floats with 15 significant digits and integral ones as integers:
        // these floats have a fraction and at most 15 digits.
        ("half", 0.5.into()),
        ("negative float", (-0.125).into()),
        ("tenth", 0.1.into()),
        ("15 significant digits", 1.23456789012345.into()),
        ("huge float", 1.5e300.into()),
        ("avogadro", 6.02214076e23.into()),
        ("tiny float", 2.5e-300.into()),
        ("null", Value::Null),
        ("true", true.into()),
        ("false", false.into()),
        ("empty array", arr(vec![])),
        ("empty map", Value::Map(vec![])),
        (
            "nested arrays",
            arr(vec![
                1.into(),
                arr(vec![2.into(), arr(vec![3.into(), arr(vec![])])]),
            ]),
        ),
        (
            "maps in arrays in maps",
            map(vec![
                (
                    "list",
                    arr(vec![1.into(), map(vec![("deep", Value::Null)]), "s".into()]),
                ),
                ("empty", Value::Map(vec![])),
                ("n", (-5).into()),
            ]),
        ),
        // Keys beyond U+00FF: Perl cannot downgrade them, so CBOR::XS keeps them text.
        (
            "unicode keys",
            map(vec![
                ("日本", 1.into()),
                ("🦀", arr(vec![true.into()])),
                ("ascii", "v".into()),
            ]),
        ),
    ]
}

/// Values only CBOR can carry, or carry exactly.
fn cbor_only_values() -> Vec<(&'static str, Value)> {
    vec![
        ("i64 min", i64::MIN.into()),
        ("pi to 17 digits", std::f64::consts::PI.into()),
        ("denormal", 5e-324.into()),
        ("f64 max", f64::MAX.into()),
        ("infinity", f64::INFINITY.into()),
        ("-infinity", f64::NEG_INFINITY.into()),
        ("integral float above u32", 1e20.into()),
        ("empty bytes", Value::Bytes(vec![])),
        (
            "binary bytes",
            Value::Bytes(vec![0, 1, 0x7f, 0x80, 0xfc, 0xff]),
        ),
        ("ascii bytes", Value::Bytes(b"abc".to_vec())),
        ("all byte values", Value::Bytes((0..=255).collect())),
        (
            "bytes in a map",
            map(vec![
                ("b", Value::Bytes(vec![0xde, 0xad])),
                ("t", "text".into()),
            ]),
        ),
    ]
}

/// Sends every case through the echo port (one message each, all queued at once) and
/// compares what comes back with `normalize(received) == sent`.
async fn echo_cases(
    dir: Dir,
    framing: Framing,
    cases: &[(&str, Value)],
    normalize: fn(&Value) -> Value,
) {
    let me = format!("rust-values-{}", framing.name());
    let rust = rust_config(&me).framings([framing]).unwrap();
    let (peer, conn) = establish(dir, &rust, perl("perl-values")).await;
    let (tx, mut rx) = conn.split();
    for (i, (_, v)) in cases.iter().enumerate() {
        tx.send_to("echo", &[Value::from(format!("{me}#v{i}")), v.clone()])
            .await
            .unwrap();
    }
    for (i, (name, sent)) in cases.iter().enumerate() {
        let m = recv(&peer, &mut rx).await;
        assert_eq!(
            m[0].as_str(),
            Some(format!("v{i}").as_str()),
            "{dir:?} {framing}: {}",
            show(&m)
        );
        assert_eq!(m.len(), 2, "{dir:?} {framing} {name}: {}", show(&m));
        let got = normalize(&m[1]);
        assert!(
            got == *sent,
            "{dir:?} {framing} {name}: sent {sent} ({sent:?}), got {} ({:?})",
            m[1],
            m[1]
        );
    }
}

#[tokio::test]
async fn echo_round_trips_values_exactly_cbor() {
    let Some(_) = require() else { return };
    let mut cases = portable_values();
    cases.extend(cbor_only_values());
    for dir in BOTH {
        // Map keys come back as byte strings (CBOR::XS hash keys), values exactly as sent.
        echo_cases(dir, Framing::Cbor, &cases, text_keys).await;
    }
}

#[tokio::test]
async fn echo_round_trips_values_exactly_json() {
    let Some(_) = require() else { return };
    for dir in BOTH {
        echo_cases(dir, Framing::Json, &portable_values(), Value::clone).await;
    }
}

/// NaN has no equality: checked on its own (CBOR only; JSON cannot carry it).
#[tokio::test]
async fn echo_round_trips_nan_cbor() {
    let Some(_) = require() else { return };
    let rust = rust_config("rust-nan").framings([Framing::Cbor]).unwrap();
    let (peer, conn) = establish(Dir::RustConnects, &rust, perl("perl-nan")).await;
    let (tx, mut rx) = conn.split();
    let back = echo(&peer, (&tx, &mut rx), "rust-nan", "n", &[f64::NAN.into()]).await;
    assert!(
        matches!(back[..], [Value::Float(f)] if f.is_nan()),
        "{}",
        show(&back)
    );
}

/// What Perl changes on the way, pinned so that a change on either side shows up.
#[tokio::test]
async fn values_perl_changes_are_documented() {
    let Some(_) = require() else { return };
    // CBOR: hash keys that fit Latin-1 come back as byte strings (Latin-1, not UTF-8, for
    // "é"); keys beyond U+00FF stay text; integral floats within u32 become integers.
    let rust = rust_config("rust-lossy-cbor")
        .framings([Framing::Cbor])
        .unwrap();
    let (peer, conn) = establish(Dir::RustConnects, &rust, perl("perl-lossy")).await;
    let (tx, mut rx) = conn.split();
    let sent = msg![
        map(vec![("k", 1.into()), ("é", 2.into()), ("日本", 3.into())]),
        1.0,
        -0.0,
        4_294_967_295.0,
        "text stays text"
    ];
    let back = echo(&peer, (&tx, &mut rx), "rust-lossy-cbor", "c", &sent).await;
    let expected = msg![
        Value::Map(vec![
            (Value::Bytes(b"k".to_vec()), 1.into()),
            (Value::Bytes(vec![0xe9]), 2.into()),
            (Value::Text("日本".into()), 3.into()),
        ]),
        1,
        0,
        4_294_967_295u32,
        "text stays text"
    ];
    assert_eq!(back, expected, "got {back:?}");
    assert!(matches!(back[4], Value::Text(_)), "{:?}", back[4]);
    drop(peer);

    // JSON: integral floats become integers, 17 digits become 15, i64::MIN becomes a string
    // (JSON::XS cannot store it as an IV), a denormal becomes 0.
    let rust = rust_config("rust-lossy-json")
        .framings([Framing::Json])
        .unwrap();
    let (peer, conn) = establish(Dir::RustConnects, &rust, perl("perl-lossy")).await;
    let (tx, mut rx) = conn.split();
    let sent = msg![1.0, 0.1 + 0.2, i64::MIN, 5e-324];
    let back = echo(&peer, (&tx, &mut rx), "rust-lossy-json", "j", &sent).await;
    assert_eq!(
        back,
        msg![1, 0.3, "-9223372036854775808", 0],
        "got {back:?}"
    );
}

/// Messages the peer makes itself (the "snd" command): the port id splits into our port,
/// and strings that Perl never decoded as text arrive as CBOR byte strings.
#[tokio::test]
async fn perl_snd_arrives_at_our_ports() {
    let Some(_) = require() else { return };
    let payload = json!(["hello", "grüße 🦀", 42, -7, 18446744073709551615u64, 1.5, null, true, false, [1, [2, []]], {"k": "v", "n": {}}]);
    let expected = msg![
        "hello",
        "grüße 🦀",
        42,
        -7,
        u64::MAX,
        1.5,
        (),
        true,
        false,
        arr(vec![1.into(), arr(vec![2.into(), arr(vec![])])]),
        map(vec![("k", "v".into()), ("n", Value::Map(vec![]))])
    ];
    for (dir, framing) in [
        (Dir::RustConnects, Framing::Cbor),
        (Dir::PerlConnects, Framing::Json),
        (Dir::PerlConnects, Framing::Cbor),
    ] {
        let me = format!("rust-snd-{}", framing.name());
        let rust = rust_config(&me).framings([framing]).unwrap();
        let (peer, conn) = establish(dir, &rust, perl("perl-snd")).await;
        let (_tx, mut rx) = conn.split();

        let mut cmd = vec![json!("snd"), json!(format!("{me}#inbox"))];
        cmd.extend(payload.as_array().unwrap().iter().cloned());
        peer.send_command(Json::Array(cmd));
        let m = recv(&peer, &mut rx).await;
        assert_eq!(m[0].as_str(), Some("inbox"), "{dir:?} {framing}");
        assert_eq!(
            text_bytes(&arr(m[1..].to_vec())),
            arr(expected.clone()),
            "{dir:?} {framing}: {}",
            show(&m)
        );
        if framing == Framing::Cbor {
            // Raw: ASCII strings from Perl's JSON decoder are byte strings, the rest text.
            assert_eq!(m[0], Value::Bytes(b"inbox".to_vec()), "{dir:?}");
            assert_eq!(m[1], Value::Bytes(b"hello".to_vec()), "{dir:?}");
            assert_eq!(m[2], Value::Text("grüße 🦀".into()), "{dir:?}");
        } else {
            assert_eq!(m[1..], expected[..], "{dir:?}: JSON has only text strings");
        }

        // A bare node id addresses our node port, "".
        peer.send_command(json!(["snd", me, "tag", 1]));
        let m = recv(&peer, &mut rx).await;
        assert_eq!(
            text_bytes(&arr(m.clone())),
            arr(msg!["", "tag", 1]),
            "{dir:?} {framing}"
        );
    }
}

/// Messages to a port the peer does not serve are printed as `["recv", SRC, PORT, MSG...]`:
/// what Perl decoded from us, seen from its side.
#[tokio::test]
async fn rust_messages_arrive_in_perl() {
    let Some(_) = require() else { return };
    for (dir, framing) in [
        (Dir::RustConnects, Framing::Json),
        (Dir::PerlConnects, Framing::Cbor),
    ] {
        let me = format!("rust-to-perl-{}", framing.name());
        let rust = rust_config(&me).framings([framing]).unwrap();
        let (mut peer, conn) = establish(dir, &rust, perl("perl-recv")).await;
        let (tx, _rx) = conn.split();
        let body = msg![
            "grüße 🦀",
            u64::MAX,
            i64::MIN + 1,
            0.25,
            (),
            false,
            map(vec![
                ("k", arr(vec![1.into(), Value::Null])),
                ("日本", "v".into())
            ])
        ];
        tx.send_to("nowhere", &body).await.unwrap();
        let event = peer.wait_for(|e| e[0] == "recv").await;
        let expected = json!([
            "recv", me, "nowhere", "grüße 🦀", 18446744073709551615u64, -9223372036854775807i64, 0.25, null, false,
            {"k": [1, null], "日本": "v"}
        ]);
        assert_eq!(event, expected, "{dir:?} {framing}");
    }
}

/// Messages Perl queued for our node before the connection existed go out right after its
/// handshake, possibly in the same reads as the end of the handshake: they must all arrive,
/// in order, before anything sent later.
#[tokio::test]
async fn messages_queued_before_the_connection_arrive_first() {
    let Some(_) = require_tls() else { return };
    let pem = support::certs::self_signed_pem();
    for (tls, framing) in [
        (false, Framing::Cbor),
        (true, Framing::Json),
        (true, Framing::Cbor),
    ] {
        let me = format!("rust-early-{}", framing.name());
        let mut rust = rust_config(&me).framings([framing]).unwrap();
        let mut builder = perl("perl-early");
        if tls {
            rust = rust.cert_pem(&pem).unwrap();
            builder = builder.cert_pem(&pem);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = builder
            .connect(listener.local_addr().unwrap())
            .spawn()
            .await;
        for i in 0..500 {
            peer.send_command(json!(["snd", format!("{me}#early"), i, "q".repeat(i % 50)]));
        }
        // The answer to "count" proves the commands above ran; we have not accepted yet,
        // so the handshake cannot have finished and the messages are queued.
        peer.send_command(json!(["count"]));
        peer.wait_for(|e| e[0] == "count").await;
        assert!(
            !peer.seen().iter().any(|e| e[0] == "up"),
            "{}",
            peer.report()
        );
        let (stream, _) = within(&peer, "the peer's TCP connection", listener.accept())
            .await
            .unwrap();
        let conn = within(&peer, "accept", accept(stream, &rust))
            .await
            .unwrap();
        assert_eq!(conn.info().tls, tls);
        let (tx, mut rx) = conn.split();
        for i in 0..500usize {
            let m = text_bytes(&arr(recv(&peer, &mut rx).await));
            assert_eq!(
                m,
                arr(msg!["early", i, "q".repeat(i % 50)]),
                "tls {tls} {framing} #{i}"
            );
        }
        let back = echo(&peer, (&tx, &mut rx), &me, "late", &msg!["late"]).await;
        assert_eq!(back, msg!["late"], "tls {tls} {framing}");
    }
}

/// The peer's other services answer through the same connection.
#[tokio::test]
async fn perl_node_services_answer() {
    let Some(_) = require() else { return };
    let rust = rust_config("rust-svc");
    let (peer, conn) = establish(Dir::PerlConnects, &rust, perl("perl-svc")).await;
    let (tx, mut rx) = conn.split();
    // An empty message is a keepalive: ignored, and the stream stays in step.
    tx.send(&[]).await.unwrap();
    // rpc: the reply port comes last.
    tx.send_to("rpc", &msg!["a", 1, "rust-svc#rpcreply"])
        .await
        .unwrap();
    assert_eq!(
        text_bytes(&arr(recv(&peer, &mut rx).await)),
        arr(msg!["rpcreply", "a", 1])
    );
    // the node port relays.
    tx.send_to("", &msg!["snd", "rust-svc#relayed", "x", 2])
        .await
        .unwrap();
    assert_eq!(
        text_bytes(&arr(recv(&peer, &mut rx).await)),
        arr(msg!["relayed", "x", 2])
    );
    // lookup of a registered name.
    tx.send_to("", &msg!["lookup", "echo", "rust-svc#lk"])
        .await
        .unwrap();
    assert_eq!(
        text_bytes(&arr(recv(&peer, &mut rx).await)),
        arr(msg!["lk", "perl-svc#echo"])
    );
    // can: 1 for a known node-port request, 0 for an unknown one.
    tx.send_to("", &msg!["can", "lookup", "rust-svc#can"])
        .await
        .unwrap();
    tx.send_to("", &msg!["can", "no-such-request", "rust-svc#can"])
        .await
        .unwrap();
    assert_eq!(
        text_bytes(&arr(recv(&peer, &mut rx).await)),
        arr(msg!["can", 1])
    );
    assert_eq!(
        text_bytes(&arr(recv(&peer, &mut rx).await)),
        arr(msg!["can", 0])
    );
}

// ---------------------------------------------------------------------------------------
// volume and order

/// 10 000 echoes of varying size, sent by a concurrent task while we receive: both ends
/// see split and coalesced reads. Order and content must be exact.
async fn many_echoes(dir: Dir, framing: Framing) {
    const N: usize = 10_000;
    let me = format!("rust-many-{}", framing.name());
    let rust = rust_config(&me).framings([framing]).unwrap();
    let (peer, conn) = establish(dir, &rust, perl("perl-many")).await;
    let (tx, mut rx) = conn.split();
    let payload = |i: usize| {
        msg![
            i,
            "x".repeat(i % 97 * 13),
            arr(vec![(i as i64 * -3).into(), 0.5.into()])
        ]
    };
    let reply_to = format!("{me}#seq");
    let sender = tokio::spawn(async move {
        for i in 0..N {
            let mut body = vec![Value::from(reply_to.as_str())];
            body.extend(payload(i));
            tx.send_to("echo", &body).await?;
        }
        Ok::<Sender, Error>(tx)
    });
    for i in 0..N {
        let m = recv(&peer, &mut rx).await;
        assert_eq!(m[0].as_str(), Some("seq"), "{dir:?} {framing} #{i}");
        assert!(
            m[1..] == payload(i)[..],
            "{dir:?} {framing}: message #{i} is {}",
            show(&m)
        );
    }
    let _tx = sender.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_echoes_in_order_cbor() {
    let Some(_) = require() else { return };
    many_echoes(Dir::RustConnects, Framing::Cbor).await;
    many_echoes(Dir::PerlConnects, Framing::Cbor).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_echoes_in_order_json() {
    let Some(_) = require() else { return };
    many_echoes(Dir::RustConnects, Framing::Json).await;
    many_echoes(Dir::PerlConnects, Framing::Json).await;
}

/// Perl floods us (its messages coalesce in our reads) and we flood its sink (ours coalesce
/// in its reads); both counts must be exact, and the marker sent after the flood comes last.
#[tokio::test]
async fn flood_both_ways_counts_exactly() {
    let Some(_) = require() else { return };
    const N: usize = 10_000;
    for (dir, framing) in [
        (Dir::RustConnects, Framing::Cbor),
        (Dir::PerlConnects, Framing::Json),
    ] {
        let me = format!("rust-flood-{}", framing.name());
        let rust = rust_config(&me).framings([framing]).unwrap();
        let (mut peer, conn) = establish(dir, &rust, perl("perl-flood")).await;
        let (tx, mut rx) = conn.split();

        peer.send_command(json!(["flood", format!("{me}#f"), N, "flood", 1.5, {"k": [1, 2]}]));
        peer.send_command(json!(["snd", format!("{me}#done")]));
        let expected = msg![
            "f",
            "flood",
            1.5,
            map(vec![("k", arr(vec![1.into(), 2.into()]))])
        ];
        for i in 0..N {
            let m = text_bytes(&arr(recv(&peer, &mut rx).await));
            assert_eq!(m, arr(expected.clone()), "{dir:?} {framing} #{i}");
        }
        assert_eq!(
            text_bytes(&arr(recv(&peer, &mut rx).await)),
            arr(msg!["done"]),
            "{dir:?} {framing}"
        );

        for i in 0..N {
            tx.send_to("sink", &msg![i, "s"]).await.unwrap();
        }
        tx.send_to("sink", &msg!["report", format!("{me}#cnt")])
            .await
            .unwrap();
        let m = recv(&peer, &mut rx).await;
        assert_eq!(
            text_bytes(&arr(m)),
            arr(msg!["cnt", "count", N]),
            "{dir:?} {framing}"
        );
        peer.send_command(json!(["count"]));
        assert_eq!(
            peer.wait_for(|e| e[0] == "count").await,
            json!(["count", N]),
            "{dir:?} {framing}"
        );
        peer.drain();
        assert!(
            !peer.seen().iter().any(|e| e[0] == "error"),
            "{}",
            peer.report()
        );
    }
}

/// Single messages far larger than one read.
#[tokio::test]
async fn large_messages_round_trip() {
    let Some(_) = require() else { return };
    let big_text: String = "0123456789abcdef🦀".chars().cycle().take(1 << 20).collect();
    let big_array = arr((0..50_000i64)
        .map(|i| Value::from(i * 7919 - 100_000))
        .collect());
    for (dir, framing) in [
        (Dir::RustConnects, Framing::Json),
        (Dir::PerlConnects, Framing::Cbor),
    ] {
        let me = format!("rust-large-{}", framing.name());
        let rust = rust_config(&me).framings([framing]).unwrap();
        let (peer, conn) = establish(dir, &rust, perl("perl-large")).await;
        let (tx, mut rx) = conn.split();
        let mut payload = msg![big_text.as_str(), big_array.clone()];
        if framing == Framing::Cbor {
            payload.push(Value::Bytes(
                (0..(1 << 20)).map(|i: u32| (i * 31 % 251) as u8).collect(),
            ));
        }
        let back = echo(&peer, (&tx, &mut rx), &me, "big", &payload).await;
        assert!(
            back == payload,
            "{dir:?} {framing}: a large message came back different"
        );
        // and the connection is still in step afterwards
        let back = echo(&peer, (&tx, &mut rx), &me, "small", &msg!["after"]).await;
        assert_eq!(back, msg!["after"], "{dir:?} {framing}");
    }
}

// ---------------------------------------------------------------------------------------
// closing

/// We close: Perl reports the node down, and closes its end (we read a clean EOF).
/// Perl quits: we read a clean EOF.
#[tokio::test]
async fn close_is_seen_on_both_sides() {
    let Some(_) = require() else { return };
    for dir in BOTH {
        let rust = rust_config("rust-close");
        let (mut peer, conn) = establish(dir, &rust, perl("perl-close")).await;
        let (tx, mut rx) = conn.split();
        within(&peer, "close", tx.close()).await.unwrap();
        let down = peer.wait_for(|e| e[0] == "down").await;
        assert_eq!(down[1], "rust-close", "{dir:?}: {down}");
        assert!(
            down[2].as_str().is_some_and(|r| !r.is_empty()),
            "{dir:?}: {down}"
        );
        let end = within(&peer, "EOF", rx.recv()).await;
        assert!(matches!(end, Ok(None)), "{dir:?}: {end:?}");

        let (mut peer, conn) = establish(dir, &rust, perl("perl-quit")).await;
        let (_tx, mut rx) = conn.split();
        peer.send_command(json!(["quit"]));
        // The transport Perl dialled is destroyed at global destruction, after its node is
        // gone, so the script's HOOK_DESTROY may still print "closed" on the way out.
        let rest = peer.wait_exit().await;
        assert!(
            rest.iter()
                .all(|e| *e == json!(["closed", "rust-close", "127.0.0.1"])),
            "{dir:?}: {rest:?}"
        );
        let end = within(&peer, "EOF", rx.recv()).await;
        assert!(matches!(end, Ok(None)), "{dir:?}: {end:?}");
    }
}
