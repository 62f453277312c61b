//! `mqreg serve`: the MQTT broker.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::Context;
use crate::audit::AuditLog;
use crate::broker::live::LiveState;
use crate::broker::server::{self, Config};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to accept MQTT 3.1, 3.1.1 and 5 on (repeatable)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:1883")]
    listen: Vec<SocketAddr>,
    /// Address to accept MQTT over TLS on (repeatable); needs --tls-cert and --tls-key
    #[arg(long, value_name = "ADDR", requires_all = ["tls_cert", "tls_key"])]
    tls_listen: Vec<SocketAddr>,
    /// PEM certificate chain for --tls-listen
    #[arg(long, value_name = "PATH")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-listen (PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "PATH")]
    tls_key: Option<PathBuf>,
    /// QoS 1 and 2 messages queued for one slow client before the oldest are dropped
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_queued_messages: usize,
    /// QoS 1 and 2 messages in flight to one client, unacknowledged
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    max_inflight: u16,
    /// Password hashes computed at once [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    hash_workers: Option<u16>,
}

pub fn exec(context: &Context, args: ServeArgs) -> Result<()> {
    keep_backtraces_for_panics_only();
    init_logging();
    let live = Arc::new(LiveState::open(context.store.clone())?);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let config = Config {
        listen: args.listen,
        tls_listen: args.tls_listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        hash_workers: args.hash_workers.map_or(cpus, usize::from),
        max_queued_messages: args.max_queued_messages,
        max_inflight: args.max_inflight,
    };
    tracing::info!(state = %context.store.path().display(), "mqreg {} starting", env!("CARGO_PKG_VERSION"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    let audit = Arc::new(AuditLog::new(context.audit.path().to_path_buf()));
    tracing::info!(audit_log = %context.audit.path().display(), "audit log");
    let result = runtime.block_on(server::run(live, audit, config));
    // Connections still open are closed with the process; a state write in
    // flight is atomic either way.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// rmqtt makes an `anyhow` error for every refused or dropped connection, and
/// with `RUST_BACKTRACE=1` in the environment each of those captures a
/// backtrace that nobody reads (refused logins ran ~15 % slower in one run).
/// `RUST_LIB_BACKTRACE=0` switches off error backtraces and leaves panics
/// theirs. An explicit `RUST_LIB_BACKTRACE` is respected.
fn keep_backtraces_for_panics_only() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Before any other thread exists, so nothing reads the environment meanwhile.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

/// Logs to stderr; `RUST_LOG` filters (default: mqreg at info, rmqtt's own
/// chatter about every refused connection at warn).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,rmqtt=warn,rmqtt_net=warn,rmqtt_retainer=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
