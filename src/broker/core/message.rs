//! What travels through the broker: an application message as published, and
//! one delivery of it to one session.

use std::num::NonZeroU16;
use std::rc::Rc;
use std::time::Instant;

use ntex_bytes::{ByteString, Bytes};

/// MQTT quality of service, as a number so that `min` picks the granted one.
pub type Qos = u8;

/// The MQTT 5 properties a broker forwards unchanged (MQTT-3.3.2-16..20).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub utf8_payload: bool,
    pub content_type: Option<ByteString>,
    pub response_topic: Option<ByteString>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(ByteString, ByteString)>,
}

impl Properties {
    pub fn is_empty(&self) -> bool {
        *self == Properties::default()
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: Qos,
    pub retain: bool,
    /// `None` for messages from MQTT 3 clients and for v5 ones without any.
    pub properties: Option<Rc<Properties>>,
    /// From the v5 Message Expiry Interval; `None` never expires.
    pub expires_at: Option<Instant>,
    /// The publishing client, for the v5 No Local option.
    pub publisher: Option<Rc<str>>,
}

impl Message {
    /// Seconds left until expiry, rounded up, for the forwarded Message Expiry
    /// Interval (MQTT-3.3.2-6); `Some(0)` means expired.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        let deadline = self.expires_at?;
        let left = deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Some(0);
        }
        let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Some(seconds.min(u64::from(u32::MAX)) as u32)
    }

    pub fn is_expired(&self, now: Instant) -> bool {
        self.remaining_expiry(now) == Some(0)
    }
}

/// One message on its way to one session.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: Rc<Message>,
    /// The granted QoS: the lower of the message's and the subscription's.
    pub qos: Qos,
    /// The RETAIN flag as sent: set for retained messages sent because of a
    /// new subscription, and kept on others only with Retain As Published.
    pub retain: bool,
    pub subscription_ids: Vec<u32>,
    /// Assigned when first sent with QoS 1 or 2, kept for redelivery (MQTT-4.4.0-1).
    pub packet_id: Option<NonZeroU16>,
    pub dup: bool,
    /// QoS 2: the client sent PUBREC, so what is owed is PUBREL, not the
    /// PUBLISH (MQTT-4.3.3-3, and on reconnect MQTT-4.4.0-1).
    pub received: bool,
    /// Its key in the store, when it is kept there (owed to a persistent
    /// session at QoS 1 or 2).
    pub stored: Option<u64>,
}

impl Delivery {
    /// What it counts against a queue's bytes.
    pub fn size(&self) -> usize {
        self.message.topic.len() + self.message.payload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn message(expires_in: Option<Duration>, now: Instant) -> Message {
        Message {
            topic: "t".into(),
            payload: Bytes::new(),
            qos: 0,
            retain: false,
            properties: None,
            expires_at: expires_in.map(|after| now + after),
            publisher: None,
        }
    }

    #[test]
    fn expiry_counts_down_in_whole_seconds() {
        let now = Instant::now();
        assert_eq!(message(None, now).remaining_expiry(now), None);
        assert!(!message(None, now).is_expired(now + Duration::from_secs(1_000_000)));
        let expiring = message(Some(Duration::from_secs(10)), now);
        assert_eq!(expiring.remaining_expiry(now), Some(10));
        assert_eq!(
            expiring.remaining_expiry(now + Duration::from_millis(2_500)),
            Some(8)
        );
        assert!(expiring.is_expired(now + Duration::from_secs(10)));
    }
}
