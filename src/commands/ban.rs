//! `mqreg ban`: refuse logins and registrations by username, client id or
//! address, and close the live connections they match.

use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;

use super::{now, parse_username, Context};
use crate::error::{Error, Result};
use crate::output::{self, print_json};
use crate::state::access::parse_address_ban;
use crate::state::{Ban, BanKind};

#[derive(Debug, Subcommand)]
pub enum BanCommand {
    /// Ban a username, a client id or an address (IP or CIDR block)
    #[command(after_help = "Examples:\n  \
        mqreg ban add --address 203.0.113.0/24 --for 1h --reason 'scanner'\n  \
        mqreg ban add --username sensor17 --reason 'stolen device'\n  \
        mqreg ban add --client-id test-client --for 10m")]
    Add(AddArgs),
    /// List the bans in force
    List,
    /// Lift a ban
    Remove {
        /// The ban's id, as `mqreg ban list` shows it
        #[arg(value_name = "ID")]
        id: u64,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["username", "client_id", "address"])))]
pub struct AddArgs {
    /// Refuse this username (logins and registrations)
    #[arg(long, value_name = "USERNAME", value_parser = parse_username)]
    username: Option<String>,
    /// Refuse this client id
    #[arg(long, value_name = "CLIENT_ID", value_parser = parse_client_id)]
    client_id: Option<String>,
    /// Refuse connections from this IP address or CIDR block
    #[arg(long, value_name = "IP_OR_CIDR", value_parser = parse_address_ban)]
    address: Option<String>,
    /// Lift the ban after DURATION, like 30m, 12h or 7d [default: never]
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_ban_duration)]
    duration: Option<Duration>,
    /// Why, for `ban list` and the audit log
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

fn parse_client_id(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("an empty client id would ban every client that lets the broker assign one; name a client id".into());
    }
    Ok(text.to_owned())
}

fn parse_ban_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration ({e}); write it like 30m, 12h or 7d"))?;
    if duration.is_zero() {
        return Err("the ban must last longer than 0s".into());
    }
    Ok(duration)
}

#[derive(Serialize)]
struct BanJson<'a> {
    id: u64,
    kind: &'static str,
    value: &'a str,
    created: String,
    until: Option<String>,
    reason: Option<&'a str>,
}

impl<'a> BanJson<'a> {
    fn new(ban: &'a Ban) -> Self {
        Self {
            id: ban.id,
            kind: ban.kind.as_str(),
            value: &ban.value,
            created: output::rfc3339(ban.created),
            until: ban.until.map(output::rfc3339),
            reason: ban.reason.as_deref(),
        }
    }
}

pub fn exec(context: &Context, command: BanCommand) -> Result<()> {
    match command {
        BanCommand::Add(args) => {
            let (kind, value) = match (args.username, args.client_id, args.address) {
                (Some(name), _, _) => (BanKind::Username, name),
                (_, Some(client_id), _) => (BanKind::ClientId, client_id),
                (_, _, Some(address)) => (BanKind::Address, address),
                _ => unreachable!("clap requires one target"),
            };
            let now = now();
            let until = match args.duration {
                Some(duration) => Some(
                    chrono::Duration::from_std(duration)
                        .ok()
                        .and_then(|d| now.checked_add_signed(d))
                        .ok_or_else(|| Error::usage("the ban's duration is too long"))?,
                ),
                None => None,
            };
            let ban = context
                .store
                .update(|state| Ok(state.add_ban(kind, value, until, args.reason, now)))?;
            if context.json {
                return print_json(&BanJson::new(&ban));
            }
            println!(
                "ban {}: {} {} refused {}",
                ban.id,
                kind.as_str().replace('_', " "),
                crate::names::printable(&ban.value),
                match ban.until {
                    Some(until) => format!("until {} UTC", output::short_time(until)),
                    None => "until removed".to_owned(),
                }
            );
            Ok(())
        }
        BanCommand::List => {
            let state = context.store.load()?;
            let bans: Vec<&Ban> = state.active_bans(now()).collect();
            if context.json {
                return print_json(&bans.iter().map(|ban| BanJson::new(ban)).collect::<Vec<_>>());
            }
            if bans.is_empty() {
                println!("no bans");
                return Ok(());
            }
            let mut table = output::table(&["ID", "KIND", "VALUE", "UNTIL (UTC)", "REASON"]);
            for ban in bans {
                table.add_row(vec![
                    ban.id.to_string(),
                    ban.kind.as_str().to_owned(),
                    crate::names::printable(&ban.value),
                    ban.until
                        .map_or_else(|| "removed".to_owned(), output::short_time),
                    ban.reason
                        .as_deref()
                        .map(crate::names::printable)
                        .unwrap_or_default(),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        BanCommand::Remove { id } => {
            let removed = context.store.update(|state| Ok(state.remove_ban(id)))?;
            if !removed {
                return Err(Error::not_found(format!(
                    "no ban with id {id}; see `mqreg ban list`"
                )));
            }
            if context.json {
                return print_json(&serde_json::json!({ "removed": id }));
            }
            println!("removed ban {id}");
            Ok(())
        }
    }
}
