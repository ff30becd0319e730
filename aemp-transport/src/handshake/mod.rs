//! The handshake: greeting, optional TLS, authentication. Symmetric: both sides run the same
//! steps, whoever dialled.

pub(crate) mod auth;
pub(crate) mod greeting;
mod lines;
pub(crate) mod tls;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use self::auth::{hmac_sha3_512_hex, sha3_512_hex, tokens_equal, truncate, AuthLine};
use self::greeting::{Greeting, PROTOCOL, PROTOCOL_VERSION};
use self::lines::LineReader;
use crate::connection::{Connection, PeerInfo};
use crate::stream::{BoxRead, BoxWrite, Prefixed, Transportable};
use crate::{AuthMethod, Config, Error, Framing};

/// The nonce length in bytes, as AnyEvent::MP sends it (88 base64 characters).
pub(crate) const NONCE_BYTES: usize = 66;

/// Whether `p` names a sub-protocol: `aemp-` and a Perl `\w+` word.
pub(crate) fn is_sub_protocol(p: &str) -> bool {
    p.strip_prefix("aemp-")
        .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Connects to `addr` and runs the handshake; `monitor_timeout` bounds both.
///
/// ```no_run
/// # async fn demo() -> Result<(), aemp_transport::Error> {
/// use aemp_transport::{connect, msg, Config};
/// let config = Config::new("client")?.secret("s3cr3t");
/// let conn = connect("127.0.0.1:4040", &config).await?;
/// println!("connected to {}", conn.info().node_id);
/// let (tx, mut rx) = conn.split();
/// tx.send(&msg!["", "devnull"]).await?;
/// # Ok(()) }
/// ```
pub async fn connect<A: ToSocketAddrs + std::fmt::Display>(
    addr: A,
    config: &Config,
) -> Result<Connection, Error> {
    let started = Instant::now();
    let addr_text = addr.to_string();
    let stream = tokio::time::timeout(config.monitor_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::HandshakeTimeout {
            after: config.monitor_timeout,
            during: "TCP connection",
        })?
        .map_err(|source| Error::Connect {
            addr: addr_text.clone(),
            source,
        })?;
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(config.nodelay);
    let remaining = config.monitor_timeout.saturating_sub(started.elapsed());
    handshake_within(stream, config, peer, remaining, started).await
}

/// Runs the handshake on an accepted TCP connection.
pub async fn accept(stream: TcpStream, config: &Config) -> Result<Connection, Error> {
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(config.nodelay);
    handshake(stream, config, peer).await
}

/// Runs the handshake on any stream (`peer_addr` goes into our greeting's `peeraddr`).
pub async fn handshake<S: Transportable>(
    stream: S,
    config: &Config,
    peer_addr: Option<SocketAddr>,
) -> Result<Connection, Error> {
    handshake_within(
        stream,
        config,
        peer_addr,
        config.monitor_timeout,
        Instant::now(),
    )
    .await
}

async fn handshake_within<S: Transportable>(
    stream: S,
    config: &Config,
    peer_addr: Option<SocketAddr>,
    limit: Duration,
    started: Instant,
) -> Result<Connection, Error> {
    use tracing::field::Empty;
    use tracing::Instrument;
    // One span per handshake: who, how it authenticated and framed, how long it took, and
    // why it failed. (Free when no subscriber wants it.)
    let span = tracing::info_span!(
        "aemp.handshake",
        peer = ?peer_addr,
        node = Empty,
        auth = Empty,
        framing = Empty,
        tls = Empty,
        duration_ms = Empty,
        error = Empty,
    );
    let mut phase = "greeting line";
    let result =
        match tokio::time::timeout(limit, run(stream, config, peer_addr, &mut phase, started))
            .instrument(span.clone())
            .await
        {
            Ok(result) => result,
            Err(_) => Err(Error::HandshakeTimeout {
                after: config.monitor_timeout,
                during: phase,
            }),
        };
    if !span.is_disabled() {
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1000.0);
        match &result {
            Ok(conn) => {
                let info = conn.info();
                span.record("node", info.node_id.as_str());
                span.record("auth", info.send_auth.name());
                span.record("framing", info.send_framing.name());
                span.record("tls", info.tls);
            }
            Err(e) => {
                span.record("error", tracing::field::display(e));
            }
        }
    }
    result
}

fn nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    // The OS random source failing is not recoverable.
    getrandom::getrandom(&mut bytes).expect("the operating system's random source failed");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Our first greeting line.
pub(crate) fn local_greeting(config: &Config, peer_addr: Option<SocketAddr>) -> Greeting {
    let mut keys = Vec::new();
    if config.tls.is_some() {
        keys.push(("tls".to_owned(), Some("1.0".to_owned())));
    }
    keys.push((
        "provider".to_owned(),
        Some(format!("aemp-{}", env!("CARGO_PKG_VERSION"))),
    ));
    if let Some(addr) = peer_addr {
        keys.push(("peeraddr".to_owned(), Some(addr.to_string())));
    }
    keys.extend(config.extra_keys.iter().cloned());
    Greeting {
        protocol: config.protocol.clone(),
        version: PROTOCOL_VERSION.to_string(),
        node_id: config.node_id.clone(),
        auths: config
            .auth_accept
            .iter()
            .map(|a| a.name().to_owned())
            .collect(),
        framings: config
            .framings
            .iter()
            .map(|f| f.name().to_owned())
            .collect(),
        keys,
    }
}

/// The checks on the peer's first line, in the order AnyEvent::MP makes them. Returns the
/// protocol of the connection (ours, or the peer's `aemp-WORD` sub-protocol).
pub(crate) fn check_greeting(config: &Config, remote: &Greeting) -> Result<String, Error> {
    let mut protocol = config.protocol.clone();
    if protocol == PROTOCOL && is_sub_protocol(&remote.protocol) {
        protocol = remote.protocol.clone();
    }
    if remote.protocol != protocol && remote.protocol != PROTOCOL {
        return Err(Error::ProtocolMismatch {
            expected: protocol,
            got: truncate(&remote.protocol),
        });
    }
    if remote.version_number() != f64::from(PROTOCOL_VERSION) {
        return Err(Error::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: truncate(&remote.version),
        });
    }
    if protocol == PROTOCOL {
        if let Err(e) = crate::check_node_id(&remote.node_id) {
            let reason = match e {
                Error::Config { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(Error::InvalidNodeId {
                node: truncate(&remote.node_id),
                reason,
            });
        }
        if remote.node_id == config.node_id {
            return Err(Error::TalkingToMyself {
                node: remote.node_id.clone(),
            });
        }
        if config
            .already_connected
            .as_ref()
            .is_some_and(|hook| hook(&remote.node_id))
        {
            return Err(Error::AlreadyConnected {
                node: remote.node_id.clone(),
            });
        }
    }
    Ok(protocol)
}

/// The auth method we send: the first of the peer's accept list that we offer (`tls_*` only
/// when TLS is up).
pub(crate) fn choose_auth(
    config: &Config,
    remote: &Greeting,
    tls: bool,
) -> Result<AuthMethod, Error> {
    remote
        .auths
        .iter()
        .filter_map(|a| AuthMethod::from_name(a))
        .find(|a| config.auth_offer.contains(a) && (!a.needs_tls() || tls))
        .ok_or_else(|| Error::NoCommonAuth {
            theirs: remote.auths.join(","),
            ours: names(&config.auth_offer),
        })
}

/// The framing we send in: the first of the peer's list that we support.
pub(crate) fn choose_framing(config: &Config, remote: &Greeting) -> Result<Framing, Error> {
    remote
        .framings
        .iter()
        .filter_map(|f| Framing::from_name(f))
        .find(|f| config.framings.contains(f))
        .ok_or_else(|| Error::NoCommonFraming {
            theirs: remote.framings.join(","),
            ours: config
                .framings
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(","),
        })
}

fn names(methods: &[AuthMethod]) -> String {
    methods
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// The token we send with `method`. `lines` are (local line 1, local nonce, remote line 1,
/// remote nonce).
pub(crate) fn local_token(
    config: &Config,
    method: AuthMethod,
    tls: bool,
    lines: [&str; 4],
) -> Result<String, Error> {
    let (local, remote) = ((lines[0], lines[1]), (lines[2], lines[3]));
    if tls {
        match method {
            AuthMethod::TlsAnon => Ok(String::new()),
            AuthMethod::TlsSha3_512 => Ok(sha3_512_hex(local, remote)),
            other => Err(Error::UnsupportedSendAuth {
                method: other.name().to_owned(),
            }),
        }
    } else if let Some(secret) = &config.secret {
        match method {
            AuthMethod::HmacSha3_512 => Ok(hmac_sha3_512_hex(secret.as_bytes(), local, remote)),
            other => Err(Error::UnsupportedSendAuth {
                method: other.name().to_owned(),
            }),
        }
    } else {
        Err(Error::NoCredentials)
    }
}

/// Checks the peer's auth line; returns the method it used and the framing it sends in.
pub(crate) fn verify_peer(
    config: &Config,
    line: &AuthLine,
    tls: bool,
    lines: [&str; 4],
) -> Result<(AuthMethod, Framing), Error> {
    let (local, remote) = ((lines[0], lines[1]), (lines[2], lines[3]));
    let method =
        AuthMethod::from_name(&line.method).ok_or_else(|| Error::UnsupportedReceiveAuth {
            method: truncate(&line.method),
        })?;
    if !config.auth_accept.contains(&method) {
        return Err(Error::AuthNotAccepted {
            method: method.name().to_owned(),
            accepted: names(&config.auth_accept),
        });
    }
    let secret = config.secret.as_deref().map(str::as_bytes);
    let expected = match method {
        AuthMethod::HmacSha3_512 => secret.map(|s| hmac_sha3_512_hex(s, remote, local)),
        AuthMethod::Cleartext => secret.map(hex::encode),
        AuthMethod::TlsAnon => tls.then(String::new),
        AuthMethod::TlsSha3_512 => tls.then(|| sha3_512_hex(remote, local)),
    };
    match expected {
        Some(expected) if tokens_equal(&expected, &line.token) => {}
        _ => return Err(Error::AuthFailed),
    }
    let framing = Framing::from_name(&line.framing).ok_or_else(|| Error::UnsupportedFraming {
        framing: truncate(&line.framing),
    })?;
    Ok((method, framing))
}

async fn run<S: Transportable>(
    mut stream: S,
    config: &Config,
    peer_addr: Option<SocketAddr>,
    phase: &mut &'static str,
    started: Instant,
) -> Result<Connection, Error> {
    let local = local_greeting(config, peer_addr);
    let (lg1, lg2) = (local.to_line(), nonce());
    stream
        .write_all(format!("{lg1}\n{lg2}\n").as_bytes())
        .await
        .map_err(Error::io("greeting line"))?;

    let mut reader = LineReader::new(stream);
    let rg1 = reader.read_line("greeting line").await?;
    let remote = Greeting::parse(&rg1)?;
    let protocol = check_greeting(config, &remote)?;

    *phase = "nonce line";
    let rg2 = reader.read_line("nonce line").await?;
    if lg1 == rg1 && lg2 == rg2 {
        return Err(Error::EchoAttack);
    }
    // The protocol document: a peer whose nonce equals ours must be refused (Perl's code
    // only catches a fully echoed greeting, above).
    if lg2 == rg2 {
        return Err(Error::SameNonce);
    }

    let tls = config.tls.is_some() && remote.wants_tls();
    let send_auth = choose_auth(config, &remote, tls)?;
    let send_framing = choose_framing(config, &remote)?;
    let lines = [lg1.as_str(), lg2.as_str(), rg1.as_str(), rg2.as_str()];
    let token = local_token(config, send_auth, tls, lines)?;
    let auth_line = format!("{};{};{}\n", send_auth.name(), token, send_framing.name());

    let (stream, leftover) = reader.into_parts();
    let (peer_auth, recv_framing, halves, leftover) =
        if let Some(identity) = config.tls.as_ref().filter(|_| tls) {
            *phase = "TLS handshake";
            // The side with the lower nonce line is the client, compared as Perl's `lt` does:
            // bytewise on the base64 text.
            let prefixed = Prefixed::new(leftover, stream);
            if lg2 < rg2 {
                let name = ServerName::try_from(tls::SERVER_NAME).expect("a valid DNS name");
                let tls_stream = TlsConnector::from(identity.client.clone())
                    .connect(name, prefixed)
                    .await
                    .map_err(Error::Tls)?;
                authenticate(tls_stream, config, &auth_line, tls, lines, phase).await?
            } else {
                let tls_stream = TlsAcceptor::from(identity.server.clone())
                    .accept(prefixed)
                    .await
                    .map_err(Error::Tls)?;
                authenticate(tls_stream, config, &auth_line, tls, lines, phase).await?
            }
        } else {
            authenticate_plain(stream, leftover, config, &auth_line, lines, phase).await?
        };

    let info = PeerInfo {
        node_id: remote.node_id.clone(),
        protocol,
        greeting: remote,
        local_greeting: local,
        peer_addr,
        send_framing,
        recv_framing,
        send_auth,
        peer_auth,
        tls,
        trusted: peer_auth != AuthMethod::TlsAnon,
        handshake_time: started.elapsed(),
    };
    Ok(Connection::new(info, halves, leftover, config))
}

type Authenticated = (AuthMethod, Framing, (BoxRead, BoxWrite), bytes::BytesMut);

async fn authenticate<S: Transportable>(
    mut stream: S,
    config: &Config,
    auth_line: &str,
    tls: bool,
    lines: [&str; 4],
    phase: &mut &'static str,
) -> Result<Authenticated, Error> {
    *phase = "auth line";
    stream
        .write_all(auth_line.as_bytes())
        .await
        .map_err(Error::io("auth line"))?;
    stream.flush().await.map_err(Error::io("auth line"))?;
    let mut reader = LineReader::new(stream);
    let line = AuthLine::parse(&reader.read_line("auth line").await?)?;
    let (method, framing) = verify_peer(config, &line, tls, lines)?;
    let (stream, leftover) = reader.into_parts();
    Ok((method, framing, stream.split_halves(), leftover))
}

async fn authenticate_plain<S: Transportable>(
    stream: S,
    leftover: bytes::BytesMut,
    config: &Config,
    auth_line: &str,
    lines: [&str; 4],
    phase: &mut &'static str,
) -> Result<Authenticated, Error> {
    *phase = "auth line";
    let mut reader = LineReader::with_buffer(stream, leftover);
    reader
        .stream
        .write_all(auth_line.as_bytes())
        .await
        .map_err(Error::io("auth line"))?;
    let line = AuthLine::parse(&reader.read_line("auth line").await?)?;
    let (method, framing) = verify_peer(config, &line, false, lines)?;
    let (stream, leftover) = reader.into_parts();
    Ok((method, framing, stream.split_halves(), leftover))
}
