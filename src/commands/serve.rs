//! `mqreg serve`: the MQTT broker.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Args;

use super::Context;
use crate::audit::AuditLog;
use crate::bridge::Bridges;
use crate::broker::live::LiveState;
use crate::broker::server::{self, Config};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to accept MQTT 3.1.1 and 5 on (repeatable)
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:1883",
        env = "MQREG_LISTEN",
        value_delimiter = ','
    )]
    listen: Vec<SocketAddr>,
    /// Address to accept MQTT over TLS on (repeatable); needs --tls-cert and --tls-key
    #[arg(long, value_name = "ADDR", requires_all = ["tls_cert", "tls_key"], env = "MQREG_TLS_LISTEN", value_delimiter = ',')]
    tls_listen: Vec<SocketAddr>,
    /// PEM certificate chain for --tls-listen
    #[arg(long, value_name = "PATH", env = "MQREG_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-listen (PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "PATH", env = "MQREG_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// PEM CA certificate(s) whose client certificates log in on --tls-listen, besides the registry's own CA (`mqreg ca init`)
    #[arg(long, value_name = "PATH", env = "MQREG_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Refuse TLS clients that show no certificate, at the handshake (default: a certificate is optional, and a password logs in too)
    #[arg(long, env = "MQREG_REQUIRE_CLIENT_CERT")]
    require_client_cert: bool,
    /// Address to serve the HTTP API on (the CLI's operations, /metrics, /healthz); a Unix socket beside the state file serves it too, without tokens
    #[arg(long, value_name = "ADDR", env = "MQREG_HTTP")]
    http: Option<SocketAddr>,
    /// PEM certificate chain for --http (HTTPS); re-read on SIGHUP
    #[arg(long, value_name = "PATH", requires_all = ["http", "http_tls_key"], env = "MQREG_HTTP_TLS_CERT")]
    http_tls_cert: Option<PathBuf>,
    /// PEM private key for --http-tls-cert
    #[arg(
        long,
        value_name = "PATH",
        requires = "http_tls_cert",
        env = "MQREG_HTTP_TLS_KEY"
    )]
    http_tls_key: Option<PathBuf>,
    /// Serve GET /metrics on --http without a token, for a Prometheus scraper
    #[arg(long, env = "MQREG_METRICS_PUBLIC")]
    metrics_public: bool,
    /// Messages queued for one client: past it, publishers wait for room (at most 5 s), and an offline session's oldest messages are dropped
    #[arg(long, value_name = "N", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..), env = "MQREG_MAX_QUEUED_MESSAGES")]
    max_queued_messages: u64,
    /// QoS 1 and 2 messages in flight to one client, unacknowledged
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..), env = "MQREG_MAX_INFLIGHT")]
    max_inflight: u16,
    /// A subscriber whose full queue makes no room for this long counts as not reading: publishers stop waiting for it and its oldest messages are dropped (counted and logged) until it reads again
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = parse_stall_timeout, env = "MQREG_STALL_TIMEOUT")]
    stall_timeout: Duration,
    /// Password hashes computed at once [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), env = "MQREG_HASH_WORKERS")]
    hash_workers: Option<u16>,
    /// Close sockets that have not completed a CONNECT within this time
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout, env = "MQREG_CONNECT_TIMEOUT")]
    connect_timeout: Duration,
    /// Largest MQTT packet accepted, in bytes; larger ones close the connection
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u32).range(64..=268_435_455), env = "MQREG_MAX_PACKET_SIZE")]
    max_packet_size: u32,
    /// Most levels in a topic or filter (PUBLISH, SUBSCRIBE, wills)
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=65_535), env = "MQREG_MAX_TOPIC_LEVELS")]
    max_topic_levels: u64,
    /// Most bytes in a topic or filter
    #[arg(long, value_name = "BYTES", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=65_535), env = "MQREG_MAX_TOPIC_BYTES")]
    max_topic_bytes: u64,
    /// How often a device retrying unchanged while it waits for approval has its last-seen time and count written, at most (a new password, client id or address is written at once)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout, env = "MQREG_RETRY_WRITE_INTERVAL")]
    retry_write_interval: Duration,
    /// How often the broker's figures are published as retained $SYS/broker/... messages (readable with a read grant on $SYS/#); 0s: never
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_sys_interval, env = "MQREG_SYS_INTERVAL")]
    sys_interval: Duration,
    /// Keep retained messages and persistent sessions on disk (beside the state file, NAME.messages.redb), durable before they are acknowledged; off keeps them in memory only
    #[arg(
        long,
        value_name = "ON_OFF",
        value_enum,
        default_value = "on",
        env = "MQREG_PERSISTENCE"
    )]
    persistence: Switch,
    /// Log line format on stderr: text for people, json (one object per line) for log shippers
    #[arg(
        long,
        value_name = "FORMAT",
        value_enum,
        default_value = "text",
        env = "MQREG_LOG_FORMAT"
    )]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_stall_timeout(text: &str) -> std::result::Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration like 50ms or 1s: {e}"))?;
    if duration < Duration::from_millis(10) || duration > Duration::from_secs(5) {
        return Err(format!("'{text}' is out of range: give 10ms to 5s"));
    }
    Ok(duration)
}

fn parse_sys_interval(text: &str) -> std::result::Result<Duration, String> {
    let interval = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration like 10s or 1m: {e}"))?;
    if !interval.is_zero() && interval < Duration::from_secs(1) {
        return Err(format!(
            "'{text}' is too short: give at least 1s, or 0s for never"
        ));
    }
    Ok(interval)
}

fn parse_timeout(text: &str) -> std::result::Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration like 10s or 1m: {e}"))?;
    if duration < Duration::from_secs(1) || duration > Duration::from_secs(3600) {
        return Err(format!("'{text}' is out of range: give 1s to 1h"));
    }
    Ok(duration)
}

pub fn exec(context: &Context, args: ServeArgs) -> Result<()> {
    keep_backtraces_for_panics_only();
    return_large_blocks_to_the_system();
    let configured_log = context
        .config
        .as_ref()
        .and_then(|config| config.file.log.clone());
    crate::logging::init(
        args.log_format == LogFormat::Json,
        configured_log.as_deref(),
    );
    if let Some(config) = &context.config {
        tracing::info!(config = %config.path.display(), "config file");
    }
    if context.json {
        return Err(Error::usage(
            "serve prints no data, so --json means nothing to it; for JSON logs use --log-format json",
        ));
    }
    // Before listening: a broker that cannot record a registration or write
    // its audit log would only find out at the first device.
    context.store.preflight()?;
    // Before anything is served or opened: one broker per state.
    let _serving = claim_state(context.store.path())?;
    crate::state::files::open_append(
        context.audit.path(),
        context.store.owner_for(context.audit.path()),
    )
    .map_err(|e| {
        Error::failure(format!(
            "cannot append to the audit log {}: {e}
Give it (and its folder) to the user the broker runs as, or pass --audit-log PATH",
            context.audit.path().display()
        ))
    })?;
    let live = Arc::new(LiveState::open(context.store.clone())?);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let config = Config {
        listen: args.listen,
        tls_listen: args.tls_listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        tls_client_ca: args.tls_client_ca,
        require_client_cert: args.require_client_cert,
        hash_workers: args.hash_workers.map_or(cpus, usize::from),
        max_queued_messages: usize::try_from(args.max_queued_messages).unwrap_or(usize::MAX),
        max_inflight: args.max_inflight,
        connect_timeout: args.connect_timeout,
        max_packet_size: args.max_packet_size,
        max_topic_levels: args.max_topic_levels as usize,
        max_topic_bytes: args.max_topic_bytes as usize,
        retry_write_interval: args.retry_write_interval,
        stall_timeout: args.stall_timeout,
        sys_interval: args.sys_interval,
    };
    raise_open_file_limit();
    tracing::info!(state = %context.store.path().display(), "mqreg {} starting", env!("CARGO_PKG_VERSION"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    let audit = Arc::new(
        AuditLog::new(context.audit.path().to_path_buf())
            .with_owner(context.store.owner_for(context.audit.path())),
    );
    tracing::info!(audit_log = %context.audit.path().display(), "audit log");
    let store = match args.persistence {
        Switch::On => {
            let path = store_path(context.store.path());
            prepare_store_file(context.store.path(), &path)?;
            let (store, loaded) =
                crate::broker::persist::Store::open(&path).map_err(Error::failure)?;
            tracing::info!(store = %path.display(), "message store");
            Some((store, loaded))
        }
        Switch::Off => {
            tracing::warn!("persistence off: retained messages and persistent sessions are kept in memory only and lost when the broker stops");
            None
        }
    };
    let hub = Arc::new(crate::broker::observe::Hub::default());
    let policy = server::login_policy(&runtime, live, audit.clone(), hub, &config)?;
    let (broker, requests) = crate::broker::control::channel();
    let http_certificates = match (&args.http_tls_cert, &args.http_tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::Certificates::load(cert, key)?),
        _ => None,
    };
    let statuses = Arc::new(crate::bridge::Statuses::default());
    policy.hub.metrics.watch_bridges(statuses.clone());
    let api = Arc::new(crate::http::Api {
        bridges: statuses.clone(),
        store: context.store.clone(),
        audit: audit.clone(),
        policy: policy.clone(),
        broker,
        persist: store.as_ref().map(|(store, _)| store.clone()),
        metrics_public: args.metrics_public,
    });
    let socket = crate::http::socket_path(context.store.path());
    let announced = crate::http::start(
        &runtime,
        api,
        args.http.map(|address| crate::http::HttpListen {
            address,
            certificates: http_certificates.clone(),
        }),
        &socket,
    )?;
    for line in announced {
        tracing::info!("{line}");
    }
    let config_path = context.config.as_ref().map(|config| config.path.clone());
    let settings = context.settings.clone();
    let bridges: Arc<OnceLock<Arc<Bridges>>> = Arc::new(OnceLock::new());
    let on_listening = {
        let bridges = bridges.clone();
        let statuses = statuses.clone();
        let store = context.store.clone();
        let handle = runtime.handle().clone();
        let configured = context
            .config
            .as_ref()
            .map(|config| config.file.bridges.clone())
            .unwrap_or_default();
        Box::new(move |plain: Vec<std::net::SocketAddr>| {
            match plain.first() {
            Some(local) => {
                let started = Arc::new(Bridges::new(*local, store, statuses));
                let _ = bridges.set(started.clone());
                handle.spawn(async move { started.apply(configured).await });
            }
            None if !configured.is_empty() => tracing::error!(
                "bridges are not started: they connect to this broker on a plain --listen address, and there is none"
            ),
            None => {}
        }
        })
    };
    let control = server::ControlPlane {
        requests,
        on_hangup: {
            let bridges = bridges.clone();
            let handle = runtime.handle().clone();
            Box::new(move || {
                if let Some(certificates) = &http_certificates {
                    server::reload_certificates(certificates, "HTTP API");
                }
                if let Some(path) = &config_path {
                    if let (Some(configured), Some(bridges)) =
                        (reload_config(path, &settings), bridges.get())
                    {
                        let bridges = bridges.clone();
                        handle.spawn(async move { bridges.apply(configured).await });
                    }
                }
            })
        },
        on_listening,
        bridges: statuses,
    };
    let result = server::run(&runtime, policy, audit, config, store, control);
    if let Some(bridges) = bridges.get() {
        // Queues closed cleanly, connections said goodbye.
        let bridges = bridges.clone();
        let _ = runtime.block_on(async move {
            tokio::time::timeout(Duration::from_secs(2), bridges.stop()).await
        });
    }
    crate::http::remove_socket(&socket);
    // Connections still open are closed with the process; a state write in
    // flight is atomic either way.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// Claims the state for this broker: an exclusive lock on `.NAME.serving`
/// beside it, held until the process ends (the kernel lets go of it even
/// after `kill -9`). Two brokers on one state would each believe their copy
/// and fight over the message store and the control socket; the second is
/// refused, named with the first one's pid.
fn claim_state(state: &std::path::Path) -> Result<std::fs::File> {
    use crate::state::files::{folder_of, Folder};
    use fs2::FileExt;
    let mut name = std::ffi::OsString::from(".");
    name.push(state.file_name().unwrap_or_default());
    name.push(".serving");
    let cannot = |e: std::io::Error| {
        Error::failure(format!(
            "cannot lock {}: {e}",
            folder_of(state).join(&name).display()
        ))
    };
    // The folder exists: preflight made it.
    let folder = Folder::open(folder_of(state))
        .map_err(cannot)?
        .hand_files_to_owner_of(state.file_name().unwrap_or_default());
    let file = folder
        .open_file(&name, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600)
        .map_err(cannot)?;
    if file.try_lock_exclusive().is_err() {
        let other = crate::state::served::ServedBy::find(state)
            .map(|other| {
                format!(
                    " (mqreg {}, pid {}, since {})",
                    other.version, other.pid, other.started
                )
            })
            .unwrap_or_else(|| " (it is starting)".to_owned());
        return Err(Error::failure(format!(
            "a broker already serves {}{other}; stop it first, or give this one another --state",
            state.display()
        )));
    }
    Ok(file)
}

/// SIGHUP: the config file's settings tables and log filter are read again
/// (the state is re-read after this, with them). `[serve]` options are read
/// at start only: listeners and limits need a restart, as mosquitto's do.
fn reload_config(
    path: &std::path::Path,
    settings: &crate::config::SharedSettings,
) -> Option<Vec<crate::bridge::BridgeConfig>> {
    match crate::config::Config::read(path) {
        Ok(config) => {
            *settings.write().unwrap_or_else(|e| e.into_inner()) = config.file.settings;
            if std::env::var("RUST_LOG").map_or(true, |log| log.trim().is_empty()) {
                if let Err(error) =
                    crate::logging::set(config.file.log.as_deref().unwrap_or("info"))
                {
                    tracing::error!("SIGHUP: the config file's log filter is not taken: {error}");
                }
            }
            tracing::info!(config = %path.display(), "SIGHUP: config file re-read ([serve] options take effect at the next start)");
            Some(config.file.bridges)
        }
        Err(error) => {
            tracing::error!(
                "SIGHUP: config file not re-read, the settings and bridges in force stay: {error}"
            );
            None
        }
    }
}

/// The message store beside the state file: `state.toml` → `state.messages.redb`.
pub fn store_path(state: &std::path::Path) -> PathBuf {
    let stem = state.file_stem().map_or_else(
        || std::ffi::OsString::from("state"),
        std::ffi::OsStr::to_os_string,
    );
    let mut name = stem;
    name.push(".messages.redb");
    crate::state::files::folder_of(state).join(name)
}

/// Creates the message store's file as the state's files are created: mode
/// 0600, given to the state's owner when root runs the broker, and never
/// through a symlink planted at its name.
fn prepare_store_file(state: &std::path::Path, store: &std::path::Path) -> Result<()> {
    use crate::state::files::{folder_of, Folder};
    let cannot = |e: std::io::Error| {
        Error::failure(format!(
            "cannot open the message store {}: {e}\nGive it (and its folder) to the user the broker runs as, or run serve with --persistence off",
            store.display()
        ))
    };
    let folder = Folder::open(folder_of(store))
        .map_err(cannot)?
        .hand_files_to_owner_of(state.file_name().unwrap_or_default());
    let name = store.file_name().unwrap_or_default();
    folder
        .open_file(name, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600)
        .map(drop)
        .map_err(cannot)
}

/// Error types that capture backtraces (ntex's among them) would do so for
/// every refused or dropped connection when `RUST_BACKTRACE=1` is in the
/// environment, and nobody reads them. `RUST_LIB_BACKTRACE=0` switches off
/// error backtraces and leaves panics theirs. An explicit
/// `RUST_LIB_BACKTRACE` is respected.
fn keep_backtraces_for_panics_only() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Before any other thread exists, so nothing reads the environment meanwhile.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// argon2 works in 19 MiB blocks. glibc raises its mmap threshold after the
/// first such block is freed, and from then on keeps freed blocks in the heap,
/// resident for good: a broker that checked a few passwords at start would
/// carry them while idle. A fixed threshold keeps large blocks mapped and
/// returns them when freed (the hashing threads keep theirs on purpose).
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Every connection is a file descriptor, and the usual soft limit (1024) is
/// far below what a gateway serves; the hard limit is what the admin allows.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    tracing::info!(open_files = limit.rlim_cur, "open file limit");
}
