//! The broker's durable memory: retained messages and persistent sessions
//! (subscriptions, the messages owed to them, the ids of QoS 2 messages
//! awaiting PUBREL), in an embedded store beside the state file.
//!
//! The store is redb: one file of copy-on-write B-trees, ACID, whose commit
//! is durable when it returns (fsync), and which a crash or `kill -9` leaves
//! at its last commit. Pure Rust and without dependencies, it is the
//! embedded store with the fewest moving parts for this job; a log-structured
//! one (fjall) writes less per message but brings compaction threads and
//! more memory on a gateway.
//!
//! The broker core never waits for the disk. It hands each change to
//! [`Store::write`], which numbers it and queues it for one writer thread;
//! that thread applies everything queued in one transaction and commits
//! (group commit: one fsync for all the messages that arrived meanwhile),
//! then publishes the number of the last change it made durable. What must
//! not leave before a change is on disk (a PUBACK, a PUBREC, a SUBACK, a
//! QoS 2 PUBLISH whose packet id was just assigned) is held at the
//! connection's write side until [`Durability::poll_durable`] says so.
//!
//! A commit that fails (a full disk) does not stop the broker: the changes
//! stay queued in memory and are retried every second, the failure is
//! logged once per cause, and acknowledgements go out meanwhile (the
//! messages are kept in memory, as without persistence, until the disk takes
//! them again).

pub mod records;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use self::records::{StoredDelivery, StoredRetained, StoredSession};

const RETAINED: TableDefinition<&str, &[u8]> = TableDefinition::new("retained");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// A session's messages by (client id, its own increasing key).
const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("messages");
/// Packet ids of QoS 2 messages from a client, routed, awaiting its PUBREL.
const AWAITING: TableDefinition<(&str, u16), ()> = TableDefinition::new("awaiting_release");

/// Most changes in one commit; more wait for the next.
const MAX_CHANGES_PER_COMMIT: usize = 20_000;
/// How often a failed commit is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Commits that succeed for this long after the last failure: the store is
/// written again (said once).
const RECOVERED_AFTER: Duration = Duration::from_secs(2);
/// redb's page cache: reads at start and the B-tree pages writes touch.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// One change to the store.
#[derive(Debug, Clone)]
pub enum Change {
    PutRetained(String, Vec<u8>),
    RemoveRetained(String),
    PutSession(String, Vec<u8>),
    /// The session, its messages and its awaiting ids.
    RemoveSession(String),
    PutMessage(String, u64, Vec<u8>),
    RemoveMessage(String, u64),
    Await(String, u16),
    Release(String, u16),
}

/// What the store held at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub retained: Vec<StoredRetained>,
    pub sessions: Vec<LoadedSession>,
}

#[derive(Debug)]
pub struct LoadedSession {
    pub client_id: String,
    pub session: StoredSession,
    /// In key order, the order they were queued.
    pub messages: Vec<(u64, StoredDelivery)>,
    pub awaiting: Vec<u16>,
}

/// How far the writer has come, and who waits for it.
#[derive(Default)]
pub struct Durability {
    /// Changes up to this number are on disk (or, while the disk fails,
    /// given up waiting for: see the module docs).
    committed: AtomicU64,
    waiting: Mutex<Vec<Waker>>,
    settled: Condvar,
}

impl Durability {
    /// Ready once change `number` is durable.
    pub fn poll_durable(&self, number: u64, cx: &mut Context<'_>) -> Poll<()> {
        if self.committed.load(Ordering::Acquire) >= number {
            return Poll::Ready(());
        }
        let mut waiting = self.waiting.lock().expect("durability lock");
        // A commit between the first look and the lock woke nobody: look again.
        if self.committed.load(Ordering::Acquire) >= number {
            return Poll::Ready(());
        }
        if !waiting.iter().any(|waker| waker.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    pub fn is_durable(&self, number: u64) -> bool {
        self.committed.load(Ordering::Acquire) >= number
    }

    fn settle(&self, number: u64) {
        self.committed.fetch_max(number, Ordering::AcqRel);
        let waiting = std::mem::take(&mut *self.waiting.lock().expect("durability lock"));
        self.settled.notify_all();
        for waker in waiting {
            waker.wake();
        }
    }
}

/// The writer's queue: changes with their numbers.
type Queue = mpsc::Sender<(u64, Change)>;

pub struct Store {
    path: PathBuf,
    /// The last change number given out, and the writer's queue: numbered
    /// and queued under one lock, so numbers reach the writer in order.
    queue: Mutex<(u64, Option<Queue>)>,
    durability: Arc<Durability>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Store {
    /// Opens (or creates) the store at `path` and reads what it holds.
    /// An unreadable store is an error naming the file: it is never
    /// discarded or overwritten.
    pub fn open(path: &Path) -> Result<(Arc<Store>, Loaded), String> {
        let database = open_database(path).map_err(|e| damaged(path, &e))?;
        // Every table exists from the first start on, so readers need not ask.
        let setup = || -> Result<(), redb::Error> {
            let transaction = database.begin_write()?;
            transaction.open_table(RETAINED)?;
            transaction.open_table(SESSIONS)?;
            transaction.open_table(MESSAGES)?;
            transaction.open_table(AWAITING)?;
            transaction.commit()?;
            Ok(())
        };
        setup().map_err(|e| damaged(path, &e.to_string()))?;
        let loaded = load(&database).map_err(|e| damaged(path, &e))?;
        let durability = Arc::new(Durability::default());
        let (sender, receiver) = mpsc::channel();
        let writer = {
            let durability = durability.clone();
            let path = path.to_owned();
            std::thread::Builder::new()
                .name("mqreg-store".into())
                .spawn(move || write_changes(database, &path, &receiver, &durability))
                .map_err(|e| format!("cannot start the store's writer thread: {e}"))?
        };
        let store = Arc::new(Store {
            path: path.to_owned(),
            queue: Mutex::new((0, Some(sender))),
            durability,
            writer: Mutex::new(Some(writer)),
        });
        Ok((store, loaded))
    }

    pub fn durability(&self) -> &Arc<Durability> {
        &self.durability
    }

    /// Changes queued and not yet on disk (for `mqreg_persistence_lag`).
    pub fn lag(&self) -> u64 {
        let issued = self.queue.lock().expect("store queue lock").0;
        issued.saturating_sub(self.durability.committed.load(Ordering::Acquire))
    }

    /// Queues a change; returns its number, durable once
    /// [`Durability::poll_durable`] says so.
    pub fn write(&self, change: Change) -> u64 {
        let mut queue = self.queue.lock().expect("store queue lock");
        queue.0 += 1;
        let number = queue.0;
        if let Some(sender) = &queue.1 {
            if sender.send((number, change)).is_err() {
                // The writer is gone (it panicked): nothing would ever settle.
                drop(queue);
                tracing::error!(store = %self.path.display(), "the store's writer stopped: changes are no longer written");
                self.durability.settle(number);
            }
        }
        number
    }

    /// Writes what is queued and stops the writer (at shutdown), waiting at
    /// most `timeout`.
    pub fn close(&self, timeout: Duration) {
        let last = {
            let mut queue = self.queue.lock().expect("store queue lock");
            queue.1 = None;
            queue.0
        };
        let deadline = Instant::now() + timeout;
        let mut waiting = self.durability.waiting.lock().expect("durability lock");
        while !self.durability.is_durable(last) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::error!(store = %self.path.display(), "the store did not finish writing before the stop");
                return;
            }
            waiting = self
                .durability
                .settled
                .wait_timeout(waiting, left)
                .expect("durability lock")
                .0;
        }
        drop(waiting);
        if let Some(writer) = self.writer.lock().expect("writer lock").take() {
            let _ = writer.join();
        }
    }
}

fn open_database(path: &Path) -> Result<redb::Database, String> {
    redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(|e| e.to_string())
}

fn damaged(path: &Path, error: &str) -> String {
    format!(
        "cannot read the message store {}: {error}
It holds retained messages and persistent sessions and is never discarded by mqreg.
Restore it from a backup, or move it aside to start with an empty one (its messages are then lost), or run serve with --persistence off.",
        path.display()
    )
}

fn load(database: &redb::Database) -> Result<Loaded, String> {
    let read = database.begin_read().map_err(|e| e.to_string())?;
    let mut loaded = Loaded::default();
    let retained = read.open_table(RETAINED).map_err(|e| e.to_string())?;
    for entry in retained.iter().map_err(|e| e.to_string())? {
        let (topic, bytes) = entry.map_err(|e| e.to_string())?;
        let message = records::decode::<StoredRetained>(bytes.value()).map_err(|e| {
            format!(
                "retained message of '{}' does not decode: {e}",
                topic.value()
            )
        })?;
        loaded.retained.push(message);
    }
    let sessions = read.open_table(SESSIONS).map_err(|e| e.to_string())?;
    let messages = read.open_table(MESSAGES).map_err(|e| e.to_string())?;
    let awaiting = read.open_table(AWAITING).map_err(|e| e.to_string())?;
    for entry in sessions.iter().map_err(|e| e.to_string())? {
        let (client_id, bytes) = entry.map_err(|e| e.to_string())?;
        let client_id = client_id.value().to_owned();
        let session = records::decode::<StoredSession>(bytes.value())
            .map_err(|e| format!("session '{client_id}' does not decode: {e}"))?;
        let mut owed = Vec::new();
        for entry in messages
            .range((client_id.as_str(), 0)..=(client_id.as_str(), u64::MAX))
            .map_err(|e| e.to_string())?
        {
            let (key, bytes) = entry.map_err(|e| e.to_string())?;
            let key = key.value().1;
            let delivery = records::decode::<StoredDelivery>(bytes.value()).map_err(|e| {
                format!("message {key} of session '{client_id}' does not decode: {e}")
            })?;
            owed.push((key, delivery));
        }
        let mut ids = Vec::new();
        for entry in awaiting
            .range((client_id.as_str(), 0)..=(client_id.as_str(), u16::MAX))
            .map_err(|e| e.to_string())?
        {
            ids.push(entry.map_err(|e| e.to_string())?.0.value().1);
        }
        loaded.sessions.push(LoadedSession {
            client_id,
            session,
            messages: owed,
            awaiting: ids,
        });
    }
    Ok(loaded)
}

/// Debug builds only: a pause before every commit, as a slow disk makes, so
/// that tests see acknowledgements wait for the store
/// (`MQREG_TEST_COMMIT_DELAY_MS`). Release builds never pause.
fn test_commit_delay() -> Option<Duration> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let millis = std::env::var("MQREG_TEST_COMMIT_DELAY_MS")
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_millis(millis))
}

/// The writer thread: every change queued, in order, one commit at a time.
/// After a failed commit redb wants the database opened again: it is, before
/// the next try.
fn write_changes(
    database: redb::Database,
    path: &Path,
    queue: &mpsc::Receiver<(u64, Change)>,
    durability: &Durability,
) {
    // Changes not yet committed, in order (more than one round's only when
    // the disk refuses them).
    let mut pending: Vec<Change> = Vec::new();
    let mut last = 0u64;
    // The failure last logged, and when a commit last failed: a disk that
    // is nearly full fails and succeeds by turns, and says so once.
    let mut failing: Option<(String, Instant)> = None;
    let mut open = true;
    let mut database = Some(database);
    let delay = test_commit_delay();
    while open || !pending.is_empty() {
        let first = if pending.is_empty() {
            queue.recv().ok()
        } else {
            match queue.recv_timeout(RETRY_EVERY) {
                Ok(change) => Some(change),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            }
        };
        match first {
            Some((number, change)) => {
                pending.push(change);
                last = number;
            }
            None if pending.is_empty() => break,
            None => {}
        }
        while pending.len() < MAX_CHANGES_PER_COMMIT {
            match queue.try_recv() {
                Ok((number, change)) => {
                    pending.push(change);
                    last = number;
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if let Some(delay) = delay {
            std::thread::sleep(delay);
        }
        if database.is_none() {
            database = open_database(path).ok();
        }
        let committed = match &database {
            Some(database) => commit(database, &pending),
            None => Err("cannot open it again".to_owned()),
        };
        match committed {
            Ok(()) => {
                pending.clear();
                if failing
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() >= RECOVERED_AFTER)
                {
                    failing = None;
                    tracing::warn!(store = %path.display(), "the message store is written again; what was held in memory is on disk");
                }
            }
            Err(error) => {
                // Closed now (the file lock too), opened again next time.
                database = None;
                match &mut failing {
                    Some((logged, at)) if *logged == error => *at = Instant::now(),
                    _ => {
                        tracing::error!(
                            store = %path.display(),
                            held = pending.len(),
                            "cannot write the message store: {error}; messages are kept in memory (lost if the broker stops) and written when it can; free space to resume"
                        );
                        failing = Some((error, Instant::now()));
                    }
                }
                if !open {
                    // Stopping, and the disk still refuses: nothing more to do.
                    durability.settle(last);
                    break;
                }
            }
        }
        // Acknowledgements go out either way (see the module docs).
        durability.settle(last);
    }
}

fn commit(database: &redb::Database, changes: &[Change]) -> Result<(), String> {
    let apply = || -> Result<(), redb::Error> {
        let transaction = database.begin_write()?;
        {
            let mut retained = transaction.open_table(RETAINED)?;
            let mut sessions = transaction.open_table(SESSIONS)?;
            let mut messages = transaction.open_table(MESSAGES)?;
            let mut awaiting = transaction.open_table(AWAITING)?;
            for change in changes {
                match change {
                    Change::PutRetained(topic, bytes) => {
                        retained.insert(topic.as_str(), bytes.as_slice())?;
                    }
                    Change::RemoveRetained(topic) => {
                        retained.remove(topic.as_str())?;
                    }
                    Change::PutSession(client_id, bytes) => {
                        sessions.insert(client_id.as_str(), bytes.as_slice())?;
                    }
                    Change::RemoveSession(client_id) => {
                        let id = client_id.as_str();
                        sessions.remove(id)?;
                        messages.retain_in((id, 0)..=(id, u64::MAX), |_, _| false)?;
                        awaiting.retain_in((id, 0)..=(id, u16::MAX), |_, ()| false)?;
                    }
                    Change::PutMessage(client_id, key, bytes) => {
                        messages.insert((client_id.as_str(), *key), bytes.as_slice())?;
                    }
                    Change::RemoveMessage(client_id, key) => {
                        messages.remove((client_id.as_str(), *key))?;
                    }
                    Change::Await(client_id, id) => {
                        awaiting.insert((client_id.as_str(), *id), ())?;
                    }
                    Change::Release(client_id, id) => {
                        awaiting.remove((client_id.as_str(), *id))?;
                    }
                }
            }
        }
        transaction.commit()?;
        Ok(())
    };
    apply().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::records::{StoredMessage, StoredSubscription};
    use super::*;

    fn message(topic: &str) -> StoredMessage {
        StoredMessage {
            topic: topic.into(),
            payload: b"x".to_vec(),
            qos: 1,
            retain: true,
            properties: None,
            expires_at_ms: None,
            publisher: None,
        }
    }

    fn wait(store: &Store, number: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !store.durability().is_durable(number) {
            assert!(
                Instant::now() < deadline,
                "change {number} never became durable"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn what_was_committed_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.messages.redb");
        {
            let (store, loaded) = Store::open(&path).unwrap();
            assert!(loaded.retained.is_empty() && loaded.sessions.is_empty());
            let retained = |topic: &str| StoredRetained {
                message: message(topic),
                owner: Some("alice".into()),
            };
            store.write(Change::PutRetained(
                "a".into(),
                records::encode(&retained("a")),
            ));
            store.write(Change::PutRetained(
                "b".into(),
                records::encode(&retained("b")),
            ));
            store.write(Change::RemoveRetained("a".into()));
            let session = StoredSession {
                username: "alice".into(),
                expiry: u32::MAX,
                offline_since_ms: Some(1),
                subscriptions: vec![StoredSubscription {
                    requested: "t/#".into(),
                    qos: 1,
                    no_local: false,
                    retain_as_published: false,
                    retain_handling: 0,
                    subscription_id: None,
                }],
            };
            store.write(Change::PutSession("c1".into(), records::encode(&session)));
            store.write(Change::PutSession("c2".into(), records::encode(&session)));
            for key in [3u64, 1, 2] {
                let delivery = StoredDelivery {
                    message: message(&format!("m{key}")),
                    qos: 1,
                    retain: false,
                    subscription_ids: vec![],
                    packet_id: None,
                    received: false,
                };
                store.write(Change::PutMessage(
                    "c1".into(),
                    key,
                    records::encode(&delivery),
                ));
                store.write(Change::PutMessage(
                    "c2".into(),
                    key,
                    records::encode(&delivery),
                ));
            }
            store.write(Change::RemoveMessage("c1".into(), 2));
            store.write(Change::Await("c1".into(), 9));
            store.write(Change::Await("c1".into(), 10));
            let last = store.write(Change::Release("c1".into(), 10));
            store.write(Change::RemoveSession("c2".into()));
            wait(&store, last);
            store.close(Duration::from_secs(10));
        }
        let (_store, loaded) = Store::open(&path).unwrap();
        let topics: Vec<_> = loaded
            .retained
            .iter()
            .map(|m| m.message.topic.as_str())
            .collect();
        assert_eq!(topics, ["b"]);
        assert_eq!(loaded.sessions.len(), 1, "c2 and all of it removed");
        let c1 = &loaded.sessions[0];
        assert_eq!(c1.client_id, "c1");
        let keys: Vec<_> = c1.messages.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, [1, 3], "in key order, the removed one gone");
        assert_eq!(c1.awaiting, [9]);
        assert_eq!(c1.session.subscriptions[0].requested, "t/#");
    }

    #[test]
    fn a_damaged_store_is_an_error_naming_the_file_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.messages.redb");
        std::fs::write(&path, vec![0x5Au8; 64 * 1024]).unwrap();
        let error = match Store::open(&path) {
            Ok(_) => panic!("a damaged store opened"),
            Err(error) => error,
        };
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("move it aside"), "{error}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            vec![0x5Au8; 64 * 1024],
            "untouched"
        );
    }
}
