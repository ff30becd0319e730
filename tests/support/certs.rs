//! Certificates made with rcgen for TLS tests.

/// A PEM holding a fresh private key and a self-signed certificate, as `aemp gencert`
/// writes it (and as Perl nodes read it: key and certificate in one file).
pub fn self_signed_pem() -> String {
    let mut params =
        rcgen::CertificateParams::new(vec!["AnyEvent::MP".to_owned()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "AnyEvent::MP");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    format!("{}{}", key.serialize_pem(), cert.pem())
}
