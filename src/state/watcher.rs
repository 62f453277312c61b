//! Waiting for the state file to change.
//!
//! The CLI replaces the file with a rename, so the folder is watched (inotify
//! through the `notify` crate) for events naming the file, and a change is
//! seen within milliseconds. Watching can fail (no inotify instances left, a
//! folder that does not exist yet, a file system that sends no events), so
//! every wait also ends after the poll interval: callers compare the file's
//! identity then, and a missed event costs at most one interval.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// What identifies one version of a file without reading it: a rename
/// changes the inode, a write the size or times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    inode: u64,
    len: u64,
    modified_ns: i128,
    changed_ns: i128,
}

impl FileIdentity {
    /// The identity of the file at `path`; `None` when there is none.
    pub fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            inode: meta.ino(),
            len: meta.len(),
            modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            changed_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

pub struct FileWatcher {
    folder: PathBuf,
    name: OsString,
    poll: Duration,
    sender: Sender<()>,
    events: Receiver<()>,
    /// `None` until the folder could be watched; retried on every wait.
    watcher: Option<RecommendedWatcher>,
}

impl FileWatcher {
    /// Watches `path`; waits end at the latest after `poll`.
    pub fn new(path: &Path, poll: Duration) -> Self {
        let folder = super::files::folder_of(path).to_path_buf();
        let (sender, events) = mpsc::channel();
        let mut watcher = Self {
            folder,
            name: path.file_name().unwrap_or_default().to_owned(),
            poll,
            sender,
            events,
            watcher: None,
        };
        watcher.start();
        watcher
    }

    /// Whether change events arrive (else only the poll interval ends waits).
    pub fn is_notified(&self) -> bool {
        self.watcher.is_some()
    }

    fn start(&mut self) {
        let sender = self.sender.clone();
        let name = self.name.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            let concerns_file = match &event {
                Ok(event) => {
                    is_complete_change(&event.kind)
                        && event
                            .paths
                            .iter()
                            .any(|path| path.file_name() == Some(name.as_os_str()))
                }
                // An overflowed queue may have lost the event we wanted.
                Err(_) => true,
            };
            if concerns_file {
                let _ = sender.send(());
            }
        };
        let Ok(mut watcher) = notify::recommended_watcher(handler) else {
            return;
        };
        if watcher
            .watch(&self.folder, RecursiveMode::NonRecursive)
            .is_ok()
        {
            self.watcher = Some(watcher);
        }
    }

    /// Blocks until the file may have changed: an event named it (returns
    /// true), or the poll interval passed (false). Events that arrived
    /// together are taken as one.
    pub fn wait(&mut self) -> bool {
        if self.watcher.is_none() {
            self.start();
        }
        let announced = match self.events.recv_timeout(self.poll) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(self.poll);
                false
            }
        };
        while self.events.try_recv().is_ok() {}
        announced
    }
}

/// Whether an event may mean a new version of the file is complete. A write
/// in place (a hand edit with `>`, some editors) sends data events while it
/// is half done, and reading then would see an empty or cut file: it is read
/// when the writer closes it. The CLI's rename is complete when it lands.
fn is_complete_change(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Modify(ModifyKind::Data(_))
            | EventKind::Access(
                AccessKind::Open(_) | AccessKind::Read | AccessKind::Close(AccessMode::Read)
            )
    )
}
