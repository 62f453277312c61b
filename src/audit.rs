//! The audit log: one JSON object per line, appended, never rewritten.
//!
//! Every admin change made with the CLI, every registration the broker records
//! and every login it refuses leaves a line with the time, who did it (the CLI's
//! Unix user, or `broker`), what, and how it ended. It lives beside the state
//! file as `audit.jsonl` unless `--audit-log PATH` says otherwise, mode 0600.
//! Lines are written with one `write` on a file opened for appending, so
//! concurrent writers never interleave within a line. Passwords never reach it:
//! the CLI reads them from stdin, and the broker writes names and reasons only.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::state::files::Owner;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    /// `cli:USER` or `broker`.
    pub actor: String,
    /// `registry approve`, `user add`, `login refused`, `registration recorded`, ...
    pub action: String,
    /// The user, role or request acted on, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `ok`, or what went wrong.
    pub outcome: String,
    /// The command line (CLI), or client id and peer (broker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Entry {
    pub fn now(actor: String, action: &str, target: Option<String>, outcome: String) -> Self {
        Self {
            time: crate::output::rfc3339(chrono::Utc::now()),
            actor,
            action: action.to_owned(),
            target,
            outcome,
            detail: None,
        }
    }
}

pub struct AuditLog {
    path: PathBuf,
    /// Kept open by the broker, which appends often.
    file: Mutex<Option<File>>,
    /// Who a newly created log must belong to (see `state::files`).
    owner: Option<Owner>,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(None),
            owner: None,
        }
    }

    /// Creates the log, when it must, as `owner`'s: root writing beside a
    /// service user's state leaves the service user's log.
    pub fn with_owner(mut self, owner: Option<Owner>) -> Self {
        self.owner = owner;
        self
    }

    /// Closes the log; the next line opens it again by name, so a log
    /// rotated by renaming continues in a new file (SIGHUP).
    pub fn reopen(&self) {
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// `audit.jsonl` in the state file's folder.
    pub fn beside(state: &Path) -> Self {
        Self::new(state.with_file_name("audit.jsonl"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, entry: &Entry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.is_none() {
            if let Some(folder) = self.path.parent().filter(|f| !f.as_os_str().is_empty()) {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(folder)?;
            }
            *file = Some(crate::state::files::open_append(&self.path, self.owner)?);
        }
        file.as_mut().expect("opened above").write_all(&line)
    }

    /// The last `count` entries, oldest first; lines that do not parse are skipped.
    pub fn tail(&self, count: usize) -> io::Result<Vec<Entry>> {
        use std::io::{Read, Seek, SeekFrom};
        /// Read at most this much from the end: the last entries are there.
        const TAIL_BYTES: u64 = 16 * 1024 * 1024;
        let mut file = match crate::state::files::open_read(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes);
        let mut entries: Vec<Entry> = text
            .lines()
            .rev()
            .filter_map(|line| serde_json::from_str(line).ok())
            .take(count)
            .collect();
        entries.reverse();
        Ok(entries)
    }
}

/// Who runs this CLI: `cli:alice`, or `cli:root (sudo by alice)`. Taken from
/// the real uid, not from `$USER` (which anyone can set); `SUDO_UID` is
/// believed only when running as root, where sudo is what set it.
pub fn cli_actor() -> String {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let name = user_name(uid);
    if uid == 0 {
        if let Some(by) = std::env::var("SUDO_UID")
            .ok()
            .and_then(|text| text.parse::<u32>().ok())
            .filter(|&by| by != 0)
        {
            return format!("cli:{name} (sudo by {})", user_name(by));
        }
    }
    format!("cli:{name}")
}

/// The login name of `uid`, or `uid N` when it has none.
pub fn user_name(uid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: zeroed passwd is a valid out-parameter; the buffer outlives the call.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let status = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() || entry.pw_name.is_null() {
        return format!("uid {uid}");
    }
    // SAFETY: getpwuid_r filled pw_name with a NUL-terminated string in `buffer`.
    unsafe { std::ffi::CStr::from_ptr(entry.pw_name) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_append_and_tail_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::beside(&dir.path().join("sub/state.toml"));
        for i in 0..5 {
            log.append(&Entry::now(
                "broker".into(),
                "login refused",
                Some(format!("dev{i}")),
                "wrong password".into(),
            ))
            .unwrap();
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"not json\n")
            .unwrap();
        let tail = log.tail(3).unwrap();
        let targets: Vec<_> = tail.iter().map(|e| e.target.clone().unwrap()).collect();
        assert_eq!(targets, ["dev2", "dev3", "dev4"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(AuditLog::new(dir.path().join("none.jsonl"))
            .tail(5)
            .unwrap()
            .is_empty());
    }
}
