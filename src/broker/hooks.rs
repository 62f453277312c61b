//! The glue between rmqtt and mqreg: rmqtt calls these hooks on every CONNECT,
//! PUBLISH, SUBSCRIBE and delivery, and they answer from [`Authenticator`] and
//! the per-session [`Grants`].
//!
//! rmqtt's rough edges handled here (see ENGINE-NOTES.md):
//! - a last will skips the publish ACL, so wills are checked when published;
//! - live subscriptions outlast a revoked permission, so every delivery is
//!   checked against the subscriber's current grants;
//! - a publish that no hook answers is allowed, so the ACL hooks always answer.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use rmqtt::codec::types::{MQTT_LEVEL_31, MQTT_LEVEL_311, MQTT_LEVEL_5};
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType};
use rmqtt::session::Session;
use rmqtt::types::{
    AuthResult, ClientId, ConnectInfo, FromType, PublishAclResult, SubscribeAclResult,
};

use super::acl::Grants;
use super::auth::{Authenticator, Login, Refusal};
use super::live::LiveState;
use crate::audit::{AuditLog, Entry};
use crate::names::printable;

/// The grants of every connected client, recomputed when the state changes.
pub struct Grantbook {
    live: Arc<LiveState>,
    /// client id → (username, grants).
    by_client: RwLock<HashMap<String, Arc<(String, Grants)>>>,
}

impl Grantbook {
    pub fn new(live: Arc<LiveState>) -> Self {
        Self {
            live,
            by_client: RwLock::new(HashMap::new()),
        }
    }

    /// The current grants of a session; cheap unless the state changed.
    pub fn of(&self, client_id: &str, username: &str) -> Arc<(String, Grants)> {
        let snapshot = self.live.snapshot();
        if let Some(entry) = self.by_client.read().unwrap().get(client_id) {
            if entry.0 == username && entry.1.generation == snapshot.generation {
                return entry.clone();
            }
        }
        let grants = Grants::compute(&snapshot.state, snapshot.generation, username, client_id);
        let entry = Arc::new((username.to_owned(), grants));
        self.by_client
            .write()
            .unwrap()
            .insert(client_id.to_owned(), entry.clone());
        entry
    }

    fn of_session(&self, session: &Session) -> Arc<(String, Grants)> {
        self.of(
            &session.id.client_id,
            session.id.username.as_deref().unwrap_or(""),
        )
    }

    pub fn forget(&self, client_id: &str) {
        self.by_client.write().unwrap().remove(client_id);
    }
}

pub struct Hooks {
    pub authenticator: Arc<Authenticator>,
    pub grants: Arc<Grantbook>,
    pub audit: Arc<AuditLog>,
}

fn protocol_name(level: u8) -> &'static str {
    match level {
        MQTT_LEVEL_31 => "3.1",
        MQTT_LEVEL_311 => "3.1.1",
        MQTT_LEVEL_5 => "5",
        _ => "unknown",
    }
}

fn login_of(info: &ConnectInfo) -> Login {
    Login {
        username: info.username().map(|name| name.to_string()),
        password: info.password().map(|bytes| bytes.to_vec()),
        client_id: info.client_id().to_string(),
        address: info
            .ipaddress()
            .map_or_else(|| "unknown".to_owned(), |addr| addr.to_string()),
        protocol: protocol_name(info.proto_ver()),
    }
}

fn log_refusal(login: &Login, refusal: &Refusal) {
    let username = login.username.as_deref().map(printable).unwrap_or_default();
    let client_id = printable(&login.client_id);
    match refusal {
        Refusal::Pending { created: true, .. } => tracing::info!(
            username = %username, client_id = %client_id, peer = %login.address, protocol = login.protocol,
            "registration: pending request recorded; approve with `mqreg registry approve {username}`"
        ),
        Refusal::Pending { conflict: true, .. } => tracing::warn!(
            username = %username, client_id = %client_id, peer = %login.address,
            "registration: another password than the pending request's; marked as conflict"
        ),
        _ => tracing::warn!(
            username = %username, client_id = %client_id, peer = %login.address, reason = %refusal,
            "login refused"
        ),
    }
}

impl Hooks {
    fn audit_refusal(&self, login: &Login, refusal: &Refusal) {
        let action = match refusal {
            Refusal::Pending { created: true, .. } => "registration recorded",
            Refusal::Pending { .. } => "registration updated",
            _ => "login refused",
        };
        let mut entry = Entry::now(
            "broker".into(),
            action,
            login.username.as_deref().map(printable),
            refusal.to_string(),
        );
        entry.detail = Some(format!(
            "client id {} from {}, MQTT {}",
            printable(&login.client_id),
            login.address,
            login.protocol
        ));
        if let Err(error) = self.audit.append(&entry) {
            tracing::error!(
                "cannot write the audit log {}: {error}",
                self.audit.path().display()
            );
        }
    }
}

#[async_trait]
impl Handler for Hooks {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(info) => {
                let login = login_of(info);
                let result = match self.authenticator.authenticate(&login).await {
                    Ok(()) => {
                        tracing::debug!(username = %login.username.as_deref().map(printable).unwrap_or_default(),
                            client_id = %printable(&login.client_id), peer = %login.address, "login accepted");
                        AuthResult::Allow(false, None)
                    }
                    Err(refusal) => {
                        log_refusal(&login, &refusal);
                        self.audit_refusal(&login, &refusal);
                        // One answer for every failure, so usernames cannot be probed.
                        AuthResult::NotAuthorized
                    }
                };
                (false, Some(HookResult::AuthResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                if self
                    .grants
                    .of_session(session)
                    .1
                    .may_publish(&publish.topic)
                {
                    (
                        false,
                        Some(HookResult::PublishAclResult(PublishAclResult::allow())),
                    )
                } else {
                    tracing::debug!(client_id = %printable(&session.id.client_id), topic = %printable(&publish.topic), "publish denied");
                    (
                        false,
                        Some(HookResult::PublishAclResult(PublishAclResult::rejected(
                            false, None,
                        ))),
                    )
                }
            }
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                if self
                    .grants
                    .of_session(session)
                    .1
                    .may_subscribe(&subscribe.topic_filter)
                {
                    (true, acc)
                } else {
                    tracing::debug!(client_id = %printable(&session.id.client_id), filter = %printable(&subscribe.topic_filter), "subscribe denied");
                    (
                        false,
                        Some(HookResult::SubscribeAclResult(
                            SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized),
                        )),
                    )
                }
            }
            Parameter::MessagePublish(session, from, publish)
                if matches!(from.typ(), FromType::LastWill) =>
            {
                // Checked now rather than at CONNECT: the rights that count are the
                // ones the user has when the will goes out (none, if deleted).
                let allowed = session.is_some_and(|session| {
                    self.grants
                        .of_session(session)
                        .1
                        .may_publish(&publish.topic)
                });
                if allowed {
                    return (true, acc);
                }
                tracing::info!(client_id = %printable(&from.id.client_id), topic = %printable(&publish.topic), "last will dropped: no write permission");
                // This hook cannot drop a message; route it to a client id that
                // cannot exist (NUL is not allowed in MQTT strings) and unretain it.
                let mut neutralised = (*publish).clone();
                neutralised.retain = false;
                neutralised.target_clientid = Some(ClientId::from("\u{0}dropped-will"));
                (false, Some(HookResult::Publish(neutralised)))
            }
            Parameter::MessageExpiryCheck(session, _from, publish) => {
                if self
                    .grants
                    .of_session(session)
                    .1
                    .may_receive(&publish.topic)
                {
                    (true, acc)
                } else {
                    (false, Some(HookResult::MessageExpiry))
                }
            }
            Parameter::ClientDisconnected(session, _reason) => {
                self.grants.forget(&session.id.client_id);
                (true, acc)
            }
            _ => (true, acc),
        }
    }
}
