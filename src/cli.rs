//! The command line, as clap sees it. Each command group's arguments live with
//! its `exec` in `commands/`; this file only puts them together, so that the
//! completions and man pages (`mqreg generate-docs`) describe exactly what runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{audit, ban, client, docs, log_level, registry, role, serve, token, user};

#[derive(Debug, Parser)]
#[command(
    name = "mqreg",
    version,
    about = "An MQTT broker for edge gateways whose devices register themselves",
    long_about = "An MQTT broker for edge gateways whose devices register themselves.\n\n\
        A device logs in with a username and password nobody created. While an admin has \
        the registry unlocked, the broker refuses it but records a pending request; the \
        admin approves it, grants roles, and the device reconnects with the same \
        credentials to get exactly the topics its roles allow.",
    after_help = "Exit codes: 0 done, 1 could not be done (I/O, unreadable state, lock timeout), \
        2 bad arguments or values, 3 a named user, role or request does not exist, \
        4 already exists or a conflicted request without --force."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The state file [default: $MQREG_STATE, else /var/lib/mqreg/state.toml for root or
    /// whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// Print the command's data or result as JSON on stdout, and nothing else
    #[arg(long, global = true)]
    pub json: bool,

    /// How tables print: auto (a table on a terminal, plain columns when piped),
    /// table, plain or tsv
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        value_enum,
        default_value = "auto",
        env = "MQREG_FORMAT"
    )]
    pub format: crate::output::Format,

    /// The audit log [default: audit.jsonl beside the state file]
    #[arg(long, global = true, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MQTT broker
    Serve(serve::ServeArgs),
    /// Open and close the registry; approve or reject pending devices
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Manage users and the roles they hold
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage roles and their topic permissions
    #[command(subcommand)]
    Role(role::RoleCommand),
    /// Refuse logins by username, client id or address
    #[command(subcommand)]
    Ban(ban::BanCommand),
    /// Show the latest entries of the audit log
    Audit(audit::AuditArgs),
    /// Make, list and revoke tokens for the HTTP API
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// List and disconnect the clients connected to the running broker
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Show or change the running broker's log filter, without a restart
    LogLevel(log_level::LogLevelArgs),
    /// Write shell completions and man pages (for packagers and this repository)
    #[command(hide = true)]
    GenerateDocs(docs::DocsArgs),
}
