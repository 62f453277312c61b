//! What the store keeps, as records: plain data with serde, written with
//! postcard (compact, and a field added at the end of a record later reads
//! old records as long as it is optional). The broker core converts its
//! own types to and from these; the store knows nothing else of them.

use serde::{Deserialize, Serialize};

/// An application message as stored: retained, or queued for a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub properties: Option<StoredProperties>,
    /// Wall-clock expiry, milliseconds since the Unix epoch; `None` never
    /// expires.
    pub expires_at_ms: Option<i64>,
    pub publisher: Option<String>,
}

/// A retained message and the user it is charged to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRetained {
    pub message: StoredMessage,
    pub owner: Option<String>,
}

/// [`StoredRetained`] as written, borrowing its message.
#[derive(Debug, Serialize)]
pub struct RetainedRecord<'a> {
    pub message: &'a StoredMessage,
    pub owner: Option<&'a str>,
}

/// The MQTT 5 properties forwarded with a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredProperties {
    pub utf8_payload: bool,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub user_properties: Vec<(String, String)>,
}

/// One message owed to one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDelivery {
    pub message: StoredMessage,
    pub qos: u8,
    pub retain: bool,
    pub subscription_ids: Vec<u32>,
    /// Kept once a QoS 2 delivery was sent: it goes again with the same id.
    pub packet_id: Option<u16>,
    /// QoS 2: the client sent PUBREC; PUBREL is what is owed.
    pub received: bool,
}

/// A [`StoredDelivery`] as written, borrowing its message (converted once
/// for all the sessions it goes to); the same bytes.
#[derive(Debug, Serialize)]
pub struct DeliveryRecord<'a> {
    pub message: &'a StoredMessage,
    pub qos: u8,
    pub retain: bool,
    pub subscription_ids: &'a [u32],
    pub packet_id: Option<u16>,
    pub received: bool,
}

/// A persistent session, without its messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    pub username: String,
    /// Seconds the session outlives its connection; `u32::MAX` forever.
    pub expiry: u32,
    /// When its connection ended (ms since the epoch), for the expiry after
    /// a restart; `None` while connected.
    pub offline_since_ms: Option<i64>,
    pub subscriptions: Vec<StoredSubscription>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSubscription {
    /// The filter as requested (`$share/GROUP/FILTER` for a shared one).
    pub requested: String,
    pub qos: u8,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
    pub subscription_id: Option<u32>,
}

pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    postcard::to_stdvec(record).expect("records are plain data and always encode")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let delivery = StoredDelivery {
            message: StoredMessage {
                topic: "a/b".into(),
                payload: vec![0, 1, 2, 255],
                qos: 2,
                retain: true,
                properties: Some(StoredProperties {
                    utf8_payload: true,
                    content_type: Some("text/plain".into()),
                    response_topic: None,
                    correlation_data: Some(vec![9]),
                    user_properties: vec![("k".into(), "v".into())],
                }),
                expires_at_ms: Some(1_800_000_000_000),
                publisher: Some("p".into()),
            },
            qos: 1,
            retain: false,
            subscription_ids: vec![7],
            packet_id: Some(3),
            received: true,
        };
        let bytes = encode(&delivery);
        assert_eq!(decode::<StoredDelivery>(&bytes).unwrap(), delivery);
        let borrowed = DeliveryRecord {
            message: &delivery.message,
            qos: delivery.qos,
            retain: delivery.retain,
            subscription_ids: &delivery.subscription_ids,
            packet_id: delivery.packet_id,
            received: delivery.received,
        };
        assert_eq!(
            encode(&borrowed),
            bytes,
            "the borrowed record writes the same bytes"
        );
        let session = StoredSession {
            username: "alice".into(),
            expiry: u32::MAX,
            offline_since_ms: None,
            subscriptions: vec![StoredSubscription {
                requested: "$share/g/x/#".into(),
                qos: 1,
                no_local: true,
                retain_as_published: false,
                retain_handling: 2,
                subscription_id: None,
            }],
        };
        assert_eq!(decode::<StoredSession>(&encode(&session)).unwrap(), session);
        assert!(
            decode::<StoredSession>(&[0xFF, 0xFF]).is_err(),
            "garbage is an error"
        );
    }
}
