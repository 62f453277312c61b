//! `mqreg token`: who may use the HTTP API.

use std::time::Duration;

use clap::Subcommand;

use super::{parse_role, Context};
use crate::error::Result;
use crate::ops::tokens;
use crate::output::{self, print_json};
use crate::state::tokens::TokenRole;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token and print its secret, once (only a hash is kept)
    #[command(after_help = "Examples:\n  \
        mqreg token create grafana --role viewer\n  \
        mqreg token create deploy-bot --role admin --for 90d\n\n\
        Send it as `Authorization: Bearer TOKEN`:\n  \
        curl -H \"Authorization: Bearer $TOKEN\" http://gateway:8080/api/v1/registry")]
    Create {
        /// A name for the token, as the audit log will name its changes
        #[arg(value_name = "NAME", value_parser = parse_role)]
        name: String,
        /// admin may change everything; viewer may only read
        #[arg(long, value_enum, default_value = "viewer")]
        role: TokenRole,
        /// Expire after DURATION, like 12h or 90d [default: never]
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_lifetime)]
        lifetime: Option<Duration>,
    },
    /// List the tokens (never their secrets)
    List,
    /// Revoke a token: requests with it are refused at once
    Revoke {
        #[arg(value_name = "NAME")]
        name: String,
    },
}

fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let lifetime = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration ({e}); write it like 12h or 90d"))?;
    if lifetime.is_zero() {
        return Err("the token must live longer than 0s".into());
    }
    Ok(lifetime)
}

pub fn exec(context: &Context, command: TokenCommand) -> Result<()> {
    let store = &context.store;
    match command {
        TokenCommand::Create {
            name,
            role,
            lifetime,
        } => {
            let created = tokens::create(store, &name, role, lifetime)?;
            if context.json {
                return print_json(&created);
            }
            println!("{}", created.token);
            eprintln!(
                "token {name} ({}{}): shown this once; keep it in a secret store",
                role.as_str(),
                created
                    .info
                    .expires
                    .as_deref()
                    .map(|until| format!(
                        ", expires {}",
                        until.replace('T', " ").trim_end_matches('Z')
                    ))
                    .unwrap_or_default()
            );
            Ok(())
        }
        TokenCommand::List => {
            let list = tokens::list(store)?;
            if context.json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no tokens; make one with `mqreg token create NAME --role viewer`");
                return Ok(());
            }
            let now = chrono::Utc::now();
            let mut table = output::table(&["NAME", "ROLE", "CREATED", "EXPIRES (UTC)"]);
            for token in list {
                table.add_row(vec![
                    token.name,
                    token.role.as_str().to_owned(),
                    output::ago(&token.created, now),
                    token.expires.map_or_else(
                        || "never".to_owned(),
                        |until| until.replace('T', " ").trim_end_matches('Z').to_owned(),
                    ),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        TokenCommand::Revoke { name } => {
            tokens::revoke(store, &name)?;
            if context.json {
                return print_json(&serde_json::json!({ "revoked": name }));
            }
            println!("revoked token {name}");
            Ok(())
        }
    }
}
