//! The operations an admin can perform, one function each, behind both front
//! doors: the CLI (`commands/*` parse arguments, call these, print the
//! outcome) and the HTTP API (`http/*` parse a request, call these,
//! serialise the same outcome). As cargo's `ops` sit behind its commands.
//!
//! An operation checks its request, changes the state through the store
//! (under its lock, so concurrent writers lose nothing) and returns a typed
//! outcome whose JSON form is the one shape both doors give. It knows
//! nothing of terminals or HTTP: errors carry the exit code, which the API
//! maps to a status. Auditing is the door's, since only the door knows who
//! asked ([`record`] writes the line for both).

pub mod bans;
pub mod certificates;
pub mod migrate;
pub mod registry;
pub mod roles;
pub mod tokens;
pub mod users;

use chrono::{SubsecRound, Utc};

use crate::audit::{AuditLog, Entry};
use crate::error::Result;
use crate::state::Timestamp;

/// The current time in whole seconds, as it is stored.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(0)
}

/// Appends what a change did to the audit log: who (`cli:alice`,
/// `api:deploy-bot`), the action as the CLI names it, what it acted on, how
/// it ended, and a detail (the command line, or the API request's method and
/// path: never a password or token).
pub fn record<T>(
    audit: &AuditLog,
    actor: &str,
    action: &str,
    target: Option<String>,
    result: &Result<T>,
    detail: Option<String>,
) {
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => format!(
            "exit {}: {}",
            error.code as i32,
            error.message.lines().next().unwrap_or_default()
        ),
    };
    let mut entry = Entry::now(actor.to_owned(), action, target, outcome);
    entry.detail = detail;
    if let Err(error) = audit.append(&entry) {
        let message = format!(
            "cannot write the audit log {}: {error}",
            audit.path().display()
        );
        if tracing::dispatcher::has_been_set() {
            tracing::error!("{message}");
        } else {
            eprintln!("warning: {message}");
        }
    }
}
