//! Roles: named sets of topic permissions.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::store::Store;
use crate::state::{Permission, Role};

/// A role as `role list` gives it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleInfo {
    pub name: String,
    pub permissions: Vec<Permission>,
}

impl RoleInfo {
    fn new(name: &str, role: &Role) -> Self {
        Self {
            name: name.to_owned(),
            permissions: role.permissions.clone(),
        }
    }
}

fn no_such_role(role: &str) -> Error {
    Error::not_found(format!(
        "no such role: {role}; create it with `mqreg role create {role}`"
    ))
}

fn check_name(role: &str) -> Result<()> {
    crate::names::check_role(role).map_err(Error::usage)
}

pub fn list(store: &Store) -> Result<Vec<RoleInfo>> {
    let state = store.load()?;
    Ok(state
        .roles
        .iter()
        .map(|(name, role)| RoleInfo::new(name, role))
        .collect())
}

pub fn create(store: &Store, name: &str, permissions: &[Permission]) -> Result<RoleInfo> {
    check_name(name)?;
    store.update(|state| {
        if state.roles.contains_key(name) {
            return Err(Error::conflict(format!(
                "role {name} exists already; change it with `mqreg role allow {name} ACCESS:FILTER`"
            )));
        }
        let mut created = Role::default();
        for permission in permissions {
            created.allow(permission);
        }
        let info = RoleInfo::new(name, &created);
        state.roles.insert(name.to_owned(), created);
        Ok(info)
    })
}

pub fn allow(store: &Store, name: &str, permissions: &[Permission]) -> Result<RoleInfo> {
    store.update(|state| {
        let role = state
            .roles
            .get_mut(name)
            .ok_or_else(|| no_such_role(name))?;
        for permission in permissions {
            role.allow(permission);
        }
        Ok(RoleInfo::new(name, role))
    })
}

/// The role after `disallow`, and the permissions it did not hold.
pub fn disallow(
    store: &Store,
    name: &str,
    permissions: &[Permission],
) -> Result<(RoleInfo, Vec<String>)> {
    store.update(|state| {
        let role = state
            .roles
            .get_mut(name)
            .ok_or_else(|| no_such_role(name))?;
        let not_held: Vec<String> = permissions
            .iter()
            .filter(|permission| !role.disallow(permission))
            .map(ToString::to_string)
            .collect();
        Ok((RoleInfo::new(name, role), not_held))
    })
}

/// Removes a role and it from every user; returns how many held it.
pub fn delete(store: &Store, name: &str) -> Result<usize> {
    store.update(|state| {
        state.roles.remove(name).ok_or_else(|| no_such_role(name))?;
        let mut holders = 0;
        for user in state.users.values_mut() {
            let before = user.roles.len();
            user.roles.retain(|held| held != name);
            holders += before - user.roles.len();
        }
        Ok(holders)
    })
}
