//! Certificates for TLS tests, made by the one helper aemp has (`aemp gencert` uses it too).

/// A PEM holding a fresh private key and a self-signed certificate, as `aemp gencert`
/// writes it (and as Perl nodes read it: key and certificate in one file).
pub fn self_signed_pem() -> String {
    aemp::config::cert::self_signed_pem().expect("certificate")
}
