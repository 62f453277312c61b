//! The registry's state: users, roles, pending requests and the registry window.
//!
//! This module is the data and the pure edits on it; [`store`] puts it in a file.
//! Neither knows anything of MQTT or of terminals: the CLI and the broker both
//! load a [`State`], change it with these methods, and save it through the store.
//!
//! The registry window is a deadline (`unlocked_until`), not a flag, so the
//! registry locks itself when the time passes, across restarts, with no timer.

pub mod access;
mod bulk;
pub mod files;
pub mod postgres;
pub mod quotas;
pub mod served;
pub mod store;
pub mod tokens;
pub mod watcher;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::names;
use crate::password::{self, HashCost, PasswordPolicy};
use crate::topic;
pub use access::{Ban, BanKind, Barrier, ClientIdRule, FloodLimits};

/// Bumped when the file layout changes in a way older binaries cannot read.
pub const SCHEMA_VERSION: u32 = 2;

pub type Timestamp = DateTime<Utc>;

/// The protocol recorded for a registration made over HTTPS
/// (`POST /api/client-registry/register`), which has no client id.
pub const REST_PROTOCOL: &str = "REST";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default = "current_version")]
    pub version: u32,
    #[serde(default)]
    pub registry: Registry,
    #[serde(default)]
    pub password_policy: PasswordPolicy,
    #[serde(default)]
    pub argon2: HashCost,
    #[serde(default)]
    pub flood: FloodLimits,
    #[serde(default)]
    pub quotas: quotas::Quotas,
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bans: Vec<Ban>,
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    #[serde(default)]
    pub pending: BTreeMap<String, PendingRequest>,
    /// API tokens by name (their digests only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokens: BTreeMap<String, tokens::ApiToken>,
}

fn current_version() -> u32 {
    SCHEMA_VERSION
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: SCHEMA_VERSION,
            registry: Registry::default(),
            password_policy: PasswordPolicy::default(),
            argon2: HashCost::default(),
            flood: FloodLimits::default(),
            quotas: quotas::Quotas::default(),
            roles: BTreeMap::new(),
            bans: Vec::new(),
            users: BTreeMap::new(),
            pending: BTreeMap::new(),
            tokens: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Registry {
    /// Open until this instant; `None` or a past instant means locked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlocked_until: Option<Timestamp>,
    /// At most this many pending requests are kept.
    pub max_pending: usize,
    /// Pending requests older than this (since last seen) are dropped.
    #[serde(with = "humantime_serde_str")]
    pub pending_max_age: Duration,
    /// Which client ids users may connect with, unless a user says otherwise.
    pub client_ids: ClientIdRule,
    /// How long a certificate issued at approval (to a request that sent a
    /// CSR) is valid, in days.
    pub certificate_days: u32,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            unlocked_until: None,
            max_pending: 1000,
            pending_max_age: Duration::from_secs(24 * 3600),
            client_ids: ClientIdRule::Any,
            certificate_days: 365,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub created: Timestamp,
    /// Refused at login and disconnected, but kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// Overrides the registry's client id rule for this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ids: Option<ClientIdRule>,
    /// The client id(s) its registration was approved with, for the
    /// `registered` rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_client_ids: Vec<String>,
    /// Quotas of this user's own, over its roles' and the defaults.
    #[serde(default, skip_serializing_if = "quotas::QuotaOverrides::is_empty")]
    pub quotas: quotas::QuotaOverrides,
    /// Certificates the registry's CA issued to it, revoked ones included
    /// (a certificate of the registry's CA logs in only if it is here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<UserCertificate>,
}

/// A certificate the registry issued to a user. The certificate itself is
/// public; it is kept so the device can collect it by polling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCertificate {
    /// Hex pairs, as `openssl x509 -serial` shows them with colons.
    pub serial: String,
    /// SHA-256 of the certificate.
    pub fingerprint: String,
    /// SHA-256 of its public key: how a device's later poll with the same
    /// CSR finds it.
    pub key_fingerprint: String,
    pub issued: Timestamp,
    pub not_after: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Timestamp>,
    pub pem: String,
}

impl UserCertificate {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked.is_none() && self.not_after > now
    }
}

impl User {
    /// A user with a password and roles, and nothing else set.
    pub fn new(password_hash: String, roles: Vec<String>, created: Timestamp) -> Self {
        Self {
            password_hash,
            roles,
            created,
            disabled: false,
            client_ids: None,
            registered_client_ids: Vec::new(),
            quotas: quotas::QuotaOverrides::default(),
            certificates: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Quotas for the role's users, over the defaults.
    #[serde(default, skip_serializing_if = "quotas::QuotaOverrides::is_empty")]
    pub quotas: quotas::QuotaOverrides,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub access: Access,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Subscribe.
    Read,
    /// Publish.
    Write,
    ReadWrite,
}

impl Access {
    fn bits(self) -> u8 {
        match self {
            Access::Read => 1,
            Access::Write => 2,
            Access::ReadWrite => 3,
        }
    }
    fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            1 => Some(Access::Read),
            2 => Some(Access::Write),
            3 => Some(Access::ReadWrite),
            _ => None,
        }
    }
    pub fn can_read(self) -> bool {
        self.bits() & 1 != 0
    }
    pub fn can_write(self) -> bool {
        self.bits() & 2 != 0
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "readwrite",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = String;

    /// Parses `ACCESS:FILTER`, as given to `role create --allow` and `role allow`.
    fn from_str(text: &str) -> Result<Self, String> {
        let Some((access, filter)) = text.split_once(':') else {
            return Err(format!(
                "invalid permission '{}': write it as ACCESS:FILTER, e.g. 'write:devices/{{username}}/#'",
                names::printable(text)
            ));
        };
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            "readwrite" => Access::ReadWrite,
            other => {
                return Err(format!(
                "invalid access '{}' in '{}': use read (subscribe), write (publish) or readwrite",
                names::printable(other),
                names::printable(text)
            ))
            }
        };
        topic::check_filter(filter)?;
        Ok(Permission {
            access,
            filter: filter.to_owned(),
        })
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.access.as_str(), self.filter)
    }
}

impl Role {
    /// Adds access; `read:x` then `write:x` gives `readwrite:x`.
    pub fn allow(&mut self, permission: &Permission) {
        match self
            .permissions
            .iter_mut()
            .find(|p| p.filter == permission.filter)
        {
            Some(existing) => {
                existing.access =
                    Access::from_bits(existing.access.bits() | permission.access.bits())
                        .expect("the union of two accesses is an access");
            }
            None => self.permissions.push(permission.clone()),
        }
    }

    /// Removes access; `disallow write:x` on `readwrite:x` leaves `read:x`.
    /// Returns whether anything was granted for that filter.
    pub fn disallow(&mut self, permission: &Permission) -> bool {
        let Some(index) = self
            .permissions
            .iter()
            .position(|p| p.filter == permission.filter)
        else {
            return false;
        };
        let existing = &mut self.permissions[index];
        let had = existing.access.bits() & permission.access.bits() != 0;
        match Access::from_bits(existing.access.bits() & !permission.access.bits()) {
            Some(rest) => existing.access = rest,
            None => {
                self.permissions.remove(index);
            }
        }
        had
    }
}

/// Distinct passwords kept per pending request; further ones are counted in
/// `attempts` and mark the request, but are not kept.
pub const MAX_PASSWORDS_PER_REQUEST: usize = 5;

/// An unknown device's request to become a user. The client id, address and
/// protocol are those of its latest attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PendingText")]
pub struct PendingRequest {
    pub client_id: String,
    /// Peer address, `IP:PORT`.
    pub address: String,
    /// MQTT protocol version: `3.1.1` or `5`.
    pub protocol: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub attempts: u64,
    /// Seen with more than one password: it may be an impostor.
    pub conflict: bool,
    /// Each distinct password offered, in the order first seen (at least one).
    pub passwords: Vec<PasswordAttempt>,
}

/// One distinct password a pending request was seen with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordAttempt {
    /// argon2id PHC string of the password; never the password.
    pub password_hash: String,
    pub client_id: String,
    pub address: String,
    pub protocol: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
    /// What a device enrolling over HTTPS sent besides (or instead of) a
    /// password: its CSR and context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment: Option<Enrolment>,
}

/// A REST registration's certificate signing request and context. An
/// attempt without a password has an empty `password_hash`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// The CSR, PEM; checked when it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_key_type: Option<String>,
    /// SHA-256 of the CSR's public key, for the admin to compare with the
    /// device's label, and what tells one CSR from another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_key_fingerprint: Option<String>,
    /// The device's `context` object, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

impl Enrolment {
    pub fn key(&self) -> Option<&str> {
        self.csr_key_fingerprint.as_deref()
    }
}

impl PasswordAttempt {
    /// The CSR key fingerprint this attempt enrolled with, if any.
    pub fn csr_key(&self) -> Option<&str> {
        self.enrolment.as_ref().and_then(Enrolment::key)
    }

    /// A password seen once, now.
    fn first(
        password_hash: String,
        client_id: &str,
        address: &str,
        protocol: &str,
        now: Timestamp,
    ) -> Self {
        Self {
            password_hash,
            client_id: client_id.to_owned(),
            address: address.to_owned(),
            protocol: protocol.to_owned(),
            first_seen: now,
            last_seen: now,
            count: 1,
            enrolment: None,
        }
    }
}

/// A pending request as the file holds it. Schema 1 had one `password_hash`
/// per request; such a request reads as one with that single password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingText {
    client_id: String,
    address: String,
    protocol: String,
    first_seen: Timestamp,
    last_seen: Timestamp,
    attempts: u64,
    #[serde(default)]
    conflict: bool,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    passwords: Vec<PasswordAttempt>,
}

impl TryFrom<PendingText> for PendingRequest {
    type Error = String;
    fn try_from(text: PendingText) -> Result<Self, String> {
        let mut passwords = text.passwords;
        if let Some(hash) = text.password_hash {
            passwords.insert(
                0,
                PasswordAttempt {
                    password_hash: hash,
                    client_id: text.client_id.clone(),
                    address: text.address.clone(),
                    protocol: text.protocol.clone(),
                    first_seen: text.first_seen,
                    last_seen: text.last_seen,
                    count: text.attempts,
                    enrolment: None,
                },
            );
        }
        if passwords.is_empty() {
            return Err("a pending request needs a password_hash or a [[passwords]] entry".into());
        }
        Ok(PendingRequest {
            client_id: text.client_id,
            address: text.address,
            protocol: text.protocol,
            first_seen: text.first_seen,
            last_seen: text.last_seen,
            attempts: text.attempts,
            conflict: text.conflict || passwords.len() > 1,
            passwords,
        })
    }
}

impl PendingRequest {
    /// A request seen once.
    pub fn new(
        password_hash: String,
        client_id: String,
        address: String,
        protocol: String,
        now: Timestamp,
    ) -> Self {
        Self {
            passwords: vec![PasswordAttempt::first(
                password_hash,
                &client_id,
                &address,
                &protocol,
                now,
            )],
            client_id,
            address,
            protocol,
            first_seen: now,
            last_seen: now,
            attempts: 1,
            conflict: false,
        }
    }

    /// The hashes of its passwords, in order.
    pub fn password_hashes(&self) -> Vec<String> {
        self.passwords
            .iter()
            .map(|attempt| attempt.password_hash.clone())
            .collect()
    }

    /// The hashes of the attempts made with the CSR key `csr_key` (`None`:
    /// those without a CSR, as every MQTT attempt is): the ones an offered
    /// password with that key may match.
    pub fn password_hashes_for(&self, csr_key: Option<&str>) -> Vec<String> {
        self.passwords
            .iter()
            .filter(|attempt| attempt.csr_key() == csr_key)
            .map(|attempt| attempt.password_hash.clone())
            .collect()
    }
}

/// What `registry status` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryStatus {
    pub locked: bool,
    pub unlocked_until: Option<Timestamp>,
    pub remaining_seconds: i64,
    pub pending: usize,
}

/// Which pending requests a command acts on: named ones, every one, or a glob.
#[derive(Debug, Default)]
pub struct Selection {
    pub names: Vec<String>,
    pub all: bool,
    pub pattern: Option<glob::Pattern>,
}

/// The result of `approve` or `reject`.
#[derive(Debug, Default, PartialEq)]
pub struct SelectionOutcome {
    /// Approved or rejected.
    pub done: Vec<String>,
    /// Named requests that do not exist.
    pub not_found: Vec<String>,
    /// Requests left alone, each with the reason.
    pub skipped: Vec<(String, SkipReason)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Seen with two passwords; needs to be named with `--force`.
    Conflict,
    /// A user of that name exists already.
    UserExists,
    /// Seen with several passwords: `--attempt N` must say which one.
    NeedsAttempt,
    /// `--attempt N` names no attempt of this request.
    NoSuchAttempt,
    /// It sent a CSR, and no certificate could be issued (no CA).
    NoCertificate,
}

impl State {
    pub fn is_unlocked(&self, now: Timestamp) -> bool {
        self.registry
            .unlocked_until
            .is_some_and(|until| until > now)
    }

    pub fn status(&self, now: Timestamp) -> RegistryStatus {
        let unlocked_until = self.registry.unlocked_until.filter(|until| *until > now);
        RegistryStatus {
            locked: unlocked_until.is_none(),
            unlocked_until,
            remaining_seconds: unlocked_until.map_or(0, |until| {
                let millis = (until - now).num_milliseconds();
                (millis + 999) / 1000
            }),
            pending: self.live_pending(now).count(),
        }
    }

    pub fn unlock(&mut self, now: Timestamp, window: Duration) {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        self.registry.unlocked_until = now.checked_add_signed(window);
    }

    pub fn lock(&mut self) {
        self.registry.unlocked_until = None;
    }

    fn is_expired(&self, request: &PendingRequest, now: Timestamp) -> bool {
        let max_age = chrono::Duration::from_std(self.registry.pending_max_age)
            .unwrap_or(chrono::Duration::MAX);
        request
            .last_seen
            .checked_add_signed(max_age)
            .is_some_and(|end| end <= now)
    }

    /// Pending requests that have not expired, by username.
    pub fn live_pending(&self, now: Timestamp) -> impl Iterator<Item = (&String, &PendingRequest)> {
        self.pending
            .iter()
            .filter(move |(_, request)| !self.is_expired(request, now))
    }

    /// Drops expired requests and bans; called before every save.
    pub fn prune_expired(&mut self, now: Timestamp) {
        self.bans.retain(|ban| ban.is_active(now));
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, request)| self.is_expired(request, now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in expired {
            self.pending.remove(&name);
        }
    }

    /// Resolves a selection to pending usernames, in order, each once.
    fn select(&self, selection: &Selection, now: Timestamp) -> (Vec<(String, bool)>, Vec<String>) {
        let mut chosen: Vec<(String, bool)> = Vec::new();
        let mut not_found = Vec::new();
        for name in &selection.names {
            if self
                .pending
                .get(name)
                .is_some_and(|r| !self.is_expired(r, now))
            {
                if !chosen.iter().any(|(n, _)| n == name) {
                    chosen.push((name.clone(), true));
                }
            } else if !not_found.contains(name) {
                not_found.push(name.clone());
            }
        }
        if selection.all || selection.pattern.is_some() {
            for (name, _) in self.live_pending(now) {
                let wanted =
                    selection.all || selection.pattern.as_ref().is_some_and(|p| p.matches(name));
                if wanted && !chosen.iter().any(|(n, _)| n == name) {
                    chosen.push((name.clone(), false));
                }
            }
        }
        (chosen, not_found)
    }

    /// Turns pending requests into users with `roles`. A conflicted request is
    /// approved only when named explicitly and `force` is set, and when it was
    /// seen with several passwords, only with `attempt` (numbered from 1)
    /// saying which becomes the user's; bulk selections always skip it. Roles
    /// must exist (checked by the caller).
    pub fn approve(
        &mut self,
        selection: &Selection,
        roles: &[String],
        force: bool,
        attempt: Option<usize>,
        now: Timestamp,
    ) -> SelectionOutcome {
        self.approve_with(selection, roles, force, attempt, now, &mut |_, _| None)
    }

    /// [`State::approve`], with `issue` signing the certificate of a
    /// request that sent a CSR (username, CSR PEM); a request whose
    /// certificate cannot be issued (no CA) is skipped and stays pending.
    pub fn approve_with(
        &mut self,
        selection: &Selection,
        roles: &[String],
        force: bool,
        attempt: Option<usize>,
        now: Timestamp,
        issue: &mut dyn FnMut(&str, &str) -> Option<UserCertificate>,
    ) -> SelectionOutcome {
        let (chosen, not_found) = self.select(selection, now);
        let mut outcome = SelectionOutcome {
            not_found,
            ..SelectionOutcome::default()
        };
        for (name, named) in chosen {
            let request = &self.pending[&name];
            let several = request.passwords.len() > 1;
            let index = match attempt {
                Some(number) => number.checked_sub(1),
                None => Some(0),
            };
            if self.users.contains_key(&name) {
                outcome.skipped.push((name, SkipReason::UserExists));
            } else if request.conflict && !(named && force) {
                outcome.skipped.push((name, SkipReason::Conflict));
            } else if several && attempt.is_none() {
                outcome.skipped.push((name, SkipReason::NeedsAttempt));
            } else if index.is_none_or(|index| index >= request.passwords.len()) {
                outcome.skipped.push((name, SkipReason::NoSuchAttempt));
            } else {
                let index = index.unwrap_or(0);
                let csr = request.passwords[index]
                    .enrolment
                    .as_ref()
                    .and_then(|enrolment| enrolment.csr.clone());
                let certificate = match csr {
                    Some(csr) => match issue(&name, &csr) {
                        Some(certificate) => Some(certificate),
                        None => {
                            outcome.skipped.push((name, SkipReason::NoCertificate));
                            continue;
                        }
                    },
                    None => None,
                };
                let mut request = self.pending.remove(&name).expect("selected from pending");
                let chosen = request.passwords.swap_remove(index);
                let mut user = User::new(chosen.password_hash, sorted_unique(roles.to_vec()), now);
                // A REST registration has no client id to bind the user to.
                // (An MQTT 5 device that sent an empty one is bound to the
                // empty id: it will send that again.)
                user.registered_client_ids = if chosen.protocol == REST_PROTOCOL {
                    Vec::new()
                } else {
                    vec![chosen.client_id]
                };
                user.certificates.extend(certificate);
                self.users.insert(name.clone(), user);
                outcome.done.push(name);
            }
        }
        outcome
    }

    pub fn reject(&mut self, selection: &Selection, now: Timestamp) -> SelectionOutcome {
        let (chosen, not_found) = self.select(selection, now);
        for (name, _) in &chosen {
            self.pending.remove(name);
        }
        SelectionOutcome {
            not_found,
            done: chosen.into_iter().map(|(name, _)| name).collect(),
            ..SelectionOutcome::default()
        }
    }

    /// Role names among `roles` that are not defined.
    pub fn missing_roles<'a>(&self, roles: &'a [String]) -> Vec<&'a str> {
        roles
            .iter()
            .filter(|role| !self.roles.contains_key(*role))
            .map(String::as_str)
            .collect()
    }

    /// Every permission a user holds through its roles (unknown roles grant nothing).
    pub fn permissions_of<'a>(&'a self, user: &'a User) -> impl Iterator<Item = &'a Permission> {
        user.roles
            .iter()
            .filter_map(|role| self.roles.get(role))
            .flat_map(|role| role.permissions.iter())
    }

    /// Checks what serde cannot: names, filters and hashes, so that a hand-edited
    /// file cannot smuggle in a username that escapes `{username}`.
    pub fn check(&self) -> Result<(), String> {
        if self.version > SCHEMA_VERSION {
            return Err(format!(
                "it has schema version {}, but this mqreg reads up to version {SCHEMA_VERSION}; upgrade mqreg",
                self.version
            ));
        }
        self.argon2.check()?;
        self.flood.check()?;
        if !(1..=36_500).contains(&self.registry.certificate_days) {
            return Err(format!(
                "[registry] certificate_days = {}: give 1 to 36500",
                self.registry.certificate_days
            ));
        }
        for (name, role) in &self.roles {
            names::check_role(name)?;
            for permission in &role.permissions {
                topic::check_filter(&permission.filter)
                    .map_err(|e| format!("role '{name}': {e}"))?;
            }
        }
        for (name, user) in &self.users {
            names::check_username(name)?;
            // An empty hash: a user enrolled with a certificate only.
            if !user.password_hash.is_empty() && !password::is_argon2id_hash(&user.password_hash) {
                return Err(format!(
                    "user '{name}': password_hash is not an argon2id hash; set a new one with `mqreg user passwd {name}`"
                ));
            }
            for role in &user.roles {
                names::check_role(role).map_err(|e| format!("user '{name}': {e}"))?;
            }
        }
        let mut ban_ids = std::collections::HashSet::new();
        for ban in &self.bans {
            ban.check()?;
            if !ban_ids.insert(ban.id) {
                return Err(format!("two bans have id {}; renumber one", ban.id));
            }
        }
        for (name, request) in &self.pending {
            names::check_username(name).map_err(|e| format!("pending request: {e}"))?;
            if request.passwords.iter().any(|attempt| {
                // An empty hash: a REST attempt with a CSR and no password.
                let certificate_only =
                    attempt.password_hash.is_empty() && attempt.csr_key().is_some();
                !certificate_only && !password::is_argon2id_hash(&attempt.password_hash)
            }) {
                return Err(format!(
                    "pending request '{name}': a password_hash is not an argon2id hash; reject it with `mqreg registry reject {name}`"
                ));
            }
        }
        Ok(())
    }
}

/// A failed login by an unknown user, as the broker saw it.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub username: String,
    pub client_id: String,
    pub address: String,
    pub protocol: String,
    pub password: OfferedPassword,
    /// A REST registration's CSR and context; part of the attempt's
    /// identity (another CSR is another attempt, a conflict). Boxed: MQTT
    /// attempts, nearly all of them, have none.
    pub enrolment: Option<Box<Enrolment>>,
}

/// What the broker found out about the offered password before taking the
/// state lock (argon2 work never runs under the lock).
#[derive(Debug, Clone)]
pub enum OfferedPassword {
    /// It matched this one of the pending request's password hashes.
    Matches(String),
    /// It matched none of `checked`, the request's hashes when looked at
    /// (none: no request was pending). `hash` is its own new hash, or `None`
    /// when the request had no room left for another password.
    New {
        checked: Vec<String>,
        hash: Option<String>,
    },
}

/// What [`State::record_attempt`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    /// Seen again; `conflict` is the request's flag afterwards.
    Updated {
        conflict: bool,
    },
    /// Not recorded: the registry is locked.
    Locked,
    /// Not recorded: a user of that name exists.
    UserExists,
    /// Not recorded: `max_pending` requests wait already.
    Full,
    /// Not recorded: the request the password was checked against is gone
    /// (approved or rejected meanwhile).
    Gone,
    /// Not recorded: the request's passwords changed since the offered one
    /// was checked (two connects at once); check again and retry.
    Raced,
}

impl State {
    /// Records or updates a pending request. Full registries refuse new
    /// requests rather than evicting old ones, so a flood cannot push out the
    /// requests an admin is about to approve; `registry reject` makes room.
    pub fn record_attempt(&mut self, attempt: LoginAttempt, now: Timestamp) -> Recorded {
        if !self.is_unlocked(now) {
            return Recorded::Locked;
        }
        if self.users.contains_key(&attempt.username) {
            return Recorded::UserExists;
        }
        let live = self
            .pending
            .get(&attempt.username)
            .is_some_and(|request| !self.is_expired(request, now));
        if !live {
            self.pending.remove(&attempt.username);
        }
        let LoginAttempt {
            username,
            client_id,
            address,
            protocol,
            password,
            enrolment,
        } = attempt;
        let enrolment = enrolment.map(|enrolment| *enrolment);
        let csr_key = enrolment
            .as_ref()
            .and_then(Enrolment::key)
            .map(str::to_owned);
        let Some(request) = self.pending.get_mut(&username) else {
            return match password {
                OfferedPassword::New {
                    checked,
                    hash: Some(hash),
                } if checked.is_empty() => {
                    if self.live_pending(now).count() >= self.registry.max_pending {
                        return Recorded::Full;
                    }
                    let mut request = PendingRequest::new(hash, client_id, address, protocol, now);
                    request.passwords[0].enrolment = enrolment;
                    self.pending.insert(username, request);
                    Recorded::Created
                }
                _ => Recorded::Gone,
            };
        };
        match password {
            OfferedPassword::Matches(hash) => {
                let Some(known) = request.passwords.iter_mut().find(|known| {
                    known.password_hash == hash && known.csr_key() == csr_key.as_deref()
                }) else {
                    return Recorded::Raced;
                };
                known.count = known.count.saturating_add(1);
                known.last_seen = now;
                known.client_id.clone_from(&client_id);
                known.address.clone_from(&address);
                known.protocol.clone_from(&protocol);
            }
            OfferedPassword::New { checked, hash } => {
                if checked != request.password_hashes_for(csr_key.as_deref()) {
                    return Recorded::Raced;
                }
                request.conflict = true;
                if let Some(hash) = hash {
                    if request.passwords.len() < MAX_PASSWORDS_PER_REQUEST {
                        let mut first =
                            PasswordAttempt::first(hash, &client_id, &address, &protocol, now);
                        first.enrolment = enrolment;
                        request.passwords.push(first);
                    }
                }
            }
        }
        request.attempts = request.attempts.saturating_add(1);
        request.last_seen = now;
        request.client_id = client_id;
        request.address = address;
        request.protocol = protocol;
        Recorded::Updated {
            conflict: request.conflict,
        }
    }
}

impl State {
    /// Whether `attempt` would change nothing in its pending request but its
    /// last-seen time and counts: the same password (already matched), client
    /// id, protocol and peer IP (the port changes with every connection) as
    /// the request's latest attempt. Such repeats may be written late and
    /// together (see `record_repeated_attempt`); the answer is the request's
    /// conflict flag, what recording it would answer.
    pub fn unchanged_repeat(&self, attempt: &LoginAttempt, now: Timestamp) -> Option<bool> {
        let OfferedPassword::Matches(hash) = &attempt.password else {
            return None;
        };
        if !self.is_unlocked(now) || self.users.contains_key(&attempt.username) {
            return None;
        }
        let request = self
            .pending
            .get(&attempt.username)
            .filter(|request| !self.is_expired(request, now))?;
        let known = request
            .passwords
            .iter()
            .find(|known| known.password_hash == *hash)?;
        let same = |client_id: &str, address: &str, protocol: &str| {
            client_id == attempt.client_id
                && protocol == attempt.protocol
                && host_of(address) == host_of(&attempt.address)
        };
        (same(&request.client_id, &request.address, &request.protocol)
            && same(&known.client_id, &known.address, &known.protocol))
        .then_some(request.conflict)
    }

    /// Records `times` attempts that `attempt` stands for (it is the latest),
    /// as [`State::record_attempt`] records one.
    pub fn record_repeated_attempt(
        &mut self,
        attempt: LoginAttempt,
        times: u64,
        now: Timestamp,
    ) -> Recorded {
        let username = attempt.username.clone();
        let hash = match &attempt.password {
            OfferedPassword::Matches(hash) => Some(hash.clone()),
            OfferedPassword::New { .. } => None,
        };
        let outcome = self.record_attempt(attempt, now);
        let more = times.saturating_sub(1);
        if more > 0 && matches!(outcome, Recorded::Updated { .. }) {
            if let Some(request) = self.pending.get_mut(&username) {
                request.attempts = request.attempts.saturating_add(more);
                if let Some(known) = hash.and_then(|hash| {
                    request
                        .passwords
                        .iter_mut()
                        .find(|known| known.password_hash == hash)
                }) {
                    known.count = known.count.saturating_add(more);
                }
            }
        }
        outcome
    }
}

/// The host part of an `IP:PORT` peer address (`[v6]:port` too).
fn host_of(address: &str) -> &str {
    match address.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => address,
    }
}

impl State {
    /// The quotas in force for `username` (the defaults for an unknown one).
    pub fn quotas_of(&self, username: &str) -> quotas::Quotas {
        let Some(user) = self.users.get(username) else {
            return self.quotas;
        };
        let roles = user
            .roles
            .iter()
            .filter_map(|role| self.roles.get(role))
            .map(|role| &role.quotas);
        self.quotas.resolve(Some(&user.quotas), roles)
    }
}

pub fn sorted_unique(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

/// Serde for a `Duration` written the human way (`"24h"`, `"90s"`).
mod humantime_serde_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
