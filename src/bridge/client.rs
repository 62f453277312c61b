//! One MQTT client, 3.1.1 or 5, as a bridge needs it: the two protocol
//! versions of rumqttc behind one small surface, so that the bridge's logic
//! is written once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5 as v5bytes;

/// The protocol spoken to a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// How to reach a broker.
#[derive(Clone)]
pub struct Options {
    pub version: Version,
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub credentials: Option<(String, String)>,
    pub keep_alive: Duration,
    /// A session kept by the broker across connections (clean session off;
    /// for MQTT 5, a day's session expiry).
    pub persistent: bool,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Packet ids the client cycles through (1 to this), and so the QoS 1/2
    /// messages it may have in flight at most.
    pub inflight: u16,
}

/// A received PUBLISH, with what acknowledging it takes.
pub struct Incoming {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    ack: Ack,
}

enum Ack {
    V311(rumqttc::Publish),
    V5(v5bytes::Publish),
}

/// What the connection did.
pub enum Event {
    Connected {
        session_present: bool,
        /// MQTT 5: the broker's Receive Maximum, which bounds the packet
        /// ids in flight.
        receive_maximum: Option<u16>,
    },
    /// The broker refused the connection (CONNACK with an error).
    Refused(String),
    Message(Box<Incoming>),
    /// A PUBLISH went out with this packet id (again, after a reconnect,
    /// for one not acknowledged).
    Sent(u16),
    /// The broker acknowledged the QoS 1 or 2 PUBLISH with this packet id
    /// (PUBACK or PUBCOMP); `refused` when an MQTT 5 broker said it did not
    /// take it (not authorized, quota).
    Acked {
        pkid: u16,
        refused: Option<String>,
    },
    Other,
}

#[derive(Clone)]
pub enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

pub enum Connection {
    V311(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

fn qos3(qos: u8) -> rumqttc::QoS {
    match qos {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(qos: u8) -> rumqttc::v5::mqttbytes::QoS {
    match qos {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// A client and its connection, which connects at its first poll and
/// reconnects at the poll after an error.
pub fn new(options: &Options) -> (Client, Connection) {
    let capacity = usize::from(options.inflight) * 2 + 64;
    match options.version {
        Version::V311 => {
            let mut mqtt =
                rumqttc::MqttOptions::new(&options.client_id, &options.host, options.port);
            mqtt.set_keep_alive(options.keep_alive)
                .set_clean_session(!options.persistent)
                .set_manual_acks(true)
                .set_inflight(options.inflight.max(1))
                .set_max_packet_size(256 * 1024 * 1024, 256 * 1024 * 1024)
                .set_request_channel_capacity(capacity);
            if let Some((user, password)) = &options.credentials {
                mqtt.set_credentials(user, password);
            }
            if let Some(tls) = &options.tls {
                mqtt.set_transport(rumqttc::Transport::tls_with_config(
                    rumqttc::TlsConfiguration::Rustls(tls.clone()),
                ));
            }
            let (client, connection) = rumqttc::AsyncClient::new(mqtt, capacity);
            (Client::V311(client), Connection::V311(Box::new(connection)))
        }
        Version::V5 => {
            let mut mqtt =
                rumqttc::v5::MqttOptions::new(&options.client_id, &options.host, options.port);
            mqtt.set_keep_alive(options.keep_alive)
                .set_clean_start(!options.persistent)
                .set_manual_acks(true)
                .set_outgoing_inflight_upper_limit(options.inflight.max(1))
                .set_request_channel_capacity(capacity);
            if options.persistent {
                mqtt.set_session_expiry_interval(Some(24 * 3600));
            }
            if let Some((user, password)) = &options.credentials {
                mqtt.set_credentials(user, password);
            }
            if let Some(tls) = &options.tls {
                mqtt.set_transport(rumqttc::Transport::tls_with_config(
                    rumqttc::TlsConfiguration::Rustls(tls.clone()),
                ));
            }
            let (client, connection) = rumqttc::v5::AsyncClient::new(mqtt, capacity);
            (Client::V5(client), Connection::V5(Box::new(connection)))
        }
    }
}

impl Incoming {
    /// A QoS 1 message as a 3.1.1 broker sends it, for tests.
    #[cfg(test)]
    pub fn for_test(topic: &str, packet_id: u16) -> Self {
        let mut publish = rumqttc::Publish::new(topic, rumqttc::QoS::AtLeastOnce, vec![]);
        publish.pkid = packet_id;
        Self {
            topic: topic.to_owned(),
            payload: Vec::new(),
            qos: 1,
            retain: false,
            ack: Ack::V311(publish),
        }
    }

    /// The packet id the broker sent it with (0 at QoS 0).
    pub fn packet_id(&self) -> u16 {
        match &self.ack {
            Ack::V311(publish) => publish.pkid,
            Ack::V5(publish) => publish.pkid,
        }
    }
}

impl Connection {
    /// The next event; an error is a lost (or failed) connection.
    pub async fn poll(&mut self) -> Result<Event, String> {
        match self {
            Connection::V311(connection) => {
                use rumqttc::{Event as E, Outgoing, Packet};
                match connection.poll().await {
                    Ok(E::Incoming(Packet::ConnAck(ack))) => {
                        if ack.code == rumqttc::ConnectReturnCode::Success {
                            resend_in_sending_order(
                                &mut connection.pending,
                                |request| match request {
                                    rumqttc::Request::Publish(p) if p.pkid != 0 => Some(p.pkid),
                                    rumqttc::Request::PubRel(r) => Some(r.pkid),
                                    _ => None,
                                },
                            );
                            Ok(Event::Connected {
                                session_present: ack.session_present,
                                receive_maximum: None,
                            })
                        } else {
                            Ok(Event::Refused(format!("{:?}", ack.code)))
                        }
                    }
                    Ok(E::Incoming(Packet::Publish(publish))) => {
                        Ok(Event::Message(Box::new(Incoming {
                            topic: publish.topic.clone(),
                            payload: publish.payload.to_vec(),
                            qos: publish.qos as u8,
                            retain: publish.retain,
                            ack: Ack::V311(publish),
                        })))
                    }
                    Ok(E::Incoming(Packet::PubAck(ack))) => Ok(Event::Acked {
                        pkid: ack.pkid,
                        refused: None,
                    }),
                    Ok(E::Incoming(Packet::PubComp(ack))) => Ok(Event::Acked {
                        pkid: ack.pkid,
                        refused: None,
                    }),
                    Ok(E::Outgoing(Outgoing::Publish(pkid))) => Ok(Event::Sent(pkid)),
                    Ok(_) => Ok(Event::Other),
                    Err(error) => Err(crate::error::with_causes(&error)),
                }
            }
            Connection::V5(connection) => {
                use rumqttc::v5::Event as E;
                use rumqttc::Outgoing;
                use v5bytes::Packet;
                match connection.poll().await {
                    Ok(E::Incoming(Packet::ConnAck(ack))) => {
                        if ack.code == v5bytes::ConnectReturnCode::Success {
                            resend_in_sending_order(&mut connection.pending, |request| {
                                use rumqttc::v5::Request;
                                match request {
                                    Request::Publish(p) if p.pkid != 0 => Some(p.pkid),
                                    Request::PubRel(r) => Some(r.pkid),
                                    _ => None,
                                }
                            });
                            Ok(Event::Connected {
                                session_present: ack.session_present,
                                receive_maximum: ack
                                    .properties
                                    .as_ref()
                                    .and_then(|properties| properties.receive_max),
                            })
                        } else {
                            Ok(Event::Refused(format!("{:?}", ack.code)))
                        }
                    }
                    Ok(E::Incoming(Packet::Publish(publish))) => {
                        Ok(Event::Message(Box::new(Incoming {
                            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                            payload: publish.payload.to_vec(),
                            qos: publish.qos as u8,
                            retain: publish.retain,
                            ack: Ack::V5(publish),
                        })))
                    }
                    Ok(E::Incoming(Packet::PubAck(ack))) => Ok(Event::Acked {
                        pkid: ack.pkid,
                        refused: match ack.reason {
                            v5bytes::PubAckReason::Success
                            | v5bytes::PubAckReason::NoMatchingSubscribers => None,
                            other => Some(format!("{other:?}")),
                        },
                    }),
                    Ok(E::Incoming(Packet::PubRec(rec))) => match rec.reason {
                        v5bytes::PubRecReason::Success
                        | v5bytes::PubRecReason::NoMatchingSubscribers => Ok(Event::Other),
                        other => Ok(Event::Acked {
                            pkid: rec.pkid,
                            refused: Some(format!("{other:?}")),
                        }),
                    },
                    Ok(E::Incoming(Packet::PubComp(ack))) => Ok(Event::Acked {
                        pkid: ack.pkid,
                        refused: None,
                    }),
                    Ok(E::Outgoing(Outgoing::Publish(pkid))) => Ok(Event::Sent(pkid)),
                    Ok(_) => Ok(Event::Other),
                    Err(error) => Err(crate::error::with_causes(&error)),
                }
            }
        }
    }
}

/// Puts what the client re-sends after a reconnection (`pending`) in the
/// order the messages were first sent: each unacknowledged PUBLISH again, or
/// its PUBREL where the broker had sent PUBREC, by packet id (the bridge
/// never lets the ids in flight wrap around); requests never sent yet come
/// after, in their order.
///
/// rumqttc queues every PUBLISH before every PUBREL, and answers a PUBREC
/// for a re-sent PUBLISH at once, ahead of the PUBRELs still queued. A
/// broker that hands a QoS 2 message on at PUBREL (mosquitto does) would
/// then pass later messages on before earlier ones: [MQTT-4.6.0-1] asks for
/// re-sent PUBLISHes in their original order and [MQTT-4.6.0-4] for
/// PUBRELs in the order of their PUBRECs, which were all before the
/// outage.
fn resend_in_sending_order<R>(pending: &mut VecDeque<R>, pkid: impl Fn(&R) -> Option<u16>) {
    pending
        .make_contiguous()
        .sort_by_key(|request| match pkid(request) {
            Some(pkid) => (0, pkid),
            None => (1, 0),
        });
}

impl Client {
    pub async fn publish(
        &self,
        topic: String,
        qos: u8,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), String> {
        match self {
            Client::V311(client) => client
                .publish(topic, qos3(qos), retain, payload)
                .await
                .map_err(|e| e.to_string()),
            Client::V5(client) => client
                .publish(topic, qos5(qos), retain, payload)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Subscribes to `filters`; `no_local` (MQTT 5 only) keeps the broker
    /// from sending back what this client publishes.
    pub async fn subscribe(&self, filters: &[(String, u8)], no_local: bool) -> Result<(), String> {
        if filters.is_empty() {
            return Ok(());
        }
        match self {
            Client::V311(client) => {
                client
                    .subscribe_many(filters.iter().map(|(filter, qos)| {
                        rumqttc::SubscribeFilter::new(filter.clone(), qos3(*qos))
                    }))
                    .await
                    .map_err(|e| e.to_string())
            }
            Client::V5(client) => client
                .subscribe_many(filters.iter().map(|(filter, qos)| {
                    let mut filter = v5bytes::Filter::new(filter.clone(), qos5(*qos));
                    filter.nolocal = no_local;
                    filter.preserve_retain = true;
                    filter
                }))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    pub async fn ack(&self, incoming: &Incoming) -> Result<(), String> {
        match (self, &incoming.ack) {
            (Client::V311(client), Ack::V311(publish)) => {
                client.ack(publish).await.map_err(|e| e.to_string())
            }
            (Client::V5(client), Ack::V5(publish)) => {
                client.ack(publish).await.map_err(|e| e.to_string())
            }
            _ => Err("an acknowledgement for another connection".to_owned()),
        }
    }

    pub async fn disconnect(&self) {
        let _ = match self {
            Client::V311(client) => client.disconnect().await.map_err(|e| e.to_string()),
            Client::V5(client) => client.disconnect().await.map_err(|e| e.to_string()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::{PubRel, Publish, QoS, Request};

    fn publish(pkid: u16) -> Request {
        let mut publish = Publish::new("t", QoS::ExactlyOnce, vec![]);
        publish.pkid = pkid;
        Request::Publish(publish)
    }

    fn describe(request: &Request) -> String {
        match request {
            Request::Publish(p) => format!("publish {}", p.pkid),
            Request::PubRel(r) => format!("pubrel {}", r.pkid),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn releases_of_earlier_messages_go_before_later_publishes() {
        // As rumqttc leaves them after an outage: the PUBLISHes not yet
        // received, then the PUBRELs of those received, then a publish the
        // bridge queued meanwhile (no packet id yet).
        let mut pending: VecDeque<Request> = VecDeque::from(vec![
            publish(895),
            publish(896),
            Request::PubRel(PubRel::new(893)),
            Request::PubRel(PubRel::new(894)),
            publish(0),
        ]);
        resend_in_sending_order(&mut pending, |request| match request {
            Request::Publish(p) if p.pkid != 0 => Some(p.pkid),
            Request::PubRel(r) => Some(r.pkid),
            _ => None,
        });
        let order: Vec<String> = pending.iter().map(describe).collect();
        assert_eq!(
            order,
            [
                "pubrel 893",
                "pubrel 894",
                "publish 895",
                "publish 896",
                "publish 0"
            ]
        );
    }
}
