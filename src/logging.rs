//! The broker's log: stderr, text or JSON lines, filtered by `RUST_LOG`, and
//! the filter changeable while it runs (`mqreg log-level`, through the
//! control socket), so that an admin can turn on debug output for a
//! misbehaving device without a restart that would drop every connection.

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::EnvFilter;

use crate::error::{Error, Result};

/// The protocol layer logs every dropped connection, and rustls warns about
/// every client that sends an IP address as SNI (the spec forbids it, many
/// MQTT clients do it): not the admin's business unless the filter names them.
const QUIET: &[&str] = &[
    "ntex=warn",
    "ntex_mqtt=warn",
    "ntex_io=warn",
    "ntex_service=warn",
    "ntex_rt=warn",
    "ntex_net=warn",
    "ntex_tls=warn",
    "rustls=error",
    "hyper=warn",
    "hyper_util=warn",
];

type Reload = Box<dyn Fn(EnvFilter) -> std::result::Result<(), String> + Send + Sync>;

/// How to swap the filter, and the filter as the admin last gave it.
static FILTER: OnceLock<(Reload, Mutex<String>)> = OnceLock::new();

/// The directives for `asked` (default `info`), with the quiet ones added
/// for the targets it does not name.
fn directives(asked: &str) -> String {
    let mut directives = if asked.trim().is_empty() {
        "info".to_owned()
    } else {
        asked.trim().to_owned()
    };
    for quiet in QUIET {
        let target = quiet.split('=').next().unwrap_or_default();
        let named = asked
            .split(',')
            .any(|directive| directive.trim().split('=').next() == Some(target));
        if !named {
            directives.push(',');
            directives.push_str(quiet);
        }
    }
    directives
}

/// Logs to stderr; `RUST_LOG` filters, else `configured` (the config file's
/// `log`), else mqreg at info (the protocol layer's chatter at warn).
pub fn init(json: bool, configured: Option<&str>) {
    let asked = std::env::var("RUST_LOG")
        .ok()
        .filter(|log| !log.trim().is_empty())
        .or_else(|| configured.map(str::to_owned))
        .unwrap_or_default();
    let filter = EnvFilter::try_new(directives(&asked)).unwrap_or_else(|_| EnvFilter::new("info"));
    let shown = if asked.trim().is_empty() {
        "info".to_owned()
    } else {
        asked
    };
    // The two formats are two builder types; the same steps for each.
    macro_rules! install {
        ($builder:expr) => {{
            let builder = $builder
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            if builder.try_init().is_ok() {
                let reload: Reload =
                    Box::new(move |filter| handle.reload(filter).map_err(|e| e.to_string()));
                let _ = FILTER.set((reload, Mutex::new(shown)));
            }
        }};
    }
    if json {
        install!(tracing_subscriber::fmt().json().with_ansi(false));
    } else {
        install!(tracing_subscriber::fmt().with_ansi(std::io::stderr().is_terminal()));
    }
}

/// The filter in force, as it was given.
pub fn current() -> String {
    FILTER
        .get()
        .map(|(_, shown)| shown.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .unwrap_or_else(|| "info".to_owned())
}

/// Replaces the filter, like `RUST_LOG`: `debug`, `mqreg=debug,info`, ...
pub fn set(filter: &str) -> Result<String> {
    let parsed = EnvFilter::try_new(directives(filter)).map_err(|e| {
        Error::usage(format!(
            "'{filter}' is not a log filter ({e}); give a level like debug, or directives like mqreg=debug,info"
        ))
    })?;
    let (reload, shown) = FILTER
        .get()
        .ok_or_else(|| Error::failure("the log filter cannot be changed in this process"))?;
    reload(parsed).map_err(|e| Error::failure(format!("cannot change the log filter: {e}")))?;
    let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
    filter.trim().clone_into(&mut shown);
    tracing::info!(filter = %shown, "log filter changed");
    Ok(shown.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_targets_are_added_unless_named() {
        assert!(directives("").starts_with("info,ntex=warn"));
        let named = directives("debug,ntex_mqtt=trace");
        assert!(named.contains("ntex_mqtt=trace") && !named.contains("ntex_mqtt=warn"));
        assert!(named.contains("ntex_io=warn"));
    }
}
