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
/// `--tls-client-ca` file's, verified apart, so that a certificate of the
/// registry's CA is always one it signed itself (and so one it can revoke),
/// never one of an intermediate under it.
pub struct Trust {
    registry: Option<(Arc<dyn ClientCertVerifier>, Vec<u8>)>,
    others: Option<Arc<dyn ClientCertVerifier>>,
}

fn verifier(roots: RootCertStore) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("cannot verify client certificates: {e}"))
}

impl Trust {
    /// Trust in the registry's CA (DER) and the CAs of `extra_pem`.
    pub fn new(registry_ca: Option<Vec<u8>>, extra_pem: Option<&str>) -> Result<Trust, String> {
        let registry = match registry_ca {
            Some(der) => {
                let mut roots = RootCertStore::empty();
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| format!("the registry's CA cannot be trusted: {e}"))?;
                Some((verifier(roots)?, der))
            }
            None => None,
        };
        let others = match extra_pem {
            Some(text) => {
                let mut roots = RootCertStore::empty();
                for pem in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
                    let pem = pem.map_err(|e| format!("not PEM: {e}"))?;
                    if pem.label == "CERTIFICATE" {
                        roots
                            .add(CertificateDer::from(pem.contents))
                            .map_err(|e| format!("a CA certificate cannot be trusted: {e}"))?;
                    }
                }
                if roots.is_empty() {
                    return Err("no CERTIFICATE block in it".into());
                }
                Some(verifier(roots)?)
            }
            None => None,
        };
        Ok(Trust { registry, others })
    }

    /// Whom `chain` (leaf first) names, or why it is not trusted.
    pub fn identify(&self, chain: &[CertificateDer<'_>]) -> Result<Identity, String> {
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or_else(|| "no client certificate".to_owned())?;
        if self.registry.is_none() && self.others.is_none() {
            return Err(
                "client certificate, but the broker trusts no CA for them (`mqreg ca init`, or --tls-client-ca)"
                    .into(),
            );
        }
        let (_, parsed) = X509Certificate::from_der(leaf)
            .map_err(|_| "client certificate cannot be read".to_owned())?;
        let now = UnixTime::now();
        let mut failure = None;
        let mut by_registry = None;
        if let Some((verifier, ca)) = &self.registry {
            match verifier.verify_client_cert(leaf, intermediates, now) {
                Ok(_) => {
                    let direct = X509Certificate::from_der(ca).is_ok_and(|(_, ca)| {
                        parsed.issuer() == ca.subject()
                            && parsed.verify_signature(Some(ca.public_key())).is_ok()
                    });
                    if !direct {
                        return Err(
                            "client certificate issued under an intermediate of the registry's CA; only certificates the registry signed itself log in"
                                .into(),
                        );
                    }
                    by_registry = Some(true);
                }
                Err(error) => failure = Some(error),
            }
        }
        if by_registry.is_none() {
            if let Some(verifier) = &self.others {
                match verifier.verify_client_cert(leaf, intermediates, now) {
                    Ok(_) => by_registry = Some(false),
                    // The more telling of the two failures: an expired
                    // certificate of a trusted CA says "expired".
                    Err(error) => {
                        if failure.as_ref().is_none_or(|first| {
                            matches!(
                                first,
                                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
                            )
                        }) {
                            failure = Some(error);
                        }
                    }
                }
            }
        }
        let Some(by_registry) = by_registry else {
            return Err(
                failure.map_or_else(|| "client certificate refused".into(), |e| describe(&e))
            );
        };
        let common_name = parsed
            .subject()
            .iter_common_name()
            .next()
            .and_then(|name| name.as_str().ok())
            .ok_or_else(|| "client certificate has no subject CN".to_owned())?
            .to_owned();
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    fn ca(
        name: &str,
        issuer: Option<&Issuer<'static, KeyPair>>,
    ) -> (Vec<u8>, Issuer<'static, KeyPair>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = match issuer {
            Some(issuer) => params.signed_by(&key, issuer).unwrap(),
            None => params.self_signed(&key).unwrap(),
        };
        (certificate.der().to_vec(), Issuer::new(params, key))
    }

    fn leaf(name: &str, issuer: &Issuer<'static, KeyPair>) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.signed_by(&key, issuer).unwrap().der().clone()
    }

    #[test]
    fn a_certificate_is_the_registrys_only_when_it_signed_it_itself() {
        let (registry, registry_issuer) = ca("registry", None);
        let (plant, plant_issuer) = ca("plant", None);
        let plant_pem = crate::pki::csr::pem_text("CERTIFICATE", &plant);
        let trust = Trust::new(Some(registry.clone()), Some(&plant_pem)).unwrap();

        let own = trust.identify(&[leaf("dev_1", &registry_issuer)]).unwrap();
        assert_eq!(own.common_name, "dev_1");
        assert!(own.by_registry);

        let other = trust.identify(&[leaf("dev_2", &plant_issuer)]).unwrap();
        assert!(!other.by_registry);

        // Under an intermediate of the registry's CA: refused, since the
        // registry could neither list nor revoke it.
        let (intermediate, intermediate_issuer) = ca("intermediate", Some(&registry_issuer));
        let chain = [
            leaf("dev_3", &intermediate_issuer),
            CertificateDer::from(intermediate),
        ];
        let refused = trust.identify(&chain).unwrap_err();
        assert!(refused.contains("intermediate"), "{refused}");

        let (_, stranger) = ca("stranger", None);
        let refused = trust.identify(&[leaf("dev_4", &stranger)]).unwrap_err();
        assert!(refused.contains("does not trust"), "{refused}");
        assert!(Trust::new(None, None)
            .unwrap()
            .identify(&[leaf("dev_5", &stranger)])
            .unwrap_err()
            .contains("trusts no CA"));
    }
}
