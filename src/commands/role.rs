//! `mqreg role`: named sets of topic permissions that users hold.

use clap::Subcommand;
use serde::Serialize;

use super::{parse_role, Context};
use crate::error::{Error, Result};
use crate::output::{self, print_json};
use crate::state::{Permission, Role, State};

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List roles with their permissions
    List,
    /// Define a role
    Create {
        /// The role's name
        #[arg(value_parser = parse_role)]
        role: String,
        /// ACCESS:FILTER, e.g. write:devices/{username}/# (repeatable);
        /// ACCESS is read (subscribe), write (publish) or readwrite
        #[arg(long = "allow", value_name = "ACCESS:FILTER")]
        permissions: Vec<Permission>,
    },
    /// Add permissions to a role
    Allow {
        /// The role's name
        #[arg(value_parser = parse_role)]
        role: String,
        /// ACCESS:FILTER, e.g. read:alerts/#
        #[arg(required = true, value_name = "ACCESS:FILTER")]
        permissions: Vec<Permission>,
    },
    /// Remove permissions from a role
    Disallow {
        /// The role's name
        #[arg(value_parser = parse_role)]
        role: String,
        /// ACCESS:FILTER to take away; disallowing write from readwrite leaves read
        #[arg(required = true, value_name = "ACCESS:FILTER")]
        permissions: Vec<Permission>,
    },
    /// Remove a role, and it from every user
    Delete {
        /// The role's name
        #[arg(value_parser = parse_role)]
        role: String,
    },
}

#[derive(Serialize)]
struct RoleJson<'a> {
    name: &'a str,
    permissions: &'a [Permission],
}

fn no_such_role(role: &str) -> Error {
    Error::not_found(format!(
        "no such role: {role}; create it with `mqreg role create {role}`"
    ))
}

pub fn exec(context: &Context, command: RoleCommand) -> Result<()> {
    match command {
        RoleCommand::List => list(context, &context.store.load()?),
        RoleCommand::Create { role, permissions } => {
            let created = context.store.update(|state| {
                if state.roles.contains_key(&role) {
                    return Err(Error::conflict(format!(
                        "role {role} exists already; change it with `mqreg role allow {role} ACCESS:FILTER`"
                    )));
                }
                let mut created = Role::default();
                for permission in &permissions {
                    created.allow(permission);
                }
                state.roles.insert(role.clone(), created.clone());
                Ok(created)
            })?;
            show(context, &role, &created)
        }
        RoleCommand::Allow { role, permissions } => {
            let changed = context.store.update(|state| {
                let changed = state
                    .roles
                    .get_mut(&role)
                    .ok_or_else(|| no_such_role(&role))?;
                for permission in &permissions {
                    changed.allow(permission);
                }
                Ok(changed.clone())
            })?;
            show(context, &role, &changed)
        }
        RoleCommand::Disallow { role, permissions } => {
            let (changed, not_held) = context.store.update(|state| {
                let changed = state
                    .roles
                    .get_mut(&role)
                    .ok_or_else(|| no_such_role(&role))?;
                let not_held: Vec<String> = permissions
                    .iter()
                    .filter(|permission| !changed.disallow(permission))
                    .map(ToString::to_string)
                    .collect();
                Ok((changed.clone(), not_held))
            })?;
            if !not_held.is_empty() && !context.json {
                eprintln!("note: {role} did not allow {}", not_held.join(", "));
            }
            show(context, &role, &changed)
        }
        RoleCommand::Delete { role } => {
            let holders = context.store.update(|state| {
                state
                    .roles
                    .remove(&role)
                    .ok_or_else(|| no_such_role(&role))?;
                let mut holders = 0;
                for user in state.users.values_mut() {
                    let before = user.roles.len();
                    user.roles.retain(|held| *held != role);
                    holders += before - user.roles.len();
                }
                Ok(holders)
            })?;
            let message = format!("deleted role {role} (it was held by {holders} users)");
            if context.json {
                print_json(&serde_json::json!({ "ok": true, "message": message }))
            } else {
                println!("{message}");
                Ok(())
            }
        }
    }
}

fn list(context: &Context, state: &State) -> Result<()> {
    if context.json {
        let rows: Vec<RoleJson> = state
            .roles
            .iter()
            .map(|(name, role)| RoleJson {
                name,
                permissions: &role.permissions,
            })
            .collect();
        return print_json(&rows);
    }
    if state.roles.is_empty() {
        println!("no roles");
        return Ok(());
    }
    let mut table = output::table(&["ROLE", "PERMISSIONS"]);
    for (name, role) in &state.roles {
        table.add_row(vec![name.clone(), permissions_text(&role.permissions)]);
    }
    println!("{table}");
    Ok(())
}

fn permissions_text(permissions: &[Permission]) -> String {
    if permissions.is_empty() {
        return "(none)".to_owned();
    }
    permissions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn show(context: &Context, name: &str, role: &Role) -> Result<()> {
    if context.json {
        return print_json(&RoleJson {
            name,
            permissions: &role.permissions,
        });
    }
    println!(
        "{name}: {}",
        permissions_text(&role.permissions).replace('\n', ", ")
    );
    Ok(())
}
