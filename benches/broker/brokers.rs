//! The two brokers under test, set up alike: the same 2,000 users (argon2id
//! hashes for mqreg, mosquitto_passwd's for mosquitto) and the same rights,
//! each started pinned to CPU 0 on a port of its own.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqreg::password::{self, HashCost};
use mqreg::state::store::Store;
use mqreg::state::{Role, User};

use crate::{secret, user, USERS};

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Mqreg,
    Mosquitto,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mqreg => "mqreg",
            Kind::Mosquitto => "mosquitto",
        }
    }
}

pub struct Running {
    child: Child,
    pub port: u16,
    /// mqreg's HTTP API (`/metrics` public), for the observed load.
    pub http_port: Option<u16>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// CPU time the broker has used so far (user + system), from
    /// `/proc/<pid>/stat`; `taskset` execs the broker, so the pid is the broker's.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of the whole line.
        // SAFETY: sysconf reads a constant.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / per_second
    }
}

impl Running {
    /// SIGTERM, then waits up to `patience` for the broker to finish (a
    /// broker that saves its messages at the stop needs it); returns how long
    /// it took.
    pub fn stop(mut self, patience: Duration) -> Duration {
        let started = Instant::now();
        self.terminate(patience);
        started.elapsed()
    }

    fn terminate(&mut self, patience: Duration) {
        let _ = Command::new("sh")
            // The shell's own `kill`: no procps needed on a minimal machine.
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status();
        let deadline = Instant::now() + patience;
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

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate(Duration::from_secs(5));
        }
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
pub fn prepare_mqreg(dir: &Path) -> PathBuf {
    // A folder of its own, which mqreg creates private; mosquitto (which
    // drops to its own user) reads its files from the shared one.
    let state = dir.join("mqreg").join("state.toml");
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
            // The load comes from one address, as mosquitto's does; flapping
            // protection would shut it out and measure nothing.
            s.flood.max_refusals = 0;
            s.flood.max_registrations = 0;
            for (i, hash) in hashes.iter().enumerate() {
                s.users.insert(
                    user(i),
                    User::new(hash.clone(), vec!["bench".into()], chrono::Utc::now()),
                );
            }
            Ok(())
        })
        .unwrap();
    let token = mqreg::ops::tokens::create(
        &Store::new(&state),
        "bench",
        mqreg::state::tokens::TokenRole::Viewer,
        None,
    )
    .unwrap();
    let _ = API_TOKEN.set(token.token);
    state
}

/// A viewer token for mqreg's HTTP API (its event stream).
pub static API_TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn prepare_mosquitto(dir: &Path, port: u16, extra: &str) -> PathBuf {
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
    // As its users run it: Debian's defaults, plus what this setup needs
    // (a listener, passwords, the ACL). `MQREG_BENCH_MOSQUITTO_EXTRA` adds
    // lines, e.g. `set_tcp_nodelay true` to see what that costs it.
    let extra = std::env::var("MQREG_BENCH_MOSQUITTO_EXTRA")
        .unwrap_or_default()
        .replace(';', "\n")
        + "\n"
        + extra;
    // Debian's mosquitto.conf keeps messages: `persistence true`, in a
    // folder of its own user's (it drops root).
    let persistence = dir.join("mosquitto-db");
    std::fs::create_dir_all(&persistence).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&persistence, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n\
             log_type error\npersistence true\npersistence_location {}/\n{extra}\n",
            passwords.display(),
            acl.display(),
            persistence.display()
        ),
    )
    .unwrap();
    config
}

pub fn start(kind: Kind, dir: &Path, state: &Path) -> Running {
    start_with(kind, dir, state, "")
}

/// `start`, with lines added to mosquitto's configuration.
pub fn start_with(kind: Kind, dir: &Path, state: &Path, mosquitto_extra: &str) -> Running {
    let port = free_port();
    let mut http_port = None;
    let mut command = Command::new("taskset");
    command.args(["-c", "0"]);
    match kind {
        Kind::Mqreg => {
            // Another build of mqreg (one with symbols, for a profiler) may stand in.
            let binary = std::env::var_os("MQREG_BENCH_BINARY")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_mqreg").into());
            command
                .arg(binary)
                .arg("--state")
                .arg(state)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .args([
                    "--http",
                    &format!("127.0.0.1:{}", *http_port.insert(free_port())),
                    "--metrics-public",
                ])
                // For trying other settings, e.g. `--hash-workers 2`.
                .args(
                    std::env::var("MQREG_BENCH_SERVE_ARGS")
                        .unwrap_or_default()
                        .split_whitespace(),
                )
                .env(
                    "RUST_LOG",
                    std::env::var("MQREG_BENCH_RUST_LOG").unwrap_or_else(|_| "error".into()),
                );
        }
        Kind::Mosquitto => {
            let config = prepare_mosquitto(dir, port, mosquitto_extra);
            command.arg("mosquitto").arg("-c").arg(config);
        }
    }
    // `MQREG_BENCH_LOG=FILE` keeps the brokers' logs (appended), for a run that
    // looks wrong.
    let log = std::env::var_os("MQREG_BENCH_LOG").map(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
    });
    let child = command
        .stdout(Stdio::null())
        .stderr(log.map_or(Stdio::null(), Stdio::from))
        .spawn()
        .unwrap();
    wait_for_port(port);
    if let Some(http) = http_port {
        wait_for_port(http);
    }
    Running {
        child,
        port,
        http_port,
    }
}
