//! mqreg's side of every login: the one narrow interface between the broker
//! glue and the registry.
//!
//! The glue hands a [`Login`] in and gets a yes or no back; the decision, the
//! log line and the audit entry are made here, on the multi-threaded runtime
//! where the argon2 pool and the state writer live, so that no password work
//! ever runs on the thread that routes messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::auth::{Authenticator, Login, Refusal, Verdict};
use super::flood::{Charge, FloodGuard, ShutOut};
use super::live::LiveState;
use super::metrics::ResultLabel;
use super::observe::Hub;
use super::repeats::{self, Repeats};
use crate::audit::{AuditLog, Entry};
use crate::names::printable;

/// How long a shut-out address waits for its refusal.
const SHUT_OUT_ANSWER_DELAY: Duration = Duration::from_secs(1);

pub struct Policy {
    /// Events, refused logins and login metrics for the control plane.
    pub hub: Arc<Hub>,
    authenticator: Arc<Authenticator>,
    audit: Arc<AuditLog>,
    live: Arc<LiveState>,
    flood: FloodGuard,
    repeats: Repeats,
    /// Which client certificates log in.
    pub certificates: super::certificates::ClientCertificates,
}

impl Policy {
    pub fn new(
        authenticator: Arc<Authenticator>,
        audit: Arc<AuditLog>,
        live: Arc<LiveState>,
        hub: Arc<Hub>,
        certificates: super::certificates::ClientCertificates,
    ) -> Self {
        Self {
            hub,
            authenticator,
            audit,
            live,
            flood: FloodGuard::default(),
            repeats: Repeats::default(),
            certificates,
        }
    }

    pub fn live(&self) -> &Arc<LiveState> {
        &self.live
    }

    /// A known user's password, checked as an MQTT login's is.
    pub(super) async fn check_password(&self, login: &Login) -> Verdict {
        self.authenticator.authenticate(login).await
    }

    /// Runs argon2 work on the login hashing threads.
    pub(super) async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        self.authenticator.hash_work(work).await
    }

    /// Counts a refused API request (a missing or wrong token) against its
    /// address, as a refused login is counted: the same flood limits, and
    /// the same `flood` ban when they are exceeded.
    pub async fn charge_api_refusal(&self, peer: std::net::IpAddr) {
        let limits = {
            let snapshot = self.live.snapshot();
            if snapshot.state.flood.is_exempt(peer) {
                return;
            }
            snapshot.state.flood.clone()
        };
        if let Some(shut_out) = self
            .flood
            .charge(peer, Charge::Refusal, &limits, Instant::now())
        {
            let message = shut_out.describe();
            tracing::warn!(peer = %peer, "address shut out: {message}");
            let mut entry = Entry::now(
                "broker".into(),
                "address shut out",
                Some(peer.to_string()),
                message,
            );
            entry.detail =
                Some("last attempt: an HTTP API request with a missing or wrong token".into());
            self.append(&entry);
            self.record_shut_out(peer, &shut_out).await;
        }
    }

    /// Whether `peer` is shut out now (a `flood` ban in the state).
    pub fn is_shut_out(&self, peer: std::net::IpAddr) -> bool {
        let snapshot = self.live.snapshot();
        !snapshot.state.flood.is_exempt(peer)
            && snapshot.state.flood_ban(peer, chrono::Utc::now()).is_some()
    }

    /// Writes one log and one audit line for each refusal that repeated in a
    /// window now over (all of them with `everything`, at a stop). Called a
    /// few times a minute.
    /// At a stop: what the registration writer counted is written.
    pub async fn flush_registrations(&self) {
        self.authenticator.flush_registrations().await;
    }

    pub fn summarize_repeats(&self, everything: bool) {
        for summary in self.repeats.take_due(Instant::now(), everything) {
            let peer = summary
                .key
                .peer
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "unknown".into());
            let over = humantime::format_duration(if summary.over < Duration::from_secs(1) {
                Duration::from_millis(summary.over.as_millis() as u64)
            } else {
                Duration::from_secs(summary.over.as_secs())
            });
            tracing::warn!(
                username = %summary.key.username, peer = %peer, reason = %summary.key.reason,
                repeats = summary.repeats,
                "login refused {} more times in {over} (repeats are counted, not written one by one)",
                summary.repeats
            );
            let mut entry = Entry::now(
                "broker".into(),
                "login refused (repeated)",
                Some(summary.key.username.clone()),
                summary.key.reason.clone(),
            );
            entry.detail = Some(format!(
                "{} more times in {over} from {peer}",
                summary.repeats
            ));
            self.append(&entry);
        }
    }

    /// Decides a login; refusals are logged and audited here. Runs on the
    /// caller's thread: a remembered answer (a reconnect, a repeated refusal)
    /// costs no thread switch, and argon2 work goes to the hashing threads
    /// and state writes to the writer task either way.
    pub async fn login(&self, login: Login) -> Verdict {
        // A shut-out address (a `flood` ban in the state, which `ban list`
        // shows and `ban remove` lifts) is answered silently (its ban was
        // logged when it began) and without looking at the credentials, but
        // only after a while: answered at once, a flooding client would loop
        // as fast as the broker answers, taking the CPU that logins need. The
        // wait is a timer. A login the broker can verify without hashing (a
        // user's remembered good password) is never shut out: the neighbours
        // of a flooding device behind the same address keep working.
        let snapshot = self.live.snapshot();
        let exempt = login
            .peer
            .is_none_or(|peer| snapshot.state.flood.is_exempt(peer));
        let shut_out = login
            .peer
            .is_some_and(|peer| snapshot.state.flood_ban(peer, chrono::Utc::now()).is_some());
        let limits = snapshot.state.flood.clone();
        drop(snapshot);
        if shut_out && !self.authenticator.remembered_good(&login) {
            tokio::time::sleep(SHUT_OUT_ANSWER_DELAY).await;
            let verdict = Err(Refusal::ShutOut);
            self.observe(&login, &verdict);
            return verdict;
        }
        let started = Instant::now();
        let verdict = self.authenticator.authenticate(&login).await;
        self.hub
            .metrics
            .login_seconds
            .observe(started.elapsed().as_secs_f64());
        self.conclude(&login, verdict, exempt, &limits).await
    }

    /// What follows every decided login or registration, MQTT or REST:
    /// counted, told to the event stream, charged to the flood guard, and
    /// logged and audited (once per burst of the same refusal).
    pub(super) async fn conclude(
        &self,
        login: &Login,
        verdict: Verdict,
        exempt: bool,
        limits: &crate::state::FloodLimits,
    ) -> Verdict {
        self.observe(login, &verdict);
        if let (Err(refusal), Some(peer), false) = (&verdict, login.peer, exempt) {
            if let Some(charge) = flood_charge(refusal) {
                if let Some(shut_out) = self.flood.charge(peer, charge, limits, Instant::now()) {
                    self.report_shut_out(login, &shut_out);
                    self.record_shut_out(peer, &shut_out).await;
                }
            }
        }
        match &verdict {
            Ok(()) => tracing::debug!(
                username = %login.username.as_deref().map(printable).unwrap_or_default(),
                client_id = %printable(&login.client_id), peer = %login.address, "login accepted"
            ),
            Err(refusal) => {
                let key = repeats::Key {
                    username: login.username.as_deref().map(printable).unwrap_or_default(),
                    peer: login.peer,
                    reason: refusal.to_string(),
                };
                if self.repeats.note(key, Instant::now()) {
                    log_refusal(login, refusal);
                    self.audit_refusal(login, refusal);
                }
            }
        }
        verdict
    }

    /// Counts a decided login and tells the control plane. A refusal that is
    /// not a registration is kept for `registry list --refused`; its event
    /// is aggregated as its log line is.
    fn observe(&self, login: &Login, verdict: &Verdict) {
        let username = login.username.as_deref().map(printable).unwrap_or_default();
        let result = match verdict {
            Ok(()) => "accepted",
            Err(Refusal::Pending { .. }) => "pending",
            Err(_) => "refused",
        };
        self.hub
            .metrics
            .logins
            .get_or_create(&ResultLabel { result })
            .inc();
        match verdict {
            Ok(()) => {}
            Err(Refusal::Pending {
                created, conflict, ..
            }) => self.hub.publish("request", || {
                serde_json::json!({
                    "username": username,
                    "client_id": printable(&login.client_id),
                    "address": login.address,
                    "protocol": login.protocol,
                    "new": created,
                    "conflict": conflict,
                })
            }),
            Err(refusal) => {
                let reason = refusal.to_string();
                let refused = self.hub.note_refused(
                    &username,
                    &printable(&login.client_id),
                    login.peer,
                    login.protocol,
                    &reason,
                );
                // The first of a burst, as the log says it; the count tells the rest.
                if refused.count == 1 || refused.count.is_power_of_two() {
                    self.hub.publish("refused", || {
                        serde_json::to_value(&refused).unwrap_or_default()
                    });
                }
            }
        }
    }

    /// Writes the shut-out into the state as a `flood` ban, so that it is
    /// listed, can be lifted, and holds for every gateway process.
    async fn record_shut_out(&self, peer: std::net::IpAddr, shut_out: &ShutOut) {
        let live = self.live.clone();
        let value = super::flood::unit_text(peer);
        let reason = shut_out.describe();
        let ban_for = shut_out.ban_for;
        let written = tokio::task::spawn_blocking(move || {
            live.update(|state| {
                let now = chrono::Utc::now();
                let until =
                    now + chrono::Duration::from_std(ban_for).unwrap_or(chrono::Duration::MAX);
                if state.flood_ban(peer, now).is_none() {
                    state.add_ban(
                        crate::state::BanKind::Flood,
                        value,
                        Some(until),
                        Some(reason),
                        now,
                    );
                }
            })
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!("cannot record the shut-out of {peer} in the state: {error}")
            }
            Err(error) => {
                tracing::error!("cannot record the shut-out of {peer} in the state: {error}")
            }
        }
    }

    fn report_shut_out(&self, login: &Login, shut_out: &ShutOut) {
        let message = shut_out.describe();
        let peer = login.peer.map(|ip| ip.to_string()).unwrap_or_default();
        tracing::warn!(peer = %peer, "address shut out: {message}");
        let mut entry = Entry::now("broker".into(), "address shut out", Some(peer), message);
        entry.detail = Some(format!(
            "last attempt: username {}, client id {}",
            login.username.as_deref().map(printable).unwrap_or_default(),
            printable(&login.client_id)
        ));
        self.append(&entry);
    }

    fn append(&self, entry: &Entry) {
        if let Err(error) = self.audit.append(entry) {
            tracing::error!(
                "cannot write the audit log {}: {error}",
                self.audit.path().display()
            );
        }
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
            "client id {} from {}, {}",
            printable(&login.client_id),
            login.address,
            protocol_text(login.protocol)
        ));
        self.append(&entry);
    }
}

/// Which flood bucket a refusal counts against, if any. A device waiting for
/// approval with its own password counts nowhere (its retries cost no argon2
/// work); refusals that are the broker's own doing (a race, a state file
/// error) count nowhere either. "Busy" counts: password checks are bounded
/// per user and in all, and whoever keeps running into the bound is most
/// likely the one filling it.
fn flood_charge(refusal: &Refusal) -> Option<Charge> {
    match refusal {
        Refusal::Pending {
            new_password: true, ..
        } => Some(Charge::Registration),
        Refusal::Pending { .. }
        | Refusal::ShutOut
        | Refusal::Contended
        | Refusal::PendingGone
        | Refusal::PendingRaced
        | Refusal::StateError => None,
        Refusal::NoCredentials
        | Refusal::InvalidUsername
        | Refusal::WrongPassword
        | Refusal::RegistryLocked
        | Refusal::PasswordAgainstPolicy
        | Refusal::PendingFull
        | Refusal::Busy
        | Refusal::Certificate(_)
        | Refusal::Barred(_) => Some(Charge::Refusal),
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

/// `MQTT 3.1.1`, `MQTT 5`, or `REST` for a registration over HTTPS.
pub fn protocol_text(protocol: &str) -> String {
    match protocol {
        "REST" => "REST".to_owned(),
        version => format!("MQTT {version}"),
    }
}
