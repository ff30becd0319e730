//! Configuration profiles: AnyEvent::MP's rc file, shared with Perl nodes and `aemp`.
//!
//! The file is `$AEMP_RC`, else `$PERL_ANYEVENT_MP_RC`, else `~/.perl-anyevent-mp`: relaxed
//! JSON (as JSON::XS's relaxed mode reads it: `#` comments, trailing commas) of the form
//!
//! ```text
//! { "version" : 1, "secret" : "...",
//!   "profile" : { "web" : { "binds" : ["127.0.0.1:4040"], "parent" : "base" } } }
//! ```
//!
//! Global keys apply to every profile; a profile may name a `parent` profile. The effective
//! settings of a profile merge, later winning (AnyEvent::MP 2.x): the built-in defaults, the
//! caller's arguments, the global keys, the parent chain (farthest ancestor first), the
//! profile itself. A profile that does not exist is empty, as in Perl.
//!
//! ```
//! use aemp_actor::profile::RcFile;
//! let rc = RcFile::parse(
//!     "/tmp/example-rc",
//!     r#"{ "version": 1, "secret": "s",   # global
//!          "profile": { "base": { "binds": ["*:4040"] },
//!                       "web":  { "parent": "base", "seeds": ["db1:4040",], }, }, }"#,
//! )
//! .unwrap();
//! let web = rc.profile_settings("web").unwrap();
//! assert_eq!(web.secret.as_deref(), Some("s"));
//! assert_eq!(web.binds, Some(vec!["*:4040".to_owned()]));
//! assert_eq!(web.seeds, vec!["db1:4040".to_owned()]);
//! ```

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use aemp_transport::{AuthMethod, Framing, Value};

use crate::{Error, NodeBuilder};

/// The environment variable naming the rc file (checked first).
pub const RC_ENV: &str = "AEMP_RC";
/// AnyEvent::MP's environment variable naming the rc file (checked second).
pub const PERL_RC_ENV: &str = "PERL_ANYEVENT_MP_RC";
/// The rc file's name in the home directory.
pub const RC_FILE_NAME: &str = ".perl-anyevent-mp";
/// The deepest nesting the rc file may have.
const MAX_DEPTH: usize = 512;

/// What can go wrong with the rc file or a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Neither `AEMP_RC`, `PERL_ANYEVENT_MP_RC`, `HOME` nor `APPDATA` is set.
    #[error("cannot locate the configuration file: set AEMP_RC (or HOME)")]
    NoPath,
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not (relaxed) JSON.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line of the problem (from 1).
        line: usize,
        /// The column of the problem (from 1, in characters).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file is JSON but not of the rc file's shape.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Saving failed (the old file is left as it was).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The `parent` keys form a loop.
    #[error("the profile parents form a loop: {}", chain.join(" -> "))]
    ParentLoop {
        /// The profiles of the loop, the first repeated at the end.
        chain: Vec<String>,
    },
    /// A setting has a value of the wrong kind.
    #[error("{key}: {message}")]
    Value {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A JSON syntax error, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The line (from 1).
    pub line: usize,
    /// The column (from 1, in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for JsonError {}

/// The rc file: its path and contents. Obtained only by reading a well-formed file (or
/// finding none), so [`RcFile::save`] never replaces a file it could not understand.
#[derive(Debug, Clone)]
pub struct RcFile {
    path: PathBuf,
    root: Vec<(Value, Value)>,
    modified: bool,
}

/// The rc file's path: `$AEMP_RC`, else `$PERL_ANYEVENT_MP_RC`, else `~/.perl-anyevent-mp`
/// (else `%APPDATA%/perl-anyevent-mp`). Empty variables count as unset.
pub fn rc_path() -> Result<PathBuf, ProfileError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(p) = var(RC_ENV).or_else(|| var(PERL_RC_ENV)) {
        return Ok(PathBuf::from(p));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home).join(RC_FILE_NAME));
    }
    if let Some(appdata) = var("APPDATA") {
        return Ok(PathBuf::from(appdata).join("perl-anyevent-mp"));
    }
    Err(ProfileError::NoPath)
}

impl RcFile {
    /// An empty rc file (`{"version":1}`) at `path`, not yet written.
    pub fn new(path: impl Into<PathBuf>) -> RcFile {
        RcFile {
            path: path.into(),
            root: vec![(Value::from("version"), Value::from(1))],
            modified: false,
        }
    }

    /// Reads the rc file at [`rc_path`]; a missing file reads as empty.
    pub fn load() -> Result<RcFile, ProfileError> {
        RcFile::load_from(rc_path()?)
    }

    /// Reads the rc file at `path`; a missing file reads as empty.
    pub fn load_from(path: impl Into<PathBuf>) -> Result<RcFile, ProfileError> {
        let path = path.into();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RcFile::new(path)),
            Err(source) => return Err(ProfileError::Read { path, source }),
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                // The valid prefix is text: the position is where it ends.
                let prefix = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                let (line, column) = position(prefix, prefix.len());
                return Err(ProfileError::Syntax {
                    path,
                    line,
                    column,
                    message: "invalid UTF-8".into(),
                });
            }
        };
        RcFile::parse(path, text)
    }

    /// Reads rc file text; `path` is where [`RcFile::save`] will write it.
    pub fn parse(path: impl Into<PathBuf>, text: &str) -> Result<RcFile, ProfileError> {
        let path = path.into();
        let root = match parse_json(text) {
            Ok(Value::Map(m)) => m,
            Ok(other) => {
                return Err(ProfileError::Invalid {
                    path,
                    message: format!("the top level must be an object, not {}", other.kind()),
                })
            }
            Err(e) => {
                return Err(ProfileError::Syntax {
                    path,
                    line: e.line,
                    column: e.column,
                    message: e.message,
                })
            }
        };
        if let Some(profiles) = map_get(&root, "profile") {
            let Value::Map(profiles) = profiles else {
                return Err(ProfileError::Invalid {
                    path,
                    message: format!("\"profile\" must be an object, not {}", profiles.kind()),
                });
            };
            for (name, p) in profiles {
                if !matches!(p, Value::Map(_)) {
                    return Err(ProfileError::Invalid {
                        path,
                        message: format!("profile {name} must be an object, not {}", p.kind()),
                    });
                }
            }
        }
        Ok(RcFile {
            path,
            root,
            modified: false,
        })
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a setter changed anything since it was read or saved.
    pub fn is_modified(&self) -> bool {
        self.modified
    }

    /// The file's text as [`RcFile::save`] writes it (JSON::XS's pretty style).
    pub fn to_text(&self) -> String {
        let mut s = to_json(&Value::Map(self.root.clone()), true);
        s.push('\n');
        s
    }

    /// Writes the file atomically, as AnyEvent::MP does: to `PATH~new~`, then the old file
    /// is kept as the hard link `PATH~`, then `PATH~new~` is renamed over `PATH`. A new file
    /// is created readable by its owner only (it holds the secret).
    pub fn save(&mut self) -> Result<(), ProfileError> {
        let write_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ProfileError::Write { path, source }
        };
        let new = suffixed(&self.path, "~new~");
        let old = suffixed(&self.path, "~");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let mode = std::fs::metadata(&self.path).map_or(0o600, |m| m.permissions().mode());
            options.mode(mode & 0o7777);
        }
        let mut file = options.open(&new).map_err(write_err(&new))?;
        let written = file
            .write_all(self.to_text().as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&new);
            return Err(write_err(&new)(e));
        }
        drop(file);
        let _ = std::fs::remove_file(&old);
        let _ = std::fs::hard_link(&self.path, &old);
        if let Err(e) = std::fs::rename(&new, &self.path) {
            let _ = std::fs::remove_file(&new);
            return Err(write_err(&self.path)(e));
        }
        self.modified = false;
        Ok(())
    }

    /// The value of `key` in `scope` (`None`: the global keys; `Some(name)`: that profile).
    pub fn get(&self, scope: Option<&str>, key: &str) -> Option<&Value> {
        map_get(self.scope(scope)?, key)
    }

    /// Sets `key` in `scope`, creating the profile if needed.
    pub fn set(&mut self, scope: Option<&str>, key: &str, value: impl Into<Value>) {
        map_set(self.scope_mut(scope), key, value.into());
        self.modified = true;
    }

    /// Removes `key` from `scope` (it is inherited again) and returns its value.
    pub fn remove(&mut self, scope: Option<&str>, key: &str) -> Option<Value> {
        self.scope(scope)?;
        let removed = map_remove(self.scope_mut(scope), key);
        self.modified |= removed.is_some();
        removed
    }

    /// The keys of profile `name` (only its own, nothing inherited).
    pub fn profile(&self, name: &str) -> Option<&[(Value, Value)]> {
        self.scope(Some(name))
    }

    /// The names of the profiles, in file order.
    pub fn profile_names(&self) -> Vec<String> {
        match map_get(&self.root, "profile") {
            Some(Value::Map(m)) => m.iter().map(|(k, _)| key_text(k)).collect(),
            _ => Vec::new(),
        }
    }

    /// Creates profile `name` if it does not exist (as `aemp profile NAME` does).
    pub fn create_profile(&mut self, name: &str) {
        self.scope_mut(Some(name));
        self.modified = true;
    }

    /// Deletes profile `name`; whether it existed.
    pub fn delete_profile(&mut self, name: &str) -> bool {
        self.modified = true;
        match map_get_mut(&mut self.root, "profile") {
            Some(Value::Map(m)) => map_remove(m, name).is_some(),
            _ => false,
        }
    }

    /// The effective settings of profile `name` (`None`: the global keys alone) as a map:
    /// the defaults, then `args`, then the global keys, the parent chain and the profile,
    /// later ones winning (AnyEvent::MP 2.x's `find_profile`). The bookkeeping keys
    /// `profile` and `parent` are left out.
    pub fn effective(
        &self,
        name: Option<&str>,
        args: &[(String, Value)],
    ) -> Result<Vec<(Value, Value)>, ProfileError> {
        let mut chain: Vec<(String, &[(Value, Value)])> = Vec::new(); // the profile, then ancestors
        let mut seen = HashSet::new();
        let mut next = name.map(str::to_owned);
        while let Some(n) = next.take() {
            if !seen.insert(n.clone()) {
                let mut names: Vec<String> = chain.iter().map(|(c, _)| c.clone()).collect();
                let start = names.iter().position(|x| *x == n).unwrap_or(0);
                names.drain(..start);
                names.push(n);
                return Err(ProfileError::ParentLoop { chain: names });
            }
            let keys = self.profile(&n).unwrap_or_default();
            next = map_get(keys, "parent").and_then(|p| p.to_text().map(|t| t.into_owned()));
            chain.push((n, keys));
        }
        let mut merged = defaults();
        for (k, v) in args {
            map_set(&mut merged, k, v.clone());
        }
        let layers = std::iter::once(self.root.as_slice()).chain(chain.iter().rev().map(|c| c.1));
        for layer in layers {
            for (k, v) in layer {
                map_set(&mut merged, &key_text(k), v.clone());
            }
        }
        map_remove(&mut merged, "profile");
        map_remove(&mut merged, "parent");
        Ok(merged)
    }

    /// The effective settings of profile `name`, typed.
    pub fn profile_settings(&self, name: &str) -> Result<Profile, ProfileError> {
        let mut p = Profile::from_map(&self.effective(Some(name), &[])?)?;
        p.name = Some(name.to_owned());
        Ok(p)
    }

    fn scope(&self, scope: Option<&str>) -> Option<&[(Value, Value)]> {
        match scope {
            None => Some(&self.root),
            Some(name) => match map_get(&self.root, "profile")? {
                Value::Map(m) => match map_get(m, name)? {
                    Value::Map(p) => Some(p),
                    _ => None,
                },
                _ => None,
            },
        }
    }

    fn scope_mut(&mut self, scope: Option<&str>) -> &mut Vec<(Value, Value)> {
        let Some(name) = scope else {
            return &mut self.root;
        };
        let profiles = entry_map(&mut self.root, "profile");
        entry_map(profiles, name)
    }
}

/// The 2.x built-in defaults (`find_profile`).
fn defaults() -> Vec<(Value, Value)> {
    let list = |items: &[&str]| Value::Array(items.iter().map(|s| Value::from(*s)).collect());
    vec![
        (Value::from("monitor_timeout"), Value::from(30)),
        (Value::from("connect_interval"), Value::from(2)),
        (
            Value::from("framing_format"),
            list(&["cbor", "json", "storable"]),
        ),
        (
            Value::from("auth_offer"),
            list(&["tls_sha3_512", "hmac_sha3_512"]),
        ),
        (
            Value::from("auth_accept"),
            list(&["tls_sha3_512", "hmac_sha3_512", "tls_anon", "cleartext"]),
        ),
    ]
}

/// A service entry: a function name and its arguments (`"name"` or `["name", args...]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// The function (in aemp: a registered init function, such as `aemp::echo`).
    pub name: String,
    /// Its arguments.
    pub args: Vec<Value>,
}

/// The effective settings of a profile, typed. Settings not in the file are `None`
/// (or empty); the defaults of AnyEvent::MP are filled in by [`RcFile::effective`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Profile {
    /// The profile's name (`None` for the global keys alone).
    pub name: Option<String>,
    /// `nodeid`: the node id, with `%n`/`%u`/trailing `/` still unexpanded.
    pub nodeid: Option<String>,
    /// `secret`: the shared secret.
    pub secret: Option<String>,
    /// `cert`: the PEM text (key and certificates), not a file name.
    pub cert: Option<String>,
    /// `binds`: listen endpoints in AnyEvent::MP's syntax (see [`bind_address`]).
    pub binds: Option<Vec<String>>,
    /// `seeds`: seed endpoints (see [`seed_address`]).
    pub seeds: Vec<String>,
    /// `services`: what `aemp run` starts.
    pub services: Vec<Service>,
    /// `monitor_timeout`.
    pub monitor_timeout: Option<Duration>,
    /// `connect_interval`.
    pub connect_interval: Option<Duration>,
    /// `framing_format`: framing names, in order (unknown ones, like Perl's `storable`,
    /// are kept here and skipped when a node is configured).
    pub framing_format: Option<Vec<String>>,
    /// `auth_offer`: auth method names.
    pub auth_offer: Option<Vec<String>>,
    /// `auth_accept`: auth method names.
    pub auth_accept: Option<Vec<String>>,
    /// `nodelay`: TCP_NODELAY (stored; aemp nodes always set it).
    pub nodelay: Option<bool>,
}

impl Profile {
    /// Reads the settings from a merged map (see [`RcFile::effective`]). Unknown keys are
    /// ignored; `null` values count as unset.
    pub fn from_map(map: &[(Value, Value)]) -> Result<Profile, ProfileError> {
        let get = |key: &str| map_get(map, key).filter(|v| !v.is_null());
        let text = |key: &str| get(key).map(|v| scalar_text(key, v)).transpose();
        let list = |key: &str| get(key).map(|v| string_list(key, v)).transpose();
        let seconds = |key: &str| get(key).map(|v| duration(key, v)).transpose();
        let services = match get("services") {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                items.iter().map(service).collect::<Result<Vec<_>, _>>()?
            }
            Some(v) => string_list("services", v)?
                .into_iter()
                .map(|name| Service {
                    name,
                    args: Vec::new(),
                })
                .collect(),
        };
        Ok(Profile {
            name: None,
            nodeid: text("nodeid")?,
            secret: text("secret")?,
            cert: text("cert")?,
            binds: list("binds")?,
            seeds: list("seeds")?.unwrap_or_default(),
            services,
            monitor_timeout: seconds("monitor_timeout")?,
            connect_interval: seconds("connect_interval")?,
            framing_format: list("framing_format")?,
            auth_offer: list("auth_offer")?,
            auth_accept: list("auth_accept")?,
            nodelay: get("nodelay").map(truthy),
        })
    }

    /// Applies these settings to what `builder` leaves unset, now (as
    /// [`NodeBuilder::profile`] does at start from the file). Adjust the fields first to
    /// leave some out: `binds = Some(vec![])` means no listener, empty `seeds` none.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use aemp_actor::{profile::RcFile, Node};
    /// let rc = RcFile::parse("/tmp/x", r#"{"secret": "s", "seeds": ["db1"]}"#)?;
    /// let mut settings = rc.profile_settings("client")?;
    /// settings.seeds.clear();
    /// settings.binds = Some(vec![]);
    /// let builder = settings.apply_to(Node::builder().node_id("client"))?;
    /// # let _ = builder; Ok(()) }
    /// ```
    pub fn apply_to(self, mut builder: NodeBuilder) -> Result<NodeBuilder, Error> {
        self.fill(&mut builder)?;
        Ok(builder)
    }

    /// Fills what `builder` leaves unset.
    fn fill(self, b: &mut NodeBuilder) -> Result<(), Error> {
        let name = self.name.clone().unwrap_or_else(nodename);
        if b.node_id.is_none() {
            let template = self.nodeid.unwrap_or_else(|| format!("{name}/"));
            b.node_id = Some(expand_node_id(&template));
        }
        if b.binds.is_empty() {
            let binds = self.binds.unwrap_or_else(|| vec!["*".to_owned()]);
            b.binds = binds.iter().map(|s| bind_address(s)).collect();
        }
        if b.seeds.is_empty() {
            b.seeds = self.seeds.iter().map(|s| seed_address(s)).collect();
        }
        if b.secret.is_none() {
            b.secret = self.secret;
        }
        if b.cert_pem.is_none() {
            b.cert_pem = self.cert.map(String::into_bytes);
        }
        if b.framings.is_none() {
            if let Some(names) = &self.framing_format {
                b.framings = Some(known::<Framing>("framing_format", names)?);
            }
        }
        if b.auth_offer.is_none() {
            if let Some(names) = &self.auth_offer {
                b.auth_offer = Some(known::<AuthMethod>("auth_offer", names)?);
            }
        }
        if b.auth_accept.is_none() {
            if let Some(names) = &self.auth_accept {
                b.auth_accept = Some(known::<AuthMethod>("auth_accept", names)?);
            }
        }
        if b.monitor_timeout.is_none() {
            b.monitor_timeout = self.monitor_timeout;
        }
        if b.connect_interval.is_none() {
            b.connect_interval = self.connect_interval;
        }
        Ok(())
    }
}

/// The names aemp knows, in order; unknown ones (Perl's `storable` framing, 1.x's MD6 auth)
/// are skipped, but not all of them.
fn known<T: FromStr>(key: &str, names: &[String]) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    for name in names {
        match name.parse::<T>() {
            Ok(t) => out.push(t),
            Err(_) if name == "storable" => {}
            Err(_) => tracing::warn!("profile: {key}: {name:?} is not supported, skipped"),
        }
    }
    if out.is_empty() && !names.is_empty() {
        return Err(Error::Config(format!(
            "{key}: none of {} is supported by aemp",
            names.join(", ")
        )));
    }
    Ok(out)
}

/// Called first by `NodeBuilder::start`: applies the profile, if one was chosen.
pub(crate) fn apply(builder: &mut NodeBuilder) -> Result<(), Error> {
    let Some(name) = builder.profile.clone() else {
        return Ok(());
    };
    let settings = RcFile::load()
        .and_then(|rc| rc.profile_settings(&name))
        .map_err(|e| Error::Config(format!("profile {name}: {e}")))?;
    settings.fill(builder)
}

impl NodeBuilder {
    /// Takes every setting this builder leaves unset from profile `name` of the rc file
    /// (see [`crate::profile`]), when the node starts: `nodeid` (default `NAME/`, with
    /// `%n`, `%u` and a trailing `/` expanded), `binds` (default `*`), `seeds`, `secret`,
    /// `cert`, `framing_format`, `auth_offer`, `auth_accept`, `monitor_timeout` and
    /// `connect_interval`. Explicit builder calls win, whatever their order. `services` are
    /// for the application to start (as `aemp run` does). A malformed rc file makes
    /// [`NodeBuilder::start`] fail with [`Error::Config`].
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }
}

/// This host's name (`uname -n`): AnyEvent::MP's default profile name and `%n`.
pub fn nodename() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Expands a node id template as AnyEvent::MP 2.x does: `%n` is the host name, `%u` ten
/// random characters. A trailing `/` is left for [`NodeBuilder::node_id`] to expand.
pub fn expand_node_id(template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('n') {
            out.push_str(&nodename());
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('u') {
            out.push_str(&aemp_transport::random_alnum(10, true));
            rest = tail;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Splits `host:port`, `[v6]:port`, `host` and a bare `port`.
fn split_endpoint(spec: &str) -> (Option<&str>, Option<&str>) {
    let spec = spec.trim();
    if let Some(v6) = spec.strip_prefix('[') {
        if let Some((host, rest)) = v6.split_once(']') {
            return (Some(host), rest.strip_prefix(':'));
        }
    }
    if spec.matches(':').count() > 1 {
        return (Some(spec), None); // a bare IPv6 address
    }
    match spec.rsplit_once(':') {
        Some((host, port)) => (Some(host), Some(port)),
        None if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) => (None, Some(spec)),
        None => (Some(spec), None),
    }
}

fn join_endpoint(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A bind in AnyEvent::MP's syntax as a listen address: host `*` is every interface
/// (`0.0.0.0`), port `*` or none an ephemeral port, a bare port number binds the host name.
///
/// ```
/// use aemp_actor::profile::bind_address;
/// assert_eq!(bind_address("*"), "0.0.0.0:0");
/// assert_eq!(bind_address("*:4040"), "0.0.0.0:4040");
/// assert_eq!(bind_address("127.0.0.1:*"), "127.0.0.1:0");
/// assert_eq!(bind_address("127.0.0.1:4040"), "127.0.0.1:4040");
/// ```
pub fn bind_address(spec: &str) -> String {
    let (host, port) = split_endpoint(spec);
    let host = match host {
        None => nodename(),
        Some("*") | Some("") => "0.0.0.0".to_owned(),
        Some(h) => h.to_owned(),
    };
    let port = match port {
        None | Some("*") | Some("") => "0",
        Some(p) => p,
    };
    join_endpoint(&host, port)
}

/// A seed in AnyEvent::MP's syntax as a dial address: the port defaults to 4040, host `*`
/// is this host (`127.0.0.1`), a bare port number is the host name.
///
/// ```
/// use aemp_actor::profile::seed_address;
/// assert_eq!(seed_address("db1"), "db1:4040");
/// assert_eq!(seed_address("10.0.0.2:5000"), "10.0.0.2:5000");
/// ```
pub fn seed_address(spec: &str) -> String {
    let (host, port) = split_endpoint(spec);
    let host = match host {
        None => nodename(),
        Some("*") | Some("") => "127.0.0.1".to_owned(),
        Some(h) => h.to_owned(),
    };
    let port = match port {
        None | Some("*") | Some("") => "4040",
        Some(p) => p,
    };
    join_endpoint(&host, port)
}

// ---------------------------------------------------------------------------------------
// Typed values.

fn bad(key: &str, message: String) -> ProfileError {
    ProfileError::Value {
        key: key.to_owned(),
        message,
    }
}

fn scalar_text(key: &str, v: &Value) -> Result<String, ProfileError> {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => Ok(v.to_string()),
        _ => v
            .to_text()
            .map(|t| t.into_owned())
            .ok_or_else(|| bad(key, format!("expected a string, got {}", v.kind()))),
    }
}

fn string_list(key: &str, v: &Value) -> Result<Vec<String>, ProfileError> {
    match v {
        Value::Array(items) => items.iter().map(|i| scalar_text(key, i)).collect(),
        _ => Ok(scalar_text(key, v)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
    }
}

fn duration(key: &str, v: &Value) -> Result<Duration, ProfileError> {
    let secs = match v {
        Value::Text(_) | Value::Bytes(_) => v.to_text().and_then(|t| t.trim().parse::<f64>().ok()),
        _ => v.as_f64(),
    };
    match secs {
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(bad(
            key,
            format!("expected a positive number of seconds, got {v}"),
        )),
    }
}

/// Perl's truth: `0`, `""`, `"0"`, null and false are false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::UInt(u) => *u != 0,
        Value::Float(f) => *f != 0.0,
        Value::Text(_) | Value::Bytes(_) => {
            let t = v.to_text().unwrap_or_default();
            !(t.is_empty() || t == "0")
        }
        Value::Array(_) | Value::Map(_) => true,
    }
}

fn service(v: &Value) -> Result<Service, ProfileError> {
    match v {
        Value::Array(items) => match items.split_first() {
            Some((name, args)) => Ok(Service {
                name: scalar_text("services", name)?,
                args: args.to_vec(),
            }),
            None => Err(bad("services", "an empty entry".into())),
        },
        _ => Ok(Service {
            name: scalar_text("services", v)?,
            args: Vec::new(),
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Maps.

fn key_text(k: &Value) -> String {
    k.to_text()
        .map_or_else(|| k.to_string(), |t| t.into_owned())
}

fn map_get<'a>(m: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    m.iter()
        .rev()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn map_get_mut<'a>(m: &'a mut [(Value, Value)], key: &str) -> Option<&'a mut Value> {
    m.iter_mut()
        .rev()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn map_set(m: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match map_get_mut(m, key) {
        Some(v) => *v = value,
        None => m.push((Value::from(key), value)),
    }
}

fn map_remove(m: &mut Vec<(Value, Value)>, key: &str) -> Option<Value> {
    let i = m.iter().rposition(|(k, _)| k.as_str() == Some(key))?;
    Some(m.remove(i).1)
}

/// The map under `key`, created (or replacing a non-map) if needed.
fn entry_map<'a>(m: &'a mut Vec<(Value, Value)>, key: &str) -> &'a mut Vec<(Value, Value)> {
    if !matches!(map_get(m, key), Some(Value::Map(_))) {
        map_set(m, key, Value::Map(Vec::new()));
    }
    match map_get_mut(m, key) {
        Some(Value::Map(inner)) => inner,
        _ => unreachable!("just made a map"),
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

// ---------------------------------------------------------------------------------------
// JSON, relaxed as JSON::XS's `relaxed` reads it, written as its `pretty` writes it.

/// Parses relaxed JSON (JSON::XS's relaxed mode: `#` comments to the end of the line,
/// a comma after the last element of an array or object, literal tabs in strings).
/// Duplicate keys: the last wins.
///
/// ```
/// use aemp_actor::{profile::parse_json, Value};
/// let v = parse_json("[1, \"two\", # a comment\n {\"three\": 3,},]").unwrap();
/// assert_eq!(v.as_array().unwrap().len(), 3);
/// let e = parse_json("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
/// assert_eq!((e.line, e.column), (3, 3));
/// ```
pub fn parse_json(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

/// Line and column (from 1; the column in characters) of byte offset `pos`.
fn position(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> JsonError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> JsonError {
        let (line, column) = position(self.text, pos);
        JsonError {
            line,
            column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn found(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "the end of the text".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Value::Text),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(self.error(format!("expected a value, found {}", self.found()))),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Value, JsonError>) -> Result<Value, JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error(format!("expected a value, found {}", self.found())))
        }
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut m: Vec<(Value, Value)> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(m));
                }
                Some(b'"') => {}
                _ => {
                    return Err(self.error(format!(
                        "expected a string key or '}}', found {}",
                        self.found()
                    )))
                }
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected ':', found {}", self.found())));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value()?;
            map_set(&mut m, &key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.error(format!("expected ',' or '}}', found {}", self.found())))
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut a = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(a));
            }
            a.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(self.error(format!("expected ',' or ']', found {}", self.found()))),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
        self.pos += 4;
        Ok(u32::from_str_radix(digits, 16).unwrap_or_default())
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || (c < 0x20 && c != b'\t') {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                None => return Err(self.error_at(start, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = self.peek();
                    self.pos += 1;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let at = self.pos - 2;
                            let mut c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c) {
                                if !self.s[self.pos..].starts_with(b"\\u") {
                                    return Err(self.error_at(at, "missing low surrogate"));
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error_at(at, "invalid surrogate pair"));
                                }
                                c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
                            }
                            out.push(
                                char::from_u32(c)
                                    .ok_or_else(|| self.error_at(at, "lone low surrogate"))?,
                            );
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error_at(self.pos - 1, "invalid escape"));
                        }
                    }
                }
                Some(_) => {
                    return Err(self.error("control character in a string (write it as \\n etc.)"))
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        if digits(self) == 0 {
            return Err(self.error("malformed number: expected a digit"));
        }
        if self.s[int_start] == b'0' && self.pos - int_start > 1 {
            return Err(self.error_at(int_start, "malformed number: leading zero"));
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            float = true;
            if digits(self) == 0 {
                return Err(self.error("malformed number: expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            float = true;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("malformed number: expected a digit in the exponent"));
            }
        }
        let text = &self.text[start..self.pos];
        if !float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::UInt(u));
            }
        }
        text.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.error_at(start, "malformed number"))
    }
}

/// JSON text of `value`: compact, or in JSON::XS's `pretty` style (three spaces of
/// indentation, `"key" : value`). Byte strings become strings (UTF-8, else Latin-1, as Perl
/// reads them); NaN and infinities become `null`.
pub fn to_json(value: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, value, pretty, 0);
    out
}

fn write_json(out: &mut String, v: &Value, pretty: bool, level: usize) {
    let newline = |out: &mut String, level: usize| {
        if pretty {
            out.push('\n');
            for _ in 0..level {
                out.push_str("   ");
            }
        }
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&u.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&f.to_string()),
        Value::Float(_) => out.push_str("null"),
        Value::Text(_) | Value::Bytes(_) => write_str(out, &v.to_text().unwrap_or_default()),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_json(out, item, pretty, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Map(m) if m.is_empty() => out.push_str("{}"),
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_str(out, &key_text(k));
                out.push_str(if pretty { " : " } else { ":" });
                write_json(out, item, pretty, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use aemp_transport::msg;

    fn rc(text: &str) -> RcFile {
        RcFile::parse("/nonexistent/rc", text).unwrap()
    }

    #[test]
    fn relaxed_json_is_read_as_json_xs_reads_it() {
        let v = parse_json("# top\n{ \"a\": [1, 2.5, -3, 18446744073709551615, true, null,],\n\"b\":\t\"x\\u00e9\\ud83d\\ude00\ty\", # c\n \"a\": 0,}").unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                (Value::from("a"), Value::from(0)),
                (Value::from("b"), Value::from("xé😀\ty")),
            ])
        );
        assert_eq!(
            parse_json("[1,2,]").unwrap(),
            Value::Array(msg![1, 2].to_vec())
        );
    }

    #[test]
    fn json_errors_have_line_and_column() {
        let cases = [
            ("{\"a\": 1,\n \"b\" 2}", 2, 6, "expected ':'"),
            ("[1, 2", 1, 6, "expected ',' or ']'"),
            ("{,}", 1, 2, "expected a string key"),
            ("[1,,]", 1, 4, "expected a value"),
            ("{\"a\": tru}", 1, 7, "expected a value"),
            ("\"abc", 1, 1, "unterminated string"),
            ("[\"é\", 01]", 1, 7, "leading zero"),
            ("{} x", 1, 4, "unexpected text"),
            ("", 1, 1, "expected a value"),
            ("[\"a\nb\"]", 1, 4, "control character"),
        ];
        for (text, line, column, msg) in cases {
            let e = parse_json(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
        }
    }

    #[test]
    fn written_json_reads_back_and_looks_like_json_xs_pretty() {
        let mut r = RcFile::new("/nonexistent/rc");
        r.set(None, "secret", "s\"\n");
        r.set(
            Some("web"),
            "binds",
            Value::Array(msg!["127.0.0.1:4040"].to_vec()),
        );
        r.set(Some("web"), "parent", "x");
        r.set(Some("empty"), "services", Value::Array(vec![]));
        let text = r.to_text();
        assert_eq!(
            text,
            "{\n   \"version\" : 1,\n   \"secret\" : \"s\\\"\\n\",\n   \"profile\" : {\n      \"web\" : {\n         \"binds\" : [\n            \"127.0.0.1:4040\"\n         ],\n         \"parent\" : \"x\"\n      },\n      \"empty\" : {\n         \"services\" : []\n      }\n   }\n}\n"
        );
        assert_eq!(rc(&text).root, r.root);
    }

    #[test]
    fn merge_order_is_defaults_args_global_parents_profile() {
        let r = rc(r#"{
            "secret": "global", "nodeid": "g", "monitor_timeout": 7, "connect_interval": "3",
            "profile": {
                "grand": { "secret": "grand", "binds": ["*:1"], "seeds": "a:1,b:2" },
                "mid": { "parent": "grand", "secret": "mid", "nodeid": "m/%n" },
                "leaf": { "parent": "mid", "framing_format": ["json"], "nodelay": 0,
                          "services": ["aemp::echo", ["aemp::sequence", 1]] },
            },
        }"#);
        let args = [
            ("monitor_timeout".to_owned(), Value::from(99)),
            ("auth_offer".to_owned(), Value::from("hmac_sha3_512")),
        ];
        let m = r.effective(Some("leaf"), &args).unwrap();
        assert_eq!(map_get(&m, "monitor_timeout"), Some(&Value::from(7)));
        assert_eq!(
            map_get(&m, "auth_offer"),
            Some(&Value::from("hmac_sha3_512"))
        );
        assert!(map_get(&m, "parent").is_none() && map_get(&m, "profile").is_none());
        let p = r.profile_settings("leaf").unwrap();
        assert_eq!(p.secret.as_deref(), Some("mid"));
        assert_eq!(p.nodeid.as_deref(), Some("m/%n"));
        assert_eq!(p.binds, Some(vec!["*:1".to_owned()]));
        assert_eq!(p.seeds, vec!["a:1".to_owned(), "b:2".to_owned()]);
        assert_eq!(p.monitor_timeout, Some(Duration::from_secs(7)));
        assert_eq!(p.connect_interval, Some(Duration::from_secs(3)));
        assert_eq!(p.framing_format, Some(vec!["json".to_owned()]));
        assert_eq!(p.nodelay, Some(false));
        assert_eq!(
            p.services,
            vec![
                Service {
                    name: "aemp::echo".into(),
                    args: vec![]
                },
                Service {
                    name: "aemp::sequence".into(),
                    args: vec![Value::from(1)]
                },
            ]
        );
        // Unknown profiles are empty; the global keys and defaults still apply.
        let none = r.profile_settings("nope").unwrap();
        assert_eq!(none.secret.as_deref(), Some("global"));
        assert_eq!(
            none.auth_offer,
            Some(vec!["tls_sha3_512".to_owned(), "hmac_sha3_512".to_owned()])
        );
    }

    #[test]
    fn parent_loops_are_reported() {
        let r = rc(
            r#"{"profile": {"a": {"parent": "b"}, "b": {"parent": "c"}, "c": {"parent": "b"}, "s": {"parent": "s"}}}"#,
        );
        let e = r.effective(Some("a"), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the profile parents form a loop: b -> c -> b"
        );
        assert!(r.effective(Some("s"), &[]).is_err());
        // A missing parent is an empty profile, as in Perl.
        let r = rc(r#"{"profile": {"a": {"parent": "gone", "secret": "x"}}}"#);
        assert_eq!(
            r.profile_settings("a").unwrap().secret.as_deref(),
            Some("x")
        );
    }

    #[test]
    fn bad_shapes_and_values_are_errors() {
        for text in ["[]", "{\"profile\": 1}", "{\"profile\": {\"a\": []}}"] {
            assert!(matches!(
                RcFile::parse("/x", text),
                Err(ProfileError::Invalid { .. })
            ));
        }
        let r = rc(r#"{"monitor_timeout": "soon", "profile": {"b": {"binds": {}}}}"#);
        assert!(r
            .profile_settings("a")
            .unwrap_err()
            .to_string()
            .starts_with("monitor_timeout"));
    }

    #[test]
    fn node_ids_and_addresses_expand() {
        let id = expand_node_id("aemp/%n/%u");
        let parts: Vec<&str> = id.split('/').collect();
        assert_eq!(parts[1], nodename());
        assert_eq!(parts[2].len(), 10);
        assert_eq!(expand_node_id("100%"), "100%");
        assert_eq!(bind_address("4040"), format!("{}:4040", nodename()));
        assert_eq!(bind_address("[::1]:*"), "[::1]:0");
        assert_eq!(bind_address("host"), "host:0");
        assert_eq!(seed_address("*"), "127.0.0.1:4040");
        assert_eq!(seed_address("[::1]"), "[::1]:4040");
    }

    #[test]
    fn saving_is_atomic_and_keeps_the_old_file() {
        let dir = std::env::temp_dir().join(format!("aemp-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rc");
        let _ = std::fs::remove_file(&path);
        let mut r = RcFile::load_from(&path).unwrap();
        assert!(!r.is_modified());
        r.set(None, "secret", "one");
        assert!(r.is_modified());
        r.save().unwrap();
        assert!(!r.is_modified());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        r.set(None, "secret", "two");
        r.save().unwrap();
        let old = std::fs::read_to_string(dir.join("rc~")).unwrap();
        assert!(old.contains("\"one\""));
        let again = RcFile::load_from(&path).unwrap();
        assert_eq!(again.get(None, "secret"), Some(&Value::from("two")));
        assert!(!dir.join("rc~new~").exists());
        std::fs::write(&path, "{\"secret\": \"x\",\n  oops }").unwrap();
        match RcFile::load_from(&path) {
            Err(ProfileError::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 3)),
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, b"{\"a\": \"\xff\"}").unwrap();
        assert!(matches!(
            RcFile::load_from(&path),
            Err(ProfileError::Syntax {
                line: 1,
                column: 8,
                ..
            })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_builder_takes_what_it_leaves_unset_from_the_profile() {
        let dir = std::env::temp_dir().join(format!("aemp-profile-b-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rc");
        std::fs::write(
            &path,
            r#"{"secret": "s", "profile": {"p": {"nodeid": "prof-%u", "binds": ["127.0.0.1:*"],
               "framing_format": ["storable", "json"], "connect_interval": 0.5}}}"#,
        )
        .unwrap();
        // The only test of this crate that reads the variable.
        std::env::set_var(RC_ENV, &path);
        let mut b = Node::builder().profile("p").secret("explicit");
        apply(&mut b).unwrap();
        assert!(b.node_id.as_deref().unwrap().starts_with("prof-"));
        assert_eq!(b.binds, vec!["127.0.0.1:0".to_owned()]);
        assert_eq!(b.secret.as_deref(), Some("explicit"));
        assert_eq!(b.framings, Some(vec![Framing::Json]));
        assert_eq!(b.connect_interval, Some(Duration::from_millis(500)));
        let node = Node::builder()
            .profile("p")
            .node_id("explicit-id")
            .start()
            .await
            .unwrap();
        assert_eq!(node.id(), "explicit-id");
        assert_eq!(node.listen_addrs()[0].ip().to_string(), "127.0.0.1");
        node.shutdown().await;
        std::fs::write(&path, "{").unwrap();
        let e = Node::builder().profile("p").start().await.unwrap_err();
        assert!(e.to_string().contains("line 1, column 2"), "{e}");
        std::env::remove_var(RC_ENV);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    use crate::Node;
}
