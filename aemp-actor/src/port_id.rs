//! [`PortId`]: `NODEID#NAME`, or a bare node id for the node port.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aemp_transport::Value;

use crate::Error;

/// The id of a port anywhere in the network: `NODEID#NAME`. The node port (name `""`) is the
/// bare node id. Cheap to clone.
///
/// ```
/// use aemp_actor::PortId;
/// let p: PortId = "web1#chat.7".parse().unwrap();
/// assert_eq!((p.node(), p.name()), ("web1", "chat.7"));
/// let n: PortId = "web1".parse().unwrap();
/// assert!(n.is_node_port() && n.name().is_empty());
/// assert!("#x".parse::<PortId>().is_err());
/// ```
#[derive(Clone)]
pub struct PortId {
    id: Arc<str>,
    /// Where the node id ends: at the `#`, or at the end for a node port. (Found once: the
    /// name is compared for every message routed.)
    sep: usize,
}

impl PartialEq for PortId {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for PortId {}

impl std::hash::Hash for PortId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl PartialOrd for PortId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PortId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl PortId {
    /// Parses and checks a port id.
    pub fn parse(s: &str) -> Result<PortId, Error> {
        let (node, _) = split(s);
        aemp_transport::check_node_id(node).map_err(|e| Error::InvalidPortId {
            id: s.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(PortId::from_text(s.into()))
    }

    /// The port `name` on node `node` (the node port when `name` is empty).
    pub fn new(node: &str, name: &str) -> PortId {
        if name.is_empty() {
            PortId::from_text(node.into())
        } else {
            PortId::from_text(format!("{node}#{name}").into())
        }
    }

    /// The node part.
    pub fn node(&self) -> &str {
        &self.id[..self.sep]
    }

    /// The name part (`""` for the node port).
    pub fn name(&self) -> &str {
        self.id.get(self.sep + 1..).unwrap_or("")
    }

    /// Whether this is a node port.
    pub fn is_node_port(&self) -> bool {
        self.sep == self.id.len()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.id
    }
}

impl PortId {
    /// The id whose text is `id` (not checked).
    fn from_text(id: Arc<str>) -> PortId {
        let sep = id.find('#').unwrap_or(id.len());
        PortId { id, sep }
    }
}

/// Splits a port id at its first `#`: (node, name).
pub(crate) fn split(id: &str) -> (&str, &str) {
    id.split_once('#').unwrap_or((id, ""))
}

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortId({})", &self.id)
    }
}

impl FromStr for PortId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PortId::parse(s)
    }
}

/// What every port argument of the kernel takes: a [`PortId`], a typed `ActorRef`, or the id
/// as text (`"node#name"`, checked when used), by value or by reference.
///
/// ```
/// use aemp_actor::{PortId, ToPort};
/// let id: PortId = "n#p".parse().unwrap();
/// assert_eq!(id.to_port().unwrap(), "n#p".to_port().unwrap());
/// assert_eq!(String::from("n#p").port_text(), "n#p");
/// assert!("#p".to_port().is_err());
/// ```
pub trait ToPort {
    /// The id as text, unchecked.
    fn port_text(&self) -> &str;

    /// The id, checked.
    fn to_port(&self) -> Result<PortId, Error> {
        PortId::parse(self.port_text())
    }

    /// The node id and the port name (`""` for the node port), unchecked: `port_text`
    /// split at its first `#` (an implementation that overrides it must return just that;
    /// messages go where it says). A [`PortId`] has them apart already: no search per
    /// message sent.
    fn node_and_name(&self) -> (&str, &str) {
        split(self.port_text())
    }
}

impl ToPort for PortId {
    fn port_text(&self) -> &str {
        &self.id
    }

    fn to_port(&self) -> Result<PortId, Error> {
        Ok(self.clone())
    }

    fn node_and_name(&self) -> (&str, &str) {
        (self.node(), self.name())
    }
}

impl ToPort for str {
    fn port_text(&self) -> &str {
        self
    }
}

impl ToPort for String {
    fn port_text(&self) -> &str {
        self
    }
}

impl<T: ToPort + ?Sized> ToPort for &T {
    fn port_text(&self) -> &str {
        (**self).port_text()
    }

    fn to_port(&self) -> Result<PortId, Error> {
        (**self).to_port()
    }

    fn node_and_name(&self) -> (&str, &str) {
        (**self).node_and_name()
    }
}

impl AsRef<str> for PortId {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

impl From<PortId> for Value {
    fn from(p: PortId) -> Value {
        Value::Text(p.id.to_string())
    }
}

impl From<&PortId> for Value {
    fn from(p: &PortId) -> Value {
        Value::Text(p.id.to_string())
    }
}

impl TryFrom<&Value> for PortId {
    type Error = Error;
    fn try_from(v: &Value) -> Result<PortId, Error> {
        match v.to_text() {
            Some(s) => PortId::parse(&s),
            None => Err(Error::InvalidPortId {
                id: v.to_string(),
                reason: format!("a port id is text, got {}", v.kind()),
            }),
        }
    }
}

/// A port id travels as its text (`"node#name"`), as Perl nodes send it.
impl serde::Serialize for PortId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id)
    }
}

impl<'de> serde::Deserialize<'de> for PortId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        PortId::parse(&s).map_err(serde::de::Error::custom)
    }
}
