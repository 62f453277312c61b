//! Client certificates at login.
//!
//! The TLS handshake only proves that the client holds the key of the
//! certificate it shows ([`ProvenKey`]); whether the registry trusts that
//! certificate is decided at CONNECT ([`Trust::identify`]), for two
//! reasons. A certificate that fails (expired, another CA's) is then
//! refused like any failed login, with CONNACK 5 / 0x87 and the reason in
//! the log and the audit, rather than as a TLS alert the device's log
//! rarely explains. And rustls restores a resumed session's certificate
//! without verifying it again, so only a check at every CONNECT sees a
//! certificate that expired or a CA that changed since.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Asks TLS clients for a certificate (optional unless `mandatory`) and
/// accepts any whose key the client proves it holds; trust is
/// [`Trust::identify`]'s question.
#[derive(Debug)]
pub struct ProvenKey {
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl ProvenKey {
    pub fn new(mandatory: bool) -> Arc<Self> {
        Arc::new(Self {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            mandatory,
        })
    }
}

impl ClientCertVerifier for ProvenKey {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Only something that is a certificate: garbage ends the handshake.
        X509Certificate::from_der(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Who a trusted client certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject's CN: the username it logs in as.
    pub common_name: String,
    /// SHA-256 of the certificate.
    pub fingerprint: String,
    /// Signed by the registry's own CA (so it must be one the registry
    /// issued to that user and did not revoke), not by `--tls-client-ca`.
    pub by_registry: bool,
}

/// The CAs client certificates may chain to: the registry's and the
/// `--tls-client-ca` file's.
pub struct Trust {
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    registry_ca: Option<Vec<u8>>,
}

impl Trust {
    /// Trust in the registry's CA (DER) and the CAs of `extra_pem`.
    pub fn new(registry_ca: Option<Vec<u8>>, extra_pem: Option<&str>) -> Result<Trust, String> {
        let mut roots = RootCertStore::empty();
        if let Some(der) = &registry_ca {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| format!("the registry's CA cannot be trusted: {e}"))?;
        }
        if let Some(text) = extra_pem {
            let mut found = 0;
            for pem in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
                let pem = pem.map_err(|e| format!("not PEM: {e}"))?;
                if pem.label != "CERTIFICATE" {
                    continue;
                }
                roots
                    .add(CertificateDer::from(pem.contents))
                    .map_err(|e| format!("a CA certificate cannot be trusted: {e}"))?;
                found += 1;
            }
            if found == 0 {
                return Err("no CERTIFICATE block in it".into());
            }
        }
        let verifier = if roots.is_empty() {
            None
        } else {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            Some(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| format!("cannot verify client certificates: {e}"))?,
            )
        };
        Ok(Trust {
            verifier,
            registry_ca,
        })
    }

    /// Whom `chain` (leaf first) names, or why it is not trusted.
    pub fn identify(&self, chain: &[CertificateDer<'_>]) -> Result<Identity, String> {
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or_else(|| "no client certificate".to_owned())?;
        let Some(verifier) = &self.verifier else {
            return Err(
                "client certificate, but the broker trusts no CA for them (`mqreg ca init`, or --tls-client-ca)"
                    .into(),
            );
        };
        verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|error| describe(&error))?;
        let (_, parsed) = X509Certificate::from_der(leaf)
            .map_err(|_| "client certificate cannot be read".to_owned())?;
        let common_name = parsed
            .subject()
            .iter_common_name()
            .next()
            .and_then(|name| name.as_str().ok())
            .ok_or_else(|| "client certificate has no subject CN".to_owned())?
            .to_owned();
        let by_registry = self.registry_ca.as_ref().is_some_and(|ca| {
            X509Certificate::from_der(ca).is_ok_and(|(_, ca)| {
                parsed.issuer() == ca.subject()
                    && parsed.verify_signature(Some(ca.public_key())).is_ok()
            })
        });
        Ok(Identity {
            common_name,
            fingerprint: super::fingerprint(leaf),
            by_registry,
        })
    }
}

fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Expired)
        | rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "client certificate expired".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidYet)
        | rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext { .. }) => {
            "client certificate not valid yet".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "client certificate from a CA the broker does not trust".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::InvalidPurpose)
        | rustls::Error::InvalidCertificate(CertificateError::InvalidPurposeContext { .. }) => {
            "client certificate not for client authentication".into()
        }
        other => format!("client certificate refused: {other}"),
    }
}
