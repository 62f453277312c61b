//! The routes of `/api/v1`, `/metrics` and `/healthz`: each parses its
//! request, checks the caller, calls one `ops` function (off the async
//! threads: they lock and write files) and answers with the outcome's JSON,
//! the same shape `--json` prints. Errors map from the exit code: usage
//! 400, not found 404, conflict 409, failure 500.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;

use super::{Api, Door};
use crate::error::{Error, ExitCode, Result};
use crate::ops::{self, bans, registry, roles, tokens, users};
use crate::state::tokens::TokenRole;
use crate::state::{BanKind, ClientIdRule, Permission};

type Shared = State<Arc<Api>>;

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/registry", get(registry_status))
        .route("/api/v1/registry/unlock", post(registry_unlock))
        .route("/api/v1/registry/lock", post(registry_lock))
        .route("/api/v1/registry/requests", get(registry_list))
        .route("/api/v1/registry/requests/{username}", get(registry_show))
        .route(
            "/api/v1/registry/requests/{username}/approve",
            post(registry_approve_one),
        )
        .route(
            "/api/v1/registry/requests/{username}/reject",
            post(registry_reject_one),
        )
        .route("/api/v1/registry/approve", post(registry_approve))
        .route("/api/v1/registry/reject", post(registry_reject))
        .route("/api/v1/registry/refused", get(registry_refused))
        .route("/api/v1/users", get(user_list).post(user_add))
        .route(
            "/api/v1/users/{username}",
            get(user_show).delete(user_delete),
        )
        .route("/api/v1/users/{username}/roles", post(user_roles))
        .route("/api/v1/users/{username}/disable", post(user_disable))
        .route("/api/v1/users/{username}/enable", post(user_enable))
        .route("/api/v1/users/{username}/password", post(user_password))
        .route("/api/v1/users/{username}/client-ids", post(user_client_ids))
        .route("/api/v1/roles", get(role_list).post(role_create))
        .route("/api/v1/roles/{role}", delete(role_delete))
        .route("/api/v1/roles/{role}/allow", post(role_allow))
        .route("/api/v1/roles/{role}/disallow", post(role_disallow))
        .route("/api/v1/bans", get(ban_list).post(ban_add))
        .route("/api/v1/bans/{id}", delete(ban_remove))
        .route("/api/v1/tokens", get(token_list).post(token_create))
        .route("/api/v1/tokens/{name}", delete(token_revoke))
        .route("/api/v1/audit", get(audit_tail))
        .route("/api/v1/clients", get(client_list))
        .route("/api/v1/clients/{client_id}", delete(client_kick))
        .route("/api/v1/events", get(events))
        .route("/api/v1/log-level", get(log_level).post(set_log_level))
        .fallback(not_found)
        .with_state(api)
}

/// An error as the API answers it: `{"error": "..."}` with the status its
/// exit code maps to.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match error.code {
            ExitCode::Usage => StatusCode::BAD_REQUEST,
            ExitCode::NotFound => StatusCode::NOT_FOUND,
            ExitCode::Conflict => StatusCode::CONFLICT,
            ExitCode::Failure => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"mqreg\""),
            );
        }
        response
    }
}

type Answer = std::result::Result<Response, ApiError>;

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such path: {}; the API lives under /api/v1", uri.path()),
    )
}

/// Who is asking.
#[derive(Debug, Clone)]
enum Caller {
    /// Through the Unix socket: as the CLI, with everything allowed.
    Local(String),
    Token {
        name: String,
        role: TokenRole,
    },
}

impl Caller {
    /// The audit log's actor: `socket:alice` or `api:NAME`.
    fn actor(&self) -> String {
        match self {
            Caller::Local(user) => format!("socket:{user}"),
            Caller::Token { name, .. } => format!("api:{name}"),
        }
    }

    fn may_change(&self) -> bool {
        matches!(
            self,
            Caller::Local(_)
                | Caller::Token {
                    role: TokenRole::Admin,
                    ..
                }
        )
    }
}

/// The caller, or 401 (no, wrong or expired token: counted against the
/// address by the flood guard) or 429 (an address shut out for it).
async fn caller(
    api: &Api,
    door: Door,
    headers: &HeaderMap,
) -> std::result::Result<Caller, ApiError> {
    let peer = match door {
        Door::Local { uid } => return Ok(Caller::Local(crate::audit::user_name(uid))),
        Door::Network(peer) => peer.ip(),
    };
    if api.policy.is_shut_out(peer) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{peer} is shut out after too many refused attempts; an admin lifts it with `mqreg ban remove ID` (see `mqreg ban list`)"),
        ));
    }
    let secret = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(secret) = secret else {
        return Err(refuse(api, peer, "a token is needed: send `Authorization: Bearer TOKEN` (make one with `mqreg token create NAME`)").await);
    };
    let now = chrono::Utc::now();
    let found =
        crate::state::tokens::verify(&api.policy.live().snapshot().state.tokens, secret, now)
            .map(|(name, role)| (name.to_owned(), role));
    // A token made a moment ago may not have reached the broker's copy yet.
    let found = match found {
        Some(found) => Some(found),
        None => {
            let store = api.store.clone();
            let secret = secret.to_owned();
            tokio::task::spawn_blocking(move || {
                let state = store.load().ok()?;
                crate::state::tokens::verify(&state.tokens, &secret, now)
                    .map(|(name, role)| (name.to_owned(), role))
            })
            .await
            .ok()
            .flatten()
        }
    };
    match found {
        Some((name, role)) => Ok(Caller::Token { name, role }),
        None => Err(refuse(
            api,
            peer,
            "the token is unknown, revoked or expired; see `mqreg token list`",
        )
        .await),
    }
}

async fn refuse(api: &Api, peer: std::net::IpAddr, message: &str) -> ApiError {
    api.policy.hub.metrics.api_unauthorized.inc();
    api.policy.charge_api_refusal(peer).await;
    tracing::info!(peer = %peer, "HTTP API request refused: {message}");
    ApiError::new(StatusCode::UNAUTHORIZED, message)
}

async fn reader(
    api: &Api,
    door: Door,
    headers: &HeaderMap,
) -> std::result::Result<Caller, ApiError> {
    caller(api, door, headers).await
}

async fn changer(
    api: &Api,
    door: Door,
    headers: &HeaderMap,
) -> std::result::Result<Caller, ApiError> {
    let caller = caller(api, door, headers).await?;
    if !caller.may_change() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this token is a viewer's: it may read, not change; use an admin token",
        ));
    }
    Ok(caller)
}

/// Runs a blocking operation off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::failure(format!("the operation failed: {e}")))?
}

/// Runs a change and audits it with the caller as actor.
async fn change<T: Serialize + Send + 'static>(
    api: &Arc<Api>,
    caller: &Caller,
    (method, uri): (&Method, &Uri),
    action: &'static str,
    target: Option<String>,
    work: impl FnOnce(&crate::state::store::Store) -> Result<T> + Send + 'static,
) -> Answer {
    let store = api.store.clone();
    let result = blocking(move || work(&store)).await;
    ops::record(
        &api.audit,
        &caller.actor(),
        action,
        target,
        &result,
        Some(format!("{method} {}", uri.path())),
    );
    Ok(Json(result?).into_response())
}

/// A JSON body; an empty one is `{}`.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> std::result::Result<T, ApiError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the request body is not what this path takes: {e}"),
        )
    })
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    if !api.metrics_public {
        reader(&api, door, &headers).await?;
    }
    let core = api.broker.stats().await?;
    let snapshot = api.policy.live().snapshot();
    let status = snapshot.state.status(ops::now());
    let sample = crate::broker::metrics::Sample {
        core,
        pending: status.pending,
        unlocked: !status.locked,
        persistence_lag: api.persist.as_ref().map_or(0, |store| store.lag()),
    };
    let text = api.policy.hub.metrics.render(sample);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn registry_status(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    let mut status = blocking(move || registry::status(&store)).await?;
    status.clients = api.broker.stats().await.ok().map(|stats| stats.connections);
    Ok(Json(status).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlockBody {
    #[serde(rename = "for", default)]
    window: Option<String>,
}

async fn registry_unlock(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: UnlockBody = body(&bytes)?;
    let window = registry::parse_window(request.window.as_deref().unwrap_or("5m"))
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    change(
        &api,
        &caller,
        (&method, &uri),
        "registry unlock",
        None,
        move |store| registry::unlock(store, window),
    )
    .await
}

async fn registry_lock(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    change(
        &api,
        &caller,
        (&method, &uri),
        "registry lock",
        None,
        registry::lock,
    )
    .await
}

async fn registry_list(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    Ok(Json(blocking(move || registry::list(&store)).await?).into_response())
}

async fn registry_show(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    Ok(Json(blocking(move || registry::show(&store, &username)).await?).into_response())
}

async fn registry_refused(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    Ok(Json(api.policy.hub.refused()).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    attempt: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    #[serde(flatten)]
    selection: registry::SelectionRequest,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    attempt: Option<u32>,
    /// Only say which requests the selection matches.
    #[serde(default)]
    preview: bool,
}

/// The outcome of approve or reject, with the status its verdict gives.
fn decided(decided: registry::Decided, named: &[String]) -> Answer {
    match decided.verdict(named) {
        Ok(()) => Ok(Json(decided).into_response()),
        Err(error) => {
            let status = ApiError::from(error);
            let mut json = serde_json::to_value(&decided).unwrap_or_default();
            json["error"] = status.message.clone().into();
            if !decided.needing_attempt.is_empty() {
                json["requests"] =
                    serde_json::to_value(&decided.needing_attempt).unwrap_or_default();
            }
            Ok((status.status, Json(json)).into_response())
        }
    }
}

async fn approve(
    api: Arc<Api>,
    caller: Caller,
    request: (&Method, &Uri),
    selection: crate::state::Selection,
    roles: Vec<String>,
    force: bool,
    attempt: Option<u32>,
) -> Answer {
    for role in &roles {
        crate::names::check_role(role).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    }
    if attempt == Some(0) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "attempts are numbered from 1",
        ));
    }
    let named = selection.names.clone();
    let store = api.store.clone();
    let result = blocking(move || {
        registry::approve(
            &store,
            registry::Approval {
                selection,
                roles,
                force,
                attempt,
            },
        )
    })
    .await;
    audit_decided(&api, &caller, request, "registry approve", &result);
    decided(result?, &named)
}

/// One audit line per user a decision acted on, as the CLI writes them.
fn audit_decided(
    api: &Api,
    caller: &Caller,
    (method, uri): (&Method, &Uri),
    action: &str,
    result: &Result<registry::Decided>,
) {
    let detail = Some(format!("{method} {}", uri.path()));
    match result {
        Ok(decided) if !decided.outcome.done.is_empty() => {
            for name in &decided.outcome.done {
                ops::record(
                    &api.audit,
                    &caller.actor(),
                    action,
                    Some(name.clone()),
                    &Ok(()),
                    detail.clone(),
                );
            }
        }
        _ => ops::record(&api.audit, &caller.actor(), action, None, result, detail),
    }
}

async fn registry_approve_one(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: ApproveBody = body(&bytes)?;
    let selection = crate::state::Selection {
        names: vec![username],
        all: false,
        pattern: None,
    };
    approve(
        api,
        caller,
        (&method, &uri),
        selection,
        request.roles,
        request.force,
        request.attempt,
    )
    .await
}

async fn registry_approve(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let request: BulkBody = body(&bytes)?;
    let selection = request.selection.into_selection("approve")?;
    if request.preview {
        reader(&api, door, &headers).await?;
        let store = api.store.clone();
        let matched = blocking(move || registry::preview(&store, &selection)).await?;
        return Ok(Json(serde_json::json!({ "matches": matched })).into_response());
    }
    let caller = changer(&api, door, &headers).await?;
    approve(
        api,
        caller,
        (&method, &uri),
        selection,
        request.roles,
        request.force,
        request.attempt,
    )
    .await
}

async fn reject(
    api: Arc<Api>,
    caller: Caller,
    request: (&Method, &Uri),
    selection: crate::state::Selection,
) -> Answer {
    let named = selection.names.clone();
    let store = api.store.clone();
    let result = blocking(move || registry::reject(&store, selection)).await;
    audit_decided(&api, &caller, request, "registry reject", &result);
    decided(result?, &named)
}

async fn registry_reject_one(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let selection = crate::state::Selection {
        names: vec![username],
        all: false,
        pattern: None,
    };
    reject(api, caller, (&method, &uri), selection).await
}

async fn registry_reject(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: registry::SelectionRequest = body(&bytes)?;
    let selection = request.into_selection("reject")?;
    reject(api, caller, (&method, &uri), selection).await
}

async fn user_list(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    Ok(Json(blocking(move || users::list(&store)).await?).into_response())
}

async fn user_show(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    Ok(Json(blocking(move || users::show(&store, &username)).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn user_add(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: NewUser = body(&bytes)?;
    let target = Some(request.username.clone());
    let answer = change(
        &api,
        &caller,
        (&method, &uri),
        "user add",
        target,
        move |store| users::add(store, &request.username, &request.password, &request.roles),
    )
    .await?;
    Ok((StatusCode::CREATED, answer).into_response())
}

async fn user_delete(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let target = Some(username.clone());
    change(
        &api,
        &caller,
        (&method, &uri),
        "user delete",
        target,
        move |store| {
            users::delete(store, &username).map(|()| serde_json::json!({ "deleted": username }))
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesBody {
    #[serde(default)]
    grant: Vec<String>,
    #[serde(default)]
    revoke: Vec<String>,
}

async fn user_roles(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: RolesBody = body(&bytes)?;
    for role in request.grant.iter().chain(&request.revoke) {
        crate::names::check_role(role).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    }
    if request.grant.is_empty() && request.revoke.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "name roles to \"grant\" or \"revoke\"",
        ));
    }
    let target = Some(username.clone());
    let action = if request.revoke.is_empty() {
        "user grant-role"
    } else if request.grant.is_empty() {
        "user revoke-role"
    } else {
        "user roles"
    };
    change(
        &api,
        &caller,
        (&method, &uri),
        action,
        target,
        move |store| {
            let mut changed = None;
            if !request.grant.is_empty() {
                changed = Some(users::grant(store, &username, &request.grant)?);
            }
            if !request.revoke.is_empty() {
                let revoked = users::revoke(store, &username, &request.revoke)?;
                changed = Some(match changed {
                    Some(mut granted) => {
                        granted.user = revoked.user;
                        granted.not_found.extend(revoked.not_found);
                        granted
                    }
                    None => revoked,
                });
            }
            let changed = changed.expect("one of them is not empty");
            changed.verdict()?;
            Ok(changed.user)
        },
    )
    .await
}

async fn set_disabled(
    api: Arc<Api>,
    door: Door,
    headers: HeaderMap,
    request: (&Method, &Uri),
    username: String,
    disabled: bool,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let action = if disabled {
        "user disable"
    } else {
        "user enable"
    };
    let target = Some(username.clone());
    change(&api, &caller, request, action, target, move |store| {
        users::set_disabled(store, &username, disabled)
    })
    .await
}

async fn user_disable(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
) -> Answer {
    set_disabled(api, door, headers, (&method, &uri), username, true).await
}

async fn user_enable(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
) -> Answer {
    set_disabled(api, door, headers, (&method, &uri), username, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

async fn user_password(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: PasswordBody = body(&bytes)?;
    let target = Some(username.clone());
    change(
        &api,
        &caller,
        (&method, &uri),
        "user passwd",
        target,
        move |store| users::passwd(store, &username, &request.password),
    )
    .await
}

/// `{"rule": "any" | "registered" | "inherit" | ["glob", ...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientIdsBody {
    rule: RuleBody,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RuleBody {
    Word(String),
    Patterns(Vec<String>),
}

async fn user_client_ids(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(username): Path<String>,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: ClientIdsBody = body(&bytes)?;
    let rule = match request.rule {
        RuleBody::Word(word) => match word.as_str() {
            "any" => Some(ClientIdRule::Any),
            "registered" => Some(ClientIdRule::Registered),
            "inherit" => None,
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("'{other}' is no client id rule: give \"any\", \"registered\", \"inherit\" or a list of globs"),
                ))
            }
        },
        RuleBody::Patterns(patterns) => Some(
            ClientIdRule::patterns(patterns).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?,
        ),
    };
    let target = Some(username.clone());
    change(
        &api,
        &caller,
        (&method, &uri),
        "user client-ids",
        target,
        move |store| users::set_client_ids(store, &username, rule),
    )
    .await
}

async fn role_list(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    Ok(Json(blocking(move || roles::list(&store)).await?).into_response())
}

/// A permission as `ACCESS:FILTER` or `{"access", "filter"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum PermissionBody {
    Text(String),
    Object(Permission),
}

fn permissions(list: Vec<PermissionBody>) -> std::result::Result<Vec<Permission>, ApiError> {
    list.into_iter()
        .map(|permission| match permission {
            PermissionBody::Text(text) => text
                .parse::<Permission>()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e)),
            PermissionBody::Object(permission) => {
                let text = permission.to_string();
                text.parse::<Permission>()
                    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))
            }
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRole {
    name: String,
    #[serde(default)]
    permissions: Vec<PermissionBody>,
}

async fn role_create(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: NewRole = body(&bytes)?;
    let granted = permissions(request.permissions)?;
    let name = request.name;
    let target = Some(name.clone());
    let answer = change(
        &api,
        &caller,
        (&method, &uri),
        "role create",
        target,
        move |store| roles::create(store, &name, &granted),
    )
    .await?;
    Ok((StatusCode::CREATED, answer).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionsBody {
    permissions: Vec<PermissionBody>,
}

async fn role_allow(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(role): Path<String>,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: PermissionsBody = body(&bytes)?;
    let granted = permissions(request.permissions)?;
    let target = Some(role.clone());
    change(
        &api,
        &caller,
        (&method, &uri),
        "role allow",
        target,
        move |store| roles::allow(store, &role, &granted),
    )
    .await
}

async fn role_disallow(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(role): Path<String>,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: PermissionsBody = body(&bytes)?;
    let taken = permissions(request.permissions)?;
    let target = Some(role.clone());
    change(
        &api,
        &caller,
        (&method, &uri),
        "role disallow",
        target,
        move |store| roles::disallow(store, &role, &taken).map(|(role, _)| role),
    )
    .await
}

async fn role_delete(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(role): Path<String>,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let target = Some(role.clone());
    change(
        &api,
        &caller,
        (&method, &uri),
        "role delete",
        target,
        move |store| {
            roles::delete(store, &role)
                .map(|holders| serde_json::json!({ "deleted": role, "held_by": holders }))
        },
    )
    .await
}

async fn ban_list(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    Ok(Json(blocking(move || bans::list(&store)).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBan {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(rename = "for", default)]
    duration: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn ban_add(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: NewBan = body(&bytes)?;
    let (kind, value) = match (request.username, request.client_id, request.address) {
        (Some(name), None, None) => (BanKind::Username, name),
        (None, Some(client_id), None) => (BanKind::ClientId, client_id),
        (None, None, Some(address)) => (BanKind::Address, address),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "name exactly one of \"username\", \"client_id\" or \"address\"",
            ))
        }
    };
    let duration = request
        .duration
        .map(|text| bans::parse_duration(&text))
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let reason = request.reason;
    let answer = change(
        &api,
        &caller,
        (&method, &uri),
        "ban add",
        None,
        move |store| bans::add(store, kind, value, duration, reason),
    )
    .await?;
    Ok((StatusCode::CREATED, answer).into_response())
}

async fn ban_remove(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let id: u64 = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("'{id}' is no ban id; see GET /api/v1/bans"),
        )
    })?;
    change(
        &api,
        &caller,
        (&method, &uri),
        "ban remove",
        Some(id.to_string()),
        move |store| bans::remove(store, id).map(|()| serde_json::json!({ "removed": id })),
    )
    .await
}

async fn token_list(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    let store = api.store.clone();
    Ok(Json(blocking(move || tokens::list(&store)).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    role: Option<TokenRole>,
    #[serde(rename = "for", default)]
    lifetime: Option<String>,
}

async fn token_create(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: NewToken = body(&bytes)?;
    let lifetime = request
        .lifetime
        .map(|text| {
            humantime::parse_duration(&text)
                .map_err(|e| format!("'{text}' is not a duration like 30d: {e}"))
        })
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let role = request.role.unwrap_or(TokenRole::Viewer);
    let name = request.name;
    let target = Some(name.clone());
    let answer = change(
        &api,
        &caller,
        (&method, &uri),
        "token create",
        target,
        move |store| tokens::create(store, &name, role, lifetime),
    )
    .await?;
    Ok((StatusCode::CREATED, answer).into_response())
}

async fn token_revoke(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let target = Some(name.clone());
    change(
        &api,
        &caller,
        (&method, &uri),
        "token revoke",
        target,
        move |store| tokens::revoke(store, &name).map(|()| serde_json::json!({ "revoked": name })),
    )
    .await
}

#[derive(Deserialize)]
struct AuditQuery {
    lines: Option<usize>,
}

async fn audit_tail(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Answer {
    reader(&api, door, &headers).await?;
    let lines = query.lines.unwrap_or(20).min(10_000);
    let audit = api.clone();
    let entries = blocking(move || {
        audit.audit.tail(lines).map_err(|e| {
            Error::failure(format!(
                "cannot read the audit log {}: {e}",
                audit.audit.path().display()
            ))
        })
    })
    .await?;
    Ok(Json(entries).into_response())
}

async fn client_list(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    Ok(Json(api.broker.clients().await?).into_response())
}

async fn client_kick(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(client_id): Path<String>,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let result = match api.broker.kick(&client_id).await {
        Ok(true) => Ok(serde_json::json!({ "kicked": client_id })),
        Ok(false) => Err(Error::not_found(format!(
            "no connected client with id {}; see `mqreg client list`",
            crate::names::printable(&client_id)
        ))),
        Err(error) => Err(error),
    };
    ops::record(
        &api.audit,
        &caller.actor(),
        "client kick",
        Some(crate::names::printable(&client_id)),
        &result,
        Some(format!("{method} {}", uri.path())),
    );
    Ok(Json(result?).into_response())
}

async fn events(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> std::result::Result<
    Sse<impl tokio_stream::Stream<Item = std::result::Result<SseEvent, Infallible>>>,
    ApiError,
> {
    reader(&api, door, &headers).await?;
    let events =
        tokio_stream::wrappers::BroadcastStream::new(api.policy.hub.subscribe()).map(|event| {
            Ok(match event {
                Ok(event) => SseEvent::default()
                    .event(event.kind)
                    .json_data(event.data)
                    .unwrap_or_default(),
                Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(missed)) => {
                    SseEvent::default()
                        .event("lagged")
                        .data(format!("{{\"missed\":{missed}}}"))
                }
            })
        });
    // The first line tells a client at once that the stream is open.
    let opened = tokio_stream::once(Ok(SseEvent::default().comment("mqreg events")));
    Ok(Sse::new(opened.chain(events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn log_level(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
) -> Answer {
    reader(&api, door, &headers).await?;
    Ok(Json(serde_json::json!({ "filter": crate::logging::current() })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLevelBody {
    filter: String,
}

async fn set_log_level(
    State(api): Shared,
    Extension(door): Extension<Door>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    bytes: Bytes,
) -> Answer {
    let caller = changer(&api, door, &headers).await?;
    let request: LogLevelBody = body(&bytes)?;
    let result =
        crate::logging::set(&request.filter).map(|filter| serde_json::json!({ "filter": filter }));
    ops::record(
        &api.audit,
        &caller.actor(),
        "log-level",
        Some(request.filter.clone()),
        &result,
        Some(format!("{method} {}", uri.path())),
    );
    Ok(Json(result?).into_response())
}
