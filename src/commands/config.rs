//! `mqreg config show`: the configuration in force, and where each value
//! came from (the command line is not part of it: this is what `serve` gets
//! without arguments).

use clap::{CommandFactory, Subcommand};
use serde::Serialize;

use super::Context;
use crate::error::Result;
use crate::output::print_json;
use crate::state::store::Store;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the settings in force and where each comes from (environment,
    /// config file, state file or default)
    Show,
}

#[derive(Serialize)]
struct Sourced<T: Serialize> {
    value: T,
    source: String,
}

#[derive(Serialize)]
struct Shown {
    config: Option<String>,
    state: Sourced<String>,
    log: Sourced<String>,
    serve: Vec<(String, Sourced<Vec<String>>)>,
    settings: Vec<(String, Sourced<toml::Value>)>,
}

pub fn exec(context: &Context, command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Show => show(context),
    }
}

fn show(context: &Context) -> Result<()> {
    let config_name = context
        .config
        .as_ref()
        .map(|config| format!("config file {}", config.path.display()));
    let from_config = || config_name.clone().unwrap_or_default();
    let state_source = if std::env::var_os("MQREG_STATE").is_some_and(|p| !p.is_empty()) {
        "environment MQREG_STATE".to_owned()
    } else if context
        .config
        .as_ref()
        .is_some_and(|config| config.file.state.is_some())
    {
        from_config()
    } else {
        "--state or default".to_owned()
    };
    let log = match std::env::var("RUST_LOG")
        .ok()
        .filter(|l| !l.trim().is_empty())
    {
        Some(log) => Sourced {
            value: log,
            source: "environment RUST_LOG".into(),
        },
        None => match context.config.as_ref().and_then(|c| c.file.log.clone()) {
            Some(log) => Sourced {
                value: log,
                source: from_config(),
            },
            None => Sourced {
                value: "info".into(),
                source: "default".into(),
            },
        },
    };
    let shown = Shown {
        config: context
            .config
            .as_ref()
            .map(|config| config.path.display().to_string()),
        state: Sourced {
            value: context.store.path().display().to_string(),
            source: state_source,
        },
        log,
        serve: serve_options(context)?,
        settings: settings(context, &from_config())?,
    };
    if context.json {
        #[derive(Serialize)]
        struct Json<'a> {
            config: &'a Option<String>,
            state: &'a Sourced<String>,
            log: &'a Sourced<String>,
            serve: std::collections::BTreeMap<&'a str, &'a Sourced<Vec<String>>>,
            settings: std::collections::BTreeMap<&'a str, &'a Sourced<toml::Value>>,
        }
        return print_json(&Json {
            config: &shown.config,
            state: &shown.state,
            log: &shown.log,
            serve: shown.serve.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            settings: shown
                .settings
                .iter()
                .map(|(k, v)| (k.as_str(), v))
                .collect(),
        });
    }
    println!(
        "# config file: {}",
        shown.config.as_deref().unwrap_or("none")
    );
    println!("state = {:?}  # {}", shown.state.value, shown.state.source);
    println!("log = {:?}  # {}", shown.log.value, shown.log.source);
    println!("\n[serve]");
    for (name, sourced) in &shown.serve {
        match &sourced.value[..] {
            [] => println!("# {name}: not set"),
            [one] => println!("{name} = {one:?}  # {}", sourced.source),
            many => println!("{name} = {many:?}  # {}", sourced.source),
        }
    }
    for (name, sourced) in &shown.settings {
        println!("\n[{name}]  # {}", sourced.source);
        let mut table = toml::Table::new();
        table.insert("x".into(), sourced.value.clone());
        let text = toml::to_string(&table).unwrap_or_default();
        print!("{}", text.trim_start_matches("[x]\n"));
    }
    Ok(())
}

/// Every `serve` option with the value `serve` would get without command-line
/// arguments, and where that value comes from.
fn serve_options(context: &Context) -> Result<Vec<(String, Sourced<Vec<String>>)>> {
    let command = crate::cli::Cli::command();
    let serve = command
        .find_subcommand("serve")
        .expect("serve exists")
        .clone();
    let in_environment = |id: &str| {
        serve
            .get_arguments()
            .find(|arg| arg.get_id().as_str() == id)
            .and_then(|arg| arg.get_env())
            .is_some_and(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    };
    let mut arguments: Vec<std::ffi::OsString> = Vec::new();
    if let Some(config) = &context.config {
        arguments.extend(config.serve_arguments(&serve, in_environment)?);
    }
    let matches = serve
        .clone()
        .no_binary_name(true)
        .try_get_matches_from(arguments)
        .map_err(|e| crate::error::Error::usage(e.to_string()))?;
    let mut options = Vec::new();
    for arg in serve.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_hide_set() || id == "help" {
            continue;
        }
        let value: Vec<String> = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = match matches.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) => context
                .config
                .as_ref()
                .map(|config| format!("config file {}", config.path.display()))
                .unwrap_or_default(),
            Some(clap::parser::ValueSource::EnvVariable) => format!(
                "environment {}",
                arg.get_env().unwrap_or_default().to_string_lossy()
            ),
            Some(clap::parser::ValueSource::DefaultValue) => "default".to_owned(),
            _ => "not set".to_owned(),
        };
        options.push((id.to_owned(), Sourced { value, source }));
    }
    Ok(options)
}

/// The settings tables in force, each from the config file, the state file
/// or the defaults.
fn settings(context: &Context, config_name: &str) -> Result<Vec<(String, Sourced<toml::Value>)>> {
    let in_force = context.store.load()?;
    let raw = Store::new(context.store.path()).load()?;
    let defaults = crate::state::State::default();
    let configured = context.config.as_ref().map(|config| &config.file.settings);
    let source = |in_config: bool, in_state: bool| {
        if in_config {
            config_name.to_owned()
        } else if in_state {
            format!("state file {}", context.store.path().display())
        } else {
            "default".to_owned()
        }
    };
    let table = |name: &str, in_force: toml::Value, in_config: bool, in_state: bool| {
        let source = source(in_config, in_state);
        (
            name.to_owned(),
            Sourced {
                value: in_force,
                source,
            },
        )
    };
    let has = |pick: fn(&crate::config::Settings) -> bool| configured.is_some_and(pick);
    Ok(vec![
        table(
            "password_policy",
            value(&in_force.password_policy),
            has(|s| s.password_policy.is_some()),
            raw.password_policy != defaults.password_policy,
        ),
        table(
            "argon2",
            value(&in_force.argon2),
            has(|s| s.argon2.is_some()),
            raw.argon2 != defaults.argon2,
        ),
        table(
            "flood",
            value(&in_force.flood),
            has(|s| s.flood.is_some()),
            raw.flood != defaults.flood,
        ),
        table(
            "quotas",
            value(&in_force.quotas),
            has(|s| s.quotas.is_some()),
            raw.quotas != defaults.quotas,
        ),
    ])
}

/// A settings table as a TOML value.
fn value<T: Serialize>(table: &T) -> toml::Value {
    toml::Value::try_from(table).unwrap_or(toml::Value::Table(toml::Table::new()))
}
