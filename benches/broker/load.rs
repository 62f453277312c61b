//! The loads themselves: login storms, one-to-one throughput, fan-in latency,
//! and a live publisher probing latency while something else goes on.
//! Each is bounded in messages and in time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::raw::{self, PacketReader, PublishTemplate};
use crate::{secret, user};

pub const CONCURRENCY: usize = 100;
pub const MESSAGES: usize = 100_000;
pub const PAYLOAD: usize = 100;
pub const FAN_IN_PUBLISHERS: usize = 100;
pub const FAN_IN_RATE: u64 = 100;
pub const FAN_IN_SECONDS: u64 = 3;
/// Unacknowledged QoS 1 messages a publisher keeps in flight, as the brokers'
/// own limit towards subscribers (`--max-inflight`, `max_inflight_messages`).
const QOS1_WINDOW: usize = 100;
/// Packets written with one system call.
const BATCH: usize = 64;
/// A receiver that hears nothing for this long stops waiting.
const QUIET: Duration = Duration::from_secs(2);
/// A login refused while the broker's password checks are all taken is tried
/// again after this long, as a device reconnects, for at most `GIVE_UP`.
const RETRY_DELAY: Duration = Duration::from_millis(50);
const GIVE_UP: Duration = Duration::from_secs(120);

/// Connects, returns the CONNACK code (None: no CONNACK), disconnects.
async fn login(port: u16, packet: &[u8]) -> Option<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.set_nodelay(true).ok()?;
    // Close with a reset: a FIN handshake and TIME_WAIT for each of thousands
    // of logins would make this core, not the broker, the bottleneck.
    #[allow(deprecated)] // set_linger blocks only on close with a non-zero timeout
    stream.set_linger(Some(Duration::ZERO)).ok()?;
    stream.write_all(packet).await.ok()?;
    let mut ack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut ack))
        .await
        .ok()?
        .ok()?;
    if ack[3] == 0 {
        let _ = stream.write_all(&[0xE0, 0]).await;
    }
    Some(ack[3])
}

pub struct Storm {
    /// Logins per second.
    pub rate: f64,
    /// How many got the expected CONNACK code.
    pub expected: usize,
    /// Refusals of logins that should pass, each tried again (the bound on
    /// waiting password checks refuses what is over it).
    pub retried: usize,
    /// p99 of one login, connect to CONNACK (ms).
    pub p99_ms: f64,
    /// The longest a login took (ms), retries included.
    pub max_ms: f64,
}

/// Logins, `CONCURRENCY` at a time.
pub async fn storm(port: u16, packets: Arc<Vec<Vec<u8>>>, expect: u8) -> Storm {
    let next = Arc::new(AtomicU64::new(0));
    let good = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, good, retried, packets) =
                (next.clone(), good.clone(), retried.clone(), packets.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= packets.len() {
                        break;
                    }
                    let began = Instant::now();
                    let mut code = login(port, &packets[i]).await;
                    while expect == 0 && code == Some(5) && began.elapsed() < GIVE_UP {
                        retried.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(RETRY_DELAY).await;
                        code = login(port, &packets[i]).await;
                    }
                    if code == Some(expect) {
                        good.fetch_add(1, Ordering::Relaxed);
                    }
                    // Until it got in: what the device waited.
                    latencies.push(began.elapsed().as_nanos() as u64);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let rate = packets.len() as f64 / start.elapsed().as_secs_f64();
    Storm {
        rate,
        expected: good.load(Ordering::Relaxed) as usize,
        retried: retried.load(Ordering::Relaxed) as usize,
        max_ms: latencies.iter().max().copied().unwrap_or(0) as f64 / 1e6,
        p99_ms: percentiles(latencies).1,
    }
}

pub struct Throughput {
    /// Distinct messages delivered per second, from the first sent to the last received.
    pub rate: f64,
    pub lost: usize,
    pub duplicates: usize,
}

/// `messages` numbered messages from one publisher, as fast as the broker
/// takes them, to one wildcard subscriber (which acknowledges QoS 1 at once).
pub async fn throughput(port: u16, qos: u8, messages: usize) -> Throughput {
    throughput_to(port, qos, messages, false).await
}

/// The same to a subscriber with a persistent session (Clean Session 0):
/// what is owed to it is kept by a broker with persistence.
pub async fn throughput_to(port: u16, qos: u8, messages: usize, persistent: bool) -> Throughput {
    let client_id = if persistent { "tp-sub-kept" } else { "tp-sub" };
    if persistent {
        // A session left from an earlier round goes first.
        forget_session(port, client_id, 1).await;
    }
    let (mut subscriber, _) =
        raw::connect_session(port, client_id, &user(1), &secret(1), !persistent)
            .await
            .unwrap();
    raw::subscribe(&mut subscriber, "bench/#", qos)
        .await
        .unwrap();
    let publisher = raw::connect(port, "tp-pub", &user(0), &secret(0))
        .await
        .unwrap();
    let template = PublishTemplate::new(&format!("bench/{}/data", user(0)), qos, PAYLOAD);
    let start = Instant::now();
    let sending = tokio::spawn(publish_numbered(publisher, template, messages));

    let mut seen = vec![false; messages];
    let (mut received, mut duplicates) = (0, 0);
    let mut last = start;
    let mut reader = PacketReader::new();
    let mut acks = Vec::new();
    let deadline = start + Duration::from_secs(60 + messages as u64 / 10_000);
    while received < messages && Instant::now() < deadline {
        match tokio::time::timeout(QUIET, reader.fill(&mut subscriber)).await {
            Ok(Ok(true)) => {}
            _ => break,
        }
        let now = Instant::now();
        while let Some(packet) = reader.next_packet() {
            if !packet.is_publish() {
                continue;
            }
            let (packet_id, payload) = packet.publish_parts();
            if let Some(id) = packet_id {
                acks.extend_from_slice(&raw::puback(id));
            }
            let number = u32::from_be_bytes(payload[..4].try_into().unwrap()) as usize;
            if std::mem::replace(&mut seen[number], true) {
                duplicates += 1;
            } else {
                received += 1;
                last = now;
            }
        }
        if !acks.is_empty() {
            subscriber.write_all(&acks).await.unwrap();
            acks.clear();
        }
    }
    let _ = tokio::time::timeout(QUIET, sending).await;
    if persistent {
        // Gone again, so that no later load also feeds an offline session.
        drop(subscriber);
        forget_session(port, client_id, 1).await;
    }
    Throughput {
        rate: received as f64 / (last - start).as_secs_f64().max(1e-9),
        lost: messages - received,
        duplicates,
    }
}

/// Publishes messages numbered 0..MESSAGES in batches; at QoS 1 keeps at
/// most `QOS1_WINDOW` unacknowledged.
async fn publish_numbered(stream: TcpStream, template: PublishTemplate, messages: usize) {
    let qos1 = template.packet_id_at.is_some();
    let (incoming, mut outgoing) = stream.into_split();
    let window = Arc::new(Semaphore::new(if qos1 {
        QOS1_WINDOW
    } else {
        Semaphore::MAX_PERMITS
    }));
    let mut incoming = Some(incoming);
    let acknowledging = qos1.then(|| {
        let window = window.clone();
        let mut incoming = incoming.take().expect("not taken yet");
        tokio::spawn(async move {
            let mut reader = PacketReader::new();
            let mut acked = 0;
            while acked < messages {
                match tokio::time::timeout(QUIET * 5, reader.fill(&mut incoming)).await {
                    Ok(Ok(true)) => {}
                    _ => break,
                }
                let mut count = 0;
                while let Some(packet) = reader.next_packet() {
                    count += usize::from(packet.is_puback());
                }
                window.add_permits(count);
                acked += count;
            }
        })
    });
    let mut batch = Vec::with_capacity(BATCH * template.bytes.len());
    let mut number = 0;
    while number < messages {
        let Ok(Ok(first)) = tokio::time::timeout(QUIET * 5, window.clone().acquire_owned()).await
        else {
            break;
        };
        first.forget();
        let more = window
            .available_permits()
            .min(BATCH - 1)
            .min(messages - number - 1);
        if more > 0 {
            window.try_acquire_many(more as u32).unwrap().forget();
        }
        batch.clear();
        for _ in 0..=more {
            let packet_id = (number % 65_535) as u16 + 1;
            template.append(&mut batch, packet_id, &(number as u32).to_be_bytes());
            number += 1;
        }
        if outgoing.write_all(&batch).await.is_err() {
            break;
        }
    }
    if let Some(acknowledging) = acknowledging {
        let _ = acknowledging.await;
    }
    // A well-behaved client ends with DISCONNECT and lets the broker close:
    // MQTT promises nothing for QoS 0 messages of a client that just drops
    // its socket.
    let _ = outgoing.write_all(&[0xE0, 0]).await;
    if let Some(mut incoming) = incoming {
        let mut rest = [0u8; 64];
        let _ = tokio::time::timeout(QUIET * 5, incoming.read(&mut rest)).await;
    }
}

/// Latencies in nanoseconds, as p50 and p99 in milliseconds.
fn percentiles(mut latencies: Vec<u64>) -> (f64, f64) {
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            .map_or(f64::NAN, |ns| *ns as f64 / 1e6)
    };
    (at(0.5), at(0.99))
}

/// Collects the latency of every timestamped PUBLISH until `expected` have
/// come, the stream falls quiet, or `keep_going` turns false.
async fn receive_latencies(
    stream: &mut TcpStream,
    base: Instant,
    expected: usize,
    keep_going: &AtomicBool,
) -> Vec<u64> {
    let mut reader = PacketReader::new();
    let mut latencies = Vec::with_capacity(expected.min(1 << 20));
    while latencies.len() < expected && keep_going.load(Ordering::Relaxed) {
        match tokio::time::timeout(Duration::from_millis(200), reader.fill(stream)).await {
            Ok(Ok(true)) => {}
            Ok(_) => break,
            Err(_) => continue,
        }
        let now = base.elapsed().as_nanos() as u64;
        while let Some(packet) = reader.next_packet() {
            if packet.is_publish() {
                let (_, payload) = packet.publish_parts();
                let sent = u64::from_be_bytes(payload[..8].try_into().unwrap());
                latencies.push(now.saturating_sub(sent));
            }
        }
    }
    latencies
}

/// Sends a timestamped message every `period`, starting after `phase`,
/// `count` times or until `keep_going` turns false.
async fn publish_timestamps(
    mut stream: TcpStream,
    template: PublishTemplate,
    base: Instant,
    phase: Duration,
    period: Duration,
    count: u64,
    keep_going: Arc<AtomicBool>,
) {
    tokio::time::sleep(phase).await;
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut packet = Vec::with_capacity(template.bytes.len());
    for _ in 0..count {
        ticks.tick().await;
        if !keep_going.load(Ordering::Relaxed) {
            break;
        }
        packet.clear();
        let sent = base.elapsed().as_nanos() as u64;
        template.append(&mut packet, 0, &sent.to_be_bytes());
        if stream.write_all(&packet).await.is_err() {
            break;
        }
    }
}

/// p50 and p99 latency (ms) of `FAN_IN_PUBLISHERS` publishers × `FAN_IN_RATE`
/// msg/s into one wildcard subscriber, and how many messages were lost. The
/// publishers tick at evenly spread moments, as independent devices would.
pub async fn fan_in(port: u16) -> (f64, f64, usize) {
    let base = Instant::now();
    let subscriber_user = crate::USERS - 1;
    let mut subscriber = raw::connect(
        port,
        "fan-sub",
        &user(subscriber_user),
        &secret(subscriber_user),
    )
    .await
    .unwrap();
    raw::subscribe(&mut subscriber, "bench/#", 0).await.unwrap();
    let period = Duration::from_micros(1_000_000 / FAN_IN_RATE);
    let always = Arc::new(AtomicBool::new(true));
    // Everyone logs in first: the subscriber is not reading yet.
    let mut streams = Vec::new();
    for p in 0..FAN_IN_PUBLISHERS {
        let stream = raw::connect(port, &format!("fan-pub-{p}"), &user(p), &secret(p))
            .await
            .unwrap();
        streams.push(stream);
    }
    let mut publishers = Vec::new();
    for (p, stream) in streams.into_iter().enumerate() {
        let template = PublishTemplate::new(&format!("bench/{}/t", user(p)), 0, PAYLOAD);
        let phase = period * p as u32 / FAN_IN_PUBLISHERS as u32;
        publishers.push(tokio::spawn(publish_timestamps(
            stream,
            template,
            base,
            phase,
            period,
            FAN_IN_RATE * FAN_IN_SECONDS,
            always.clone(),
        )));
    }
    let expected = FAN_IN_PUBLISHERS * (FAN_IN_RATE * FAN_IN_SECONDS) as usize;
    let latencies = receive_latencies(&mut subscriber, base, expected, &always).await;
    for publisher in publishers {
        let _ = publisher.await;
    }
    let lost = expected - latencies.len();
    let (p50, p99) = percentiles(latencies);
    (p50, p99, lost)
}

/// p99 latency (ms) of a publisher sending 100 msg/s to a subscriber while
/// `running` holds: what a storm does to traffic already flowing.
pub async fn live_publisher_latency(port: u16, running: Arc<AtomicBool>) -> f64 {
    let base = Instant::now();
    let probe = crate::USERS - 3;
    let mut subscriber = connect_retrying(port, "probe-sub", probe - 1).await;
    let topic = format!("bench/{}/probe", user(probe));
    raw::subscribe(&mut subscriber, &topic, 0).await.unwrap();
    let publisher = connect_retrying(port, "probe-pub", probe).await;
    let sending = tokio::spawn(publish_timestamps(
        publisher,
        PublishTemplate::new(&topic, 0, PAYLOAD),
        base,
        Duration::ZERO,
        Duration::from_millis(10),
        u64::MAX,
        running.clone(),
    ));
    let latencies = receive_latencies(&mut subscriber, base, usize::MAX, &running).await;
    let _ = sending.await;
    percentiles(latencies).1
}

/// Logs user `index` in, trying again while refused (as during a cold
/// storm, when the broker's password checks are all taken).
async fn connect_retrying(port: u16, client_id: &str, index: usize) -> TcpStream {
    let began = Instant::now();
    loop {
        match raw::connect(port, client_id, &user(index), &secret(index)).await {
            Ok(stream) => return stream,
            Err(error) if began.elapsed() > GIVE_UP => panic!("{client_id} cannot log in: {error}"),
            Err(_) => tokio::time::sleep(RETRY_DELAY).await,
        }
    }
}

/// Ends the session of `client_id` (user `index`): a clean session takes
/// it over and disconnects.
async fn forget_session(port: u16, client_id: &str, index: usize) {
    let (mut stream, _) = raw::connect_session(port, client_id, &user(index), &secret(index), true)
        .await
        .unwrap();
    let _ = stream.write_all(&[0xE0, 0]).await;
    let mut rest = [0u8; 16];
    let _ = tokio::time::timeout(QUIET, stream.read(&mut rest)).await;
}

/// Persistent sessions `sessions` of them, subscribed to `bench/#` and then
/// offline, and `per_session` QoS 1 messages published to them all: what a
/// restart has to bring back. Returns how long the publishing took.
pub async fn fill_offline_sessions(port: u16, sessions: usize, per_session: usize) -> Duration {
    for s in 0..sessions {
        let index = 200 + s;
        let (mut stream, _) = raw::connect_session(
            port,
            &format!("kept-{s}"),
            &user(index),
            &secret(index),
            false,
        )
        .await
        .unwrap();
        raw::subscribe(&mut stream, "bench/#", 1).await.unwrap();
        let _ = stream.write_all(&[0xE0, 0]).await;
        let mut rest = [0u8; 16];
        let _ = tokio::time::timeout(QUIET, stream.read(&mut rest)).await;
    }
    let publisher = raw::connect(port, "kept-pub", &user(0), &secret(0))
        .await
        .unwrap();
    let template = PublishTemplate::new(&format!("bench/{}/kept", user(0)), 1, PAYLOAD);
    let started = Instant::now();
    publish_numbered(publisher, template, per_session).await;
    started.elapsed()
}

/// Connects one of [`fill_offline_sessions`]' sessions again and counts the
/// messages it gets (acknowledging each) until they stop coming.
pub async fn drain_session(port: u16, session: usize) -> (bool, usize) {
    let index = 200 + session;
    let (mut stream, present) = raw::connect_session(
        port,
        &format!("kept-{session}"),
        &user(index),
        &secret(index),
        false,
    )
    .await
    .unwrap();
    let mut reader = PacketReader::new();
    let mut received = 0;
    let mut acks = Vec::new();
    while let Ok(Ok(true)) = tokio::time::timeout(QUIET, reader.fill(&mut stream)).await {
        while let Some(packet) = reader.next_packet() {
            if packet.is_publish() {
                received += 1;
                if let (Some(id), _) = packet.publish_parts() {
                    acks.extend_from_slice(&raw::puback(id));
                }
            }
        }
        if !acks.is_empty() {
            let _ = stream.write_all(&acks).await;
            acks.clear();
        }
    }
    (present, received)
}

/// Memory: connects `clients` idle clients and keeps them until the returned
/// streams are dropped.
pub async fn idle_clients(port: u16, clients: usize, first: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(clients);
    for i in first..first + clients {
        let user_index = 100 + i % (crate::USERS - 200);
        if let Ok(stream) = raw::connect(
            port,
            &format!("idle-{i}"),
            &user(user_index),
            &secret(user_index),
        )
        .await
        {
            streams.push(stream);
        }
    }
    streams
}
