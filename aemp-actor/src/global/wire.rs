//! The global protocol's messages (AnyEvent::MP 2.x's `g_*` node-port requests), parsed once
//! into [`GRequest`], and the value shapes they carry.

use aemp_transport::Value;

use super::db::{self, Db, Family};
use crate::wire::text;

/// Which `g_db_*` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    /// `g_db_family`: the whole family as a map.
    Family,
    /// `g_db_keys`: its keys.
    Keys,
    /// `g_db_values`: its values.
    Values,
}

impl Query {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Query::Family => "g_db_family",
            Query::Keys => "g_db_keys",
            Query::Values => "g_db_values",
        }
    }

    /// The answer to this query from a family's contents.
    pub(crate) fn answer(self, family: Family) -> Value {
        match self {
            Query::Family => db::family_to_value(&family),
            Query::Keys => Value::Array(family.keys().map(|k| Value::from(k.as_str())).collect()),
            Query::Values => Value::Array(family.into_values().collect()),
        }
    }
}

/// A `g_*` request, as sent to the node port.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GRequest {
    /// `g_slave [db]`: the sender binds to us as its master, with its local database.
    Slave(Option<Db>),
    /// `g_global`: the sender is a global node.
    Global,
    /// `g_set db`: a global node's whole domain.
    Set(Db),
    /// `g_upd family {set} [del]`: a change of a family.
    Upd {
        family: String,
        set: Vec<(String, Value)>,
        del: Vec<String>,
    },
    /// `g_find node`: where does `node` listen?
    Find(String),
    /// `g_found node [binds]`: the answer.
    Found {
        node: String,
        binds: Option<Vec<String>>,
    },
    /// `g_db_* family id`: a query, answered with `g_reply id result`.
    Db {
        query: Query,
        family: String,
        id: Value,
    },
    /// `g_reply id result`.
    Reply { id: String, result: Value },
    /// `g_mon1 family`: the sender monitors a family.
    Mon1(String),
    /// `g_mon0 family`: no longer.
    Mon0(String),
    /// `g_chg1 family {entries}`: a monitored family's contents.
    Chg1 { family: String, entries: Family },
    /// `g_chg2 family {set} [del]`: a change of a monitored family.
    Chg2 {
        family: String,
        set: Vec<(String, Value)>,
        del: Vec<String>,
    },
    /// `g_disconnect`: ignored, as 2.x does.
    Disconnect,
}

/// Why a `g_*` request was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    /// Not a request of the global protocol.
    #[error("unknown global protocol request {0}")]
    Unknown(String),
    /// A known request without a required field.
    #[error("{tag} without {what}")]
    Malformed {
        tag: &'static str,
        what: &'static str,
    },
}

impl GRequest {
    /// Parses `tag args...` (the node-port request without its tag).
    pub(crate) fn parse(tag: &str, args: &[Value]) -> Result<GRequest, WireError> {
        let family = |tag: &'static str| {
            text(args.first()).ok_or(WireError::Malformed {
                tag,
                what: "a family",
            })
        };
        Ok(match tag {
            "g_slave" => GRequest::Slave(
                args.first()
                    .filter(|v| v.as_map().is_some())
                    .map(db::from_value),
            ),
            "g_global" => GRequest::Global,
            "g_set" => GRequest::Set(args.first().map(db::from_value).unwrap_or_default()),
            "g_upd" => GRequest::Upd {
                family: family("g_upd")?,
                set: parse_set(args.get(1)),
                del: args.get(2).map(db::keys_from_value).unwrap_or_default(),
            },
            "g_find" => GRequest::Find(text(args.first()).unwrap_or_default()),
            "g_found" => GRequest::Found {
                node: text(args.first()).unwrap_or_default(),
                binds: args
                    .get(1)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| text(Some(v))).collect()),
            },
            "g_db_family" | "g_db_keys" | "g_db_values" => GRequest::Db {
                query: match tag {
                    "g_db_family" => Query::Family,
                    "g_db_keys" => Query::Keys,
                    _ => Query::Values,
                },
                family: text(args.first()).unwrap_or_default(),
                id: args.get(1).cloned().unwrap_or(Value::Null),
            },
            "g_reply" => GRequest::Reply {
                id: text(args.first()).unwrap_or_default(),
                result: args.get(1).cloned().unwrap_or(Value::Null),
            },
            "g_mon1" => GRequest::Mon1(text(args.first()).unwrap_or_default()),
            "g_mon0" => GRequest::Mon0(text(args.first()).unwrap_or_default()),
            "g_chg1" => GRequest::Chg1 {
                family: family("g_chg1")?,
                entries: args.get(1).map(db::family_from_value).unwrap_or_default(),
            },
            "g_chg2" => GRequest::Chg2 {
                family: family("g_chg2")?,
                set: parse_set(args.get(1)),
                del: args.get(2).map(db::keys_from_value).unwrap_or_default(),
            },
            "g_disconnect" => GRequest::Disconnect,
            other => return Err(WireError::Unknown(other.to_owned())),
        })
    }
}

/// Pairs as a wire `{key: value}`, or null when there are none (as 2.x sends `g_upd`).
pub(crate) fn set_value(set: &[(String, Value)]) -> Value {
    if set.is_empty() {
        Value::Null
    } else {
        Value::Map(
            set.iter()
                .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                .collect(),
        )
    }
}

/// Keys as a wire `[key...]`.
pub(crate) fn keys_value(keys: &[String]) -> Value {
    Value::Array(keys.iter().map(|k| Value::from(k.as_str())).collect())
}

/// A wire `{key: value}` (or null) as pairs.
fn parse_set(v: Option<&Value>) -> Vec<(String, Value)> {
    v.and_then(Value::as_map)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((text(Some(k))?, v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_once_into_their_shapes() {
        let upd = GRequest::parse(
            "g_upd",
            &[
                Value::from("f"),
                Value::Map(vec![(Value::from("k"), Value::from(1))]),
                Value::Array(vec![Value::from("d")]),
            ],
        );
        assert_eq!(
            upd,
            Ok(GRequest::Upd {
                family: "f".into(),
                set: vec![("k".into(), Value::from(1))],
                del: vec!["d".into()]
            })
        );
        assert_eq!(
            GRequest::parse("g_upd", &[]),
            Err(WireError::Malformed {
                tag: "g_upd",
                what: "a family"
            })
        );
        assert_eq!(
            GRequest::parse("g_nope", &[]),
            Err(WireError::Unknown("g_nope".into()))
        );
    }
}
