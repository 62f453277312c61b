//! The command line, as clap sees it. Each command group's arguments live with
//! its `exec` in `commands/`; this file only puts them together, so that the
//! completions and man pages (`mqreg generate-docs`) describe exactly what runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    audit, ban, ca, cert, client, config, docs, log_level, registry, role, serve, state, token,
    user,
};

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
    /// The state file, or a PostgreSQL database (postgresql://USER@HOST/DB) that
    /// several gateways share [default: $MQREG_STATE, else /var/lib/mqreg/state.toml
    /// for root or whenever /var/lib/mqreg exists, else $XDG_STATE_HOME/mqreg/state.toml]
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub state: Option<PathBuf>,

    /// With the state in PostgreSQL: this gateway's copy of the registry, served
    /// while the database is away; its message store, control socket and audit log
    /// sit beside it [default: $MQREG_LOCAL_COPY, else gateway.toml in the default
    /// state file's folder]
    #[arg(long, global = true, value_name = "PATH", env = "MQREG_LOCAL_COPY")]
    pub local_copy: Option<PathBuf>,

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

    /// The config file: serve options and settings tables, which mqreg never
    /// writes [default: $MQREG_CONFIG, else /etc/mqreg/mqreg.toml if it exists]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

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
    /// The registry's certificate authority, which signs device certificates
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Issue a device certificate by hand
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// List and disconnect the clients connected to the running broker
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Show or change the running broker's log filter, without a restart
    LogLevel(log_level::LogLevelArgs),
    /// Show the configuration in force and where each value comes from
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Move the state between a file and a PostgreSQL database
    #[command(subcommand)]
    State(state::StateCommand),
    /// Write shell completions and man pages (for packagers and this repository)
    #[command(hide = true)]
    GenerateDocs(docs::DocsArgs),
}

/// Parses the command line; for `serve`, the config file's `[serve]` options
/// fill in what the command line and the environment did not give.
pub fn parse_with_config(
    arguments: Vec<std::ffi::OsString>,
) -> Result<(Cli, Option<crate::config::Config>), ParseError> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command()
        .try_get_matches_from(&arguments)
        .map_err(ParseError::Clap)?;
    let explicit = matches.get_one::<PathBuf>("config").cloned();
    let config = crate::config::Config::locate(explicit.as_deref()).map_err(ParseError::Config)?;
    let mut matches = matches;
    if let (Some(config), Some(("serve", serve_matches))) = (&config, matches.subcommand()) {
        let command = Cli::command();
        let serve = command.find_subcommand("serve").expect("serve exists");
        let given = |id: &str| {
            matches!(
                serve_matches.value_source(id),
                Some(
                    clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable
                )
            )
        };
        let extra = config
            .serve_arguments(serve, given)
            .map_err(ParseError::Config)?;
        if !extra.is_empty() {
            let mut with_config = arguments;
            with_config.extend(extra);
            matches = Cli::command()
                .try_get_matches_from(&with_config)
                .map_err(|e| {
                    ParseError::Config(crate::error::Error::usage(format!(
                        "config file {}: {}",
                        config.path.display(),
                        e.to_string().trim().trim_start_matches("error: ")
                    )))
                })?;
        }
    }
    let cli = Cli::from_arg_matches(&matches).map_err(ParseError::Clap)?;
    Ok((cli, config))
}

/// Why the command line could not be taken.
pub enum ParseError {
    Clap(clap::Error),
    Config(crate::error::Error),
}
