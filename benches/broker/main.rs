//! mqreg against mosquitto on this machine, in one run: logins, throughput and
//! latency with the same users and equivalent ACLs, as ratios mqreg/mosquitto.
//!
//! Run with `cargo bench --bench broker` (needs Debian's `mosquitto` and
//! `taskset`). Each broker is pinned to CPU 0; the load runs on one tokio
//! worker pinned to CPU 1.
//! `MQREG_BENCH_ROUNDS` (default 3) sets the rounds; the median is printed.
//! This measures, it asserts nothing about time.
//!
//! The load speaks raw MQTT (`raw.rs`): hand-built CONNECTs for the storms,
//! pre-encoded PUBLISH packets written in batches for throughput, so that the
//! one core of load outruns the one core of broker.

mod brokers;
mod load;
mod quota;
mod raw;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use brokers::Kind;
use raw::connect_packet;

const USERS: usize = 2_000;

fn user(i: usize) -> String {
    format!("bench{i:04}")
}
fn secret(i: usize) -> String {
    format!("secret-{i:04}")
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

    let wanted = |group: &str| {
        std::env::var("MQREG_BENCH_ONLY")
            .map_or(true, |only| only.split(',').any(|g| g.trim() == group))
    };
    let mut storm_target = f64::NAN;
    if wanted("storms") {
        // The cold storm's target moves with this machine's speed, so it is
        // measured in the same run, on the broker's core, just before the storm.
        let verify = std::thread::spawn(|| {
            pin_this_thread_to_cpu(0);
            // The cost the bench users were hashed with.
            mqreg::password::time_verify(mqreg::password::HashCost::default(), 9).as_secs_f64()
        })
        .join()
        .unwrap();
        figures.push(("argon2 verify on CPU 0 (ms)", verify * 1e3));
        storm_target = 1.2 * USERS as f64 * verify / BROKER_CORES;
        figures.push(("cold storm target: 1.2 x 2,000 verifies (s)", storm_target));
    }
    let broker = brokers::start(kind, dir, state);
    let port = broker.port;
    if wanted("storms") {
        let started = Instant::now();
        let storming = Arc::new(AtomicBool::new(true));
        let probe = tokio::spawn(load::live_publisher_latency(port, storming.clone()));
        let cpu_before = broker.cpu_seconds();
        let cold = load::storm(port, right.clone(), 0).await;
        let ok = cold.expected;
        let seconds = started.elapsed().as_secs_f64();
        figures.push((
            "cold storm: broker core busy (%)",
            100.0 * (broker.cpu_seconds() - cpu_before) / seconds,
        ));
        figures.push(("cold storm: seconds for 2,000 logins", seconds));
        figures.push((
            "cold storm: time / target (<= 1 meets it)",
            seconds / storm_target,
        ));
        storming.store(false, Ordering::Relaxed);
        figures.push(("cold storm: live publisher p99 (ms)", probe.await.unwrap()));
        figures.push(("cold storm: logins refused", (USERS - ok) as f64));
        figures.push((
            "cold storm: busy refusals, tried again",
            cold.retried as f64,
        ));
        figures.push((
            "cold storm: longest login, retries included (s)",
            cold.max_ms / 1e3,
        ));
        let (warm, busy, load_busy) =
            busy_during(&broker, load::storm(port, repeated(&right), 0)).await;
        figures.push(("warm connect storm (logins/s)", warm.rate));
        figures.push(("warm storm: login p99 (ms)", warm.p99_ms));
        figures.push(("warm storm: broker core busy (%)", busy));
        figures.push(("warm storm: load core busy (%)", load_busy));
        figures.push((
            "warm storm: broker CPU per login (µs)",
            cpu_micros_per(busy, warm.rate),
        ));
        figures.push((
            "warm storm: logins refused",
            (REPEATS * USERS - warm.expected) as f64,
        ));
        figures.push((
            "warm storm: busy refusals, tried again",
            warm.retried as f64,
        ));
    }
    if wanted("refused") {
        let storm = load::storm(port, unknown.clone(), 5).await;
        figures.push(("refused, unknown users, first (/s)", storm.rate));
        let (storm, busy, load_busy) =
            busy_during(&broker, load::storm(port, repeated(&unknown), 5)).await;
        figures.push(("refused, unknown users, again (/s)", storm.rate));
        figures.push(("  again: broker core busy (%)", busy));
        figures.push(("  again: load core busy (%)", load_busy));
        // What the load cannot hide when it, not the broker, sets the pace.
        figures.push((
            "  again: broker CPU per refusal (µs)",
            cpu_micros_per(busy, storm.rate),
        ));
        // The same with the broker held to half its core, so that it, not
        // the load, sets the pace (see quota.rs).
        if let Some(quota) = quota::Quota::new(0.5) {
            if quota.hold(broker.pid()) {
                let (storm, busy, load_busy) =
                    busy_during(&broker, load::storm(port, repeated(&unknown), 5)).await;
                quota.release(broker.pid());
                figures.push(("  again, broker held to half a core (/s)", storm.rate));
                figures.push(("    broker busy (% of its half core)", busy / quota.share));
                figures.push(("    load core busy (%)", load_busy));
            }
        }
        let storm = load::storm(port, wrong.clone(), 5).await;
        figures.push(("refused, wrong password, first (/s)", storm.rate));
        let (storm, busy, load_busy) =
            busy_during(&broker, load::storm(port, repeated(&wrong), 5)).await;
        figures.push(("refused, wrong password, again (/s)", storm.rate));
        figures.push(("  again: broker core busy (%)", busy));
        figures.push(("  again: load core busy (%)", load_busy));
    }
    if wanted("throughput") {
        for (qos, name) in [(0, "QoS 0"), (1, "QoS 1")] {
            let cpu_before = broker.cpu_seconds();
            let started = Instant::now();
            let result = load::throughput(port, qos, load::MESSAGES).await;
            let cpu = broker.cpu_seconds() - cpu_before;
            figures.push((leak(format!("{name} delivered (msgs/s)")), result.rate));
            figures.push((
                leak(format!("{name}: broker core busy (%)")),
                100.0 * cpu / started.elapsed().as_secs_f64(),
            ));
            // Less sensitive to a noisy machine than the rate: what each message
            // cost the broker's core, whatever else was running.
            figures.push((
                leak(format!("{name}: broker CPU per message (us)")),
                cpu * 1e6 / (load::MESSAGES - result.lost).max(1) as f64,
            ));
            figures.push((leak(format!("{name} lost")), result.lost as f64));
            figures.push((leak(format!("{name} duplicates")), result.duplicates as f64));
        }
    }
    if wanted("observed") {
        // The control plane must not slow the message path: the same QoS 1
        // load with /metrics scraped every 200 ms and an event stream open
        // (mqreg), against the load alone. mosquitto has neither: its
        // "observed" run is a second unobserved one, which shows how much
        // two identical runs differ on this machine. The long stream, so
        // that the scrapes span it; the two loads in turns (observed first
        // in every other call), so that a drifting machine favours neither.
        static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let observed_first = TURN.fetch_add(1, Ordering::Relaxed) % 4 >= 2;
        // Each load with what the broker's core spent on it: CPU per
        // message holds on a noisy machine where a rate swings.
        let measured = |observers: bool| {
            let broker = &broker;
            async move {
                let observing = Arc::new(AtomicBool::new(true));
                let scraper = broker
                    .http_port
                    .filter(|_| observers)
                    .map(|http| observe(http, observing.clone()));
                let cpu_before = broker.cpu_seconds();
                let result = load::throughput(port, 1, STREAM_MESSAGES).await;
                let cpu = broker.cpu_seconds() - cpu_before;
                observing.store(false, Ordering::Relaxed);
                let scrapes = scraper.map_or(0, |scraper| scraper.join().unwrap_or(0));
                let per_message = cpu * 1e6 / (STREAM_MESSAGES - result.lost).max(1) as f64;
                (result, per_message, scrapes)
            }
        };
        let ((plain, plain_cpu, _), (observed, observed_cpu, scrapes)) = if observed_first {
            let observed = measured(true).await;
            (measured(false).await, observed)
        } else {
            let plain = measured(false).await;
            (plain, measured(true).await)
        };
        eprintln!(
            "  {}: unobserved {:.0}, observed {:.0} msgs/s ({:.1} %); CPU per message {:.2} / {:.2} us",
            kind.name(),
            plain.rate,
            observed.rate,
            100.0 * observed.rate / plain.rate.max(1.0),
            plain_cpu,
            observed_cpu
        );
        figures.push(("QoS 1 unobserved (msgs/s)", plain.rate));
        figures.push((
            "QoS 1, /metrics every 200 ms + events (msgs/s)",
            observed.rate,
        ));
        figures.push((
            "  observed / unobserved (%)",
            100.0 * observed.rate / plain.rate.max(1.0),
        ));
        figures.push(("  unobserved: broker CPU per message (us)", plain_cpu));
        figures.push(("  observed: broker CPU per message (us)", observed_cpu));
        figures.push(("  scrapes during the load", scrapes as f64));
        figures.push(("  observed: lost", observed.lost as f64));
    }
    if wanted("stream") {
        // The loss test: a long QoS 1 stream, every message accounted for.
        let started = Instant::now();
        let cpu_before = broker.cpu_seconds();
        let result = load::throughput(port, 1, STREAM_MESSAGES).await;
        figures.push(("1M QoS 1 stream (msgs/s)", result.rate));
        figures.push((
            "1M stream: broker core busy (%)",
            100.0 * (broker.cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64(),
        ));
        figures.push(("1M stream lost", result.lost as f64));
        figures.push(("1M stream duplicates", result.duplicates as f64));
    }
    if wanted("persistence") {
        // QoS 1 to a subscriber with a persistent session: mqreg writes every
        // message owed to it before its PUBACK (group commit); mosquitto
        // (`persistence true`, Debian's default) keeps it in memory and saves
        // every 30 minutes and at the stop.
        let (result, busy, load_busy) =
            busy_during(&broker, load::throughput_to(port, 1, load::MESSAGES, true)).await;
        figures.push(("QoS 1 to a persistent session (msgs/s)", result.rate));
        figures.push(("  persistent: broker core busy (%)", busy));
        figures.push(("  persistent: load core busy (%)", load_busy));
        figures.push(("  persistent: lost", result.lost as f64));
        figures.push(("  persistent: duplicates", result.duplicates as f64));
    }
    if wanted("fan-in") {
        let (p50, p99, lost) = load::fan_in(port).await;
        figures.push(("fan-in p50 (ms)", p50));
        figures.push(("fan-in p99 (ms)", p99));
        figures.push(("fan-in lost", lost as f64));
    }
    // The groups below start brokers of their own (one state, one store:
    // never two mqreg at once).
    drop(broker);
    if wanted("memory") {
        // Fresh brokers, so that nothing from the other groups is counted.
        let broker = brokers::start(kind, dir, state);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let idle = broker.rss_kib();
        figures.push(("idle RSS (KiB)", idle as f64));
        // The first clients' logins also warm the argon2 threads (19 MiB of
        // working memory each, kept); the second batch shows what a client costs.
        let mut clients = load::idle_clients(broker.port, IDLE_CLIENTS, 0).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let warm = broker.rss_kib();
        figures.push(("RSS with 1,000 clients (KiB)", warm as f64));
        let more = load::idle_clients(broker.port, IDLE_CLIENTS, IDLE_CLIENTS).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let loaded = broker.rss_kib();
        figures.push((
            "memory per connected client (KiB)",
            (loaded.saturating_sub(warm)) as f64 / more.len().max(1) as f64,
        ));
        clients.extend(more);
        figures.push(("  clients connected", clients.len() as f64));
        drop(clients);
    }
    if wanted("restart") {
        // 1,000,000 messages owed to 100 offline persistent sessions, then a
        // clean stop and a start: how long until a session is served again
        // (mqreg reads its store then; mosquitto its database before it
        // listens), and whether the messages came back.
        let _ = std::fs::remove_dir_all(dir.join("mosquitto-db"));
        let _ = std::fs::remove_file(crate::store_path(state));
        let extra = "max_queued_messages 0\n";
        let broker = brokers::start_with(kind, dir, state, extra);
        let filled =
            load::fill_offline_sessions(broker.port, KEPT_SESSIONS, KEPT_PER_SESSION).await;
        figures.push((
            "restart: 1M stored, publishing them (s)",
            filled.as_secs_f64(),
        ));
        let stopped = broker.stop(std::time::Duration::from_secs(300));
        figures.push(("restart: stop (s)", stopped.as_secs_f64()));
        let started = Instant::now();
        let broker = brokers::start_with(kind, dir, state, extra);
        let (present, received) = load::drain_session(broker.port, 0).await;
        // The first session's CONNACK comes once everything is read; its
        // 10,000 messages follow.
        figures.push((
            "restart: start to all of one session's messages (s)",
            started.elapsed().as_secs_f64(),
        ));
        figures.push((
            "restart: session present (1 = yes)",
            f64::from(u8::from(present)),
        ));
        figures.push(("restart: messages of one session back", received as f64));
        figures.push(("restart: RSS after (MiB)", broker.rss_kib() as f64 / 1024.0));
        drop(broker);
        let _ = std::fs::remove_dir_all(dir.join("mosquitto-db"));
        let _ = std::fs::remove_file(crate::store_path(state));
    }
    figures
}

/// The broker is pinned to one core (CPU 0).
const BROKER_CORES: f64 = 1.0;

const STREAM_MESSAGES: usize = 1_000_000;
/// The restart load: this many offline sessions, each owed this many.
const KEPT_SESSIONS: usize = 100;
const KEPT_PER_SESSION: usize = 10_000;

/// mqreg's message store beside its state (what `serve` opens).
fn store_path(state: &Path) -> std::path::PathBuf {
    mqreg::commands::serve::store_path(state)
}
/// The repeated loads (warm storm, refusals again) send their 2,000 logins
/// this many times: one pass takes well under a tenth of a second.
const REPEATS: usize = 5;

/// `packets`, `REPEATS` times over.
fn repeated(packets: &Arc<Vec<Vec<u8>>>) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        std::iter::repeat_n(packets.iter(), REPEATS)
            .flatten()
            .cloned()
            .collect(),
    )
}
const IDLE_CLIENTS: usize = 1_000;

/// Runs `load` and returns its result with the share of its core the broker
/// used meanwhile, and the share of CPU 1 that was busy (the load and the
/// kernel's TCP work on its side): near 100 % for the broker means it set the
/// pace; near 100 % for the load's core, with the broker below, means the
/// load did.
async fn busy_during<T>(
    broker: &brokers::Running,
    load: impl std::future::Future<Output = T>,
) -> (T, f64, f64) {
    let cpu_before = broker.cpu_seconds();
    let load_before = load_core_jiffies();
    let started = Instant::now();
    let result = load.await;
    let busy = 100.0 * (broker.cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64();
    let load_after = load_core_jiffies();
    let load_busy = 100.0 * (load_after.0 - load_before.0) as f64
        / (load_after.1 - load_before.1).max(1) as f64;
    (result, busy, load_busy)
}

/// The broker's CPU time per operation (µs), from its busy share of one
/// core (%) and the operations per second.
fn cpu_micros_per(busy_percent: f64, rate: f64) -> f64 {
    busy_percent / 100.0 * 1e6 / rate
}

/// CPU 1's busy and total time so far (in clock ticks), from /proc/stat.
fn load_core_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu1 ")) else {
        return (0, 0);
    };
    // user nice system idle iowait irq softirq steal
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|field| field.parse().ok())
        .collect();
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3).unwrap_or(&0) + ticks.get(4).unwrap_or(&0);
    (total - idle, total)
}

fn pin_this_thread_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call reads it only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Figure names live for the whole run.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Scrapes `/metrics` every 200 ms on a thread until `running` is false, with
/// an event stream open on another; returns the scraper, which counts its
/// successful scrapes.
fn observe(http: u16, running: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    let base = format!("http://127.0.0.1:{http}");
    let events = format!("{base}/api/v1/events");
    if let Some(token) = brokers::API_TOKEN.get().cloned() {
        std::thread::spawn(move || {
            use std::io::Read;
            let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
            if let Ok(response) = agent
                .get(&events)
                .header("Authorization", &format!("Bearer {token}"))
                .call()
            {
                let mut reader = response.into_body().into_reader();
                let mut sink = [0u8; 4096];
                while reader.read(&mut sink).is_ok_and(|n| n > 0) {}
            }
        });
    }
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let mut scrapes = 0;
        while running.load(Ordering::Relaxed) {
            if let Ok(mut response) = agent.get(&format!("{base}/metrics")).call() {
                if response.body_mut().read_to_string().is_ok() {
                    scrapes += 1;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        scrapes
    })
}

fn main() {
    let rounds: usize = std::env::var("MQREG_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    eprintln!("hashing {USERS} passwords with argon2id defaults...");
    let state = brokers::prepare_mqreg(dir.path());
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
            let figures = runtime.block_on(measure(*kind, dir.path(), &state));
            // Any loss shows in every round, not only in the median.
            for (name, value) in &figures {
                if (name.contains("lost") || name.contains("duplicates")) && *value > 0.0 {
                    eprintln!("  {}: {name} = {value}", kind.name());
                }
            }
            runs.push(figures);
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
        "{:<46} {:>12} {:>12} {:>8}",
        "figure", "mqreg", "mosquitto", "ratio"
    );
    let names: Vec<&str> = results[0].1[0].iter().map(|(name, _)| *name).collect();
    for (index, name) in names.iter().enumerate() {
        let value = |k: usize| median(results[k].1.iter().map(|run| run[index].1).collect());
        let (ours, theirs) = (value(0), value(1));
        // The target rows describe this machine, not a broker.
        let comparable = !name.starts_with("argon2") && !name.contains("target");
        let ratio = if comparable && theirs != 0.0 {
            format!("{:.2}", ours / theirs)
        } else {
            "-".into()
        };
        println!("{name:<46} {ours:>12.2} {theirs:>12.2} {ratio:>8}");
    }
}
