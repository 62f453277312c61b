//! Helpers shared by the integration tests: a private state file per test and a
//! way to run the real `mqreg` binary against it.
#![allow(dead_code)]

pub mod connect;
pub mod postgres;
pub mod raw;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mqreg::password::{self, HashCost};

pub const MQREG: &str = env!("CARGO_BIN_EXE_mqreg");

/// A temporary folder holding one state file, removed when dropped.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("mqreg/state.toml");
        Self { dir, state }
    }

    /// A gateway whose state is the PostgreSQL database at `url`: its own
    /// folder keeps its copy of the registry, message store and socket.
    pub fn gateway(url: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self {
            dir,
            state: PathBuf::from(url),
        }
    }

    /// This gateway's copy of the registry, when the state is a database.
    pub fn local_copy(&self) -> PathBuf {
        self.dir.path().join("mqreg/gateway.toml")
    }

    fn is_database(&self) -> bool {
        self.state
            .to_str()
            .is_some_and(|s| s.starts_with("postgresql://"))
    }

    /// The store the binary would use, for seeding.
    pub fn store(&self) -> mqreg::state::store::Store {
        if self.is_database() {
            mqreg::state::store::Store::postgres(self.state.to_str().unwrap(), self.local_copy())
                .unwrap()
        } else {
            mqreg::state::store::Store::new(&self.state)
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(MQREG);
        command
            .args(args)
            .env("MQREG_STATE", &self.state)
            .env_remove("MQREG_LOCK_TIMEOUT")
            .env_remove("MQREG_LOCAL_COPY")
            .env_remove("RUST_LOG");
        if self.is_database() {
            command.env("MQREG_LOCAL_COPY", self.local_copy());
        }
        command
    }

    /// Runs `mqreg ARGS` with `stdin` piped in.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mqreg");
        // mqreg may exit before reading (a bad name, say): a broken pipe is fine.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        Run::from(child.wait_with_output().expect("wait for mqreg"), args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// Runs a command that must succeed and returns its stdout as JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        self.run(&with_json).ok().json()
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.state).unwrap_or_default()
    }

    /// Adds pending requests as the broker would record them, by editing the
    /// file the way the broker does: through the store.
    pub fn seed_pending(&self, requests: &[(&str, &str, bool)]) {
        let store = self.store();
        store
            .update(|state| {
                let now = chrono::Utc::now();
                for (name, password, conflict) in requests {
                    let mut request = mqreg::state::PendingRequest::new(
                        password::hash(password, cheap_cost()),
                        format!("{name}-client"),
                        "127.0.0.1:40000".into(),
                        "3.1.1".into(),
                        now,
                    );
                    request.conflict = *conflict;
                    state.pending.insert(name.to_string(), request);
                }
                Ok(())
            })
            .expect("seed pending requests");
    }
}

// ------------------------------------------------------- roles and users

impl Sandbox {
    /// Creates a role with `mqreg role create NAME --allow ACCESS:FILTER...`,
    /// which must succeed. With [`Sandbox::add_users`], the seeding most
    /// broker tests start from, written once:
    ///
    /// ```ignore
    /// sandbox
    ///     .add_role("all", &["readwrite:#"])
    ///     .add_users(&["alice", "bob"], "password1", Some("all"));
    /// ```
    ///
    /// Both go through the CLI, as an admin would, and work on a state a
    /// broker already serves (the broker sees them within a second).
    pub fn add_role(&self, name: &str, allow: &[&str]) -> &Self {
        let mut args = vec!["role", "create", name];
        for access in allow {
            args.extend(["--allow", access]);
        }
        self.run(&args).ok();
        self
    }

    /// Adds each of `names` with `mqreg user add NAME [--role ROLE]`, the
    /// password on stdin; each must succeed. Hashed with the state's argon2
    /// cost: call [`Sandbox::cheap_hashes`] first for fast logins.
    pub fn add_users(&self, names: &[&str], password: &str, role: Option<&str>) -> &Self {
        for name in names {
            let mut args = vec!["user", "add", name];
            if let Some(role) = role {
                args.extend(["--role", role]);
            }
            self.run_with_stdin(&args, &format!("{password}\n")).ok();
        }
        self
    }
}

impl Sandbox {
    /// Cheap hashes, a role `all` that may read and write every topic, and
    /// users alice and bob (password `password1`) holding it: for tests of
    /// the broker rather than of the registry.
    pub fn alice_and_bob() -> Self {
        let sandbox = Self::new();
        sandbox.cheap_hashes();
        sandbox.add_role("all", &["readwrite:#"]).add_users(
            &["alice", "bob"],
            "password1",
            Some("all"),
        );
        sandbox
    }
}

/// Argon2 parameters that keep tests fast; the hashes are still argon2id.
pub fn cheap_cost() -> HashCost {
    HashCost {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: String,
}

impl Run {
    fn from(output: Output, args: &[&str]) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "mqreg {} exited {}, expected {expected}\nstdout: {}\nstderr: {}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        self.code(0)
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of mqreg {} is not JSON ({e}):\n{}",
                self.args, self.stdout
            )
        })
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr of mqreg {} lacks {needle:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------- the broker

use std::io::{BufRead, BufReader};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `mqreg serve` on a port of its own choosing, stopped when dropped.
pub struct Broker {
    child: std::process::Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Sandbox {
    /// Makes new hashes cheap, so registrations in tests take microseconds.
    pub fn cheap_hashes(&self) {
        self.store()
            .update(|state| {
                state.argon2 = cheap_cost();
                Ok(())
            })
            .unwrap();
    }

    /// Turns the per-address flood limits off, for tests whose load comes
    /// from 127.0.0.1 on purpose and is about something else.
    pub fn without_flood_limits(&self) {
        self.store()
            .update(|state| {
                state.flood.max_refusals = 0;
                state.flood.max_registrations = 0;
                Ok(())
            })
            .unwrap();
    }

    pub fn serve(&self) -> Broker {
        self.serve_with(&[])
    }

    /// `mqreg serve --listen 127.0.0.1:0 EXTRA...`, once it listens.
    pub fn serve_with(&self, extra: &[&str]) -> Broker {
        self.serve_limited(extra, None)
    }

    /// The same, with the broker's open-file limit (soft and hard) set to
    /// `max_open_files` when given.
    pub fn serve_limited(&self, extra: &[&str], max_open_files: Option<u64>) -> Broker {
        self.serve_env(extra, max_open_files, &[])
    }

    /// The same with variables in the broker's environment (only its own).
    pub fn serve_env(
        &self,
        extra: &[&str],
        max_open_files: Option<u64>,
        env: &[(&str, &str)],
    ) -> Broker {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut command = self.command(&args);
        command.envs(env.iter().copied());
        if let Some(files) = max_open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe; nothing else runs in
            // the child before exec.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: files,
                        rlim_max: files,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command
            .env(
                "RUST_LOG",
                std::env::var("MQREG_TEST_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mqreg serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, port) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    if !addr.contains("TLS") {
                        let port: u16 = addr.trim().rsplit(':').next().unwrap().parse().unwrap();
                        let _ = found.send(port);
                    }
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let port = port
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("mqreg serve did not start:\n{}", log.lock().unwrap())
            });
        Broker { child, port, log }
    }
}

impl Broker {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The port of the TLS listener, from the log.
    pub fn tls_port(&self) -> Option<u16> {
        let mut port = None;
        eventually(Duration::from_secs(5), || {
            port = self.log().lines().find_map(|line| {
                let addr = line.split("listening on ").nth(1)?.strip_suffix(" (TLS)")?;
                addr.rsplit(':').next()?.parse().ok()
            });
            port.is_some()
        });
        port
    }

    /// Resident memory of the broker process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Kills the broker with SIGKILL, as a crash would.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        self.terminate()
    }

    fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("sh")
            // The shell's own `kill`: no procps needed on a minimal machine.
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// `http://127.0.0.1:PORT` of a broker started with `--http`, from its log.
    pub fn http_base(&self) -> String {
        let mut base = None;
        eventually(Duration::from_secs(10), || {
            base = self.log().lines().find_map(|line| {
                let url = line.split("HTTP API on ").nth(1)?;
                url.starts_with("http").then(|| url.trim().to_owned())
            });
            base.is_some()
        });
        base.expect("the broker announces its HTTP API")
    }

    /// Runs `mosquitto_pub` against this broker; returns its exit code and output.
    pub fn mosquitto_pub(&self, args: &[&str]) -> (i32, String) {
        self.mosquitto("mosquitto_pub", args)
    }

    pub fn mosquitto_sub(&self, args: &[&str]) -> (i32, String) {
        self.mosquitto("mosquitto_sub", args)
    }

    fn mosquitto(&self, tool: &str, args: &[&str]) -> (i32, String) {
        let output = Command::new(tool)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {tool} (apt-get install mosquitto-clients): {e}")
            });
        (
            output.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    /// A Rust MQTT 3.1.1 client, connected (or refused) on a thread of its own.
    pub fn client(&self, client_id: &str, username: &str, password: &str) -> Client {
        let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", self.port);
        options.set_credentials(username, password);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = rumqttc::Client::new(options, 100);
        let (events, received) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                let stop = event.is_err();
                if events.send(event).is_err() || stop {
                    break;
                }
            }
        });
        Client {
            client,
            events: received,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // A failing test shows what the broker said (cargo prints a failing
        // test's output only).
        if std::thread::panicking() {
            eprintln!("--- broker log ---\n{}", self.log.lock().unwrap());
        }
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

pub struct Client {
    pub client: rumqttc::Client,
    events: mpsc::Receiver<Result<rumqttc::Event, rumqttc::ConnectionError>>,
}

pub enum Seen {
    Connected,
    Refused(String),
    Message(String, String),
    Suback(Vec<rumqttc::SubscribeReasonCode>),
    Closed,
}

impl Client {
    /// The next interesting event within `timeout`, or `None`.
    pub fn next(&self, timeout: Duration) -> Option<Seen> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.events.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(packet))) => match packet {
                    rumqttc::Packet::ConnAck(ack) => {
                        return Some(if ack.code == rumqttc::ConnectReturnCode::Success {
                            Seen::Connected
                        } else {
                            Seen::Refused(format!("{:?}", ack.code))
                        })
                    }
                    rumqttc::Packet::Publish(publish) => {
                        return Some(Seen::Message(
                            publish.topic.clone(),
                            String::from_utf8_lossy(&publish.payload).into_owned(),
                        ))
                    }
                    rumqttc::Packet::SubAck(ack) => return Some(Seen::Suback(ack.return_codes)),
                    _ => {}
                },
                Ok(Ok(_)) => {}
                Ok(Err(rumqttc::ConnectionError::ConnectionRefused(code))) => {
                    return Some(Seen::Refused(format!("{code:?}")))
                }
                Ok(Err(_)) => return Some(Seen::Closed),
                Err(mpsc::RecvTimeoutError::Timeout) => return None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Some(Seen::Closed),
            }
        }
    }

    #[track_caller]
    pub fn expect_connected(&self) {
        match self.next(Duration::from_secs(30)) {
            Some(Seen::Connected) => {}
            Some(Seen::Refused(code)) => panic!("refused: {code}"),
            _ => panic!("no CONNACK"),
        }
    }

    /// Subscribes and returns the SUBACK codes.
    #[track_caller]
    pub fn subscribe(&self, filter: &str) -> Vec<rumqttc::SubscribeReasonCode> {
        self.client
            .subscribe(filter, rumqttc::QoS::AtLeastOnce)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Seen::Suback(codes)) = self.next(Duration::from_secs(10)) {
                return codes;
            }
        }
        panic!("no SUBACK for {filter}");
    }

    pub fn publish(&self, topic: &str, payload: &str) {
        self.client
            .publish(
                topic,
                rumqttc::QoS::AtLeastOnce,
                false,
                payload.as_bytes().to_vec(),
            )
            .unwrap();
    }

    /// The next message within `timeout`, skipping other events.
    pub fn message(&self, timeout: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.next(left)? {
                Seen::Message(topic, payload) => return Some((topic, payload)),
                Seen::Closed => return None,
                _ => {}
            }
        }
    }
}

/// Sends the CONNECT `packet` on `socket` and returns the 4-byte CONNACK of a
/// 3.1.1 login, waiting at most `wait` for it.
pub fn send_connect(
    socket: &mut std::net::TcpStream,
    packet: &[u8],
    wait: Duration,
) -> std::io::Result<[u8; 4]> {
    socket.set_read_timeout(Some(wait))?;
    socket.write_all(packet)?;
    let mut connack = [0u8; 4];
    std::io::Read::read_exact(socket, &mut connack)?;
    Ok(connack)
}

/// Polls `condition` every 20 ms for up to `timeout`.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------- live changes

/// The contract: "changes made with the CLI take effect in the running broker
/// within one second".
pub const LIVE: Duration = Duration::from_secs(1);

/// How long a test waits for a live change before it gives up: far past
/// [`LIVE`], so that a slow machine fails with the time it measured instead of
/// hanging or failing with no number.
pub const LIVE_PATIENCE: Duration = Duration::from_secs(10);

/// Asserts that `observed` holds within [`LIVE`] of `start`, the moment just
/// before the CLI command that makes the change ran. Polls it every 20 ms (as
/// [`eventually`] does) for up to [`LIVE_PATIENCE`]; a failure says how long
/// it took. Returns the time measured.
#[track_caller]
pub fn assert_live(start: Instant, what: &str, observed: impl FnMut() -> bool) -> Duration {
    let held = eventually(LIVE_PATIENCE.saturating_sub(start.elapsed()), observed);
    let took = start.elapsed();
    assert!(
        held,
        "{what}: still not so {took:?} after the CLI change (the contract: within {LIVE:?})"
    );
    assert!(
        took <= LIVE,
        "{what}: took {took:?} after the CLI change; the contract says within {LIVE:?}"
    );
    eprintln!("live: {what}: {took:?}");
    took
}

/// Asserts that the broker closes `client`'s connection within [`LIVE`] of
/// `start` (just before the CLI command), waiting up to [`LIVE_PATIENCE`].
/// Returns the time measured.
#[track_caller]
pub fn assert_closed_live(client: &Client, start: Instant, what: &str) -> Duration {
    loop {
        let left = (start + LIVE_PATIENCE).saturating_duration_since(Instant::now());
        match client.next(left) {
            Some(Seen::Closed) => break,
            Some(_) => continue,
            None => panic!(
                "{what}: the connection was still open {:?} after the CLI change (the contract: closed within {LIVE:?})",
                start.elapsed()
            ),
        }
    }
    let took = start.elapsed();
    assert!(
        took <= LIVE,
        "{what}: closed {took:?} after the CLI change; the contract says within {LIVE:?}"
    );
    eprintln!("live: {what}: closed after {took:?}");
    took
}

/// One stream of probe messages for [`assert_stops_live`]: `from` publishes
/// on `topic`, to which `to` is subscribed.
pub struct Flow<'a> {
    pub from: &'a Client,
    pub topic: &'a str,
    pub to: &'a Client,
}

/// Asserts that every one of `flows` delivers before `change` and stops
/// within [`LIVE`] of it: a revoked permission, where nothing on 3.1.1 says
/// "refused", so the test watches messages stop arriving.
///
/// Each flow gets a numbered probe every 20 ms. Until each has delivered one,
/// `change` does not run (silence afterwards would prove nothing). Then the
/// clock starts, `change` runs, and the probes go on until none of a flow's
/// has arrived for half a second. A flow stopped when the first of its probes
/// that never arrived was sent; the last flow to stop must have stopped
/// within [`LIVE`] of the start. Gives up after [`LIVE_PATIENCE`], with the
/// time. Returns the time measured.
#[track_caller]
pub fn assert_stops_live(what: &str, flows: &[Flow], change: impl FnOnce()) -> Duration {
    const EVERY: Duration = Duration::from_millis(20);
    const SILENCE: Duration = Duration::from_millis(500);
    let mut receivers: Vec<&Client> = Vec::new();
    for flow in flows {
        if !receivers.iter().any(|seen| std::ptr::eq(*seen, flow.to)) {
            receivers.push(flow.to);
        }
    }
    // Per flow: when each probe was sent, and the highest number seen.
    let mut sent: Vec<Vec<Instant>> = vec![Vec::new(); flows.len()];
    let mut seen: Vec<Option<usize>> = vec![None; flows.len()];
    let round = |sent: &mut Vec<Vec<Instant>>, seen: &mut Vec<Option<usize>>| {
        for (index, flow) in flows.iter().enumerate() {
            let number = sent[index].len();
            flow.from
                .publish(flow.topic, &format!("probe {index} {number}"));
            sent[index].push(Instant::now());
        }
        let until = Instant::now() + EVERY;
        for to in &receivers {
            // Whatever is queued, and whatever comes until the next round.
            loop {
                let left = until.saturating_duration_since(Instant::now());
                let Some((_, payload)) = to.message(left.max(Duration::from_millis(1))) else {
                    break;
                };
                let mut words = payload.split(' ');
                if let (Some("probe"), Some(index), Some(number)) =
                    (words.next(), words.next(), words.next())
                {
                    let (index, number): (usize, usize) =
                        (index.parse().unwrap(), number.parse().unwrap());
                    seen[index] = seen[index].max(Some(number));
                }
            }
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
    };
    let topics = |which: &dyn Fn(usize) -> bool| {
        let names: Vec<&str> = (0..flows.len())
            .filter(|index| which(*index))
            .map(|index| flows[index].topic)
            .collect();
        names.join(", ")
    };

    let before = Instant::now();
    while seen.iter().any(Option::is_none) {
        assert!(
            before.elapsed() < LIVE_PATIENCE,
            "{what}: nothing arrived on {} before the change, so silence after it would prove nothing",
            topics(&|index| seen[index].is_none())
        );
        round(&mut sent, &mut seen);
    }

    let start = Instant::now();
    change();
    // The first probe of each flow that has not arrived (yet).
    let cut = |index: usize, seen: &[Option<usize>]| seen[index].map_or(0, |last| last + 1);
    loop {
        round(&mut sent, &mut seen);
        let now = Instant::now();
        let stopped = |index: usize| {
            sent[index]
                .get(cut(index, &seen))
                .is_some_and(|first| now.duration_since(*first) >= SILENCE)
        };
        if (0..flows.len()).all(&stopped) {
            break;
        }
        assert!(
            start.elapsed() < LIVE_PATIENCE,
            "{what}: {} still delivered {:?} after the CLI change (the contract: stopped within {LIVE:?})",
            topics(&|index| !stopped(index)),
            start.elapsed()
        );
    }
    let stopped_after: Vec<Duration> = (0..flows.len())
        .map(|index| sent[index][cut(index, &seen)].saturating_duration_since(start))
        .collect();
    let took = stopped_after.iter().copied().max().unwrap_or_default();
    assert!(
        took <= LIVE,
        "{what}: stopped {stopped_after:?} after the CLI change ({}); the contract says within {LIVE:?}",
        topics(&|_| true)
    );
    eprintln!("live: {what}: stopped after {stopped_after:?}");
    took
}

/// A self-signed EC certificate for 127.0.0.1 whose subject is `CN=cn`.
pub fn self_signed(dir: &std::path::Path, cn: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={cn}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

// ------------------------------------------------------------- the HTTP API

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// One request to a broker's HTTP API; returns the status and the body as JSON (or as a string).
pub fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{base}{path}");
    let agent = agent();
    let auth = token.map(|token| format!("Bearer {token}"));
    let response = match (method, body) {
        ("GET", _) => {
            let mut request = agent.get(&url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.call()
        }
        ("DELETE", _) => {
            let mut request = agent.delete(&url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.call()
        }
        (_, body) => {
            let mut request = agent.post(&url).header("Content-Type", "application/json");
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.send(body.map(|b| b.to_string()).unwrap_or_default())
        }
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}
