//! `profile NAME`, `delprofile NAME`, `setparent NAME` (alias `parent`), `showprofile NAME`.

use aemp::config::{to_json, RcFile};
use aemp::Value;

use super::values::text;

/// Makes the following commands act on profile NAME (created if needed).
pub(crate) fn select(rc: &mut RcFile, scope: &mut Option<String>, v: &Value) -> Result<(), String> {
    let name = text(v, "the profile name")?;
    rc.create_profile(&name);
    *scope = Some(name);
    Ok(())
}

pub(crate) fn delete(rc: &mut RcFile, v: &Value) -> Result<(), String> {
    let name = text(v, "the profile name")?;
    rc.delete_profile(&name);
    Ok(())
}

/// The parent of the current profile; a loop is refused (and the chain changes nothing).
pub(crate) fn set_parent(rc: &mut RcFile, scope: Option<&str>, v: &Value) -> Result<(), String> {
    let Some(profile) = scope else {
        return Err("sets the parent of a profile: aemp profile NAME setparent PARENT".into());
    };
    let parent = text(v, "the parent's name")?;
    rc.set(scope, "parent", parent);
    rc.effective(Some(profile), &[])
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Prints the profile's own keys as JSON.
pub(crate) fn show(rc: &RcFile, v: &Value) -> Result<(), String> {
    let name = text(v, "the profile name")?;
    let keys = rc.profile(&name).unwrap_or_default().to_vec();
    println!("{}", to_json(&Value::Map(keys), true));
    Ok(())
}
