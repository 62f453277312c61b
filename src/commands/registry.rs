//! `mqreg registry`: the window in which devices may register, and the pending
//! requests they leave behind.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{now, parse_role, partial_result, Context};
use crate::error::{Error, Result};
use crate::output::{self, print_json};
use crate::state::served::ServedBy;
use crate::state::{
    ClientIdRule, PendingRequest, RegistryStatus, Selection, SelectionOutcome, SkipReason, State,
};

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
    #[command(
        long_about = "Create users from pending requests, with the password each device offered \
        and the roles given with --role (none otherwise).\n\n\
        A conflicted request (seen with more than one password: it may be an impostor) is \
        approved only when named with --force, and with --attempt N when it holds several \
        passwords; --all and --match always skip it and say so."
    )]
    Approve {
        #[command(flatten)]
        selection: SelectionArgs,
        /// Grant this role to every approved user (repeatable)
        #[arg(long = "role", value_name = "ROLE", value_parser = parse_role)]
        roles: Vec<String>,
        /// Approve a named request even though it was seen with two passwords
        #[arg(long)]
        force: bool,
        /// Which password attempt becomes the user's, numbered as `registry
        /// show USERNAME` lists them (needed with --force when there are several)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        attempt: Option<u32>,
    },
    /// Show or set which client ids users may connect with (a user's own rule,
    /// `mqreg user client-ids`, wins)
    #[command(after_help = "Examples:\n  \
        mqreg registry client-ids --set '{username}' '{username}-*'\n  \
        mqreg registry client-ids --registered\n  \
        mqreg registry client-ids --any")]
    ClientIds {
        /// Only client ids matching one of these globs; {username} is the user's name.
        /// Registrations with other client ids are refused too
        #[arg(long, value_name = "PATTERN", num_args = 1.., conflicts_with_all = ["any", "registered"])]
        set: Vec<String>,
        /// Any client id (the default)
        #[arg(long, conflicts_with = "registered")]
        any: bool,
        /// Only the client id(s) each user's registration was approved with
        #[arg(long)]
        registered: bool,
    },
    /// Show one pending request with every distinct password attempt, numbered
    Show {
        /// The pending request's username
        #[arg(value_name = "USERNAME")]
        name: String,
    },
    /// Print each new or changed pending request as it appears, until interrupted
    #[command(
        long_about = "Print each new or changed pending request as it appears, until interrupted.\n\n\
            Requests already pending are printed first (event \"existing\"), then each new one \
            (\"new\") and each one seen again (\"changed\"): a table line, or one JSON object \
            per line with --json. It watches the state file, so it works whether or not a \
            broker is running.\n\n\
            With --exec, CMD is run by `sh -c` for every new request, with the request in \
            the environment: MQREG_EVENT, MQREG_USERNAME, MQREG_CLIENT_ID, MQREG_ADDRESS, \
            MQREG_PROTOCOL, MQREG_ATTEMPTS, MQREG_PASSWORDS, MQREG_CONFLICT (true or false), \
            MQREG_FIRST_SEEN, MQREG_LAST_SEEN and MQREG_STATE. Its output goes to stderr; \
            a command that fails is reported and watching goes on.",
        after_help = "Examples:\n  \
            mqreg registry watch --json | jq -r .username\n  \
            mqreg registry watch --exec 'notify-send \"mqreg: $MQREG_USERNAME wants in\"'\n  \
            mqreg registry watch --exec 'case $MQREG_USERNAME in sensor*) mqreg registry approve \"$MQREG_USERNAME\" --role sensor;; esac'"
    )]
    Watch {
        /// Run CMD (with `sh -c`) for each new request; see the environment above
        #[arg(long, value_name = "CMD")]
        exec: Option<String>,
    },
    /// Drop pending requests
    Reject {
        #[command(flatten)]
        selection: SelectionArgs,
    },
}

#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Usernames of pending requests (`mqreg registry list`)
    #[arg(value_name = "USERNAME")]
    names: Vec<String>,
    /// Every pending request
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
            attempt,
        } => {
            if attempt.is_some()
                && (selection.names.len() != 1 || selection.all || selection.pattern.is_some())
            {
                return Err(Error::usage(
                    "--attempt picks a password of one request: name exactly one USERNAME (and no --all or --match)",
                ));
            }
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
                let outcome = state.approve(&selection, &roles, force, attempt.map(|n| n as usize), now());
                // Kept to list the attempts of a request that needs --attempt.
                let needing: Vec<(String, PendingRequest)> = outcome
                    .skipped
                    .iter()
                    .filter(|(_, reason)| matches!(reason, SkipReason::NeedsAttempt | SkipReason::NoSuchAttempt))
                    .filter_map(|(name, _)| state.pending.get(name).map(|r| (name.clone(), r.clone())))
                    .collect();
                Ok((outcome, needing))
            })?;
            let (outcome, needing) = outcome;
            if !context.json {
                for (name, request) in &needing {
                    eprintln!("{name} was seen with these passwords:");
                    eprintln!("{}", attempts_table(request));
                }
            }
            report_selection(context, "approved", &outcome, &roles, &selection.names)
        }
        RegistryCommand::ClientIds {
            set,
            any,
            registered,
        } => {
            let (rule, locked_out) = match super::client_id_rule_from(set, any, registered)? {
                None => (context.store.load()?.registry.client_ids, Vec::new()),
                Some(rule) => context.store.update(|state| {
                    state.registry.client_ids = rule;
                    // Users the new rule leaves with no client id at all.
                    let registered_only = state.registry.client_ids == ClientIdRule::Registered;
                    let locked_out: Vec<String> = state
                        .users
                        .iter()
                        .filter(|(_, user)| {
                            registered_only
                                && user.client_ids.is_none()
                                && user.registered_client_ids.is_empty()
                        })
                        .map(|(name, _)| name.clone())
                        .collect();
                    Ok((state.registry.client_ids.clone(), locked_out))
                })?,
            };
            if !locked_out.is_empty() {
                let shown: Vec<&str> = locked_out.iter().take(10).map(String::as_str).collect();
                eprintln!(
                    "warning: {} user(s) have no registered client id and can no longer log in: {}{}; \
                     give them a rule of their own, e.g. `mqreg user client-ids {} --set '{{username}}'`",
                    locked_out.len(),
                    shown.join(", "),
                    if locked_out.len() > shown.len() { ", ..." } else { "" },
                    shown[0]
                );
            }
            if context.json {
                return print_json(&serde_json::json!({ "client_ids": rule }));
            }
            println!("client ids: {rule} (users without a rule of their own)");
            Ok(())
        }
        RegistryCommand::Show { name } => show(context, &context.store.load()?, &name),
        RegistryCommand::Watch { exec } => super::watch::exec(context, exec.as_deref()),
        RegistryCommand::Reject { selection } => {
            let selection = selection.into_selection("reject")?;
            let outcome = context
                .store
                .update(|state| Ok(state.reject(&selection, now())))?;
            report_selection(context, "rejected", &outcome, &[], &selection.names)
        }
    }
}

/// The registry's status, with the state file it describes and the broker
/// serving that file (so an admin sees when they looked at the wrong one).
fn print_status(context: &Context, status: &RegistryStatus) -> Result<()> {
    let served = ServedBy::find(context.store.path());
    if context.json {
        #[derive(Serialize)]
        struct Json {
            locked: bool,
            unlocked_until: Option<String>,
            remaining_seconds: i64,
            pending: usize,
            state: String,
            served_by: Option<ServedBy>,
        }
        return print_json(&Json {
            locked: status.locked,
            unlocked_until: status.unlocked_until.map(output::rfc3339),
            remaining_seconds: status.remaining_seconds,
            pending: status.pending,
            state: context.store.path().display().to_string(),
            served_by: served,
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
    println!("state file: {}", context.store.path().display());
    match served {
        Some(broker) => println!(
            "served by: mqreg {} (pid {}, since {}) on {}",
            broker.version,
            broker.pid,
            broker.started,
            broker.listen.join(", ")
        ),
        None => println!("served by: no running broker"),
    }
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
            passwords: usize,
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
                passwords: r.passwords.len(),
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
        "PASSWORDS",
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
            r.passwords.len().to_string(),
            if r.conflict { "yes" } else { "" }.to_owned(),
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
    super::affected(&outcome.done);
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
                SkipReason::NeedsAttempt => eprintln!(
                    "skipped {name}: it was seen with several passwords; say which becomes the user's with \
                     `mqreg registry approve {name} --force --attempt N` (see `mqreg registry show {name}`)"
                ),
                SkipReason::NoSuchAttempt => eprintln!(
                    "skipped {name}: it has no such attempt; see `mqreg registry show {name}`"
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
    let unclear: Vec<&str> = outcome
        .skipped
        .iter()
        .filter(|(name, reason)| {
            named.contains(name)
                && matches!(reason, SkipReason::NeedsAttempt | SkipReason::NoSuchAttempt)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if !unclear.is_empty() && outcome.not_found.is_empty() {
        return Err(Error::usage(format!(
            "not {verb}: {}: name one password attempt with --attempt N",
            unclear.join(", ")
        )));
    }
    let conflict = (!refused.is_empty()).then(|| format!("not {verb}: {}", refused.join(", ")));
    partial_result(&outcome.not_found, "pending request", conflict)
}

/// `registry show`: the request and its numbered password attempts.
fn show(context: &Context, state: &State, name: &str) -> Result<()> {
    let Some(request) = state
        .live_pending(now())
        .find(|(pending, _)| *pending == name)
        .map(|(_, request)| request)
    else {
        return Err(Error::not_found(format!(
            "no pending request for '{}'; see `mqreg registry list`",
            crate::names::printable(name)
        )));
    };
    if context.json {
        return print_json(&RequestJson::new(name, request));
    }
    println!("username:   {name}");
    println!(
        "client id:  {}",
        crate::names::printable(&request.client_id)
    );
    println!("address:    {}", request.address);
    println!("MQTT:       {}", request.protocol);
    println!("first seen: {} UTC", output::short_time(request.first_seen));
    println!("last seen:  {} UTC", output::short_time(request.last_seen));
    println!("attempts:   {}", request.attempts);
    if request.conflict {
        println!(
            "conflict:   yes: seen with {} passwords; approve one with `mqreg registry approve {name} --force --attempt N`",
            request.passwords.len()
        );
    }
    println!("{}", attempts_table(request));
    Ok(())
}

/// The numbered password attempts of a request (never the hashes).
fn attempts_table(request: &PendingRequest) -> output::Table {
    let mut table = output::table(&[
        "ATTEMPT",
        "CLIENT ID",
        "ADDRESS",
        "MQTT",
        "FIRST SEEN (UTC)",
        "LAST SEEN (UTC)",
        "COUNT",
    ]);
    for (index, attempt) in request.passwords.iter().enumerate() {
        table.add_row(vec![
            (index + 1).to_string(),
            crate::names::printable(&attempt.client_id),
            attempt.address.clone(),
            attempt.protocol.clone(),
            output::short_time(attempt.first_seen),
            output::short_time(attempt.last_seen),
            attempt.count.to_string(),
        ]);
    }
    table
}

/// A pending request as `registry show --json` and `registry watch --json`
/// print it: `registry list`'s fields plus the numbered attempts.
#[derive(Serialize)]
pub struct RequestJson<'a> {
    pub username: &'a str,
    pub client_id: &'a str,
    pub address: &'a str,
    pub protocol: &'a str,
    pub first_seen: String,
    pub last_seen: String,
    pub attempts: u64,
    pub conflict: bool,
    pub passwords: Vec<AttemptJson<'a>>,
}

#[derive(Serialize)]
pub struct AttemptJson<'a> {
    pub attempt: usize,
    pub client_id: &'a str,
    pub address: &'a str,
    pub protocol: &'a str,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
}

impl<'a> RequestJson<'a> {
    pub fn new(name: &'a str, request: &'a PendingRequest) -> Self {
        Self {
            username: name,
            client_id: &request.client_id,
            address: &request.address,
            protocol: &request.protocol,
            first_seen: output::rfc3339(request.first_seen),
            last_seen: output::rfc3339(request.last_seen),
            attempts: request.attempts,
            conflict: request.conflict,
            passwords: request
                .passwords
                .iter()
                .enumerate()
                .map(|(index, attempt)| AttemptJson {
                    attempt: index + 1,
                    client_id: &attempt.client_id,
                    address: &attempt.address,
                    protocol: &attempt.protocol,
                    first_seen: output::rfc3339(attempt.first_seen),
                    last_seen: output::rfc3339(attempt.last_seen),
                    count: attempt.count,
                })
                .collect(),
        }
    }
}
