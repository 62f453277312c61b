//! MQTT 3.1.1: CONNECT, PUBLISH, SUBSCRIBE and the rest, translated to core calls.

use std::num::NonZeroU16;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use ntex_mqtt::v3;
use ntex_mqtt::v3::codec::ConnectAckReason;
use ntex_mqtt::{Control, Reason};

use super::{
    ack_route, assigned_client_id, peer_text, qos_number, qos_of, send_result, worker_core,
    Connection, Context, Feedback, Refused,
};
use crate::broker::auth::Login;
use crate::broker::core::message::{Delivery, Message};
use crate::broker::core::{
    ConnectOutcome, ConnectRequest, Outlet, SendError, SubscribeRefusal, SubscriptionOptions, Will,
};
use crate::names::printable;

/// The protocol version as logs, the registry and `client list` name it.
const PROTOCOL: &str = "3.1.1";

pub type Session = v3::Session<Connection>;

pub async fn connect(
    context: Arc<Context>,
    handshake: v3::Connect<()>,
) -> Result<v3::ConnectAck<Connection>, Refused> {
    let packet = handshake.packet();
    let peer = handshake
        .io()
        .query::<ntex_io::types::PeerAddr>()
        .get()
        .map(|peer| peer.0);
    let mut client_id = packet.client_id.to_string();
    if !context.limits.client_id_acceptable(&client_id)
        || (client_id.is_empty() && !packet.clean_session)
    {
        // MQTT-3.1.3-8: an empty id needs a clean session.
        tracing::info!(client_id = %printable(&client_id), peer = %peer_text(peer), "client id rejected");
        return Ok(handshake.failed(ConnectAckReason::IdentifierRejected));
    }
    let will = match &packet.last_will {
        Some(will)
            if !context.limits.topic_fits(&will.topic) || will.topic.contains(['+', '#', '\0']) =>
        {
            tracing::info!(client_id = %printable(&client_id), "will topic over the limits or invalid: refused");
            return Ok(handshake.not_authorized());
        }
        Some(will) => Some(Will {
            message: Message {
                topic: will.topic.clone(),
                payload: will.message.clone(),
                qos: qos_number(will.qos),
                retain: will.retain,
                properties: None,
                expires_at: None,
                publisher: None,
            },
            delay: std::time::Duration::ZERO,
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
    let clean_session = packet.clean_session;
    let keep_alive = packet.keep_alive;
    if context.policy.login(login.clone()).await.is_err() {
        return Ok(handshake.not_authorized());
    }
    if client_id.is_empty() {
        client_id = assigned_client_id();
    }
    let username: Rc<str> = Rc::from(login.username.unwrap_or_default());
    let client_id: Rc<str> = Rc::from(client_id);
    let core = worker_core(&context);
    let sink = handshake.sink();
    let feedback = Feedback::new(core.clone(), client_id.clone());
    // The connection's I/O and the framer's route, asked for once: the
    // outlet, the acknowledgements and the connection each keep them.
    let io = handshake.io().get_ref();
    let route = ack_route(handshake.io());
    let outlet = Rc::new(Outlet3 {
        sink: sink.clone(),
        io: io.clone(),
        codec: v3::codec::Codec::new(),
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
        clean_start: clean_session,
        session_expiry: if clean_session { 0 } else { u32::MAX },
        receive_max: context.core_limits.max_inflight,
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
        ConnectOutcome::ClientIdInUse => {
            tracing::info!(client_id = %printable(&client_id), username = %printable(&username), "client id held by another user's live session: refused");
            return Ok(handshake.failed(ConnectAckReason::IdentifierRejected));
        }
        ConnectOutcome::Barred => {
            tracing::info!(client_id = %printable(&client_id), username = %printable(&username), "barred by a change made during the login: refused");
            return Ok(handshake.not_authorized());
        }
    };
    feedback.bind(serial, route.clone(), context.store.as_ref());
    tracing::info!(client_id = %printable(&client_id), username = %printable(&username), peer = %peer_text(peer), protocol = "3.1.1", session_present, "client connected");
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
    let mut ack = handshake
        .ack(connection, session_present)
        .max_send(Some(context.core_limits.max_inflight));
    if keep_alive == 0 {
        // No keep-alive asked for: never time the client out (MQTT-3.1.2-24 only
        // applies to a non-zero keep-alive).
        ack = ack.idle_timeout(ntex_util::time::Seconds::ZERO);
    }
    // Queued messages of a resumed session go out once CONNACK is on its way.
    let pump_core = core.clone();
    tokio::task::spawn_local(async move {
        pump_core.borrow_mut().pump(&client_id);
    });
    Ok(ack)
}

/// The PUBLISH service of one connection. Backpressure lives in its
/// readiness, not in the handler: after a message fills a subscriber's queue,
/// the next PUBLISH is not read until there is room (see
/// [`Connection::wait_for_room`]). Handlers never wait: ntex-mqtt 9.0 runs a
/// call inline only while no other call is pending, and defers the rest, so a
/// pending handler lets later packets overtake deferred ones (see also
/// `framing.rs`).
pub struct PublishService;

impl ntex_service::ServiceFactory<Session, v3::Publish> for PublishService {
    type Res = ();
    type Error = Refused;
    type Service = PublishService;
    type InitError = std::convert::Infallible;

    async fn create(&self, _: &Session) -> Result<PublishService, Self::InitError> {
        Ok(PublishService)
    }
}

impl ntex_service::Service<Session, v3::Publish> for PublishService {
    type Res = ();
    type Error = Refused;

    async fn ready(&self, ctx: ntex_service::Ctx<'_, Self, Session>) -> Result<(), Refused> {
        ctx.st().wait_for_room().await;
        Ok(())
    }

    async fn call(
        &self,
        message: v3::Publish,
        ctx: ntex_service::Ctx<'_, Self, Session>,
    ) -> Result<(), Refused> {
        publish(ctx.st(), message).await
    }
}

pub async fn publish(session: &Session, mut publish: v3::Publish) -> Result<(), Refused> {
    let connection = &**session;
    let topic = publish.packet().topic.clone();
    if !connection.context.limits.topic_fits(&topic) || topic.contains('\0') {
        tracing::info!(client_id = %printable(&connection.client_id), "publish topic over the limits or invalid: closing");
        return Err(Refused(super::code::TOPIC_NAME_INVALID));
    }
    let packet_id = publish.id();
    let payload = connection
        .read_payload(&publish.take_payload(), publish.payload_size())
        .await?;
    let message = Message {
        topic,
        payload,
        qos: qos_number(publish.qos()),
        retain: publish.retain(),
        properties: None,
        expires_at: None,
        publisher: Some(connection.client_id.clone()),
    };
    // 3.1.1 has no negative acknowledgement: a denied publish is dropped and
    // still acknowledged, and the connection stays (the contract).
    let _ = connection.publish(message, packet_id);
    Ok(())
}

pub async fn protocol(
    session: &Session,
    message: v3::ProtocolMessage,
) -> Result<v3::ProtocolMessageAck, Refused> {
    let connection = &**session;
    Ok(match message {
        v3::ProtocolMessage::Subscribe(mut subscribe) => {
            let mut core = connection.core.borrow_mut();
            for mut request in subscribe.iter_mut() {
                let filter = request.topic().clone();
                if !connection.context.limits.topic_fits(&filter) {
                    request.fail();
                    continue;
                }
                let options = SubscriptionOptions {
                    qos: qos_number(request.qos()),
                    ..SubscriptionOptions::default()
                };
                match core.subscribe(&connection.client_id, &filter, options) {
                    Ok(granted) => request.confirm(qos_of(granted)),
                    Err(
                        SubscribeRefusal::NotAuthorized
                        | SubscribeRefusal::Invalid
                        | SubscribeRefusal::QuotaExceeded,
                    ) => {
                        connection.log_denied("subscribe", &filter);
                        request.fail();
                    }
                }
            }
            connection.hold_for_changes(&mut core);
            drop(core);
            connection.pump_soon();
            subscribe.ack()
        }
        v3::ProtocolMessage::Unsubscribe(unsubscribe) => {
            let mut core = connection.core.borrow_mut();
            for filter in unsubscribe.iter() {
                core.unsubscribe(&connection.client_id, filter);
            }
            connection.hold_for_changes(&mut core);
            unsubscribe.ack()
        }
        v3::ProtocolMessage::Disconnect(disconnect) => {
            // MQTT-3.14.4-3: a will is discarded after a DISCONNECT.
            connection.said_goodbye.set(true);
            let closed = connection.core.borrow_mut().disconnect_requested(
                &connection.client_id,
                connection.serial,
                false,
                None,
            );
            connection.closed(closed);
            disconnect.ack()
        }
        v3::ProtocolMessage::PublishRelease(release) => {
            // PUBCOMP frees the packet id for a new message: the release is
            // on disk before it leaves, or a crash would bring the id back
            // as awaiting PUBREL and the next message with it would be taken
            // for a re-send and dropped.
            let mut core = connection.core.borrow_mut();
            core.released(&connection.client_id, release.packet_id);
            connection.hold_for_changes(&mut core);
            drop(core);
            v3::ProtocolMessage::PublishRelease(release).ack()
        }
        other => other.ack(),
    })
}

pub async fn control(control: Control<Refused>) -> Result<Option<v3::codec::Encoded>, Refused> {
    match &control {
        Control::Stop(Reason::Error(error)) => {
            tracing::debug!("closing a 3.1.1 connection: {}", error.get_ref())
        }
        Control::Stop(Reason::Protocol(error)) => {
            tracing::debug!("3.1.1 protocol error: {}", error.get_ref())
        }
        _ => {}
    }
    Ok(None)
}

/// Sends deliveries to a 3.1.1 client. PUBLISH and PUBREL are written
/// straight to the connection with a codec of its own, not through the sink:
/// the session keeps what is in flight, and the framer hands it the
/// acknowledgements (see `framing`).
struct Outlet3 {
    sink: v3::MqttSink,
    io: ntex_io::IoRef,
    codec: v3::codec::Codec,
    feedback: Rc<Feedback>,
    route: Option<Rc<super::framing::AckRoute>>,
}

impl Outlet for Outlet3 {
    fn is_ready(&self) -> bool {
        self.sink.is_ready()
    }

    fn send(&self, delivery: &Delivery, _now: Instant) -> Result<(), SendError> {
        if !self.sink.is_open() {
            return Err(SendError::Closed);
        }
        let payload = delivery.message.payload.clone();
        let packet_id = delivery.packet_id.filter(|_| delivery.qos > 0);
        let packet = v3::codec::Publish {
            dup: delivery.dup && packet_id.is_some(),
            retain: delivery.retain,
            qos: qos_of(if packet_id.is_some() { delivery.qos } else { 0 }),
            topic: delivery.message.topic.clone(),
            packet_id,
            payload_size: payload.len() as u32,
        };
        let result = self.io.encode(
            v3::codec::Encoded::Publish(packet, Some(payload)),
            &self.codec,
        );
        send_result(result, self.sink.is_open())
    }

    fn send_release(&self, packet_id: NonZeroU16) -> Result<(), SendError> {
        let result = self.io.encode(
            v3::codec::Encoded::Packet(v3::codec::Packet::PublishRelease { packet_id }),
            &self.codec,
        );
        send_result(result, self.sink.is_open())
    }

    fn send_complete(&self, packet_id: NonZeroU16) -> Result<(), SendError> {
        let result = self.io.encode(
            v3::codec::Encoded::Packet(v3::codec::Packet::PublishComplete { packet_id }),
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

    fn close(&self, _reason: u8) {
        self.sink.close();
    }
}
