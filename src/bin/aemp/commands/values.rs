//! The values configuration commands take, checked as Perl's aemp takes them.

use std::path::Path;

use aemp::config::{to_json, RcFile};
use aemp::Value;

pub(crate) fn text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => Ok(v.to_string()),
        _ => v
            .to_text()
            .map(|t| t.into_owned())
            .ok_or_else(|| format!("{what} must be a string, not {}", v.kind())),
    }
}

/// A list argument: a JSON array, or comma-separated text.
pub(crate) fn list(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(items) => Ok(items.clone()),
        _ => Ok(text(v, what)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Value::from)
            .collect()),
    }
}

pub(crate) fn text_list(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    list(v, what)?
        .iter()
        .map(|i| text(i, what).map(Value::Text))
        .collect()
}

/// The scope's own list under `key` (a comma-separated string counts as a list).
pub(crate) fn own_list(rc: &RcFile, scope: Option<&str>, key: &str) -> Vec<Value> {
    match rc.get(scope, key) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => list(v, key).unwrap_or_default(),
    }
}

pub(crate) fn seconds(v: &Value, key: &str) -> Result<Value, String> {
    let s = match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => v.as_f64(),
        _ => v.to_text().and_then(|t| t.trim().parse::<f64>().ok()),
    };
    match s {
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(if s.fract() == 0.0 {
            Value::Int(s as i64)
        } else {
            Value::Float(s)
        }),
        _ => Err(format!(
            "{key} must be a positive number of seconds, not {}",
            to_json(v, false)
        )),
    }
}

pub(crate) fn boolean(v: &Value, key: &str) -> Result<Value, String> {
    match v {
        Value::Bool(_) | Value::Int(0 | 1) => Ok(v.clone()),
        _ => match v.to_text().as_deref().map(str::trim) {
            Some("1" | "true" | "yes" | "on") => Ok(Value::Int(1)),
            Some("0" | "false" | "no" | "off") => Ok(Value::Int(0)),
            _ => Err(format!(
                "{key} must be a boolean (1 or 0), not {}",
                to_json(v, false)
            )),
        },
    }
}

/// Notes names that aemp nodes skip (the file is shared with Perl nodes, which may know them).
pub(crate) fn note_unknown(key: &str, names: &[Value]) {
    for n in names.iter().filter_map(Value::as_str) {
        let known = if key == "framing_format" {
            n.parse::<aemp::Framing>().is_ok()
        } else {
            n.parse::<aemp::transport::AuthMethod>().is_ok()
        };
        if !known && n != "storable" {
            eprintln!("aemp: note: {key}: aemp nodes do not support {n:?} and skip it");
        }
    }
}

/// A PEM file with a private key and a certificate, checked.
pub(crate) fn read_pem(path: &Path) -> Result<String, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    aemp::transport::Config::new("check")
        .and_then(|c| c.cert_pem(pem.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(pem)
}

/// The elements of the JSON array in `path` (`-`: standard input), for `--input`.
pub(crate) fn read_message(path: &Path) -> Result<Vec<aemp::Value>, String> {
    use std::io::Read;
    let (what, text) = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        ("standard input".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        (path.display().to_string(), text)
    };
    match aemp::config::parse_json(&text) {
        Ok(aemp::Value::Array(items)) => Ok(items),
        Ok(other) => Err(format!(
            "{what} must hold a JSON array (the message's elements), not {}",
            other.kind()
        )),
        Err(e) => Err(format!("{what}: {e}")),
    }
}
