//! `mqreg registry watch`: pending requests as they appear.
//!
//! It follows the state file, not the broker, so it works with or without a
//! running broker and sees exactly what `registry list` would. A request is
//! known by its username and when it was first seen: one rejected and made
//! again is new again.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use super::{now, Context};
use crate::error::{Error, Result};
use crate::names::printable;
use crate::ops::registry::Request as RequestJson;
use crate::output;
use crate::state::watcher::{FileIdentity, FileWatcher};
use crate::state::{PendingRequest, Timestamp};

/// How often the file is looked at when no change notification arrives.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Existing,
    New,
    Changed,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Existing => "existing",
            Event::New => "new",
            Event::Changed => "changed",
        }
    }
}

/// What makes a request "changed" when it differs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    first_seen: Timestamp,
    attempts: u64,
    passwords: usize,
    conflict: bool,
}

impl Seen {
    fn of(request: &PendingRequest) -> Self {
        Self {
            first_seen: request.first_seen,
            attempts: request.attempts,
            passwords: request.passwords.len(),
            conflict: request.conflict,
        }
    }
}

#[derive(Serialize)]
struct EventJson {
    event: &'static str,
    #[serde(flatten)]
    request: RequestJson,
}

pub fn exec(context: &Context, command: Option<&str>) -> Result<()> {
    let path = context.store.path().to_owned();
    let mut watcher = FileWatcher::new(&path, POLL);
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut identity = None;
    let mut first = true;
    let mut reported_error = false;
    if !context.json {
        print_line(&format!(
            "{:<8} {:<20} {:<24} {:<22} {:<5} {:>8} {:>9} {:<8} LAST SEEN (UTC)",
            "EVENT",
            "USERNAME",
            "CLIENT ID",
            "ADDRESS",
            "MQTT",
            "ATTEMPTS",
            "PASSWORDS",
            "CONFLICT"
        ))?;
    }
    // A registry in PostgreSQL announces its changes (LISTEN); a file is
    // watched.
    let announced = context.store.database().map(|database| {
        let (told, heard) = std::sync::mpsc::channel();
        database.listen(move || {
            let _ = told.send(());
        });
        heard
    });
    loop {
        if let Some(heard) = &announced {
            if !first {
                let _ = heard.recv_timeout(std::time::Duration::from_secs(5));
                while heard.try_recv().is_ok() {}
            }
        } else {
            if !first {
                watcher.wait();
            }
            let now_identity = FileIdentity::of(&path);
            if !first && now_identity == identity {
                continue;
            }
            // Missing or empty: being replaced by hand, not "no requests" (which
            // would report every request as new once the file is back).
            if !first && now_identity.is_none_or(|file| file.is_empty()) {
                identity = now_identity;
                continue;
            }
            identity = now_identity;
        }
        let state = match context.store.load() {
            Ok(state) => state,
            // The first read decides whether there is anything to watch.
            Err(error) if first => return Err(error),
            Err(error) => {
                if !reported_error {
                    eprintln!("warning: {error}\nWatching goes on; the file is read again when it changes.");
                    reported_error = true;
                }
                continue;
            }
        };
        reported_error = false;
        let mut current = HashMap::new();
        for (name, request) in state.live_pending(now()) {
            let now_seen = Seen::of(request);
            let event = match seen.get(name) {
                _ if first => Some(Event::Existing),
                None => Some(Event::New),
                Some(before) if before.first_seen != now_seen.first_seen => Some(Event::New),
                Some(before) if *before != now_seen => Some(Event::Changed),
                Some(_) => None,
            };
            if let Some(event) = event {
                report(context, event, name, request)?;
                if event == Event::New {
                    if let Some(command) = command {
                        run(command, name, request, &path);
                    }
                }
            }
            current.insert(name.clone(), now_seen);
        }
        seen = current;
        first = false;
    }
}

fn report(context: &Context, event: Event, name: &str, request: &PendingRequest) -> Result<()> {
    if context.json {
        let line = serde_json::to_string(&EventJson {
            event: event.as_str(),
            request: RequestJson::new(name, request),
        })
        .map_err(|e| Error::failure(format!("cannot produce JSON: {e}")))?;
        return print_line(&line);
    }
    print_line(&format!(
        "{:<8} {:<20} {:<24} {:<22} {:<5} {:>8} {:>9} {:<8} {}",
        event.as_str(),
        name,
        printable(&request.client_id),
        request.address,
        request.protocol,
        request.attempts,
        request.passwords.len(),
        if request.conflict { "yes" } else { "no" },
        output::short_time(request.last_seen)
    ))
}

/// One line on stdout, flushed at once; a reader that went away ends the
/// watch quietly (`registry watch | head -1`).
fn print_line(line: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => Err(Error::failure(format!("cannot write to stdout: {error}"))),
    }
}

/// Runs the `--exec` command for a new request; its output goes to stderr so
/// that stdout stays the event stream.
fn run(command: &str, name: &str, request: &PendingRequest, state: &std::path::Path) {
    let stderr = io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::inherit());
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(stderr)
        .env("MQREG_EVENT", "new")
        .env("MQREG_USERNAME", name)
        .env("MQREG_CLIENT_ID", &request.client_id)
        .env("MQREG_ADDRESS", &request.address)
        .env("MQREG_PROTOCOL", &request.protocol)
        .env("MQREG_ATTEMPTS", request.attempts.to_string())
        .env("MQREG_PASSWORDS", request.passwords.len().to_string())
        .env("MQREG_CONFLICT", request.conflict.to_string())
        .env("MQREG_FIRST_SEEN", output::rfc3339(request.first_seen))
        .env("MQREG_LAST_SEEN", output::rfc3339(request.last_seen))
        .env("MQREG_STATE", state)
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("warning: --exec command for {name} ended with {status}"),
        Err(error) => eprintln!("warning: cannot run the --exec command for {name}: {error}"),
    }
}
