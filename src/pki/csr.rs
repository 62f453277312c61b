//! A device's certificate signing request, checked before anyone is asked
//! to approve it: a valid signature (the device holds the key), a key the
//! registry accepts, and its subject, so an admin can compare the key's
//! fingerprint with the one on the device's label.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// Longest CSR accepted, in PEM characters: an RSA 8192 request is about 4 KiB.
pub const MAX_CSR_PEM: usize = 16 * 1024;

/// A checked signing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// The request as sent, normalised to one PEM block.
    pub pem: String,
    /// Its subject, as `CN=sensor_1, O=Acme`.
    pub subject: String,
    pub common_name: Option<String>,
    /// `EC P-256`, `EC P-384`, `Ed25519` or `RSA 2048` (and up).
    pub key_type: String,
    /// SHA-256 of the public key (its SubjectPublicKeyInfo): the same key
    /// gives the same fingerprint in every request and certificate.
    pub key_fingerprint: String,
    /// The public key, DER (SubjectPublicKeyInfo), for the certificate.
    pub public_key: Vec<u8>,
}

impl Csr {
    /// Reads and checks a PEM request. The error says what is wrong in
    /// words a device maker can act on.
    pub fn parse(text: &str) -> Result<Csr, String> {
        if text.len() > MAX_CSR_PEM {
            return Err(format!(
                "the CSR is {} bytes; at most {MAX_CSR_PEM} are accepted",
                text.len()
            ));
        }
        let der = super::pem_block(text, "CERTIFICATE REQUEST")
            .map_err(|e| format!("the CSR is not a PEM certificate request ({e})"))?;
        let (rest, request) = X509CertificationRequest::from_der(&der)
            .map_err(|e| format!("the CSR cannot be read: {e}"))?;
        if !rest.is_empty() {
            return Err("the CSR has bytes after its end".into());
        }
        let info = &request.certification_request_info;
        let key = &info.subject_pki;
        // The key first: a key too weak to accept is said to be so, not that
        // its signature (which ring does not check for such keys) failed.
        let key_type = key_type(key)?;
        request.verify_signature().map_err(|_| {
            "the CSR's signature does not verify: it was altered, or not signed with its own key"
                .to_owned()
        })?;
        let common_name = info
            .subject
            .iter_common_name()
            .next()
            .and_then(|name| name.as_str().ok())
            .map(str::to_owned);
        Ok(Csr {
            pem: pem_text("CERTIFICATE REQUEST", &der),
            subject: info.subject.to_string(),
            common_name,
            key_type,
            key_fingerprint: super::fingerprint(key.raw),
            public_key: key.raw.to_vec(),
        })
    }

    /// The request is for `username`: its CN names it.
    pub fn check_for(&self, username: &str) -> Result<(), String> {
        match self.common_name.as_deref() {
            Some(name) if name == username => Ok(()),
            Some(name) => Err(format!(
                "the CSR's subject CN is {name:?}, but the username is {username:?}; they must be equal"
            )),
            None => Err(format!(
                "the CSR's subject has no CN; it must be CN={username}"
            )),
        }
    }
}

/// The key's kind and size, if the registry signs such keys.
fn key_type(key: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<String, String> {
    let algorithm = &key.algorithm.algorithm;
    let refused = |what: String| {
        Err(format!(
            "the CSR's key is {what}; the registry signs EC P-256 or P-384, Ed25519, or RSA of 2048 bits and more"
        ))
    };
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = key
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok());
        return match curve {
            Some(curve) if curve == OID_EC_P256 => Ok("EC P-256".into()),
            Some(curve) if curve == OID_NIST_EC_P384 => Ok("EC P-384".into()),
            Some(curve) => refused(format!("EC on curve {curve}")),
            None => refused("EC without a named curve".into()),
        };
    }
    if *algorithm == OID_SIG_ED25519 {
        return Ok("Ed25519".into());
    }
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        let bits = match key.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                rsa.modulus.iter().skip_while(|byte| **byte == 0).count() * 8
            }
            _ => 0,
        };
        if !(2048..=8192).contains(&bits) {
            return refused(format!("RSA of {bits} bits"));
        }
        return Ok(format!("RSA {bits}"));
    }
    refused(format!("of type {algorithm}"))
}

/// DER as a PEM block with 64-character lines and Unix line ends.
pub fn pem_text(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}
