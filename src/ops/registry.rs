//! The registry window and the pending requests: status, unlock, lock, list,
//! show, approve, reject.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::now;
use crate::error::{Error, Result};
use crate::output;
use crate::state::served::ServedBy;
use crate::state::store::Store;
use crate::state::{ClientIdRule, PendingRequest, Selection, SelectionOutcome, SkipReason};

/// The longest window `unlock` accepts.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// A window like `90s`, `10m` or `1h`, at most 24 hours.
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let window = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration ({e}); write it like 90s, 10m or 1h"))?;
    if window.is_zero() {
        return Err("the window must be longer than 0s".into());
    }
    if window > MAX_WINDOW {
        return Err(format!("'{text}' is longer than the 24h maximum"));
    }
    Ok(window)
}

/// `registry status`.
#[derive(Debug, Serialize)]
pub struct Status {
    pub locked: bool,
    pub unlocked_until: Option<String>,
    pub remaining_seconds: i64,
    pub pending: usize,
    /// The state file this describes.
    pub state: String,
    /// The broker serving that file, if one runs.
    pub served_by: Option<ServedBy>,
    /// With the state in PostgreSQL: whether the database answered, and if
    /// not, why (the status is then this gateway's copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseStatus>,
    /// Clients connected to it, when it could be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<usize>,
}

/// The registry database as `registry status` reports it.
#[derive(Debug, Serialize)]
pub struct DatabaseStatus {
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The status; while the registry database is away, from this gateway's copy.
pub fn status(store: &Store) -> Result<Status> {
    let (state, unreachable) = store.load_or_copy()?;
    let mut status = status_of(store, state.status(now()));
    if let Some(database) = &mut status.database {
        if let Some(error) = unreachable {
            database.reachable = false;
            database.error = Some(error.message.clone());
        }
    }
    Ok(status)
}

fn status_of(store: &Store, status: crate::state::RegistryStatus) -> Status {
    Status {
        database: store.database().map(|_| DatabaseStatus {
            reachable: true,
            error: None,
        }),
        locked: status.locked,
        unlocked_until: status.unlocked_until.map(output::rfc3339),
        remaining_seconds: status.remaining_seconds,
        pending: status.pending,
        state: store.describe(),
        served_by: ServedBy::find(store.path()),
        clients: None,
    }
}

pub fn unlock(store: &Store, window: Duration) -> Result<Status> {
    let status = store.update(|state| {
        let now = now();
        state.unlock(now, window);
        Ok(state.status(now))
    })?;
    Ok(status_of(store, status))
}

pub fn lock(store: &Store) -> Result<Status> {
    let status = store.update(|state| {
        state.lock();
        Ok(state.status(now()))
    })?;
    Ok(status_of(store, status))
}

/// One row of `registry list`.
#[derive(Debug, Serialize)]
pub struct RequestRow {
    pub username: String,
    pub client_id: String,
    pub address: String,
    pub protocol: String,
    pub first_seen: String,
    pub last_seen: String,
    pub attempts: u64,
    pub conflict: bool,
    /// Distinct passwords offered (more than one: a conflict).
    pub passwords: usize,
}

pub fn list(store: &Store) -> Result<Vec<RequestRow>> {
    let state = store.load()?;
    Ok(state
        .live_pending(now())
        .map(|(name, r)| RequestRow {
            username: name.clone(),
            client_id: r.client_id.clone(),
            address: r.address.clone(),
            protocol: r.protocol.clone(),
            first_seen: output::rfc3339(r.first_seen),
            last_seen: output::rfc3339(r.last_seen),
            attempts: r.attempts,
            conflict: r.conflict,
            passwords: r.passwords.len(),
        })
        .collect())
}

/// A pending request as `registry show` and `registry watch` give it:
/// `registry list`'s fields plus the numbered password attempts (never a hash).
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub username: String,
    pub client_id: String,
    pub address: String,
    pub protocol: String,
    pub first_seen: String,
    pub last_seen: String,
    pub attempts: u64,
    pub conflict: bool,
    pub passwords: Vec<Attempt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub attempt: usize,
    pub client_id: String,
    pub address: String,
    pub protocol: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
    /// Whether it came with a password (REST registrations may send a CSR
    /// alone).
    pub password: bool,
    /// A REST registration's CSR: subject, key type and the SHA-256 of its
    /// key, to compare with the device's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr: Option<CsrSummary>,
    /// A REST registration's context object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CsrSummary {
    pub subject: String,
    pub key_type: String,
    pub key_fingerprint: String,
}

impl Request {
    pub fn new(name: &str, request: &PendingRequest) -> Self {
        Self {
            username: name.to_owned(),
            client_id: request.client_id.clone(),
            address: request.address.clone(),
            protocol: request.protocol.clone(),
            first_seen: output::rfc3339(request.first_seen),
            last_seen: output::rfc3339(request.last_seen),
            attempts: request.attempts,
            conflict: request.conflict,
            passwords: request
                .passwords
                .iter()
                .enumerate()
                .map(|(index, attempt)| Attempt {
                    attempt: index + 1,
                    client_id: attempt.client_id.clone(),
                    address: attempt.address.clone(),
                    protocol: attempt.protocol.clone(),
                    first_seen: output::rfc3339(attempt.first_seen),
                    last_seen: output::rfc3339(attempt.last_seen),
                    count: attempt.count,
                    password: !attempt.password_hash.is_empty(),
                    csr: attempt.enrolment.as_ref().and_then(|enrolment| {
                        Some(CsrSummary {
                            subject: enrolment.csr_subject.clone()?,
                            key_type: enrolment.csr_key_type.clone().unwrap_or_default(),
                            key_fingerprint: enrolment.csr_key_fingerprint.clone()?,
                        })
                    }),
                    context: attempt
                        .enrolment
                        .as_ref()
                        .and_then(|enrolment| enrolment.context.as_deref())
                        .and_then(|text| serde_json::from_str(text).ok()),
                })
                .collect(),
        }
    }
}

pub fn show(store: &Store, name: &str) -> Result<Request> {
    let state = store.load()?;
    let found = state
        .live_pending(now())
        .find(|(pending, _)| *pending == name)
        .map(|(name, request)| Request::new(name, request));
    found.ok_or_else(|| {
        Error::not_found(format!(
            "no pending request for '{}'; see `mqreg registry list`",
            crate::names::printable(name)
        ))
    })
}

/// What `approve` is asked.
#[derive(Debug)]
pub struct Approval {
    pub selection: Selection,
    pub roles: Vec<String>,
    pub force: bool,
    pub attempt: Option<u32>,
}

/// What `approve` or `reject` did. Serialised as the contract's
/// `{"approved"|"rejected": [...], "not_found": [...], "skipped": [...]}`.
#[derive(Debug)]
pub struct Decided {
    /// `approved` or `rejected`.
    pub verb: &'static str,
    pub outcome: SelectionOutcome,
    pub roles: Vec<String>,
    /// Requests that need `--attempt N`, with their attempts to choose from.
    pub needing_attempt: Vec<Request>,
}

impl Serialize for Decided {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry(self.verb, &self.outcome.done)?;
        map.serialize_entry("not_found", &self.outcome.not_found)?;
        let skipped: Vec<&str> = self
            .outcome
            .skipped
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        map.serialize_entry("skipped", &skipped)?;
        map.end()
    }
}

impl Decided {
    /// The exit status: requests named explicitly that were not found (3),
    /// need an attempt number (2) or were refused (4). `--all` and `--match`
    /// report their skips but succeed.
    pub fn verdict(&self, named: &[String]) -> Result<()> {
        let verb = self.verb;
        let refused: Vec<&str> = self
            .outcome
            .skipped
            .iter()
            .filter(|(name, _)| named.contains(name))
            .map(|(name, _)| name.as_str())
            .collect();
        let unclear: Vec<&str> = self
            .outcome
            .skipped
            .iter()
            .filter(|(name, reason)| {
                named.contains(name)
                    && matches!(reason, SkipReason::NeedsAttempt | SkipReason::NoSuchAttempt)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        if !unclear.is_empty() && self.outcome.not_found.is_empty() {
            return Err(Error::usage(format!(
                "not {verb}: {}: name one password attempt with --attempt N (`mqreg registry show {}` numbers them)",
                unclear.join(", "),
                unclear[0]
            )));
        }
        if !self.outcome.not_found.is_empty() {
            return Err(Error::not_found(format!(
                "no such pending request: {}",
                self.outcome.not_found.join(", ")
            )));
        }
        if !refused.is_empty() {
            let reasons: Vec<String> = self
                .outcome
                .skipped
                .iter()
                .filter(|(name, _)| named.contains(name))
                .map(|(name, reason)| format!("{name} ({})", skip_text(name, reason)))
                .collect();
            return Err(Error::conflict(format!(
                "not {verb}: {}",
                reasons.join("; ")
            )));
        }
        Ok(())
    }
}

/// Signs `csr` (PEM, checked when it was received) for `username`, as the
/// record its user keeps.
pub fn issue_certificate(
    ca: &crate::pki::ca::Ca,
    username: &str,
    csr: &str,
    days: u32,
) -> Result<crate::state::UserCertificate> {
    let csr = crate::pki::csr::Csr::parse(csr).map_err(Error::usage)?;
    csr.check_for(username).map_err(Error::usage)?;
    let issued = ca.issue(&csr, username, days)?;
    Ok(crate::state::UserCertificate {
        serial: issued.serial,
        fingerprint: issued.fingerprint,
        key_fingerprint: csr.key_fingerprint,
        issued: now(),
        not_after: issued.not_after,
        revoked: None,
        pem: issued.pem,
    })
}

/// Why a request was skipped, and what to do about it.
pub fn skip_text(name: &str, reason: &SkipReason) -> String {
    match reason {
        SkipReason::Conflict => format!(
            "it was seen with two different passwords and may be an impostor; check `mqreg registry show {name}`, \
             then `mqreg registry approve {name} --force --attempt N` or reject it"
        ),
        SkipReason::UserExists => {
            "a user of that name exists already; reject the request or delete the user".to_owned()
        }
        SkipReason::NeedsAttempt => format!(
            "it was seen with several passwords; say which becomes the user's with \
             `mqreg registry approve {name} --force --attempt N` (see `mqreg registry show {name}`)"
        ),
        SkipReason::NoSuchAttempt => {
            format!("it has no such attempt; see `mqreg registry show {name}`")
        }
        SkipReason::NoCertificate => {
            "it sent a CSR and the registry has no CA to sign it; create one with `mqreg ca init`, then approve again"
                .to_owned()
        }
    }
}

pub fn approve(store: &Store, approval: Approval) -> Result<Decided> {
    let Approval {
        selection,
        roles,
        force,
        attempt,
    } = approval;
    if attempt.is_some()
        && (selection.names.len() != 1 || selection.all || selection.pattern.is_some())
    {
        return Err(Error::usage(
            "--attempt picks a password of one request: name exactly one USERNAME (and no --all or --match)",
        ));
    }
    // Read before the lock: a request that sent a CSR gets its certificate
    // signed in the same update that makes it a user.
    // A broken CA file matters only to requests that sent a CSR: they are
    // skipped (and the reason logged); password requests are approved.
    let ca = crate::pki::ca::Ca::load(store).map_err(|error| {
        tracing::warn!("{error}");
        error
    });
    store.update(|state| {
        let missing = state.missing_roles(&roles);
        if !missing.is_empty() {
            return Err(Error::not_found(format!(
                "no such role: {}; nothing was approved. Create it with `mqreg role create {}`",
                missing.join(", "),
                missing[0]
            )));
        }
        let days = state.registry.certificate_days;
        let outcome = state.approve_with(
            &selection,
            &roles,
            force,
            attempt.map(|n| n as usize),
            now(),
            &mut |username, csr| {
                let ca = ca.as_ref().ok()?.as_ref()?;
                issue_certificate(ca, username, csr, days)
                    .map_err(|error| {
                        tracing::warn!("cannot issue a certificate to {username}: {error}")
                    })
                    .ok()
            },
        );
        let needing_attempt = outcome
            .skipped
            .iter()
            .filter(|(_, reason)| {
                matches!(reason, SkipReason::NeedsAttempt | SkipReason::NoSuchAttempt)
            })
            .filter_map(|(name, _)| state.pending.get(name).map(|r| Request::new(name, r)))
            .collect();
        Ok(Decided {
            verb: "approved",
            outcome,
            roles: roles.clone(),
            needing_attempt,
        })
    })
}

pub fn reject(store: &Store, selection: Selection) -> Result<Decided> {
    let outcome = store.update(|state| Ok(state.reject(&selection, now())))?;
    Ok(Decided {
        verb: "rejected",
        outcome,
        roles: Vec::new(),
        needing_attempt: Vec::new(),
    })
}

/// Which pending requests an approval or rejection names: usernames, every
/// request, or a glob. Nothing named is a usage error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionRequest {
    #[serde(default)]
    pub usernames: Vec<String>,
    #[serde(default)]
    pub all: bool,
    #[serde(default, rename = "match")]
    pub pattern: Option<String>,
}

impl SelectionRequest {
    pub fn into_selection(self, verb: &str) -> Result<Selection> {
        let pattern = self
            .pattern
            .map(|text| parse_glob(&text).map_err(Error::usage))
            .transpose()?;
        if self.usernames.is_empty() && !self.all && pattern.is_none() {
            return Err(Error::usage(format!(
                "name the requests to {verb}, or pass --all or --match GLOB; see `mqreg registry list`"
            )));
        }
        Ok(Selection {
            names: self.usernames,
            all: self.all,
            pattern,
        })
    }
}

pub fn parse_glob(text: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(text).map_err(|e| format!("'{text}' is not a valid glob: {e}"))
}

/// The pending requests a selection matches now, without changing anything:
/// the preview of a bulk approval.
pub fn preview(store: &Store, selection: &Selection) -> Result<Vec<String>> {
    let state = store.load()?;
    let now = now();
    Ok(state
        .live_pending(now)
        .map(|(name, _)| name)
        .filter(|name| {
            selection.all
                || selection.names.contains(name)
                || selection
                    .pattern
                    .as_ref()
                    .is_some_and(|pattern| pattern.matches(name))
        })
        .cloned()
        .collect())
}

/// The registry-wide client id rule, and the users a `registered` rule
/// leaves without any client id (they can no longer log in).
#[derive(Debug, Serialize)]
pub struct ClientIds {
    pub client_ids: ClientIdRule,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locked_out: Vec<String>,
}

pub fn client_ids(store: &Store) -> Result<ClientIds> {
    Ok(ClientIds {
        client_ids: store.load()?.registry.client_ids,
        locked_out: Vec::new(),
    })
}

pub fn set_client_ids(store: &Store, rule: ClientIdRule) -> Result<ClientIds> {
    store.update(|state| {
        state.registry.client_ids = rule;
        let registered_only = state.registry.client_ids == ClientIdRule::Registered;
        let locked_out = state
            .users
            .iter()
            .filter(|(_, user)| {
                registered_only
                    && user.client_ids.is_none()
                    && user.registered_client_ids.is_empty()
            })
            .map(|(name, _)| name.clone())
            .collect();
        Ok(ClientIds {
            client_ids: state.registry.client_ids.clone(),
            locked_out,
        })
    })
}
