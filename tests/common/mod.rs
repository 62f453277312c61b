//! Helpers shared by the integration tests: a private state file per test and a
//! way to run the real `mqreg` binary against it.
#![allow(dead_code)]

pub mod connect;
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

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(MQREG);
        command
            .args(args)
            .env("MQREG_STATE", &self.state)
            .env_remove("MQREG_LOCK_TIMEOUT")
            .env_remove("RUST_LOG");
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
        let store = mqreg::state::store::Store::new(&self.state);
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
        mqreg::state::store::Store::new(&self.state)
            .update(|state| {
                state.argon2 = cheap_cost();
                Ok(())
            })
            .unwrap();
    }

    /// Turns the per-address flood limits off, for tests whose load comes
    /// from 127.0.0.1 on purpose and is about something else.
    pub fn without_flood_limits(&self) {
        mqreg::state::store::Store::new(&self.state)
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
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut command = self.command(&args);
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

/// Polls `condition` every 20 ms for up to `timeout`.
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
