//! Registration over HTTPS (`POST /api/client-registry/register`, the
//! client-side contract of Cybus Connectware): the same pending requests,
//! conflicts, window, bans and flood limits as a login over MQTT, with a
//! certificate signing request and a context instead of (or besides) a
//! password. Another password or another CSR key is another attempt: a
//! conflict, as a second password is over MQTT.

use std::net::SocketAddr;

use super::auth::{Login, Refusal};
use super::policy::Policy;
use crate::password;
use crate::pki::csr::Csr;
use crate::state::{Enrolment, LoginAttempt, OfferedPassword, Recorded};

/// The protocol a REST registration is recorded with.
pub const PROTOCOL: &str = crate::state::REST_PROTOCOL;

/// A device's registration request, checked for form (username, CSR).
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: String,
    pub password: Option<String>,
    pub csr: Option<Csr>,
    /// The device's `context` object, as JSON text.
    pub context: Option<String>,
    pub peer: SocketAddr,
}

/// How a registration was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A user of that name exists and the request's password or CSR key is
    /// its own: approved.
    Approved,
    /// Waiting for an admin.
    Pending { conflict: bool },
    /// Refused, as a login would be.
    Refused(Refusal),
}

impl Policy {
    pub async fn register_over_http(&self, registration: Registration) -> Answer {
        let login = Login {
            username: Some(registration.username.clone()),
            password: None,
            client_id: String::new(),
            address: registration.peer.to_string(),
            peer: Some(registration.peer.ip()),
            protocol: PROTOCOL,
            certificate: None,
        };
        let (exempt, shut_out, limits) = {
            let snapshot = self.live().snapshot();
            let peer = registration.peer.ip();
            let exempt = snapshot.state.flood.is_exempt(peer);
            let shut_out = !exempt && snapshot.state.flood_ban(peer, chrono::Utc::now()).is_some();
            (exempt, shut_out, snapshot.state.flood.clone())
        };
        if shut_out {
            return Answer::Refused(Refusal::ShutOut);
        }
        let verdict = self.decide_registration(&registration).await;
        let verdict = self.conclude(&login, verdict, exempt, &limits).await;
        match verdict {
            Ok(()) => Answer::Approved,
            Err(Refusal::Pending { conflict, .. }) => Answer::Pending { conflict },
            Err(refusal) => Answer::Refused(refusal),
        }
    }

    async fn decide_registration(&self, registration: &Registration) -> Result<(), Refusal> {
        let username = registration.username.as_str();
        let csr_key = registration
            .csr
            .as_ref()
            .map(|csr| csr.key_fingerprint.clone());
        let snapshot = self.live().snapshot();
        let state = &snapshot.state;
        let now = chrono::Utc::now();
        if let Some(barrier) =
            state.barrier_without_client_id(Some(username), Some(registration.peer.ip()), now)
        {
            return Err(Refusal::Barred(barrier));
        }
        if let Some(user) = state.users.get(username) {
            // Approved: the same key collects its certificate; the same
            // password is told it is in.
            if let Some(key) = &csr_key {
                return if user
                    .certificates
                    .iter()
                    .any(|issued| issued.key_fingerprint == *key && issued.is_live(now))
                {
                    Ok(())
                } else {
                    Err(Refusal::Certificate(format!(
                        "{username} is a user with no valid certificate for this key"
                    )))
                };
            }
            let Some(offered) = &registration.password else {
                return Err(Refusal::WrongPassword);
            };
            // A known user's password is checked as a login's is: its
            // check slot, cooldown after a wrong one, and remembered answers.
            drop(snapshot);
            return self
                .check_password(&Login {
                    username: Some(username.to_owned()),
                    password: Some(offered.as_bytes().to_vec()),
                    client_id: String::new(),
                    address: registration.peer.to_string(),
                    peer: Some(registration.peer.ip()),
                    protocol: PROTOCOL,
                    certificate: None,
                })
                .await;
        }
        let pending = state.live_pending(now).any(|(name, _)| name == username);
        if !state.is_unlocked(now) {
            // A request recorded while it was open waits for the admin.
            return Err(if pending {
                Refusal::Pending {
                    created: false,
                    conflict: state.pending[username].conflict,
                    new_password: false,
                }
            } else {
                Refusal::RegistryLocked
            });
        }
        if let Some(offered) = &registration.password {
            if !state.password_policy.allows(offered) {
                return Err(Refusal::PasswordAgainstPolicy);
            }
        }
        let known = state
            .pending
            .get(username)
            .map(|request| request.password_hashes_for(csr_key.as_deref()))
            .unwrap_or_default();
        let cost = state.argon2;
        drop(snapshot);
        let offered = registration.password.clone();
        let offered = self
            .hash_work(move || match offered {
                Some(password) => {
                    if let Some(hash) = known.iter().find(|hash| {
                        !hash.is_empty() && password::verify(password.as_bytes(), hash)
                    }) {
                        return OfferedPassword::Matches(hash.clone());
                    }
                    OfferedPassword::New {
                        hash: Some(password::hash(&password, cost)),
                        checked: known,
                    }
                }
                // A CSR alone: the key is the attempt's identity.
                None if known.iter().any(String::is_empty) => {
                    OfferedPassword::Matches(String::new())
                }
                None => OfferedPassword::New {
                    hash: Some(String::new()),
                    checked: known,
                },
            })
            .await;
        let new_password = matches!(offered, OfferedPassword::New { .. });
        let enrolment = registration.csr.as_ref().map(|csr| Enrolment {
            csr: Some(csr.pem.clone()),
            csr_subject: Some(csr.subject.clone()),
            csr_key_type: Some(csr.key_type.clone()),
            csr_key_fingerprint: Some(csr.key_fingerprint.clone()),
            context: registration.context.clone(),
        });
        let enrolment = enrolment.or_else(|| {
            registration.context.as_ref().map(|context| Enrolment {
                context: Some(context.clone()),
                ..Enrolment::default()
            })
        });
        let attempt = LoginAttempt {
            username: username.to_owned(),
            client_id: String::new(),
            address: registration.peer.to_string(),
            protocol: PROTOCOL.to_owned(),
            password: offered,
            enrolment: enrolment.map(Box::new),
        };
        let live = self.live().clone();
        let recorded = tokio::task::spawn_blocking(move || {
            live.update(|state| state.record_attempt(attempt, chrono::Utc::now()))
        })
        .await;
        match recorded {
            Ok(Ok(Recorded::Created)) => Err(Refusal::Pending {
                created: true,
                conflict: false,
                new_password,
            }),
            Ok(Ok(Recorded::Updated { conflict })) => Err(Refusal::Pending {
                created: false,
                conflict,
                new_password,
            }),
            Ok(Ok(Recorded::Locked)) => Err(Refusal::RegistryLocked),
            Ok(Ok(Recorded::UserExists | Recorded::Gone)) => Err(Refusal::PendingGone),
            Ok(Ok(Recorded::Full)) => Err(Refusal::PendingFull),
            Ok(Ok(Recorded::Raced)) => Err(Refusal::PendingRaced),
            Ok(Err(error)) => {
                tracing::error!("cannot record a REST registration: {error}");
                Err(Refusal::StateError)
            }
            Err(error) => {
                tracing::error!("cannot record a REST registration: {error}");
                Err(Refusal::StateError)
            }
        }
    }
}
