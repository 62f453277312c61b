//! `mqreg client`: the clients connected to the running broker, asked over
//! its control socket.

use clap::Subcommand;

use super::Context;
use crate::error::{Error, Result};
use crate::http::local;
use crate::output::{self, print_json};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List the connected clients
    List,
    /// Disconnect clients (MQTT 5 clients see DISCONNECT 0x98, administrative
    /// action); their wills are published, their sessions kept
    #[command(
        after_help = "A kicked device usually reconnects at once; to keep it out, \
        `mqreg user disable USER` or `mqreg ban add --client-id ID`."
    )]
    Kick {
        #[arg(value_name = "CLIENT_ID", required = true)]
        client_ids: Vec<String>,
    },
}

/// Asks the broker serving the state; an error when none does.
fn ask(context: &Context, method: &str, path: &str) -> Result<serde_json::Value> {
    local::request(context.store.path(), method, path, None)?.ok_or_else(|| {
        Error::failure(format!(
            "no running broker serves {}; start it with `mqreg serve`, or name its state with --state",
            context.store.path().display()
        ))
    })
}

pub fn exec(context: &Context, command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::List => {
            let clients = ask(context, "GET", "/api/v1/clients")?;
            if context.json {
                return print_json(&clients);
            }
            let clients = clients.as_array().cloned().unwrap_or_default();
            if clients.is_empty() {
                println!("no clients connected");
                return Ok(());
            }
            let now = chrono::Utc::now();
            let mut table = output::table(&[
                "CLIENT ID",
                "USERNAME",
                "ADDRESS",
                "MQTT",
                "CONNECTED",
                "SUBSCRIPTIONS",
                "QUEUED",
                "IN FLIGHT",
            ]);
            for client in clients {
                let text = |key: &str| cell(&client, key);
                table.add_row(vec![
                    text("client_id"),
                    text("username"),
                    text("address"),
                    text("protocol"),
                    output::ago(&text("connected_at"), now),
                    text("subscriptions"),
                    text("queued"),
                    text("inflight"),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        ClientCommand::Kick { client_ids } => {
            let mut missing = Vec::new();
            let mut kicked = Vec::new();
            for client_id in &client_ids {
                let path = format!("/api/v1/clients/{}", encode_segment(client_id));
                match ask(context, "DELETE", &path) {
                    Ok(_) => kicked.push(client_id.clone()),
                    Err(error) if error.code == crate::error::ExitCode::NotFound => {
                        missing.push(client_id.clone())
                    }
                    Err(error) => return Err(error),
                }
            }
            if context.json {
                print_json(&serde_json::json!({ "kicked": kicked, "not_found": missing }))?;
            } else {
                for client_id in &kicked {
                    println!("kicked {}", crate::names::printable(client_id));
                }
            }
            super::partial_result(&missing, "connected client", None)
        }
    }
}

/// `registry list --refused`: the recent refused logins, from the broker.
pub fn list_refused(context: &Context) -> Result<()> {
    let refused = ask(context, "GET", "/api/v1/registry/refused")?;
    if context.json {
        return print_json(&refused);
    }
    let refused = refused.as_array().cloned().unwrap_or_default();
    if refused.is_empty() {
        println!("no refused logins since the broker started");
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut table = output::table(&[
        "USERNAME",
        "CLIENT ID",
        "ADDRESS",
        "REASON",
        "COUNT",
        "LAST SEEN",
    ]);
    for entry in refused {
        let text = |key: &str| cell(&entry, key);
        table.add_row(vec![
            text("username"),
            text("client_id"),
            text("address"),
            text("reason"),
            text("count"),
            output::ago(&text("last_seen"), now),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// A field of an answer's object as a table cell: strings printable (a
/// client id may hold anything), numbers as they are.
fn cell(object: &serde_json::Value, key: &str) -> String {
    match &object[key] {
        serde_json::Value::String(text) => crate::names::printable(text),
        other => other.to_string(),
    }
}

/// The connected clients' count, when the broker serving `state` answers:
/// its registry status carries it (a count, not the whole client list).
pub fn connected_count(state: &std::path::Path) -> Option<usize> {
    let status = local::request(state, "GET", "/api/v1/registry", None).ok()??;
    status["clients"].as_u64().map(|count| count as usize)
}

/// A client id as one URL path segment.
fn encode_segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
