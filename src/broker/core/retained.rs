//! Retained messages: the last retained message of each topic, handed to new
//! subscribers.
//!
//! A map from topic to message. A new subscription scans it with
//! [`crate::topic::matches`], a loop over levels, so a topic of any depth costs
//! time in proportion to its length and never stack. Subscriptions are rare
//! next to publishes, so the scan stays off the message path; the count is
//! bounded so that the scan is too.

use std::collections::HashMap;
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
    messages: HashMap<ByteString, Rc<Message>>,
    max: usize,
    refused_logged: bool,
}

impl RetainedStore {
    pub fn new(max: usize) -> Self {
        Self {
            messages: HashMap::new(),
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

    /// The unexpired retained messages whose topics `filter` matches; expired
    /// ones are removed on the way (MQTT-3.3.2-5).
    pub fn matching(&mut self, filter: &str, now: Instant) -> Vec<Rc<Message>> {
        let mut expired = Vec::new();
        let mut found = Vec::new();
        for (topic, message) in &self.messages {
            if message.is_expired(now) {
                expired.push(topic.clone());
            } else if crate::topic::matches(filter, topic) {
                found.push(message.clone());
            }
        }
        for topic in expired {
            self.messages.remove(&topic);
        }
        found.sort_by(|a, b| a.topic.cmp(&b.topic));
        found
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
