//! `setKEY VALUE` (alias `KEY`) of the low-level keys: timeouts, framings, auth methods,
//! socket options.

use aemp::config::RcFile;
use aemp::Value;

use super::values::{boolean, note_unknown, seconds, text_list};

/// Sets low-level `key` from `v`, checked.
pub(crate) fn set(
    rc: &mut RcFile,
    scope: Option<&str>,
    key: &str,
    v: &Value,
) -> Result<(), String> {
    let value = match key {
        "monitor_timeout" | "connect_interval" => seconds(v, key)?,
        "autocork" | "nodelay" => boolean(v, key)?,
        "framing_format" | "auth_offer" | "auth_accept" => {
            let names = text_list(v, key)?;
            if names.is_empty() {
                return Err(format!("{key} must not be empty"));
            }
            note_unknown(key, &names);
            Value::Array(names)
        }
        _ => return Err("no such command".into()),
    };
    rc.set(scope, key, value);
    Ok(())
}
