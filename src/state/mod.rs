//! The registry's state: users, roles, pending requests and the registry window.
//!
//! This module is the data and the pure edits on it; [`store`] puts it in a file.
//! Neither knows anything of MQTT or of terminals: the CLI and the broker both
//! load a [`State`], change it with these methods, and save it through the store.
//!
//! The registry window is a deadline (`unlocked_until`), not a flag, so the
//! registry locks itself when the time passes, across restarts, with no timer.

mod bulk;
pub mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::names;
use crate::password::{self, HashCost, PasswordPolicy};
use crate::topic;

/// Bumped when the file layout changes in a way older binaries cannot read.
pub const SCHEMA_VERSION: u32 = 1;

pub type Timestamp = DateTime<Utc>;

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
    pub roles: BTreeMap<String, Role>,
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    #[serde(default)]
    pub pending: BTreeMap<String, PendingRequest>,
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
            roles: BTreeMap::new(),
            users: BTreeMap::new(),
            pending: BTreeMap::new(),
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
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            unlocked_until: None,
            max_pending: 1000,
            pending_max_age: Duration::from_secs(24 * 3600),
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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    #[serde(default)]
    pub permissions: Vec<Permission>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingRequest {
    /// argon2id PHC string of the password the device offered.
    pub password_hash: String,
    pub client_id: String,
    /// Peer address, `IP:PORT`.
    pub address: String,
    /// MQTT protocol version: `3.1`, `3.1.1` or `5`.
    pub protocol: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub attempts: u64,
    /// Seen with a second, different password: it may be an impostor.
    #[serde(default)]
    pub conflict: bool,
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

    /// Drops expired requests; called before every save.
    pub fn prune_expired(&mut self, now: Timestamp) {
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
    /// approved only when named explicitly and `force` is set; bulk selections
    /// always skip it. Roles must exist (checked by the caller).
    pub fn approve(
        &mut self,
        selection: &Selection,
        roles: &[String],
        force: bool,
        now: Timestamp,
    ) -> SelectionOutcome {
        let (chosen, not_found) = self.select(selection, now);
        let mut outcome = SelectionOutcome {
            not_found,
            ..SelectionOutcome::default()
        };
        for (name, named) in chosen {
            let request = &self.pending[&name];
            if self.users.contains_key(&name) {
                outcome.skipped.push((name, SkipReason::UserExists));
            } else if request.conflict && !(named && force) {
                outcome.skipped.push((name, SkipReason::Conflict));
            } else {
                let request = self.pending.remove(&name).expect("selected from pending");
                self.users.insert(
                    name.clone(),
                    User {
                        password_hash: request.password_hash,
                        roles: sorted_unique(roles.to_vec()),
                        created: now,
                    },
                );
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
        for (name, role) in &self.roles {
            names::check_role(name)?;
            for permission in &role.permissions {
                topic::check_filter(&permission.filter)
                    .map_err(|e| format!("role '{name}': {e}"))?;
            }
        }
        for (name, user) in &self.users {
            names::check_username(name)?;
            if !password::is_argon2id_hash(&user.password_hash) {
                return Err(format!(
                    "user '{name}': password_hash is not an argon2id hash; set a new one with `mqreg user passwd {name}`"
                ));
            }
            for role in &user.roles {
                names::check_role(role).map_err(|e| format!("user '{name}': {e}"))?;
            }
        }
        for (name, request) in &self.pending {
            names::check_username(name).map_err(|e| format!("pending request: {e}"))?;
            if !password::is_argon2id_hash(&request.password_hash) {
                return Err(format!(
                    "pending request '{name}': password_hash is not an argon2id hash; reject it with `mqreg registry reject {name}`"
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
}

/// What the broker found out about the offered password before taking the
/// state lock (argon2 work never runs under the lock).
#[derive(Debug, Clone)]
pub enum OfferedPassword {
    /// No request was pending: the offered password's new hash.
    New(String),
    /// A request was pending with this hash, and the password matched it.
    Matches(String),
    /// A request was pending with this hash, and the password did not match.
    Differs(String),
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
    /// Not recorded: a request appeared since the password was hashed as a new
    /// one (two connects at once); check the password against it and try again.
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
        match (self.pending.get_mut(&attempt.username), attempt.password) {
            (None, OfferedPassword::New(hash)) => {
                if self.live_pending(now).count() >= self.registry.max_pending {
                    return Recorded::Full;
                }
                self.pending.insert(
                    attempt.username,
                    PendingRequest {
                        password_hash: hash,
                        client_id: attempt.client_id,
                        address: attempt.address,
                        protocol: attempt.protocol,
                        first_seen: now,
                        last_seen: now,
                        attempts: 1,
                        conflict: false,
                    },
                );
                Recorded::Created
            }
            (None, _) => Recorded::Gone,
            (Some(_), OfferedPassword::New(_)) => Recorded::Raced,
            (Some(request), password) => {
                // The password was checked against one hash; if the request now
                // holds another (replaced meanwhile), the check proves nothing
                // and the request is flagged for the admin to look at.
                let same = matches!(password, OfferedPassword::Matches(hash) if hash == request.password_hash);
                request.conflict |= !same;
                request.attempts = request.attempts.saturating_add(1);
                request.last_seen = now;
                request.client_id = attempt.client_id;
                request.address = attempt.address;
                request.protocol = attempt.protocol;
                Recorded::Updated {
                    conflict: request.conflict,
                }
            }
        }
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
