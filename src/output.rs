//! How results are shown: tables for people, JSON for scripts.

use chrono::SecondsFormat;
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, ExitCode, Result};
use crate::state::Timestamp;

/// Whether a command printed its JSON document, so that an error after a
/// partial result does not add a second one.
static PRINTED_JSON: AtomicBool = AtomicBool::new(false);

/// Prints `value` as pretty JSON, the only thing on stdout in `--json` mode.
pub fn print_json(value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::failure(format!("cannot produce JSON: {e}")))?;
    println!("{text}");
    PRINTED_JSON.store(true, Ordering::Relaxed);
    Ok(())
}

/// In `--json` mode, a command that fails before printing its result prints
/// `{"error": {"code": N, "kind": "...", "message": "..."}}` instead, so a
/// script always has one JSON document to read.
pub fn print_json_error(error: &Error) {
    if PRINTED_JSON.load(Ordering::Relaxed) {
        return;
    }
    let kind = match error.code {
        ExitCode::Failure => "failure",
        ExitCode::Usage => "usage",
        ExitCode::NotFound => "not_found",
        ExitCode::Conflict => "conflict",
    };
    let _ = print_json(&serde_json::json!({
        "error": { "code": error.code as i32, "kind": kind, "message": error.message }
    }));
}

/// A table with a header row, sized to the terminal.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}

/// RFC 3339 in UTC, whole seconds: what JSON carries.
pub fn rfc3339(time: Timestamp) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Shorter, for tables: `2026-11-24 11:40:02`.
pub fn short_time(time: Timestamp) -> String {
    time.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `alice, bob` or `(none)`.
pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}
