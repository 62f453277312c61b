//! `mqreg registry`: the window in which devices may register, and the pending
//! requests they leave behind.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::{parse_role, Context};
use crate::error::{Error, Result};
use crate::ops::registry::{self, Approval};
use crate::output::{self, print_json};
use crate::state::Selection;

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Open the registry: unknown devices that log in are recorded as pending
    Unlock {
        /// How long to stay open, like 90s, 10m or 1h (at most 24h)
        #[arg(long = "for", value_name = "DURATION", default_value = "5m", value_parser = registry::parse_window)]
        window: Duration,
    },
    /// Close the registry now (pending requests are kept)
    Lock,
    /// Show whether the registry is open, until when, and how many requests wait
    Status,
    /// List pending requests (or, with --refused, the recent refused logins)
    #[command(long_about = "List pending requests, one row each.\n\n\
        With --refused, list instead the recent login attempts the running broker refused \
        and recorded no request for (an invalid username such as gw-01, a password against \
        the policy, a locked registry, a wrong password), by username, address and reason: \
        why a device never showed up.")]
    List {
        /// The recent refused logins, from the running broker
        #[arg(long)]
        refused: bool,
    },
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

fn parse_glob(text: &str) -> Result<glob::Pattern, String> {
    registry::parse_glob(text)
}

pub fn exec(context: &Context, command: RegistryCommand) -> Result<()> {
    let store = &context.store;
    match command {
        RegistryCommand::Unlock { window } => {
            print_status(context, &registry::unlock(store, window)?)
        }
        RegistryCommand::Lock => print_status(context, &registry::lock(store)?),
        RegistryCommand::Status => {
            let mut status = registry::status(store)?;
            if status.served_by.is_some() {
                status.clients = super::client::connected_count(store.path());
            }
            print_status(context, &status)
        }
        RegistryCommand::List { refused } => {
            if refused {
                return super::client::list_refused(context);
            }
            list(context, &registry::list(store)?)
        }
        RegistryCommand::Approve {
            selection,
            roles,
            force,
            attempt,
        } => {
            let selection = selection.into_selection("approve")?;
            let named = selection.names.clone();
            let decided = registry::approve(
                store,
                Approval {
                    selection,
                    roles,
                    force,
                    attempt,
                },
            )?;
            if !context.json {
                for request in &decided.needing_attempt {
                    eprintln!("{} was seen with these passwords:", request.username);
                    eprintln!("{}", attempts_table(request));
                }
            }
            report_selection(context, &decided, &named)
        }
        RegistryCommand::ClientIds {
            set,
            any,
            registered,
        } => {
            let registry::ClientIds {
                client_ids: rule,
                locked_out,
            } = match super::client_id_rule_from(set, any, registered)? {
                None => registry::client_ids(store)?,
                Some(rule) => registry::set_client_ids(store, rule)?,
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
        RegistryCommand::Show { name } => show(context, &registry::show(store, &name)?),
        RegistryCommand::Watch { exec } => super::watch::exec(context, exec.as_deref()),
        RegistryCommand::Reject { selection } => {
            let selection = selection.into_selection("reject")?;
            let named = selection.names.clone();
            let decided = registry::reject(store, selection)?;
            report_selection(context, &decided, &named)
        }
    }
}

/// The registry's status, with the state file it describes and the broker
/// serving that file (so an admin sees when they looked at the wrong one).
fn print_status(context: &Context, status: &registry::Status) -> Result<()> {
    if context.json {
        return print_json(status);
    }
    match &status.unlocked_until {
        Some(until) => println!(
            "registry: unlocked until {} UTC ({} left)",
            until.replace('T', " ").trim_end_matches('Z'),
            humantime::format_duration(Duration::from_secs(status.remaining_seconds.max(0) as u64))
        ),
        None => println!("registry: locked"),
    }
    println!("pending requests: {}", status.pending);
    match &status.database {
        None => println!("state file: {}", status.state),
        Some(database) => {
            println!("state: {}", status.state);
            match &database.error {
                None => println!("database: reachable"),
                Some(error) => println!(
                    "database: unreachable; this is this gateway's copy ({})\n  {error}",
                    context.store.path().display()
                ),
            }
        }
    }
    match &status.served_by {
        Some(broker) => {
            println!(
                "served by: mqreg {} (pid {}, since {}) on {}",
                broker.version,
                broker.pid,
                broker.started,
                broker.listen.join(", ")
            );
            if let Some(clients) = status.clients {
                println!("connected clients: {clients}");
            }
        }
        None => println!("served by: no running broker"),
    }
    Ok(())
}

fn list(context: &Context, requests: &[registry::RequestRow]) -> Result<()> {
    if context.json {
        return print_json(&requests);
    }
    if requests.is_empty() {
        println!("no pending requests");
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut table = output::table(&[
        "USERNAME",
        "CLIENT ID",
        "ADDRESS",
        "MQTT",
        "FIRST SEEN",
        "LAST SEEN",
        "ATTEMPTS",
        "PASSWORDS",
        "CONFLICT",
    ]);
    table.drop_first(&["PASSWORDS", "FIRST SEEN", "MQTT", "CLIENT ID"]);
    for r in requests {
        table.add_row(vec![
            r.username.clone(),
            crate::names::printable(&r.client_id),
            r.address.clone(),
            r.protocol.clone(),
            output::ago(&r.first_seen, now),
            output::ago(&r.last_seen, now),
            r.attempts.to_string(),
            r.passwords.to_string(),
            if r.conflict { "yes" } else { "" }.to_owned(),
        ]);
    }
    println!("{table}");
    Ok(())
}

fn report_selection(
    context: &Context,
    decided: &registry::Decided,
    named: &[String],
) -> Result<()> {
    let verb = decided.verb;
    let outcome = &decided.outcome;
    super::affected(&outcome.done);
    if context.json {
        print_json(decided)?;
    } else {
        for name in &outcome.done {
            if decided.roles.is_empty() {
                println!("{verb} {name}");
            } else {
                println!("{verb} {name} with roles {}", decided.roles.join(", "));
            }
        }
        // Named requests' reasons are the error's; the bulk ones' are said here.
        for (name, reason) in outcome
            .skipped
            .iter()
            .filter(|(name, _)| !named.contains(name))
        {
            eprintln!("skipped {name}: {}", registry::skip_text(name, reason));
        }
        if outcome.done.is_empty() && outcome.skipped.is_empty() && outcome.not_found.is_empty() {
            println!("no pending request matched; nothing was {verb}");
        }
    }
    decided.verdict(named)
}

/// `registry show`: the request and its numbered password attempts.
fn show(context: &Context, request: &registry::Request) -> Result<()> {
    if context.json {
        return print_json(request);
    }
    let name = &request.username;
    println!("username:   {name}");
    println!(
        "client id:  {}",
        crate::names::printable(&request.client_id)
    );
    println!("address:    {}", request.address);
    println!("MQTT:       {}", request.protocol);
    let now = chrono::Utc::now();
    println!("first seen: {}", output::when(&request.first_seen, now));
    println!("last seen:  {}", output::when(&request.last_seen, now));
    println!("attempts:   {}", request.attempts);
    if request.conflict {
        println!(
            "conflict:   yes: seen with {} passwords; approve one with `mqreg registry approve {name} --force --attempt N`",
            request.passwords.len()
        );
    }
    println!("{}", attempts_table(request));
    for attempt in &request.passwords {
        if let Some(csr) = &attempt.csr {
            println!(
                "attempt {} CSR: {} ({}), key SHA-256 {}{}",
                attempt.attempt,
                csr.subject,
                csr.key_type,
                csr.key_fingerprint,
                if attempt.password {
                    ""
                } else {
                    ", no password"
                }
            );
        }
        if let Some(context) = &attempt.context {
            println!("attempt {} context: {context}", attempt.attempt);
        }
    }
    Ok(())
}

/// The numbered password attempts of a request (never the hashes).
fn attempts_table(request: &registry::Request) -> output::Table {
    let now = chrono::Utc::now();
    let mut table = output::table(&[
        "ATTEMPT",
        "CLIENT ID",
        "ADDRESS",
        "MQTT",
        "FIRST SEEN",
        "LAST SEEN",
        "COUNT",
    ]);
    for attempt in &request.passwords {
        table.add_row(vec![
            attempt.attempt.to_string(),
            crate::names::printable(&attempt.client_id),
            attempt.address.clone(),
            attempt.protocol.clone(),
            output::ago(&attempt.first_seen, now),
            output::ago(&attempt.last_seen, now),
            attempt.count.to_string(),
        ]);
    }
    table
}
