//! `mqreg audit`: the tail of the audit log.

use clap::Args;

use super::Context;
use crate::error::{Error, Result};
use crate::names::printable;
use crate::output::{self, print_json};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How many of the latest entries to show
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
    lines: usize,
}

pub fn exec(context: &Context, args: AuditArgs) -> Result<()> {
    let entries = context.audit.tail(args.lines).map_err(|e| {
        Error::failure(format!(
            "cannot read the audit log {}: {e}",
            context.audit.path().display()
        ))
    })?;
    if context.json {
        return print_json(&entries);
    }
    if entries.is_empty() {
        println!("the audit log {} is empty", context.audit.path().display());
        return Ok(());
    }
    let mut table = output::table(&["TIME (UTC)", "ACTOR", "ACTION", "TARGET", "OUTCOME"]);
    for entry in entries {
        table.add_row(vec![
            entry
                .time
                .replace('T', " ")
                .trim_end_matches('Z')
                .to_owned(),
            // The file may hold anything a hand edit put there: never raw
            // bytes to a terminal.
            printable(&entry.actor),
            printable(&entry.action),
            printable(&entry.target.unwrap_or_default()),
            printable(&entry.outcome),
        ]);
    }
    println!("{table}");
    Ok(())
}
