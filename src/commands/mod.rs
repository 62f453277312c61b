//! One module per command group: its arguments, then its `exec`, in the manner
//! of cargo's `src/bin/cargo/commands/`.

pub mod docs;
pub mod registry;
pub mod role;
pub mod serve;
pub mod user;

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use chrono::{SubsecRound, Utc};

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::names;
use crate::state::store::{self, Store};
use crate::state::Timestamp;

/// What every command gets: the state store and the output mode.
pub struct Context {
    pub store: Store,
    pub json: bool,
}

pub fn exec(cli: Cli) -> Result<()> {
    if let Command::GenerateDocs(args) = &cli.command {
        return docs::exec(args);
    }
    let path = match cli.global.state {
        Some(path) => path,
        None => store::default_path()?,
    };
    let context = Context {
        store: Store::new(path).with_lock_timeout(lock_timeout()?),
        json: cli.global.json,
    };
    match cli.command {
        Command::Serve(args) => serve::exec(&context, args),
        Command::Registry(command) => registry::exec(&context, command),
        Command::User(command) => user::exec(&context, command),
        Command::Role(command) => role::exec(&context, command),
        Command::GenerateDocs(_) => unreachable!("handled above"),
    }
}

fn lock_timeout() -> Result<Duration> {
    match std::env::var("MQREG_LOCK_TIMEOUT") {
        Ok(text) if !text.is_empty() => humantime::parse_duration(&text).map_err(|e| {
            Error::usage(format!(
                "invalid MQREG_LOCK_TIMEOUT '{text}': {e}; write it like '30s' or '2m'"
            ))
        }),
        _ => Ok(store::DEFAULT_LOCK_TIMEOUT),
    }
}

/// The current time in whole seconds, as it is stored.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(0)
}

/// Clap value parser for usernames.
pub fn parse_username(text: &str) -> Result<String, String> {
    names::check_username(text).map(|()| text.to_owned())
}

/// Clap value parser for role names.
pub fn parse_role(text: &str) -> Result<String, String> {
    names::check_role(text).map(|()| text.to_owned())
}

/// Reads a password: from the terminal without echo (asked twice), or else the
/// first line of stdin, so that scripts can pipe it in.
pub fn read_password(username: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {username}: "))
            .map_err(|e| Error::failure(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Repeat it: ")
            .map_err(|e| Error::failure(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(Error::usage(
                "the two passwords differ; nothing was changed",
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::usage(format!("cannot read the password from stdin: {e}")))?;
    if read == 0 {
        return Err(Error::usage(format!(
            "no password on stdin for '{username}'; pipe it in, e.g. `echo 'PASSWORD' | mqreg user add {username}`"
        )));
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}

/// The exit status for a command that did what it could: 3 if named things were
/// missing, else 4 if some were refused for a conflict, else success.
pub fn partial_result(missing: &[String], what: &str, conflicts: Option<String>) -> Result<()> {
    if !missing.is_empty() {
        return Err(Error::not_found(format!(
            "no such {what}: {}",
            missing.join(", ")
        )));
    }
    match conflicts {
        Some(message) => Err(Error::conflict(message)),
        None => Ok(()),
    }
}
