//! One bridge at work: the local side fills the queue, the upstream side
//! empties it in order, and what comes from upstream is published locally.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};

use super::client::{self, Client, Event, Incoming, Options, Version};
use super::queue::{Queue, Queued};
use super::{lock, BridgeConfig, Protocol, Statuses, TopicRule};

/// QoS 1/2 messages sent upstream and not yet acknowledged, at most (an
/// MQTT 5 upstream's Receive Maximum may say fewer; for 3.1.1 the bridge's
/// `max_inflight` does).
const WINDOW: usize = 256;
/// The packet ids the upstream client cycles through (1 to this).
///
/// After a reconnect the client (rumqttc) re-sends what was not
/// acknowledged in packet-id order, PUBRELs after PUBLISHes. That is the
/// sending order only while the ids in flight do not wrap around, so the
/// forwarder lets the window drain before the ids start over
/// ([`Forwarder::fill`]): the order holds across any outage.
const PACKET_IDS: u16 = 4096;
/// Messages taken from the local side per queue commit, at most.
const BATCH: usize = 1000;
/// Messages read from the queue at once, ahead of the window: an
/// acknowledgement frees one place at a time, and a read per place (on a
/// blocking thread) cost more than the message.
const READ_AHEAD: usize = 512;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Messages remembered as just sent up, to drop when a 3.1.1 upstream sends
/// them back (a topic bridged both ways).
const ECHOES: usize = 10_000;

/// What the upstream connection reports to the forwarder.
enum Upstream {
    /// A new client (at start, and when another address is tried).
    Client(Client),
    Event(Event),
    Lost(String),
}

/// A message taken from the queue and handed to the upstream client.
struct Outstanding {
    key: u64,
    pkid: Option<u16>,
    message: Queued,
}

pub async fn run(
    config: BridgeConfig,
    local: SocketAddr,
    queue_path: PathBuf,
    statuses: Arc<Statuses>,
    mut stop: watch::Receiver<bool>,
) {
    let name = config.name.clone();
    let queue = {
        let path = queue_path.clone();
        let max = config.max_queued_bytes;
        // A bridge restarted by SIGHUP may find its queue still held for a
        // moment by a write of the one it replaces, finishing on a blocking
        // thread: it waits for it, up to a few seconds.
        let opened = tokio::task::spawn_blocking(move || {
            let mut attempts = 0;
            loop {
                match Queue::open(&path, max) {
                    Err(_) if attempts < 30 => {
                        attempts += 1;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    opened => return opened,
                }
            }
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match opened {
            Ok(queue) => Arc::new(Mutex::new(queue)),
            Err(error) => {
                tracing::error!(bridge = %name, "bridge not started: {error}");
                statuses.update(&name, |s| s.last_error = Some(error));
                let _ = stop.changed().await;
                return;
            }
        }
    };
    let tls = match config.tls.as_ref().map(tls_config).transpose() {
        Ok(tls) => tls,
        Err(error) => {
            tracing::error!(bridge = %name, "bridge not started: {error}");
            statuses.update(&name, |s| s.last_error = Some(error));
            let _ = stop.changed().await;
            return;
        }
    };
    {
        let queue = lock(&queue);
        statuses.update(&name, |s| {
            s.queued = queue.len();
            s.queued_bytes = queue.bytes();
            s.dropped = queue.dropped();
            s.upstream = config.address[0].clone();
        });
    }

    // The local side: this broker, as the configured local user.
    let (local_client, mut local_connection) = client::new(&Options {
        version: Version::V5,
        host: local.ip().to_string(),
        port: local.port(),
        client_id: config.local_client_id(),
        credentials: Some((config.local_username.clone(), config.local_password.clone())),
        keep_alive: Duration::from_secs(60),
        persistent: true,
        tls: None,
        inflight: WINDOW as u16,
    });
    let local_client = Arc::new(local_client);
    let inbound: Arc<Mutex<Inbound>> = Arc::default();
    let wake = Arc::new(Notify::new());
    // Delivered messages, removed from the queue with the writer's next
    // commit (or by the forwarder's tick when nothing is written): removal
    // never waits for an fsync.
    let delivered_keys: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
    let reader = lock(&queue).reader();
    let (taken, mut to_queue) = mpsc::channel::<(Box<Incoming>, Queued)>(BATCH * 2);
    let (up_qos0, mut qos0) = mpsc::channel::<Queued>(BATCH);

    // Local events: subscribe to what goes out, take messages into the queue.
    let local_task = {
        let config = config.clone();
        let local_client = local_client.clone();
        let statuses = statuses.clone();
        let inbound = inbound.clone();
        tokio::spawn(async move {
            let out: Vec<(String, u8)> = config
                .topics
                .iter()
                .filter(|rule| rule.direction.goes_out())
                .map(|rule| (format!("{}{}", rule.local_prefix, rule.pattern), rule.qos))
                .collect();
            let mut backoff = FIRST_BACKOFF;
            loop {
                match local_connection.poll().await {
                    Ok(Event::Connected {
                        session_present, ..
                    }) => {
                        backoff = FIRST_BACKOFF;
                        tracing::debug!(bridge = %config.name, "bridge connected to this broker");
                        if let Err(error) = local_client.subscribe(&out, true).await {
                            tracing::warn!(bridge = %config.name, "cannot subscribe locally: {error}");
                        }
                        if !session_present {
                            // The client dropped what it had sent and not
                            // got acknowledged: handed over again.
                            let again = lock(&inbound).take_lost();
                            for (topic, qos, retain, payload) in again {
                                let _ = local_client.publish(topic, qos, retain, payload).await;
                            }
                        }
                    }
                    Ok(Event::Sent(pkid)) => lock(&inbound).bind(pkid),
                    Ok(Event::Refused(reason)) => {
                        let error = format!(
                            "this broker refused the bridge's local user {}: {reason}",
                            config.local_username
                        );
                        tracing::error!(bridge = %config.name, "{error}");
                        statuses.update(&config.name, |s| s.last_error = Some(error));
                        tokio::time::sleep(jitter(backoff)).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    Ok(Event::Message(incoming)) => {
                        let Some(rule) = rule_for_local(&config.topics, &incoming.topic) else {
                            let _ = local_client.ack(&incoming).await;
                            continue;
                        };
                        let message = Queued {
                            topic: local_to_remote(rule, &incoming.topic),
                            payload: incoming.payload.clone(),
                            qos: rule.qos,
                            retain: incoming.retain,
                        };
                        if message.qos == 0 || incoming.qos == 0 {
                            let _ = local_client.ack(&incoming).await;
                            let _ = up_qos0.try_send(Queued { qos: 0, ..message });
                        } else if taken.send((incoming, message)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Event::Acked { pkid, refused }) => {
                        let done = lock(&inbound).done(pkid);
                        if let Some((upstream, incoming)) = done {
                            // Now this broker has it: the upstream may let it go.
                            let _ = upstream.ack(&incoming).await;
                        }
                        match refused {
                            None => statuses.update(&config.name, |s| s.received += 1),
                            Some(reason) => {
                                tracing::warn!(bridge = %config.name, "this broker refused a message from upstream: {reason}");
                                statuses.update(&config.name, |s| s.refused += 1);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!(bridge = %config.name, "local connection: {error}");
                        tokio::time::sleep(jitter(backoff)).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        })
    };

    // The queue's writer: a batch per commit, acknowledged locally after it.
    let writer_task = {
        let queue = queue.clone();
        let local_client = local_client.clone();
        let wake = wake.clone();
        let statuses = statuses.clone();
        let name = name.clone();
        let delivered_keys = delivered_keys.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while to_queue.recv_many(&mut batch, BATCH).await > 0 {
                let (incoming, messages): (Vec<Box<Incoming>>, Vec<Queued>) =
                    std::mem::take(&mut batch).into_iter().unzip();
                let queue = queue.clone();
                let delivered_keys = delivered_keys.clone();
                let pushed = tokio::task::spawn_blocking(move || {
                    let mut queue = lock(&queue);
                    let delivered = std::mem::take(&mut *lock(&delivered_keys));
                    queue.remove(&delivered)?;
                    let dropped = queue.push(&messages)?;
                    Ok::<_, String>((dropped, queue.len(), queue.bytes(), queue.dropped()))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                match pushed {
                    Ok((dropped_now, len, bytes, dropped)) => {
                        if dropped_now > 0 {
                            tracing::warn!(bridge = %name, dropped = dropped_now, "bridge queue full: oldest messages dropped");
                        }
                        statuses.update(&name, |s| {
                            s.queued = len;
                            s.queued_bytes = bytes;
                            s.dropped = dropped;
                        });
                        for incoming in &incoming {
                            let _ = local_client.ack(incoming).await;
                        }
                        wake.notify_one();
                    }
                    Err(error) => {
                        // Not acknowledged: the broker sends them again
                        // after the bridge reconnects locally.
                        tracing::error!(bridge = %name, "cannot write the bridge queue: {error}");
                        statuses.update(&name, |s| s.last_error = Some(error));
                    }
                }
            }
        })
    };

    // The upstream connection, with backoff and jitter between attempts and
    // the next address after a failed one.
    let (up_events, mut upstream) = mpsc::unbounded_channel::<Upstream>();
    let upstream_task = {
        let config = config.clone();
        let statuses = statuses.clone();
        tokio::spawn(async move {
            let mut index = 0;
            let mut backoff = FIRST_BACKOFF;
            loop {
                let address = &config.address[index % config.address.len()];
                let options = match upstream_options(&config, address, tls.clone()) {
                    Ok(options) => options,
                    Err(error) => {
                        let _ = up_events.send(Upstream::Lost(error));
                        tokio::time::sleep(MAX_BACKOFF).await;
                        continue;
                    }
                };
                statuses.update(&config.name, |s| s.upstream = address.clone());
                let (client, mut connection) = client::new(&options);
                if up_events.send(Upstream::Client(client)).is_err() {
                    return;
                }
                loop {
                    match connection.poll().await {
                        Ok(Event::Refused(reason)) => {
                            let _ = up_events.send(Upstream::Lost(format!(
                                "{address} refused the bridge: {reason}"
                            )));
                            tokio::time::sleep(jitter(backoff)).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                        Ok(event) => {
                            if matches!(event, Event::Connected { .. }) {
                                backoff = FIRST_BACKOFF;
                            }
                            if up_events.send(Upstream::Event(event)).is_err() {
                                return;
                            }
                        }
                        Err(error) => {
                            let _ = up_events.send(Upstream::Lost(format!("{address}: {error}")));
                            tokio::time::sleep(jitter(backoff)).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            if config.address.len() > 1 {
                                index += 1;
                                break;
                            }
                        }
                    }
                }
            }
        })
    };

    // The forwarder: the queue in order to the upstream, acknowledged
    // messages removed; what comes from upstream published locally.
    let mut forwarder = Forwarder {
        config: config.clone(),
        queue,
        reader,
        delivered_keys,
        statuses: statuses.clone(),
        client: None,
        fresh_client: true,
        connected: false,
        outstanding: VecDeque::new(),
        ahead: VecDeque::new(),
        cursor: None,
        last_pkid: 0,
        max_pkid: PACKET_IDS,
        wrap_pending: false,
        window: usize::from(config.max_inflight).clamp(1, WINDOW),
        echoes: Echoes::default(),
        local: local_client.clone(),
        inbound: inbound.clone(),
    };
    let mut delivered: Vec<u64> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => forwarder.flush_removals().await,
            message = upstream.recv() => {
                let Some(message) = message else { break };
                forwarder.handle(message, &mut delivered).await;
                // Everything already waiting, before one commit for the lot.
                while let Ok(message) = upstream.try_recv() {
                    forwarder.handle(message, &mut delivered).await;
                    if delivered.len() >= WINDOW {
                        break;
                    }
                }
                if !delivered.is_empty() {
                    forwarder.remove(std::mem::take(&mut delivered)).await;
                    forwarder.fill().await;
                } else if forwarder.outstanding.is_empty() {
                    // Just (re)connected, or nothing was in flight.
                    forwarder.fill().await;
                }
            }
            Some(message) = qos0.recv() => {
                if forwarder.connected {
                    if let Some(client) = &forwarder.client {
                        forwarder.echoes.remember(&forwarder.config, &message);
                        let _ = client.publish(message.topic, 0, message.retain, message.payload).await;
                        forwarder.statuses.update(&name, |s| s.sent += 1);
                    }
                }
            }
            _ = wake.notified() => forwarder.fill().await,
        }
    }
    if let Some(client) = &forwarder.client {
        client.disconnect().await;
    }
    local_client.disconnect().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    local_task.abort();
    writer_task.abort();
    upstream_task.abort();
    let _ = local_task.await;
    let _ = writer_task.await;
    let _ = upstream_task.await;
    tracing::info!(bridge = %name, "bridge stopped");
}

struct Forwarder {
    config: BridgeConfig,
    queue: Arc<Mutex<Queue>>,
    reader: super::queue::Reader,
    delivered_keys: Arc<Mutex<Vec<u64>>>,
    statuses: Arc<Statuses>,
    client: Option<Client>,
    /// The client is new: at its first connection nothing is retransmitted
    /// by it, whatever the broker kept of an earlier session.
    fresh_client: bool,
    connected: bool,
    outstanding: VecDeque<Outstanding>,
    /// Read from the queue, not yet handed to the client, in order. One of
    /// these may meanwhile be dropped from a full queue and is still sent
    /// (counted as dropped all the same).
    ahead: VecDeque<(u64, Queued)>,
    /// The last queue key read.
    cursor: Option<u64>,
    /// The client's packet ids, mirrored: the last one given (0 at the
    /// start and after the last id), how many there are, and whether the
    /// next one starts over (then the window drains first).
    last_pkid: u16,
    max_pkid: u16,
    wrap_pending: bool,
    /// Messages in flight upstream at most, for this connection.
    window: usize,
    echoes: Echoes,
    local: Arc<Client>,
    inbound: Arc<Mutex<Inbound>>,
}

impl Forwarder {
    async fn handle(&mut self, message: Upstream, delivered: &mut Vec<u64>) {
        let name = self.config.name.clone();
        match message {
            Upstream::Client(client) => {
                self.client = Some(client);
                self.fresh_client = true;
                self.connected = false;
                self.last_pkid = 0;
                self.wrap_pending = false;
            }
            Upstream::Lost(error) => {
                if self.connected {
                    tracing::warn!(bridge = %name, "bridge lost its upstream: {error}");
                }
                self.connected = false;
                self.statuses.update(&name, |s| {
                    s.connected = false;
                    s.last_error = Some(error);
                });
            }
            Upstream::Event(Event::Connected {
                session_present,
                receive_maximum,
            }) => {
                self.connected = true;
                self.max_pkid = receive_maximum.map_or(PACKET_IDS, |max| max.clamp(1, PACKET_IDS));
                // A 3.1.1 broker does not say how many it takes in flight; one
                // that takes fewer may drop the rest (mosquitto drops QoS 2
                // messages over its max_inflight_messages), so the config says.
                self.window = match (self.config.protocol, receive_maximum) {
                    (Protocol::V5, Some(max)) => usize::from(max).clamp(1, WINDOW),
                    (Protocol::V5, None) => WINDOW,
                    (Protocol::V311, _) => usize::from(self.config.max_inflight).clamp(1, WINDOW),
                };
                tracing::info!(bridge = %name, session_present, "bridge connected upstream");
                tracing::debug!(
                    bridge = %name,
                    outstanding = ?self.outstanding.iter().map(|o| (o.key, o.pkid)).collect::<Vec<_>>(),
                    "in flight at the reconnection"
                );
                self.statuses.update(&name, |s| s.connected = true);
                let Some(client) = self.client.clone() else {
                    return;
                };
                let incoming: Vec<(String, u8)> = self
                    .config
                    .topics
                    .iter()
                    .filter(|rule| rule.direction.comes_in())
                    .map(|rule| (format!("{}{}", rule.remote_prefix, rule.pattern), rule.qos))
                    .collect();
                if let Err(error) = client
                    .subscribe(&incoming, self.config.protocol == Protocol::V5)
                    .await
                {
                    tracing::warn!(bridge = %name, "cannot subscribe upstream: {error}");
                }
                if !session_present || self.fresh_client {
                    // What the upstream sent before is not owed an
                    // acknowledgement any more, and its packet ids name new
                    // messages.
                    lock(&self.inbound).forget_upstream();
                    // The client dropped what it had not got acknowledged
                    // (or never had it): everything outstanding goes again,
                    // in order, before anything new.
                    let again: Vec<Queued> =
                        self.outstanding.iter().map(|o| o.message.clone()).collect();
                    for outstanding in &mut self.outstanding {
                        outstanding.pkid = None;
                    }
                    for message in again {
                        self.count_pkid(message.qos);
                        let _ = client
                            .publish(message.topic, message.qos, message.retain, message.payload)
                            .await;
                    }
                }
                self.fresh_client = false;
            }
            Upstream::Event(Event::Sent(pkid)) => {
                if pkid != 0 && !self.outstanding.iter().any(|o| o.pkid == Some(pkid)) {
                    if let Some(next) = self.outstanding.iter_mut().find(|o| o.pkid.is_none()) {
                        next.pkid = Some(pkid);
                    }
                }
            }
            Upstream::Event(Event::Acked { pkid, refused }) => {
                if let Some(index) = self.outstanding.iter().position(|o| o.pkid == Some(pkid)) {
                    let done = self.outstanding.remove(index).expect("found");
                    delivered.push(done.key);
                    match refused {
                        None => self.statuses.update(&name, |s| s.sent += 1),
                        Some(reason) => {
                            tracing::warn!(bridge = %name, topic = %done.message.topic, "the upstream refused a message: {reason}");
                            self.statuses.update(&name, |s| s.refused += 1);
                        }
                    }
                }
            }
            Upstream::Event(Event::Message(incoming)) => {
                let Some(client) = &self.client else { return };
                let rule = rule_for_remote(&self.config.topics, &incoming.topic);
                let Some(rule) = rule.filter(|_| !self.echoes.is_echo(&incoming)) else {
                    // Not bridged in, or ours back from a 3.1.1 upstream.
                    let _ = client.ack(&incoming).await;
                    return;
                };
                let topic = remote_to_local(rule, &incoming.topic);
                let qos = incoming.qos.min(rule.qos);
                let (retain, payload) = (incoming.retain, incoming.payload.clone());
                if qos == 0 {
                    if self.local.publish(topic, 0, retain, payload).await.is_ok() {
                        self.statuses.update(&name, |s| s.received += 1);
                    }
                    let _ = client.ack(&incoming).await;
                    return;
                }
                {
                    let mut inbound = lock(&self.inbound);
                    if inbound.is_waiting(incoming.packet_id()) {
                        // Sent again after a reconnect while this broker
                        // is taking it: acknowledged when it has it.
                        return;
                    }
                    inbound.push(client.clone(), incoming, (topic.clone(), qos));
                }
                let _ = self.local.publish(topic, qos, retain, payload).await;
            }
            Upstream::Event(_) => {}
        }
    }

    /// Mirrors the client's packet-id counter for a publish of `qos`.
    fn count_pkid(&mut self, qos: u8) {
        if qos == 0 {
            return;
        }
        let next = self.last_pkid + 1;
        if next >= self.max_pkid {
            self.last_pkid = 0;
            self.wrap_pending = true;
        } else {
            self.last_pkid = next;
        }
    }

    /// Hands the client queued messages while the window has room; when
    /// the packet ids are about to start over, only once every message in
    /// flight is acknowledged (see [`PACKET_IDS`]).
    async fn fill(&mut self) {
        if self.wrap_pending && self.outstanding.is_empty() {
            self.wrap_pending = false;
        }
        if !self.connected || self.outstanding.len() >= self.window || self.wrap_pending {
            return;
        }
        let Some(client) = self.client.clone() else {
            return;
        };
        while self.outstanding.len() < self.window && !self.wrap_pending {
            if self.ahead.is_empty() && !self.read_ahead().await {
                return;
            }
            let Some((key, message)) = self.ahead.pop_front() else {
                return;
            };
            self.count_pkid(message.qos);
            self.echoes.remember(&self.config, &message);
            let sent = client
                .publish(
                    message.topic.clone(),
                    message.qos,
                    message.retain,
                    message.payload.clone(),
                )
                .await;
            if sent.is_err() {
                // The client is gone (the bridge is stopping): this one goes
                // first next time.
                self.ahead.push_front((key, message));
                return;
            }
            self.outstanding.push_back(Outstanding {
                key,
                pkid: None,
                message,
            });
        }
    }

    /// Reads the next messages of the queue into `ahead`: whether there
    /// were any.
    async fn read_ahead(&mut self) -> bool {
        let reader = self.reader.clone();
        let after = self.cursor;
        let next = tokio::task::spawn_blocking(move || reader.peek(after, READ_AHEAD))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        match next {
            Ok(next) => {
                if let Some((key, _)) = next.last() {
                    self.cursor = Some(*key);
                }
                self.ahead.extend(next);
                !self.ahead.is_empty()
            }
            Err(error) => {
                tracing::error!(bridge = %self.config.name, "cannot read the bridge queue: {error}");
                false
            }
        }
    }

    /// Marks delivered messages for removal (see `delivered_keys`).
    async fn remove(&mut self, keys: Vec<u64>) {
        lock(&self.delivered_keys).extend(keys);
    }

    /// Removes what was delivered when the writer has not done it meanwhile.
    async fn flush_removals(&mut self) {
        let keys = std::mem::take(&mut *lock(&self.delivered_keys));
        if keys.is_empty() {
            return;
        }
        let queue = self.queue.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let mut queue = lock(&queue);
            queue.remove(&keys)?;
            Ok::<_, String>((queue.len(), queue.bytes()))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match removed {
            Ok((len, bytes)) => self.statuses.update(&self.config.name, |s| {
                s.queued = len;
                s.queued_bytes = bytes;
            }),
            Err(error) => {
                tracing::error!(bridge = %self.config.name, "cannot update the bridge queue: {error}")
            }
        }
    }
}

/// Messages from upstream handed to this broker and not yet acknowledged
/// by it, in the order handed over. Each is acknowledged upstream only when
/// this broker acknowledged it, so after it is on disk for the persistent
/// sessions it is owed to: a gateway crash in between loses nothing, the
/// upstream sends it again.
#[derive(Default)]
struct Inbound {
    waiting: VecDeque<Forwarded>,
}

struct Forwarded {
    /// The upstream client to acknowledge it with; `None` once the upstream
    /// forgot its session (nothing to acknowledge there any more).
    upstream: Option<Client>,
    incoming: Box<Incoming>,
    topic: String,
    qos: u8,
    /// The packet id this broker knows it by, once the local client sent it.
    local_pkid: Option<u16>,
}

impl Inbound {
    fn push(&mut self, upstream: Client, incoming: Box<Incoming>, (topic, qos): (String, u8)) {
        self.waiting.push_back(Forwarded {
            upstream: Some(upstream),
            incoming,
            topic,
            qos,
            local_pkid: None,
        });
    }

    /// Whether a message with this upstream packet id is on its way in (a
    /// PUBLISH with it now is the upstream sending that one again).
    fn is_waiting(&self, upstream_pkid: u16) -> bool {
        upstream_pkid != 0
            && self
                .waiting
                .iter()
                .any(|f| f.upstream.is_some() && f.incoming.packet_id() == upstream_pkid)
    }

    /// The local client sent a PUBLISH with `pkid`: the oldest message
    /// without one is it (a re-send keeps its id, and is already bound).
    fn bind(&mut self, pkid: u16) {
        if pkid == 0 || self.waiting.iter().any(|f| f.local_pkid == Some(pkid)) {
            return;
        }
        if let Some(next) = self.waiting.iter_mut().find(|f| f.local_pkid.is_none()) {
            next.local_pkid = Some(pkid);
        }
    }

    /// This broker acknowledged `pkid`: the message, and the client to
    /// acknowledge it upstream with.
    fn done(&mut self, pkid: u16) -> Option<(Client, Box<Incoming>)> {
        let index = self
            .waiting
            .iter()
            .position(|f| f.local_pkid == Some(pkid))?;
        let done = self.waiting.remove(index)?;
        Some((done.upstream?, done.incoming))
    }

    /// The local client lost what it had sent, not what it has yet to send
    /// (no session was kept): the sent ones are to be published again, and
    /// go after the others, so that `waiting` stays in the order of the
    /// client's sends.
    fn take_lost(&mut self) -> Vec<(String, u8, bool, Vec<u8>)> {
        let (lost, kept): (VecDeque<Forwarded>, VecDeque<Forwarded>) =
            self.waiting.drain(..).partition(|f| f.local_pkid.is_some());
        self.waiting = kept;
        let mut again = Vec::with_capacity(lost.len());
        for mut forwarded in lost {
            forwarded.local_pkid = None;
            again.push((
                forwarded.topic.clone(),
                forwarded.qos,
                forwarded.incoming.retain,
                forwarded.incoming.payload.clone(),
            ));
            self.waiting.push_back(forwarded);
        }
        again
    }

    fn forget_upstream(&mut self) {
        for forwarded in &mut self.waiting {
            forwarded.upstream = None;
        }
    }
}

/// What was just sent up on topics bridged both ways, for a 3.1.1 upstream
/// (which has no No Local): a message coming back with the same topic and
/// payload is ours.
#[derive(Default)]
struct Echoes {
    counts: HashMap<(String, blake3::Hash), u32>,
    order: VecDeque<(String, blake3::Hash)>,
}

impl Echoes {
    fn remember(&mut self, config: &BridgeConfig, message: &Queued) {
        if config.protocol == Protocol::V5
            || !config
                .topics
                .iter()
                .any(|rule| rule.direction.comes_in() && remote_matches(rule, &message.topic))
        {
            return;
        }
        let key = (message.topic.clone(), blake3::hash(&message.payload));
        *self.counts.entry(key.clone()).or_default() += 1;
        self.order.push_back(key);
        while self.order.len() > ECHOES {
            if let Some(old) = self.order.pop_front() {
                self.forget(&old);
            }
        }
    }

    fn forget(&mut self, key: &(String, blake3::Hash)) {
        if let Some(count) = self.counts.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(key);
            }
        }
    }

    fn is_echo(&mut self, incoming: &Incoming) -> bool {
        if self.counts.is_empty() {
            return false;
        }
        let key = (incoming.topic.clone(), blake3::hash(&incoming.payload));
        if self.counts.contains_key(&key) {
            self.forget(&key);
            if let Some(index) = self.order.iter().position(|k| *k == key) {
                self.order.remove(index);
            }
            return true;
        }
        false
    }
}

fn local_matches(rule: &TopicRule, topic: &str) -> bool {
    topic
        .strip_prefix(rule.local_prefix.as_str())
        .is_some_and(|rest| crate::topic::matches(&rule.pattern, rest))
}

fn remote_matches(rule: &TopicRule, topic: &str) -> bool {
    topic
        .strip_prefix(rule.remote_prefix.as_str())
        .is_some_and(|rest| crate::topic::matches(&rule.pattern, rest))
}

fn rule_for_local<'a>(rules: &'a [TopicRule], topic: &str) -> Option<&'a TopicRule> {
    rules
        .iter()
        .find(|rule| rule.direction.goes_out() && local_matches(rule, topic))
}

fn rule_for_remote<'a>(rules: &'a [TopicRule], topic: &str) -> Option<&'a TopicRule> {
    rules
        .iter()
        .find(|rule| rule.direction.comes_in() && remote_matches(rule, topic))
}

fn local_to_remote(rule: &TopicRule, topic: &str) -> String {
    let rest = topic
        .strip_prefix(rule.local_prefix.as_str())
        .unwrap_or(topic);
    format!("{}{rest}", rule.remote_prefix)
}

fn remote_to_local(rule: &TopicRule, topic: &str) -> String {
    let rest = topic
        .strip_prefix(rule.remote_prefix.as_str())
        .unwrap_or(topic);
    format!("{}{rest}", rule.local_prefix)
}

/// `backoff` plus up to half of it again, so that gateways that lost the
/// same upstream do not all come back in the same instant.
fn jitter(backoff: Duration) -> Duration {
    crate::backoff::jittered(backoff, backoff / 2)
}

fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is ours and its length is given.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    if ok && end > 0 {
        String::from_utf8_lossy(&buffer[..end]).into_owned()
    } else {
        "mqreg".to_owned()
    }
}

fn upstream_options(
    config: &BridgeConfig,
    address: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Options, String> {
    let (host, port) = super::split_address(address)?;
    Ok(Options {
        version: match config.protocol {
            Protocol::V311 => Version::V311,
            Protocol::V5 => Version::V5,
        },
        host,
        port,
        client_id: config
            .client_id
            .clone()
            .unwrap_or_else(|| format!("{}.{}", hostname(), config.name)),
        credentials: config
            .username
            .clone()
            .map(|user| (user, config.password.clone().unwrap_or_default())),
        keep_alive: Duration::from_secs(config.keep_alive_seconds.max(5)),
        persistent: true,
        tls,
        inflight: PACKET_IDS,
    })
}

/// The TLS client config of `[bridges.tls]`: the upstream's CA, and our
/// certificate for mutual TLS. The upstream's certificate must name the
/// address's host.
fn tls_config(tls: &super::BridgeTls) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.ca)
        .map_err(|e| format!("cannot read tls.ca {}: {e}", tls.ca.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.ca {}: {e}", tls.ca.display()))?;
    for ca in cas {
        roots
            .add(ca)
            .map_err(|e| format!("tls.ca {}: {e}", tls.ca.display()))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots);
    let config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("cannot read tls.cert {}: {e}", cert.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("tls.cert {}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read tls.key {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("tls.cert and tls.key: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::Direction;

    fn rule(pattern: &str, local: &str, remote: &str) -> TopicRule {
        TopicRule {
            pattern: pattern.into(),
            direction: Direction::Both,
            qos: 1,
            local_prefix: local.into(),
            remote_prefix: remote.into(),
        }
    }

    #[test]
    fn topics_change_prefix_on_the_way() {
        let rule = rule("sensors/#", "plant/", "site4/");
        assert!(local_matches(&rule, "plant/sensors/t1"));
        assert!(!local_matches(&rule, "plant/valves/v1"));
        assert!(!local_matches(&rule, "other/sensors/t1"));
        assert_eq!(
            local_to_remote(&rule, "plant/sensors/t1"),
            "site4/sensors/t1"
        );
        assert!(remote_matches(&rule, "site4/sensors/t1"));
        assert_eq!(
            remote_to_local(&rule, "site4/sensors/t1"),
            "plant/sensors/t1"
        );
    }

    fn upstream_client() -> Client {
        client::new(&Options {
            version: Version::V311,
            host: "127.0.0.1".into(),
            port: 1,
            client_id: "test".into(),
            credentials: None,
            keep_alive: Duration::from_secs(30),
            persistent: true,
            tls: None,
            inflight: 20,
        })
        .0
    }

    fn forward(inbound: &mut Inbound, topic: &str, upstream_pkid: u16) {
        inbound.push(
            upstream_client(),
            Box::new(Incoming::for_test(topic, upstream_pkid)),
            (topic.to_owned(), 1),
        );
    }

    #[test]
    fn a_message_from_upstream_is_acknowledged_there_when_this_broker_acknowledges_it() {
        let mut inbound = Inbound::default();
        forward(&mut inbound, "a", 7);
        forward(&mut inbound, "b", 8);
        // The local client sends them with its own ids, in order; a re-send
        // of the first keeps its id and binds nothing new.
        inbound.bind(100);
        inbound.bind(100);
        inbound.bind(101);
        assert!(
            inbound.is_waiting(7),
            "a re-sent PUBLISH 7 is not taken twice"
        );
        assert!(
            inbound.done(999).is_none(),
            "an unknown id acknowledges nothing"
        );
        let (_, second) = inbound.done(101).expect("b");
        assert_eq!(second.topic, "b");
        let (_, first) = inbound.done(100).expect("a");
        assert_eq!(first.packet_id(), 7);
        assert!(!inbound.is_waiting(7), "id 7 names a new message now");
    }

    #[test]
    fn a_lost_upstream_session_leaves_nothing_to_acknowledge_or_skip() {
        let mut inbound = Inbound::default();
        forward(&mut inbound, "a", 7);
        inbound.bind(100);
        inbound.forget_upstream();
        assert!(
            !inbound.is_waiting(7),
            "a new message may come with id 7 from a new session"
        );
        assert!(inbound.done(100).is_none());
        assert!(inbound.waiting.is_empty());
    }

    #[test]
    fn a_lost_local_session_hands_over_again_what_was_sent() {
        let mut inbound = Inbound::default();
        forward(&mut inbound, "a", 7);
        forward(&mut inbound, "b", 8);
        inbound.bind(100);
        // "a" was sent and is lost; "b" is still to be sent by the client.
        let again: Vec<String> = inbound
            .take_lost()
            .into_iter()
            .map(|(topic, ..)| topic)
            .collect();
        assert_eq!(again, ["a"]);
        inbound.bind(1);
        inbound.bind(2);
        assert_eq!(inbound.done(1).expect("b").1.topic, "b");
        assert_eq!(inbound.done(2).expect("a").1.topic, "a");
    }

    #[test]
    fn jitter_adds_at_most_half() {
        for _ in 0..100 {
            let waited = jitter(Duration::from_millis(1000));
            assert!(waited >= Duration::from_millis(1000) && waited < Duration::from_millis(1500));
        }
    }
}
