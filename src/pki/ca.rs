//! The registry's certificate authority: an EC P-256 key and a self-signed
//! certificate beside the state (`state.ca.key`, 0600, and `state.ca.pem`),
//! or one an admin imports. It signs device certificates at approval and
//! for `cert issue`; the broker trusts what it signed.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber, SubjectPublicKeyInfo,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::csr::{pem_text, Csr};
use crate::error::{Error, Result};
use crate::state::store::Store;
use crate::state::Timestamp;

/// Beside the state: `state.toml` → `state.ca.pem` and `state.ca.key`.
pub const CERTIFICATE_SUFFIX: &str = "ca.pem";
pub const KEY_SUFFIX: &str = "ca.key";

/// How long a device certificate is valid unless said otherwise.
pub const DEFAULT_DEVICE_DAYS: u32 = 365;
/// How long the registry's own certificate is valid unless said otherwise.
pub const DEFAULT_CA_DAYS: u32 = 3650;
/// Clocks on devices drift: a certificate is valid from a little earlier.
const BACKDATE_MINUTES: i64 = 5;

pub struct Ca {
    certificate_pem: String,
    certificate_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

/// What `ca show` prints.
#[derive(Debug, Clone, Serialize)]
pub struct CaInfo {
    pub subject: String,
    pub fingerprint: String,
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub certificate_file: String,
    pub certificate: String,
}

/// A device certificate just signed.
#[derive(Debug, Clone)]
pub struct Issued {
    pub pem: String,
    pub serial: String,
    pub fingerprint: String,
    pub not_after: Timestamp,
}

impl Ca {
    /// The registry's CA, if one was made or imported.
    pub fn load(store: &Store) -> Result<Option<Ca>> {
        let certificate = store.read_beside(CERTIFICATE_SUFFIX)?;
        let key = store.read_beside(KEY_SUFFIX)?;
        match (certificate, key) {
            (None, None) => Ok(None),
            (Some(certificate), Some(key)) => Ca::from_pem(&certificate, &key)
                .map(Some)
                .map_err(|e| {
                    Error::failure(format!(
                        "the registry's CA ({}) cannot be used: {e}; `mqreg ca import --force` or `mqreg ca init --force` replaces it",
                        store.name_beside(CERTIFICATE_SUFFIX)
                    ))
                }),
            (Some(_), None) | (None, Some(_)) => Err(Error::failure(format!(
                "the registry's CA is half there: {} and {} must both exist; `mqreg ca init --force` makes a new one",
                store.name_beside(CERTIFICATE_SUFFIX),
                store.name_beside(KEY_SUFFIX)
            ))),
        }
    }

    /// The CA, or an error that says how to make one.
    pub fn required(store: &Store) -> Result<Ca> {
        Ca::load(store)?.ok_or_else(|| {
            Error::failure(format!(
                "the registry has no CA yet ({} is missing); create one with `mqreg ca init`",
                store.name_beside(CERTIFICATE_SUFFIX)
            ))
        })
    }

    /// A new CA: an EC P-256 key and a self-signed certificate, as PEM
    /// (certificate, key).
    pub fn generate(subject: &str, days: u32) -> Result<(String, String)> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| Error::failure(format!("cannot make a key: {e}")))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, subject);
        // It signs device certificates only, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, days);
        params.serial_number = Some(random_serial());
        let certificate = params
            .self_signed(&key)
            .map_err(|e| Error::failure(format!("cannot sign the CA certificate: {e}")))?;
        Ok((certificate.pem(), key.serialize_pem()))
    }

    /// A CA from its certificate and key, checked: a CA certificate, and the
    /// key is its key.
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> std::result::Result<Ca, String> {
        let der = super::pem_block(certificate_pem, "CERTIFICATE")
            .map_err(|e| format!("the certificate is not PEM ({e})"))?;
        let (_, parsed) = X509Certificate::from_der(&der)
            .map_err(|e| format!("the certificate cannot be read: {e}"))?;
        if !parsed.is_ca() {
            return Err(
                "the certificate is not a CA certificate (basicConstraints CA:TRUE)".into(),
            );
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| {
            format!("the key cannot be read ({e}); a PKCS#8 PEM key (BEGIN PRIVATE KEY) of type EC, Ed25519 or RSA is needed")
        })?;
        if key.subject_public_key_info() != parsed.public_key().raw {
            return Err("the key is not the certificate's key".into());
        }
        let issuer = Issuer::from_ca_cert_der(&der.clone().into(), key)
            .map_err(|e| format!("the certificate cannot sign: {e}"))?;
        Ok(Ca {
            certificate_pem: pem_text("CERTIFICATE", &der),
            certificate_der: der,
            issuer,
        })
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// Whether this CA signed the certificate `pem`.
    pub fn signed(&self, pem: &str) -> bool {
        let Ok(der) = super::pem_block(pem, "CERTIFICATE") else {
            return false;
        };
        let (Ok((_, certificate)), Ok((_, ca))) = (
            X509Certificate::from_der(&der),
            X509Certificate::from_der(&self.certificate_der),
        ) else {
            return false;
        };
        certificate.issuer() == ca.subject()
            && certificate.verify_signature(Some(ca.public_key())).is_ok()
    }

    pub fn info(&self, store: &Store) -> CaInfo {
        let (_, parsed) =
            X509Certificate::from_der(&self.certificate_der).expect("checked when loaded");
        let seconds = parsed.validity().not_before.timestamp();
        CaInfo {
            subject: parsed.subject().to_string(),
            fingerprint: super::fingerprint(&self.certificate_der),
            serial: super::hex_pairs(parsed.raw_serial()),
            not_before: chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default(),
            not_after: super::not_after(&parsed),
            certificate_file: store.name_beside(CERTIFICATE_SUFFIX),
            certificate: self.certificate_pem.clone(),
        }
    }

    /// Signs a device certificate for `username` with the request's key:
    /// CN = the username, a client certificate only (not a CA, no names
    /// of hosts), whatever else the request asked for.
    pub fn issue(&self, csr: &Csr, username: &str, days: u32) -> Result<Issued> {
        let key = SubjectPublicKeyInfo::from_der(&csr.public_key)
            .map_err(|e| Error::usage(format!("the CSR's key cannot be used: {e}")))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, username);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, days);
        params.serial_number = Some(random_serial());
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| Error::failure(format!("cannot sign the certificate: {e}")))?;
        let der = certificate.der().to_vec();
        let (_, parsed) = X509Certificate::from_der(&der)
            .map_err(|e| Error::failure(format!("the new certificate cannot be read: {e}")))?;
        Ok(Issued {
            pem: certificate.pem(),
            serial: super::hex_pairs(parsed.raw_serial()),
            fingerprint: super::fingerprint(&der),
            not_after: super::not_after(&parsed),
        })
    }
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(BACKDATE_MINUTES);
    params.not_after = now + time::Duration::days(i64::from(days));
}

/// 16 random bytes, the first in 0x40..=0x7f: positive and always 16 bytes
/// long in DER, so a serial prints the same everywhere.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random source works");
    bytes[0] = (bytes[0] & 0x3f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device_csr(name: &str) -> (KeyPair, Csr) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        let request = params.serialize_request(&key).unwrap();
        (key, Csr::parse(&request.pem().unwrap()).unwrap())
    }

    #[test]
    fn a_new_ca_signs_a_client_certificate_for_the_username() {
        let (certificate, key) = Ca::generate("mqreg test CA", 30).unwrap();
        let ca = Ca::from_pem(&certificate, &key).unwrap();
        let (device_key, csr) = device_csr("sensor_1");
        assert_eq!(csr.key_type, "EC P-256");
        csr.check_for("sensor_1").unwrap();
        assert!(csr.check_for("sensor_2").unwrap_err().contains("sensor_1"));
        let issued = ca.issue(&csr, "sensor_1", 365).unwrap();
        let der = super::super::pem_block(&issued.pem, "CERTIFICATE").unwrap();
        let (_, parsed) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(parsed.subject().to_string(), "CN=sensor_1");
        assert!(!parsed.is_ca());
        assert_eq!(
            parsed.public_key().raw,
            device_key.subject_public_key_info()
        );
        let (_, ca_parsed) = X509Certificate::from_der(ca.certificate_der()).unwrap();
        parsed
            .verify_signature(Some(ca_parsed.public_key()))
            .unwrap();
        assert_eq!(issued.serial.len(), 16 * 3 - 1);
        let days = (issued.not_after - chrono::Utc::now()).num_days();
        assert!((364..=365).contains(&days), "{days}");
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let (certificate, _) = Ca::generate("one", 30).unwrap();
        let (_, other_key) = Ca::generate("two", 30).unwrap();
        let error = Ca::from_pem(&certificate, &other_key).err().unwrap();
        assert!(error.contains("not the certificate's key"), "{error}");
    }

    #[test]
    fn an_altered_csr_is_refused() {
        let (_, csr) = device_csr("sensor_1");
        let mut der = super::super::pem_block(&csr.pem, "CERTIFICATE REQUEST").unwrap();
        // The CN's last letter, inside the signed part.
        let at = der.windows(8).position(|w| w == b"sensor_1").unwrap() + 7;
        der[at] = b'9';
        let error = Csr::parse(&pem_text("CERTIFICATE REQUEST", &der)).unwrap_err();
        assert!(error.contains("signature does not verify"), "{error}");
        assert!(Csr::parse("hello").unwrap_err().contains("not a PEM"));
    }
}
