//! Starting and stopping the broker: the listeners, the network thread that
//! owns the broker core, and the watcher that keeps it in step with the
//! state file.
//!
//! Two runtimes share the process. The network runs on the calling thread, in
//! ntex's single-threaded event loop: it accepts, and owns every connection
//! and the core (nothing on the message path, not even a new socket, crosses
//! threads). Logins, argon2, state writes and the
//! file watcher run on a multi-threaded tokio runtime beside it, so a storm of
//! password checks never delays a message.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ntex_mqtt::{v3, v5, MqttServer, MqttServiceConfig};
use ntex_service::cfg::SharedCfg;
use ntex_service::Pipeline;
use tokio::sync::watch;

use super::auth::Authenticator;
use super::control::Requests;
use super::core::Limits;
use super::live::LiveState;
use super::mqtt::{self, Context, ProtocolLimits};
use super::observe::Hub;
use super::persist::{Loaded, Store};
use super::policy::Policy;
use crate::audit::AuditLog;
use crate::error::{Error, Result};
use crate::state::served::ServedBy;
use crate::state::watcher::FileWatcher;

/// How often the state file is checked for changes made by the CLI when no
/// change notification arrives (the fallback; see `state::watcher`).
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// Registrations that may queue for argon2 work before new ones are refused.
const MAX_QUEUED_REGISTRATIONS: usize = 64;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    pub tls_listen: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// CAs whose client certificates log in, besides the registry's own.
    pub tls_client_ca: Option<PathBuf>,
    /// Refuse TLS clients without a certificate at the handshake.
    pub require_client_cert: bool,
    /// argon2 computations at once.
    pub hash_workers: usize,
    /// Per client: queued messages, and unacknowledged ones in flight.
    pub max_queued_messages: usize,
    pub max_inflight: u16,
    pub connect_timeout: Duration,
    pub max_packet_size: u32,
    pub max_topic_levels: usize,
    pub max_topic_bytes: usize,
    /// A pending request seen again unchanged is written at most this often.
    pub retry_write_interval: Duration,
    /// A full subscriber queue that makes no room this long: not reading.
    pub stall_timeout: Duration,
    /// How often `$SYS/broker/...` is published; zero: never.
    pub sys_interval: Duration,
}

/// What the broker shares with the control plane besides its login policy
/// (whose hub carries events and figures): the requests it answers on the
/// network thread, and what else SIGHUP re-reads (certificates).
pub struct ControlPlane {
    pub requests: Requests,
    pub on_hangup: Box<dyn Fn() + Send + Sync>,
    /// Told the plain (not TLS) addresses once the broker listens: where
    /// bridges connect their local side.
    pub on_listening: Box<dyn FnOnce(Vec<std::net::SocketAddr>) + Send>,
    /// The bridges' statuses, for `$SYS/broker/connection/NAME/state`.
    pub bridges: Arc<crate::bridge::Statuses>,
}

/// The MQTT service (3.1.1 and 5 on one port) for one connection; a macro
/// because the service's type cannot be named. The login futures are boxed:
/// ntex keeps room for the largest state of a connection's future for as long
/// as the connection lives, and a login's state is large and over quickly.
macro_rules! mqtt_server {
    ($context:expr) => {{
        let v3_context: Arc<Context> = $context;
        let v5_context = v3_context.clone();
        // As ntex-mqtt's defaults: 3.1.1 bounds the packets in flight by
        // the Receive Maximum we configure, 5 only their bytes.
        let v3_in_flight = mqtt::inflight::InFlight {
            max_packets: v3_context.core_limits.max_inflight,
            max_bytes: mqtt::inflight::MAX_BYTES_IN_FLIGHT,
        };
        let v5_in_flight = mqtt::inflight::InFlight {
            max_packets: 0,
            max_bytes: mqtt::inflight::MAX_BYTES_IN_FLIGHT,
        };
        MqttServer::new()
            .v3(v3::MqttServer::new(mqtt::v3::PublishService)
                .replace_middlewares(v3_in_flight)
                .protocol(async |session: &mqtt::v3::Session, message| {
                    mqtt::v3::protocol(session, message).await
                })
                .control(mqtt::v3::control)
                .build(move |handshake| Box::pin(mqtt::v3::connect(v3_context.clone(), handshake))))
            .v5(v5::MqttServer::new(mqtt::v5::PublishService)
                .replace_middlewares(v5_in_flight)
                .protocol(async |session: &mqtt::v5::Session, message| {
                    mqtt::v5::protocol(session, message).await
                })
                .control(mqtt::v5::control)
                .build(move |handshake| Box::pin(mqtt::v5::connect(v5_context.clone(), handshake))))
    }};
}

/// The login policy: the one door to the registry for logins, with the
/// argon2 threads behind it. Made on `runtime`, where logins run.
pub fn login_policy(
    runtime: &tokio::runtime::Runtime,
    live: Arc<LiveState>,
    audit: Arc<AuditLog>,
    hub: Arc<Hub>,
    config: &Config,
) -> Result<Arc<Policy>> {
    let certificates = super::certificates::ClientCertificates::new(
        live.store().clone(),
        config.tls_client_ca.as_deref(),
    )?;
    let authenticator = {
        let _inside = runtime.enter();
        Arc::new(Authenticator::new(
            live.clone(),
            config.hash_workers,
            MAX_QUEUED_REGISTRATIONS,
            config.retry_write_interval,
        ))
    };
    Ok(Arc::new(Policy::new(
        authenticator,
        audit,
        live,
        hub,
        certificates,
    )))
}

/// Runs the broker until SIGINT or SIGTERM. `runtime` runs logins and the
/// watcher; the calling thread runs the network.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    policy: Arc<Policy>,
    audit: Arc<AuditLog>,
    config: Config,
    store: Option<(Arc<Store>, Loaded)>,
    control: ControlPlane,
) -> Result<()> {
    let ControlPlane {
        requests,
        on_hangup,
        on_listening,
        bridges,
    } = control;
    let live = policy.live().clone();
    let hub = policy.hub.clone();
    let (store, loaded) = match store {
        Some((store, loaded)) => (Some(store), Some(loaded)),
        None => (None, None),
    };
    let store_at_stop = store.clone();
    let audit_for_signals = audit;
    let live_for_signals = live.clone();
    let summaries = {
        let policy = policy.clone();
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(5));
            loop {
                ticks.tick().await;
                policy.summarize_repeats(false);
            }
        })
    };
    let policy_at_stop = policy.clone();
    let (changes, changes_received) = watch::channel(live.generation());
    let context = Arc::new(Context {
        policy,
        live: live.clone(),
        limits: ProtocolLimits {
            max_topic_levels: config.max_topic_levels,
            max_topic_bytes: config.max_topic_bytes,
            max_client_id_bytes: 256,
            max_packet_size: config.max_packet_size,
        },
        core_limits: Limits {
            max_queued: config.max_queued_messages,
            max_inflight: config.max_inflight,
            stall_after: config.stall_timeout,
            ..Limits::default()
        },
        changes: changes_received,
        store,
        loaded: std::sync::Mutex::new(loaded),
    });
    let mut mqtt_certificates = None;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) if !config.tls_listen.is_empty() => {
            let certificates = crate::tls::Certificates::load(cert, key)?;
            let tls = certificates.server_config(
                &[],
                crate::pki::trust::ProvenKey::new(config.require_client_cert),
            )?;
            mqtt_certificates = Some(certificates);
            Some(tls)
        }
        _ if !config.tls_listen.is_empty() => {
            return Err(Error::usage("--tls-listen needs --tls-cert and --tls-key"))
        }
        _ => None,
    };
    let mut listeners = Vec::new();
    for (addr, is_tls) in config
        .listen
        .iter()
        .map(|addr| (addr, false))
        .chain(config.tls_listen.iter().map(|addr| (addr, true)))
    {
        let listener = TcpListener::bind(addr)
            .map_err(|e| Error::failure(format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr().unwrap_or(*addr);
        listeners.push((listener, local, is_tls));
    }
    let announce: Vec<(SocketAddr, bool)> = listeners
        .iter()
        .map(|(_, local, is_tls)| (*local, *is_tls))
        .collect();
    let stop_watching = Arc::new(AtomicBool::new(false));
    let watcher = start_watcher(live, changes, stop_watching.clone(), hub)?;
    let mqtt_config = SharedCfg::new("mqreg")
        .add(
            MqttServiceConfig::new()
                .set_connect_timeout(ntex_util::time::Seconds(
                    config
                        .connect_timeout
                        .as_secs()
                        .clamp(1, u64::from(u16::MAX)) as u16,
                ))
                .protocol_version_timeout(ntex_util::time::Seconds(
                    config
                        .connect_timeout
                        .as_secs()
                        .clamp(1, u64::from(u16::MAX)) as u16,
                ))
                .set_max_qos(ntex_mqtt::QoS::ExactlyOnce)
                // Packets that arrived before the client closed its socket are
                // still routed (ntex-mqtt drops them by default): a QoS 0
                // publisher that writes and closes loses nothing.
                .set_handle_qos_after_disconnect(Some(ntex_mqtt::QoS::ExactlyOnce))
                .set_max_size(config.max_packet_size)
                .set_max_send(config.max_inflight)
                .set_max_receive(config.max_inflight),
        )
        .build();
    let system = ntex_rt::System::build()
        .name("mqreg")
        .disable_signals()
        .build(ntex_net::DefaultRuntime);
    let result = system.block_on(async move {
        // The core first, with what the message store held: a restart has
        // its sessions back before the first device connects, and
        // "listening on" means ready.
        let started = Instant::now();
        let core = mqtt::worker_core(&context);
        let answering = tokio::task::spawn_local(requests.serve(core.clone()));
        let figures = (!config.sys_interval.is_zero()).then(|| {
            tokio::task::spawn_local(mqtt::sys::publish_periodically(
                core,
                context.live.clone(),
                bridges,
                config.sys_interval,
            ))
        });
        if context.store.is_some() {
            tracing::info!(
                took_ms = started.elapsed().as_millis() as u64,
                "message store read"
            );
        }
        let max_packet_size = config.max_packet_size as usize;
        let mut acceptors = Vec::new();
        for (listener, local, is_tls) in listeners {
            let context = context.clone();
            // Every connection's protocol layer gets whole packets (see
            // mqtt::framing). A plain socket frames in its own I/O task
            // (mqtt::socket); a TLS one through the layer above TLS.
            let config = mqtt_config.clone();
            let serve: Box<dyn Fn(TcpStream) -> std::io::Result<()>> = if is_tls {
                let tls = tls.clone().expect("checked above");
                let connections = Pipeline::new(
                    (),
                    ntex_service::service(ntex_tls::rustls::TlsAcceptor::new(tls))
                        .map_err(|_| ntex_mqtt::MqttError::Service(mqtt::Refused(0x80)))
                        .and_then(ntex_service::fn_service(
                            move |io: ntex_io::Io<_>| async move {
                                let peer = io
                                    .query::<ntex_io::types::PeerAddr>()
                                    .get()
                                    .map(|peer| peer.0.ip());
                                Ok::<_, ntex_mqtt::MqttError<mqtt::Refused>>(io.add_filter(
                                    mqtt::framing::WholePackets::new(max_packet_size, peer),
                                ))
                            },
                        ))
                        .and_then(mqtt_server!(context)),
                );
                Box::new(move |stream| {
                    start_connection(
                        &connections,
                        ntex_net::from_tcp_stream(stream, config.clone())?,
                    );
                    Ok(())
                })
            } else {
                let connections = Pipeline::new((), mqtt_server!(context));
                Box::new(move |stream| {
                    let io = mqtt::socket::io(stream, config.clone(), max_packet_size)?;
                    start_connection(&connections, io);
                    Ok(())
                })
            };
            let acceptor = accept_connections(listener, local, serve)?;
            acceptors.push(tokio::task::spawn_local(acceptor));
        }
        // Handlers first: a HUP right after "listening on" must not kill us.
        let signals = Signals::install();
        let record = ServedBy {
            pid: std::process::id(),
            listen: announce
                .iter()
                .map(|(local, is_tls)| format!("{local}{}", if *is_tls { " (TLS)" } else { "" }))
                .collect(),
            started: crate::output::rfc3339(chrono::Utc::now()),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        if let Err(error) = record.write(live_for_signals.path()) {
            tracing::warn!(
                "cannot record this broker beside {}: {error}; the CLI will not know it is served",
                live_for_signals.path().display()
            );
        }
        let plain = announce
            .iter()
            .filter(|(_, is_tls)| !is_tls)
            .map(|(local, _)| *local)
            .collect();
        for (local, is_tls) in announce {
            tracing::info!("listening on {local}{}", if is_tls { " (TLS)" } else { "" });
        }
        on_listening(plain);
        // systemd (Type=notify): started means serving. Without
        // NOTIFY_SOCKET this does nothing.
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        signals
            .wait_for_stop(
                &live_for_signals,
                &audit_for_signals,
                mqtt_certificates.as_deref(),
                &on_hangup,
            )
            .await;
        answering.abort();
        if let Some(figures) = figures {
            figures.abort();
        }
        tracing::info!("stopping");
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        ServedBy::remove(live_for_signals.path());
        for acceptor in acceptors {
            acceptor.abort();
        }
        // Returning drops every connection's task: their sockets close.
        Ok::<(), Error>(())
    });
    stop_watching.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    if let Some(store) = store_at_stop {
        store.close(Duration::from_secs(5));
    }
    summaries.abort();
    policy_at_stop.summarize_repeats(true);
    let _ = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), policy_at_stop.flush_registrations()).await
    });
    result
}

/// Runs one connection through `connections` in a task of its own.
fn start_connection<Io: 'static, Error: 'static>(connections: &Pipeline<Io, (), Error>, io: Io) {
    let connection = connections.call_static(io);
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
}

/// Connections accepted by one listener in a row before the others, and the
/// connections already open, get a turn.
const ACCEPT_BATCH: usize = 64;

/// How long accepting pauses when the process is out of file descriptors
/// (or the kernel of socket memory): the CONNECT timeout frees sockets.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections on the network thread itself and hands each to
/// `serve`, which starts its task. (ntex's server accepts on a thread of its
/// own and passes each socket over a channel: two thread switches per
/// connection, on a gateway's one core that is busy anyway.)
fn accept_connections(
    listener: TcpListener,
    local: SocketAddr,
    serve: Box<dyn Fn(TcpStream) -> std::io::Result<()>>,
) -> Result<impl std::future::Future<Output = ()>> {
    let cannot = |e: std::io::Error| Error::failure(format!("cannot listen on {local}: {e}"));
    listener.set_nonblocking(true).map_err(cannot)?;
    // SAFETY: the AsyncFd owns the listener, so its descriptor stays open and
    // the same for as long as the AsyncFd lives.
    let listener = unsafe { tokio::io::unix::AsyncFd::register(listener) }
        .map_err(|error| cannot(error.into_parts().1))?;
    Ok(async move {
        let mut out_of_descriptors = false;
        loop {
            let mut readiness = match listener.readable().await {
                Ok(readiness) => readiness,
                Err(error) => {
                    tracing::error!("stopped accepting connections on {local}: {error}");
                    return;
                }
            };
            let mut accepted = 0;
            while accepted < ACCEPT_BATCH {
                match listener.get_ref().accept() {
                    Ok((stream, _)) => {
                        accepted += 1;
                        out_of_descriptors = false;
                        if let Err(error) = serve(stream) {
                            tracing::debug!("cannot set up an accepted connection: {error}")
                        }
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                        readiness.clear_ready();
                        break;
                    }
                    // The client gave up before we took it: nothing to do.
                    Err(error) if error.kind() == std::io::ErrorKind::ConnectionAborted => {}
                    Err(error) => {
                        if !out_of_descriptors {
                            out_of_descriptors = true;
                            tracing::warn!(
                                "cannot accept connections on {local}: {error}; \
                                 waiting for connections to close (raise LimitNOFILE if it lasts)"
                            );
                        }
                        drop(readiness);
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        break;
                    }
                }
            }
            if accepted == ACCEPT_BATCH {
                tokio::task::yield_now().await;
            }
        }
    })
}

/// Re-reads a listener's certificate; a pair that does not load is reported
/// and the one in use stays.
pub fn reload_certificates(certificates: &crate::tls::Certificates, listener: &str) {
    match certificates.reload() {
        Ok(()) => tracing::info!(
            certificate = %certificates.describe(),
            "SIGHUP: {listener} TLS certificate re-read"
        ),
        Err(error) => tracing::error!(
            "SIGHUP: {listener} TLS certificate not re-read, the one in use stays: {error}"
        ),
    }
}

struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        Self {
            terminate: signal(SignalKind::terminate()).expect("SIGTERM handler"),
            interrupt: signal(SignalKind::interrupt()).expect("SIGINT handler"),
            hangup: signal(SignalKind::hangup()).expect("SIGHUP handler"),
        }
    }

    /// Serves until SIGINT or SIGTERM. SIGHUP, as for mosquitto, re-reads the
    /// state file (whatever its timestamps say) and reopens the audit log, so
    /// logrotate can rename it without `copytruncate`.
    async fn wait_for_stop(
        mut self,
        live: &Arc<LiveState>,
        audit: &AuditLog,
        certificates: Option<&crate::tls::Certificates>,
        on_hangup: &(dyn Fn() + Send + Sync),
    ) {
        loop {
            tokio::select! {
                _ = self.terminate.recv() => return,
                _ = self.interrupt.recv() => return,
                _ = self.hangup.recv() => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]);
                    audit.reopen();
                    if let Some(certificates) = certificates {
                        reload_certificates(certificates, "MQTT");
                    }
                    on_hangup();
                    // Off the signal task: the read may wait for the state lock.
                    let reader = live.clone();
                    let reloaded = tokio::task::spawn_blocking(move || reader.reload())
                        .await
                        .ok()
                        .flatten();
                    tracing::info!(
                        generation = reloaded.map(|snapshot| snapshot.generation),
                        "SIGHUP: state file re-read, audit log reopened"
                    );
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
                }
            }
        }
    }
}

/// What wakes the state watcher: the file's changes, or the registry
/// database's notifications.
enum ChangeSignal {
    File(FileWatcher),
    Database(std::sync::mpsc::Receiver<()>),
}

impl ChangeSignal {
    /// Waits for a change; true when one was announced (else a periodic look).
    fn wait(&mut self) -> bool {
        match self {
            ChangeSignal::File(watcher) => watcher.wait(),
            ChangeSignal::Database(heard) => {
                // The generation is also checked every few seconds, in case a
                // notification went missing with no error to say so.
                let announced = match heard.recv_timeout(DATABASE_LOOK_INTERVAL) {
                    Ok(()) => true,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(DATABASE_LOOK_INTERVAL);
                        false
                    }
                };
                // A burst of changes is one re-read.
                while heard.try_recv().is_ok() {}
                announced
            }
        }
    }
}

/// How often a gateway asks the registry database for its generation when no
/// notification came.
const DATABASE_LOOK_INTERVAL: Duration = Duration::from_secs(5);

/// Re-reads the state file when it changes and tells the network worker, which
/// closes the connections of deleted, disabled and banned users. Permission
/// changes need nothing more: grants are recomputed from the new state on the
/// next packet. A thread of its own, since waiting for the file blocks.
fn start_watcher(
    live: Arc<LiveState>,
    changes: watch::Sender<u64>,
    stop: Arc<AtomicBool>,
    hub: Arc<Hub>,
) -> Result<std::thread::JoinHandle<()>> {
    let mut watcher = match live.store().database() {
        Some(database) => {
            // Every change any gateway commits is announced; after a
            // reconnection everything is re-read, since what was announced
            // meanwhile is lost.
            let (told, heard) = std::sync::mpsc::channel();
            database.listen(move || {
                let _ = told.send(());
            });
            ChangeSignal::Database(heard)
        }
        None => {
            let watcher = FileWatcher::new(live.path(), WATCH_INTERVAL);
            if !watcher.is_notified() {
                tracing::warn!(
                    "cannot watch {} for changes; checking it every {} ms instead",
                    live.path().display(),
                    WATCH_INTERVAL.as_millis()
                );
            }
            ChangeSignal::File(watcher)
        }
    };
    std::thread::Builder::new()
        .name("mqreg-state-watcher".into())
        .spawn(move || {
            let mut seen = live.generation();
            while !stop.load(Ordering::Relaxed) {
                let announced = watcher.wait();
                if let Some(snapshot) = live.refresh(announced) {
                    tracing::debug!(generation = snapshot.generation, "state file reloaded");
                }
                // The broker's own writes (registrations) install new generations too.
                let now = live.generation();
                if now != seen {
                    seen = now;
                    changes.send_replace(now);
                    hub.publish("change", || serde_json::json!({ "generation": now }));
                }
            }
        })
        .map_err(|e| Error::failure(format!("cannot start the state file watcher: {e}")))
}
