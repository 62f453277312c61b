//! `mqreg registry`: the window in which devices may register, and the pending
//! requests they leave behind.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{now, parse_role, partial_result, Context};
use crate::error::{Error, Result};
use crate::output::{self, print_json};
use crate::state::{RegistryStatus, Selection, SelectionOutcome, SkipReason, State};

/// The longest window `unlock` accepts.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Open the registry: unknown devices that log in are recorded as pending
    Unlock {
        /// How long to stay open, like 90s, 10m or 1h (at most 24h)
        #[arg(long = "for", value_name = "DURATION", default_value = "5m", value_parser = parse_window)]
        window: Duration,
    },
    /// Close the registry now (pending requests are kept)
    Lock,
    /// Show whether the registry is open, until when, and how many requests wait
    Status,
    /// List pending requests
    List,
    /// Create users from pending requests
    Approve {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Grant this role to every approved user (repeatable)
        #[arg(long = "role", value_name = "ROLE", value_parser = parse_role)]
        roles: Vec<String>,
        /// Approve a named request even though it was seen with two passwords
        #[arg(long)]
        force: bool,
    },
    /// Drop pending requests
    Reject {
        #[command(flatten)]
        selection: SelectionArgs,
    },
}

#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Usernames of pending requests
    #[arg(value_name = "USERNAME")]
    names: Vec<String>,
    /// Every pending request (conflicted ones are skipped on approve)
    #[arg(long)]
    all: bool,
    /// Pending requests whose username matches GLOB, like 'sensor*'
    #[arg(long = "match", value_name = "GLOB", value_parser = parse_glob)]
    pattern: Option<glob::Pattern>,
}

impl SelectionArgs {
    fn into_selection(self, verb: &str) -> Result<Selection> {
        if self.names.is_empty() && !self.all && self.pattern.is_none() {
            return Err(Error::usage(format!(
                "name the requests to {verb}, or pass --all or --match GLOB; see `mqreg registry list`"
            )));
        }
        Ok(Selection {
            names: self.names,
            all: self.all,
            pattern: self.pattern,
        })
    }
}

fn parse_window(text: &str) -> Result<Duration, String> {
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

fn parse_glob(text: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(text).map_err(|e| format!("'{text}' is not a valid glob: {e}"))
}

pub fn exec(context: &Context, command: RegistryCommand) -> Result<()> {
    match command {
        RegistryCommand::Unlock { window } => {
            let status = context.store.update(|state| {
                let now = now();
                state.unlock(now, window);
                Ok(state.status(now))
            })?;
            print_status(context, &status)
        }
        RegistryCommand::Lock => {
            let status = context.store.update(|state| {
                state.lock();
                Ok(state.status(now()))
            })?;
            print_status(context, &status)
        }
        RegistryCommand::Status => print_status(context, &context.store.load()?.status(now())),
        RegistryCommand::List => list(context, &context.store.load()?),
        RegistryCommand::Approve {
            selection,
            roles,
            force,
        } => {
            let selection = selection.into_selection("approve")?;
            let outcome = context.store.update(|state| {
                let missing = state.missing_roles(&roles);
                if !missing.is_empty() {
                    return Err(Error::not_found(format!(
                        "no such role: {}; nothing was approved. Create it with `mqreg role create {}`",
                        missing.join(", "),
                        missing[0]
                    )));
                }
                Ok(state.approve(&selection, &roles, force, now()))
            })?;
            report_selection(context, "approved", &outcome, &roles, &selection.names)
        }
        RegistryCommand::Reject { selection } => {
            let selection = selection.into_selection("reject")?;
            let outcome = context
                .store
                .update(|state| Ok(state.reject(&selection, now())))?;
            report_selection(context, "rejected", &outcome, &[], &selection.names)
        }
    }
}

fn print_status(context: &Context, status: &RegistryStatus) -> Result<()> {
    if context.json {
        #[derive(Serialize)]
        struct Json {
            locked: bool,
            unlocked_until: Option<String>,
            remaining_seconds: i64,
            pending: usize,
        }
        return print_json(&Json {
            locked: status.locked,
            unlocked_until: status.unlocked_until.map(output::rfc3339),
            remaining_seconds: status.remaining_seconds,
            pending: status.pending,
        });
    }
    match status.unlocked_until {
        Some(until) => println!(
            "registry: unlocked until {} UTC ({} left)",
            output::short_time(until),
            humantime::format_duration(Duration::from_secs(status.remaining_seconds as u64))
        ),
        None => println!("registry: locked"),
    }
    println!("pending requests: {}", status.pending);
    Ok(())
}

fn list(context: &Context, state: &State) -> Result<()> {
    let requests: Vec<_> = state.live_pending(now()).collect();
    if context.json {
        #[derive(Serialize)]
        struct Json<'a> {
            username: &'a str,
            client_id: &'a str,
            address: &'a str,
            protocol: &'a str,
            first_seen: String,
            last_seen: String,
            attempts: u64,
            conflict: bool,
        }
        let rows: Vec<Json> = requests
            .iter()
            .map(|(name, r)| Json {
                username: name,
                client_id: &r.client_id,
                address: &r.address,
                protocol: &r.protocol,
                first_seen: output::rfc3339(r.first_seen),
                last_seen: output::rfc3339(r.last_seen),
                attempts: r.attempts,
                conflict: r.conflict,
            })
            .collect();
        return print_json(&rows);
    }
    if requests.is_empty() {
        println!("no pending requests");
        return Ok(());
    }
    let mut table = output::table(&[
        "USERNAME",
        "CLIENT ID",
        "ADDRESS",
        "MQTT",
        "FIRST SEEN (UTC)",
        "LAST SEEN (UTC)",
        "ATTEMPTS",
        "CONFLICT",
    ]);
    for (name, r) in &requests {
        table.add_row(vec![
            name.to_string(),
            crate::names::printable(&r.client_id),
            r.address.clone(),
            r.protocol.clone(),
            output::short_time(r.first_seen),
            output::short_time(r.last_seen),
            r.attempts.to_string(),
            if r.conflict { "yes: two passwords" } else { "" }.to_owned(),
        ]);
    }
    println!("{table}");
    Ok(())
}

fn report_selection(
    context: &Context,
    verb: &str,
    outcome: &SelectionOutcome,
    roles: &[String],
    named: &[String],
) -> Result<()> {
    let skipped: Vec<String> = outcome
        .skipped
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    if context.json {
        let mut object = serde_json::Map::new();
        object.insert(verb.to_owned(), outcome.done.clone().into());
        object.insert("not_found".to_owned(), outcome.not_found.clone().into());
        object.insert("skipped".to_owned(), skipped.into());
        print_json(&object)?;
    } else {
        for name in &outcome.done {
            if roles.is_empty() {
                println!("{verb} {name}");
            } else {
                println!("{verb} {name} with roles {}", roles.join(", "));
            }
        }
        for (name, reason) in &outcome.skipped {
            match reason {
                SkipReason::Conflict => eprintln!(
                    "skipped {name}: it was seen with two different passwords and may be an impostor; \
                     check `mqreg registry list`, then `mqreg registry approve {name} --force` or reject it"
                ),
                SkipReason::UserExists => eprintln!(
                    "skipped {name}: a user of that name exists already; reject the request or delete the user"
                ),
            }
        }
        if outcome.done.is_empty() && outcome.skipped.is_empty() && outcome.not_found.is_empty() {
            println!("no pending request matched; nothing was {verb}");
        }
    }
    // Only requests named on the command line make the exit code; --all and --match
    // report their skips but succeed.
    let refused: Vec<&str> = outcome
        .skipped
        .iter()
        .filter(|(name, _)| named.contains(name))
        .map(|(name, _)| name.as_str())
        .collect();
    let conflict = (!refused.is_empty()).then(|| format!("not {verb}: {}", refused.join(", ")));
    partial_result(&outcome.not_found, "pending request", conflict)
}
