//! The registry's CA and the certificates it issues: `ca init/show/import`,
//! `cert issue`, `user revoke-cert`, and renewal over mutual TLS.

use serde::Serialize;

use super::now;
use crate::error::{Error, Result};
use crate::pki::ca::{self, Ca, CaInfo};
use crate::pki::csr::Csr;
use crate::state::store::Store;

/// Valid certificates a user may hold at once: renewal keeps the old one
/// valid, so a device (or a thief with its key) looping on renewal would
/// otherwise mint certificates without end.
pub const MAX_VALID_CERTIFICATES: usize = 4;

/// Longest validity accepted, in days (100 years).
pub const MAX_DAYS: u32 = 36_500;

/// `days` as a validity, or why not.
pub fn check_days(days: u32) -> Result<u32> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Error::usage(format!(
            "a validity of {days} days; give 1 to {MAX_DAYS}"
        )));
    }
    Ok(days)
}

/// Refuses a new certificate for a user that holds as many valid ones as it may.
fn check_room(username: &str, user: &crate::state::User) -> Result<()> {
    let now = now();
    let valid = user.certificates.iter().filter(|c| c.is_live(now)).count();
    if valid >= MAX_VALID_CERTIFICATES {
        return Err(Error::conflict(format!(
            "{username} holds {valid} valid certificates already; revoke one first (`mqreg user revoke-cert {username} SERIAL`)"
        )));
    }
    Ok(())
}

/// Makes the registry's CA beside the state; an existing one is replaced
/// only with `force` (every certificate it issued stops logging in).
pub fn ca_init(store: &Store, subject: &str, days: u32, force: bool) -> Result<CaInfo> {
    if subject.trim().is_empty() {
        return Err(Error::usage("the CA's subject must not be empty"));
    }
    let (certificate, key) = Ca::generate(subject, check_days(days)?)?;
    write(store, &certificate, &key, force)
}

/// Adopts an existing CA (certificate and PKCS#8 key, PEM).
pub fn ca_import(store: &Store, certificate: &str, key: &str, force: bool) -> Result<CaInfo> {
    Ca::from_pem(certificate, key).map_err(|e| Error::usage(format!("not imported: {e}")))?;
    write(store, certificate, key, force)
}

fn write(store: &Store, certificate: &str, key: &str, force: bool) -> Result<CaInfo> {
    store
        .write_beside(
            &[
                (ca::KEY_SUFFIX, key.as_bytes()),
                (ca::CERTIFICATE_SUFFIX, certificate.as_bytes()),
            ],
            force,
        )
        .map_err(|error| match error.code {
            crate::error::ExitCode::Conflict => Error::conflict(format!(
                "{error}: the registry has a CA already; `--force` replaces it, and the certificates it issued stop logging in"
            )),
            _ => error,
        })?;
    ca_show(store)
}

pub fn ca_show(store: &Store) -> Result<CaInfo> {
    let ca = Ca::load(store)?.ok_or_else(|| {
        Error::not_found(format!(
            "the registry has no CA ({} is missing); create one with `mqreg ca init`",
            store.name_beside(ca::CERTIFICATE_SUFFIX)
        ))
    })?;
    Ok(ca.info(store))
}

/// A certificate just issued, with the CA to trust it by: what a device
/// needs, and what `cert issue --json` and the enrolment routes answer.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub username: String,
    pub serial: String,
    pub fingerprint: String,
    pub not_after: String,
    pub certificate: String,
    pub ca: String,
}

/// Issues a certificate for an existing user from its CSR (PEM), as an
/// admin enrolling a device by hand.
pub fn issue(store: &Store, username: &str, csr: &str, days: Option<u32>) -> Result<Issued> {
    let checked = Csr::parse(csr).map_err(Error::usage)?;
    checked.check_for(username).map_err(Error::usage)?;
    let ca = Ca::required(store)?;
    store.update(|state| {
        let days = check_days(days.unwrap_or(state.registry.certificate_days))?;
        let user = state
            .users
            .get_mut(username)
            .ok_or_else(|| super::users::no_such_user(username))?;
        check_room(username, user)?;
        let certificate = super::registry::issue_certificate(&ca, username, &checked.pem, days)?;
        let issued = issued(username, &certificate, &ca);
        user.certificates.push(certificate);
        Ok(issued)
    })
}

fn issued(username: &str, certificate: &crate::state::UserCertificate, ca: &Ca) -> Issued {
    Issued {
        username: username.to_owned(),
        serial: certificate.serial.clone(),
        fingerprint: certificate.fingerprint.clone(),
        not_after: crate::output::rfc3339(certificate.not_after),
        certificate: certificate.pem.clone(),
        ca: ca.certificate_pem().to_owned(),
    }
}

/// The certificate `username` was issued for the key `key_fingerprint`,
/// still valid: what a device's poll with the same CSR collects.
pub fn collect(store: &Store, username: &str, key_fingerprint: &str) -> Result<Option<Issued>> {
    let state = store.load()?;
    let Some(user) = state.users.get(username) else {
        return Ok(None);
    };
    let now = now();
    let ca = Ca::required(store)?;
    // After `ca init --force` the old CA's certificates no longer log in:
    // only one the current CA signed is handed out.
    let Some(certificate) = user
        .certificates
        .iter()
        .rev()
        .find(|c| c.key_fingerprint == key_fingerprint && c.is_live(now) && ca.signed(&c.pem))
    else {
        return Ok(None);
    };
    Ok(Some(issued(username, certificate, &ca)))
}

/// A new certificate for the user a valid certificate (`presented`, its
/// fingerprint) names, for a new CSR of the same username; the old one stays
/// valid until it expires or is revoked.
pub fn renew(store: &Store, username: &str, presented: &str, csr: &str) -> Result<Issued> {
    let checked = Csr::parse(csr).map_err(Error::usage)?;
    checked.check_for(username).map_err(Error::usage)?;
    let ca = Ca::required(store)?;
    store.update(|state| {
        let days = check_days(state.registry.certificate_days)?;
        let now = now();
        let user = state
            .users
            .get_mut(username)
            .ok_or_else(|| super::users::no_such_user(username))?;
        if user.disabled {
            return Err(Error::conflict(format!("user {username} is disabled")));
        }
        if !user
            .certificates
            .iter()
            .any(|c| c.fingerprint == presented && c.is_live(now))
        {
            return Err(Error::conflict(format!(
                "the certificate presented is not a valid one of {username}'s (revoked, expired, or not issued by this registry)"
            )));
        }
        check_room(username, user)?;
        let certificate = super::registry::issue_certificate(&ca, username, &checked.pem, days)?;
        let issued = issued(username, &certificate, &ca);
        user.certificates.push(certificate);
        Ok(issued)
    })
}

/// What `user revoke-cert` did.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    pub username: String,
    /// Serials revoked now (already revoked ones are not listed).
    pub revoked: Vec<String>,
}

/// Revokes one certificate of `username` (by serial, with or without
/// colons) or all of them.
pub fn revoke(store: &Store, username: &str, serial: Option<&str>) -> Result<Revoked> {
    let wanted = serial.map(normalise_serial);
    store.update(|state| {
        let user = state
            .users
            .get_mut(username)
            .ok_or_else(|| super::users::no_such_user(username))?;
        let now = now();
        let mut revoked = Vec::new();
        let mut found = false;
        for certificate in &mut user.certificates {
            if wanted
                .as_ref()
                .is_some_and(|wanted| *wanted != normalise_serial(&certificate.serial))
            {
                continue;
            }
            found = true;
            if certificate.revoked.is_none() {
                certificate.revoked = Some(now);
                revoked.push(certificate.serial.clone());
            }
        }
        if let (Some(serial), false) = (serial, found) {
            return Err(Error::not_found(format!(
                "{username} has no certificate with serial {serial}; see `mqreg user show {username}`"
            )));
        }
        Ok(Revoked {
            username: username.to_owned(),
            revoked,
        })
    })
}

fn normalise_serial(serial: &str) -> String {
    serial
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect::<String>()
        .trim_start_matches('0')
        .to_owned()
}
