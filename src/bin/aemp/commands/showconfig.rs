//! `showconfig [NAME [KEY VALUE]...]`: the effective settings of a profile.

use aemp::config::{nodename, to_json, RcFile};
use aemp::Value;

use super::values::text;

pub(crate) fn show(rc: &RcFile, args: &[Value]) -> Result<(), String> {
    let mut it = args.iter();
    let name = match it.next() {
        Some(n) => text(n, "the profile name")?,
        None => nodename(),
    };
    let rest: Vec<&Value> = it.collect();
    if rest.len() % 2 != 0 {
        return Err("KEY VALUE arguments must come in pairs".into());
    }
    let kv = rest
        .chunks(2)
        .map(|p| Ok((text(p[0], "a key")?, p[1].clone())))
        .collect::<Result<Vec<_>, String>>()?;
    let merged = rc.effective(Some(&name), &kv).map_err(|e| e.to_string())?;
    println!("{}", to_json(&Value::Map(merged), true));
    Ok(())
}
