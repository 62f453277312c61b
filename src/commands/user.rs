//! `mqreg user`: accounts and the roles they hold.

use clap::Subcommand;
use serde::Serialize;

use super::{now, parse_role, parse_username, partial_result, read_password, Context};
use crate::error::{Error, Result};
use crate::output::{self, print_json};
use crate::password;
use crate::state::{sorted_unique, ClientIdRule, State, User};

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

#[derive(Serialize)]
struct UserJson<'a> {
    username: &'a str,
    roles: &'a [String],
    created: String,
    disabled: bool,
    /// The rule in force: "any", "registered" or a list of globs.
    client_ids: ClientIdRule,
    /// Whether `client_ids` is the user's own rule rather than the registry's.
    client_ids_own: bool,
    registered_client_ids: &'a [String],
}

impl<'a> UserJson<'a> {
    /// `default_rule`: the registry's client id rule.
    fn new(default_rule: &ClientIdRule, name: &'a str, user: &'a User) -> Self {
        Self {
            username: name,
            roles: &user.roles,
            created: output::rfc3339(user.created),
            disabled: user.disabled,
            client_ids: user.client_id_rule(default_rule).clone(),
            client_ids_own: user.client_ids.is_some(),
            registered_client_ids: &user.registered_client_ids,
        }
    }
}

fn no_such_user(name: &str) -> Error {
    Error::not_found(format!(
        "no such user: {name}; see `mqreg user list`, or `mqreg registry list` for pending devices"
    ))
}

pub fn exec(context: &Context, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::List => list(context, &context.store.load()?),
        UserCommand::Show { user } => {
            let state = context.store.load()?;
            let record = state.users.get(&user).ok_or_else(|| no_such_user(&user))?;
            if context.json {
                return print_json(&UserJson::new(&state.registry.client_ids, &user, record));
            }
            println!("user:       {user}");
            println!("roles:      {}", output::list_or_none(&record.roles));
            println!("created:    {} UTC", output::short_time(record.created));
            if record.disabled {
                println!("disabled:   yes (`mqreg user enable {user}` lets it in again)");
            }
            println!(
                "client ids: {}",
                describe_rule(&state.registry.client_ids, record)
            );
            for permission in state.permissions_of(record) {
                println!("allows:     {permission}");
            }
            Ok(())
        }
        UserCommand::Add { user, roles } => {
            // Fail before asking for a password when the answer is already known.
            let state = context.store.load()?;
            refuse_existing(&state, &user)?;
            refuse_missing_roles(&state, &roles, "nothing was created")?;
            let hash = checked_hash(&state, &user)?;
            context.store.update(|state| {
                refuse_existing(state, &user)?;
                refuse_missing_roles(state, &roles, "nothing was created")?;
                state.pending.remove(&user);
                state.users.insert(
                    user.clone(),
                    User::new(hash, sorted_unique(roles.clone()), now()),
                );
                Ok(())
            })?;
            say(context, format!("created user {user}"))
        }
        UserCommand::Passwd { user } => {
            let state = context.store.load()?;
            if !state.users.contains_key(&user) {
                return Err(no_such_user(&user));
            }
            let hash = checked_hash(&state, &user)?;
            context.store.update(|state| {
                let record = state
                    .users
                    .get_mut(&user)
                    .ok_or_else(|| no_such_user(&user))?;
                record.password_hash = hash;
                Ok(())
            })?;
            say(context, format!("changed the password of {user}"))
        }
        UserCommand::Delete { user } => {
            context.store.update(|state| {
                state
                    .users
                    .remove(&user)
                    .map(|_| ())
                    .ok_or_else(|| no_such_user(&user))
            })?;
            say(context, format!("deleted user {user}"))
        }
        UserCommand::GrantRole { user, roles } => {
            let (missing, record, default_rule) = context.store.update(|state| {
                let missing = undefined_roles(state, &roles);
                let record = state
                    .users
                    .get_mut(&user)
                    .ok_or_else(|| no_such_user(&user))?;
                let mut held = record.roles.clone();
                held.extend(roles.iter().filter(|r| !missing.contains(r)).cloned());
                record.roles = sorted_unique(held);
                let record = record.clone();
                Ok((missing, record, state.registry.client_ids.clone()))
            })?;
            report_roles(context, &default_rule, &user, &record, &missing)
        }
        UserCommand::RevokeRole { user, roles } => {
            let (missing, record, default_rule) = context.store.update(|state| {
                let missing = undefined_roles(state, &roles);
                let record = state
                    .users
                    .get_mut(&user)
                    .ok_or_else(|| no_such_user(&user))?;
                // A role deleted meanwhile may still be listed on the user: revoking it
                // is then no error.
                let missing: Vec<String> = missing
                    .into_iter()
                    .filter(|role| !record.roles.contains(role))
                    .collect();
                record.roles.retain(|role| !roles.contains(role));
                let record = record.clone();
                Ok((missing, record, state.registry.client_ids.clone()))
            })?;
            report_roles(context, &default_rule, &user, &record, &missing)
        }
        UserCommand::Disable { user } => set_disabled(context, &user, true),
        UserCommand::Enable { user } => set_disabled(context, &user, false),
        UserCommand::ClientIds {
            user,
            set,
            any,
            registered,
            inherit,
        } => {
            // Some(None): back to the registry's rule; None: only show it.
            let rule = match super::client_id_rule_from(set, any, registered)? {
                Some(rule) => Some(Some(rule)),
                None => inherit.then_some(None),
            };
            let (default_rule, record) = match rule {
                None => {
                    let state = context.store.load()?;
                    let record = state
                        .users
                        .get(&user)
                        .cloned()
                        .ok_or_else(|| no_such_user(&user))?;
                    (state.registry.client_ids, record)
                }
                Some(rule) => context.store.update(|state| {
                    let record = state
                        .users
                        .get_mut(&user)
                        .ok_or_else(|| no_such_user(&user))?;
                    record.client_ids = rule;
                    let record = record.clone();
                    Ok((state.registry.client_ids.clone(), record))
                })?,
            };
            if context.json {
                return print_json(&UserJson::new(&default_rule, &user, &record));
            }
            println!(
                "{user}: client ids {}",
                describe_rule(&default_rule, &record)
            );
            Ok(())
        }
    }
}

fn set_disabled(context: &Context, user: &str, disabled: bool) -> Result<()> {
    let (default_rule, record) = context.store.update(|state| {
        let record = state
            .users
            .get_mut(user)
            .ok_or_else(|| no_such_user(user))?;
        record.disabled = disabled;
        let record = record.clone();
        Ok((state.registry.client_ids.clone(), record))
    })?;
    if context.json {
        return print_json(&UserJson::new(&default_rule, user, &record));
    }
    if disabled {
        println!("disabled {user}: its logins are refused and its connections closed");
    } else {
        println!("enabled {user}");
    }
    Ok(())
}

/// `any`, `registered (dev-1)` or the globs, and whether it is the registry's.
fn describe_rule(default_rule: &ClientIdRule, user: &User) -> String {
    let rule = user.client_id_rule(default_rule);
    let mut text = match rule {
        ClientIdRule::Registered => format!(
            "registered ({})",
            output::list_or_none(&user.registered_client_ids)
        ),
        other => other.to_string(),
    };
    if user.client_ids.is_none() {
        text.push_str(" (the registry's rule)");
    }
    text
}

fn list(context: &Context, state: &State) -> Result<()> {
    if context.json {
        let rows: Vec<UserJson> = state
            .users
            .iter()
            .map(|(name, user)| UserJson::new(&state.registry.client_ids, name, user))
            .collect();
        return print_json(&rows);
    }
    if state.users.is_empty() {
        println!("no users");
        return Ok(());
    }
    let mut table = output::table(&["USERNAME", "ROLES", "CREATED (UTC)", "STATUS"]);
    for (name, user) in &state.users {
        table.add_row(vec![
            name.clone(),
            output::list_or_none(&user.roles),
            output::short_time(user.created),
            if user.disabled { "disabled" } else { "" }.to_owned(),
        ]);
    }
    println!("{table}");
    Ok(())
}

fn undefined_roles(state: &State, roles: &[String]) -> Vec<String> {
    state
        .missing_roles(roles)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn refuse_existing(state: &State, user: &str) -> Result<()> {
    if state.users.contains_key(user) {
        return Err(Error::conflict(format!(
            "user {user} exists already; change its password with `mqreg user passwd {user}`"
        )));
    }
    Ok(())
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

/// Reads the password, checks it against the policy and hashes it. The slow hash
/// runs before the state lock is taken, so it never holds up other writers.
fn checked_hash(state: &State, user: &str) -> Result<String> {
    let password = read_password(user)?;
    state
        .password_policy
        .check(&password)
        .map_err(|e| Error::usage(format!("{e}; nothing was changed")))?;
    Ok(password::hash(&password, state.argon2))
}

fn say(context: &Context, message: String) -> Result<()> {
    if context.json {
        print_json(&serde_json::json!({ "ok": true, "message": message }))
    } else {
        println!("{message}");
        Ok(())
    }
}

/// After grant/revoke: the user's roles now, and exit 3 when some named roles
/// do not exist. With `--json` that answer is the error object, carrying the
/// user's roles as they now are.
fn report_roles(
    context: &Context,
    default_rule: &ClientIdRule,
    user: &str,
    record: &User,
    missing: &[String],
) -> Result<()> {
    let outcome = partial_result(missing, "role", None);
    match &outcome {
        Err(error) if context.json => print_json(&serde_json::json!({
            "error": { "code": error.code as i32, "kind": "not_found", "message": error.message },
            "username": user,
            "roles": record.roles,
            "not_found": missing,
        }))?,
        _ => show_roles(context, default_rule, user, record)?,
    }
    outcome
}

/// After grant/revoke: the user's roles now, as `user show --json` gives them.
fn show_roles(
    context: &Context,
    default_rule: &ClientIdRule,
    user: &str,
    record: &User,
) -> Result<()> {
    if context.json {
        print_json(&UserJson::new(default_rule, user, record))
    } else {
        println!("{user}: roles {}", output::list_or_none(&record.roles));
        Ok(())
    }
}
