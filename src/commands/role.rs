//! `mqreg role`: named sets of topic permissions that users hold.

use clap::Subcommand;

use super::{parse_role, Context};
use crate::error::Result;
use crate::ops::roles::{self, RoleInfo};
use crate::output::{self, print_json};
use crate::state::Permission;

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

pub fn exec(context: &Context, command: RoleCommand) -> Result<()> {
    let store = &context.store;
    match command {
        RoleCommand::List => list(context, &roles::list(store)?),
        RoleCommand::Create { role, permissions } => {
            show(context, &roles::create(store, &role, &permissions)?)
        }
        RoleCommand::Allow { role, permissions } => {
            show(context, &roles::allow(store, &role, &permissions)?)
        }
        RoleCommand::Disallow { role, permissions } => {
            let (changed, not_held) = roles::disallow(store, &role, &permissions)?;
            if !not_held.is_empty() && !context.json {
                eprintln!("note: {role} did not allow {}", not_held.join(", "));
            }
            show(context, &changed)
        }
        RoleCommand::Delete { role } => {
            let holders = roles::delete(store, &role)?;
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

fn list(context: &Context, roles: &[RoleInfo]) -> Result<()> {
    if context.json {
        return print_json(&roles);
    }
    if roles.is_empty() {
        println!("no roles");
        return Ok(());
    }
    let mut table = output::table(&["ROLE", "PERMISSIONS"]);
    for role in roles {
        table.add_row(vec![role.name.clone(), permissions_text(&role.permissions)]);
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

fn show(context: &Context, role: &RoleInfo) -> Result<()> {
    if context.json {
        return print_json(role);
    }
    println!(
        "{}: {}",
        role.name,
        permissions_text(&role.permissions).replace('\n', ", ")
    );
    Ok(())
}
