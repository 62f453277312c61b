//! The glue between ntex-mqtt (the wire: codec, handshake, keep-alive,
//! acknowledgements) and the broker [`core`](super::core).
//!
//! Each network worker thread owns one core ([`worker_core`]); connections on
//! that thread reach it through their [`Connection`] state, whose drop tells
//! the core that the connection ended. [`v3`] and [`v5`] translate packets to
//! core calls and back; what they share is here: the limits on what a client
//! may send, the wait for room in full subscriber queues, and wills.

pub mod framing;
pub mod inflight;
pub mod socket;
pub mod sys;
pub mod v3;
pub mod v5;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::core::{Backlog, Broker, Limits, Message, SendError, Shared, Will};
use super::live::LiveState;
use super::persist::{Loaded, Store};
use super::policy::Policy;
use crate::names::printable;

pub use super::core::message;

/// What a client may send, beyond the MQTT syntax the codec checks.
#[derive(Debug, Clone)]
pub struct ProtocolLimits {
    pub max_topic_levels: usize,
    pub max_topic_bytes: usize,
    pub max_client_id_bytes: usize,
    pub max_packet_size: u32,
}

impl ProtocolLimits {
    /// Whether a topic or filter is within the level and length limits.
    pub fn topic_fits(&self, topic: &str) -> bool {
        topic.len() <= self.max_topic_bytes
            && topic.bytes().filter(|&b| b == b'/').count() < self.max_topic_levels
    }

    /// Client ids with control characters are refused (they end up in logs
    /// and in the registry), and so are overlong ones.
    pub fn client_id_acceptable(&self, client_id: &str) -> bool {
        client_id.len() <= self.max_client_id_bytes && !client_id.chars().any(char::is_control)
    }
}

/// Everything a listener's connections need, shared by every worker thread.
pub struct Context {
    pub policy: Arc<Policy>,
    pub live: Arc<LiveState>,
    pub limits: ProtocolLimits,
    pub core_limits: Limits,
    /// The state generation, published by the file watcher; every worker
    /// core follows it (a worker restarted after a panic too).
    pub changes: watch::Receiver<u64>,
    /// The message store (`None` with `--persistence off`), and what it
    /// held at start, for the first core made.
    pub store: Option<Arc<Store>>,
    pub loaded: std::sync::Mutex<Option<Loaded>>,
}

thread_local! {
    static CORE: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

/// This worker thread's broker core, made on first use, with a task that
/// applies state changes to it.
pub fn worker_core(context: &Arc<Context>) -> Shared {
    CORE.with(|core| {
        core.borrow_mut()
            .get_or_insert_with(|| {
                let shared = Rc::new(RefCell::new(Broker::new(
                    context.live.clone(),
                    context.core_limits.clone(),
                    context.store.clone(),
                )));
                let loaded = context.loaded.lock().expect("loaded lock").take();
                if let Some(loaded) = loaded {
                    let (sessions, retained) = (loaded.sessions.len(), loaded.retained.len());
                    let timers = shared.borrow_mut().restore(loaded);
                    tracing::info!(
                        sessions,
                        retained,
                        "restored persistent sessions and retained messages"
                    );
                    for (client_id, serial, left) in timers {
                        let core = shared.clone();
                        tokio::task::spawn_local(async move {
                            tokio::time::sleep(left).await;
                            core.borrow_mut().expire_session(&client_id, serial);
                        });
                    }
                }
                let mut changes = context.changes.clone();
                let core = shared.clone();
                tokio::task::spawn_local(async move {
                    while changes.changed().await.is_ok() {
                        core.borrow_mut().apply_state();
                    }
                });
                shared
            })
            .clone()
    })
}

/// Why a connection is closed by the broker; the v5 DISCONNECT reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub u8);

/// v5 reason codes the glue uses.
pub mod code {
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const PACKET_TOO_LARGE: u8 = 0x95;
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused with reason 0x{:02X}", self.0)
    }
}

impl std::error::Error for Refused {}

impl From<()> for Refused {
    fn from((): ()) -> Self {
        Refused(0x80)
    }
}

/// What became of a PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    Routed,
    /// No write permission.
    Denied,
    /// A retained message over its user's quota or the broker's ceiling.
    OverQuota,
}

/// One accepted connection, as the glue keeps it for its lifetime.
pub struct Connection {
    pub core: Shared,
    pub client_id: Rc<str>,
    pub username: Rc<str>,
    pub serial: u64,
    /// The connection itself, for the acknowledgements the glue writes
    /// (v5 PUBREC, see `framing::exactly_once_as_marked`).
    pub io: ntex_io::IoRef,
    /// Where the framer leaves what the PUBLISH service needs to know.
    pub route: Option<Rc<framing::AckRoute>>,
    pub context: Arc<Context>,
    /// Full queues the last PUBLISH left behind.
    backlog: RefCell<Backlog>,
    /// When the current wait for room gives up.
    backlog_deadline: Cell<Option<tokio::time::Instant>>,
    /// A PUBLISH whose payload is still arriving (it straddled two reads).
    streaming: Cell<bool>,
    /// The client sent DISCONNECT, for the log line when the connection ends.
    pub said_goodbye: Cell<bool>,
    /// A quota refusal was logged for this connection.
    quota_logged: Cell<bool>,
    /// A refused publish or subscribe was logged for this connection.
    denial_logged: Cell<bool>,
}

/// What a connection hands back to the core: the client's acknowledgements
/// (from the framer, see [`framing::Ack`]) and "the socket can take more".
/// Both arrive from inside the I/O and protocol layers while they hold their
/// own borrows, so the core is told from a task of its own, never from there.
pub struct Feedback {
    core: Shared,
    client_id: Rc<str>,
    /// The connection's serial in the core, set once the core accepted it.
    serial: Cell<u64>,
    acks: RefCell<Vec<framing::Ack>>,
    ack_scheduled: Cell<bool>,
    /// A task already waits for the socket to be ready.
    waiting: Cell<bool>,
}

impl Feedback {
    pub fn new(core: Shared, client_id: Rc<str>) -> Rc<Self> {
        Rc::new(Self {
            core,
            client_id,
            serial: Cell::new(0),
            acks: RefCell::default(),
            ack_scheduled: Cell::new(false),
            waiting: Cell::new(false),
        })
    }

    /// Binds the connection's serial, and its acknowledgements (which the
    /// framer reads) to this session.
    pub fn bind(
        self: &Rc<Self>,
        serial: u64,
        route: Option<Rc<framing::AckRoute>>,
        store: Option<&Arc<Store>>,
    ) {
        self.serial.set(serial);
        match route {
            Some(route) => {
                if let Some(store) = store {
                    route.set_durability(store.durability().clone());
                }
                route.bind(Rc::new(AckTask(self.clone())));
            }
            None => {
                tracing::error!(client_id = %printable(&self.client_id), "connection without a framer: its acknowledgements cannot be read")
            }
        }
    }

    fn apply_acks(self: &Rc<Self>) {
        self.ack_scheduled.set(false);
        let acks = std::mem::take(&mut *self.acks.borrow_mut());
        let serial = self.serial.get();
        let mut core = self.core.borrow_mut();
        for ack in acks {
            match ack {
                framing::Ack::Done(id) => core.acknowledged(&self.client_id, serial, id),
                framing::Ack::Received(id) => core.received(&self.client_id, serial, id),
                framing::Ack::Released(id) => core.complete(&self.client_id, serial, id),
            }
        }
    }

    /// Pumps the session once `ready` (the sink's readiness) says the socket
    /// can take more; one waiting task at a time.
    pub fn wake_when_ready(self: &Rc<Self>, ready: impl Future<Output = bool> + 'static) {
        if self.waiting.replace(true) {
            return;
        }
        let feedback = self.clone();
        tokio::task::spawn_local(async move {
            let open = ready.await;
            feedback.waiting.set(false);
            if open {
                feedback.core.borrow_mut().pump(&feedback.client_id);
            }
        });
    }

    /// Pumps the session again from a task of its own: at once (other
    /// connections get their turn first), or after a pause while the
    /// socket still holds `MAX_BUFFERED` unsent bytes (the client is not
    /// reading them). One such task at a time.
    pub fn pump_later(self: &Rc<Self>, buffered: usize) {
        if self.waiting.replace(true) {
            return;
        }
        let feedback = self.clone();
        tokio::task::spawn_local(async move {
            if buffered >= MAX_BUFFERED {
                tokio::time::sleep(DRAIN_PAUSE).await;
            } else {
                tokio::task::yield_now().await;
            }
            feedback.waiting.set(false);
            feedback.core.borrow_mut().pump(&feedback.client_id);
        });
    }
}

/// Unsent bytes on a connection past which its session's queue waits (see
/// `Feedback::pump_later`).
pub const MAX_BUFFERED: usize = 1024 * 1024;

/// How long a session whose socket is not draining waits before it looks
/// again.
const DRAIN_PAUSE: Duration = Duration::from_millis(10);

/// The bytes written to a connection that its socket has not taken yet.
pub fn unsent_bytes(io: &ntex_io::IoRef) -> usize {
    io.with_write_buf(|pages| pages.len()).unwrap_or(0)
}

/// Applies a connection's acknowledgements from a task of their own, once
/// per batch the framer read.
struct AckTask(Rc<Feedback>);

impl framing::AckSink for AckTask {
    fn acks(&self, acks: &[framing::Ack]) {
        let feedback = &self.0;
        feedback.acks.borrow_mut().extend_from_slice(acks);
        if feedback.ack_scheduled.replace(true) {
            return;
        }
        let feedback = feedback.clone();
        tokio::task::spawn_local(async move { feedback.apply_acks() });
    }
}

/// The connection's route for its acknowledgements, which its framer (the
/// plain socket's I/O task or the layer above TLS) answers for.
pub fn ack_route(io: &ntex_io::IoBoxed) -> Option<Rc<framing::AckRoute>> {
    io.query::<Rc<framing::AckRoute>>().as_ref().cloned()
}

/// An encoding error on an open connection is that message's fault (over the
/// client's maximum size): it is skipped rather than retried forever.
pub fn send_result<E>(result: Result<(), E>, still_open: bool) -> Result<(), SendError> {
    result.map_err(|_| {
        if still_open {
            SendError::TooLarge
        } else {
            SendError::Closed
        }
    })
}

/// QoS as the core counts it (0, 1, 2), and back; the same type in 3.1.1 and 5.
pub fn qos_number(qos: ntex_mqtt::QoS) -> u8 {
    match qos {
        ntex_mqtt::QoS::AtMostOnce => 0,
        ntex_mqtt::QoS::AtLeastOnce => 1,
        ntex_mqtt::QoS::ExactlyOnce => 2,
    }
}

pub fn qos_of(number: u8) -> ntex_mqtt::QoS {
    match number {
        0 => ntex_mqtt::QoS::AtMostOnce,
        1 => ntex_mqtt::QoS::AtLeastOnce,
        _ => ntex_mqtt::QoS::ExactlyOnce,
    }
}

impl Connection {
    pub fn new(
        core: Shared,
        client_id: Rc<str>,
        username: Rc<str>,
        serial: u64,
        context: Arc<Context>,
        io: ntex_io::IoRef,
        route: Option<Rc<framing::AckRoute>>,
    ) -> Self {
        Self {
            core,
            client_id,
            username,
            serial,
            io,
            route,
            context,
            backlog: RefCell::default(),
            backlog_deadline: Cell::new(None),
            streaming: Cell::new(false),
            said_goodbye: Cell::new(false),
            quota_logged: Cell::new(false),
            denial_logged: Cell::new(false),
        }
    }

    /// Finishes what a session's end leaves to do (will, expiry timer).
    pub fn closed(&self, closed: Option<super::core::Closed>) {
        if let Some(closed) = closed {
            after_close(
                &self.core,
                &self.client_id,
                &self.username,
                self.serial,
                closed,
            );
        }
    }

    /// Sends what the session has queued once the current packet's answer is
    /// written (retained messages after their SUBACK).
    pub fn pump_soon(&self) {
        let core = self.core.clone();
        let client_id = self.client_id.clone();
        tokio::task::spawn_local(async move {
            core.borrow_mut().pump(&client_id);
        });
    }

    /// Reads a PUBLISH payload whole, refusing one larger than the maximum
    /// packet size: the size is the decoder's word, and a malformed header can
    /// make it absurd (see Cargo.toml on ntex-mqtt's decoder).
    pub async fn read_payload(
        &self,
        payload: &ntex_mqtt::Payload,
        declared: usize,
    ) -> Result<ntex_bytes::Bytes, Refused> {
        let limit = self.context.limits.max_packet_size as usize;
        if declared > limit {
            tracing::info!(client_id = %printable(&self.client_id), declared, "PUBLISH payload over the maximum packet size: closing");
            return Err(Refused(code::PACKET_TOO_LARGE));
        }
        if payload.is_fixed() {
            return payload
                .read_all()
                .await
                .map_err(|_| Refused(code::PACKET_TOO_LARGE));
        }
        // The rest of this payload is still to be read: nothing may hold up
        // the reading of its chunks, or later packets overtake them.
        self.streaming.set(true);
        let whole = self.read_chunks(payload, limit).await;
        self.streaming.set(false);
        whole
    }

    async fn read_chunks(
        &self,
        payload: &ntex_mqtt::Payload,
        limit: usize,
    ) -> Result<ntex_bytes::Bytes, Refused> {
        let mut whole = ntex_bytes::BytesMut::new();
        while let Some(chunk) = payload
            .read()
            .await
            .map_err(|_| Refused(code::PACKET_TOO_LARGE))?
        {
            if whole.len() + chunk.len() > limit {
                return Err(Refused(code::PACKET_TOO_LARGE));
            }
            whole.extend_from_slice(&chunk);
        }
        Ok(whole.freeze())
    }

    /// Checks the publish permission and routes the message. Subscribers whose
    /// queues it filled are remembered: the next PUBLISH of this connection is
    /// not read until they have room.
    ///
    /// A QoS 2 message whose packet id the session still holds from an
    /// earlier PUBLISH (its PUBREL has not come) is a re-send: acknowledged,
    /// never routed twice (MQTT-4.3.3-2 in 3.1.1, MQTT-4.3.3-9 in 5).
    pub fn publish(&self, message: Message, packet_id: Option<NonZeroU16>) -> Published {
        let mut core = self.core.borrow_mut();
        // Store changes made before this packet are not its to wait for.
        core.take_durable();
        if !core.may_publish(&self.client_id, &self.username, &message.topic) {
            core.count_not_authorized();
            self.log_denied("publish", &message.topic);
            return Published::Denied;
        }
        let exactly_once = packet_id.filter(|_| message.qos == 2);
        if let Some(id) = exactly_once {
            if !core.exactly_once_arrived(&self.client_id, id) {
                tracing::debug!(client_id = %printable(&self.client_id), packet_id = id.get(), "QoS 2 PUBLISH re-sent: acknowledged, not routed again");
                return Published::Routed;
            }
        }
        let topic = message.topic.clone();
        let backlog = match core.publish(message, Some(&self.username)) {
            Ok(backlog) => backlog,
            Err(over) => {
                if let Some(id) = exactly_once {
                    // Refused: no PUBREL will come for it.
                    core.released(&self.client_id, id);
                }
                if !self.quota_logged.replace(true) {
                    tracing::warn!(
                        client_id = %printable(&self.client_id),
                        username = %printable(&self.username),
                        topic = %printable(&topic),
                        "retained publish refused: {} (logged once per connection)",
                        match over {
                            super::core::retained::OverLimit::UserQuota => "over the user's retained quota",
                            super::core::retained::OverLimit::Ceiling => "the broker's retained messages are at their ceiling",
                        }
                    );
                }
                return Published::OverQuota;
            }
        };
        // The acknowledgement waits for what the message left in the store.
        if let Some(number) = core.take_durable() {
            self.hold_until(number);
        }
        if !backlog.full.is_empty() {
            self.backlog.borrow_mut().full.extend(backlog.full);
        }
        Published::Routed
    }

    /// Logs a publish or subscribe its user's roles do not allow, with the
    /// username (the admin's question is "which grant is missing"): the
    /// first of a connection as a warning, the rest at debug, so that a
    /// device retrying in a loop cannot flood the log.
    pub fn log_denied(&self, what: &str, topic: &str) {
        if self.denial_logged.replace(true) {
            tracing::debug!(client_id = %printable(&self.client_id), username = %printable(&self.username), topic = %printable(topic), "{what} refused: no permission");
        } else {
            tracing::warn!(
                client_id = %printable(&self.client_id),
                username = %printable(&self.username),
                topic = %printable(topic),
                "{what} refused: no permission (see `mqreg user show {}`; later refusals on this connection are logged at debug)",
                printable(&self.username)
            );
        }
    }

    /// Holds this connection's writes until store change `number` is on
    /// disk (see `framing::AckRoute::hold_until`).
    pub fn hold_until(&self, number: u64) {
        if let Some(route) = &self.route {
            route.hold_until(number);
        }
    }

    /// After SUBSCRIBE and UNSUBSCRIBE: the SUBACK waits for the session's
    /// change to be on disk.
    pub fn hold_for_changes(&self, core: &mut Broker) {
        if let Some(number) = core.take_durable() {
            self.hold_until(number);
        }
    }

    /// Holds the reading of this connection's next PUBLISH while a queue its
    /// publishes filled has no room, for at most the configured wait in all;
    /// past it, the queue still full loses its oldest messages and its
    /// reader is marked stalled (see `Broker::shed`).
    ///
    /// Every caller waits for the same thing and nobody takes the backlog: the
    /// protocol layer asks for readiness from more than one place, and a
    /// caller let through early would let a payload chunk overtake its PUBLISH.
    pub async fn wait_for_room(&self) {
        if self.streaming.get() {
            return;
        }
        if self.backlog.borrow().full.is_empty() {
            self.backlog_deadline.set(None);
            return;
        }
        // Boxed: ntex keeps a readiness future's room allocated for the
        // connection's whole life, and the waiting below (a timer and a
        // notification) is rare but large.
        Box::pin(self.wait_for_backlog()).await;
    }

    async fn wait_for_backlog(&self) {
        loop {
            if self.streaming.get() {
                return;
            }
            let first_full = {
                let core = self.core.borrow();
                let mut backlog = self.backlog.borrow_mut();
                backlog
                    .full
                    .retain(|(client_id, _)| core.is_full(client_id));
                backlog.full.first().cloned()
            };
            let Some((client_id, room)) = first_full else {
                self.backlog_deadline.set(None);
                return;
            };
            let deadline = match self.backlog_deadline.get() {
                Some(deadline) => deadline,
                None => {
                    let wait = self.core.borrow().limits().full_queue_wait;
                    let deadline = tokio::time::Instant::now() + wait;
                    self.backlog_deadline.set(Some(deadline));
                    deadline
                }
            };
            // Registered before the check: a wake-up in between is not lost.
            let notified = room.notified();
            if !self.core.borrow().is_full(&client_id) {
                continue;
            }
            // A reader that makes room now and then is waited for (up to the
            // deadline); one that makes none for the stall time is not
            // reading, and nobody waits for it any longer.
            let stall_after = self.core.borrow().limits().stall_after;
            let until = deadline.min(tokio::time::Instant::now() + stall_after);
            if tokio::time::timeout_at(until, notified).await.is_err() {
                self.core.borrow_mut().shed(&client_id);
            }
        }
    }
}

/// Tells the control plane that a client logged in or out.
pub fn announce(
    context: &Context,
    kind: &'static str,
    client_id: &str,
    username: &str,
    peer: Option<SocketAddr>,
    protocol: &str,
) {
    context.policy.hub.publish(kind, || {
        serde_json::json!({
            "client_id": printable(client_id),
            "username": printable(username),
            "address": peer_text(peer),
            "protocol": protocol,
        })
    });
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.context.policy.hub.publish("logout", || {
            serde_json::json!({
                "client_id": printable(&self.client_id),
                "username": printable(&self.username),
                "reason": if self.said_goodbye.get() { "disconnect" } else { "closed" },
            })
        });
        tracing::info!(
            client_id = %printable(&self.client_id),
            username = %printable(&self.username),
            reason = if self.said_goodbye.get() {
                "client sent DISCONNECT"
            } else {
                "connection closed without DISCONNECT (network, keep-alive, or the broker)"
            },
            "client disconnected"
        );
        let closed = match self.core.try_borrow_mut() {
            Ok(mut core) => core.disconnected(&self.client_id, self.serial),
            Err(_) => {
                // Never expected (the core does not hold connections), but a
                // session must not stay online forever: retry from a task.
                let core = self.core.clone();
                let client_id = self.client_id.clone();
                let serial = self.serial;
                let username = self.username.clone();
                tokio::task::spawn_local(async move {
                    let closed = core.borrow_mut().disconnected(&client_id, serial);
                    if let Some(closed) = closed {
                        after_close(&core, &client_id, &username, serial, closed);
                    }
                });
                return;
            }
        };
        self.closed(closed);
    }
}

fn after_close(
    core: &Shared,
    client_id: &Rc<str>,
    username: &Rc<str>,
    serial: u64,
    closed: super::core::Closed,
) {
    if let Some(will) = closed.will {
        // A will waits for its delay, but never past the session's end (MQTT-3.1.3-9).
        let delay = match closed.session_expiry {
            Some(expiry) => will.delay.min(expiry),
            None => will.delay,
        };
        if delay.is_zero() {
            send_will(core, username, client_id, will);
        } else {
            let core = core.clone();
            let client_id = client_id.clone();
            let username = username.clone();
            tokio::task::spawn_local(async move {
                tokio::time::sleep(delay).await;
                if core.borrow().still_offline(&client_id, serial) {
                    send_will(&core, &username, &client_id, will);
                }
            });
        }
    }
    if let Some(expiry) = closed.session_expiry.filter(|expiry| !expiry.is_zero()) {
        let core = core.clone();
        let client_id = client_id.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(expiry).await;
            core.borrow_mut().expire_session(&client_id, serial);
        });
    }
}

/// The client certificate shown in the TLS handshake, if any, as the
/// broker's trust sees it.
pub fn presented_certificate(
    context: &Context,
    io: &ntex_io::IoRef,
) -> Option<crate::broker::certificates::Presented> {
    let chain = io.query::<ntex_tls::rustls::PeerCertChain<'static>>();
    let chain = chain.as_ref()?;
    Some(context.policy.certificates.present(&chain.0))
}

/// The client id a client sent, sharing `client_id`'s allocation when they are
/// the same (unless the broker assigned one): every connected client keeps both.
pub fn sent_client_id(client_id: &Rc<str>, sent: &str) -> Rc<str> {
    if **client_id == *sent {
        client_id.clone()
    } else {
        Rc::from(sent)
    }
}

/// Publishes a will if its user may publish there now (the rights at the
/// moment it goes out, not at CONNECT).
pub fn send_will(core: &Shared, username: &str, client_id: &str, will: Will) {
    let mut core = core.borrow_mut();
    if !core.may_send_will(username, client_id, &will.message.topic) {
        tracing::info!(client_id = %printable(client_id), topic = %printable(&will.message.topic), "last will dropped: no write permission");
        return;
    }
    // Nobody waits for a will's publisher: full queues shed on their own
    // when the next publisher gives up waiting.
    let username: Rc<str> = Rc::from(username);
    if core.publish(will.message, Some(&username)).is_err() {
        tracing::info!(client_id = %printable(client_id), "last will not kept: over the retained quota");
    }
}

/// The reason string sent with a v5 DISCONNECT of the broker's.
pub fn reason_text(reason: u8) -> Option<&'static str> {
    Some(match reason {
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x87 => "not authorized (user removed)",
        0x8D => "keep alive timeout",
        0x8E => "session taken over by a new connection with the same client id",
        code::TOPIC_NAME_INVALID => "topic name invalid or over the broker's limits",
        0x94 => "topic alias invalid",
        code::PACKET_TOO_LARGE => "packet too large",
        _ => return None,
    })
}

/// A message's expiry instant from a v5 Message Expiry Interval.
pub fn expiry_from(seconds: Option<u32>) -> Option<Instant> {
    seconds.map(|seconds| Instant::now() + Duration::from_secs(u64::from(seconds)))
}

/// The peer address of a connection, for logs and the registry.
pub fn peer_text(address: Option<SocketAddr>) -> String {
    address.map_or_else(|| "unknown".to_owned(), |address| address.to_string())
}

/// A client id for clients that sent none (MQTT-3.1.3-6).
pub fn assigned_client_id() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    format!("mqreg-{:016x}", OsRng.next_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ProtocolLimits {
        ProtocolLimits {
            max_topic_levels: 3,
            max_topic_bytes: 10,
            max_client_id_bytes: 8,
            max_packet_size: 1024,
        }
    }

    #[test]
    fn topics_are_held_to_levels_and_bytes() {
        let limits = limits();
        assert!(limits.topic_fits("a/b/c"));
        assert!(!limits.topic_fits("a/b/c/d"), "four levels");
        assert!(limits.topic_fits("abcdefghij"));
        assert!(!limits.topic_fits("abcdefghijk"), "eleven bytes");
        assert!(limits.topic_fits(""));
    }

    #[test]
    fn client_ids_without_control_characters_only() {
        let limits = limits();
        assert!(limits.client_id_acceptable("dev-1"));
        assert!(limits.client_id_acceptable(""));
        assert!(!limits.client_id_acceptable("\0dropped"));
        assert!(!limits.client_id_acceptable("a\nb"));
        assert!(!limits.client_id_acceptable("123456789"));
    }
}
