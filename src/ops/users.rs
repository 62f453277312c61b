//! Users: list, show, add, passwd, delete, roles, disable/enable, client ids.

use serde::Serialize;

use super::now;
use crate::error::{Error, Result};
use crate::output;
use crate::password;
use crate::state::store::Store;
use crate::state::{sorted_unique, ClientIdRule, State, User};

/// A user as `user list` and `user show` give it (never its password hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub username: String,
    pub roles: Vec<String>,
    pub created: String,
    pub disabled: bool,
    /// The rule in force: "any", "registered" or a list of globs.
    pub client_ids: ClientIdRule,
    /// Whether `client_ids` is the user's own rule rather than the registry's.
    pub client_ids_own: bool,
    pub registered_client_ids: Vec<String>,
    /// What its roles allow, as `ACCESS:FILTER`.
    pub permissions: Vec<String>,
    /// The certificates the registry issued to it.
    pub certificates: Vec<CertificateInfo>,
}

/// A certificate of a user, as `user show` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateInfo {
    pub serial: String,
    pub fingerprint: String,
    pub not_after: String,
    pub issued: String,
    pub revoked: Option<String>,
    /// `valid`, `expired` or `revoked`.
    pub status: &'static str,
}

impl CertificateInfo {
    pub fn new(certificate: &crate::state::UserCertificate) -> Self {
        let status = if certificate.revoked.is_some() {
            "revoked"
        } else if certificate.not_after <= chrono::Utc::now() {
            "expired"
        } else {
            "valid"
        };
        Self {
            serial: certificate.serial.clone(),
            fingerprint: certificate.fingerprint.clone(),
            not_after: output::rfc3339(certificate.not_after),
            issued: output::rfc3339(certificate.issued),
            revoked: certificate.revoked.map(output::rfc3339),
            status,
        }
    }
}

impl UserInfo {
    pub fn new(state: &State, name: &str, user: &User) -> Self {
        Self {
            username: name.to_owned(),
            roles: user.roles.clone(),
            created: output::rfc3339(user.created),
            disabled: user.disabled,
            client_ids: user.client_id_rule(&state.registry.client_ids).clone(),
            client_ids_own: user.client_ids.is_some(),
            registered_client_ids: user.registered_client_ids.clone(),
            permissions: state
                .permissions_of(user)
                .map(ToString::to_string)
                .collect(),
            certificates: user.certificates.iter().map(CertificateInfo::new).collect(),
        }
    }
}

pub fn no_such_user(name: &str) -> Error {
    Error::not_found(format!(
        "no such user: {}; see `mqreg user list`, or `mqreg registry list` for pending devices",
        crate::names::printable(name)
    ))
}

pub fn list(store: &Store) -> Result<Vec<UserInfo>> {
    let state = store.load()?;
    Ok(state
        .users
        .iter()
        .map(|(name, user)| UserInfo::new(&state, name, user))
        .collect())
}

pub fn show(store: &Store, name: &str) -> Result<UserInfo> {
    let state = store.load()?;
    let user = state.users.get(name).ok_or_else(|| no_such_user(name))?;
    Ok(UserInfo::new(&state, name, user))
}

/// Refuses an `add` whose answer is known before a password is read: the
/// user exists, or a role does not.
pub fn check_addable(state: &State, name: &str, roles: &[String]) -> Result<()> {
    crate::names::check_username(name).map_err(Error::usage)?;
    if state.users.contains_key(name) {
        return Err(Error::conflict(format!(
            "user {name} exists already; change its password with `mqreg user passwd {name}`"
        )));
    }
    refuse_missing_roles(state, roles, "nothing was created")
}

/// Creates a user with `password` (checked against the policy, hashed
/// before the state lock is taken, so the slow hash never holds up others).
pub fn add(store: &Store, name: &str, password: &str, roles: &[String]) -> Result<UserInfo> {
    for role in roles {
        crate::names::check_role(role).map_err(Error::usage)?;
    }
    let state = store.load()?;
    check_addable(&state, name, roles)?;
    let hash = checked_hash(&state, password)?;
    store.update(|state| {
        check_addable(state, name, roles)?;
        state.pending.remove(name);
        let user = User::new(hash, sorted_unique(roles.to_vec()), now());
        let info = UserInfo::new(state, name, &user);
        state.users.insert(name.to_owned(), user);
        Ok(info)
    })
}

pub fn passwd(store: &Store, name: &str, password: &str) -> Result<UserInfo> {
    let state = store.load()?;
    if !state.users.contains_key(name) {
        return Err(no_such_user(name));
    }
    let hash = checked_hash(&state, password)?;
    edit(store, name, |user| user.password_hash = hash)
}

/// Changes one user under the store's lock; the user as it now is.
fn edit(store: &Store, name: &str, change: impl FnOnce(&mut User)) -> Result<UserInfo> {
    store.update(|state| {
        let user = state
            .users
            .get_mut(name)
            .ok_or_else(|| no_such_user(name))?;
        change(user);
        let user = user.clone();
        Ok(UserInfo::new(state, name, &user))
    })
}

pub fn delete(store: &Store, name: &str) -> Result<()> {
    store.update(|state| {
        state
            .users
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| no_such_user(name))
    })
}

/// A user's roles after `grant` or `revoke`, and the named roles that do
/// not exist (exit 3, the others were still done).
#[derive(Debug, Serialize)]
pub struct RolesChanged {
    pub user: UserInfo,
    pub not_found: Vec<String>,
}

impl RolesChanged {
    pub fn verdict(&self) -> Result<()> {
        if self.not_found.is_empty() {
            return Ok(());
        }
        Err(Error::not_found(format!(
            "no such role: {}",
            self.not_found.join(", ")
        )))
    }
}

pub fn grant(store: &Store, name: &str, roles: &[String]) -> Result<RolesChanged> {
    store.update(|state| {
        let missing = undefined_roles(state, roles);
        let user = state
            .users
            .get_mut(name)
            .ok_or_else(|| no_such_user(name))?;
        let mut held = user.roles.clone();
        held.extend(roles.iter().filter(|r| !missing.contains(r)).cloned());
        user.roles = sorted_unique(held);
        let user = user.clone();
        Ok(RolesChanged {
            user: UserInfo::new(state, name, &user),
            not_found: missing,
        })
    })
}

pub fn revoke(store: &Store, name: &str, roles: &[String]) -> Result<RolesChanged> {
    store.update(|state| {
        let missing = undefined_roles(state, roles);
        let user = state
            .users
            .get_mut(name)
            .ok_or_else(|| no_such_user(name))?;
        // A role deleted meanwhile may still be listed on the user: revoking
        // it is then no error.
        let missing: Vec<String> = missing
            .into_iter()
            .filter(|role| !user.roles.contains(role))
            .collect();
        user.roles.retain(|role| !roles.contains(role));
        let user = user.clone();
        Ok(RolesChanged {
            user: UserInfo::new(state, name, &user),
            not_found: missing,
        })
    })
}

pub fn set_disabled(store: &Store, name: &str, disabled: bool) -> Result<UserInfo> {
    edit(store, name, |user| user.disabled = disabled)
}

/// Sets a user's client id rule: `Some(rule)` its own, `None` the
/// registry's.
pub fn set_client_ids(store: &Store, name: &str, rule: Option<ClientIdRule>) -> Result<UserInfo> {
    edit(store, name, |user| user.client_ids = rule)
}

fn undefined_roles(state: &State, roles: &[String]) -> Vec<String> {
    state
        .missing_roles(roles)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn refuse_missing_roles(state: &State, roles: &[String], consequence: &str) -> Result<()> {
    let missing = state.missing_roles(roles);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::not_found(format!(
        "no such role: {}; {consequence}. Create it with `mqreg role create {}`",
        missing.join(", "),
        missing[0]
    )))
}

fn checked_hash(state: &State, password: &str) -> Result<String> {
    state
        .password_policy
        .check(password)
        .map_err(|e| Error::usage(format!("{e}; nothing was changed")))?;
    Ok(password::hash(password, state.argon2))
}
