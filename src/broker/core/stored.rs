//! The core's messages and sessions as the store's records, and back.
//!
//! Instants do not survive a restart: a message's expiry is stored as wall
//! time and turned back into an instant when read.

use std::rc::Rc;
use std::time::{Duration, Instant};

use ntex_bytes::{ByteString, Bytes};

use super::message::{Delivery, Message, Properties};
use super::SubscriptionOptions;
use crate::broker::persist::records::{
    StoredDelivery, StoredMessage, StoredProperties, StoredSubscription,
};

/// Milliseconds since the Unix epoch, now.
pub fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn stored_message(message: &Message, now: Instant) -> StoredMessage {
    StoredMessage {
        topic: message.topic.to_string(),
        payload: message.payload.to_vec(),
        qos: message.qos,
        retain: message.retain,
        properties: message.properties.as_deref().map(|p| StoredProperties {
            utf8_payload: p.utf8_payload,
            content_type: p.content_type.as_ref().map(ToString::to_string),
            response_topic: p.response_topic.as_ref().map(ToString::to_string),
            correlation_data: p.correlation_data.as_ref().map(|data| data.to_vec()),
            user_properties: p
                .user_properties
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        }),
        expires_at_ms: message.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            wall_ms().saturating_add(i64::try_from(left.as_millis()).unwrap_or(i64::MAX))
        }),
        publisher: message.publisher.as_deref().map(str::to_owned),
    }
}

pub fn message_of(stored: StoredMessage, now: Instant, wall_now: i64) -> Message {
    Message {
        topic: ByteString::from(stored.topic),
        payload: Bytes::from(stored.payload),
        qos: stored.qos,
        retain: stored.retain,
        properties: stored.properties.map(|p| {
            Rc::new(Properties {
                utf8_payload: p.utf8_payload,
                content_type: p.content_type.map(ByteString::from),
                response_topic: p.response_topic.map(ByteString::from),
                correlation_data: p.correlation_data.map(Bytes::from),
                user_properties: p
                    .user_properties
                    .into_iter()
                    .map(|(key, value)| (ByteString::from(key), ByteString::from(value)))
                    .collect(),
            })
        }),
        expires_at: stored.expires_at_ms.map(|at| {
            let left = u64::try_from(at.saturating_sub(wall_now)).unwrap_or(0);
            now + Duration::from_millis(left)
        }),
        publisher: stored.publisher.map(Rc::from),
    }
}

pub fn stored_delivery(delivery: &Delivery, now: Instant) -> StoredDelivery {
    StoredDelivery {
        message: stored_message(&delivery.message, now),
        qos: delivery.qos,
        retain: delivery.retain,
        subscription_ids: delivery.subscription_ids.clone(),
        packet_id: delivery.packet_id.map(|id| id.get()),
        received: delivery.received,
    }
}

/// A stored delivery as the core's; `message` is its message, shared by
/// every session it went to (see [`Interned`]).
pub fn delivery_of(stored: StoredDelivery, message: Rc<Message>, key: u64) -> Delivery {
    let packet_id = stored.packet_id.and_then(std::num::NonZeroU16::new);
    Delivery {
        message,
        qos: stored.qos,
        retain: stored.retain,
        subscription_ids: stored.subscription_ids,
        packet_id,
        // A delivery with its packet id kept was sent before the restart.
        dup: packet_id.is_some(),
        received: stored.received,
        stored: Some(key),
    }
}

/// Messages read back from the store, one of each: a message that went to a
/// hundred sessions is stored a hundred times, and comes back once.
#[derive(Default)]
pub struct Interned(std::collections::HashMap<StoredMessage, Rc<Message>>);

impl Interned {
    pub fn message(&mut self, stored: &StoredMessage, now: Instant, wall_now: i64) -> Rc<Message> {
        if let Some(message) = self.0.get(stored) {
            return message.clone();
        }
        let message = Rc::new(message_of(stored.clone(), now, wall_now));
        self.0.insert(stored.clone(), message.clone());
        message
    }
}

pub fn stored_subscription(requested: &str, options: &SubscriptionOptions) -> StoredSubscription {
    StoredSubscription {
        requested: requested.to_owned(),
        qos: options.qos,
        no_local: options.no_local,
        retain_as_published: options.retain_as_published,
        retain_handling: options.retain_handling,
        subscription_id: options.subscription_id,
    }
}

pub fn options_of(stored: &StoredSubscription) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: stored.qos.min(2),
        no_local: stored.no_local,
        retain_as_published: stored.retain_as_published,
        retain_handling: stored.retain_handling,
        subscription_id: stored.subscription_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_comes_back_as_it_went_with_its_expiry_counted_down() {
        let now = Instant::now();
        let message = Message {
            topic: "a/b".into(),
            payload: Bytes::from_static(b"payload"),
            qos: 2,
            retain: true,
            properties: Some(Rc::new(Properties {
                utf8_payload: true,
                content_type: Some("text/plain".into()),
                response_topic: Some("r".into()),
                correlation_data: Some(Bytes::from_static(b"c")),
                user_properties: vec![("k".into(), "v".into())],
            })),
            expires_at: Some(now + Duration::from_secs(100)),
            publisher: Some("p".into()),
        };
        let stored = stored_message(&message, now);
        // Read back 40 s later (wall time moved on as much).
        let later = now + Duration::from_secs(40);
        let back = message_of(stored, later, wall_ms() + 40_000);
        assert_eq!(back.topic, message.topic);
        assert_eq!(back.payload, message.payload);
        assert_eq!(back.properties, message.properties);
        assert_eq!(back.publisher, message.publisher);
        let left = back.remaining_expiry(later).unwrap();
        assert!((59..=61).contains(&left), "about 60 s left: {left}");
    }
}
