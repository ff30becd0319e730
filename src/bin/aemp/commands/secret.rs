//! `gensecret` and `setsecret SECRET` (alias `secret`): the shared secret.

use aemp::config::RcFile;
use aemp::Value;

use super::values::text;

/// A new random secret, as Perl's aemp makes it.
pub(crate) fn generate(rc: &mut RcFile, scope: Option<&str>) -> Result<(), String> {
    let secret = aemp::config::cert::gen_secret().map_err(|e| e.to_string())?;
    rc.set(scope, "secret", secret);
    Ok(())
}

pub(crate) fn set(rc: &mut RcFile, scope: Option<&str>, v: &Value) -> Result<(), String> {
    let secret = text(v, "the secret")?;
    if secret.is_empty() {
        return Err("the secret must not be empty".into());
    }
    rc.set(scope, "secret", secret);
    Ok(())
}
