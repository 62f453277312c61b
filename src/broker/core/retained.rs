//! Retained messages: the last retained message of each topic, handed to new
//! subscribers.
//!
//! A map from topic to message, in topic order. A new subscription does not
//! take its retained messages in one piece (100,000 of them would hold the
//! network thread for as long as it takes): its session scans the map a
//! slice at a time as its socket takes them ([`RetainedStore::scan`], which
//! goes on after the last topic it gave), starting at the filter's literal
//! prefix and stopping past it. Topics are matched with
//! [`crate::topic::matches`], a loop over levels, so a topic of any depth
//! costs time in proportion to its length and never stack.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::rc::Rc;
use std::time::Instant;

use ntex_bytes::ByteString;

use super::message::Message;

/// What became of a retained message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Kept,
    /// An empty payload removed its topic's message.
    Removed,
}

/// Why a retained message cannot be kept: the publish is refused whole
/// (never acknowledged as kept and then dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// Its user's retained messages or bytes.
    UserQuota,
    /// The broker's ceiling for all retained messages.
    Ceiling,
}

/// What one user's retained messages take.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub count: u64,
    pub bytes: u64,
}

struct Kept {
    message: Rc<Message>,
    /// The user whose publish keeps it, who is charged for it.
    owner: Option<Rc<str>>,
}

fn size_of(message: &Message) -> u64 {
    (message.topic.len() + message.payload.len()) as u64
}

pub struct RetainedStore {
    messages: BTreeMap<ByteString, Kept>,
    usage: HashMap<Rc<str>, Usage>,
    total_bytes: u64,
    max: usize,
    max_bytes: u64,
}

impl RetainedStore {
    pub fn new(max: usize, max_bytes: u64) -> Self {
        Self {
            messages: BTreeMap::new(),
            usage: HashMap::new(),
            total_bytes: 0,
            max,
            max_bytes,
        }
    }

    /// Whether `message`, published by `owner` with those quotas (count,
    /// bytes), may be kept, replacing the topic's message.
    pub fn admits(
        &self,
        message: &Message,
        owner: Option<&Rc<str>>,
        quota: Option<Usage>,
    ) -> Result<(), OverLimit> {
        if message.payload.is_empty() {
            return Ok(());
        }
        let size = size_of(message);
        let old = self.messages.get(&message.topic);
        let old_size = old.map_or(0, |kept| size_of(&kept.message));
        if (old.is_none() && self.messages.len() >= self.max)
            || self.total_bytes - old_size + size > self.max_bytes
        {
            return Err(OverLimit::Ceiling);
        }
        if let (Some(owner), Some(quota)) = (owner, quota) {
            let same = old.is_some_and(|kept| kept.owner.as_ref() == Some(owner));
            let usage = self.usage.get(owner).copied().unwrap_or_default();
            let count = usage.count + u64::from(!same);
            let bytes = usage.bytes + size - if same { old_size } else { 0 };
            if count > quota.count || bytes > quota.bytes {
                return Err(OverLimit::UserQuota);
            }
        }
        Ok(())
    }

    /// Keeps `message` as its topic's retained message, charged to `owner`;
    /// an empty payload removes it instead (MQTT-3.3.1-10, -11). Check
    /// [`RetainedStore::admits`] first.
    pub fn store(&mut self, message: Rc<Message>, owner: Option<Rc<str>>) -> Outcome {
        self.remove(&message.topic);
        if message.payload.is_empty() {
            return Outcome::Removed;
        }
        let size = size_of(&message);
        self.total_bytes += size;
        if let Some(owner) = &owner {
            let usage = self.usage.entry(owner.clone()).or_default();
            usage.count += 1;
            usage.bytes += size;
        }
        self.messages
            .insert(message.topic.clone(), Kept { message, owner });
        Outcome::Kept
    }

    fn remove(&mut self, topic: &str) {
        let Some(kept) = self.messages.remove(topic) else {
            return;
        };
        let size = size_of(&kept.message);
        self.total_bytes -= size;
        if let Some(owner) = kept.owner {
            if let Some(usage) = self.usage.get_mut(&owner) {
                usage.count -= 1;
                usage.bytes -= size;
                if usage.count == 0 {
                    self.usage.remove(&owner);
                }
            }
        }
    }

    /// What `owner`'s retained messages take now.
    pub fn usage(&self, owner: &str) -> Usage {
        self.usage.get(owner).copied().unwrap_or_default()
    }

    /// Up to `max_found` unexpired retained messages whose topics `filter`
    /// matches, in topic order, after the topic `after`; at most
    /// `max_looked` topics are looked at. Returns them, and the topic to go
    /// on after (`None`: there are no more). Expired messages are removed on
    /// the way (MQTT-3.3.2-5).
    pub fn scan(
        &mut self,
        filter: &str,
        after: Option<&str>,
        max_found: usize,
        max_looked: usize,
        now: Instant,
    ) -> (Vec<Rc<Message>>, Option<ByteString>) {
        let Some(wildcard) = filter.find(['+', '#']) else {
            // No wildcard: one topic at most.
            let found = match self.messages.get(filter) {
                Some(kept) if kept.message.is_expired(now) => {
                    self.remove(filter);
                    Vec::new()
                }
                Some(kept) => vec![kept.message.clone()],
                None => Vec::new(),
            };
            return (found, None);
        };
        // Topics that can match start with the filter's literal part; `a/#`
        // matches `a` itself too (MQTT-4.7.1-2).
        let mut literal = &filter[..wildcard];
        if filter[wildcard..].starts_with('#') {
            literal = literal.strip_suffix('/').unwrap_or(literal);
        }
        let start = match after {
            Some(after) if after >= literal => Bound::Excluded(after),
            _ => Bound::Included(literal),
        };
        let mut found = Vec::new();
        let mut expired = Vec::new();
        let mut last_looked: Option<&ByteString> = None;
        let mut more = false;
        for (looked, (topic, kept)) in self
            .messages
            .range::<str, _>((start, Bound::Unbounded))
            .enumerate()
        {
            if !topic.starts_with(literal) {
                break;
            }
            if looked == max_looked || found.len() == max_found {
                more = true;
                break;
            }
            last_looked = Some(topic);
            if kept.message.is_expired(now) {
                expired.push(topic.clone());
            } else if crate::topic::matches(filter, topic) {
                found.push(kept.message.clone());
            }
        }
        // Go on after the last topic looked at.
        let resume = if more {
            last_looked.cloned().or_else(|| after.map(ByteString::from))
        } else {
            None
        };
        for topic in expired {
            self.remove(&topic);
        }
        (found, resume)
    }

    /// The unexpired retained messages whose topics `filter` matches, all
    /// at once (the tests' view of a scan).
    #[cfg(test)]
    pub fn matching(&mut self, filter: &str, now: Instant) -> Vec<Rc<Message>> {
        let mut all = Vec::new();
        let mut after: Option<ByteString> = None;
        loop {
            let (found, next) = self.scan(filter, after.as_deref(), usize::MAX, usize::MAX, now);
            all.extend(found);
            match next {
                Some(next) => after = Some(next),
                None => return all,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Topic and payload bytes of every retained message.
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntex_bytes::Bytes;
    use std::time::Duration;

    fn retained(topic: &str, payload: &'static str) -> Rc<Message> {
        Rc::new(Message {
            topic: topic.into(),
            payload: Bytes::from_static(payload.as_bytes()),
            qos: 1,
            retain: true,
            properties: None,
            expires_at: None,
            publisher: None,
        })
    }

    fn topics(found: Vec<Rc<Message>>) -> Vec<String> {
        found.iter().map(|m| m.topic.to_string()).collect()
    }

    #[test]
    fn the_last_message_per_topic_is_kept_and_empty_deletes() {
        let now = Instant::now();
        let mut store = RetainedStore::new(10, u64::MAX);
        store.store(retained("a/b", "1"), None);
        store.store(retained("a/b", "2"), None);
        store.store(retained("a/c", "3"), None);
        let found = store.matching("a/+", now);
        assert_eq!(topics(found.clone()), ["a/b", "a/c"]);
        assert_eq!(&found[0].payload[..], b"2");
        store.store(retained("a/b", ""), None);
        assert_eq!(topics(store.matching("#", now)), ["a/c"]);
    }

    #[test]
    fn dollar_topics_and_expiry_follow_the_spec() {
        let now = Instant::now();
        let mut store = RetainedStore::new(10, u64::MAX);
        store.store(retained("$SYS/x", "1"), None);
        let mut expiring = (*retained("e", "1")).clone();
        expiring.expires_at = Some(now + Duration::from_secs(1));
        store.store(Rc::new(expiring), None);
        assert_eq!(topics(store.matching("#", now)), ["e"]);
        assert_eq!(topics(store.matching("$SYS/#", now)), ["$SYS/x"]);
        assert!(store.matching("e", now + Duration::from_secs(2)).is_empty());
        assert_eq!(store.len(), 1, "the expired one is gone");
    }

    #[test]
    fn a_scan_goes_on_where_it_stopped_and_stays_within_its_prefix() {
        let now = Instant::now();
        let mut store = RetainedStore::new(100, u64::MAX);
        for topic in ["a/1", "a/2", "a/3", "a/4", "a/5", "b/1", "a"] {
            store.store(retained(topic, "x"), None);
        }
        let mut seen = Vec::new();
        let mut after: Option<ByteString> = None;
        let mut calls = 0;
        loop {
            calls += 1;
            let (found, next) = store.scan("a/#", after.as_deref(), 2, 10, now);
            seen.extend(topics(found));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen,
            ["a", "a/1", "a/2", "a/3", "a/4", "a/5"],
            "a/# matches a too"
        );
        assert_eq!(calls, 3, "two at a time");
        // Looking at one topic per call still gets through, once each.
        let mut seen = Vec::new();
        let mut after: Option<ByteString> = None;
        loop {
            let (found, next) = store.scan("+/1", after.as_deref(), 10, 1, now);
            seen.extend(topics(found));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["a/1", "b/1"]);
        assert_eq!(
            topics(store.scan("b/1", None, 10, 10, now).0),
            ["b/1"],
            "no wildcard"
        );
    }

    #[test]
    fn the_ceiling_and_each_users_quota_refuse_new_retained_messages() {
        let now = Instant::now();
        let mut store = RetainedStore::new(3, 1_000);
        let (alice, bob): (Rc<str>, Rc<str>) = ("alice".into(), "bob".into());
        let quota = Some(Usage {
            count: 2,
            bytes: 100,
        });
        for topic in ["a", "b"] {
            assert_eq!(
                store.admits(&retained(topic, "1"), Some(&alice), quota),
                Ok(())
            );
            store.store(retained(topic, "1"), Some(alice.clone()));
        }
        assert_eq!(store.usage("alice"), Usage { count: 2, bytes: 4 });
        assert_eq!(
            store.admits(&retained("c", "1"), Some(&alice), quota),
            Err(OverLimit::UserQuota),
            "alice's third"
        );
        assert_eq!(
            store.admits(&retained("a", "2"), Some(&alice), quota),
            Ok(()),
            "an update of her own"
        );
        assert_eq!(
            store.admits(&retained("c", "1"), Some(&bob), quota),
            Ok(()),
            "bob is not alice"
        );
        store.store(retained("c", "1"), Some(bob.clone()));
        assert_eq!(
            store.admits(&retained("d", "1"), Some(&bob), quota),
            Err(OverLimit::Ceiling),
            "three topics at most in all"
        );
        // Bob taking over alice's topic moves the charge.
        store.store(retained("a", "3"), Some(bob.clone()));
        assert_eq!(store.usage("alice").count, 1);
        assert_eq!(store.usage("bob").count, 2);
        store.store(retained("a", ""), Some(bob.clone()));
        assert_eq!(store.usage("bob").count, 1, "removed: no longer charged");
        assert_eq!(topics(store.matching("#", now)), ["b", "c"]);
        let big = retained(
            "e",
            std::str::from_utf8(&[b'x'; 999]).unwrap().to_owned().leak(),
        );
        assert_eq!(
            store.admits(&big, None, None),
            Err(OverLimit::Ceiling),
            "bytes too"
        );
    }
}
