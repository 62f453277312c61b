//! Which running broker serves a state file.
//!
//! `mqreg serve` leaves `.state.toml.served` beside the state it serves (its
//! pid, listen addresses and start time) and removes it when it stops. The CLI
//! reads it to tell the admin when a change went to a file no broker reads: a
//! different `--state`, another user's default, a stopped broker. A record
//! left by a crash is recognised as stale: its process is gone, or is not
//! mqreg any more.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files::{folder_of, Folder};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedBy {
    pub pid: u32,
    pub listen: Vec<String>,
    /// RFC 3339.
    pub started: String,
    pub version: String,
}

fn record_name(state: &Path) -> OsString {
    let mut name = OsString::from(".");
    name.push(state.file_name().unwrap_or_default());
    name.push(".served");
    name
}

impl ServedBy {
    /// Writes the record for this process (replacing any stale one).
    pub fn write(&self, state: &Path) -> std::io::Result<()> {
        let folder = Folder::open(folder_of(state))?
            .hand_files_to_owner_of(state.file_name().unwrap_or_default());
        let (mut file, temp) = folder.create_temp(&record_name(state))?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let written = file
            .write_all(&json)
            .and_then(|()| folder.rename(&temp, &record_name(state)));
        if written.is_err() {
            let _ = folder.remove(&temp);
        }
        written
    }

    /// Removes this process's record (not one a newer broker wrote).
    pub fn remove(state: &Path) {
        if Self::read(state).is_some_and(|record| record.pid == std::process::id()) {
            if let Ok(folder) = Folder::open(folder_of(state)) {
                let _ = folder.remove(&record_name(state));
            }
        }
    }

    /// The record of a live broker serving `state`, if there is one.
    pub fn find(state: &Path) -> Option<Self> {
        Self::read(state).filter(|record| is_live_mqreg(record.pid))
    }

    fn read(state: &Path) -> Option<Self> {
        let folder = Folder::open(folder_of(state)).ok()?;
        let mut text = String::new();
        folder
            .open_file(&record_name(state), libc::O_RDONLY, 0)
            .ok()?
            .read_to_string(&mut text)
            .ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Whether `pid` is a running mqreg (a reused pid is some other program).
fn is_live_mqreg(pid: u32) -> bool {
    let Ok(command) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let program = command.split(|byte| *byte == 0).next().unwrap_or_default();
    Path::new(std::ffi::OsStr::from_bytes(program))
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("mqreg"))
}
