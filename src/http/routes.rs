//! The routes of `/api/v1`, `/metrics` and `/healthz`: each parses its
//! request, checks the caller ([`Asked`]), calls one `ops` function and
//! answers with the outcome's JSON, the same shape `--json` prints.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio_stream::StreamExt;

use super::door::{blocking, created, parse, viewer_refused, Answer, ApiError, Asked, Caller};
use super::{enrol, web, Api};
use crate::error::{Error, Result};
use crate::ops::{self, bans, certificates, registry, roles, tokens, users};
use crate::state::tokens::TokenRole;
use crate::state::{BanKind, ClientIdRule, Permission, Selection};

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/", get(web::page))
        .route("/assets/{file}", get(web::asset))
        .route(
            "/healthz",
            get({
                let api = api.clone();
                move || healthz(api.clone())
            }),
        )
        .route("/metrics", get(metrics))
        .route("/api/client-registry/register", post(enrol::register))
        .route("/api/client-registry/renew", post(enrol::renew))
        .route("/api/v1/whoami", get(whoami))
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
        .route(
            "/api/v1/registry/client-ids",
            get(registry_client_ids).post(set_registry_client_ids),
        )
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
        .route("/api/v1/users/{username}/certificates", post(cert_issue))
        .route("/api/v1/users/{username}/revoke-cert", post(revoke_cert))
        .route("/api/v1/ca", get(ca_show))
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
        .route("/api/v1/bridges", get(bridge_list))
        .route("/api/v1/clients/{client_id}", delete(client_kick))
        .route("/api/v1/events", get(events))
        .route("/api/v1/log-level", get(log_level).post(set_log_level))
        .fallback(not_found)
        .with_state(api)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such path: {}; the API lives under /api/v1", uri.path()),
    )
}

/// `ok`, and a second line while the registry database cannot be reached
/// (the gateway still serves, from its copy: a health check stays green).
async fn healthz(api: Arc<Api>) -> String {
    let Some(database) = api.store.database() else {
        return "ok\n".into();
    };
    match database.health.problem() {
        None => "ok\n".into(),
        Some((error, since)) => format!(
            "ok\nregistry database {} unreachable since {}: {error}; serving this gateway's copy of the registry\n",
            database.url(),
            crate::output::rfc3339(since)
        ),
    }
}

async fn metrics(asked: Asked) -> Answer {
    let api = &asked.api;
    if !api.metrics_public {
        asked.reader().await?;
    }
    let core = api.broker.stats().await?;
    let status = api.policy.live().snapshot().state.status(ops::now());
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

/// The caller as the API sees it, so a page can offer only what the token
/// may do (the server checks again on every change).
async fn whoami(asked: Asked) -> Answer {
    let caller = asked.reader().await?;
    let role = match &caller {
        Caller::Local(_) => TokenRole::Admin,
        Caller::Token { role, .. } => *role,
    };
    Ok(Json(serde_json::json!({
        "actor": caller.actor(),
        "role": role,
        "may_change": caller.may_change(),
    }))
    .into_response())
}

async fn registry_status(asked: Asked) -> Answer {
    asked.reader().await?;
    let store = asked.api.store.clone();
    let mut status = blocking(move || registry::status(&store)).await?;
    status.clients = asked
        .api
        .broker
        .stats()
        .await
        .ok()
        .map(|stats| stats.connections);
    Ok(Json(status).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlockBody {
    #[serde(rename = "for", default)]
    window: Option<String>,
}

async fn registry_unlock(asked: Asked, bytes: Bytes) -> Answer {
    asked
        .change("registry unlock", None, move |store| {
            let request: UnlockBody = parse(&bytes)?;
            let window = registry::parse_window(request.window.as_deref().unwrap_or("5m"))
                .map_err(Error::usage)?;
            registry::unlock(store, window)
        })
        .await
}

async fn registry_lock(asked: Asked) -> Answer {
    asked.change("registry lock", None, registry::lock).await
}

async fn registry_list(asked: Asked) -> Answer {
    asked.read(registry::list).await
}

async fn registry_show(asked: Asked, Path(username): Path<String>) -> Answer {
    asked
        .read(move |store| registry::show(store, &username))
        .await
}

async fn registry_refused(asked: Asked) -> Answer {
    asked.reader().await?;
    Ok(Json(asked.api.policy.hub.refused()).into_response())
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

fn one(username: String) -> Selection {
    Selection {
        names: vec![username],
        all: false,
        pattern: None,
    }
}

/// Approves or rejects, audits one line per user acted on (as the CLI
/// does), and answers with the outcome and the status its verdict gives.
async fn decide(
    asked: &Asked,
    caller: &Caller,
    action: &'static str,
    selection: Selection,
    work: impl FnOnce(&crate::state::store::Store, Selection) -> Result<registry::Decided>
        + Send
        + 'static,
) -> Answer {
    let named = selection.names.clone();
    let store = asked.api.store.clone();
    let result = blocking(move || work(&store, selection)).await;
    match &result {
        Ok(decided) if !decided.outcome.done.is_empty() => {
            for name in &decided.outcome.done {
                asked.record(caller, action, Some(name.clone()), &Ok(()));
            }
        }
        _ => asked.record(caller, action, None, &result),
    }
    let decided = result?;
    match decided.verdict(&named) {
        Ok(()) => Ok(Json(decided).into_response()),
        Err(error) => {
            let refused = ApiError::from(error);
            let mut json = serde_json::to_value(&decided).unwrap_or_default();
            json["error"] = refused.message.into();
            if !decided.needing_attempt.is_empty() {
                json["requests"] =
                    serde_json::to_value(&decided.needing_attempt).unwrap_or_default();
            }
            Ok((refused.status, Json(json)).into_response())
        }
    }
}

async fn approve(
    asked: &Asked,
    caller: &Caller,
    selection: Selection,
    roles: Vec<String>,
    force: bool,
    attempt: Option<u32>,
) -> Answer {
    for role in &roles {
        crate::names::check_role(role).map_err(Error::usage)?;
    }
    if attempt == Some(0) {
        return Err(Error::usage("attempts are numbered from 1").into());
    }
    decide(
        asked,
        caller,
        "registry approve",
        selection,
        move |store, selection| {
            registry::approve(
                store,
                registry::Approval {
                    selection,
                    roles,
                    force,
                    attempt,
                },
            )
        },
    )
    .await
}

async fn registry_approve_one(asked: Asked, Path(username): Path<String>, bytes: Bytes) -> Answer {
    let caller = asked.changer().await?;
    let request: ApproveBody = parse(&bytes)?;
    approve(
        &asked,
        &caller,
        one(username),
        request.roles,
        request.force,
        request.attempt,
    )
    .await
}

async fn registry_approve(asked: Asked, bytes: Bytes) -> Answer {
    // Who asks before what they ask: no token is 401 whatever the body.
    let caller = asked.reader().await?;
    let request: BulkBody = parse(&bytes)?;
    let selection = request.selection.into_selection("approve")?;
    if request.preview {
        let store = asked.api.store.clone();
        let matched = blocking(move || registry::preview(&store, &selection)).await?;
        return Ok(Json(serde_json::json!({ "matches": matched })).into_response());
    }
    if !caller.may_change() {
        return Err(viewer_refused());
    }
    approve(
        &asked,
        &caller,
        selection,
        request.roles,
        request.force,
        request.attempt,
    )
    .await
}

async fn registry_reject_one(asked: Asked, Path(username): Path<String>) -> Answer {
    let caller = asked.changer().await?;
    decide(
        &asked,
        &caller,
        "registry reject",
        one(username),
        registry::reject,
    )
    .await
}

async fn registry_reject(asked: Asked, bytes: Bytes) -> Answer {
    let caller = asked.changer().await?;
    let request: registry::SelectionRequest = parse(&bytes)?;
    let selection = request.into_selection("reject")?;
    decide(
        &asked,
        &caller,
        "registry reject",
        selection,
        registry::reject,
    )
    .await
}

async fn user_list(asked: Asked) -> Answer {
    asked.read(users::list).await
}

async fn user_show(asked: Asked, Path(username): Path<String>) -> Answer {
    asked.read(move |store| users::show(store, &username)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn user_add(asked: Asked, bytes: Bytes) -> Answer {
    let request: Option<NewUser> = parse(&bytes).ok();
    let target = request.as_ref().map(|request| request.username.clone());
    asked
        .change("user add", target, move |store| {
            let request: NewUser = parse(&bytes)?;
            users::add(store, &request.username, &request.password, &request.roles)
        })
        .await
        .map(created)
}

async fn user_delete(asked: Asked, Path(username): Path<String>) -> Answer {
    asked
        .change("user delete", Some(username.clone()), move |store| {
            // The shape `user delete --json` prints.
            users::delete(store, &username).map(|()| {
                serde_json::json!({ "ok": true, "message": format!("deleted user {username}") })
            })
        })
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

async fn user_roles(asked: Asked, Path(username): Path<String>, bytes: Bytes) -> Answer {
    let action = match parse::<RolesBody>(&bytes) {
        Ok(request) if request.grant.is_empty() => "user revoke-role",
        Ok(request) if request.revoke.is_empty() => "user grant-role",
        _ => "user roles",
    };
    asked
        .change(action, Some(username.clone()), move |store| {
            let request: RolesBody = parse(&bytes)?;
            for role in request.grant.iter().chain(&request.revoke) {
                crate::names::check_role(role).map_err(Error::usage)?;
            }
            if request.grant.is_empty() && request.revoke.is_empty() {
                return Err(Error::usage("name roles to \"grant\" or \"revoke\""));
            }
            let mut not_found = Vec::new();
            let mut user = None;
            if !request.grant.is_empty() {
                let granted = users::grant(store, &username, &request.grant)?;
                not_found.extend(granted.not_found);
                user = Some(granted.user);
            }
            if !request.revoke.is_empty() {
                let revoked = users::revoke(store, &username, &request.revoke)?;
                not_found.extend(revoked.not_found);
                user = Some(revoked.user);
            }
            let changed = users::RolesChanged {
                user: user.expect("one of them is not empty"),
                not_found,
            };
            changed.verdict()?;
            Ok(changed.user)
        })
        .await
}

async fn user_disable(asked: Asked, Path(username): Path<String>) -> Answer {
    asked
        .change("user disable", Some(username.clone()), move |store| {
            users::set_disabled(store, &username, true)
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    csr: String,
    #[serde(default)]
    days: Option<u32>,
}

async fn cert_issue(asked: Asked, Path(username): Path<String>, bytes: Bytes) -> Answer {
    asked
        .change("cert issue", Some(username.clone()), move |store| {
            let request: IssueBody = parse(&bytes)?;
            if request.days == Some(0) {
                return Err(Error::usage(
                    "a certificate must be valid for at least 1 day",
                ));
            }
            certificates::issue(store, &username, &request.csr, request.days)
        })
        .await
        .map(created)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    serial: Option<String>,
}

async fn revoke_cert(asked: Asked, Path(username): Path<String>, bytes: Bytes) -> Answer {
    asked
        .change("user revoke-cert", Some(username.clone()), move |store| {
            let request: RevokeBody = parse(&bytes)?;
            certificates::revoke(store, &username, request.serial.as_deref())
        })
        .await
}

async fn ca_show(asked: Asked) -> Answer {
    asked.read(certificates::ca_show).await
}

async fn user_enable(asked: Asked, Path(username): Path<String>) -> Answer {
    asked
        .change("user enable", Some(username.clone()), move |store| {
            users::set_disabled(store, &username, false)
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

async fn user_password(asked: Asked, Path(username): Path<String>, bytes: Bytes) -> Answer {
    asked
        .change("user passwd", Some(username.clone()), move |store| {
            let request: PasswordBody = parse(&bytes)?;
            users::passwd(store, &username, &request.password)
        })
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

impl RuleBody {
    /// `Some(rule)`, or `None` for "inherit" (a user's rule only).
    fn into_rule(self) -> Result<Option<ClientIdRule>> {
        match self {
            RuleBody::Word(word) => match word.as_str() {
                "any" => Ok(Some(ClientIdRule::Any)),
                "registered" => Ok(Some(ClientIdRule::Registered)),
                "inherit" => Ok(None),
                other => Err(Error::usage(format!(
                    "'{other}' is no client id rule: give \"any\", \"registered\", \"inherit\" (a user's only) or a list of globs"
                ))),
            },
            RuleBody::Patterns(patterns) => Ok(Some(
                ClientIdRule::patterns(patterns).map_err(Error::usage)?,
            )),
        }
    }
}

async fn registry_client_ids(asked: Asked) -> Answer {
    asked.read(registry::client_ids).await
}

async fn set_registry_client_ids(asked: Asked, bytes: Bytes) -> Answer {
    asked
        .change("registry client-ids", None, move |store| {
            let request: ClientIdsBody = parse(&bytes)?;
            let rule = request.rule.into_rule()?.ok_or_else(|| {
                Error::usage("the registry has no rule to inherit: give \"any\", \"registered\" or a list of globs")
            })?;
            registry::set_client_ids(store, rule)
        })
        .await
}

async fn user_client_ids(asked: Asked, Path(username): Path<String>, bytes: Bytes) -> Answer {
    asked
        .change("user client-ids", Some(username.clone()), move |store| {
            let request: ClientIdsBody = parse(&bytes)?;
            let rule = request.rule.into_rule()?;
            users::set_client_ids(store, &username, rule)
        })
        .await
}

async fn role_list(asked: Asked) -> Answer {
    asked.read(roles::list).await
}

/// A permission as `ACCESS:FILTER` or `{"access", "filter"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum PermissionBody {
    Text(String),
    Object(Permission),
}

/// The permissions of a body, checked as the command line checks them.
fn permissions(list: Vec<PermissionBody>) -> Result<Vec<Permission>> {
    list.into_iter()
        .map(|permission| {
            let text = match permission {
                PermissionBody::Text(text) => text,
                PermissionBody::Object(permission) => permission.to_string(),
            };
            text.parse::<Permission>().map_err(Error::usage)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionsBody {
    permissions: Vec<PermissionBody>,
}

async fn role_create(asked: Asked, bytes: Bytes) -> Answer {
    let target = parse::<NewRole>(&bytes).ok().map(|request| request.name);
    asked
        .change("role create", target, move |store| {
            let request: NewRole = parse(&bytes)?;
            roles::create(store, &request.name, &permissions(request.permissions)?)
        })
        .await
        .map(created)
}

async fn role_allow(asked: Asked, Path(role): Path<String>, bytes: Bytes) -> Answer {
    asked
        .change("role allow", Some(role.clone()), move |store| {
            let request: PermissionsBody = parse(&bytes)?;
            roles::allow(store, &role, &permissions(request.permissions)?)
        })
        .await
}

async fn role_disallow(asked: Asked, Path(role): Path<String>, bytes: Bytes) -> Answer {
    asked
        .change("role disallow", Some(role.clone()), move |store| {
            let request: PermissionsBody = parse(&bytes)?;
            roles::disallow(store, &role, &permissions(request.permissions)?).map(|(role, _)| role)
        })
        .await
}

async fn role_delete(asked: Asked, Path(role): Path<String>) -> Answer {
    asked
        .change("role delete", Some(role.clone()), move |store| {
            // The shape `role delete --json` prints.
            roles::delete(store, &role).map(|holders| {
                serde_json::json!({
                    "ok": true,
                    "message": format!("deleted role {role} (it was held by {holders} users)"),
                })
            })
        })
        .await
}

async fn ban_list(asked: Asked) -> Answer {
    asked.read(bans::list).await
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

async fn ban_add(asked: Asked, bytes: Bytes) -> Answer {
    asked
        .change("ban add", None, move |store| {
            let request: NewBan = parse(&bytes)?;
            let (kind, value) = match (request.username, request.client_id, request.address) {
                (Some(name), None, None) => (BanKind::Username, name),
                (None, Some(client_id), None) => (BanKind::ClientId, client_id),
                (None, None, Some(address)) => (BanKind::Address, address),
                _ => {
                    return Err(Error::usage(
                        "name exactly one of \"username\", \"client_id\" or \"address\"",
                    ))
                }
            };
            let duration = request
                .duration
                .map(|text| bans::parse_duration(&text))
                .transpose()
                .map_err(Error::usage)?;
            bans::add(store, kind, value, duration, request.reason)
        })
        .await
        .map(created)
}

async fn ban_remove(asked: Asked, Path(id): Path<String>) -> Answer {
    asked
        .change("ban remove", Some(id.clone()), move |store| {
            let id: u64 = id
                .parse()
                .map_err(|_| Error::usage(format!("'{id}' is no ban id; see GET /api/v1/bans")))?;
            bans::remove(store, id).map(|()| serde_json::json!({ "removed": id }))
        })
        .await
}

async fn token_list(asked: Asked) -> Answer {
    asked.read(tokens::list).await
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

async fn token_create(asked: Asked, bytes: Bytes) -> Answer {
    let target = parse::<NewToken>(&bytes).ok().map(|request| request.name);
    asked
        .change("token create", target, move |store| {
            let request: NewToken = parse(&bytes)?;
            let lifetime = request
                .lifetime
                .map(|text| {
                    humantime::parse_duration(&text).map_err(|e| {
                        Error::usage(format!("'{text}' is not a duration like 30d: {e}"))
                    })
                })
                .transpose()?;
            tokens::create(
                store,
                &request.name,
                request.role.unwrap_or(TokenRole::Viewer),
                lifetime,
            )
        })
        .await
        .map(created)
}

async fn token_revoke(asked: Asked, Path(name): Path<String>) -> Answer {
    asked
        .change("token revoke", Some(name.clone()), move |store| {
            tokens::revoke(store, &name).map(|()| serde_json::json!({ "revoked": name }))
        })
        .await
}

#[derive(Deserialize)]
struct AuditQuery {
    lines: Option<usize>,
}

async fn audit_tail(asked: Asked, Query(query): Query<AuditQuery>) -> Answer {
    asked.reader().await?;
    let lines = query.lines.unwrap_or(20).min(10_000);
    let api = asked.api.clone();
    let entries = blocking(move || {
        api.audit.tail(lines).map_err(|e| {
            Error::failure(format!(
                "cannot read the audit log {}: {e}",
                api.audit.path().display()
            ))
        })
    })
    .await?;
    Ok(Json(entries).into_response())
}

/// The connected clients; a bridge's own connection to this broker carries
/// the bridge's status (`bridge`).
async fn client_list(asked: Asked) -> Answer {
    asked.reader().await?;
    let clients = asked.api.broker.clients().await?;
    let bridges = asked.api.bridges.all();
    let rows: Vec<serde_json::Value> = clients
        .into_iter()
        .map(|client| {
            let mut row = serde_json::to_value(&client).unwrap_or_default();
            if let Some(bridge) = bridges
                .iter()
                .find(|bridge| client.client_id == format!("mqreg-bridge-{}", bridge.name))
            {
                row["bridge"] = serde_json::to_value(bridge).unwrap_or_default();
            }
            row
        })
        .collect();
    Ok(Json(rows).into_response())
}

/// Every bridge: upstream, connected, queued, dropped, last error.
async fn bridge_list(asked: Asked) -> Answer {
    asked.reader().await?;
    Ok(Json(asked.api.bridges.all()).into_response())
}

async fn client_kick(asked: Asked, Path(client_id): Path<String>) -> Answer {
    let caller = asked.changer().await?;
    let result = match asked.api.broker.kick(&client_id).await {
        Ok(true) => Ok(serde_json::json!({ "kicked": client_id })),
        Ok(false) => Err(Error::not_found(format!(
            "no connected client with id {}; see `mqreg client list`",
            crate::names::printable(&client_id)
        ))),
        Err(error) => Err(error),
    };
    let target = Some(crate::names::printable(&client_id));
    asked.record(&caller, "client kick", target, &result);
    Ok(Json(result?).into_response())
}

async fn events(
    asked: Asked,
) -> std::result::Result<
    Sse<impl tokio_stream::Stream<Item = std::result::Result<SseEvent, Infallible>>>,
    ApiError,
> {
    asked.reader().await?;
    let events = tokio_stream::wrappers::BroadcastStream::new(asked.api.policy.hub.subscribe())
        .map(|event| {
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

async fn log_level(asked: Asked) -> Answer {
    asked.reader().await?;
    Ok(Json(serde_json::json!({ "filter": crate::logging::current() })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLevelBody {
    filter: String,
}

async fn set_log_level(asked: Asked, bytes: Bytes) -> Answer {
    let target = parse::<LogLevelBody>(&bytes)
        .ok()
        .map(|request| request.filter);
    asked
        .change("log-level", target, move |_| {
            let request: LogLevelBody = parse(&bytes)?;
            crate::logging::set(&request.filter)
                .map(|filter| serde_json::json!({ "filter": filter }))
        })
        .await
}
