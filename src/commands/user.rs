//! `mqreg user`: accounts and the roles they hold.

use clap::Subcommand;

use super::{parse_role, parse_username, read_password, Context};
use crate::error::Result;
use crate::ops::users::{self, RolesChanged, UserInfo};
use crate::output::{self, print_json};
use crate::state::ClientIdRule;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users with their roles
    List,
    /// Show one user
    Show {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
    },
    /// Create a user; the password is read from stdin (first line)
    Add {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
        /// Grant this role (repeatable)
        #[arg(long = "role", value_name = "ROLE", value_parser = parse_role)]
        roles: Vec<String>,
    },
    /// Set a new password, read from stdin (first line)
    Passwd {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
    },
    /// Remove a user; its live connections are closed
    Delete {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
    },
    /// Give a user roles
    GrantRole {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
        /// Names of existing roles (`mqreg role list`)
        #[arg(required = true, value_name = "ROLE", value_parser = parse_role)]
        roles: Vec<String>,
    },
    /// Take roles away from a user
    RevokeRole {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
        /// Names of existing roles (`mqreg role list`)
        #[arg(required = true, value_name = "ROLE", value_parser = parse_role)]
        roles: Vec<String>,
    },
    /// Refuse a user's logins and close its live connections; it keeps its
    /// password and roles
    Disable {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
    },
    /// Revoke a user's certificates (all, or the one with SERIAL); live
    /// connections made with them are closed at once
    #[command(after_help = "Examples:\n  \
        mqreg user revoke-cert sensor_1\n  \
        mqreg user revoke-cert sensor_1 4A:0F:...   (serials: `mqreg user show sensor_1`)")]
    RevokeCert {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
        /// Only this certificate (as `user show` lists it; colons optional)
        #[arg(value_name = "SERIAL")]
        serial: Option<String>,
    },
    /// Let a disabled user log in again
    Enable {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
    },
    /// Show or set which client ids a user may connect with
    #[command(
        long_about = "Show or set which client ids a user may connect with.\n\n\
            Without an option, shows the rule in force. A login with a client id the user \
            may not use is refused like any failed login (CONNACK 5 / 0x87), and live \
            connections the new rule refuses are closed.",
        after_help = "Examples:\n  \
            mqreg user client-ids sensor01 --set '{username}' '{username}-*'\n  \
            mqreg user client-ids sensor01 --registered\n  \
            mqreg user client-ids sensor01 --any"
    )]
    ClientIds {
        /// The user's name
        #[arg(value_parser = parse_username)]
        user: String,
        /// Only client ids matching one of these globs; {username} is the user's name
        #[arg(long, value_name = "PATTERN", num_args = 1.., conflicts_with_all = ["any", "registered", "inherit"])]
        set: Vec<String>,
        /// Any client id
        #[arg(long, conflicts_with_all = ["registered", "inherit"])]
        any: bool,
        /// Only the client id(s) its registration was approved with
        #[arg(long, conflicts_with = "inherit")]
        registered: bool,
        /// Follow the registry-wide rule (client_ids in [registry])
        #[arg(long)]
        inherit: bool,
    },
}

pub fn exec(context: &Context, command: UserCommand) -> Result<()> {
    let store = &context.store;
    match command {
        UserCommand::List => list(context, &users::list(store)?),
        UserCommand::Show { user } => {
            let info = users::show(store, &user)?;
            if context.json {
                return print_json(&info);
            }
            println!("user:       {user}");
            println!("roles:      {}", output::list_or_none(&info.roles));
            println!(
                "created:    {}",
                output::when(&info.created, chrono::Utc::now())
            );
            if info.disabled {
                println!("disabled:   yes (`mqreg user enable {user}` lets it in again)");
            }
            println!("client ids: {}", describe_rule(&info));
            for permission in &info.permissions {
                println!("allows:     {permission}");
            }
            for certificate in &info.certificates {
                println!(
                    "certificate: serial {}, SHA-256 {}, {} until {}",
                    certificate.serial,
                    certificate.fingerprint,
                    certificate.status,
                    certificate
                        .not_after
                        .replace('T', " ")
                        .trim_end_matches('Z'),
                );
            }
            Ok(())
        }
        UserCommand::RevokeCert { user, serial } => {
            let revoked = crate::ops::certificates::revoke(store, &user, serial.as_deref())?;
            if context.json {
                return print_json(&revoked);
            }
            if revoked.revoked.is_empty() {
                println!("{user} has no certificate left to revoke");
            } else {
                println!(
                    "revoked {} certificate{} of {user}: {}",
                    revoked.revoked.len(),
                    if revoked.revoked.len() == 1 { "" } else { "s" },
                    revoked.revoked.join(", ")
                );
            }
            Ok(())
        }
        UserCommand::Add { user, roles } => {
            // Fail before asking for a password when the answer is already known.
            users::check_addable(&store.load()?, &user, &roles)?;
            let password = read_password(&user)?;
            let info = users::add(store, &user, &password, &roles)?;
            say(context, &info, format!("created user {user}"))
        }
        UserCommand::Passwd { user } => {
            users::show(store, &user)?;
            let password = read_password(&user)?;
            let info = users::passwd(store, &user, &password)?;
            say(context, &info, format!("changed the password of {user}"))
        }
        UserCommand::Delete { user } => {
            users::delete(store, &user)?;
            if context.json {
                return print_json(
                    &serde_json::json!({ "ok": true, "message": format!("deleted user {user}") }),
                );
            }
            println!("deleted user {user}");
            Ok(())
        }
        UserCommand::GrantRole { user, roles } => {
            report_roles(context, &users::grant(store, &user, &roles)?)
        }
        UserCommand::RevokeRole { user, roles } => {
            report_roles(context, &users::revoke(store, &user, &roles)?)
        }
        UserCommand::Disable { user } => {
            let info = users::set_disabled(store, &user, true)?;
            say(
                context,
                &info,
                format!("disabled {user}: its logins are refused and its connections closed"),
            )
        }
        UserCommand::Enable { user } => {
            let info = users::set_disabled(store, &user, false)?;
            say(context, &info, format!("enabled {user}"))
        }
        UserCommand::ClientIds {
            user,
            set,
            any,
            registered,
            inherit,
        } => {
            let info = match super::client_id_rule_from(set, any, registered)? {
                Some(rule) => users::set_client_ids(store, &user, Some(rule))?,
                None if inherit => users::set_client_ids(store, &user, None)?,
                None => users::show(store, &user)?,
            };
            if context.json {
                return print_json(&info);
            }
            println!("{user}: client ids {}", describe_rule(&info));
            Ok(())
        }
    }
}

/// `any`, `registered (dev-1)` or the globs, and whether it is the registry's.
fn describe_rule(info: &UserInfo) -> String {
    let mut text = match &info.client_ids {
        ClientIdRule::Registered => format!(
            "registered ({})",
            output::list_or_none(&info.registered_client_ids)
        ),
        other => other.to_string(),
    };
    if !info.client_ids_own {
        text.push_str(" (the registry's rule)");
    }
    text
}

fn list(context: &Context, users: &[UserInfo]) -> Result<()> {
    if context.json {
        return print_json(&users);
    }
    if users.is_empty() {
        println!("no users");
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut table = output::table(&["USERNAME", "ROLES", "CREATED", "STATUS"]);
    for user in users {
        table.add_row(vec![
            user.username.clone(),
            output::list_or_none(&user.roles),
            output::ago(&user.created, now),
            if user.disabled { "disabled" } else { "" }.to_owned(),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// A change's message, or with `--json` the user as it now is (with `ok`
/// and `message`, which `user add` and `passwd` have always printed).
fn say(context: &Context, info: &UserInfo, message: String) -> Result<()> {
    if context.json {
        let mut json = serde_json::to_value(info).unwrap_or_default();
        json["ok"] = true.into();
        json["message"] = message.into();
        print_json(&json)
    } else {
        println!("{message}");
        Ok(())
    }
}

/// After grant/revoke: the user's roles now, and exit 3 when some named roles
/// do not exist. With `--json` that answer is the error object, carrying the
/// user's roles as they now are.
fn report_roles(context: &Context, changed: &RolesChanged) -> Result<()> {
    let outcome = changed.verdict();
    let user = &changed.user;
    match &outcome {
        Err(error) if context.json => print_json(&serde_json::json!({
            "error": { "code": error.code as i32, "kind": "not_found", "message": error.message },
            "username": user.username,
            "roles": user.roles,
            "not_found": changed.not_found,
        }))?,
        _ if context.json => print_json(user)?,
        _ => println!(
            "{}: roles {}",
            user.username,
            output::list_or_none(&user.roles)
        ),
    }
    outcome
}
