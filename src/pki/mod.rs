//! Certificates: the registry's own CA, the signing requests devices send,
//! and the client certificates they log in with.
//!
//! Nothing here knows MQTT or HTTP: the broker asks [`trust::Trust`] who a
//! certificate names, the enrolment routes ask [`csr::Csr`] whether a
//! request is one the registry signs, and approvals ask [`ca::Ca`] to sign
//! it. Certificates are made with rcgen and read with x509-parser, never by
//! running openssl, so what is issued does not depend on a tool's version
//! or configuration on the gateway.

pub mod ca;
pub mod csr;
pub mod trust;

/// The SHA-256 fingerprint of DER bytes, as `openssl x509 -fingerprint
/// -sha256` prints it: upper-case hex pairs joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    hex_pairs(digest.as_ref())
}

/// Bytes as upper-case hex pairs joined by colons (`4A:0F:...`).
pub fn hex_pairs(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A certificate's validity end as a UTC timestamp.
fn not_after(
    certificate: &x509_parser::certificate::X509Certificate<'_>,
) -> crate::state::Timestamp {
    let seconds = certificate.validity().not_after.timestamp();
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// The first PEM block labelled `label` in `text`, as DER.
fn pem_block(text: &str, label: &str) -> Result<Vec<u8>, String> {
    for pem in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
        let pem = pem.map_err(|e| format!("not PEM: {e}"))?;
        if pem.label == label {
            return Ok(pem.contents);
        }
    }
    Err(format!("no PEM block labelled {label}"))
}
