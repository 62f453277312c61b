//! MQTT 5: CONNECT, PUBLISH, SUBSCRIBE and the rest, translated to core calls,
//! with the properties a broker forwards, reason codes and session expiry.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ntex_bytes::ByteString;
use ntex_mqtt::v5;
use ntex_mqtt::v5::codec::{
    ConnectAckReason, DisconnectReasonCode, PublishAckReason, QoS, RetainHandling,
    SubscribeAckReason,
};
use ntex_mqtt::{Control, Reason};

use super::{
    ack_route, assigned_client_id, expiry_from, peer_text, qos_number, qos_of, send_result,
    worker_core, Connection, Context, Feedback, Refused,
};
use crate::broker::auth::Login;
use crate::broker::core::message::{Delivery, Message, Properties};
use crate::broker::core::{
    ConnectOutcome, ConnectRequest, Outlet, SendError, SubscribeRefusal, SubscriptionOptions, Will,
};
use crate::names::printable;

/// The protocol version as logs, the registry and `client list` name it.
const PROTOCOL: &str = "5";

pub type Session = v5::Session<Connection>;

impl TryFrom<Refused> for v5::PublishAck {
    type Error = Refused;

    fn try_from(refused: Refused) -> Result<Self, Refused> {
        Err(refused)
    }
}

fn properties_of(
    utf8: bool,
    content_type: &Option<ByteString>,
    response_topic: &Option<ByteString>,
    correlation_data: &Option<ntex_bytes::Bytes>,
    user_properties: &[(ByteString, ByteString)],
) -> Option<Rc<Properties>> {
    let properties = Properties {
        utf8_payload: utf8,
        content_type: content_type.clone(),
        response_topic: response_topic.clone(),
        correlation_data: correlation_data.clone(),
        user_properties: user_properties.to_vec(),
    };
    (!properties.is_empty()).then(|| Rc::new(properties))
}

pub async fn connect(
    context: Arc<Context>,
    handshake: v5::Connect<()>,
) -> Result<v5::ConnectAck<Connection>, Refused> {
    let packet = handshake.packet();
    let peer = handshake
        .io()
        .query::<ntex_io::types::PeerAddr>()
        .get()
        .map(|peer| peer.0);
    let mut client_id = packet.client_id.to_string();
    if !context.limits.client_id_acceptable(&client_id) {
        tracing::info!(client_id = %printable(&client_id), peer = %peer_text(peer), "client id rejected");
        return Ok(refuse(
            handshake,
            ConnectAckReason::ClientIdentifierNotValid,
            "client id not allowed",
        ));
    }
    if let Some(method) = &packet.auth_method {
        // MQTT-4.12.0-1: an Authentication Method the server does not
        // support is refused with 0x8C; mqreg supports none (enhanced
        // authentication), and decides nothing about the credentials here,
        // so no registration is recorded.
        tracing::info!(client_id = %printable(&client_id), peer = %peer_text(peer), method = %printable(method), "authentication method not supported: refused");
        return Ok(refuse(
            handshake,
            ConnectAckReason::BadAuthenticationMethod,
            "authentication method not supported",
        ));
    }
    let will = match &packet.last_will {
        Some(will)
            if !context.limits.topic_fits(&will.topic) || will.topic.contains(['+', '#', '\0']) =>
        {
            tracing::info!(client_id = %printable(&client_id), "will topic over the limits or invalid: refused");
            return Ok(refuse(
                handshake,
                ConnectAckReason::TopicNameInvalid,
                "will topic not allowed",
            ));
        }
        Some(will) => Some(Will {
            message: Message {
                topic: will.topic.clone(),
                payload: will.message.clone(),
                qos: qos_number(will.qos),
                retain: will.retain,
                properties: properties_of(
                    will.is_utf8_payload.unwrap_or(false),
                    &will.content_type,
                    &will.response_topic,
                    &will.correlation_data,
                    &will.user_properties,
                ),
                expires_at: expiry_from(will.message_expiry_interval.map(|s| s.get())),
                publisher: None,
            },
            delay: Duration::from_secs(u64::from(will.will_delay_interval_sec.unwrap_or(0))),
        }),
        None => None,
    };
    let certificate = super::presented_certificate(&context, handshake.io());
    let login = Login {
        username: packet
            .username
            .as_ref()
            .map(|name| name.to_string())
            .or_else(|| certificate.as_ref()?.common_name.clone()),
        password: packet.password.as_ref().map(|bytes| bytes.to_vec()),
        client_id: client_id.clone(),
        address: peer_text(peer),
        peer: peer.map(|peer| peer.ip()),
        protocol: PROTOCOL,
        certificate,
    };
    let clean_start = packet.clean_start;
    let keep_alive = packet.keep_alive;
    let session_expiry = packet.session_expiry_interval_secs;
    let receive_max = packet.receive_max.map_or(u16::MAX, |max| max.get());
    let max_packet_size = packet.max_packet_size.map(|size| size.get());
    if context.policy.login(login.clone()).await.is_err() {
        // One reason for every failed login, so usernames cannot be probed.
        return Ok(refuse(
            handshake,
            ConnectAckReason::NotAuthorized,
            "not authorized",
        ));
    }
    let assigned = client_id.is_empty().then(assigned_client_id);
    if let Some(assigned) = &assigned {
        client_id = assigned.clone();
    }
    let username: Rc<str> = Rc::from(login.username.unwrap_or_default());
    let client_id: Rc<str> = Rc::from(client_id);
    let core = worker_core(&context);
    let sink = handshake.sink();
    let feedback = Feedback::new(core.clone(), client_id.clone());
    let codec = v5::codec::Codec::new();
    if let Some(max) = max_packet_size {
        // Larger deliveries are skipped for this client (MQTT-3.1.2-25).
        codec.set_max_outbound_size(max);
    }
    // The connection's I/O and the framer's route, asked for once: the
    // outlet, the acknowledgements and the connection each keep them.
    let io = handshake.io().get_ref();
    let route = ack_route(handshake.io());
    let outlet = Rc::new(Outlet5 {
        sink: sink.clone(),
        io: io.clone(),
        codec,
        feedback: feedback.clone(),
        route: route.clone(),
    });
    let (outcome, wills) = core.borrow_mut().connect(ConnectRequest {
        client_id: client_id.clone(),
        username: username.clone(),
        address: peer,
        protocol: PROTOCOL,
        sent_client_id: super::sent_client_id(&client_id, &login.client_id),
        certificate: login
            .certificate
            .as_ref()
            .filter(|certificate| certificate.by_registry)
            .map(|certificate| Rc::from(certificate.fingerprint.as_str())),
        clean_start,
        session_expiry,
        receive_max,
        will,
        outlet: outlet.clone(),
    });
    for will in wills {
        super::send_will(&core, &username, &client_id, will);
    }
    let (serial, session_present) = match outcome {
        ConnectOutcome::Accepted {
            serial,
            session_present,
        } => (serial, session_present),
        ConnectOutcome::Barred => {
            tracing::info!(client_id = %printable(&client_id), username = %printable(&username), "barred by a change made during the login: refused");
            return Ok(refuse(
                handshake,
                ConnectAckReason::NotAuthorized,
                "not authorized",
            ));
        }
        ConnectOutcome::ClientIdInUse => {
            tracing::info!(client_id = %printable(&client_id), username = %printable(&username), "client id held by another user's live session: refused");
            return Ok(refuse(
                handshake,
                ConnectAckReason::ClientIdentifierNotValid,
                "client id in use by another user",
            ));
        }
    };
    feedback.bind(serial, route.clone(), context.store.as_ref());
    tracing::info!(client_id = %printable(&client_id), username = %printable(&username), peer = %peer_text(peer), protocol = "5", session_present, "client connected");
    super::announce(&context, "login", &client_id, &username, peer, PROTOCOL);
    let connection = Connection::new(
        core.clone(),
        client_id.clone(),
        username,
        serial,
        context.clone(),
        io,
        route,
    );
    let max_inflight = context.core_limits.max_inflight;
    let mut ack = handshake.ack(connection).max_send(Some(max_inflight));
    if keep_alive == 0 {
        // ntex would time such a client out after 30 s; a Server Keep Alive of
        // the maximum tells the client the one it must use (MQTT-3.2.2-21).
        ack = ack.keep_alive(u16::MAX);
    }
    let ack = ack.with(|ack| {
        ack.session_present = session_present;
        ack.assigned_client_id = assigned.map(ByteString::from);
        ack.max_qos = QoS::ExactlyOnce;
        ack.retain_available = true;
        ack.wildcard_subscription_available = true;
        ack.subscription_identifiers_available = true;
        ack.shared_subscription_available = true;
    });
    let pump_core = core.clone();
    tokio::task::spawn_local(async move {
        pump_core.borrow_mut().pump(&client_id);
    });
    Ok(ack)
}

/// The PUBLISH service of one connection; as in 3.1.1, backpressure is in its
/// readiness (see [`super::v3::PublishService`]).
pub struct PublishService;

impl ntex_service::ServiceFactory<Session, v5::Publish> for PublishService {
    type Res = v5::PublishAck;
    type Error = Refused;
    type Service = PublishService;
    type InitError = std::convert::Infallible;

    async fn create(&self, _: &Session) -> Result<PublishService, Self::InitError> {
        Ok(PublishService)
    }
}

impl ntex_service::Service<Session, v5::Publish> for PublishService {
    type Res = v5::PublishAck;
    type Error = Refused;

    async fn ready(&self, ctx: ntex_service::Ctx<'_, Self, Session>) -> Result<(), Refused> {
        ctx.st().wait_for_room().await;
        Ok(())
    }

    async fn call(
        &self,
        message: v5::Publish,
        ctx: ntex_service::Ctx<'_, Self, Session>,
    ) -> Result<v5::PublishAck, Refused> {
        publish(ctx.st(), message).await
    }
}

/// A refused CONNECT, with a reason string for people reading client logs.
fn refuse(
    handshake: v5::Connect<()>,
    reason: ConnectAckReason,
    text: &'static str,
) -> v5::ConnectAck<Connection> {
    handshake.fail_with(v5::codec::ConnectAck {
        reason_code: reason,
        reason_string: Some(ByteString::from_static(text)),
        ..v5::codec::ConnectAck::default()
    })
}

pub async fn publish(
    session: &Session,
    mut publish: v5::Publish,
) -> Result<v5::PublishAck, Refused> {
    let connection = &**session;
    let packet = publish.packet();
    let topic = packet.topic.clone();
    if !connection.context.limits.topic_fits(&topic) || topic.contains('\0') {
        tracing::info!(client_id = %printable(&connection.client_id), "publish topic over the limits or invalid: closing");
        return Err(Refused(super::code::TOPIC_NAME_INVALID));
    }
    let props = &packet.properties;
    let properties = properties_of(
        props.is_utf8_payload,
        &props.content_type,
        &props.response_topic,
        &props.correlation_data,
        &props.user_properties,
    );
    let expires_at = expiry_from(props.message_expiry_interval.map(|s| s.get()));
    let mut qos = qos_number(publish.qos());
    let retain = publish.retain();
    let mut packet_id = publish.id();
    // A QoS 2 PUBLISH reaches here marked as QoS 0 with DUP (see
    // `framing::exactly_once_as_marked`); its id waits in the route.
    let exactly_once = match &connection.route {
        Some(route) if qos == 0 && publish.dup() => route.take_exactly_once(),
        _ => None,
    };
    if exactly_once.is_some() {
        qos = 2;
        packet_id = exactly_once;
    }
    let payload = connection
        .read_payload(&publish.take_payload(), publish.payload_size())
        .await?;
    let message = Message {
        topic,
        payload,
        qos,
        retain,
        properties,
        expires_at,
        publisher: Some(connection.client_id.clone()),
    };
    let reason = match connection.publish(message, packet_id) {
        super::Published::Routed => PublishAckReason::Success,
        super::Published::Denied => PublishAckReason::NotAuthorized,
        super::Published::OverQuota => PublishAckReason::QuotaExceeded,
    };
    if let Some(packet_id) = exactly_once {
        // MQTT-4.3.3-8 (5): PUBREC, after the message was routed.
        let received = v5::codec::Packet::PublishReceived(v5::codec::PublishAck {
            packet_id,
            reason_code: reason,
            ..v5::codec::PublishAck::default()
        });
        let _ = connection
            .io
            .encode(received.into(), &v5::codec::Codec::new());
    }
    Ok(publish.ack().reason_code(reason))
}

pub async fn protocol(
    session: &Session,
    message: v5::ProtocolMessage,
) -> Result<v5::ProtocolMessageAck, Refused> {
    let connection = &**session;
    Ok(match message {
        v5::ProtocolMessage::Subscribe(mut subscribe) => {
            let subscription_id = subscribe.packet().id.map(|id| id.get());
            let mut core = connection.core.borrow_mut();
            for mut request in subscribe.iter_mut() {
                let filter = request.topic().clone();
                if !connection.context.limits.topic_fits(&filter) {
                    request.fail(SubscribeAckReason::TopicFilterInvalid);
                    continue;
                }
                let requested = *request.options();
                let options = SubscriptionOptions {
                    qos: qos_number(requested.qos),
                    no_local: requested.no_local,
                    retain_as_published: requested.retain_as_published,
                    retain_handling: match requested.retain_handling {
                        RetainHandling::AtSubscribe => 0,
                        RetainHandling::AtSubscribeNew => 1,
                        RetainHandling::NoAtSubscribe => 2,
                    },
                    subscription_id,
                };
                match core.subscribe(&connection.client_id, &filter, options) {
                    Ok(granted) => request.confirm(qos_of(granted)),
                    Err(SubscribeRefusal::NotAuthorized) => {
                        connection.log_denied("subscribe", &filter);
                        request.fail(SubscribeAckReason::NotAuthorized);
                    }
                    Err(SubscribeRefusal::Invalid) => {
                        request.fail(SubscribeAckReason::TopicFilterInvalid);
                    }
                    Err(SubscribeRefusal::QuotaExceeded) => {
                        tracing::info!(client_id = %printable(&connection.client_id), filter = %printable(&filter), "subscribe refused: the user's subscription quota is used up");
                        request.fail(SubscribeAckReason::QuotaExceeded);
                    }
                }
            }
            connection.hold_for_changes(&mut core);
            drop(core);
            connection.pump_soon();
            subscribe.ack()
        }
        v5::ProtocolMessage::Unsubscribe(mut unsubscribe) => {
            let mut core = connection.core.borrow_mut();
            for mut request in unsubscribe.iter_mut() {
                if core.unsubscribe(&connection.client_id, request.topic()) {
                    request.success();
                } else {
                    request.fail(v5::codec::UnsubscribeAckReason::NoSubscriptionExisted);
                }
            }
            connection.hold_for_changes(&mut core);
            unsubscribe.ack()
        }
        v5::ProtocolMessage::Disconnect(disconnect) => {
            let packet = disconnect.packet();
            connection.said_goodbye.set(true);
            let closed = connection.core.borrow_mut().disconnect_requested(
                &connection.client_id,
                connection.serial,
                packet.reason_code == DisconnectReasonCode::DisconnectWithWillMessage,
                packet.session_expiry_interval_secs,
            );
            connection.closed(closed);
            disconnect.ack()
        }
        v5::ProtocolMessage::PublishRelease(release) => {
            // Not reached while the framer takes every v5 PUBREL (and the
            // session answers it once the release is on disk).
            connection
                .core
                .borrow_mut()
                .released(&connection.client_id, release.packet().packet_id);
            v5::ProtocolMessage::PublishRelease(release).ack()
        }
        other => other.ack(),
    })
}

pub async fn control(control: Control<Refused>) -> Result<Option<v5::codec::Encoded>, Refused> {
    let reason = match control {
        Control::Stop(Reason::Error(error)) => DisconnectReasonCode::try_from(error.get_ref().0)
            .unwrap_or(DisconnectReasonCode::UnspecifiedError),
        Control::Stop(Reason::Protocol(error)) => protocol_error_reason(error.get_ref()),
        _ => return Ok(None),
    };
    Ok(Some(
        v5::codec::Packet::from(v5::codec::Disconnect {
            reason_code: reason,
            reason_string: super::reason_text(u8::from(reason)).map(ByteString::from_static),
            ..Default::default()
        })
        .into(),
    ))
}

/// The DISCONNECT reason for a protocol error the codec found, more precise
/// than ntex-mqtt's default (which calls most of them implementation
/// specific): malformed packets 0x81, topic alias errors 0x94 (MQTT-3.3.2-9),
/// wildcards in a PUBLISH topic 0x90.
fn protocol_error_reason(error: &ntex_mqtt::error::MqttProtocolError) -> DisconnectReasonCode {
    use ntex_mqtt::error::{DecodeError, MqttProtocolError};
    match error {
        MqttProtocolError::Decode(DecodeError::MaxSizeExceeded { .. }) => {
            DisconnectReasonCode::PacketTooLarge
        }
        MqttProtocolError::Decode(_) => DisconnectReasonCode::MalformedPacket,
        MqttProtocolError::KeepAliveTimeout => DisconnectReasonCode::KeepAliveTimeout,
        MqttProtocolError::ProtocolViolation(violation) => {
            let text = violation.to_string();
            if text.contains("opic alias") {
                DisconnectReasonCode::TopicAliasInvalid
            } else if text.contains("MQTT-3.3.2-2") {
                // A wildcard in a PUBLISH topic: the contract's 0x90.
                DisconnectReasonCode::TopicNameInvalid
            } else {
                violation.reason()
            }
        }
        _ => DisconnectReasonCode::ProtocolError,
    }
}

/// Sends deliveries to an MQTT 5 client, as [`super::v3`]'s outlet does: with
/// a codec of its own, whose maximum outbound size is the client's Maximum
/// Packet Size.
struct Outlet5 {
    sink: v5::MqttSink,
    io: ntex_io::IoRef,
    codec: v5::codec::Codec,
    feedback: Rc<Feedback>,
    route: Option<Rc<super::framing::AckRoute>>,
}

/// PUBREL or PUBCOMP with reason Success.
fn success(packet_id: std::num::NonZeroU16) -> v5::codec::PublishAck2 {
    v5::codec::PublishAck2 {
        packet_id,
        reason_code: v5::codec::PublishAck2Reason::Success,
        properties: v5::codec::UserProperties::default(),
        reason_string: None,
    }
}

impl Outlet for Outlet5 {
    fn is_ready(&self) -> bool {
        self.sink.is_ready()
    }

    fn send(&self, delivery: &Delivery, now: Instant) -> Result<(), SendError> {
        if !self.sink.is_open() {
            return Err(SendError::Closed);
        }
        let message = &delivery.message;
        let mut properties = v5::codec::PublishProperties::default();
        if let Some(forwarded) = &message.properties {
            properties.is_utf8_payload = forwarded.utf8_payload;
            properties.content_type = forwarded.content_type.clone();
            properties.response_topic = forwarded.response_topic.clone();
            properties.correlation_data = forwarded.correlation_data.clone();
            properties.user_properties = forwarded.user_properties.clone();
        }
        properties.message_expiry_interval = message
            .remaining_expiry(now)
            .and_then(std::num::NonZeroU32::new);
        properties.subscription_ids = delivery
            .subscription_ids
            .iter()
            .filter_map(|id| std::num::NonZeroU32::new(*id))
            .collect();
        let payload = message.payload.clone();
        let packet_id = delivery.packet_id.filter(|_| delivery.qos > 0);
        let packet = v5::codec::Publish {
            dup: delivery.dup && packet_id.is_some(),
            retain: delivery.retain,
            qos: qos_of(if packet_id.is_some() { delivery.qos } else { 0 }),
            packet_id,
            topic: message.topic.clone(),
            payload_size: payload.len() as u32,
            properties,
        };
        let result = self.io.encode(
            v5::codec::Encoded::Publish(packet, Some(payload)),
            &self.codec,
        );
        send_result(result, self.sink.is_open())
    }

    fn send_release(&self, packet_id: std::num::NonZeroU16) -> Result<(), SendError> {
        let result = self.io.encode(
            v5::codec::Encoded::Packet(v5::codec::Packet::PublishRelease(success(packet_id))),
            &self.codec,
        );
        send_result(result, self.sink.is_open())
    }

    fn send_complete(&self, packet_id: std::num::NonZeroU16) -> Result<(), SendError> {
        let result = self.io.encode(
            v5::codec::Encoded::Packet(v5::codec::Packet::PublishComplete(success(packet_id))),
            &self.codec,
        );
        send_result(result, self.sink.is_open())
    }

    fn hold_until(&self, durable: u64) {
        if let Some(route) = &self.route {
            route.hold_until(durable);
        }
    }

    fn pump_later(&self) {
        self.feedback.pump_later(super::unsent_bytes(&self.io));
    }

    fn wake_when_ready(&self) {
        let sink = self.sink.clone();
        self.feedback
            .wake_when_ready(async move { sink.ready().await });
    }

    fn close(&self, reason: u8) {
        let reason = DisconnectReasonCode::try_from(reason)
            .unwrap_or(DisconnectReasonCode::UnspecifiedError);
        self.sink.close_with_reason(v5::codec::Disconnect {
            reason_code: reason,
            reason_string: super::reason_text(u8::from(reason)).map(ByteString::from_static),
            ..Default::default()
        });
    }
}
