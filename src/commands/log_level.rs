//! `mqreg log-level`: the running broker's log filter, changed without a
//! restart.

use clap::Args;

use super::Context;
use crate::error::{Error, Result};
use crate::http::local;
use crate::output::print_json;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mqreg log-level debug\n  \
    mqreg log-level 'info,mqreg::broker::policy=debug'\n  \
    mqreg log-level info")]
pub struct LogLevelArgs {
    /// A level (error, warn, info, debug, trace) or RUST_LOG directives;
    /// without it, the filter in force is printed
    #[arg(value_name = "FILTER")]
    filter: Option<String>,
}

pub fn exec(context: &Context, args: LogLevelArgs) -> Result<()> {
    let answer = match &args.filter {
        Some(filter) => local::request(
            context.store.path(),
            "POST",
            "/api/v1/log-level",
            Some(serde_json::json!({ "filter": filter })),
        )?,
        None => local::request(context.store.path(), "GET", "/api/v1/log-level", None)?,
    }
    .ok_or_else(|| {
        Error::failure(format!(
            "no running broker serves {}; start it with `mqreg serve`, or name its state with --state",
            context.store.path().display()
        ))
    })?;
    if context.json {
        return print_json(&answer);
    }
    println!(
        "log filter: {}",
        answer["filter"].as_str().unwrap_or_default()
    );
    Ok(())
}
