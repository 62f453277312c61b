//! The broker's view of the state file: the last good [`State`], replaced when
//! the file changes.
//!
//! The CLI changes the file while the broker runs. Re-parsing it on every packet
//! would be slow, so the server's watcher calls [`LiveState::refresh`] when the
//! file may have changed (see `state::watcher`), which re-reads it only when
//! its identity (inode, size, modification time) changed. A file that stops parsing
//! is reported loudly and ignored: the broker keeps the last good state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result};
use crate::state::store::Store;
use crate::state::watcher::FileIdentity;
use crate::state::State;

/// How long a changed file must hold still before it is read.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(15);

/// One version of the state, numbered so that derived data (a session's
/// permissions) knows when to recompute.
#[derive(Debug)]
pub struct Snapshot {
    pub state: State,
    pub generation: u64,
}

pub struct LiveState {
    store: Store,
    current: RwLock<Arc<Snapshot>>,
    /// The current snapshot's generation, readable without the lock: the
    /// message path asks it on every publish.
    generation: AtomicU64,
    /// The identity last read, good or bad, so a bad file is reported once.
    /// Held while reading or writing the file and installing the result, so a
    /// slow re-read can never install an older version over a newer one.
    seen: Mutex<Option<FileIdentity>>,
}

impl LiveState {
    /// Loads the state; a file that does not parse stops the broker from starting.
    pub fn open(store: Store) -> Result<Self> {
        let seen = FileIdentity::of(store.path());
        let state = match store.database() {
            None => store.load()?,
            Some(database) => match store.load_or_copy()? {
                (state, None) => {
                    if let Err(error) = store.keep_copy(&state) {
                        tracing::warn!("cannot keep a copy of the registry: {error}");
                    }
                    state
                }
                (_, Some(error)) if seen.is_none() => {
                    return Err(Error::failure(format!(
                        "{error}\nThere is no copy of the registry at {} to serve from meanwhile: \
                         start the broker once with the database reachable",
                        store.path().display()
                    )))
                }
                (state, Some(_)) => {
                    tracing::warn!(
                        "serving this gateway's copy of the registry ({}) until the database {} is back",
                        store.path().display(),
                        database.url()
                    );
                    state
                }
            },
        };
        Ok(Self {
            store,
            current: RwLock::new(Arc::new(Snapshot {
                state,
                generation: 1,
            })),
            generation: AtomicU64::new(1),
            seen: Mutex::new(seen),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        self.store.path()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().expect("state lock poisoned").clone()
    }

    /// Re-reads the file if it changed. Returns the new snapshot when there is
    /// one. Blocking: call from a blocking thread.
    ///
    /// Found by the poll rather than announced by an event, a file caught
    /// while it changes is left for the next look: it is read only once its
    /// identity held still for a moment (a hand edit written in place is then
    /// complete). A file that is missing or empty is someone
    /// replacing it by hand (`rm` then `cp`), never a state to serve: it would
    /// read as "no users" and close every connection, so it is ignored.
    ///
    /// `announced`: a file-change event said a writer finished (a rename or a
    /// close after writing), so there is nothing to wait for.
    pub fn refresh(&self, announced: bool) -> Option<Arc<Snapshot>> {
        if self.store.database().is_some() {
            return self.refresh_from_database();
        }
        let mut seen = self.seen.lock().expect("identity lock poisoned");
        let now = FileIdentity::of(self.store.path());
        if *seen == now {
            return None;
        }
        if !announced {
            std::thread::sleep(SETTLE);
            if FileIdentity::of(self.store.path()) != now {
                return None;
            }
        }
        *seen = now;
        match now {
            None => {
                tracing::warn!(
                    "state file {} is missing; the broker keeps serving the last state it read",
                    self.store.path().display()
                );
                return None;
            }
            Some(file) if file.is_empty() => {
                tracing::warn!(
                    "state file {} is empty; the broker keeps serving the last state it read",
                    self.store.path().display()
                );
                return None;
            }
            Some(_) => {}
        }
        match self.store.load() {
            Ok(state) => Some(self.install(state)),
            Err(error) => {
                tracing::error!(
                    "{error}\nThe broker keeps serving the last good state until the file is fixed."
                );
                None
            }
        }
    }

    /// Reads the registry database (one query when nothing changed) and
    /// installs what differs. While it cannot be reached the last good state
    /// stays (the store logs the outage once).
    fn refresh_from_database(&self) -> Option<Arc<Snapshot>> {
        let _ordered = self.seen.lock().expect("identity lock poisoned");
        let state = self.store.load().ok()?;
        if self.snapshot().state == state {
            return None;
        }
        if let Err(error) = self.store.keep_copy(&state) {
            tracing::warn!("cannot keep a copy of the registry: {error}");
        }
        Some(self.install(state))
    }

    /// Re-reads the file even if it looks unchanged (SIGHUP). Blocking, but
    /// short: one read and parse.
    pub fn reload(&self) -> Option<Arc<Snapshot>> {
        if self.store.database().is_some() {
            return self.refresh_from_database();
        }
        *self.seen.lock().expect("identity lock poisoned") = None;
        self.refresh(false)
    }

    /// Makes `state` current (after the broker's own write, say).
    pub fn install(&self, state: State) -> Arc<Snapshot> {
        let mut current = self.current.write().expect("state lock poisoned");
        let snapshot = Arc::new(Snapshot {
            state,
            generation: current.generation + 1,
        });
        *current = snapshot.clone();
        self.generation
            .store(snapshot.generation, Ordering::Release);
        snapshot
    }

    /// Applies a change through the store (locked read-modify-write) and makes
    /// the result current. Blocking.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> Result<T> {
        let _ordered = self.seen.lock().expect("identity lock poisoned");
        let mut result = None;
        let mut after = None;
        self.store.update(|state| {
            result = Some(change(state));
            after = Some(state.clone());
            Ok(())
        })?;
        // The watcher will read this write back once: marking it as seen here
        // could also hide a CLI write that landed right after it.
        if let Some(state) = after {
            if let Err(error) = self.store.keep_copy(&state) {
                tracing::warn!("cannot keep a copy of the registry: {error}");
            }
            self.install(state);
        }
        Ok(result.expect("the change ran"))
    }
}
