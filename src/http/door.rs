//! What every route needs before its operation: who asks ([`Asked`] and its
//! [`Caller`]), whether they may, the operation run off the async threads
//! and audited, and errors as the API answers them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Api, Door};
use crate::error::{Error, ExitCode, Result};
use crate::state::store::Store;
use crate::state::tokens::TokenRole;

/// An error as the API answers it: `{"error": "..."}` with the status its
/// exit code maps to (usage 400, not found 404, conflict 409, failure 500).
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
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

pub type Answer = std::result::Result<Response, ApiError>;

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Through the Unix socket: as the CLI, with everything allowed.
    Local(String),
    Token {
        name: String,
        role: TokenRole,
    },
}

impl Caller {
    /// The audit log's actor: `socket:alice` or `api:NAME`.
    pub fn actor(&self) -> String {
        match self {
            Caller::Local(user) => format!("socket:{user}"),
            Caller::Token { name, .. } => format!("api:{name}"),
        }
    }

    pub fn may_change(&self) -> bool {
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

/// A request as the routes see it: the API, the listener it came through,
/// and what the caller checks and the audit log need of it.
pub struct Asked {
    pub api: Arc<Api>,
    door: Door,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
}

impl FromRequestParts<Arc<Api>> for Asked {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        api: &Arc<Api>,
    ) -> std::result::Result<Self, Self::Rejection> {
        let door = parts.extensions.get::<Door>().copied().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a request from no listener",
            )
        })?;
        Ok(Self {
            api: api.clone(),
            door,
            headers: parts.headers.clone(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
        })
    }
}

impl Asked {
    /// The caller, or 401 (no, wrong or expired token: counted against the
    /// address by the flood guard) or 429 (an address shut out for it).
    pub async fn reader(&self) -> std::result::Result<Caller, ApiError> {
        let api = &self.api;
        let peer = match self.door {
            Door::Local { uid } => return Ok(Caller::Local(crate::audit::user_name(uid))),
            Door::Network(peer) => peer.ip(),
        };
        if api.policy.is_shut_out(peer) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{peer} is shut out after too many refused attempts; an admin lifts it with `mqreg ban remove ID` (see `mqreg ban list`)"),
            ));
        }
        let secret = self
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(secret) = secret else {
            return Err(self
                .refuse(peer, "a token is needed: send `Authorization: Bearer TOKEN` (make one with `mqreg token create NAME`)")
                .await);
        };
        let now = chrono::Utc::now();
        let verify = |tokens: &std::collections::BTreeMap<_, _>| {
            crate::state::tokens::verify(tokens, secret, now)
                .map(|(name, role)| (name.to_owned(), role))
        };
        let mut found = verify(&api.policy.live().snapshot().state.tokens);
        if found.is_none() {
            // A token made a moment ago may not have reached the broker's copy yet.
            let store = api.store.clone();
            let secret = secret.to_owned();
            found = tokio::task::spawn_blocking(move || {
                let state = store.load().ok()?;
                crate::state::tokens::verify(&state.tokens, &secret, now)
                    .map(|(name, role)| (name.to_owned(), role))
            })
            .await
            .ok()
            .flatten();
        }
        match found {
            Some((name, role)) => Ok(Caller::Token { name, role }),
            None => Err(self
                .refuse(
                    peer,
                    "the token is unknown, revoked or expired; see `mqreg token list`",
                )
                .await),
        }
    }

    /// The caller if it may change things, else 403 (a viewer's token).
    pub async fn changer(&self) -> std::result::Result<Caller, ApiError> {
        let caller = self.reader().await?;
        if !caller.may_change() {
            return Err(viewer_refused());
        }
        Ok(caller)
    }

    async fn refuse(&self, peer: std::net::IpAddr, message: &str) -> ApiError {
        self.api.policy.hub.metrics.api_unauthorized.inc();
        self.api.policy.charge_api_refusal(peer).await;
        tracing::info!(peer = %peer, "HTTP API request refused: {message}");
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// A read: any token; the operation's outcome as JSON.
    pub async fn read<T: Serialize + Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Answer {
        self.reader().await?;
        let store = self.api.store.clone();
        Ok(Json(blocking(move || work(&store)).await?).into_response())
    }

    /// A change: an admin token (or the socket); audited with the caller as
    /// actor, whatever its outcome.
    pub async fn change<T: Serialize + Send + 'static>(
        &self,
        action: &'static str,
        target: Option<String>,
        work: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Answer {
        let caller = self.changer().await?;
        let store = self.api.store.clone();
        let result = blocking(move || work(&store)).await;
        self.record(&caller, action, target, &result);
        Ok(Json(result?).into_response())
    }

    /// Appends an audit line for a change made through this request: the
    /// method and path as detail, never a body (it may hold a password).
    pub fn record<T>(
        &self,
        caller: &Caller,
        action: &str,
        target: Option<String>,
        result: &Result<T>,
    ) {
        crate::ops::record(
            &self.api.audit,
            &caller.actor(),
            action,
            target,
            result,
            Some(format!("{} {}", self.method, self.uri.path())),
        );
    }
}

pub fn viewer_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "this token is a viewer's: it may read, not change; use an admin token",
    )
}

/// Runs a blocking operation (file locks and writes, argon2) off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::failure(format!("the operation failed: {e}")))?
}

/// A JSON request body (an empty one is `{}`); a body that is not what the
/// path takes is a usage error (400).
pub fn parse<T: DeserializeOwned>(bytes: &Bytes) -> Result<T> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(text)
        .map_err(|e| Error::usage(format!("the request body is not what this path takes: {e}")))
}

/// 201 Created for an answer.
pub fn created(answer: Response) -> Response {
    let (mut parts, body) = answer.into_parts();
    parts.status = StatusCode::CREATED;
    Response::from_parts(parts, body)
}
