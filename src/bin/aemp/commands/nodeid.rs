//! `setnodeid ID` (alias `nodeid`): the node id template.

use aemp::config::RcFile;
use aemp::Value;

use super::values::text;

pub(crate) fn set(rc: &mut RcFile, scope: Option<&str>, v: &Value) -> Result<(), String> {
    let id = text(v, "the node id")?;
    aemp::transport::check_node_id(&id).map_err(|e| e.to_string())?;
    rc.set(scope, "nodeid", id);
    Ok(())
}
