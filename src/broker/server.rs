//! Starting and stopping the broker, and keeping live sessions in step with
//! the state file.

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmqtt::context::ServerContext;
use rmqtt::hook::Type;
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;
use rmqtt::session::Session;
use rmqtt::types::{ClientId, Id};

use super::auth::Authenticator;
use super::hooks::{Grantbook, Hooks};
use super::live::{LiveState, Snapshot};
use crate::audit::AuditLog;
use crate::error::{Error, Result};

/// How often the state file is checked for changes made by the CLI.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// Registrations that may queue for argon2 work before new ones are refused.
const MAX_QUEUED_REGISTRATIONS: usize = 64;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    pub tls_listen: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// argon2 computations at once.
    pub hash_workers: usize,
    /// Per client: queued QoS 1/2 messages, and unacknowledged ones in flight.
    pub max_queued_messages: usize,
    pub max_inflight: u16,
}

/// Runs the broker until SIGINT or SIGTERM.
pub async fn run(live: Arc<LiveState>, audit: Arc<AuditLog>, config: Config) -> Result<()> {
    let scx = ServerContext::new()
        .node_id(1)
        // rmqtt refuses logins (CONNACK 3) when the CPU is busy: a connect storm
        // is exactly when that must not happen.
        .busy_check_enable(false)
        .plugins_config_map_add(
            "rmqtt-retainer",
            "storage.type = \"ram\"\nretained_message_ttl = \"0s\"\nmax_retained_messages = 0\n",
        )
        .build()
        .await;
    rmqtt_retainer::register(&scx, true, false)
        .await
        .map_err(|e| Error::failure(format!("cannot enable retained messages: {e}")))?;

    let authenticator = Arc::new(Authenticator::new(
        live.clone(),
        config.hash_workers,
        MAX_QUEUED_REGISTRATIONS,
    ));
    let grants = Arc::new(Grantbook::new(live.clone()));
    let register = scx.extends.hook_mgr().register();
    for hook in [
        Type::ClientAuthenticate,
        Type::MessagePublishCheckAcl,
        Type::ClientSubscribeCheckAcl,
        Type::MessagePublish,
        Type::MessageExpiryCheck,
        Type::ClientDisconnected,
    ] {
        register
            .add_priority(
                hook,
                100,
                Box::new(Hooks {
                    authenticator: authenticator.clone(),
                    grants: grants.clone(),
                    audit: audit.clone(),
                }),
            )
            .await;
    }
    register.start().await;

    let mut server = MqttServer::new(scx.clone());
    let mut bound = Vec::new();
    let tls_files = (config.tls_cert.as_ref(), config.tls_key.as_ref());
    let all = config
        .listen
        .iter()
        .map(|addr| (addr, false))
        .chain(config.tls_listen.iter().map(|addr| (addr, true)));
    for (index, (addr, tls)) in all.enumerate() {
        let mut builder = Builder::new()
            .name(if tls { "tls" } else { "tcp" })
            .laddr(*addr)
            .reuseaddr(Some(true))
            .nodelay(true)
            .allow_anonymous(false)
            .max_mqueue_len(config.max_queued_messages)
            .max_inflight(NonZeroU16::new(config.max_inflight).unwrap_or(NonZeroU16::MIN));
        if tls {
            let (Some(cert), Some(key)) = tls_files else {
                return Err(Error::usage("--tls-listen needs --tls-cert and --tls-key"));
            };
            builder = builder
                .tls_cert(Some(cert.display().to_string()))
                .tls_key(Some(key.display().to_string()));
        }
        let listener = builder
            .bind()
            .map_err(|e| Error::failure(format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr().unwrap_or(*addr);
        let listener = if tls { listener.tls() } else { listener.tcp() }
            .map_err(|e| Error::failure(format!("cannot set up the listener on {addr}: {e}")))?;
        server = server.listener_by_id(listener, index as u16);
        bound.push((local, tls));
    }
    let accepting = tokio::spawn(server.build().run());
    for (addr, tls) in &bound {
        tracing::info!("listening on {addr}{}", if *tls { " (TLS)" } else { "" });
    }
    let watcher = tokio::spawn(watch(live, scx.clone(), grants));

    tokio::select! {
        () = shutdown_signal() => tracing::info!("stopping"),
        result = accepting => {
            watcher.abort();
            return match result {
                Ok(Err(e)) => Err(Error::failure(format!("the broker stopped: {e}"))),
                _ => Err(Error::failure("the broker stopped unexpectedly")),
            };
        }
    }
    watcher.abort();
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}

/// Re-reads the state file when it changes and applies what must take effect
/// on live connections: deleted users are disconnected. Permission changes
/// need nothing here; the hooks consult the new grants on the next packet.
async fn watch(live: Arc<LiveState>, scx: ServerContext, grants: Arc<Grantbook>) {
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let reader = live.clone();
        let Ok(Some(snapshot)) = tokio::task::spawn_blocking(move || reader.refresh()).await else {
            continue;
        };
        tracing::debug!(generation = snapshot.generation, "state file reloaded");
        disconnect_deleted_users(&scx, &snapshot, &grants).await;
    }
}

async fn disconnect_deleted_users(scx: &ServerContext, snapshot: &Snapshot, grants: &Grantbook) {
    let sessions: Vec<Session> = {
        let shared = scx.extends.shared().await;
        shared.iter().filter_map(|entry| entry.session()).collect()
    };
    for session in sessions {
        let Some(username) = session.id.username.as_ref() else {
            continue;
        };
        if snapshot.state.users.contains_key::<str>(username) {
            continue;
        }
        let client_id = session.id.client_id.clone();
        tracing::info!(
            username = %crate::names::printable(username),
            client_id = %crate::names::printable(&client_id),
            "user deleted: disconnecting"
        );
        grants.forget(&client_id);
        let scx = scx.clone();
        // Kicking waits for the session task; never hold up the watcher for it.
        tokio::spawn(async move {
            let mut entry = {
                scx.extends
                    .shared()
                    .await
                    .entry(Id::from(scx.node.id(), ClientId::from(client_id.as_ref())))
            };
            if let Err(e) = entry.kick(true, true, true).await {
                tracing::warn!("cannot disconnect {client_id}: {e}");
            }
        });
    }
}
