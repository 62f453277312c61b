//! `mqreg ban`: refuse logins and registrations by username, client id or
//! address, and close the live connections they match.

use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};

use super::{parse_username, Context};
use crate::error::Result;
use crate::ops::bans::{self, parse_duration as parse_ban_duration};
use crate::output::{self, print_json};
use crate::state::access::parse_address_ban;
use crate::state::BanKind;

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

pub fn exec(context: &Context, command: BanCommand) -> Result<()> {
    let store = &context.store;
    match command {
        BanCommand::Add(args) => {
            let (kind, value) = match (args.username, args.client_id, args.address) {
                (Some(name), _, _) => (BanKind::Username, name),
                (_, Some(client_id), _) => (BanKind::ClientId, client_id),
                (_, _, Some(address)) => (BanKind::Address, address),
                _ => unreachable!("clap requires one target"),
            };
            let ban = bans::add(store, kind, value, args.duration, args.reason)?;
            if context.json {
                return print_json(&ban);
            }
            println!(
                "ban {}: {} {} refused {}",
                ban.id,
                kind.as_str().replace('_', " "),
                crate::names::printable(&ban.value),
                match &ban.until {
                    Some(until) => format!(
                        "until {} UTC",
                        until.replace('T', " ").trim_end_matches('Z')
                    ),
                    None => "until removed".to_owned(),
                }
            );
            Ok(())
        }
        BanCommand::List => {
            let bans = bans::list(store)?;
            if context.json {
                return print_json(&bans);
            }
            if bans.is_empty() {
                println!("no bans");
                return Ok(());
            }
            let mut table = output::table(&["ID", "KIND", "VALUE", "UNTIL (UTC)", "REASON"]);
            for ban in bans {
                table.add_row(vec![
                    ban.id.to_string(),
                    ban.kind.to_owned(),
                    crate::names::printable(&ban.value),
                    ban.until.as_deref().map_or_else(
                        || "never".to_owned(),
                        |until| until.replace('T', " ").trim_end_matches('Z').to_owned(),
                    ),
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
            bans::remove(store, id)?;
            if context.json {
                return print_json(&serde_json::json!({ "removed": id }));
            }
            println!("removed ban {id}");
            Ok(())
        }
    }
}
