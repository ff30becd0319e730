//! TLS for AEMP: both sides present the configured certificate and trust what it signs.
//!
//! AnyEvent::MP configures one PEM (key, certificate and CA certificates) as both `cert` and
//! `ca_cert`, with `verify => 1` and a client certificate required, and no host name check.
//! The usual deployment is one self-signed certificate shared by every node. A peer
//! certificate is therefore accepted when it *is* one of the configured certificates, or
//! when it chains up to one of them; host names are never checked (nodes are identified by
//! node id, not DNS name). Handshake signatures are verified as usual.

use std::fmt;
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};

use crate::Error;

/// The server name the TLS client presents; never checked by either side.
pub(crate) const SERVER_NAME: &str = "aemp.invalid";

/// A parsed certificate configuration: the client and server TLS settings built from one PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    pub(crate) client: Arc<ClientConfig>,
    pub(crate) server: Arc<ServerConfig>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Builds the TLS settings from a PEM holding a private key and one or more certificates
    /// (the first is ours; all of them are trusted), as AnyEvent::MP's `cert` setting holds.
    pub fn from_pem(pem: &[u8]) -> Result<TlsIdentity, Error> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Certificate(format!("cannot read certificates from PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Certificate("the PEM holds no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
            Error::Certificate(format!("cannot read the private key from PEM: {e}"))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(SharedCertVerifier::new(&certs, &provider)?);

        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_config)?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_auth_cert(certs.clone(), key.clone_key())
            .map_err(tls_config)?;
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_config)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(tls_config)?;
        Ok(TlsIdentity {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}

fn tls_config(e: rustls::Error) -> Error {
    Error::Certificate(format!("unusable certificate or key: {e}"))
}

#[derive(Debug)]
struct SharedCertVerifier {
    trusted: Vec<CertificateDer<'static>>,
    anchors: Vec<tokio_rustls::rustls::pki_types::TrustAnchor<'static>>,
    algs: WebPkiSupportedAlgorithms,
}

impl SharedCertVerifier {
    fn new(certs: &[CertificateDer<'static>], provider: &CryptoProvider) -> Result<Self, Error> {
        let anchors = certs
            .iter()
            .map(|c| {
                webpki::anchor_from_trusted_cert(c)
                    .map(|a| a.to_owned())
                    .map_err(|e| Error::Certificate(format!("unusable certificate: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(SharedCertVerifier {
            trusted: certs.to_vec(),
            anchors,
            algs: provider.signature_verification_algorithms,
        })
    }

    fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: webpki::KeyUsage,
    ) -> Result<(), rustls::Error> {
        if self
            .trusted
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Ok(());
        }
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        cert.verify_for_usage(
            self.algs.all,
            &self.anchors,
            intermediates,
            now,
            usage,
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| match e {
            // A self-signed certificate that is not one of ours: webpki refuses it as a CA
            // certificate first, but what matters to the operator is that it is untrusted.
            webpki::Error::CaUsedAsEndEntity | webpki::Error::UnknownIssuer => {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            }
            e => rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                rustls::OtherError(Arc::new(e)),
            )),
        })
    }
}

impl ServerCertVerifier for SharedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
        )
        .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

impl ClientCertVerifier for SharedCertVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
        )
        .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
