//! The control plane's HTTP API: a thin door onto `ops` (see `routes`).
//!
//! It runs on the tokio runtime beside the logins, never on the network
//! thread that routes messages, and reaches the broker itself (clients,
//! kicks, figures) through `broker::control`. Two listeners serve the same
//! routes:
//!
//! - `--http ADDR` (TLS with `--http-tls-cert`/`--http-tls-key`), where every
//!   request but `/healthz` (and `/metrics` with `--metrics-public`) needs a
//!   token (`Authorization: Bearer`, see `state::tokens`);
//! - a Unix socket beside the state file (`.state.toml.sock`, mode 0600 in
//!   the state's 0700 folder), without tokens: whoever may open it may edit
//!   the state file anyway. Its peer's uid is checked (the broker's own
//!   user or root) as a second lock. `mqreg client ...` uses it ([`local`]).
//!
//! Connections are served by hyper with a header timeout, so a silent or
//! slow client holds a socket for seconds at most.

mod door;
mod enrol;
pub mod local;
mod routes;
mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::audit::AuditLog;
use crate::broker::control::BrokerHandle;
use crate::broker::policy::Policy;
use crate::error::{Error, Result};
use crate::state::store::Store;
use crate::tls::Certificates;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP connections served at once on `--http`; past it new ones are closed
/// at once, so that the API can never take the file descriptors devices need.
const MAX_CONNECTIONS: usize = 256;

/// What the API works on.
pub struct Api {
    /// The state, through the same store the CLI uses.
    pub store: Store,
    pub audit: Arc<AuditLog>,
    /// The login policy: its hub (events, refused logins, metrics), the
    /// live state (tokens) and the flood guard.
    pub policy: Arc<Policy>,
    pub broker: BrokerHandle,
    /// The message store, for its lag.
    pub persist: Option<Arc<crate::broker::persist::Store>>,
    /// `/metrics` without a token.
    pub metrics_public: bool,
    /// The bridges' statuses, for `client list` and `GET /api/v1/bridges`.
    pub bridges: Arc<crate::bridge::Statuses>,
}

/// The client certificate chain a TLS connection to the API showed, if
/// any (leaf first): what `/api/client-registry/renew` is decided by.
#[derive(Debug, Clone, Default)]
pub struct ClientChain(pub Option<Arc<Vec<rustls::pki_types::CertificateDer<'static>>>>);

/// Which listener a request came through.
#[derive(Debug, Clone, Copy)]
pub enum Door {
    /// The Unix socket: no token.
    Local { uid: u32 },
    /// `--http`: a token, counted by the flood guard when wrong.
    Network(SocketAddr),
}

/// `--http` and its TLS pair.
pub struct HttpListen {
    pub address: SocketAddr,
    pub certificates: Option<Arc<Certificates>>,
}

/// The Unix socket beside a state file: `state.toml` → `.state.toml.sock`.
pub fn socket_path(state: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(state.file_name().unwrap_or_default());
    name.push(".sock");
    crate::state::files::folder_of(state).join(name)
}

/// Binds the listeners (errors before the broker announces itself) and
/// serves them on `runtime`. Returns what to announce, like `listening on`.
pub fn start(
    runtime: &tokio::runtime::Runtime,
    api: Arc<Api>,
    http: Option<HttpListen>,
    socket: &Path,
) -> Result<Vec<String>> {
    let _inside = runtime.enter();
    let router = routes::router(api);
    let mut announced = Vec::new();
    if let Some(http) = http {
        let listener = std::net::TcpListener::bind(http.address)
            .and_then(|listener| {
                listener.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(listener)
            })
            .map_err(|e| {
                Error::failure(format!("cannot listen for HTTP on {}: {e}", http.address))
            })?;
        let local = listener.local_addr().unwrap_or(http.address);
        let tls = match &http.certificates {
            Some(certificates) => Some(tokio_rustls::TlsAcceptor::from(
                certificates
                    .server_config(&[b"http/1.1"], crate::pki::trust::ProvenKey::new(false))?,
            )),
            None => None,
        };
        announced.push(format!(
            "HTTP API on {}://{local}",
            if tls.is_some() { "https" } else { "http" }
        ));
        tokio::spawn(accept_tcp(listener, tls, router.clone()));
    }
    // Without its socket the broker still serves devices: said loudly, not fatal.
    match bind_socket(socket) {
        Ok(listener) => {
            announced.push(format!("HTTP API on unix:{}", socket.display()));
            tokio::spawn(accept_unix(listener, router));
        }
        Err(error) => tracing::error!(
            "{error}; `mqreg client`, `log-level` and `registry list --refused` cannot reach this broker"
        ),
    }
    Ok(announced)
}

/// Binds the Unix socket, replacing one a stopped broker left (the caller
/// made sure no running broker serves this state), owner-only.
fn bind_socket(path: &Path) -> Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let cannot = |e: std::io::Error| {
        Error::failure(format!(
            "cannot create the control socket {}: {e}",
            path.display()
        ))
    };
    if let Ok(metadata) = std::fs::symlink_metadata(path) {
        if !metadata.file_type().is_socket() {
            return Err(Error::failure(format!(
                "{} exists and is not a socket; move it away so that the broker can create its control socket there",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(cannot)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(cannot)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(cannot)?;
    listener.set_nonblocking(true).map_err(cannot)?;
    tokio::net::UnixListener::from_std(listener).map_err(cannot)
}

/// Removes the control socket at a stop.
pub fn remove_socket(path: &Path) {
    let _ = std::fs::remove_file(path);
}

async fn accept_tcp(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
) {
    let places = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("HTTP API: cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            tracing::debug!(peer = %peer, "HTTP API: {MAX_CONNECTIONS} connections open, one more refused");
            continue;
        };
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _place = place;
            let door = Door::Network(peer);
            match tls {
                None => serve(stream, router, door, ClientChain::default()).await,
                Some(tls) => match tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let chain = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .map(|chain| Arc::new(chain.to_vec()));
                        serve(stream, router, door, ClientChain(chain)).await
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(peer = %peer, "HTTP API: TLS handshake failed: {error}")
                    }
                    Err(_) => tracing::debug!(peer = %peer, "HTTP API: TLS handshake timed out"),
                },
            }
        });
    }
}

async fn accept_unix(listener: tokio::net::UnixListener, router: Router) {
    // SAFETY: geteuid cannot fail.
    let own = unsafe { libc::geteuid() };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!("control socket: cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let uid = match stream.peer_cred() {
            Ok(credentials) => credentials.uid(),
            Err(_) => continue,
        };
        if uid != own && uid != 0 {
            tracing::warn!(
                uid,
                "control socket: refused a connection from another user"
            );
            continue;
        }
        tokio::spawn(serve(
            stream,
            router.clone(),
            Door::Local { uid },
            ClientChain::default(),
        ));
    }
}

async fn serve<S>(stream: S, router: Router, door: Door, chain: ClientChain)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(
        router
            .layer(axum::Extension(door))
            .layer(axum::Extension(chain)),
    );
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
