//! One module per command group: its arguments, then its `exec`, in the manner
//! of cargo's `src/bin/cargo/commands/`.

pub mod audit;
pub mod ban;
pub mod ca;
pub mod cert;
pub mod client;
pub mod config;
pub mod docs;
pub mod log_level;
pub mod registry;
pub mod role;
pub mod serve;
pub mod state;
pub mod token;
pub mod user;
pub mod watch;

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use crate::audit::AuditLog;
use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::names;
use crate::state::postgres;
use crate::state::served::ServedBy;
use crate::state::store::{self, Store};
use crate::state::ClientIdRule;

/// What every command gets: the state store, the audit log, the output mode,
/// and the config file if there is one.
pub struct Context {
    pub store: Store,
    pub audit: AuditLog,
    pub json: bool,
    pub config: Option<crate::config::Config>,
    /// The config file's settings, as the store lays them over the state.
    pub settings: crate::config::SharedSettings,
}

pub fn exec(cli: Cli, config: Option<crate::config::Config>) -> Result<()> {
    crate::output::set_format(cli.global.format);
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Registry(registry::RegistryCommand::Watch { .. })
    ) {
        // `mqreg config show | head` ends quietly, as other Unix tools do,
        // instead of panicking on the closed pipe. (The broker keeps Rust's
        // default: a client's closed socket must never kill it; `registry
        // watch` ends with exit 0 when its reader goes away, by itself.)
        // SAFETY: restoring a default signal disposition before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Command::GenerateDocs(args) = &cli.command {
        return docs::exec(args);
    }
    // --state, else MQREG_STATE, else the config file's, else the default.
    let from_config = config.as_ref().and_then(|config| config.file.state.clone());
    let path = match cli.global.state {
        Some(path) => path,
        None if std::env::var_os("MQREG_STATE").is_some_and(|p| !p.is_empty()) => {
            store::default_path()?
        }
        None => match from_config {
            Some(path) => path,
            None => store::default_path()?,
        },
    };
    let settings: crate::config::SharedSettings = std::sync::Arc::new(std::sync::RwLock::new(
        config
            .as_ref()
            .map(|config| config.file.settings.clone())
            .unwrap_or_default(),
    ));
    let store = match path.to_str().filter(|text| postgres::is_url(text)) {
        Some(url) => {
            let copy = match cli.global.local_copy {
                Some(copy) => copy,
                None => store::default_copy_path()?,
            };
            Store::postgres(url, copy)?
        }
        None => Store::new(path),
    };
    let store = store
        .with_lock_timeout(lock_timeout()?)
        .with_settings(settings.clone());
    let audit = match cli.global.audit_log {
        Some(log) => AuditLog::new(log),
        None => AuditLog::beside(store.path()),
    };
    let owner = store.owner_for(audit.path());
    let audit = audit.with_owner(owner);
    let context = Context {
        store,
        audit,
        json: cli.global.json,
        config,
        settings,
    };
    let action = admin_action(&cli.command);
    // Commands that read or change the state, except those that say which
    // file and broker anyway (serve, status) or only watch it.
    let names_its_state = !matches!(
        cli.command,
        Command::Serve(_)
            | Command::Audit(_)
            | Command::Registry(registry::RegistryCommand::Status)
            | Command::Registry(registry::RegistryCommand::Watch { .. })
            | Command::Registry(registry::RegistryCommand::List { refused: true })
            | Command::Client(_)
            | Command::LogLevel(_)
            | Command::Config(_)
            | Command::State(_)
    );
    let result = match cli.command {
        Command::Serve(args) => serve::exec(&context, args),
        Command::Registry(command) => registry::exec(&context, command),
        Command::User(command) => user::exec(&context, command),
        Command::Role(command) => role::exec(&context, command),
        Command::Ban(command) => ban::exec(&context, command),
        Command::Token(command) => token::exec(&context, command),
        Command::Ca(command) => ca::exec(&context, command),
        Command::Cert(command) => cert::exec(&context, command),
        Command::Client(command) => client::exec(&context, command),
        Command::LogLevel(args) => log_level::exec(&context, args),
        Command::Config(command) => config::exec(&context, command),
        Command::Audit(args) => audit::exec(&context, args),
        Command::State(command) => state::exec(&context, command),
        Command::GenerateDocs(_) => unreachable!("handled above"),
    };
    let changed = action.is_some();
    if let Some((action, target)) = action {
        record(&context, action, target, &result);
    }
    if result.is_ok()
        && names_its_state
        && context.store.database().is_none()
        && ServedBy::find(context.store.path()).is_none()
    {
        // The admin may be looking at (or changing) a file no broker reads:
        // another user's default, a typo in --state, a stopped service.
        eprintln!(
            "note: no running broker serves {}{}",
            context.store.path().display(),
            if changed {
                "; the change takes effect when `mqreg serve` starts on it"
            } else {
                ""
            }
        );
    }
    result
}

/// The commands that change the state, as the audit log names them, with
/// the user or role they act on.
fn admin_action(command: &Command) -> Option<(&'static str, Option<String>)> {
    use registry::RegistryCommand as R;
    use role::RoleCommand as O;
    use user::UserCommand as U;
    Some(match command {
        Command::Registry(R::Unlock { .. }) => ("registry unlock", None),
        Command::Registry(R::Lock) => ("registry lock", None),
        Command::Registry(R::Approve { .. }) => ("registry approve", None),
        Command::Registry(R::Reject { .. }) => ("registry reject", None),
        Command::Registry(R::ClientIds {
            set,
            any,
            registered,
        }) if !set.is_empty() || *any || *registered => ("registry client-ids", None),
        Command::User(U::Add { user, .. }) => ("user add", Some(user.clone())),
        Command::User(U::Passwd { user }) => ("user passwd", Some(user.clone())),
        Command::User(U::Delete { user }) => ("user delete", Some(user.clone())),
        Command::User(U::GrantRole { user, .. }) => ("user grant-role", Some(user.clone())),
        Command::User(U::RevokeRole { user, .. }) => ("user revoke-role", Some(user.clone())),
        Command::User(U::Disable { user }) => ("user disable", Some(user.clone())),
        Command::User(U::Enable { user }) => ("user enable", Some(user.clone())),
        Command::User(U::RevokeCert { user, .. }) => ("user revoke-cert", Some(user.clone())),
        Command::Ca(ca::CaCommand::Init { .. }) => ("ca init", None),
        Command::State(state::StateCommand::Migrate { .. }) => ("state migrate", None),
        Command::Ca(ca::CaCommand::Import { .. }) => ("ca import", None),
        Command::Cert(cert::CertCommand::Issue { user, .. }) => ("cert issue", Some(user.clone())),
        Command::User(U::ClientIds {
            user,
            set,
            any,
            registered,
            inherit,
        }) if !set.is_empty() || *any || *registered || *inherit => {
            ("user client-ids", Some(user.clone()))
        }
        Command::Ban(ban::BanCommand::Add(_)) => ("ban add", None),
        Command::Ban(ban::BanCommand::Remove { id }) => ("ban remove", Some(id.to_string())),
        Command::Role(O::Create { role, .. }) => ("role create", Some(role.clone())),
        Command::Role(O::Allow { role, .. }) => ("role allow", Some(role.clone())),
        Command::Role(O::Disallow { role, .. }) => ("role disallow", Some(role.clone())),
        Command::Role(O::Delete { role }) => ("role delete", Some(role.clone())),
        Command::Token(token::TokenCommand::Create { name, .. }) => {
            ("token create", Some(name.clone()))
        }
        Command::Token(token::TokenCommand::Revoke { name }) => {
            ("token revoke", Some(name.clone()))
        }
        _ => return None,
    })
}

/// The users a bulk command (`registry approve --all`, `reject --match`) acted
/// on, set by the command so that the audit log gets one entry per user.
static AFFECTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Names the users a command acted on, for the audit log.
pub fn affected(names: &[String]) {
    AFFECTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend_from_slice(names);
}

/// Appends what a change did to the audit log, one entry per user when a
/// command named them through [`affected`]; the command line (which never
/// holds a password: those come from stdin) is the detail.
fn record(context: &Context, action: &str, target: Option<String>, result: &Result<()>) {
    let names = std::mem::take(&mut *AFFECTED.lock().unwrap_or_else(|e| e.into_inner()));
    if names.is_empty() {
        record_one(context, action, target, result);
    }
    for name in names {
        record_one(context, action, Some(name), result);
    }
}

fn record_one(context: &Context, action: &str, target: Option<String>, result: &Result<()>) {
    let command_line = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    crate::ops::record(
        &context.audit,
        &crate::audit::cli_actor(),
        action,
        target,
        result,
        Some(command_line),
    );
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

pub use crate::ops::now;

/// The client id rule `--set PATTERN...`, `--any` or `--registered` name, as
/// `registry client-ids` and `user client-ids` take them; `None` for none.
pub fn client_id_rule_from(
    set: Vec<String>,
    any: bool,
    registered: bool,
) -> Result<Option<ClientIdRule>> {
    Ok(if !set.is_empty() {
        Some(ClientIdRule::patterns(set).map_err(Error::usage)?)
    } else if any {
        Some(ClientIdRule::Any)
    } else if registered {
        Some(ClientIdRule::Registered)
    } else {
        None
    })
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
