//! Repeated refusals, counted instead of written.
//!
//! A device retrying a refused login in a loop would otherwise write a log
//! line and an audit line per attempt: gigabytes an hour. The first refusal
//! of a (username, address, reason) is written as it happens; repeats within
//! the window are only counted, and when the window ends one line says how
//! many there were. A new username, address or reason is always written.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long repeats are gathered into one line.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Keys tracked at most; past it, refusals are written one by one again
/// (distinct refusals are never lost, only not merged).
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub username: String,
    pub peer: Option<IpAddr>,
    pub reason: String,
}

#[derive(Debug)]
struct Gathered {
    since: Instant,
    repeats: u64,
}

impl Gathered {
    /// The line its window ends with at `now`, if it gathered any repeats.
    fn summary(&self, key: Key, now: Instant) -> Option<Summary> {
        (self.repeats > 0).then(|| Summary {
            key,
            repeats: self.repeats,
            over: now.saturating_duration_since(self.since),
        })
    }
}

/// Repeats whose window ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub key: Key,
    pub repeats: u64,
    pub over: Duration,
}

#[derive(Debug, Default)]
pub struct Repeats {
    gathered: Mutex<HashMap<Key, Gathered>>,
    /// Windows that ended when a new refusal of their key came, before the
    /// summariser looked: their counts wait here.
    ended: Mutex<Vec<Summary>>,
}

impl Repeats {
    /// Notes a refusal; true when it is to be written (the first of its kind
    /// in the window), false when it was only counted.
    pub fn note(&self, key: Key, now: Instant) -> bool {
        let mut gathered = self.gathered.lock().unwrap();
        if let Some(entry) = gathered.get_mut(&key) {
            if now.saturating_duration_since(entry.since) < WINDOW {
                entry.repeats += 1;
                return false;
            }
            if let Some(summary) = entry.summary(key.clone(), now) {
                self.ended.lock().unwrap().push(summary);
            }
        }
        if gathered.len() < MAX_TRACKED || gathered.contains_key(&key) {
            gathered.insert(
                key,
                Gathered {
                    since: now,
                    repeats: 0,
                },
            );
        }
        true
    }

    /// Ends the windows that are over (all of them with `everything`, at a
    /// stop) and returns those that gathered repeats.
    pub fn take_due(&self, now: Instant, everything: bool) -> Vec<Summary> {
        let mut summaries = std::mem::take(&mut *self.ended.lock().unwrap());
        self.gathered.lock().unwrap().retain(|key, entry| {
            let due = everything || now.saturating_duration_since(entry.since) >= WINDOW;
            if due {
                summaries.extend(entry.summary(key.clone(), now));
            }
            !due
        });
        summaries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(username: &str, reason: &str) -> Key {
        Key {
            username: username.into(),
            peer: "192.0.2.1".parse().ok(),
            reason: reason.into(),
        }
    }

    #[test]
    fn the_first_refusal_is_written_and_repeats_are_counted_into_one_summary() {
        let repeats = Repeats::default();
        let start = Instant::now();
        assert!(repeats.note(key("dev1", "wrong password"), start));
        for step in 1..=1000 {
            let now = start + Duration::from_millis(step);
            assert!(!repeats.note(key("dev1", "wrong password"), now));
        }
        // Another reason, user or address is written at once.
        assert!(repeats.note(key("dev1", "registry locked"), start));
        assert!(repeats.note(key("dev2", "wrong password"), start));
        assert!(repeats
            .take_due(start + Duration::from_secs(59), false)
            .is_empty());
        let due = repeats.take_due(start + WINDOW, false);
        assert_eq!(due.len(), 1, "only the key that repeated: {due:?}");
        assert_eq!(
            (due[0].key.username.as_str(), due[0].repeats),
            ("dev1", 1000)
        );
        // After the window the next one is written again.
        assert!(repeats.note(key("dev1", "wrong password"), start + WINDOW));
    }

    #[test]
    fn a_window_ended_by_the_next_refusal_keeps_its_count() {
        let repeats = Repeats::default();
        let start = Instant::now();
        repeats.note(key("dev1", "x"), start);
        repeats.note(key("dev1", "x"), start + Duration::from_secs(1));
        repeats.note(key("dev1", "x"), start + Duration::from_secs(2));
        // The next refusal comes after the window, before the summariser.
        assert!(repeats.note(key("dev1", "x"), start + WINDOW + Duration::from_secs(1)));
        let due = repeats.take_due(start + WINDOW + Duration::from_secs(2), false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].repeats, 2);
    }

    #[test]
    fn a_stop_summarises_everything_gathered() {
        let repeats = Repeats::default();
        let now = Instant::now();
        repeats.note(key("dev1", "x"), now);
        repeats.note(key("dev1", "x"), now);
        let due = repeats.take_due(now, true);
        assert_eq!(due.len(), 1);
        assert!(repeats.take_due(now, true).is_empty());
    }
}
