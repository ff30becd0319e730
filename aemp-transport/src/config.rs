//! [`Config`]: what one side of a connection needs to know.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::DEFAULT_MAX_MESSAGE_SIZE;
use crate::handshake::tls::TlsIdentity;
use crate::{AuthMethod, Error, Framing};

/// The default `monitor_timeout` of AnyEvent::MP: 30 seconds.
pub const DEFAULT_MONITOR_TIMEOUT: Duration = Duration::from_secs(30);

/// The default limit of bytes queued in a [`crate::Sender`] before `send` waits: 8 MiB.
pub const DEFAULT_SEND_BUFFER_LIMIT: usize = 8 << 20;

type ConnectedHook = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The settings of one side of an AEMP connection.
///
/// ```
/// use std::time::Duration;
/// use aemp_transport::{Config, Framing};
/// let config = Config::new("web1")?
///     .secret("s3cr3t")
///     .framings([Framing::Json, Framing::Cbor])?
///     .monitor_timeout(Duration::from_secs(5));
/// assert_eq!(config.node_id(), "web1");
/// assert!(Config::new("bad#id").is_err());
/// # Ok::<(), aemp_transport::Error>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) node_id: String,
    pub(crate) secret: Option<String>,
    pub(crate) tls: Option<TlsIdentity>,
    pub(crate) framings: Vec<Framing>,
    pub(crate) auth_offer: Vec<AuthMethod>,
    pub(crate) auth_accept: Vec<AuthMethod>,
    pub(crate) monitor_timeout: Duration,
    pub(crate) nodelay: bool,
    pub(crate) protocol: String,
    pub(crate) extra_keys: Vec<(String, Option<String>)>,
    pub(crate) already_connected: Option<ConnectedHook>,
    pub(crate) max_message_size: usize,
    pub(crate) send_buffer_limit: usize,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("node_id", &self.node_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls.is_some())
            .field("framings", &self.framings)
            .field("auth_offer", &self.auth_offer)
            .field("auth_accept", &self.auth_accept)
            .field("monitor_timeout", &self.monitor_timeout)
            .field("protocol", &self.protocol)
            .field("extra_keys", &self.extra_keys)
            .finish_non_exhaustive()
    }
}

/// Checks a node id: non-empty, without `#` (it splits port ids), `;` (it splits the
/// greeting) or line breaks.
///
/// ```
/// assert!(aemp_transport::check_node_id("anon/7Hq2zK1bQx").is_ok());
/// assert!(aemp_transport::check_node_id("a;b").is_err());
/// ```
pub fn check_node_id(id: &str) -> Result<(), Error> {
    let bad = |reason: String| {
        Err(Error::Config {
            what: "node id",
            reason,
        })
    };
    if id.is_empty() {
        return bad("must not be empty".into());
    }
    if let Some(c) = id.chars().find(|c| matches!(c, '#' | ';' | '\n' | '\r')) {
        return bad(format!(
            "{id:?} contains {c:?}, which the protocol uses as a separator"
        ));
    }
    Ok(())
}

impl Config {
    /// A configuration for node `node_id` with AnyEvent::MP 2.x's defaults: framings
    /// `cbor,json`, auth offer `tls_sha3_512,hmac_sha3_512`, accept
    /// `tls_sha3_512,hmac_sha3_512,tls_anon,cleartext`, `monitor_timeout` 30 s, TCP_NODELAY on.
    /// Without [`Config::secret`] or [`Config::cert_pem`] no connection can authenticate.
    pub fn new(node_id: impl Into<String>) -> Result<Config, Error> {
        let node_id = node_id.into();
        check_node_id(&node_id)?;
        Ok(Config {
            node_id,
            secret: None,
            tls: None,
            framings: vec![Framing::Cbor, Framing::Json],
            auth_offer: AuthMethod::DEFAULT_OFFER.to_vec(),
            auth_accept: AuthMethod::DEFAULT_ACCEPT.to_vec(),
            monitor_timeout: DEFAULT_MONITOR_TIMEOUT,
            nodelay: true,
            protocol: crate::PROTOCOL.to_owned(),
            extra_keys: Vec::new(),
            already_connected: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            send_buffer_limit: DEFAULT_SEND_BUFFER_LIMIT,
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The shared secret (`hmac_sha3_512`).
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        self.secret = (!secret.is_empty()).then_some(secret);
        self
    }

    /// The certificate: a PEM holding the private key and the certificate(s), which are also
    /// the trust roots (AnyEvent::MP's `cert`). Enables TLS (`tls=1.0` in the greeting).
    pub fn cert_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, Error> {
        self.tls = Some(TlsIdentity::from_pem(pem.as_ref())?);
        Ok(self)
    }

    /// Whether a certificate is configured.
    pub fn has_cert(&self) -> bool {
        self.tls.is_some()
    }

    /// The framings we accept and prefer, in order (AnyEvent::MP's `framing_format`).
    pub fn framings(mut self, framings: impl IntoIterator<Item = Framing>) -> Result<Self, Error> {
        let list: Vec<Framing> = framings.into_iter().collect();
        if list.is_empty() {
            return Err(Error::Config {
                what: "framings",
                reason: "the list is empty".into(),
            });
        }
        self.framings = list;
        Ok(self)
    }

    /// The auth methods we send, in order (`auth_offer`). `cleartext` is never sent.
    pub fn auth_offer(
        mut self,
        methods: impl IntoIterator<Item = AuthMethod>,
    ) -> Result<Self, Error> {
        let list: Vec<AuthMethod> = methods.into_iter().collect();
        if list.contains(&AuthMethod::Cleartext) {
            return Err(Error::Config {
                what: "auth_offer",
                reason: "cleartext is accepted, never sent (it would reveal the secret)".into(),
            });
        }
        if list.is_empty() {
            return Err(Error::Config {
                what: "auth_offer",
                reason: "the list is empty".into(),
            });
        }
        self.auth_offer = list;
        Ok(self)
    }

    /// The auth methods we accept (`auth_accept`), advertised in the greeting and enforced:
    /// a peer that authenticates with any other method is refused.
    pub fn auth_accept(
        mut self,
        methods: impl IntoIterator<Item = AuthMethod>,
    ) -> Result<Self, Error> {
        let list: Vec<AuthMethod> = methods.into_iter().collect();
        if list.is_empty() {
            return Err(Error::Config {
                what: "auth_accept",
                reason: "the list is empty".into(),
            });
        }
        self.auth_accept = list;
        Ok(self)
    }

    /// The limit of the whole handshake (`monitor_timeout`).
    pub fn monitor_timeout(mut self, timeout: Duration) -> Self {
        self.monitor_timeout = timeout;
        self
    }

    /// The configured `monitor_timeout`.
    pub fn monitor_timeout_value(&self) -> Duration {
        self.monitor_timeout
    }

    /// TCP_NODELAY on connections we make or accept (default on).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// An extra `KEY=VALUE` in our greeting (AnyEvent::MP sends `mproto=1`, `gproto=1`).
    /// Values are escaped; keys must not contain `;` or `=`.
    pub fn greeting_key(
        mut self,
        key: impl Into<String>,
        value: Option<String>,
    ) -> Result<Self, Error> {
        let key = key.into();
        if key.is_empty() || key.contains([';', '=', '\n', '\r']) {
            return Err(Error::Config {
                what: "greeting key",
                reason: format!("invalid key {key:?}"),
            });
        }
        if value.as_deref().is_some_and(|v| v.contains(['\n', '\r'])) {
            return Err(Error::Config {
                what: "greeting key",
                reason: format!("value of {key} contains a line break"),
            });
        }
        self.extra_keys.retain(|(k, _)| *k != key);
        self.extra_keys.push((key, value));
        Ok(self)
    }

    /// The protocol we greet with: `aemp` (default) or a sub-protocol `aemp-WORD`.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Result<Self, Error> {
        let protocol = protocol.into();
        if protocol != crate::PROTOCOL && !crate::handshake::is_sub_protocol(&protocol) {
            return Err(Error::Config {
                what: "protocol",
                reason: format!("{protocol:?} is not aemp or aemp-WORD"),
            });
        }
        self.protocol = protocol;
        Ok(self)
    }

    /// The hook that tells whether a node is already connected: the handshake refuses such
    /// a peer, as AnyEvent::MP does ("already connected, not connecting again.").
    pub fn already_connected(
        mut self,
        hook: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.already_connected = Some(Arc::new(hook));
        self
    }

    /// The largest message accepted from the peer (default 64 MiB); a larger one ends the
    /// connection with an error.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How many encoded bytes may wait in the send buffer before `send` waits (default 8 MiB).
    pub fn send_buffer_limit(mut self, bytes: usize) -> Self {
        self.send_buffer_limit = bytes.max(1);
        self
    }
}

/// A node id like AnyEvent::MP's `%n/%u` expansion: `prefix/` followed by 10 random
/// characters of `[0-9A-Za-z]`, the last one uppercase (so that it never clashes with a
/// generated port name).
///
/// ```
/// let id = aemp_transport::random_node_id("aemp/host");
/// assert!(id.starts_with("aemp/host/") && id.len() == "aemp/host/".len() + 10);
/// assert!(aemp_transport::check_node_id(&id).is_ok());
/// ```
pub fn random_node_id(prefix: &str) -> String {
    format!("{}/{}", prefix.trim_end_matches('/'), random_node_suffix())
}

/// Ten random characters of `[0-9A-Za-z]`, the last one uppercase: AnyEvent::MP's `%u` in
/// node id templates (and what [`random_node_id`] appends).
///
/// ```
/// let u = aemp_transport::random_node_suffix();
/// assert_eq!(u.len(), 10);
/// assert!(u.ends_with(|c: char| c.is_ascii_uppercase()));
/// ```
pub fn random_node_suffix() -> String {
    random_alnum(10, true)
}

/// `len` random characters of `[0-9A-Za-z]`; with `upper_last`, the last one is uppercase.
pub(crate) fn random_alnum(len: usize, upper_last: bool) -> String {
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; len];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source failed");
    let mut s: String = bytes
        .iter()
        .map(|b| char::from(ALNUM[usize::from(*b) % ALNUM.len()]))
        .collect();
    if upper_last {
        if let Some(last) = s.pop() {
            let c = if last.is_ascii_digit() {
                char::from(b'A' + (last as u8 - b'0'))
            } else {
                last.to_ascii_uppercase()
            };
            s.push(c);
        }
    }
    s
}
