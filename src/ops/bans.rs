//! Bans: refused usernames, client ids and addresses.

use std::time::Duration;

use serde::Serialize;

use super::now;
use crate::error::{Error, Result};
use crate::output;
use crate::state::store::Store;
use crate::state::{Ban, BanKind};

/// A ban as `ban list` gives it; `until` null is permanent.
#[derive(Debug, Clone, Serialize)]
pub struct BanInfo {
    pub id: u64,
    pub kind: &'static str,
    pub value: String,
    pub created: String,
    pub until: Option<String>,
    pub reason: Option<String>,
}

impl BanInfo {
    fn new(ban: &Ban) -> Self {
        Self {
            id: ban.id,
            kind: ban.kind.as_str(),
            value: ban.value.clone(),
            created: output::rfc3339(ban.created),
            until: ban.until.map(output::rfc3339),
            reason: ban.reason.clone(),
        }
    }
}

pub fn list(store: &Store) -> Result<Vec<BanInfo>> {
    let state = store.load()?;
    Ok(state.active_bans(now()).map(BanInfo::new).collect())
}

/// What to ban: the value is checked here, as clap checks it on the
/// command line.
pub fn add(
    store: &Store,
    kind: BanKind,
    mut value: String,
    duration: Option<Duration>,
    reason: Option<String>,
) -> Result<BanInfo> {
    match kind {
        BanKind::Username => crate::names::check_username(&value).map_err(Error::usage)?,
        BanKind::ClientId if value.is_empty() => {
            return Err(Error::usage(
                "an empty client id would ban every client that lets the broker assign one; name a client id",
            ))
        }
        BanKind::Address => {
            value = crate::state::access::parse_address_ban(&value).map_err(Error::usage)?;
        }
        BanKind::ClientId => {}
        BanKind::Flood => {
            return Err(Error::usage(
                "flood bans are the broker's own; ban the address instead",
            ))
        }
    }
    let now = now();
    let until = match duration {
        Some(duration) => Some(
            chrono::Duration::from_std(duration)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .ok_or_else(|| Error::usage("the ban's duration is too long"))?,
        ),
        None => None,
    };
    let ban = store.update(|state| Ok(state.add_ban(kind, value, until, reason, now)))?;
    Ok(BanInfo::new(&ban))
}

pub fn remove(store: &Store, id: u64) -> Result<()> {
    if store.update(|state| Ok(state.remove_ban(id)))? {
        Ok(())
    } else {
        Err(Error::not_found(format!(
            "no ban with id {id}; see `mqreg ban list`"
        )))
    }
}

/// A ban's duration like `30m`, `12h` or `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration ({e}); write it like 30m, 12h or 7d"))?;
    if duration.is_zero() {
        return Err("the ban must last longer than 0s".into());
    }
    Ok(duration)
}
