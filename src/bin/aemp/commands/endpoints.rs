//! `setseeds`/`addseed`/`delseed` and `setbinds`/`addbind`/`delbind`: the lists of endpoints.

use aemp::config::RcFile;
use aemp::Value;

use super::values::{own_list, text, text_list};

/// `setseeds LIST` or `setbinds LIST` (`key`: `seeds` or `binds`).
pub(crate) fn set(
    rc: &mut RcFile,
    scope: Option<&str>,
    key: &str,
    v: &Value,
) -> Result<(), String> {
    rc.set(scope, key, Value::Array(text_list(v, key)?));
    Ok(())
}

/// `addseed`/`addbind` (`add`) or `delseed`/`delbind`: one endpoint more or less.
pub(crate) fn edit(
    rc: &mut RcFile,
    scope: Option<&str>,
    key: &str,
    v: &Value,
    add: bool,
) -> Result<(), String> {
    let item = Value::Text(text(v, key)?);
    let mut items = own_list(rc, scope, key);
    items.retain(|i| *i != item);
    if add {
        items.push(item);
    }
    rc.set(scope, key, Value::Array(items));
    Ok(())
}
