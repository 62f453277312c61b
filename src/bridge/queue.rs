//! A bridge's store-and-forward queue: the QoS 1/2 messages going upstream,
//! on disk (redb, one file per bridge beside the state), in arrival order,
//! until the upstream broker acknowledged them.
//!
//! A message is acknowledged to the local publisher side only once it is
//! committed here, so a crash or an upstream outage loses nothing that was
//! taken. The queue is bounded in bytes: past the bound the oldest messages
//! are dropped, and counted, so that a long outage costs the oldest data and
//! never the gateway's disk.

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

const QUEUE: TableDefinition<u64, &[u8]> = TableDefinition::new("outgoing");
/// Counters that survive a restart: messages dropped for room.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// One message waiting to go upstream, its topic already the remote one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

impl Queued {
    /// What it costs against the bound.
    pub fn size(&self) -> u64 {
        (self.topic.len() + self.payload.len()) as u64
    }
}

pub struct Queue {
    path: PathBuf,
    database: std::sync::Arc<redb::Database>,
    max_bytes: u64,
    next_key: u64,
    bytes: u64,
    len: u64,
    dropped: u64,
}

fn text(error: impl std::fmt::Display) -> String {
    error.to_string()
}

impl Queue {
    /// Opens (or creates) the queue file; what it holds is counted.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, String> {
        let database = redb::Builder::new()
            .set_cache_size(4 * 1024 * 1024)
            .create(path)
            .map_err(|e| format!("cannot open the bridge queue {}: {e}", path.display()))?;
        let write = database.begin_write().map_err(text)?;
        write.open_table(QUEUE).map_err(text)?;
        write.open_table(COUNTERS).map_err(text)?;
        write.commit().map_err(text)?;
        let read = database.begin_read().map_err(text)?;
        let table = read.open_table(QUEUE).map_err(text)?;
        let mut bytes = 0;
        let mut next_key = 0;
        for entry in table.iter().map_err(text)? {
            let (key, value) = entry.map_err(text)?;
            bytes += decode(value.value())?.size();
            next_key = key.value() + 1;
        }
        let len = table.len().map_err(text)?;
        let counters = read.open_table(COUNTERS).map_err(text)?;
        let dropped = counters
            .get("dropped")
            .map_err(text)?
            .map_or(0, |value| value.value());
        drop((table, counters));
        Ok(Self {
            path: path.to_owned(),
            database: std::sync::Arc::new(database),
            max_bytes,
            next_key,
            bytes,
            len,
            dropped,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Messages dropped for room, ever (kept across restarts).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Appends `messages` in one commit (one fsync), dropping the oldest
    /// when the bound is passed. Returns how many were dropped now.
    pub fn push(&mut self, messages: &[Queued]) -> Result<u64, String> {
        if messages.is_empty() {
            return Ok(0);
        }
        let write = self.database.begin_write().map_err(text)?;
        let mut dropped_now = 0;
        let mut bytes = self.bytes;
        let mut len = self.len;
        let mut next_key = self.next_key;
        {
            let mut table = write.open_table(QUEUE).map_err(text)?;
            for message in messages {
                let encoded = postcard::to_allocvec(message).map_err(text)?;
                table.insert(next_key, encoded.as_slice()).map_err(text)?;
                next_key += 1;
                bytes += message.size();
                len += 1;
            }
            while bytes > self.max_bytes && len > 1 {
                let Some((key, value)) = table.pop_first().map_err(text)? else {
                    break;
                };
                let _ = key;
                bytes -= decode(value.value())?.size();
                len -= 1;
                dropped_now += 1;
            }
            if dropped_now > 0 {
                let mut counters = write.open_table(COUNTERS).map_err(text)?;
                counters
                    .insert("dropped", self.dropped + dropped_now)
                    .map_err(text)?;
            }
        }
        write.commit().map_err(text)?;
        self.bytes = bytes;
        self.len = len;
        self.next_key = next_key;
        self.dropped += dropped_now;
        Ok(dropped_now)
    }

    /// A reader that does not wait for a commit in progress (the queue's
    /// writes are taken in turn, its reads are not).
    pub fn reader(&self) -> Reader {
        Reader(self.database.clone())
    }

    /// Up to `limit` messages with keys after `after` (all when `None`), in order.
    pub fn peek(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Queued)>, String> {
        self.reader().peek(after, limit)
    }

    /// Removes delivered messages, in one commit. Keys already gone (dropped
    /// for room meanwhile) are skipped.
    ///
    /// Not synced to disk by itself (the next [`Queue::push`] syncs it): a
    /// crash may bring back a few delivered messages, which are then sent
    /// again (at least once), never lose one, and spares an fsync per
    /// acknowledgement burst.
    pub fn remove(&mut self, keys: &[u64]) -> Result<(), String> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut write = self.database.begin_write().map_err(text)?;
        write.set_durability(redb::Durability::None).map_err(text)?;
        let mut bytes = self.bytes;
        let mut len = self.len;
        {
            let mut table = write.open_table(QUEUE).map_err(text)?;
            for key in keys {
                if let Some(value) = table.remove(*key).map_err(text)? {
                    bytes -= decode(value.value())?.size();
                    len -= 1;
                }
            }
        }
        write.commit().map_err(text)?;
        self.bytes = bytes;
        self.len = len;
        Ok(())
    }
}

/// Reads the queue beside its writer.
#[derive(Clone)]
pub struct Reader(std::sync::Arc<redb::Database>);

impl Reader {
    /// Up to `limit` messages with keys after `after` (all when `None`), in order.
    pub fn peek(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Queued)>, String> {
        let read = self.0.begin_read().map_err(text)?;
        let table = read.open_table(QUEUE).map_err(text)?;
        let start = after.map_or(0, |key| key + 1);
        let mut out = Vec::new();
        for entry in table.range(start..).map_err(text)?.take(limit) {
            let (key, value) = entry.map_err(text)?;
            out.push((key.value(), decode(value.value())?));
        }
        Ok(out)
    }
}

fn decode(bytes: &[u8]) -> Result<Queued, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("a queued message does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u32) -> Queued {
        Queued {
            topic: format!("t/{n}"),
            payload: vec![0; 10],
            qos: 1,
            retain: false,
        }
    }

    #[test]
    fn messages_come_out_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.redb");
        let mut queue = Queue::open(&path, 1 << 20).unwrap();
        queue.push(&[message(1), message(2), message(3)]).unwrap();
        let first = queue.peek(None, 2).unwrap();
        assert_eq!(
            first
                .iter()
                .map(|(_, m)| m.topic.as_str())
                .collect::<Vec<_>>(),
            ["t/1", "t/2"]
        );
        queue.remove(&[first[0].0]).unwrap();
        drop(queue);
        let queue = Queue::open(&path, 1 << 20).unwrap();
        assert_eq!(queue.len(), 2);
        let rest = queue.peek(None, 10).unwrap();
        assert_eq!(
            rest.iter()
                .map(|(_, m)| m.topic.as_str())
                .collect::<Vec<_>>(),
            ["t/2", "t/3"]
        );
        // Keys keep growing after a reopen: nothing new sorts before the old.
        assert!(queue.peek(Some(rest[1].0), 10).unwrap().is_empty());
    }

    #[test]
    fn past_the_bound_the_oldest_are_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.redb");
        // Each message is 13 bytes: room for 3.
        let mut queue = Queue::open(&path, 40).unwrap();
        let dropped = queue
            .push(&(1..=5).map(message).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(dropped, 2);
        assert_eq!(queue.dropped(), 2);
        let left = queue.peek(None, 10).unwrap();
        assert_eq!(
            left.iter()
                .map(|(_, m)| m.topic.as_str())
                .collect::<Vec<_>>(),
            ["t/3", "t/4", "t/5"]
        );
        drop(queue);
        assert_eq!(Queue::open(&path, 40).unwrap().dropped(), 2);
    }
}
