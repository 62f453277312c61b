//! mqreg against mosquitto on this machine, in one run: logins, throughput and
//! latency with the same users and equivalent ACLs, as ratios mqreg/mosquitto.
//!
//! Run with `cargo bench --bench broker` (needs Debian's `mosquitto` and
//! `taskset`). Each broker is pinned to CPU 0; the load runs on one tokio
//! worker pinned to CPU 1.
//! `MQREG_BENCH_ROUNDS` (default 3) sets the rounds; the median is printed.
//! This measures, it asserts nothing about time.
//!
//! Logins are hand-built MQTT 3.1.1 CONNECT packets (connect, read CONNACK,
//! close), so the client costs next to nothing; messages go through rumqttc.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqreg::password::{self, HashCost};
use mqreg::state::store::Store;
use mqreg::state::{Role, User};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "../tests/common/connect.rs"]
mod connect;
use connect::connect_packet;

const USERS: usize = 2_000;
const CONCURRENCY: usize = 100;
const MESSAGES: usize = 100_000;
const PAYLOAD: usize = 100;
const FAN_IN_PUBLISHERS: usize = 100;
const FAN_IN_RATE: u64 = 100;
const FAN_IN_SECONDS: u64 = 3;

fn user(i: usize) -> String {
    format!("bench{i:04}")
}
fn secret(i: usize) -> String {
    format!("secret-{i:04}")
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Mqreg,
    Mosquitto,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Mqreg => "mqreg",
            Kind::Mosquitto => "mosquitto",
        }
    }
}

struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            // The shell's own `kill`: no procps needed on a minimal machine.
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "broker on {port} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Users with real argon2id hashes (the crate's defaults), a role with the
/// same rights as the mosquitto ACL below.
fn prepare_mqreg(dir: &Path) -> PathBuf {
    let state = dir.join("state.toml");
    let cost = HashCost::default();
    let hashes: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                scope.spawn(move || {
                    (0..USERS)
                        .filter(|i| i % 2 == w)
                        .map(|i| (i, password::hash(&secret(i), cost)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, String)> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        all.sort();
        all.into_iter().map(|(_, hash)| hash).collect()
    });
    Store::new(&state)
        .update(|s| {
            let mut role = Role::default();
            role.allow(&"readwrite:bench/{username}/#".parse().unwrap());
            role.allow(&"read:bench/#".parse().unwrap());
            s.roles.insert("bench".into(), role);
            for (i, hash) in hashes.iter().enumerate() {
                s.users.insert(
                    user(i),
                    User {
                        password_hash: hash.clone(),
                        roles: vec!["bench".into()],
                        created: chrono::Utc::now(),
                    },
                );
            }
            Ok(())
        })
        .unwrap();
    state
}

fn prepare_mosquitto(dir: &Path, port: u16) -> PathBuf {
    let passwords = dir.join("passwd");
    let mut text = String::new();
    for i in 0..USERS {
        writeln!(text, "{}:{}", user(i), secret(i)).unwrap();
    }
    std::fs::write(&passwords, text).unwrap();
    let status = Command::new("mosquitto_passwd")
        .arg("-U")
        .arg(&passwords)
        .status()
        .unwrap();
    assert!(status.success(), "mosquitto_passwd -U failed");
    let acl = dir.join("acl");
    std::fs::write(&acl, "pattern readwrite bench/%u/#\npattern read bench/#\n").unwrap();
    let config = dir.join("mosquitto.conf");
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n\
             set_tcp_nodelay true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 100\n\
             log_type error\n",
            passwords.display(),
            acl.display()
        ),
    )
    .unwrap();
    config
}

fn start(kind: Kind, dir: &Path, state: &Path) -> Running {
    let port = free_port();
    let mut command = Command::new("taskset");
    command.args(["-c", "0"]);
    match kind {
        Kind::Mqreg => {
            command
                .arg(env!("CARGO_BIN_EXE_mqreg"))
                .arg("--state")
                .arg(state)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .env("RUST_LOG", "error");
        }
        Kind::Mosquitto => {
            let config = prepare_mosquitto(dir, port);
            command.arg("mosquitto").arg("-c").arg(config);
        }
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port);
    Running { child, port }
}

/// Connects, returns the CONNACK code (None: no CONNACK), disconnects.
async fn login(port: u16, packet: &[u8]) -> Option<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.set_nodelay(true).ok()?;
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

/// Logins per second, and how many got the expected CONNACK code.
async fn storm(port: u16, packets: Arc<Vec<Vec<u8>>>, expect: u8) -> (f64, usize) {
    let next = Arc::new(AtomicU64::new(0));
    let good = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, good, packets) = (next.clone(), good.clone(), packets.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= packets.len() {
                        break;
                    }
                    if login(port, &packets[i]).await == Some(expect) {
                        good.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let rate = packets.len() as f64 / start.elapsed().as_secs_f64();
    (rate, good.load(Ordering::Relaxed) as usize)
}

async fn client(port: u16, id: &str, i: usize) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    options.set_credentials(user(i), secret(i));
    options.set_keep_alive(Duration::from_secs(60));
    options.set_inflight(100);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 1000);
    loop {
        match events.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("{id} cannot connect: {e}"),
        }
    }
    (client, events)
}

/// Messages per second from one publisher to one wildcard subscriber, and how many were lost.
async fn throughput(port: u16, qos: rumqttc::QoS) -> (f64, usize) {
    let (subscriber, mut sub_events) = client(port, "tp-sub", 1).await;
    subscriber.subscribe("bench/#", qos).await.unwrap();
    loop {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) = sub_events.poll().await {
            break;
        }
    }
    let (publisher, mut pub_events) = client(port, "tp-pub", 0).await;
    let pumping = tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
    let topic = format!("bench/{}/data", user(0));
    let start = Instant::now();
    let sending = tokio::spawn(async move {
        let payload = vec![b'x'; PAYLOAD];
        for _ in 0..MESSAGES {
            publisher
                .publish(&topic, qos, false, payload.clone())
                .await
                .unwrap();
        }
        publisher
    });
    let mut received = 0;
    let mut last = start;
    let deadline = start + Duration::from_secs(60);
    while received < MESSAGES {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(Duration::from_secs(2));
        match tokio::time::timeout(wait, sub_events.poll()).await {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_)))) => {
                received += 1;
                last = Instant::now();
            }
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    let _publisher = sending.await.unwrap();
    pumping.abort();
    (
        received as f64 / (last - start).as_secs_f64().max(1e-9),
        MESSAGES - received,
    )
}

/// p50 and p99 latency (ms) of 100 publishers × 100 msg/s into one wildcard subscriber.
async fn fan_in(port: u16) -> (f64, f64, usize) {
    let base = Instant::now();
    let (subscriber, mut sub_events) = client(port, "fan-sub", USERS - 1).await;
    subscriber
        .subscribe("bench/#", rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    loop {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) = sub_events.poll().await {
            break;
        }
    }
    let mut publishers = Vec::new();
    for p in 0..FAN_IN_PUBLISHERS {
        let (publisher, mut events) = client(port, &format!("fan-pub-{p}"), p).await;
        let pump = tokio::spawn(async move { while events.poll().await.is_ok() {} });
        let send = tokio::spawn(async move {
            let topic = format!("bench/{}/t", user(p));
            let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / FAN_IN_RATE));
            for _ in 0..FAN_IN_RATE * FAN_IN_SECONDS {
                ticks.tick().await;
                let sent = base.elapsed().as_nanos() as u64;
                let _ = publisher
                    .publish(
                        &topic,
                        rumqttc::QoS::AtMostOnce,
                        false,
                        sent.to_be_bytes().to_vec(),
                    )
                    .await;
            }
            publisher
        });
        publishers.push((pump, send));
    }
    let expected = FAN_IN_PUBLISHERS * (FAN_IN_RATE * FAN_IN_SECONDS) as usize;
    let mut latencies = Vec::with_capacity(expected);
    while latencies.len() < expected {
        match tokio::time::timeout(Duration::from_secs(3), sub_events.poll()).await {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))))
                if p.payload.len() == 8 =>
            {
                let sent = u64::from_be_bytes(p.payload[..8].try_into().unwrap());
                latencies.push(base.elapsed().as_nanos() as u64 - sent);
            }
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    for (pump, send) in publishers {
        let _ = send.await;
        pump.abort();
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1e6
    };
    (at(0.5), at(0.99), expected - latencies.len())
}

/// p99 latency (ms) of a publisher sending 100 msg/s to a subscriber while
/// `running` holds: what the cold storm does to traffic already flowing.
async fn live_publisher_latency(port: u16, running: Arc<std::sync::atomic::AtomicBool>) -> f64 {
    let base = Instant::now();
    let (subscriber, mut sub_events) = client(port, "probe-sub", USERS - 2).await;
    let topic = format!("bench/{}/probe", user(USERS - 3));
    subscriber
        .subscribe(&topic, rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    loop {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) = sub_events.poll().await {
            break;
        }
    }
    let (publisher, mut pub_events) = client(port, "probe-pub", USERS - 3).await;
    let pump = tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
    let sending = {
        let running = running.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(10));
            while running.load(Ordering::Relaxed) {
                ticks.tick().await;
                let sent = base.elapsed().as_nanos() as u64;
                let _ = publisher
                    .publish(
                        &topic,
                        rumqttc::QoS::AtMostOnce,
                        false,
                        sent.to_be_bytes().to_vec(),
                    )
                    .await;
            }
        })
    };
    let mut latencies = Vec::new();
    while running.load(Ordering::Relaxed) {
        if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) =
            tokio::time::timeout(Duration::from_millis(200), sub_events.poll()).await
        {
            if let Ok(bytes) = p.payload[..].try_into() {
                latencies.push(base.elapsed().as_nanos() as u64 - u64::from_be_bytes(bytes));
            }
        }
    }
    let _ = sending.await;
    pump.abort();
    latencies.sort_unstable();
    latencies
        .get((latencies.len().max(1) - 1) * 99 / 100)
        .map_or(f64::NAN, |ns| *ns as f64 / 1e6)
}

type Figures = Vec<(&'static str, f64)>;

async fn measure(kind: Kind, dir: &Path, state: &Path) -> Figures {
    let mut figures = Figures::new();
    let right: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..USERS)
            .map(|i| {
                connect_packet(
                    format!("c{i}").as_bytes(),
                    user(i).as_bytes(),
                    secret(i).as_bytes(),
                )
            })
            .collect(),
    );
    let unknown: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..USERS)
            .map(|i| {
                connect_packet(
                    format!("u{i}").as_bytes(),
                    format!("nobody{i:04}").as_bytes(),
                    b"whatever-pw",
                )
            })
            .collect(),
    );
    let wrong: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..USERS)
            .map(|i| {
                connect_packet(
                    format!("w{i}").as_bytes(),
                    user(i).as_bytes(),
                    b"wrong-password",
                )
            })
            .collect(),
    );

    let broker = start(kind, dir, state);
    let started = Instant::now();
    let storming = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = tokio::spawn(live_publisher_latency(broker.port, storming.clone()));
    let (_, ok) = storm(broker.port, right.clone(), 0).await;
    figures.push((
        "cold storm: seconds for 2,000 logins",
        started.elapsed().as_secs_f64(),
    ));
    storming.store(false, Ordering::Relaxed);
    figures.push(("cold storm: live publisher p99 (ms)", probe.await.unwrap()));
    figures.push(("cold storm: logins refused", (USERS - ok) as f64));
    let (rate, ok) = storm(broker.port, right.clone(), 0).await;
    figures.push(("warm connect storm (logins/s)", rate));
    figures.push(("warm storm: logins refused", (USERS - ok) as f64));
    let (rate, _) = storm(broker.port, unknown, 5).await;
    figures.push(("refused, unknown users (/s)", rate));
    let (rate, _) = storm(broker.port, wrong.clone(), 5).await;
    figures.push(("refused, wrong password, first (/s)", rate));
    let (rate, _) = storm(broker.port, wrong, 5).await;
    figures.push(("refused, wrong password, again (/s)", rate));
    let (rate, lost) = throughput(broker.port, rumqttc::QoS::AtMostOnce).await;
    figures.push(("QoS 0 delivered (msgs/s)", rate));
    figures.push(("QoS 0 lost", lost as f64));
    let (rate, lost) = throughput(broker.port, rumqttc::QoS::AtLeastOnce).await;
    figures.push(("QoS 1 delivered (msgs/s)", rate));
    figures.push(("QoS 1 lost", lost as f64));
    let (p50, p99, lost) = fan_in(broker.port).await;
    figures.push(("fan-in p50 (ms)", p50));
    figures.push(("fan-in p99 (ms)", p99));
    figures.push(("fan-in lost", lost as f64));
    figures
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("MQREG_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    eprintln!("hashing {USERS} passwords with argon2id defaults...");
    let state = prepare_mqreg(dir.path());
    // The load runs on CPU 1, the brokers on CPU 0: neither slows the other.
    let pinned = Command::new("taskset")
        .args(["-cp", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut results: Vec<(Kind, Vec<Figures>)> =
        vec![(Kind::Mqreg, vec![]), (Kind::Mosquitto, vec![])];
    for round in 0..rounds {
        for (kind, runs) in &mut results {
            eprintln!("round {}/{rounds}: {}", round + 1, kind.name());
            runs.push(runtime.block_on(measure(*kind, dir.path(), &state)));
        }
    }
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cpus = std::fs::read_to_string("/proc/cpuinfo").map_or(0, |info| {
        info.lines().filter(|l| l.starts_with("processor")).count()
    });
    println!(
        "machine: {cpus} CPUs, {machine}; brokers pinned to CPU 0, load {}; median of {rounds} rounds",
        if pinned { "to CPU 1" } else { "not pinned" }
    );
    println!(
        "{:<40} {:>12} {:>12} {:>8}",
        "figure", "mqreg", "mosquitto", "ratio"
    );
    let names: Vec<&str> = results[0].1[0].iter().map(|(name, _)| *name).collect();
    for (index, name) in names.iter().enumerate() {
        let value = |k: usize| median(results[k].1.iter().map(|run| run[index].1).collect());
        let (ours, theirs) = (value(0), value(1));
        let ratio = if theirs != 0.0 {
            format!("{:.2}", ours / theirs)
        } else {
            "-".into()
        };
        println!("{name:<40} {ours:>12.2} {theirs:>12.2} {ratio:>8}");
    }
}
