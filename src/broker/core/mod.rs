//! The broker core: sessions, subscriptions, queues, retained messages and
//! wills, with no knowledge of sockets or of the MQTT wire format.
//!
//! It runs on one thread (the network worker that owns the connections), so its
//! state is plain data behind one `RefCell`, with no locks on the message path.
//! The protocol glue ([`super::mqtt`]) calls it for each packet and gives each
//! connection an [`Outlet`] to send through.
//!
//! Flow control, the rule that no acknowledged message is lost:
//! - every delivery goes through its session's queue, and the queue is pumped
//!   into the connection while the client's in-flight window (its Receive
//!   Maximum) and the socket's write buffer have room;
//! - when a publish fills a subscriber's queue to its bound, [`Broker::publish`]
//!   says so, and the glue does not read that publisher's next PUBLISH until
//!   the queue has room: publishers are read no faster than delivery goes;
//! - the wait is bounded ([`Limits::full_queue_wait`]): a subscriber that stops
//!   reading is marked stalled and loses its oldest messages, counted and
//!   logged, rather than stalling everyone (and two clients publishing to each
//!   other cannot wait on each other forever).

pub mod message;
pub mod retained;
mod stored;
pub mod trie;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroU16;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::{HashMap, HashMapExt};
use ntex_bytes::ByteString;
use tokio::sync::Notify;

pub use self::message::Message;
use self::message::{Delivery, Qos};
use self::retained::RetainedStore;
use self::trie::Trie;
use super::acl::Grants;
use super::live::LiveState;
use super::persist::records::{self, StoredSession};
use super::persist::{Change, Loaded, Store};
use crate::names::printable;

/// Shared-subscription groups whose round-robin position is remembered.
const MAX_SHARE_CURSORS: usize = 100_000;

/// Bytes one call of [`Broker::pump`] writes to one client at most: a large
/// queue (a new subscriber's retained messages, a backlog after a
/// reconnect) goes out at the pace of the socket, a slice at a time, and
/// never holds up the other connections.
const PUMP_BUDGET: usize = 64 * 1024;

/// Bounds that keep one client from taking the broker down.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Messages queued for one session before the publisher waits (online)
    /// or the oldest are dropped (offline).
    pub max_queued: usize,
    /// Unacknowledged QoS 1/2 deliveries per client, at most.
    pub max_inflight: u16,
    /// How long a publisher waits for a full subscriber queue in all before
    /// that subscriber's oldest messages are dropped.
    pub full_queue_wait: Duration,
    /// How long a full subscriber queue may go without making room before
    /// its subscriber counts as not reading (stalled): publishers stop
    /// waiting for it at once.
    pub stall_after: Duration,
    pub max_retained: usize,
    /// Bytes (topics and payloads) of all retained messages together: the
    /// last resort behind the users' quotas.
    pub max_retained_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_queued: 1_000,
            max_inflight: 100,
            full_queue_wait: Duration::from_secs(5),
            stall_after: Duration::from_millis(50),
            max_retained: 100_000,
            max_retained_bytes: 512 * 1024 * 1024,
        }
    }
}

/// A connection's way out, implemented by the protocol glue.
pub trait Outlet {
    /// Whether a packet can be written now (in-flight window and write buffer).
    fn is_ready(&self) -> bool;
    /// Writes one delivery. `packet_id` is set for QoS 1 and 2.
    fn send(&self, delivery: &Delivery, now: Instant) -> Result<(), SendError>;
    /// Writes PUBREL for a QoS 2 delivery the client has received (again,
    /// after a reconnect: MQTT-4.4.0-1).
    fn send_release(&self, packet_id: NonZeroU16) -> Result<(), SendError>;
    /// Writes PUBCOMP for a QoS 2 message the client published and has
    /// released (MQTT-4.3.3-2 in 3.1.1).
    fn send_complete(&self, packet_id: NonZeroU16) -> Result<(), SendError>;
    /// Calls back [`Broker::pump`] once the outlet is ready again.
    fn wake_when_ready(&self);
    /// Calls back [`Broker::pump`] soon, after others had their turn (and
    /// after a pause while the client is not taking what it was sent).
    fn pump_later(&self);
    /// Holds everything written from now on until store change `durable`
    /// is on disk (a QoS 2 PUBLISH whose packet id was just stored, a
    /// PUBREL whose PUBREC was).
    fn hold_until(&self, durable: u64);
    /// Closes the connection; `reason` is a v5 DISCONNECT reason code.
    fn close(&self, reason: u8);
}

#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// Larger than the client's Maximum Packet Size: skipped (MQTT-3.1.2-25).
    TooLarge,
    Closed,
}

/// v5 DISCONNECT reasons the core closes connections with.
pub mod reason {
    pub const SESSION_TAKEN_OVER: u8 = 0x8E;
    pub const ADMINISTRATIVE_ACTION: u8 = 0x98;
    pub const NOT_AUTHORIZED: u8 = 0x87;
}

/// What a subscription asked for (v5 options; v3 uses the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    pub qos: Qos,
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0: send retained messages; 1: only for a new subscription; 2: never.
    pub retain_handling: u8,
    pub subscription_id: Option<u32>,
}

#[derive(Debug, Clone)]
struct Subscription {
    options: SubscriptionOptions,
    /// The filter in the trie (without `$share/GROUP/`).
    filter: String,
    key: Rc<str>,
    shared: bool,
}

impl Subscription {
    fn trie_ref(&self, client_id: &Rc<str>) -> SubscriberRef {
        SubscriberRef {
            client_id: client_id.clone(),
            key: self.key.clone(),
            shared: self.shared,
        }
    }
}

/// A trie entry: a session and its subscription, by the filter it was
/// requested with (for a shared one, the whole `$share/GROUP/FILTER`, which
/// names the group).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SubscriberRef {
    client_id: Rc<str>,
    key: Rc<str>,
    shared: bool,
}

/// A will, held until the connection ends without a normal DISCONNECT.
#[derive(Debug, Clone)]
pub struct Will {
    pub message: Message,
    pub delay: Duration,
}

struct Connection {
    serial: u64,
    peer: Option<IpAddr>,
    address: Option<std::net::SocketAddr>,
    protocol: &'static str,
    connected_at: chrono::DateTime<chrono::Utc>,
    /// The client id the client sent (empty when one was assigned): what
    /// client id rules and bans judge.
    sent_client_id: Rc<str>,
    /// The fingerprint of the registry-issued certificate it logged in
    /// with: revoking that certificate closes it.
    certificate: Option<Rc<str>>,
    outlet: Rc<dyn Outlet>,
    receive_max: usize,
    /// Boxed: most devices set no will, and a connection is kept for hours.
    will: Option<Box<Will>>,
}

/// A session's queue of deliveries, and their bytes.
#[derive(Default)]
struct Owed {
    deliveries: VecDeque<Delivery>,
    bytes: usize,
}

impl Owed {
    fn len(&self) -> usize {
        self.deliveries.len()
    }
    fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }
    fn front(&self) -> Option<&Delivery> {
        self.deliveries.front()
    }
    fn push_back(&mut self, delivery: Delivery) {
        self.bytes += delivery.size();
        self.deliveries.push_back(delivery);
    }
    fn push_front(&mut self, delivery: Delivery) {
        self.bytes += delivery.size();
        self.deliveries.push_front(delivery);
    }
    fn pop_front(&mut self) -> Option<Delivery> {
        let delivery = self.deliveries.pop_front()?;
        self.bytes -= delivery.size();
        Some(delivery)
    }
    /// Keeps what `keep` says; returns the store keys of what went.
    fn retain(&mut self, mut keep: impl FnMut(&Delivery) -> bool) -> Vec<u64> {
        let mut gone = Vec::new();
        let mut bytes = 0;
        self.deliveries.retain(|delivery| {
            if keep(delivery) {
                bytes += delivery.size();
                true
            } else {
                gone.extend(delivery.stored);
                false
            }
        });
        self.bytes = bytes;
        gone
    }
}

/// Retained messages still to go to a new subscription, taken from the
/// retained store a slice at a time (see [`RetainedStore::scan`]).
struct RetainedScan {
    filter: String,
    options: SubscriptionOptions,
    /// The last topic looked at.
    after: Option<ByteString>,
}

/// Retained messages one refill takes at most, and topics it looks at.
const RETAINED_SLICE: usize = 64;
const RETAINED_LOOK: usize = 1024;
/// Refills of one pump call at most (a filter that matches few of many
/// retained topics goes on in a later turn).
const RETAINED_REFILLS: usize = 4;

struct Session {
    client_id: Rc<str>,
    username: Rc<str>,
    grants: Rc<Grants>,
    subscriptions: HashMap<String, Subscription>,
    queue: Owed,
    /// New subscriptions' retained messages still to be queued.
    retained_scans: Vec<RetainedScan>,
    /// Sent, not yet acknowledged, in the order sent.
    inflight: VecDeque<Delivery>,
    /// Packet ids of QoS 2 messages from this client that were routed and
    /// whose PUBREL has not come: a PUBLISH re-sent with one of them is
    /// acknowledged but not routed again (MQTT-4.3.3-2 in 3.1.1,
    /// MQTT-4.3.3-9 in 5). Part of the session, so it outlives a reconnect.
    awaiting_release: foldhash::HashSet<u16>,
    next_packet_id: u16,
    connection: Option<Connection>,
    /// Seconds the session outlives its connection; `u32::MAX` is forever.
    expiry: u32,
    /// Serial of the last connection, so a stale timer or close is ignored.
    last_serial: u64,
    /// The next key for a message of this session in the store.
    next_store_key: u64,
    /// The session is in the store (so its end must be written there).
    saved: bool,
    dropped: u64,
    /// Set when a publisher gave up waiting for this session's queue; until
    /// the client acknowledges something, publishers do not wait for it again
    /// and its oldest messages make room at once.
    stalled: bool,
    /// Publishers waiting for room in the queue; made when the first one
    /// waits (most sessions never have one, and every session is kept).
    room: Option<Rc<Notify>>,
    /// The last topic this client published to and whether it may, per state
    /// generation: a device publishes to few topics, so one entry saves
    /// matching the topic against every grant on each message.
    publish_check: Option<(ByteString, u64, bool)>,
    /// The same for the last topic delivered to it.
    receive_check: Option<(ByteString, u64, bool)>,
}

impl Session {
    /// Whether the session outlives its connection, and so is kept in the
    /// store with the messages owed to it.
    fn is_persistent(&self) -> bool {
        self.expiry != 0
    }

    /// The session as the store keeps it.
    fn record(&self) -> StoredSession {
        StoredSession {
            username: self.username.to_string(),
            expiry: self.expiry,
            offline_since_ms: self.connection.is_none().then(stored::wall_ms),
            subscriptions: self
                .subscriptions
                .iter()
                .map(|(requested, subscription)| {
                    stored::stored_subscription(requested, &subscription.options)
                })
                .collect(),
        }
    }

    /// The queue has room, or will never fill again: waiting publishers go on.
    fn wake_publishers(&self) {
        if let Some(room) = &self.room {
            room.notify_waiters();
        }
    }

    fn is_full(&self, max_queued: usize) -> bool {
        self.queue.len() >= max_queued
    }

    fn allocate_packet_id(&mut self) -> NonZeroU16 {
        loop {
            self.next_packet_id = self.next_packet_id.wrapping_add(1);
            let Some(id) = NonZeroU16::new(self.next_packet_id) else {
                continue;
            };
            if !self.inflight.iter().any(|d| d.packet_id == Some(id)) {
                return id;
            }
        }
    }
}

/// A CONNECT that passed the login check.
pub struct ConnectRequest {
    pub client_id: Rc<str>,
    pub username: Rc<str>,
    /// The client's address and port, for address bans and `client list`.
    pub address: Option<std::net::SocketAddr>,
    /// `3.1.1` or `5`.
    pub protocol: &'static str,
    /// The client id as the client sent it (empty when one was assigned).
    pub sent_client_id: Rc<str>,
    /// See [`Connection`]'s.
    pub certificate: Option<Rc<str>>,
    pub clean_start: bool,
    pub session_expiry: u32,
    pub receive_max: u16,
    pub will: Option<Will>,
    pub outlet: Rc<dyn Outlet>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ConnectOutcome {
    Accepted {
        serial: u64,
        session_present: bool,
    },
    /// The client id is held by a live session of another user.
    ClientIdInUse,
    /// A ban, a disable or a client id rule that came into force while the
    /// login was being decided refuses it.
    Barred,
}

/// Why a SUBSCRIBE filter was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SubscribeRefusal {
    NotAuthorized,
    Invalid,
    /// The user's sessions hold as many subscriptions as its quota allows.
    QuotaExceeded,
}

/// What the publisher of a message must wait for before acknowledging it.
#[derive(Default)]
pub struct Backlog {
    pub full: Vec<(Rc<str>, Rc<Notify>)>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    /// Messages dropped from full or offline queues.
    pub dropped: u64,
    /// Messages not sent because they exceed a client's maximum packet size.
    pub too_large: u64,
    /// Messages routed (from clients and wills), and their topic and
    /// payload bytes.
    pub received: u64,
    pub received_bytes: u64,
    /// Deliveries written to connections, and their bytes.
    pub sent: u64,
    pub sent_bytes: u64,
    /// Publishes refused: no write permission, or over a retained quota.
    pub not_authorized: u64,
    pub over_quota: u64,
}

/// A connected client, as `client list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientInfo {
    pub client_id: String,
    pub username: String,
    pub address: String,
    pub protocol: &'static str,
    pub connected_at: String,
    pub subscriptions: usize,
    pub queued: usize,
    pub inflight: usize,
}

/// What the core holds, for metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub counters: Counters,
    pub connections: usize,
    pub sessions: usize,
    pub subscriptions: usize,
    pub retained: usize,
    pub retained_bytes: u64,
    pub queued: usize,
    pub queued_bytes: usize,
    pub inflight: usize,
}

pub struct Broker {
    live: Arc<LiveState>,
    limits: Limits,
    /// Boxed: a table keeps room for more entries than it holds, and an
    /// empty slot then costs a pointer rather than a whole session.
    sessions: HashMap<Rc<str>, Box<Session>>,
    subscriptions: Trie<SubscriberRef>,
    retained: RetainedStore,
    share_cursor: HashMap<Rc<str>, usize>,
    /// Subscriptions of each user's sessions together, for its quota.
    subscriptions_by_user: HashMap<Rc<str>, u64>,
    next_serial: u64,
    counters: Counters,
    /// Where retained messages and persistent sessions are kept; `None`
    /// with `--persistence off`.
    store: Option<Arc<Store>>,
    /// The highest store change made since [`Broker::take_durable`] was
    /// last asked: what the packet being handled must wait for.
    durable: Option<u64>,
}

pub type Shared = Rc<RefCell<Broker>>;

impl Broker {
    pub fn new(live: Arc<LiveState>, limits: Limits, store: Option<Arc<Store>>) -> Self {
        let (max_retained, max_retained_bytes) = (limits.max_retained, limits.max_retained_bytes);
        Self {
            live,
            limits,
            sessions: HashMap::new(),
            subscriptions: Trie::new(),
            retained: RetainedStore::new(max_retained, max_retained_bytes),
            subscriptions_by_user: HashMap::new(),
            share_cursor: HashMap::new(),
            next_serial: 0,
            counters: Counters::default(),
            store,
            durable: None,
        }
    }

    /// Queues a change for the store, remembering its number for
    /// [`Broker::take_durable`].
    fn change(&mut self, change: Change) -> Option<u64> {
        let number = self.store.as_ref()?.write(change);
        self.durable = Some(number);
        Some(number)
    }

    /// The store change the current packet's answer must wait for, if any:
    /// the glue holds the connection's writes (its PUBACK, PUBREC or SUBACK)
    /// until it is on disk.
    pub fn take_durable(&mut self) -> Option<u64> {
        self.durable.take()
    }

    fn save_session(&mut self, client_id: &str) {
        if self.store.is_none() {
            return;
        }
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        if !session.is_persistent() {
            // A session kept before that now ends with its connection (a v5
            // CONNECT with Session Expiry 0) must not come back after a crash.
            if std::mem::take(&mut session.saved) {
                self.change(Change::RemoveSession(client_id.to_owned()));
            }
            return;
        }
        session.saved = true;
        let record = records::encode(&session.record());
        self.change(Change::PutSession(client_id.to_owned(), record));
    }

    fn forget_stored(&mut self, client_id: &str, keys: Vec<u64>) {
        for key in keys {
            self.change(Change::RemoveMessage(client_id.to_owned(), key));
        }
    }

    /// Brings back what the store held: retained messages, and persistent
    /// sessions (offline, with their subscriptions, owed messages and QoS 2
    /// ids awaiting PUBREL). Sessions of users that no longer exist are
    /// removed. Returns the sessions whose expiry is counting down, with the
    /// serial and time left, for the caller's timers.
    pub fn restore(&mut self, loaded: Loaded) -> Vec<(Rc<str>, u64, Duration)> {
        let now = Instant::now();
        let wall_now = stored::wall_ms();
        for retained in loaded.retained {
            let message = stored::message_of(retained.message, now, wall_now);
            if message.is_expired(now) {
                self.change(Change::RemoveRetained(message.topic.to_string()));
                continue;
            }
            // Kept even when over a quota lowered since: it was accepted.
            self.retained
                .store(Rc::new(message), retained.owner.map(Rc::from));
        }
        let users = self.live.snapshot();
        let mut timers = Vec::new();
        let mut interned = stored::Interned::default();
        for loaded in loaded.sessions {
            let client_id: Rc<str> = Rc::from(loaded.client_id.as_str());
            let record = loaded.session;
            let offline_for = record.offline_since_ms.map_or(0, |since| {
                u64::try_from(wall_now.saturating_sub(since)).unwrap_or(0)
            });
            let expired = record.expiry != u32::MAX
                && Duration::from_millis(offline_for)
                    >= Duration::from_secs(u64::from(record.expiry));
            if expired || !users.state.users.contains_key(&record.username) || record.expiry == 0 {
                self.change(Change::RemoveSession(loaded.client_id));
                continue;
            }
            let username: Rc<str> = Rc::from(record.username.as_str());
            self.next_serial += 1;
            let serial = self.next_serial;
            let mut session = Box::new(Session {
                client_id: client_id.clone(),
                username: username.clone(),
                grants: self.grants_for(&username, &client_id),
                subscriptions: HashMap::new(),
                queue: Owed::default(),
                retained_scans: Vec::new(),
                inflight: VecDeque::new(),
                awaiting_release: loaded.awaiting.iter().copied().collect(),
                next_packet_id: 0,
                connection: None,
                expiry: record.expiry,
                last_serial: serial,
                next_store_key: loaded.messages.last().map_or(0, |(key, _)| key + 1),
                saved: true,
                dropped: 0,
                stalled: false,
                room: None,
                publish_check: None,
                receive_check: None,
            });
            for stored in &record.subscriptions {
                let Some((share, filter)) = parse_shared(&stored.requested) else {
                    continue;
                };
                let subscription = Subscription {
                    options: stored::options_of(stored),
                    filter: filter.to_owned(),
                    key: Rc::from(stored.requested.as_str()),
                    shared: share.is_some(),
                };
                self.subscriptions
                    .insert(filter, subscription.trie_ref(&client_id));
                if session
                    .subscriptions
                    .insert(stored.requested.clone(), subscription)
                    .is_none()
                {
                    *self
                        .subscriptions_by_user
                        .entry(username.clone())
                        .or_default() += 1;
                }
            }
            for (key, delivery) in loaded.messages {
                let message = interned.message(&delivery.message, now, wall_now);
                session
                    .queue
                    .push_back(stored::delivery_of(delivery, message, key));
            }
            // Packet ids go on from the last one sent before the restart
            // (deliveries are stored in sending order), as they would have
            // without it. Starting again from 1 is allowed once an id's
            // exchange is complete, but a client that keeps a stale entry
            // for a re-sent QoS 2 PUBLISH (libmosquitto queues it twice)
            // would then hand that old message on in place of the new one
            // reusing its id.
            session.next_packet_id = session
                .queue
                .deliveries
                .iter()
                .rev()
                .find_map(|delivery| delivery.packet_id)
                .map_or(0, NonZeroU16::get);
            if record.expiry != u32::MAX {
                let left = Duration::from_secs(u64::from(record.expiry))
                    .saturating_sub(Duration::from_millis(offline_for));
                timers.push((client_id.clone(), serial, left));
            }
            self.sessions.insert(client_id, session);
        }
        self.durable = None;
        timers
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// A publish the glue refused (no permission): counted with the drops.
    pub fn count_not_authorized(&mut self) {
        self.counters.not_authorized += 1;
    }

    fn grants_for(&self, username: &str, client_id: &str) -> Rc<Grants> {
        let snapshot = self.live.snapshot();
        Rc::new(Grants::compute(
            &snapshot.state,
            snapshot.generation,
            username,
            client_id,
        ))
    }

    /// The session's grants, recomputed when the state changed.
    fn current_grants(live: &LiveState, session: &mut Session) -> Rc<Grants> {
        if session.grants.generation != live.generation() {
            let snapshot = live.snapshot();
            session.grants = Rc::new(Grants::compute(
                &snapshot.state,
                snapshot.generation,
                &session.username,
                &session.client_id,
            ));
        }
        session.grants.clone()
    }

    /// Binds a logged-in connection to its session (MQTT-3.1.2-4..6, MQTT-3.2.2-1..3).
    pub fn connect(&mut self, request: ConnectRequest) -> (ConnectOutcome, Vec<Will>) {
        let mut wills = Vec::new();
        // The login was decided on an earlier state; this one is the state
        // `apply_state` last closed connections for, on this same thread.
        let snapshot = self.live.snapshot();
        let now = chrono::Utc::now();
        let barred = snapshot
            .state
            .barrier(
                Some(&request.username),
                &request.sent_client_id,
                request.address.map(|address| address.ip()),
                now,
            )
            .is_some()
            || request.certificate.as_deref().is_some_and(|fingerprint| {
                !snapshot
                    .state
                    .certificate_is_live(&request.username, fingerprint, now)
            });
        drop(snapshot);
        if barred {
            return (ConnectOutcome::Barred, wills);
        }
        if let Some(existing) = self.sessions.get(&request.client_id) {
            if existing.connection.is_some() && existing.username != request.username {
                return (ConnectOutcome::ClientIdInUse, wills);
            }
        }
        self.next_serial += 1;
        let serial = self.next_serial;
        let mut session_present = false;
        let discard = match self.sessions.get_mut(&request.client_id) {
            Some(existing) => {
                // Takeover (MQTT-3.1.4-3): the old connection goes, its will
                // with it unless it is delayed and the session resumes.
                if let Some(old) = existing.connection.take() {
                    old.outlet.close(reason::SESSION_TAKEN_OVER);
                    if let Some(will) = old.will {
                        if will.delay.is_zero() || request.clean_start {
                            wills.push(*will);
                        }
                    }
                }
                // A session that was to end with its connection (clean
                // session, expiry 0) ends now, whatever the new one asks.
                request.clean_start || existing.username != request.username || existing.expiry == 0
            }
            None => false,
        };
        if discard {
            self.remove_session(&request.client_id.clone());
        }
        let grants = self.grants_for(&request.username, &request.client_id);
        let session = self
            .sessions
            .entry(request.client_id.clone())
            .or_insert_with(|| {
                Box::new(Session {
                    client_id: request.client_id.clone(),
                    username: request.username.clone(),
                    grants: grants.clone(),
                    subscriptions: HashMap::new(),
                    queue: Owed::default(),
                    retained_scans: Vec::new(),
                    inflight: VecDeque::new(),
                    awaiting_release: foldhash::HashSet::default(),
                    next_packet_id: 0,
                    connection: None,
                    expiry: 0,
                    last_serial: 0,
                    next_store_key: 0,
                    saved: false,
                    dropped: 0,
                    stalled: false,
                    room: None,
                    publish_check: None,
                    receive_check: None,
                })
            });
        if session.last_serial != 0 {
            session_present = true;
            // Unacknowledged deliveries go out again first, same packet ids, DUP set.
            while let Some(mut delivery) = session.inflight.pop_back() {
                delivery.dup = true;
                session.queue.push_front(delivery);
            }
        }
        if session.stalled {
            session.stalled = false;
            tracing::info!(
                client_id = %printable(&request.client_id),
                dropped_total = session.dropped,
                "session resumed after dropping queued messages"
            );
        }
        session.grants = grants;
        session.expiry = request.session_expiry;
        session.last_serial = serial;
        let receive_max = usize::from(request.receive_max.min(self.limits.max_inflight).max(1));
        session.connection = Some(Connection {
            serial,
            peer: request.address.map(|address| address.ip()),
            address: request.address,
            protocol: request.protocol,
            connected_at: chrono::Utc::now(),
            sent_client_id: request.sent_client_id,
            certificate: request.certificate,
            outlet: request.outlet,
            receive_max,
            will: request.will.map(Box::new),
        });
        self.save_session(&request.client_id);
        (
            ConnectOutcome::Accepted {
                serial,
                session_present,
            },
            wills,
        )
    }

    /// The client sent DISCONNECT: no will unless v5 reason 0x04 asked for it,
    /// a v5 client may change its session expiry (MQTT-3.14.4-3, 3.14.2-2),
    /// and the session is offline from now on, before the socket is even
    /// closed, so that an immediate reconnect finds it in its final state.
    pub fn disconnect_requested(
        &mut self,
        client_id: &str,
        serial: u64,
        keep_will: bool,
        session_expiry: Option<u32>,
    ) -> Option<Closed> {
        let session = self.sessions.get_mut(client_id)?;
        let connection = session.connection.as_mut().filter(|c| c.serial == serial)?;
        if !keep_will {
            connection.will = None;
        }
        if let Some(expiry) = session_expiry {
            session.expiry = expiry;
        }
        self.disconnected(client_id, serial)
    }

    /// The connection ended. Returns the will to send now or after its delay,
    /// and how long the session stays (`None`: forever; zero: removed now).
    pub fn disconnected(&mut self, client_id: &str, serial: u64) -> Option<Closed> {
        let session = self.sessions.get_mut(client_id)?;
        if session.connection.as_ref().map(|c| c.serial) != Some(serial) {
            return None;
        }
        let connection = session.connection.take().expect("checked above");
        let expiry = session.expiry;
        // In-flight deliveries stay where they are: a resumed session sends
        // them again first (see `connect`).
        let will = connection.will.map(|will| *will);
        if expiry == 0 {
            self.remove_session(client_id);
        } else {
            // QoS 0 messages are not kept for offline sessions.
            session.queue.retain(|delivery| delivery.qos > 0);
            session.wake_publishers();
            self.save_session(client_id);
        }
        Some(Closed {
            will,
            session_expiry: (expiry != u32::MAX).then(|| Duration::from_secs(u64::from(expiry))),
        })
    }

    /// Ends a session whose expiry ran out, if it is still offline since `serial`.
    pub fn expire_session(&mut self, client_id: &str, serial: u64) {
        if let Some(session) = self.sessions.get(client_id) {
            if session.connection.is_none() && session.last_serial == serial {
                self.remove_session(client_id);
            }
        }
    }

    /// Whether the session that `serial` connected is still offline (a will
    /// delay that runs out then sends the will).
    pub fn still_offline(&self, client_id: &str, serial: u64) -> bool {
        self.sessions
            .get(client_id)
            .is_none_or(|session| session.connection.is_none() && session.last_serial == serial)
    }

    fn count_out_subscriptions(&mut self, username: &Rc<str>, count: u64) {
        if let Some(held) = self.subscriptions_by_user.get_mut(username) {
            *held = held.saturating_sub(count);
            if *held == 0 {
                self.subscriptions_by_user.remove(username);
            }
        }
    }

    fn remove_session(&mut self, client_id: &str) {
        if let Some(session) = self.sessions.remove(client_id) {
            self.count_out_subscriptions(&session.username, session.subscriptions.len() as u64);
            for subscription in session.subscriptions.values() {
                self.subscriptions.remove(
                    &subscription.filter,
                    &subscription.trie_ref(&session.client_id),
                );
            }
            session.wake_publishers();
            if session.saved {
                self.change(Change::RemoveSession(client_id.to_owned()));
            }
        }
    }

    /// Adds a subscription after checking the read permission, and queues the
    /// retained messages it gets; the caller pumps after the SUBACK.
    pub fn subscribe(
        &mut self,
        client_id: &str,
        requested: &str,
        options: SubscriptionOptions,
    ) -> Result<Qos, SubscribeRefusal> {
        let Some((share, filter)) = parse_shared(requested) else {
            return Err(SubscribeRefusal::Invalid);
        };
        let live = self.live.clone();
        let session = self
            .sessions
            .get_mut(client_id)
            .ok_or(SubscribeRefusal::NotAuthorized)?;
        let grants = Self::current_grants(&live, session);
        if !grants.may_subscribe(filter) {
            return Err(SubscribeRefusal::NotAuthorized);
        }
        if !session.subscriptions.contains_key(requested) {
            let held = self
                .subscriptions_by_user
                .entry(session.username.clone())
                .or_default();
            if *held >= grants.quotas.subscriptions {
                return Err(SubscribeRefusal::QuotaExceeded);
            }
            *held += 1;
        }
        let subscription = Subscription {
            options,
            filter: filter.to_owned(),
            key: Rc::from(requested),
            shared: share.is_some(),
        };
        self.subscriptions
            .insert(filter, subscription.trie_ref(&session.client_id));
        let existed = session
            .subscriptions
            .insert(requested.to_owned(), subscription)
            .is_some();
        let client = session.client_id.clone();
        self.save_session(&client);
        // Retained messages: never for shared subscriptions (MQTT-3.8.4-?), and
        // as the v5 Retain Handling option says (MQTT-3.3.1-9..11).
        let send_retained = share.is_none()
            && match options.retain_handling {
                0 => true,
                1 => !existed,
                _ => false,
            };
        if send_retained && !self.retained.is_empty() {
            // Not sent here, nor all at once: the session's pump takes them a
            // slice at a time as the socket takes them, once the SUBACK is
            // on its way (the glue pumps then).
            let session = self.sessions.get_mut(client_id).expect("looked up above");
            session.retained_scans.retain(|scan| scan.filter != filter);
            session.retained_scans.push(RetainedScan {
                filter: filter.to_owned(),
                options,
                after: None,
            });
        }
        Ok(options.qos)
    }

    /// Removes a subscription; returns whether there was one.
    pub fn unsubscribe(&mut self, client_id: &str, requested: &str) -> bool {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return false;
        };
        let Some(subscription) = session.subscriptions.remove(requested) else {
            return false;
        };
        session
            .retained_scans
            .retain(|scan| scan.filter != requested);
        self.subscriptions.remove(
            &subscription.filter,
            &subscription.trie_ref(&session.client_id),
        );
        let username = session.username.clone();
        self.count_out_subscriptions(&username, 1);
        self.save_session(client_id);
        true
    }

    /// Whether `username`, connected as `client_id`, may publish to `topic`
    /// now. The session's cached answer when it is still there; a publish
    /// that is still being read when its connection's DISCONNECT already
    /// ended the session is judged from the state directly.
    pub fn may_publish(&mut self, client_id: &str, username: &str, topic: &ByteString) -> bool {
        let generation = self.live.generation();
        let live = &self.live;
        let Some(session) = self
            .sessions
            .get_mut(client_id)
            .filter(|session| &*session.username == username)
        else {
            return self.grants_for(username, client_id).may_publish(topic);
        };
        if let Some((last, seen, allowed)) = &session.publish_check {
            if *seen == generation && last == topic {
                return *allowed;
            }
        }
        let allowed = Self::current_grants(live, session).may_publish(topic);
        session.publish_check = Some((topic.clone(), session.grants.generation, allowed));
        allowed
    }

    /// Whether a message on `topic` may reach the session now (a revoked
    /// permission stops deliveries even to old subscriptions).
    fn may_receive(live: &LiveState, session: &mut Session, topic: &ByteString) -> bool {
        let generation = live.generation();
        if let Some((last, seen, allowed)) = &session.receive_check {
            if *seen == generation && last == topic {
                return *allowed;
            }
        }
        let allowed = Self::current_grants(live, session).may_receive(topic);
        session.receive_check = Some((topic.clone(), session.grants.generation, allowed));
        allowed
    }

    /// Whether the user may publish its will to `topic`, judged with the rights
    /// the user has now (none if deleted).
    pub fn may_send_will(&self, username: &str, client_id: &str, topic: &str) -> bool {
        self.grants_for(username, client_id).may_publish(topic)
    }

    /// Routes a message (whose publish permission was checked) to every
    /// matching subscription and to the retained store. `owner`, the user
    /// who published it, is charged for it when it is retained; a retained
    /// message over its quota (or the broker's ceiling) is refused whole,
    /// never routed and then dropped.
    pub fn publish(
        &mut self,
        message: Message,
        owner: Option<&Rc<str>>,
    ) -> Result<Backlog, retained::OverLimit> {
        // The broker's own `$SYS` figures are neither traffic nor kept on
        // disk (they are published again after a restart).
        let system = owner.is_none() && message.topic.starts_with("$SYS/");
        if !system {
            self.counters.received += 1;
            self.counters.received_bytes += (message.topic.len() + message.payload.len()) as u64;
        }
        let message = Rc::new(message);
        let now = Instant::now();
        // Converted for the store once, when a change needs it.
        let mut for_store: Option<records::StoredMessage> = None;
        if message.retain {
            let quota = owner.map(|owner| {
                let quotas = self.live.snapshot().state.quotas_of(owner);
                retained::Usage {
                    count: quotas.retained_messages,
                    bytes: quotas.retained_bytes,
                }
            });
            if let Err(over) = self.retained.admits(&message, owner, quota) {
                self.counters.over_quota += 1;
                return Err(over);
            }
            match self.retained.store(message.clone(), owner.cloned()) {
                retained::Outcome::Kept if self.store.is_some() && !system => {
                    let stored = for_store.insert(stored::stored_message(&message, now));
                    let record = records::encode(&records::RetainedRecord {
                        message: stored,
                        owner: owner.map(|owner| &**owner),
                    });
                    self.change(Change::PutRetained(message.topic.to_string(), record));
                }
                retained::Outcome::Removed => {
                    self.change(Change::RemoveRetained(message.topic.to_string()));
                }
                retained::Outcome::Kept => {}
            }
        }
        // client → (granted QoS, retain flag, subscription ids), one delivery per client.
        let mut targets: HashMap<Rc<str>, (Qos, bool, Vec<u32>)> = HashMap::new();
        let mut groups: HashMap<Rc<str>, Vec<Rc<str>>> = HashMap::new();
        let sessions = &self.sessions;
        self.subscriptions
            .for_each_match(&message.topic, |subscriber| {
                if subscriber.shared {
                    groups
                        .entry(subscriber.key.clone())
                        .or_default()
                        .push(subscriber.client_id.clone());
                    return;
                }
                let Some(session) = sessions.get(&subscriber.client_id) else {
                    return;
                };
                let Some(subscription) = session.subscriptions.get(&*subscriber.key) else {
                    return;
                };
                let options = subscription.options;
                if options.no_local && message.publisher.as_deref() == Some(&*session.client_id) {
                    return;
                }
                // A client with overlapping subscriptions gets one delivery,
                // at the highest QoS, with every subscription id (MQTT-3.3.4-2, -5).
                let entry =
                    targets
                        .entry(session.client_id.clone())
                        .or_insert((0, false, Vec::new()));
                entry.0 = entry.0.max(options.qos.min(message.qos));
                entry.1 |= options.retain_as_published && message.retain;
                entry.2.extend(options.subscription_id);
            });
        for (share, mut members) in groups {
            members.sort_unstable();
            members.dedup();
            if let Some((client, options)) = self.pick_share_member(&share, &members, &message) {
                targets.insert(
                    client,
                    (
                        options.qos.min(message.qos),
                        options.retain_as_published && message.retain,
                        options.subscription_id.into_iter().collect(),
                    ),
                );
            }
        }
        let mut backlog = Backlog::default();
        let live = self.live.clone();
        let store = self.store.clone();
        let mut durable = None;
        for (client_id, (qos, retain, subscription_ids)) in targets {
            let Some(session) = self.sessions.get_mut(&client_id) else {
                continue;
            };
            if !Self::may_receive(&live, session, &message.topic) {
                continue;
            }
            if session.connection.is_none() && qos == 0 {
                continue;
            }
            let mut delivery = Delivery {
                message: message.clone(),
                qos,
                retain,
                subscription_ids,
                packet_id: None,
                dup: false,
                received: false,
                stored: None,
            };
            // Owed to a persistent session: on disk before the publisher's
            // acknowledgement leaves (the glue holds it, see `take_durable`).
            if let Some(store) = store
                .as_ref()
                .filter(|_| qos > 0 && session.is_persistent())
            {
                let key = session.next_store_key;
                session.next_store_key += 1;
                let stored = for_store.get_or_insert_with(|| stored::stored_message(&message, now));
                let record = records::encode(&records::DeliveryRecord {
                    message: stored,
                    qos,
                    retain,
                    subscription_ids: &delivery.subscription_ids,
                    packet_id: None,
                    received: false,
                });
                durable = Some(store.write(Change::PutMessage(client_id.to_string(), key, record)));
                delivery.stored = Some(key);
            }
            session.queue.push_back(delivery);
            if session.connection.is_none() {
                // Offline: bounded (in bytes when kept on disk, else in
                // messages), oldest dropped, logged once until the client is
                // back.
                let on_disk = store.is_some() && session.is_persistent();
                let max_bytes = if on_disk {
                    let quota = Self::current_grants(&live, session).quotas.queued_bytes;
                    usize::try_from(quota).unwrap_or(usize::MAX)
                } else {
                    0
                };
                let over = |queue: &Owed| {
                    if on_disk {
                        queue.bytes > max_bytes && queue.len() > 1
                    } else {
                        queue.len() > self.limits.max_queued
                    }
                };
                while over(&session.queue) {
                    let dropped = session.queue.pop_front().expect("over a bound: not empty");
                    if let (Some(store), Some(key)) = (&store, dropped.stored) {
                        durable =
                            Some(store.write(Change::RemoveMessage(client_id.to_string(), key)));
                    }
                    session.dropped += 1;
                    self.counters.dropped += 1;
                    if !session.stalled {
                        session.stalled = true;
                        tracing::warn!(
                            client_id = %printable(&client_id),
                            max_queued = self.limits.max_queued,
                            max_bytes,
                            "offline session's queue full: its oldest messages are dropped until it reconnects"
                        );
                    }
                }
                continue;
            }
            self.pump(&client_id);
            let Some(session) = self.sessions.get_mut(&client_id) else {
                continue;
            };
            if session.connection.is_some() && session.is_full(self.limits.max_queued) {
                // A client's own messages coming back to it: its reads are
                // what would be paused, and with them the acknowledgements
                // that make room, so waiting cannot help. It is treated as
                // stalled instead: its oldest messages make room.
                let own = message.publisher.as_deref() == Some(&*client_id);
                if own && !session.stalled {
                    session.stalled = true;
                    tracing::warn!(
                        client_id = %printable(&client_id),
                        "client's own queue full while it publishes: its oldest queued messages are dropped until it reads again"
                    );
                }
                if session.stalled {
                    if let Some(key) = session.queue.pop_front().and_then(|d| d.stored) {
                        if let Some(store) = &store {
                            durable = Some(
                                store.write(Change::RemoveMessage(client_id.to_string(), key)),
                            );
                        }
                    }
                    session.dropped += 1;
                    self.counters.dropped += 1;
                } else {
                    let room = session.room.get_or_insert_with(|| Rc::new(Notify::new()));
                    backlog.full.push((client_id.clone(), room.clone()));
                }
            }
        }
        if durable.is_some() {
            self.durable = self.durable.max(durable);
        }
        Ok(backlog)
    }

    /// One member of a shared subscription group, round robin, preferring
    /// members that are online and still allowed to read the topic.
    fn pick_share_member(
        &mut self,
        share: &Rc<str>,
        members: &[Rc<str>],
        message: &Message,
    ) -> Option<(Rc<str>, SubscriptionOptions)> {
        // Groups come and go; a full map starts over, which only restarts
        // the round robin.
        if self.share_cursor.len() >= MAX_SHARE_CURSORS && !self.share_cursor.contains_key(share) {
            self.share_cursor.clear();
        }
        let cursor = self.share_cursor.entry(share.clone()).or_insert(0);
        let start = *cursor;
        *cursor = cursor.wrapping_add(1);
        let live = self.live.clone();
        let mut offline = None;
        for step in 0..members.len() {
            let client = &members[(start + step) % members.len()];
            let Some(session) = self.sessions.get_mut(client) else {
                continue;
            };
            let Some(options) = session.subscriptions.get(&**share).map(|s| s.options) else {
                continue;
            };
            if options.no_local && message.publisher.as_deref() == Some(&session.client_id) {
                continue;
            }
            if !Self::may_receive(&live, session, &message.topic) {
                continue;
            }
            if session.connection.is_some() {
                return Some((client.clone(), options));
            }
            offline.get_or_insert((client.clone(), options));
        }
        offline
    }

    /// Whether the session is online and its queue at its bound.
    pub fn is_full(&self, client_id: &str) -> bool {
        self.sessions.get(client_id).is_some_and(|session| {
            session.connection.is_some() && session.is_full(self.limits.max_queued)
        })
    }

    /// A publisher waited long enough for this session: drop its oldest
    /// queued messages to below the bound and count them; the first time, mark
    /// the session stalled and log it.
    pub fn shed(&mut self, client_id: &str) {
        let max_queued = self.limits.max_queued;
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let mut dropped = 0u64;
        let mut forgotten = Vec::new();
        while session.queue.len() >= max_queued && !session.queue.is_empty() {
            forgotten.extend(session.queue.pop_front().and_then(|d| d.stored));
            dropped += 1;
        }
        session.dropped += dropped;
        self.counters.dropped += dropped;
        if !session.stalled {
            session.stalled = true;
            tracing::warn!(
                client_id = %printable(client_id),
                dropped,
                dropped_total = session.dropped,
                "subscriber not reading: oldest queued messages dropped, and dropped from now on until it reads again"
            );
        }
        session.wake_publishers();
        self.forget_stored(client_id, forgotten);
    }

    /// Sends queued deliveries while the client's window and socket have room.
    pub fn pump(&mut self, client_id: &str) {
        let max_queued = self.limits.max_queued;
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let Some(connection) = session.connection.as_ref() else {
            return;
        };
        let was_full = session.is_full(max_queued);
        let now = Instant::now();
        let outlet = connection.outlet.clone();
        let receive_max = connection.receive_max;
        let mut too_large = 0;
        let store = self.store.clone();
        let mut forgotten = Vec::new();
        let mut budget = PUMP_BUDGET;
        let mut refills = RETAINED_REFILLS;
        loop {
            if session.queue.len() < RETAINED_SLICE && !session.retained_scans.is_empty() {
                if refills == 0 {
                    outlet.pump_later();
                    break;
                }
                refills -= 1;
                refill_retained(&mut self.retained, &self.live, session, now);
            }
            let Some(front) = session.queue.front() else {
                if !session.retained_scans.is_empty() {
                    continue;
                }
                break;
            };
            if budget == 0 {
                outlet.pump_later();
                break;
            }
            // A delivery sent before is owed to the client whatever its
            // expiry (a PUBREL above all).
            if front.packet_id.is_none() && front.message.is_expired(now) {
                forgotten.extend(session.queue.pop_front().and_then(|d| d.stored));
                continue;
            }
            if front.qos > 0 && session.inflight.len() >= receive_max {
                break;
            }
            if !outlet.is_ready() {
                outlet.wake_when_ready();
                break;
            }
            let mut delivery = session.queue.pop_front().expect("front exists");
            if delivery.qos > 0 && delivery.packet_id.is_none() {
                delivery.packet_id = Some(session.allocate_packet_id());
                // A QoS 2 delivery goes again after a restart with the same
                // id (MQTT-4.4.0-1), or the client would take it for a new
                // message: the id is on disk before the PUBLISH leaves.
                if let (Some(store), Some(key), 2) = (&store, delivery.stored, delivery.qos) {
                    let record = records::encode(&stored::stored_delivery(&delivery, now));
                    let number = store.write(Change::PutMessage(client_id.to_owned(), key, record));
                    outlet.hold_until(number);
                }
            }
            let sent = match delivery.packet_id.filter(|_| delivery.received) {
                Some(id) => outlet.send_release(id),
                None => outlet.send(&delivery, now),
            };
            budget = budget.saturating_sub(delivery.size().max(1));
            match sent {
                Ok(()) => {
                    self.counters.sent += 1;
                    self.counters.sent_bytes += delivery.size() as u64;
                    if delivery.qos > 0 {
                        session.inflight.push_back(delivery);
                    }
                }
                Err(SendError::TooLarge) => {
                    too_large += 1;
                    forgotten.extend(delivery.stored);
                    tracing::debug!(client_id = %printable(client_id), "message over the client's maximum packet size: not sent");
                }
                Err(SendError::Closed) => {
                    session.queue.push_front(delivery);
                    break;
                }
            }
        }
        if was_full && !session.is_full(max_queued) {
            session.wake_publishers();
        }
        self.counters.too_large += too_large;
        self.forget_stored(client_id, forgotten);
    }

    /// A QoS 2 PUBLISH from the client with this packet id arrived: whether
    /// to route it (false: it was routed before and its PUBREL has not come,
    /// so this is a re-send, acknowledged but not delivered again).
    pub fn exactly_once_arrived(&mut self, client_id: &str, packet_id: NonZeroU16) -> bool {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return true;
        };
        let new = session.awaiting_release.insert(packet_id.get());
        if new && session.is_persistent() {
            // On disk with the message before the PUBREC leaves: a re-send
            // after a restart is still recognised.
            self.change(Change::Await(client_id.to_owned(), packet_id.get()));
        }
        new
    }

    /// The client released a QoS 2 message it published (PUBREL): the packet
    /// id names a new message from now on (MQTT-4.3.3-2 in 3.1.1). The
    /// glue's PUBCOMP waits for the change ([`Broker::take_durable`]): once
    /// the client has it, it may send a new message with the id, which a
    /// release lost in a crash would have taken for a re-send.
    pub fn released(&mut self, client_id: &str, packet_id: NonZeroU16) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        if session.awaiting_release.remove(&packet_id.get()) && session.saved {
            self.change(Change::Release(client_id.to_owned(), packet_id.get()));
        }
    }

    /// The same for a PUBREL the glue leaves to the session to answer: the
    /// PUBCOMP goes out through the connection once the release is on disk.
    pub fn complete(&mut self, client_id: &str, serial: u64, packet_id: NonZeroU16) {
        self.released(client_id, packet_id);
        let durable = self.take_durable();
        let Some(connection) = self
            .sessions
            .get(client_id)
            .and_then(|session| session.connection.as_ref())
            .filter(|connection| connection.serial == serial)
        else {
            return;
        };
        if let Some(number) = durable {
            connection.outlet.hold_until(number);
        }
        let _ = connection.outlet.send_complete(packet_id);
    }

    /// The client received a QoS 2 delivery (PUBREC): what it is owed now
    /// is the PUBREL (MQTT-4.3.3-3), also after a reconnect or a restart, so
    /// that is stored before the PUBREL leaves.
    pub fn received(&mut self, client_id: &str, serial: u64, packet_id: NonZeroU16) {
        let store = self.store.clone();
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let Some(connection) = session.connection.as_ref().filter(|c| c.serial == serial) else {
            return;
        };
        let outlet = connection.outlet.clone();
        if let Some(delivery) = session
            .inflight
            .iter_mut()
            .find(|d| d.packet_id == Some(packet_id) && d.qos == 2)
        {
            delivery.received = true;
            if let (Some(store), Some(key)) = (&store, delivery.stored) {
                let record = records::encode(&stored::stored_delivery(delivery, Instant::now()));
                let number = store.write(Change::PutMessage(client_id.to_owned(), key, record));
                outlet.hold_until(number);
            }
        }
        // Unknown ids are released too, so the client can finish.
        let _ = outlet.send_release(packet_id);
    }

    /// The client acknowledged a QoS 1 delivery (PUBACK) or completed a QoS 2
    /// one (PUBCOMP, or a v5 PUBREC that refused it), in whatever order
    /// (MQTT-4.6.0-2 orders PUBACKs among themselves only).
    pub fn acknowledged(&mut self, client_id: &str, serial: u64, packet_id: NonZeroU16) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        if session.connection.as_ref().map(|c| c.serial) != Some(serial) {
            return;
        }
        // The oldest first: acknowledgements usually come in order.
        let mut forgotten = None;
        if let Some(position) = session
            .inflight
            .iter()
            .position(|d| d.packet_id == Some(packet_id))
        {
            forgotten = session.inflight.remove(position).and_then(|d| d.stored);
        }
        if session.stalled {
            session.stalled = false;
            tracing::info!(
                client_id = %printable(client_id),
                dropped_total = session.dropped,
                "subscriber reading again"
            );
        }
        if let Some(key) = forgotten {
            // Nobody waits for this to be durable: a delivery done twice
            // after a crash is one QoS 1 allows, and a QoS 2 one goes as
            // PUBREL, which the client completes again.
            self.change(Change::RemoveMessage(client_id.to_owned(), key));
        }
        self.pump(client_id);
    }

    /// Applies a new state: connections of users that no longer exist are
    /// closed and their sessions removed; connections of disabled users, or
    /// that a ban or a client id rule now refuses, are closed, their sessions
    /// kept. Revoked permissions need nothing here: grants are recomputed on
    /// the next packet or delivery.
    pub fn apply_state(&mut self) {
        let snapshot = self.live.snapshot();
        let state = &snapshot.state;
        let now = chrono::Utc::now();
        let mut deleted = Vec::new();
        for session in self.sessions.values_mut() {
            if !state.users.contains_key(&*session.username) {
                deleted.push(session.client_id.clone());
                if let Some(connection) = session.connection.take() {
                    tracing::info!(
                        username = %printable(&session.username),
                        client_id = %printable(&session.client_id),
                        "user deleted: disconnecting"
                    );
                    connection.outlet.close(reason::NOT_AUTHORIZED);
                }
                continue;
            }
            let Some(connection) = session.connection.as_mut() else {
                continue;
            };
            let barrier = state
                .barrier(
                    Some(&session.username),
                    &connection.sent_client_id,
                    connection.peer,
                    now,
                )
                .map(|barrier| barrier.to_string())
                .or_else(|| {
                    let fingerprint = connection.certificate.as_deref()?;
                    (!state.certificate_is_live(&session.username, fingerprint, now))
                        .then(|| "certificate revoked or expired".to_owned())
                });
            if let Some(barrier) = barrier {
                tracing::info!(
                    username = %printable(&session.username),
                    client_id = %printable(&session.client_id),
                    reason = %barrier,
                    "disconnecting"
                );
                // The connection ends the usual way (its session stays as its
                // expiry says), but without its will: a barred client's last
                // word is not published.
                connection.will = None;
                connection.outlet.close(reason::ADMINISTRATIVE_ACTION);
            }
        }
        for client_id in deleted {
            self.remove_session(&client_id);
        }
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The connected clients, by client id.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let mut clients: Vec<ClientInfo> = self
            .sessions
            .values()
            .filter_map(|session| {
                let connection = session.connection.as_ref()?;
                Some(ClientInfo {
                    client_id: session.client_id.to_string(),
                    username: session.username.to_string(),
                    address: connection
                        .address
                        .map_or_else(|| "unknown".to_owned(), |address| address.to_string()),
                    protocol: connection.protocol,
                    connected_at: crate::output::rfc3339(connection.connected_at),
                    subscriptions: session.subscriptions.len(),
                    queued: session.queue.len(),
                    inflight: session.inflight.len(),
                })
            })
            .collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        clients
    }

    /// Closes a client's connection as an administrative action (v5
    /// DISCONNECT 0x98). Its will is published, as for any connection the
    /// server closes (MQTT-3.1.2-8), and its session stays as its expiry
    /// says. False when no such client is connected.
    pub fn kick(&mut self, client_id: &str) -> bool {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return false;
        };
        let Some(connection) = session.connection.as_ref() else {
            return false;
        };
        tracing::info!(
            client_id = %printable(client_id),
            username = %printable(&session.username),
            "kicked by an admin: disconnecting"
        );
        connection.outlet.close(reason::ADMINISTRATIVE_ACTION);
        true
    }

    pub fn stats(&self) -> Stats {
        let mut stats = Stats {
            counters: self.counters,
            sessions: self.sessions.len(),
            retained: self.retained.len(),
            retained_bytes: self.retained.bytes(),
            ..Stats::default()
        };
        for session in self.sessions.values() {
            stats.connections += usize::from(session.connection.is_some());
            stats.subscriptions += session.subscriptions.len();
            stats.queued += session.queue.len();
            stats.queued_bytes += session.queue.bytes;
            stats.inflight += session.inflight.len();
        }
        stats
    }
}

/// Queues the next slice of the first retained scan's messages that the
/// session may read now.
fn refill_retained(
    retained: &mut RetainedStore,
    live: &LiveState,
    session: &mut Session,
    now: Instant,
) {
    let grants = Broker::current_grants(live, session);
    let Some(scan) = session.retained_scans.first_mut() else {
        return;
    };
    let (found, next) = retained.scan(
        &scan.filter,
        scan.after.as_deref(),
        RETAINED_SLICE,
        RETAINED_LOOK,
        now,
    );
    let options = scan.options;
    match next {
        Some(next) => scan.after = Some(next),
        None => {
            session.retained_scans.remove(0);
        }
    }
    for message in found {
        if !grants.may_receive(&message.topic) {
            continue;
        }
        session.queue.push_back(Delivery {
            qos: message.qos.min(options.qos),
            message,
            retain: true,
            subscription_ids: options.subscription_id.into_iter().collect(),
            packet_id: None,
            dup: false,
            received: false,
            stored: None,
        });
    }
}

/// What remains to be done when a connection ended.
pub struct Closed {
    pub will: Option<Will>,
    pub session_expiry: Option<Duration>,
}

/// Splits `$share/GROUP/FILTER` (MQTT 4.8.2) into its group and filter; other
/// filters come back whole.
/// `None` for a malformed shared subscription.
pub fn parse_shared(requested: &str) -> Option<(Option<&str>, &str)> {
    let Some(rest) = requested.strip_prefix("$share/") else {
        return Some((None, requested));
    };
    let (group, filter) = rest.split_once('/')?;
    if group.is_empty() || group.contains(['+', '#']) || filter.is_empty() {
        return None;
    }
    Some((Some(group), filter))
}

#[cfg(test)]
mod tests;
