//! Several gateways: `cargo bench --bench fleet` (needs PostgreSQL's server
//! binaries, mosquitto and mosquitto-clients, as `.ci/run` installs).
//!
//! 1. Approval-to-login delay across gateways: two gateways on one
//!    PostgreSQL registry; a device registers at the first, is approved at
//!    the second (`mqreg registry approve`), and tries to log in at the first
//!    every 2 ms: the delay from the approval's return to the first accepted
//!    login, p50 and p99 over `MQREG_BENCH_DEVICES` devices (default 50).
//! 2. Throughput over a bridge: `MQREG_BENCH_MESSAGES` (default 50,000) QoS 1
//!    messages published at a gateway by one mosquitto_pub with 20 (its
//!    default) and then 100 messages in flight, bridged out (QoS 1) to a
//!    mosquitto upstream, until the upstream's subscriber has them all; the
//!    same with mosquitto's own bridge (persistence on, as its users run
//!    store and forward) as the gateway, in the same run. Each gateway's CPU
//!    time per message is given beside its rate. A third figure is mqreg
//!    with no bridge and one persistent session subscribed: each message
//!    is on disk before its PUBACK (mosquitto writes every 30 minutes), so
//!    a publisher with a small window is paced by the disk's sync, bridge
//!    or not.
//!
//! Debug builds measure nothing useful: run it as `cargo bench`.

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use postgres::free_port;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MQREG: &str = env!("CARGO_BIN_EXE_mqreg");
const PASSWORD: &str = "a-long-device-password";

fn mqreg(state: &str, copy: &Path) -> Command {
    let mut command = Command::new(MQREG);
    command
        .env("MQREG_STATE", state)
        .env("MQREG_LOCAL_COPY", copy)
        .env("RUST_LOG", "warn");
    command
}

fn run(mut command: Command, stdin: &str) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    assert!(child.wait().unwrap().success());
}

struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

impl Stopped {
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0.0);
        ticks / 100.0
    }
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn serve(state: &str, copy: &Path, extra: &[&str]) -> (Stopped, u16) {
    let port = free_port();
    let mut command = mqreg(state, copy);
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = Stopped(command.spawn().unwrap());
    wait_for_port(port);
    (child, port)
}

fn logs_in(port: u16, user: &str) -> bool {
    Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-i",
            user,
            "-u",
            user,
        ])
        .args(["-P", PASSWORD, "-t", &format!("plant/{user}"), "-m", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn approval_to_login() {
    let devices: usize = std::env::var("MQREG_BENCH_DEVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let cluster = postgres::Cluster::start();
    let url = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let (east_copy, west_copy) = (dir.path().join("east.toml"), dir.path().join("west.toml"));
    let mut role = mqreg(&url, &east_copy);
    role.args([
        "role",
        "create",
        "sensor",
        "--allow",
        "readwrite:plant/{username}",
    ]);
    run(role, "");
    let (_east, east_port) = serve(&url, &east_copy, &[]);
    let (_west, _) = serve(&url, &west_copy, &[]);
    let mut unlock = mqreg(&url, &west_copy);
    unlock.args(["registry", "unlock", "--for", "1h"]);
    run(unlock, "");
    std::thread::sleep(Duration::from_millis(500));
    let mut delays = Vec::new();
    for n in 0..devices {
        let user = format!("dev{n}");
        assert!(!logs_in(east_port, &user));
        let mut approve = mqreg(&url, &west_copy);
        approve.args(["registry", "approve", &user, "--role", "sensor"]);
        run(approve, "");
        let approved = Instant::now();
        while !logs_in(east_port, &user) {
            assert!(
                approved.elapsed() < Duration::from_secs(10),
                "{user} never logged in"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        delays.push(approved.elapsed());
    }
    delays.sort();
    println!(
        "approval at one gateway to login at the other, {devices} devices: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
         (each includes one whole mosquitto_pub login, about 5-10 ms)",
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn upstream(dir: &Path) -> (Stopped, u16) {
    let port = free_port();
    let config = dir.join("upstream.conf");
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\nmax_queued_messages 1000000\n"
        ),
    )
    .unwrap();
    (mosquitto(&config, port), port)
}

/// mosquitto with `config`, listening on `port` once this returns.
fn mosquitto(config: &Path, port: u16) -> Stopped {
    let child = Stopped(
        Command::new("mosquitto")
            .arg("-c")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    child
}

/// Publishes `messages` QoS 1 at `gateway` (mosquitto_pub, `inflight`
/// QoS 1 messages in flight at most) and waits until `subscriber` has them
/// all: messages per second, end to end.
fn through(
    gateway: u16,
    subscriber: Child,
    messages: usize,
    inflight: usize,
    login: &[&str],
) -> f64 {
    let mut subscriber = subscriber;
    std::thread::sleep(Duration::from_millis(300));
    let lines: String = (0..messages).map(|n| format!("{n}\n")).collect();
    let start = Instant::now();
    let mut publisher = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &gateway.to_string()])
        .args(["-q", "1", "-l", "-M", &inflight.to_string()])
        .args(["-t", "plant/line1/seq"])
        .args(login)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    publisher
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(publisher.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = subscriber.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(Instant::now() < deadline, "the messages did not all arrive");
        std::thread::sleep(Duration::from_millis(5));
    }
    messages as f64 / start.elapsed().as_secs_f64()
}

/// A mosquitto_sub that exits after `messages` messages.
fn counting_subscriber(port: u16, filter: &str, messages: usize, login: &[&str]) -> Child {
    Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", filter, "-C", &messages.to_string()])
        .args(login)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// What one gateway did: messages per second end to end, and its CPU time
/// per message.
struct Measured {
    rate: f64,
    cpu_us: f64,
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:>6.0}/s, {:>4.0} µs CPU/msg", self.rate, self.cpu_us)
    }
}

fn measure(gateway: &Stopped, messages: usize, go: impl FnOnce() -> f64) -> Measured {
    let before = gateway.cpu_seconds();
    let rate = go();
    Measured {
        rate,
        cpu_us: (gateway.cpu_seconds() - before) * 1e6 / messages as f64,
    }
}

/// A gateway's state with users `dev` and `bridge`, both allowed everything.
fn gateway_state(dir: &Path) -> (String, std::path::PathBuf) {
    let state = dir.join("state.toml");
    let state_text = state.display().to_string();
    let copy = dir.join("unused.toml");
    let mut role = mqreg(&state_text, &copy);
    role.args(["role", "create", "all", "--allow", "readwrite:#"]);
    run(role, "");
    for user in ["dev", "bridge"] {
        let mut add = mqreg(&state_text, &copy);
        add.args(["user", "add", user, "--role", "all"]);
        run(add, &format!("{PASSWORD}\n"));
    }
    (state_text, copy)
}

fn bridge_throughput() {
    let messages: usize = std::env::var("MQREG_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let dev = ["-u", "dev", "-P", PASSWORD];
    println!("bridge out, {messages} QoS 1 messages end to end (rate, gateway CPU per message):");
    for inflight in [20, 100] {
        let dir = tempfile::tempdir().unwrap();
        let (_up, up_port) = upstream(dir.path());

        // mqreg as the gateway.
        let (state, copy) = gateway_state(dir.path());
        let config = dir.path().join("mqreg.toml");
        std::fs::write(
            &config,
            format!(
                "[[bridges]]\nname = \"central\"\naddress = \"127.0.0.1:{up_port}\"\n\
                 local_username = \"bridge\"\nlocal_password = \"{PASSWORD}\"\n\
                 [[bridges.topics]]\npattern = \"#\"\ndirection = \"out\"\nqos = 1\n\
                 local_prefix = \"plant/\"\nremote_prefix = \"site4/\"\n"
            ),
        )
        .unwrap();
        let config_text = config.display().to_string();
        let (gateway, port) = serve(&state, &copy, &["--config", &config_text]);
        std::thread::sleep(Duration::from_secs(1));
        let ours = measure(&gateway, messages, || {
            let subscriber = counting_subscriber(up_port, "site4/#", messages, &[]);
            through(port, subscriber, messages, inflight, &dev)
        });
        drop(gateway);

        // The same gateway with no bridge: one persistent session (a device
        // offline for now) subscribed, so each message is on disk before
        // its PUBACK, as for the bridge's session. What a publisher with
        // this window gets from mqreg's durability alone.
        let dir2 = tempfile::tempdir().unwrap();
        let (state, copy) = gateway_state(dir2.path());
        let (gateway, port) = serve(&state, &copy, &[]);
        let kept = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-c"])
            .args(["-i", "offline-device", "-t", "plant/#", "-W", "1"])
            .args(dev)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(kept.code().is_some(), "mosquitto_sub -W ended by a signal");
        let durable = measure(&gateway, messages, || {
            let subscriber = counting_subscriber(port, "plant/#", messages, &dev);
            through(port, subscriber, messages, inflight, &dev)
        });
        drop(gateway);

        // mosquitto as the gateway, with its own bridge.
        let port = free_port();
        let mosquitto_config = dir.path().join("gateway.conf");
        std::fs::write(
            &mosquitto_config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\n\
                 persistence_location {}/\nmax_queued_messages 1000000\n\
                 connection central\naddress 127.0.0.1:{up_port}\ncleansession false\n\
                 bridge_protocol_version mqttv311\ntopic # out 1 plant/ site4/\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let rival = mosquitto(&mosquitto_config, port);
        std::thread::sleep(Duration::from_secs(1));
        let theirs = measure(&rival, messages, || {
            let subscriber = counting_subscriber(up_port, "site4/#", messages, &[]);
            through(port, subscriber, messages, inflight, &[])
        });
        drop(rival);
        println!(
            "  publisher window {inflight:>3}: mqreg {ours}; mosquitto {theirs}; \
             mqreg/mosquitto {:.2}; mqreg with no bridge, one persistent session: {durable}",
            ours.rate / theirs.rate
        );
    }
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        println!("approval_to_login: bench\nbridge_throughput: bench");
        return;
    }
    let only = std::env::var("MQREG_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "approval" {
        approval_to_login();
    }
    if only.is_empty() || only == "bridge" {
        bridge_throughput();
    }
}
