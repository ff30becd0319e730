//! [`PortRef`]: a typed reference to a port anywhere, which travels as its port id.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PortId;

/// A reference to a port that takes messages of type `M`, on any node. It serializes as the
/// port id string, so it can travel inside messages (to Perl nodes too, which see a plain
/// port id).
///
/// ```
/// use aemp_actor::typed::PortRef;
/// let r: PortRef<()> = PortRef::from_id("node#p1".parse().unwrap());
/// assert_eq!(aemp_transport::to_value(&r).unwrap(), aemp_transport::Value::from("node#p1"));
/// ```
pub struct PortRef<M> {
    id: PortId,
    _msg: PhantomData<fn() -> M>,
}

impl<M> PortRef<M> {
    /// A typed reference to `id` (the type is not checked: the port decides what it takes).
    pub fn from_id(id: PortId) -> Self {
        PortRef {
            id,
            _msg: PhantomData,
        }
    }

    /// The port id.
    pub fn id(&self) -> &PortId {
        &self.id
    }
}

impl<M> Clone for PortRef<M> {
    fn clone(&self) -> Self {
        PortRef::from_id(self.id.clone())
    }
}

impl<M> PartialEq for PortRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<M> Eq for PortRef<M> {}

impl<M> std::hash::Hash for PortRef<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state)
    }
}

impl<M> fmt::Debug for PortRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortRef({})", self.id)
    }
}

impl<M> fmt::Display for PortRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id, f)
    }
}

impl<M> AsRef<str> for PortRef<M> {
    fn as_ref(&self) -> &str {
        self.id.as_str()
    }
}

impl<M> Serialize for PortRef<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id.as_str())
    }
}

impl<'de, M> Deserialize<'de> for PortRef<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PortId::parse(&s)
            .map(PortRef::from_id)
            .map_err(serde::de::Error::custom)
    }
}
