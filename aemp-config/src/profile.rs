//! [`Profile`]: a profile's effective settings, typed, and how a node builder takes them.

use std::str::FromStr;
use std::time::Duration;

use aemp_actor::{Defaults, Error, NodeBuilder};
use aemp_transport::{AuthMethod, Framing, Value};

use crate::endpoint::{bind_address, expand_node_id, nodename, seed_address};
use crate::error::ProfileError;
use crate::map::map_get;
use crate::rc::RcFile;

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
    /// [`ProfileExt::profile`] does at start from the file). Adjust the fields first to
    /// leave some out: `binds = Some(vec![])` means no listener, empty `seeds` none.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use aemp_actor::Node;
    /// use aemp_config::RcFile;
    /// let rc = RcFile::parse("/tmp/x", r#"{"secret": "s", "seeds": ["db1"]}"#)?;
    /// let mut settings = rc.profile_settings("client")?;
    /// settings.seeds.clear();
    /// settings.binds = Some(vec![]);
    /// let builder = settings.apply_to(Node::builder().node_id("client"))?;
    /// # let _ = builder; Ok(()) }
    /// ```
    pub fn apply_to(self, builder: NodeBuilder) -> Result<NodeBuilder, ProfileError> {
        Ok(builder.defaults(self.to_defaults()?))
    }

    /// These settings as a node builder's defaults: `nodeid` (default `NAME/`, with `%n`,
    /// `%u` and a trailing `/` expanded), `binds` (default `*`), the endpoints in
    /// AnyEvent::MP's syntax made addresses, the framing and auth names parsed (unknown ones,
    /// like Perl's `storable`, skipped, but not all of them).
    pub fn to_defaults(self) -> Result<Defaults, ProfileError> {
        let name = self.name.clone().unwrap_or_else(nodename);
        let mut d = Defaults::default();
        let template = self.nodeid.unwrap_or_else(|| format!("{name}/"));
        d.node_id = Some(expand_node_id(&template));
        let binds = self.binds.unwrap_or_else(|| vec!["*".to_owned()]);
        d.binds = Some(binds.iter().map(|s| bind_address(s)).collect());
        d.seeds = self.seeds.iter().map(|s| seed_address(s)).collect();
        d.secret = self.secret;
        d.cert_pem = self.cert.map(String::into_bytes);
        if let Some(names) = &self.framing_format {
            d.framings = Some(known::<Framing>("framing_format", names)?);
        }
        if let Some(names) = &self.auth_offer {
            d.auth_offer = Some(known::<AuthMethod>("auth_offer", names)?);
        }
        if let Some(names) = &self.auth_accept {
            d.auth_accept = Some(known::<AuthMethod>("auth_accept", names)?);
        }
        d.monitor_timeout = self.monitor_timeout;
        d.connect_interval = self.connect_interval;
        Ok(d)
    }
}

/// The names aemp knows, in order; unknown ones (Perl's `storable` framing, 1.x's MD6 auth)
/// are skipped, but not all of them.
pub(crate) fn known<T: FromStr>(key: &str, names: &[String]) -> Result<Vec<T>, ProfileError> {
    let mut out = Vec::new();
    for name in names {
        match name.parse::<T>() {
            Ok(t) => out.push(t),
            Err(_) if name == "storable" => {}
            Err(_) => tracing::warn!("profile: {key}: {name:?} is not supported, skipped"),
        }
    }
    if out.is_empty() && !names.is_empty() {
        return Err(bad(
            key,
            format!("none of {} is supported by aemp", names.join(", ")),
        ));
    }
    Ok(out)
}

/// Profiles for node builders: `Node::builder().profile("web")`.
pub trait ProfileExt {
    /// Takes every setting this builder leaves unset from profile `name` of the rc file
    /// (see the crate documentation), when the node starts: `nodeid` (default `NAME/`, with
    /// `%n`, `%u` and a trailing `/` expanded), `binds` (default `*`), `seeds`, `secret`,
    /// `cert`, `framing_format`, `auth_offer`, `auth_accept`, `monitor_timeout` and
    /// `connect_interval`. Explicit builder calls win, whatever their order. `services` are
    /// for the application to start (as `aemp run` does). A malformed rc file makes
    /// `NodeBuilder::start` fail with `Error::Profile`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), aemp_actor::Error> {
    /// use aemp_config::ProfileExt;
    /// let node = aemp_actor::Node::builder().profile("web").start().await?;
    /// # let _ = node; Ok(()) }
    /// ```
    fn profile(self, name: impl Into<String>) -> Self;
}

impl ProfileExt for NodeBuilder {
    fn profile(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.defaults_from(move || {
            RcFile::load()
                .and_then(|rc| rc.profile_settings(&name))
                .and_then(Profile::to_defaults)
                .map_err(|e| Error::Profile {
                    name,
                    source: Box::new(e),
                })
        })
    }
}

// ---------------------------------------------------------------------------------------
// Typed values.

pub(crate) fn bad(key: &str, message: String) -> ProfileError {
    ProfileError::Value {
        key: key.to_owned(),
        message,
    }
}

pub(crate) fn scalar_text(key: &str, v: &Value) -> Result<String, ProfileError> {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => Ok(v.to_string()),
        _ => v
            .to_text()
            .map(|t| t.into_owned())
            .ok_or_else(|| bad(key, format!("expected a string, got {}", v.kind()))),
    }
}

pub(crate) fn string_list(key: &str, v: &Value) -> Result<Vec<String>, ProfileError> {
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

pub(crate) fn duration(key: &str, v: &Value) -> Result<Duration, ProfileError> {
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
pub(crate) fn truthy(v: &Value) -> bool {
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

pub(crate) fn service(v: &Value) -> Result<Service, ProfileError> {
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
