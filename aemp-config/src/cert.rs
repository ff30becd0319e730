//! Fresh credentials in the forms Perl's aemp makes: a shared secret (`aemp gensecret`) and a
//! key with a self-signed certificate in one PEM (`aemp gencert`). The one place aemp makes
//! them: the CLI, the tests and the benchmarks call these.

/// The digits of AnyEvent::MP's `alnumbits` (GMP's base 62).
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why credentials could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(getrandom::Error),
    /// rcgen could not make the key or certificate.
    #[error("cannot generate a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
}

/// A shared secret: 64 random bytes in base 62, as `aemp gensecret` makes it in Perl.
///
/// ```
/// let s = aemp_config::cert::gen_secret().unwrap();
/// assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
/// ```
pub fn gen_secret() -> Result<String, CredentialError> {
    let mut bytes = [0u8; 64];
    getrandom::getrandom(&mut bytes).map_err(CredentialError::Random)?;
    Ok(base62(&bytes))
}

/// `bytes` as one big-endian number in base 62.
fn base62(bytes: &[u8]) -> String {
    let mut num = bytes.to_vec();
    let mut digits = Vec::new();
    while num.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in num.iter_mut() {
            let cur = rem * 256 + u32::from(*b);
            *b = (cur / 62) as u8;
            rem = cur % 62;
        }
        digits.push(BASE62[rem as usize]);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("base62 digits are ASCII")
}

/// A private key and a self-signed certificate (CN `AnyEvent::MP`) in one PEM, as `aemp
/// gencert` writes it and Perl nodes read it. The certificate is marked as a CA, so OpenSSL
/// (Perl nodes) and rustls both accept it as its own trust root: every node that has this
/// PEM trusts every other.
///
/// ```
/// let pem = aemp_config::cert::self_signed_pem().unwrap();
/// assert!(pem.contains("PRIVATE KEY") && pem.contains("CERTIFICATE"));
/// ```
pub fn self_signed_pem() -> Result<String, CredentialError> {
    let mut params = rcgen::CertificateParams::new(vec!["AnyEvent::MP".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "AnyEvent::MP");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(format!("{}{}", key.serialize_pem(), cert.pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_is_a_number_in_base_62() {
        assert_eq!(base62(&[0]), "0");
        assert_eq!(base62(&[61]), "z");
        assert_eq!(base62(&[62]), "10");
        assert_eq!(base62(&[1, 0]), "48"); // 256 = 4 * 62 + 8
        let s = gen_secret().unwrap();
        assert!(s.len() >= 80 && s.len() <= 86, "{s}");
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
