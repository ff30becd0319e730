//! `gencert` and `setcert PEMFILE` (alias `cert`): the TLS certificate, stored as PEM text.

use std::path::Path;

use aemp::config::RcFile;
use aemp::Value;

use super::values::{read_pem, text};

/// A new key and self-signed certificate, as Perl's aemp makes them.
pub(crate) fn generate(rc: &mut RcFile, scope: Option<&str>) -> Result<(), String> {
    let pem = aemp::config::cert::self_signed_pem().map_err(|e| e.to_string())?;
    rc.set(scope, "cert", pem);
    Ok(())
}

/// The certificate from a file (the contents are stored, not the name).
pub(crate) fn set(rc: &mut RcFile, scope: Option<&str>, v: &Value) -> Result<(), String> {
    let file = text(v, "the file name")?;
    let pem = read_pem(Path::new(&file))?;
    rc.set(scope, "cert", pem);
    Ok(())
}
