//! The rc file's JSON objects, kept as ordered key/value pairs.

use std::path::{Path, PathBuf};

use aemp_transport::Value;

// ---------------------------------------------------------------------------------------
// Maps.

pub(crate) fn key_text(k: &Value) -> String {
    k.to_text()
        .map_or_else(|| k.to_string(), |t| t.into_owned())
}

pub(crate) fn map_get<'a>(m: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    m.iter()
        .rev()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

pub(crate) fn map_get_mut<'a>(m: &'a mut [(Value, Value)], key: &str) -> Option<&'a mut Value> {
    m.iter_mut()
        .rev()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

pub(crate) fn map_set(m: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match map_get_mut(m, key) {
        Some(v) => *v = value,
        None => m.push((Value::from(key), value)),
    }
}

pub(crate) fn map_remove(m: &mut Vec<(Value, Value)>, key: &str) -> Option<Value> {
    let i = m.iter().rposition(|(k, _)| k.as_str() == Some(key))?;
    Some(m.remove(i).1)
}

/// The map under `key`, created (or replacing a non-map) if needed.
pub(crate) fn entry_map<'a>(
    m: &'a mut Vec<(Value, Value)>,
    key: &str,
) -> &'a mut Vec<(Value, Value)> {
    if !matches!(map_get(m, key), Some(Value::Map(_))) {
        map_set(m, key, Value::Map(Vec::new()));
    }
    match map_get_mut(m, key) {
        Some(Value::Map(inner)) => inner,
        _ => unreachable!("just made a map"),
    }
}

pub(crate) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
