//! Access-control figures of issue 11, measured against a real `mqreg serve`:
//!
//! 1. **reload**: how soon a CLI change is in effect in the running broker:
//!    from the state file's modification time (the CLI's write, before its
//!    fsync and rename) to the broker's `state file reloaded` log line, over
//!    `MQREG_BENCH_CHANGES` (default 100) alternating `registry unlock` and
//!    `registry lock`. Both times come from the same system clock.
//! 2. **first login under attack**: a legitimate device's first login (a real
//!    argon2 check, default cost) on an idle broker, then while 1,000
//!    connections from another address (127.0.0.2) hammer one username with
//!    distinct wrong passwords; with the flood limits on (the default) and
//!    off (only the per-user and global bounds on password checks).
//! 3. **log volume**: bytes of audit log and of stderr (default log level)
//!    per 100,000 repeats of one refused login, and that distinct refusals
//!    are still each written.
//!
//! Run with `cargo bench --bench access` (needs `taskset`: the broker runs
//! on CPU 0, the attack on CPU 1). It prints figures and asserts
//! nothing about time.

#[path = "../tests/common/connect.rs"]
mod connect;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use connect::connect_packet;
use mqreg::state::store::Store;

const MQREG: &str = env!("CARGO_BIN_EXE_mqreg");
const ATTACKERS: usize = 1_000;
const LEGIT_LOGINS: usize = 20;

struct Broker {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mqreg(state: &Path) -> Command {
    let mut command = Command::new(MQREG);
    command.arg("--state").arg(state);
    command
}

/// `mqreg serve`, pinned to CPU 0 (the load runs on CPU 1), as on a gateway
/// where the attacker's own work is not the gateway's.
fn serve(state: &Path, log_filter: &str) -> Broker {
    let mut child = Command::new("taskset")
        .args(["-c", "0", MQREG, "--state"])
        .arg(state)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("RUST_LOG", log_filter)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mqreg serve");
    let (send, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let port = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("mqreg serve did not start");
        if let Some(address) = line.split("listening on ").nth(1) {
            break address.trim().rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    Broker { child, port, lines }
}

/// The RFC 3339 timestamp tracing's default format starts a line with.
fn log_time(line: &str) -> Option<SystemTime> {
    let stamp = line.split_whitespace().next()?;
    let time = chrono::DateTime::parse_from_rfc3339(stamp).ok()?;
    Some(SystemTime::from(time.with_timezone(&chrono::Utc)))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn reload_latency(dir: &Path) {
    let changes: usize = std::env::var("MQREG_BENCH_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let state = dir.join("reload/state.toml");
    mqreg(&state)
        .args(["registry", "lock"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let broker = serve(&state, "mqreg=debug");
    let mut millis = Vec::new();
    for change in 0..changes {
        let verb = if change % 2 == 0 { "unlock" } else { "lock" };
        let status = mqreg(&state)
            .args(["registry", verb])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let written = std::fs::metadata(&state).unwrap().modified().unwrap();
        let reloaded = loop {
            let line = broker
                .lines
                .recv_timeout(Duration::from_secs(5))
                .expect("the broker reloads the state");
            if line.contains("state file reloaded") {
                break log_time(&line).expect("a timestamped log line");
            }
        };
        let latency = reloaded.duration_since(written).unwrap_or_default();
        millis.push(latency.as_secs_f64() * 1000.0);
        // Let the broker settle before the next change, as a person would.
        std::thread::sleep(Duration::from_millis(20));
    }
    millis.sort_by(f64::total_cmp);
    println!(
        "reload after a CLI change ({changes} changes): median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&millis, 0.5),
        percentile(&millis, 0.99),
        millis[millis.len() - 1]
    );
}

/// CONNECT, then the CONNACK's return code (or `None`), and the time it took.
fn login(port: u16, packet: &[u8]) -> (Option<u8>, Duration) {
    let started = Instant::now();
    let code = (|| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok()?;
        stream.write_all(packet).ok()?;
        let mut ack = [0u8; 4];
        stream.read_exact(&mut ack).ok()?;
        Some(ack[3])
    })();
    (code, started.elapsed())
}

fn first_logins(port: u16, round: &str) -> Vec<f64> {
    (0..LEGIT_LOGINS)
        .map(|i| {
            let name = format!("legit{round}{i:02}");
            let (code, took) = login(
                port,
                &connect_packet(name.as_bytes(), name.as_bytes(), b"legit-secret"),
            );
            assert_eq!(code, Some(0), "{name} logs in");
            std::thread::sleep(Duration::from_millis(50));
            took.as_secs_f64() * 1000.0
        })
        .collect()
}

/// 1,000 connections from 127.0.0.2, each logging in as `victim` with a new
/// wrong password over and over, until `stop`.
fn attack(port: u16, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        pin_to_cpu(1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let tasks: Vec<_> = (0..ATTACKERS)
                .map(|attacker| {
                    let stop = stop.clone();
                    let sent = sent.clone();
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut round = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            round += 1;
                            let password = format!("wrong-{attacker}-{round}");
                            let packet =
                                connect_packet(b"attacker", b"victim", password.as_bytes());
                            let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
                                continue;
                            };
                            if socket
                                .bind("127.0.0.2:0".parse::<SocketAddr>().unwrap())
                                .is_err()
                            {
                                continue;
                            }
                            let target: SocketAddr = ([127, 0, 0, 1], port).into();
                            let mut stream = match socket.connect(target).await {
                                Ok(stream) => stream,
                                Err(_) => {
                                    tokio::time::sleep(Duration::from_millis(10)).await;
                                    continue;
                                }
                            };
                            let _ = stream.write_all(&packet).await;
                            let mut ack = [0u8; 4];
                            let _ = tokio::time::timeout(
                                Duration::from_secs(30),
                                stream.read_exact(&mut ack),
                            )
                            .await;
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for task in tasks {
                let _ = task.await;
            }
        });
    })
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; the calls only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn login_under_attack(dir: &Path, flood_limits: bool) {
    let label = if flood_limits {
        "flood limits on"
    } else {
        "flood limits off"
    };
    let state = dir.join(if flood_limits {
        "on/state.toml"
    } else {
        "off/state.toml"
    });
    let hash = mqreg::password::hash("legit-secret", mqreg::password::HashCost::default());
    Store::new(&state)
        .update(|s| {
            if !flood_limits {
                s.flood.max_refusals = 0;
                s.flood.max_registrations = 0;
            }
            for name in ["victim".to_string()].into_iter().chain(
                (0..LEGIT_LOGINS)
                    .flat_map(|i| [format!("legitidle{i:02}"), format!("legitload{i:02}")]),
            ) {
                s.users.insert(
                    name,
                    mqreg::state::User::new(hash.clone(), vec![], chrono::Utc::now()),
                );
            }
            Ok(())
        })
        .unwrap();
    let broker = serve(&state, "warn,mqreg::broker::server=info");
    let mut idle = first_logins(broker.port, "idle");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let attacker = attack(broker.port, stop.clone(), sent.clone());
    // Let the attack reach full strength first.
    std::thread::sleep(Duration::from_secs(2));
    let before = sent.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut loaded = first_logins(broker.port, "load");
    let rate = (sent.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = attacker.join();
    let log: Vec<String> = broker.lines.try_iter().collect();
    let shut_out = log
        .iter()
        .filter(|line| line.contains("address shut out"))
        .count();
    idle.sort_by(f64::total_cmp);
    loaded.sort_by(f64::total_cmp);
    let (idle_median, loaded_median) = (percentile(&idle, 0.5), percentile(&loaded, 0.5));
    println!(
        "first login ({label}): idle median {idle_median:.1} ms (max {:.1}), under attack median {loaded_median:.1} ms (max {:.1}), ratio {:.2}; attack answered {rate:.0} logins/s; attacker shut out {shut_out} times",
        idle[idle.len() - 1],
        loaded[loaded.len() - 1],
        loaded_median / idle_median
    );
}

fn log_volume(dir: &Path) {
    const REPEATS: usize = 100_000;
    let state = dir.join("volume/state.toml");
    let hash = mqreg::password::hash("legit-secret", mqreg::password::HashCost::default());
    Store::new(&state)
        .update(|s| {
            s.flood.max_refusals = 0;
            s.flood.max_registrations = 0;
            s.users.insert(
                "dev1".into(),
                mqreg::state::User::new(hash, vec![], chrono::Utc::now()),
            );
            Ok(())
        })
        .unwrap();
    let audit = state.with_file_name("audit.jsonl");
    let audit_before = std::fs::metadata(&audit).map_or(0, |m| m.len());
    let mut broker = serve(&state, "info");
    let log_bytes = Arc::new(AtomicU64::new(0));
    let counter = log_bytes.clone();
    let lines = std::mem::replace(&mut broker.lines, mpsc::channel().1);
    let counting = std::thread::spawn(move || {
        for line in lines {
            counter.fetch_add(line.len() as u64 + 1, Ordering::Relaxed);
        }
    });
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let port = broker.port;
            std::thread::spawn(move || {
                let packet = connect_packet(b"loop", b"dev1", b"wrong-password");
                for _ in 0..REPEATS / 4 {
                    assert_eq!(login(port, &packet).0, Some(5));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let took = started.elapsed();
    // Ten distinct refusals, each of which must be written.
    for index in 0..10 {
        let name = format!("ghost{index}");
        login(
            broker.port,
            &connect_packet(b"other", name.as_bytes(), b"whatever-pw"),
        );
    }
    signal_term(broker.child.id());
    let _ = broker.child.wait();
    drop(broker);
    let _ = counting.join();
    let audit_text = std::fs::read_to_string(&audit).unwrap_or_default();
    let distinct_written = (0..10)
        .filter(|index| audit_text.contains(&format!("\"ghost{index}\"")))
        .count();
    let audit_bytes = std::fs::metadata(&audit).map_or(0, |m| m.len()) - audit_before;
    println!(
        "log volume: {REPEATS} repeats of one refused login in {:.1} s wrote {audit_bytes} B of audit and {} B of log; {distinct_written} of 10 distinct refusals written",
        took.as_secs_f64(),
        log_bytes.load(Ordering::Relaxed)
    );
}

fn signal_term(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs nothing here.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let dir: PathBuf = temp.path().to_owned();
    reload_latency(&dir);
    login_under_attack(&dir, true);
    login_under_attack(&dir, false);
    log_volume(&dir);
}
