//! The device's side of the registry over HTTPS, without a token: register
//! (and poll) with a password and/or a CSR, and renew a certificate over
//! mutual TLS. The answers follow Cybus Connectware's client contract:
//! 423 while locked with nothing pending, 202 while pending, 201 approved.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::door::{blocking, ApiError};
use super::{Api, ClientChain, Door};
use crate::broker::auth::Refusal;
use crate::broker::enrol::{Answer, Registration};
use crate::error::ExitCode;
use crate::ops::certificates;
use crate::pki::csr::Csr;

/// Longest password looked at, as over MQTT.
const MAX_PASSWORD_BYTES: usize = 1024;
/// Largest `context` kept, as JSON text.
const MAX_CONTEXT_BYTES: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    csr: Option<String>,
    #[serde(default)]
    context: Option<serde_json::Value>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

pub async fn register(
    State(api): State<Arc<Api>>,
    Extension(door): Extension<Door>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let peer = match door {
        Door::Network(peer) => peer,
        Door::Local { .. } => std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let body: RegisterBody = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "the body must be JSON {{\"username\", \"password\"?, \"csr\"?, \"context\"?}}: {e}"
        ))
    })?;
    crate::names::check_username(&body.username).map_err(bad)?;
    if body.password.is_none() && body.csr.is_none() {
        return Err(bad("send a password, a csr (PEM), or both"));
    }
    if body
        .password
        .as_ref()
        .is_some_and(|password| password.len() > MAX_PASSWORD_BYTES)
    {
        return Err(bad(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let csr = body
        .csr
        .as_deref()
        .map(|text| {
            let csr = Csr::parse(text)?;
            csr.check_for(&body.username)?;
            Ok::<_, String>(csr)
        })
        .transpose()
        .map_err(bad)?;
    let context = match body.context {
        None => None,
        Some(value @ serde_json::Value::Object(_)) => {
            let text = value.to_string();
            if text.len() > MAX_CONTEXT_BYTES {
                return Err(bad(format!(
                    "the context is {} bytes of JSON; at most {MAX_CONTEXT_BYTES} are kept",
                    text.len()
                )));
            }
            Some(text)
        }
        Some(_) => return Err(bad("the context must be a JSON object")),
    };
    let key = csr.as_ref().map(|csr| csr.key_fingerprint.clone());
    let username = body.username.clone();
    let answer = api
        .policy
        .register_over_http(Registration {
            username: body.username,
            password: body.password,
            csr,
            context,
            peer,
        })
        .await;
    match answer {
        Answer::Approved => {
            let Some(key) = key else {
                return Ok(
                    (StatusCode::CREATED, Json(json!({ "username": username }))).into_response()
                );
            };
            let store = api.store.clone();
            let name = username.clone();
            let issued = blocking(move || certificates::collect(&store, &name, &key)).await?;
            match issued {
                Some(issued) => Ok((
                    StatusCode::CREATED,
                    Json(json!({
                        "username": username,
                        "certificate": issued.certificate,
                        "ca": issued.ca,
                        "serial": issued.serial,
                        "fingerprint": issued.fingerprint,
                        "not_after": issued.not_after,
                    })),
                )
                    .into_response()),
                None => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "refused: this user has no valid certificate for this key",
                )),
            }
        }
        Answer::Pending { conflict } => Ok((
            StatusCode::ACCEPTED,
            Json(json!({
                "username": username,
                "status": "pending",
                "conflict": conflict,
                "message": "waiting for an admin's approval; send the same request again to poll",
            })),
        )
            .into_response()),
        Answer::Refused(refusal) => Err(refused(&refusal)),
    }
}

/// A refusal in words a device log can use, without telling a stranger
/// why a known user was refused (a ban, a wrong password).
fn refused(refusal: &Refusal) -> ApiError {
    let (status, message) = match refusal {
        Refusal::RegistryLocked => (
            StatusCode::LOCKED,
            "the registry is locked; an admin unlocks it (`mqreg registry unlock`) to take new devices".to_owned(),
        ),
        Refusal::ShutOut => (
            StatusCode::TOO_MANY_REQUESTS,
            "too many refused attempts from this address; try again later".to_owned(),
        ),
        Refusal::PasswordAgainstPolicy => (
            StatusCode::BAD_REQUEST,
            "the password does not meet the registry's password policy".to_owned(),
        ),
        Refusal::InvalidUsername => (StatusCode::BAD_REQUEST, "invalid username".to_owned()),
        Refusal::PendingFull => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry holds as many pending requests as it may; try again later".to_owned(),
        ),
        Refusal::PendingGone => (
            StatusCode::CONFLICT,
            "the request was decided meanwhile; send it again".to_owned(),
        ),
        Refusal::Busy | Refusal::Contended | Refusal::PendingRaced | Refusal::StateError => (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy; try again in a few seconds".to_owned(),
        ),
        _ => (StatusCode::FORBIDDEN, "refused".to_owned()),
    };
    ApiError::new(status, message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewBody {
    csr: String,
}

/// A new certificate for the user a valid client certificate of the
/// registry's CA names, for a new CSR with the same CN; no approval needed.
pub async fn renew(
    State(api): State<Arc<Api>>,
    Extension(door): Extension<Door>,
    Extension(ClientChain(chain)): Extension<ClientChain>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let peer = match door {
        Door::Network(peer) => Some(peer.ip()),
        Door::Local { .. } => None,
    };
    if peer.is_some_and(|peer| api.policy.is_shut_out(peer)) {
        return Err(refused(&Refusal::ShutOut));
    }
    let result = renew_for(&api, peer, chain, &bytes).await;
    // A refused renewal counts against its address, as a refused login does.
    if let (Err(error), Some(peer)) = (&result, peer) {
        if error.status == StatusCode::FORBIDDEN || error.status == StatusCode::UNAUTHORIZED {
            api.policy.charge_api_refusal(peer).await;
        }
    }
    result
}

async fn renew_for(
    api: &Arc<Api>,
    peer: Option<std::net::IpAddr>,
    chain: Option<Arc<Vec<rustls::pki_types::CertificateDer<'static>>>>,
    bytes: &Bytes,
) -> Result<Response, ApiError> {
    let Some(chain) = chain else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "renewal needs the current client certificate: call it over HTTPS with the certificate and its key (curl --cert --key)",
        ));
    };
    let presented = api.policy.certificates.present(&chain);
    let username = match (&presented.untrusted, &presented.common_name) {
        (None, Some(name)) if presented.by_registry => name.clone(),
        (Some(reason), _) => return Err(ApiError::new(StatusCode::FORBIDDEN, reason.clone())),
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "only certificates of the registry's own CA are renewed here",
            ))
        }
    };
    let body: RenewBody = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("the body must be JSON {{\"csr\": PEM}}: {e}")))?;
    let snapshot = api.policy.live().snapshot();
    if let Some(barrier) =
        snapshot
            .state
            .barrier_without_client_id(Some(&username), peer, chrono::Utc::now())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("refused: {barrier}"),
        ));
    }
    drop(snapshot);
    let store = api.store.clone();
    let (name, fingerprint) = (username.clone(), presented.fingerprint.clone());
    let result =
        blocking(move || certificates::renew(&store, &name, &fingerprint, &body.csr)).await;
    crate::ops::record(
        &api.audit,
        &format!("device:{username}"),
        "cert renew",
        Some(username.clone()),
        &result,
        None,
    );
    let issued = result.map_err(|error| match error.code {
        ExitCode::Conflict => ApiError::new(StatusCode::FORBIDDEN, error.message),
        _ => ApiError::from(error),
    })?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}
