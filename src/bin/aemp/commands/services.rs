//! `setservices`/`addservice`/`delservice`: what `aemp run` starts.

use aemp::config::RcFile;
use aemp::Value;

use super::values::{list, own_list};

pub(crate) fn set(rc: &mut RcFile, scope: Option<&str>, v: &Value) -> Result<(), String> {
    let items = list(v, "services")?;
    rc.set(scope, "services", Value::Array(items));
    Ok(())
}

/// Adds a service (a name, or `["NAME", ARGS...]`).
pub(crate) fn add(rc: &mut RcFile, scope: Option<&str>, v: &Value) {
    let mut items = own_list(rc, scope, "services");
    items.push(v.clone());
    rc.set(scope, "services", Value::Array(items));
}

/// Removes the first instance of a service.
pub(crate) fn remove(rc: &mut RcFile, scope: Option<&str>, v: &Value) {
    let mut items = own_list(rc, scope, "services");
    if let Some(i) = items.iter().position(|i| i == v) {
        items.remove(i);
    }
    rc.set(scope, "services", Value::Array(items));
}
