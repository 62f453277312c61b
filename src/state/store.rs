//! The state file on disk: where it is, how it is read, and how it is replaced.
//!
//! Every change is a read-modify-write under an exclusive lock on a sibling lock
//! file (`state.toml.lock`), so concurrent CLI runs and the broker lose no
//! update. The new contents go to a temporary file in the same folder, are
//! fsynced, renamed over the state and the folder is fsynced: a crash leaves
//! either the old file or the new one, never half of one. Readers take no lock;
//! the rename makes every read see one whole version.
//!
//! A file that does not parse is never overwritten: the error names the file,
//! the line and the column, and the admin mends it by hand.
//!
//! A state in PostgreSQL (`--state postgresql://...`) goes through the same
//! `load` and `update`, in the database instead (see `postgres`); the path is
//! then this gateway's copy of it, and the files beside the state are named
//! after that copy.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use fs2::FileExt;
use serde::{Deserialize, Serialize};

use super::files::{folder_of, Folder, Owner};
use super::postgres::Postgres;
use super::{bulk, State};
use crate::error::{Error, Result};

/// Files smaller than this parse as fast as the cache loads.
const CACHE_FROM_BYTES: usize = 64 * 1024;

/// How long a writer waits for the lock unless `MQREG_LOCK_TIMEOUT` says otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// The system-wide state, where the packaged service keeps it.
pub const SYSTEM_STATE: &str = "/var/lib/mqreg/state.toml";

/// The state file's default location: `$MQREG_STATE`, else the system state
/// (`/var/lib/mqreg/state.toml`) for root or whenever its folder exists, so
/// that `sudo mqreg` and `mqreg` name the same file on a machine with the
/// service installed; else under `$XDG_STATE_HOME` (or `~/.local/state`).
pub fn default_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MQREG_STATE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    default_file()
}

/// Where a gateway whose state is in PostgreSQL keeps its copy of it (and,
/// beside that, its message store, control socket and audit log):
/// `gateway.toml` in the folder the state file would have by default.
pub fn default_copy_path() -> Result<PathBuf> {
    Ok(default_file()?.with_file_name("gateway.toml"))
}

fn default_file() -> Result<PathBuf> {
    let system = Path::new(SYSTEM_STATE);
    if is_root() || system.parent().is_some_and(Path::is_dir) {
        return Ok(system.to_path_buf());
    }
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|p| !p.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/state"),
            None => {
                return Err(Error::failure(
                    "cannot find a place for the state file: neither HOME nor XDG_STATE_HOME is set; pass --state PATH",
                ))
            }
        },
    };
    Ok(base.join("mqreg/state.toml"))
}

fn is_root() -> bool {
    // The owner of /proc/self is the effective user; no libc call needed.
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// The state file at one path.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    lock_timeout: Duration,
    /// The config file's settings tables, laid over every state read (and
    /// taken off again before one is written): see `config`.
    settings: Option<crate::config::SharedSettings>,
    /// The registry database, when the state is kept in PostgreSQL; `path`
    /// is then this gateway's copy of it (see [`Store::postgres`]).
    database: Option<Arc<Postgres>>,
}

/// A loaded state together with the text it came from, so that a write which
/// changes nothing can be skipped.
struct Loaded {
    state: State,
    text: Option<String>,
    /// Whether the parse was skipped thanks to the cache.
    from_cache: bool,
}

/// The parse cache: a state and the BLAKE3 digest of the exact file text it
/// was parsed from (or serialized to).
#[derive(Deserialize)]
struct Cache {
    text_blake3: String,
    state: State,
}

#[derive(Serialize)]
struct CacheRef<'a> {
    text_blake3: &'a str,
    state: &'a State,
}

impl Store {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            settings: None,
            database: None,
        }
    }

    /// The state in the PostgreSQL database at `url`. `copy` is this
    /// gateway's own file: the broker keeps its last good copy of the
    /// registry there (to serve from while the database is away), and the
    /// files a state has beside it (the message store, the control socket,
    /// the audit log) are named after it.
    pub fn postgres(url: &str, copy: impl Into<PathBuf>) -> Result<Self> {
        let mut store = Self::new(copy);
        store.database = Some(Arc::new(Postgres::new(url)?));
        Ok(store)
    }

    /// The registry database, if the state is kept in one.
    pub fn database(&self) -> Option<&Arc<Postgres>> {
        self.database.as_ref()
    }

    /// The state as a person names it: the file, or the database's URL
    /// (without its password).
    pub fn describe(&self) -> String {
        match &self.database {
            Some(database) => database.url().to_owned(),
            None => self.path.display().to_string(),
        }
    }

    /// Lays the config file's settings over every state this store reads.
    pub fn with_settings(mut self, settings: crate::config::SharedSettings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The config file's settings on `state`; what they replaced, to put back.
    fn overlay(&self, state: &mut State) -> Option<crate::config::Saved> {
        let settings = self.settings.as_ref()?;
        let settings = settings.read().unwrap_or_else(|e| e.into_inner());
        Some(settings.apply(state))
    }

    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state without locking; a missing file is an empty state.
    pub fn load(&self) -> Result<State> {
        let mut state = match &self.database {
            Some(database) => database.load()?.0,
            None => self.read()?.state,
        };
        self.overlay(&mut state);
        Ok(state)
    }

    /// Like [`Store::load`], but while the registry database cannot be
    /// reached, this gateway's last copy of it, with the error that made it
    /// the answer.
    pub fn load_or_copy(&self) -> Result<(State, Option<Error>)> {
        match self.load() {
            Ok(state) => Ok((state, None)),
            Err(error) if self.database.is_some() => {
                let mut state = self.read()?.state;
                self.overlay(&mut state);
                Ok((state, Some(error)))
            }
            Err(error) => Err(error),
        }
    }

    /// Writes `state` as this gateway's copy of the registry database (see
    /// [`Store::postgres`]); nothing for a file state. Under the copy's own
    /// lock, replaced whole like the state file.
    pub fn keep_copy(&self, state: &State) -> Result<()> {
        if self.database.is_none() {
            return Ok(());
        }
        let text = bulk::serialize(state)
            .map_err(|e| Error::failure(format!("cannot serialize the state: {e}")))?;
        let (folder, _lock) = self.lock()?;
        if self.read_text(Some(&folder)).ok().flatten().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        self.replace(&folder, &text)
    }

    /// Parses state-file text; the error names `path`, the line and the column.
    pub fn parse(path: &Path, text: &str) -> Result<State> {
        let state = match bulk::parse(text) {
            Some(state) => state,
            None => Self::parse_whole(path, text)?,
        };
        state.check().map_err(|e| {
            Error::failure(format!(
                "state file {} is not valid: {e}\nThe file was left untouched; fix it by hand.",
                path.display()
            ))
        })?;
        Ok(state)
    }

    fn parse_whole(path: &Path, text: &str) -> Result<State> {
        toml::from_str(text).map_err(|e| {
            Error::failure(format!(
                "cannot read state file {}: {}\nThe file was left untouched; fix it by hand or restore a backup.",
                path.display(),
                describe_toml_error(text, &e)
            ))
        })
    }

    fn folder_path(&self) -> PathBuf {
        folder_of(&self.path).to_path_buf()
    }

    fn file_name(&self) -> &OsStr {
        self.path.file_name().unwrap_or_default()
    }

    /// The state folder, opened; `None` when it does not exist yet.
    fn open_folder(&self) -> Result<Option<Folder>> {
        let path = self.folder_path();
        match Folder::open(&path) {
            Ok(folder) => Ok(Some(folder.hand_files_to_owner_of(self.file_name()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot open the state folder", &path, e)),
        }
    }

    /// Who a file created at `path` for this state must belong to, when that
    /// is not the writer (root writing a service user's state): only a file
    /// in the state's own folder, never one elsewhere (`--audit-log /var/log/..`).
    pub fn owner_for(&self, path: &Path) -> Option<Owner> {
        if folder_of(path) != folder_of(&self.path) {
            return None;
        }
        self.open_folder()
            .ok()
            .flatten()
            .and_then(|folder| folder.owner())
    }

    /// Reads the state file's text, never through a symlink.
    fn read_text(&self, folder: Option<&Folder>) -> io::Result<Option<String>> {
        let Some(folder) = folder else {
            return Ok(None);
        };
        match folder.open_file(self.file_name(), libc::O_RDONLY, 0) {
            Ok(mut file) => {
                let mut text = String::new();
                file.read_to_string(&mut text)?;
                Ok(Some(text))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read(&self) -> Result<Loaded> {
        let folder = self.open_folder()?;
        self.read_in(folder.as_ref())
    }

    fn read_in(&self, folder: Option<&Folder>) -> Result<Loaded> {
        match self.read_text(folder) {
            Ok(Some(text)) => {
                let cached = folder.and_then(|folder| self.read_cache(folder, &text));
                let from_cache = cached.is_some();
                let state = match cached {
                    Some(state) => state,
                    None => Self::parse(&self.path, &text)?,
                };
                Ok(Loaded {
                    state,
                    text: Some(text),
                    from_cache,
                })
            }
            Ok(None) => Ok(Loaded {
                state: State::default(),
                text: None,
                from_cache: false,
            }),
            Err(e) => Err(io_error("cannot read state file", &self.path, e)),
        }
    }

    /// Locks, loads, applies `change`, and saves if the state differs. When
    /// `change` fails nothing is written. The lock is held until the new file
    /// is in place.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        if let Some(database) = &self.database {
            let (result, _) = database.update(self.lock_timeout, |state| {
                let saved = self.overlay(state);
                let result = change(state)?;
                if let Some(saved) = saved {
                    saved.restore(state);
                }
                state.prune_expired(chrono::Utc::now());
                state.version = super::SCHEMA_VERSION;
                Ok(result)
            })?;
            return Ok(result);
        }
        let (folder, _lock) = self.lock()?;
        let Loaded {
            mut state,
            text,
            from_cache,
        } = self.read_in(Some(&folder))?;
        let saved = self.overlay(&mut state);
        let result = change(&mut state)?;
        if let Some(saved) = saved {
            saved.restore(&mut state);
        }
        state.prune_expired(chrono::Utc::now());
        // Written in the current layout, which is what the version says.
        state.version = super::SCHEMA_VERSION;
        let new_text = bulk::serialize(&state)
            .map_err(|e| Error::failure(format!("cannot serialize the state: {e}")))?;
        let changed = text.as_deref() != Some(new_text.as_str());
        // The cache is written on a second thread while the state is fsynced:
        // a cache that lands first, or for a write that then fails, only fails
        // its digest check and is ignored.
        std::thread::scope(|scope| {
            if changed || !from_cache {
                scope.spawn(|| self.write_cache(&folder, &new_text, &state));
            }
            if changed {
                self.replace(&folder, &new_text)?;
            }
            Ok::<(), Error>(())
        })?;
        Ok(result)
    }

    /// A file of this state's own beside it: `state.toml` → `state.SUFFIX`.
    pub fn beside(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_stem().unwrap_or_default().to_os_string();
        name.push(".");
        name.push(suffix);
        self.folder_path().join(name)
    }

    /// A file beside the state as a person names it: its path, or for a
    /// state in PostgreSQL, where the database keeps it.
    pub fn name_beside(&self, suffix: &str) -> String {
        match &self.database {
            Some(database) => format!("{suffix} in the registry database {}", database.url()),
            None => self.beside(suffix).display().to_string(),
        }
    }

    /// Reads a file beside the state (see [`Store::beside`]), never through
    /// a symlink; `None` when it does not exist.
    pub fn read_beside(&self, suffix: &str) -> Result<Option<String>> {
        if let Some(database) = &self.database {
            return database
                .read_file(suffix)?
                .map(|bytes| {
                    String::from_utf8(bytes).map_err(|_| {
                        Error::failure(format!(
                            "{suffix} in the registry database {} is not text",
                            database.url()
                        ))
                    })
                })
                .transpose();
        }
        let path = self.beside(suffix);
        let Some(folder) = self.open_folder()? else {
            return Ok(None);
        };
        let name = path.file_name().unwrap_or_default();
        match folder.open_file(name, libc::O_RDONLY, 0) {
            Ok(mut file) => {
                let mut text = String::new();
                file.read_to_string(&mut text)
                    .map_err(|e| io_error("cannot read", &path, e))?;
                Ok(Some(text))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot read", &path, e)),
        }
    }

    /// Writes files beside the state together, under the state's lock: each
    /// is written whole (mode 0600, owned like the state) and then renamed
    /// into place, so a reader sees the old file or the new one. Unless
    /// `replace`, an existing file is an error (a conflict) and nothing is
    /// written.
    pub fn write_beside(&self, files: &[(&str, &[u8])], replace: bool) -> Result<()> {
        if let Some(database) = &self.database {
            return database.write_files(files, replace);
        }
        let (folder, _lock) = self.lock()?;
        if !replace {
            for (suffix, _) in files {
                let path = self.beside(suffix);
                if folder.stat(path.file_name().unwrap_or_default()).is_ok() {
                    return Err(Error::conflict(format!(
                        "{} exists already; nothing was written",
                        path.display()
                    )));
                }
            }
        }
        let mut written = Vec::new();
        for (suffix, contents) in files {
            let path = self.beside(suffix);
            let name = path.file_name().unwrap_or_default().to_os_string();
            let (mut file, temp) = folder
                .create_temp(&name)
                .map_err(|e| io_error("cannot write", &path, e))?;
            file.write_all(contents)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error("cannot write", &path, e))?;
            written.push((temp, name, path));
        }
        for (temp, name, path) in written {
            folder
                .rename(&temp, &name)
                .map_err(|e| io_error("cannot write", &path, e))?;
        }
        folder
            .sync()
            .map_err(|e| io_error("cannot sync the state folder", &self.folder_path(), e))
    }

    /// Checks, before a broker starts serving, that it can do what it will
    /// need to: create the folder, lock, create a file and rename it (how the
    /// state is replaced). Errors name the folder and the fix.
    pub fn preflight(&self) -> Result<()> {
        let fix = |what: &str, error: io::Error| {
            let folder = self.folder_path();
            Error::failure(format!(
                "{what} {}: {error}\nThe broker must be able to lock, create and replace files there: \
                 run it as the folder's owner, or give the folder to the user it runs as \
                 (`chown -R USER: {}`)",
                folder.display(),
                folder.display()
            ))
        };
        let (folder, _lock) = self.lock()?;
        let (mut file, temp) = folder
            .create_temp(self.file_name())
            .map_err(|e| fix("cannot create files in the state folder", e))?;
        let mut probe = std::ffi::OsString::from(".");
        probe.push(self.file_name());
        probe.push(".preflight");
        let replaced = file
            .write_all(b"mqreg preflight\n")
            .and_then(|()| folder.rename(&temp, &probe));
        let _ = folder.remove(&temp);
        let _ = folder.remove(&probe);
        replaced.map_err(|e| fix("cannot replace files in the state folder", e))?;
        // The file itself must be one the broker can read (not a symlink).
        self.read_in(Some(&folder))?;
        Ok(())
    }

    /// Creates the state folder if needed (0700) and opens it.
    fn ensure_folder(&self) -> Result<Folder> {
        let folder = self.folder_path();
        if !folder.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&folder)
                .map_err(|e| io_error("cannot create the state folder", &folder, e))?;
        } else {
            warn_if_exposed(&folder);
        }
        Folder::open(&folder)
            .map(|opened| opened.hand_files_to_owner_of(self.file_name()))
            .map_err(|e| io_error("cannot open the state folder", &folder, e))
    }

    /// Takes the exclusive lock; returns the opened folder with it.
    fn lock(&self) -> Result<(Folder, File)> {
        let folder = self.ensure_folder()?;
        let lock_path = self.lock_path();
        let lock_name = lock_path.file_name().unwrap_or_default();
        let file = folder
            .open_file(lock_name, libc::O_WRONLY | libc::O_CREAT, 0o600)
            .map_err(|e| io_error("cannot open the lock file", &lock_path, e))?;
        if file.try_lock_exclusive().is_ok() {
            return Ok((folder, file));
        }
        eprintln!(
            "waiting for the lock on {} (another mqreg is changing the state)...",
            self.path.display()
        );
        // A blocking lock in a helper thread is woken by the kernel the moment the
        // holder is done; the timeout abandons it (and the process ends soon after).
        let (done, wait) = mpsc::channel();
        let waiting = file
            .try_clone()
            .map_err(|e| io_error("cannot open the lock file", &lock_path, e))?;
        std::thread::spawn(move || {
            let _ = done.send(waiting.lock_exclusive());
        });
        match wait.recv_timeout(self.lock_timeout) {
            Ok(Ok(())) => Ok((folder, file)),
            Ok(Err(e)) => Err(io_error("cannot lock", &lock_path, e)),
            Err(_) => Err(Error::failure(format!(
                "gave up waiting for the lock on {} after {}; another mqreg still holds it. Try again, or raise MQREG_LOCK_TIMEOUT",
                self.path.display(),
                humantime::format_duration(self.lock_timeout)
            ))),
        }
    }

    /// `.state.toml.cache` beside the state: big files parse slowly (tens of
    /// milliseconds for 10,000 users), JSON of the same state about four times
    /// faster. The cache is only used for a file whose text has exactly the
    /// digest it records, so a hand edit, a restore or a stale cache simply
    /// means a parse. It is written without fsync: after a crash it is at worst
    /// unreadable or stale, and ignored.
    fn cache_path(&self) -> PathBuf {
        let mut name = std::ffi::OsString::from(".");
        name.push(self.path.file_name().unwrap_or_default());
        name.push(".cache");
        self.path.with_file_name(name)
    }

    fn read_cache(&self, folder: &Folder, text: &str) -> Option<State> {
        if text.len() < CACHE_FROM_BYTES {
            return None;
        }
        let mut bytes = Vec::new();
        folder
            .open_file(self.cache_path().file_name()?, libc::O_RDONLY, 0)
            .ok()?
            .read_to_end(&mut bytes)
            .ok()?;
        let cache: Cache = serde_json::from_slice(&bytes).ok()?;
        if cache.text_blake3 != blake3::hash(text.as_bytes()).to_hex().as_str() {
            return None;
        }
        cache.state.check().ok()?;
        Some(cache.state)
    }

    /// Best effort: a cache that cannot be written only costs a parse later.
    fn write_cache(&self, folder: &Folder, text: &str, state: &State) {
        let cache_path = self.cache_path();
        let cache_name = cache_path.file_name().unwrap_or_default();
        if text.len() < CACHE_FROM_BYTES {
            let _ = folder.remove(cache_name);
            return;
        }
        let digest = blake3::hash(text.as_bytes()).to_hex();
        let Ok(json) = serde_json::to_vec(&CacheRef {
            text_blake3: digest.as_str(),
            state,
        }) else {
            return;
        };
        let Ok((mut file, temp)) = folder.create_temp(cache_name) else {
            return;
        };
        let written = file
            .write_all(&json)
            .and_then(|()| folder.rename(&temp, cache_name));
        if written.is_err() {
            let _ = folder.remove(&temp);
        }
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// Write, fsync, rename, fsync the folder.
    fn replace(&self, folder: &Folder, text: &str) -> Result<()> {
        let (mut file, temp) = folder
            .create_temp(self.file_name())
            .map_err(|e| io_error("cannot write state file", &self.path, e))?;
        let written = (|| {
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            folder.rename(&temp, self.file_name())?;
            folder.sync()
        })();
        written.map_err(|e| {
            let _ = folder.remove(&temp);
            io_error("cannot write state file", &self.path, e)
        })
    }
}

/// A folder that existed before mqreg may be shared (`--state /tmp/x.toml`), so
/// it is never chmod-ed; the files in it are always 0600 whatever the folder.
/// Others seeing it is worth one warning per process.
fn warn_if_exposed(folder: &Path) {
    use std::os::unix::fs::PermissionsExt;
    static WARN_ONCE: std::sync::Once = std::sync::Once::new();
    let Ok(meta) = fs::metadata(folder) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        WARN_ONCE.call_once(|| {
            eprintln!(
                "warning: the state folder {} is open to other users (mode {mode:o}); the state files in it are 0600, \
                 but `chmod 700 {}` keeps even their names private",
                folder.display(),
                folder.display()
            );
        });
    }
}

fn io_error(what: &str, path: &Path, error: io::Error) -> Error {
    let hint = match error.kind() {
        io::ErrorKind::PermissionDenied => "; run as the user that owns it, or pass --state PATH",
        _ => "",
    };
    Error::failure(format!("{what} {}: {error}{hint}", path.display()))
}

/// `line L, column C: message`, from a toml error's byte span.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}
