//! A private PostgreSQL cluster for tests: Debian's server binaries (which
//! `.ci/run` installs), a data folder of its own, a free port on 127.0.0.1,
//! stopped when dropped. Never the system's service.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The user the server runs as when the tests run as root (PostgreSQL
/// refuses to run as root); the Debian package creates it.
const SERVER_USER: &str = "postgres";

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    server: Option<Child>,
    databases: AtomicUsize,
}

/// `/usr/lib/postgresql/VERSION/bin`, the newest there is.
fn server_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok())
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("postgres").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's server is not installed: `apt-get install postgresql` (.ci/run does)")
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and gid to run the server as, when root.
fn server_ids() -> Option<(u32, u32)> {
    if !is_root() {
        return None;
    }
    let output = Command::new("id")
        .args(["-u", SERVER_USER])
        .output()
        .expect("run id");
    let uid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "no '{SERVER_USER}' user to run PostgreSQL as: install Debian's postgresql package"
            )
        });
    let output = Command::new("id")
        .args(["-g", SERVER_USER])
        .output()
        .expect("run id");
    let gid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    Some((uid, gid))
}

fn as_server_user(command: &mut Command) {
    if let Some((uid, gid)) = server_ids() {
        use std::os::unix::process::CommandExt;
        command.uid(uid).gid(gid);
    }
}

/// A port nobody listens on now, on 127.0.0.1, for a server a test starts
/// (and may restart on the same port).
///
/// Taken below the kernel's ephemeral range (32768 and up on Linux): a port
/// from that range, even one checked free, may be handed to another test's
/// `:0` listener or outgoing connection before the server binds it, and the
/// test would then talk to the wrong process. Each test process starts at
/// its own place in the range and never hands out a port twice.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % 600 * 20;
    for _ in 0..COUNT {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let port = u16::try_from(FIRST + offset).expect("below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {}", FIRST + COUNT);
}

impl Cluster {
    /// initdb, then start; returns once it accepts connections.
    pub fn start() -> Self {
        let bin = server_bin();
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some((uid, gid)) = server_ids() {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-A", "trust", "-U", "mqreg", "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_server_user(&mut initdb);
        let output = initdb.output().expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut cluster = Self {
            dir,
            port: free_port(),
            bin,
            server: None,
            databases: AtomicUsize::new(0),
        };
        cluster.run_server();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run_server(&mut self) {
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(self.data())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_server_user(&mut postgres);
        self.server = Some(postgres.spawn().expect("start postgres"));
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.psql("postgres", "SELECT 1").is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("PostgreSQL did not start on port {}", self.port);
    }

    /// Runs one statement with psql; stdout, or stderr as the error.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "mqreg",
            ])
            .args(["-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "2")
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        let name = format!(
            "registry_{}",
            self.databases.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .expect("create database");
        self.url(&name)
    }

    pub fn url(&self, name: &str) -> String {
        format!("postgresql://mqreg@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server the way a crash does (immediate shutdown: no
    /// checkpoint, every connection cut).
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(server.id() as i32, libc::SIGQUIT);
            }
            let _ = server.wait();
        }
    }

    /// Starts it again on the same port, after [`Cluster::kill`].
    pub fn restart(&mut self) {
        self.kill();
        self.run_server();
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill();
    }
}
