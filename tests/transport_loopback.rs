//! Two Rust ends of one AEMP connection over real TCP on 127.0.0.1.

mod support;

use aemp_transport::{accept, connect, msg, AuthMethod, Config, Error, Framing, Value};
use tokio::net::TcpListener;

async fn pair(
    a: Config,
    b: Config,
) -> (
    Result<aemp_transport::Connection, Error>,
    Result<aemp_transport::Connection, Error>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream, &b).await
    });
    let client = connect(addr, &a).await;
    (client, server.await.unwrap())
}

#[tokio::test]
async fn hmac_handshake_and_messages_both_ways() {
    let a = Config::new("a").unwrap().secret("s");
    let b = Config::new("b")
        .unwrap()
        .secret("s")
        .framings([Framing::Json, Framing::Cbor])
        .unwrap();
    let (ca, cb) = pair(a, b).await;
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    assert_eq!(ca.info().node_id, "b");
    assert_eq!(cb.info().node_id, "a");
    assert_eq!(ca.info().send_framing, Framing::Json);
    assert_eq!(cb.info().send_framing, Framing::Cbor);
    assert_eq!(ca.info().peer_auth, AuthMethod::HmacSha3_512);
    assert!(!ca.info().tls && ca.info().trusted);
    let (ta, mut ra) = ca.split();
    let (tb, mut rb) = cb.split();
    ta.send_to("p", &msg!["hello", 1, 2.5, Value::Null])
        .await
        .unwrap();
    assert_eq!(
        rb.recv().await.unwrap().unwrap(),
        msg!["p", "hello", 1, 2.5, Value::Null]
    );
    tb.send(&msg!["q", Value::Bytes(vec![0, 255])])
        .await
        .unwrap();
    assert_eq!(
        ra.recv().await.unwrap().unwrap(),
        msg!["q", Value::Bytes(vec![0, 255])]
    );
    drop(ta);
    assert!(rb.recv().await.unwrap().is_none());
}

#[tokio::test]
async fn tls_handshake_with_shared_certificate() {
    let pem = support::certs::self_signed_pem();
    let a = Config::new("a").unwrap().cert_pem(&pem).unwrap();
    let b = Config::new("b").unwrap().cert_pem(&pem).unwrap();
    let (ca, cb) = pair(a, b).await;
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    assert!(ca.info().tls && cb.info().tls);
    assert_eq!(ca.info().peer_auth, AuthMethod::TlsSha3_512);
    let (ta, _ra) = ca.split();
    let (_tb, mut rb) = cb.split();
    for i in 0..1000 {
        ta.send_to("p", &msg![i]).await.unwrap();
    }
    for i in 0..1000 {
        assert_eq!(rb.recv().await.unwrap().unwrap(), msg!["p", i]);
    }
}

#[tokio::test]
async fn wrong_secret_is_refused_on_both_sides() {
    let (ca, cb) = pair(
        Config::new("a").unwrap().secret("x"),
        Config::new("b").unwrap().secret("y"),
    )
    .await;
    assert!(matches!(ca, Err(Error::AuthFailed)), "{ca:?}");
    assert!(matches!(cb, Err(Error::AuthFailed)), "{cb:?}");
}
