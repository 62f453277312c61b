//! `state migrate`: a state file copied into a registry database, so that
//! several gateways can share what one gateway built up.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::pki::ca::{CERTIFICATE_SUFFIX, KEY_SUFFIX};
use crate::state::store::Store;

/// What was copied.
#[derive(Debug, Serialize)]
pub struct Migrated {
    pub from: String,
    pub to: String,
    pub users: usize,
    pub roles: usize,
    pub pending: usize,
    pub bans: usize,
    pub tokens: usize,
    /// The files kept beside the state that went along (the registry's CA).
    pub files: Vec<String>,
}

/// Copies the state file `from` (and its CA) into the database `to`, in one
/// transaction for the state. A database that already holds a registry is a
/// conflict unless `force`, which replaces it.
pub fn migrate(from: &Path, to: &Store, force: bool) -> Result<Migrated> {
    let database = to.database().ok_or_else(|| {
        Error::usage("--to must be a PostgreSQL URL, like postgresql://mqreg@db.example/registry")
    })?;
    if !from.exists() {
        return Err(Error::not_found(format!(
            "there is no state file at {}; name the file to copy with --from",
            from.display()
        )));
    }
    let source = Store::new(from);
    let state = source.load()?;
    if !force && !database.is_empty()? {
        return Err(Error::conflict(format!(
            "the database {} already holds a registry; nothing was copied. Pass --force to replace it",
            database.url()
        )));
    }
    let mut files = Vec::new();
    let mut contents = Vec::new();
    for suffix in [CERTIFICATE_SUFFIX, KEY_SUFFIX] {
        if let Some(text) = source.read_beside(suffix)? {
            files.push(source.beside(suffix).display().to_string());
            contents.push((suffix, text));
        }
    }
    let copied = state.clone();
    to.update(move |target| {
        *target = copied;
        Ok(())
    })?;
    if !contents.is_empty() {
        let files: Vec<(&str, &[u8])> = contents
            .iter()
            .map(|(suffix, text)| (*suffix, text.as_bytes()))
            .collect();
        to.write_beside(&files, true)?;
    }
    Ok(Migrated {
        from: from.display().to_string(),
        to: database.url().to_owned(),
        users: state.users.len(),
        roles: state.roles.len(),
        pending: state.pending.len(),
        bans: state.bans.len(),
        tokens: state.tokens.len(),
        files,
    })
}
