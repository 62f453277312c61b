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

use std::collections::BTreeMap;
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
    /// The store is full: forwarded, not kept.
    Refused,
}

pub struct RetainedStore {
    messages: BTreeMap<ByteString, Rc<Message>>,
    max: usize,
    refused_logged: bool,
}

impl RetainedStore {
    pub fn new(max: usize) -> Self {
        Self {
            messages: BTreeMap::new(),
            max,
            refused_logged: false,
        }
    }

    /// Keeps `message` as its topic's retained message; an empty payload
    /// removes it instead (MQTT-3.3.1-10, -11).
    pub fn store(&mut self, message: Rc<Message>) -> Outcome {
        if message.payload.is_empty() {
            self.messages.remove(&message.topic);
            return Outcome::Removed;
        }
        if self.messages.len() >= self.max && !self.messages.contains_key(&message.topic) {
            if !self.refused_logged {
                tracing::warn!(
                    max = self.max,
                    topic = %crate::names::printable(&message.topic),
                    "retained messages full: new retained topics are forwarded but not kept"
                );
                self.refused_logged = true;
            }
            return Outcome::Refused;
        }
        self.messages.insert(message.topic.clone(), message);
        Outcome::Kept
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
                Some(message) if message.is_expired(now) => {
                    self.messages.remove(filter);
                    Vec::new()
                }
                Some(message) => vec![message.clone()],
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
        for (looked, (topic, message)) in self
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
            if message.is_expired(now) {
                expired.push(topic.clone());
            } else if crate::topic::matches(filter, topic) {
                found.push(message.clone());
            }
        }
        // Go on after the last topic looked at.
        let resume = if more {
            last_looked.cloned().or_else(|| after.map(ByteString::from))
        } else {
            None
        };
        for topic in expired {
            self.messages.remove(&topic);
        }
        (found, resume)
    }

    /// The unexpired retained messages whose topics `filter` matches (all
    /// of them at once: for tests and small sets).
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
        let mut store = RetainedStore::new(10);
        store.store(retained("a/b", "1"));
        store.store(retained("a/b", "2"));
        store.store(retained("a/c", "3"));
        let found = store.matching("a/+", now);
        assert_eq!(topics(found.clone()), ["a/b", "a/c"]);
        assert_eq!(&found[0].payload[..], b"2");
        store.store(retained("a/b", ""));
        assert_eq!(topics(store.matching("#", now)), ["a/c"]);
    }

    #[test]
    fn dollar_topics_and_expiry_follow_the_spec() {
        let now = Instant::now();
        let mut store = RetainedStore::new(10);
        store.store(retained("$SYS/x", "1"));
        let mut expiring = (*retained("e", "1")).clone();
        expiring.expires_at = Some(now + Duration::from_secs(1));
        store.store(Rc::new(expiring));
        assert_eq!(topics(store.matching("#", now)), ["e"]);
        assert_eq!(topics(store.matching("$SYS/#", now)), ["$SYS/x"]);
        assert!(store.matching("e", now + Duration::from_secs(2)).is_empty());
        assert_eq!(store.len(), 1, "the expired one is gone");
    }

    #[test]
    fn a_scan_goes_on_where_it_stopped_and_stays_within_its_prefix() {
        let now = Instant::now();
        let mut store = RetainedStore::new(100);
        for topic in ["a/1", "a/2", "a/3", "a/4", "a/5", "b/1", "a"] {
            store.store(retained(topic, "x"));
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
    fn the_count_is_bounded_but_updates_still_land() {
        let now = Instant::now();
        let mut store = RetainedStore::new(2);
        store.store(retained("a", "1"));
        store.store(retained("b", "1"));
        store.store(retained("c", "1"));
        store.store(retained("a", "2"));
        assert_eq!(topics(store.matching("#", now)), ["a", "b"]);
        assert_eq!(&store.matching("a", now)[0].payload[..], b"2");
    }
}
