//! The configuration file a sysadmin writes (`/etc/mqreg/mqreg.toml`, or
//! `--config PATH`): `serve` options and the settings tables, kept apart from
//! the state file, which mqreg writes. mqreg never writes this file, so its
//! comments and layout are the admin's (Ansible templates it, etc keeps it).
//!
//! ```toml
//! state = "/var/lib/mqreg/state.toml"   # as --state
//! log = "info"                          # as RUST_LOG; re-read on SIGHUP
//!
//! [serve]                               # any `serve` option by its long name
//! listen = ["0.0.0.0:1883"]
//! http = "127.0.0.1:8080"
//! metrics_public = true
//!
//! [password_policy]                     # these four override the state
//! min = 10                              # file's tables, and are re-read
//! [flood]                               # on SIGHUP
//! max_refusals = 20
//! ```
//!
//! Precedence, highest first: the command line, the environment (`MQREG_*`),
//! this file, the state file's tables, the defaults. `mqreg config show`
//! prints what is in force and where each value came from.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::password::{HashCost, PasswordPolicy};
use crate::state::quotas::Quotas;
use crate::state::{FloodLimits, State};

/// Where the file is looked for when `--config` and `MQREG_CONFIG` say nothing.
pub const DEFAULT_PATH: &str = "/etc/mqreg/mqreg.toml";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The state file, as `--state`.
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// The log filter, as `RUST_LOG`.
    #[serde(default)]
    pub log: Option<String>,
    /// `serve` options by their long names (`-` or `_`).
    #[serde(default)]
    pub serve: toml::Table,
    /// Bridges to upstream brokers; re-read on SIGHUP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridges: Vec<crate::bridge::BridgeConfig>,
    #[serde(flatten)]
    pub settings: Settings,
}

/// The settings tables a config file may hold. Each one given replaces the
/// state file's table of the same name, whole.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argon2: Option<HashCost>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flood: Option<FloodLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotas: Option<Quotas>,
}

/// The state file's own tables, kept aside while the config's are in force.
pub struct Saved {
    password_policy: PasswordPolicy,
    argon2: HashCost,
    flood: FloodLimits,
    quotas: Quotas,
}

impl Settings {
    /// Puts the config's tables in `state`; returns the state's own.
    pub fn apply(&self, state: &mut State) -> Saved {
        let saved = Saved {
            password_policy: state.password_policy.clone(),
            argon2: state.argon2,
            flood: state.flood.clone(),
            quotas: state.quotas,
        };
        if let Some(policy) = &self.password_policy {
            state.password_policy = policy.clone();
        }
        if let Some(cost) = self.argon2 {
            state.argon2 = cost;
        }
        if let Some(flood) = &self.flood {
            state.flood = flood.clone();
        }
        if let Some(quotas) = self.quotas {
            state.quotas = quotas;
        }
        saved
    }

    fn check(&self) -> Result<(), String> {
        if let Some(cost) = &self.argon2 {
            cost.check()?;
        }
        if let Some(flood) = &self.flood {
            flood.check()?;
        }
        Ok(())
    }
}

impl Saved {
    /// Puts the state file's own tables back, so that they are what is written.
    pub fn restore(self, state: &mut State) {
        state.password_policy = self.password_policy;
        state.argon2 = self.argon2;
        state.flood = self.flood;
        state.quotas = self.quotas;
    }
}

/// The settings in force from the config file, shared by the store (which
/// overlays them on every state it reads) and SIGHUP (which replaces them).
pub type SharedSettings = Arc<RwLock<Settings>>;

/// A config file and where it is.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub file: ConfigFile,
}

impl Config {
    /// The file named by `--config` or `MQREG_CONFIG` (which must exist), else
    /// the default path when a file is there.
    pub fn locate(explicit: Option<&Path>) -> Result<Option<Self>> {
        let named = explicit.map(Path::to_path_buf).or_else(|| {
            std::env::var_os("MQREG_CONFIG")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        });
        match named {
            Some(path) => Ok(Some(Self::read(&path)?)),
            None => {
                let path = Path::new(DEFAULT_PATH);
                match std::fs::File::open(path) {
                    Ok(_) => Ok(Some(Self::read(path)?)),
                    // A file for the service's user, not this one: this
                    // command does without it (a named file would be an error).
                    Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
                        eprintln!(
                            "note: cannot read {DEFAULT_PATH} ({error}); going on without a config file"
                        );
                        Ok(None)
                    }
                    Err(_) => Ok(None),
                }
            }
        }
    }

    /// Reads and checks the file; errors name it and what is wrong.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::failure(format!(
                "cannot read the config file {}: {e}\nFix its path (--config, MQREG_CONFIG) or its permissions",
                path.display()
            ))
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "config file {} is not valid: {}",
                path.display(),
                e.to_string().trim_end()
            ))
        })?;
        file.settings
            .check()
            .map_err(|e| Error::usage(format!("config file {}: {e}", path.display())))?;
        crate::bridge::check_all(&file.bridges)
            .map_err(|e| Error::usage(format!("config file {}: {e}", path.display())))?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// The `[serve]` table as command-line arguments of `serve`, for the
    /// options not given on the command line or in the environment
    /// (`given` says which). An unknown option is an error naming it.
    pub fn serve_arguments(
        &self,
        serve: &clap::Command,
        given: impl Fn(&str) -> bool,
    ) -> Result<Vec<OsString>> {
        let mut arguments = Vec::new();
        for (key, value) in &self.file.serve {
            let id = key.replace('-', "_");
            let Some(arg) = serve
                .get_arguments()
                .find(|arg| arg.get_id().as_str() == id)
            else {
                return Err(Error::usage(format!(
                    "config file {}: [serve] has no option '{key}'; see `mqreg serve --help` for the names (without the leading --)",
                    self.path.display()
                )));
            };
            if given(&id) {
                continue;
            }
            let long = format!("--{}", arg.get_long().unwrap_or(&id));
            let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            let values: Vec<&toml::Value> = match value {
                toml::Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            for value in values {
                let text = match value {
                    toml::Value::String(text) => text.clone(),
                    toml::Value::Integer(number) => number.to_string(),
                    toml::Value::Float(number) => number.to_string(),
                    toml::Value::Boolean(true) if flag => {
                        arguments.push(OsString::from(&long));
                        continue;
                    }
                    toml::Value::Boolean(false) if flag => continue,
                    toml::Value::Boolean(on) => on.to_string(),
                    other => {
                        return Err(Error::usage(format!(
                            "config file {}: [serve] {key} = {other} is not a value it takes; give a string, a number, true/false or a list",
                            self.path.display()
                        )))
                    }
                };
                arguments.push(OsString::from(&long));
                arguments.push(OsString::from(text));
            }
        }
        Ok(arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn config(text: &str) -> Config {
        Config {
            path: PathBuf::from("/etc/mqreg/mqreg.toml"),
            file: toml::from_str(text).unwrap(),
        }
    }

    fn serve() -> clap::Command {
        crate::cli::Cli::command()
            .find_subcommand("serve")
            .unwrap()
            .clone()
    }

    #[test]
    fn serve_options_become_arguments_unless_given() {
        let config = config(
            "[serve]\nlisten = ['0.0.0.0:1883', '[::]:1883']\nmax-inflight = 20\nmetrics_public = true\nhttp = '127.0.0.1:8080'\n",
        );
        let arguments = config.serve_arguments(&serve(), |id| id == "http").unwrap();
        let text: Vec<String> = arguments
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            text,
            [
                "--listen",
                "0.0.0.0:1883",
                "--listen",
                "[::]:1883",
                "--max-inflight",
                "20",
                "--metrics-public"
            ]
        );
    }

    #[test]
    fn an_unknown_option_is_named() {
        let error = config("[serve]\nlisten_on = 'x'\n")
            .serve_arguments(&serve(), |_| false)
            .unwrap_err();
        assert!(error.message.contains("'listen_on'"), "{}", error.message);
    }

    #[test]
    fn settings_replace_the_state_tables_and_give_them_back() {
        let config = config("[password_policy]\nmin = 12\n");
        let mut state = State::default();
        let saved = config.file.settings.apply(&mut state);
        assert_eq!(state.password_policy.min, 12);
        saved.restore(&mut state);
        assert_eq!(state.password_policy, PasswordPolicy::default());
    }
}
