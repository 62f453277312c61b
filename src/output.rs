//! How results are shown: tables for people, JSON for scripts.

use chrono::SecondsFormat;
use std::io::IsTerminal;

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

/// How tables are printed: `--format`, or by where stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A table for a terminal, plain columns when piped
    #[default]
    Auto,
    /// A table sized to the terminal: long values are cut with "…", never broken
    Table,
    /// Columns aligned with spaces, whole values, no lines: for `cut`, `awk`, `grep`
    Plain,
    /// Tab-separated values with a header line
    Tsv,
}

static FORMAT: std::sync::Mutex<Format> = std::sync::Mutex::new(Format::Auto);

/// Sets how tables print (from `--format`).
pub fn set_format(format: Format) {
    *FORMAT.lock().unwrap_or_else(|e| e.into_inner()) = format;
}

fn layout() -> Format {
    match *FORMAT.lock().unwrap_or_else(|e| e.into_inner()) {
        Format::Auto if std::io::stdout().is_terminal() => Format::Table,
        Format::Auto => Format::Plain,
        other => other,
    }
}

/// The terminal's width: stdout's, else `$COLUMNS`, else 80.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills the winsize struct we pass, nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let asked = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    if asked == 0 && size.ws_col > 0 {
        return usize::from(size.ws_col);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|text| text.parse().ok())
        .filter(|&width: &usize| width > 0)
        .unwrap_or(80)
}

/// Rows under a header, printed as the [`Format`] says.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Columns a narrow terminal leaves out, in this order, before values
    /// are cut (as kubectl keeps its wide columns for `-o wide`).
    droppable: Vec<usize>,
}

/// A table with a header row.
pub fn table(header: &[&str]) -> Table {
    Table {
        header: header.iter().map(|title| title.to_string()).collect(),
        rows: Vec::new(),
        droppable: Vec::new(),
    }
}

impl Table {
    /// Names the columns a terminal too narrow for the whole table leaves
    /// out, first to last. Plain and TSV output keep every column.
    pub fn drop_first(&mut self, titles: &[&str]) -> &mut Self {
        self.droppable = titles
            .iter()
            .filter_map(|title| self.header.iter().position(|h| h == title))
            .collect();
        self
    }

    /// The table without the columns at `hidden`.
    fn without(&self, hidden: &[usize]) -> Table {
        let keep = |row: &Vec<String>| {
            row.iter()
                .enumerate()
                .filter(|(index, _)| !hidden.contains(index))
                .map(|(_, cell)| cell.clone())
                .collect()
        };
        Table {
            header: keep(&self.header),
            rows: self.rows.iter().map(keep).collect(),
            droppable: Vec::new(),
        }
    }

    pub fn add_row(&mut self, row: Vec<String>) -> &mut Self {
        self.rows.push(row);
        self
    }

    fn natural_widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (index, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(index) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        widths
    }

    /// Column widths that fit `total` columns of terminal: the widest
    /// columns give way first, none below 6 characters.
    fn fitted_widths(&self, total: usize) -> Vec<usize> {
        const FLOOR: usize = 6;
        let mut widths = self.natural_widths();
        // Two spaces between columns.
        let used = |widths: &[usize]| widths.iter().map(|w| w + 2).sum::<usize>();
        while used(&widths) > total {
            let Some(widest) = (0..widths.len())
                .filter(|&index| widths[index] > FLOOR)
                .max_by_key(|&index| widths[index])
            else {
                break;
            };
            widths[widest] -= 1;
        }
        widths
    }

    fn render_terminal(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = terminal_width();
        let shown = self.without(&self.hidden_at(total));
        shown.render_columns(f, &shown.fitted_widths(total), true)
    }

    /// The droppable columns left out at `total` terminal columns: as few as
    /// let the rest fit whole.
    fn hidden_at(&self, total: usize) -> Vec<usize> {
        let fits =
            |table: &Table| table.natural_widths().iter().map(|w| w + 2).sum::<usize>() <= total;
        let mut hidden = Vec::new();
        for &column in &self.droppable {
            if fits(&self.without(&hidden)) {
                break;
            }
            hidden.push(column);
        }
        hidden
    }

    /// Aligned columns, two spaces apart; with `fitted`, values longer than
    /// their column are cut with "…" and a rule goes under the header.
    fn render_columns(
        &self,
        f: &mut std::fmt::Formatter<'_>,
        widths: &[usize],
        fitted: bool,
    ) -> std::fmt::Result {
        for (number, row) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            if number > 0 {
                writeln!(f)?;
            }
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate() {
                let width = widths.get(index).copied().unwrap_or(0);
                let cell = if fitted {
                    cut(cell, width)
                } else {
                    one_line(cell)
                };
                line.push_str(&cell);
                if index + 1 < row.len() {
                    let pad = width.saturating_sub(cell.chars().count());
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            write!(f, "{}", line.trim_end())?;
            if number == 0 && fitted {
                let rule: usize = widths
                    .iter()
                    .map(|w| w + 2)
                    .sum::<usize>()
                    .saturating_sub(2);
                write!(f, "\n{}", "─".repeat(rule))?;
            }
        }
        Ok(())
    }

    fn render_plain(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.render_columns(f, &self.natural_widths(), false)
    }

    fn render_tsv(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (number, row) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            if number > 0 {
                writeln!(f)?;
            }
            let cells: Vec<String> = row
                .iter()
                .map(|cell| one_line(cell).replace('\t', " "))
                .collect();
            write!(f, "{}", cells.join("\t"))?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match layout() {
            Format::Tsv => self.render_tsv(f),
            Format::Plain => self.render_plain(f),
            Format::Table | Format::Auto => self.render_terminal(f),
        }
    }
}

/// `value` in at most `width` characters: whole, or cut with "…".
fn cut(value: &str, width: usize) -> String {
    let value = one_line(value);
    if value.chars().count() <= width {
        return value;
    }
    let mut short: String = value.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

fn one_line(value: &str) -> String {
    value.replace(['\n', '\r'], " ")
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

/// How long ago an RFC 3339 time was, the way kubectl says it: `40s ago`,
/// `5m ago`, `3h ago`, `2d ago` (the text itself when it does not parse).
pub fn ago(time: &str, now: Timestamp) -> String {
    let Ok(then) = chrono::DateTime::parse_from_rfc3339(time) else {
        return time.to_owned();
    };
    let seconds = (now - then.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match seconds {
        0..=89 => format!("{seconds}s ago"),
        90..=5399 => format!("{}m ago", (seconds + 30) / 60),
        5400..=129_599 => format!("{}h ago", (seconds + 1800) / 3600),
        _ => format!("{}d ago", (seconds + 43_200) / 86_400),
    }
}

/// An RFC 3339 time for people: `2026-11-24 11:40:02 UTC (5m ago)`.
pub fn when(time: &str, now: Timestamp) -> String {
    format!(
        "{} UTC ({})",
        time.replace('T', " ").trim_end_matches('Z'),
        ago(time, now)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_terminal_drops_the_named_columns_first_and_only_as_many_as_needed() {
        let mut table = table(&["NAME", "WIDE ONE", "ADDRESS", "EXTRA"]);
        table.add_row(vec![
            "a".into(),
            "x".repeat(30),
            "127.0.0.1:40000".into(),
            "yes".into(),
        ]);
        table.drop_first(&["EXTRA", "WIDE ONE"]);
        assert!(table.hidden_at(200).is_empty());
        assert_eq!(table.hidden_at(55), vec![3]);
        assert_eq!(table.hidden_at(30), vec![3, 1]);
        // Even then what is left is cut to fit, never wrapped.
        assert_eq!(
            table.without(&table.hidden_at(10)).header,
            ["NAME", "ADDRESS"]
        );
    }

    #[test]
    fn times_read_as_how_long_ago() {
        let now = chrono::Utc::now();
        let at = |seconds: i64| rfc3339(now - chrono::Duration::seconds(seconds));
        assert_eq!(ago(&at(5), now), "5s ago");
        assert_eq!(ago(&at(150), now), "3m ago");
        assert_eq!(ago(&at(3 * 3600), now), "3h ago");
        assert_eq!(ago(&at(3 * 86_400), now), "3d ago");
        assert_eq!(ago("not a time", now), "not a time");
    }
}
