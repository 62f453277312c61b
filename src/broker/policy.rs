//! mqreg's side of every login: the one narrow interface between the broker
//! glue and the registry.
//!
//! The glue hands a [`Login`] in and gets a yes or no back; the decision, the
//! log line and the audit entry are made here, on the multi-threaded runtime
//! where the argon2 pool and the state writer live, so that no password work
//! ever runs on the thread that routes messages.

use std::sync::Arc;

use super::auth::{Authenticator, Login, Refusal, Verdict};
use crate::audit::{AuditLog, Entry};
use crate::names::printable;

pub struct Policy {
    authenticator: Arc<Authenticator>,
    audit: Arc<AuditLog>,
}

impl Policy {
    pub fn new(authenticator: Arc<Authenticator>, audit: Arc<AuditLog>) -> Self {
        Self {
            authenticator,
            audit,
        }
    }

    /// Decides a login; refusals are logged and audited here. Runs on the
    /// caller's thread: a remembered answer (a reconnect, a repeated refusal)
    /// costs no thread switch, and argon2 work goes to the hashing threads
    /// and state writes to the writer task either way.
    pub async fn login(&self, login: Login) -> Verdict {
        let verdict = self.authenticator.authenticate(&login).await;
        match &verdict {
            Ok(()) => tracing::debug!(
                username = %login.username.as_deref().map(printable).unwrap_or_default(),
                client_id = %printable(&login.client_id), peer = %login.address, "login accepted"
            ),
            Err(refusal) => {
                log_refusal(&login, refusal);
                self.audit_refusal(&login, refusal);
            }
        }
        verdict
    }

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
