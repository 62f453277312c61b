//! Logins: who gets in, and what an unknown device leaves behind.
//!
//! Every refusal looks the same to the client (CONNACK 5 / 0x87), so usernames
//! cannot be probed; the reason goes to the log only.
//!
//! Argon2 is deliberately slow (about 15 ms a verify with the defaults), so it
//! runs on its own low-priority threads ([`HashPool`]), never on the async
//! workers that route messages, and is skipped where the answer is already known:
//! - a locked registry refuses unknown users without hashing anything;
//! - a user's last verified password is remembered as a keyed BLAKE3 digest
//!   (never the password), valid while the user's stored hash is unchanged;
//! - recent refusals are remembered the same way (the digest of username and
//!   password) and refused at once.
//!
//! Timing: the first refusal of a (username, password) pair is held until a
//! typical password check would have finished, so an unknown user and a wrong
//! password take the same time and usernames cannot be told apart by the
//! clock. The hold is a timer, not work. A pair refused before is known bad
//! whatever the reason, so its repeats are answered at once, for unknown
//! users and wrong passwords alike: a client retrying in a loop costs neither
//! argon2 work nor a held connection, and still learns nothing.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};

use super::hash_pool::HashPool;
use super::live::LiveState;
use super::recorder::Recorder;
use crate::names;
use crate::password;
use crate::state::{Barrier, LoginAttempt, OfferedPassword, Recorded};

/// A CONNECT's credentials and where it came from.
#[derive(Debug, Clone)]
pub struct Login {
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub client_id: String,
    pub address: String,
    pub peer: Option<IpAddr>,
    /// `3.1.1` or `5`.
    pub protocol: &'static str,
    /// A client certificate shown in the TLS handshake: the login is
    /// decided by it, not by a password.
    pub certificate: Option<super::certificates::Presented>,
}

/// Why a login was refused: for the log, never for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoCredentials,
    InvalidUsername,
    WrongPassword,
    RegistryLocked,
    PasswordAgainstPolicy,
    /// Refused whatever the password: disabled, banned, or a client id the
    /// user may not use.
    Barred(Barrier),
    /// The peer address refused too many logins lately and is shut out.
    ShutOut,
    /// Recorded (or updated) a pending request; the admin decides.
    /// `new_password`: the password was hashed to be kept (a new request, or
    /// a new password for one): what the registration flood limit counts.
    Pending {
        created: bool,
        conflict: bool,
        new_password: bool,
    },
    PendingFull,
    /// The request vanished while its password was checked.
    PendingGone,
    /// Another login created the request while this one was hashed.
    PendingRaced,
    /// Too much argon2 work queued; tried again later, it may pass.
    Busy,
    /// This username's check is taken by another address (a check in
    /// flight, or its cooldown after a wrong password from there).
    Contended,
    /// The state file could not be written.
    StateError,
    /// A client certificate that does not log in: untrusted, expired,
    /// revoked, another user's, or a user that is gone.
    Certificate(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoCredentials => f.write_str("no username or password"),
            Refusal::InvalidUsername => f.write_str("invalid username"),
            Refusal::WrongPassword => f.write_str("wrong password"),
            Refusal::Barred(barrier) => barrier.fmt(f),
            Refusal::ShutOut => f.write_str("address shut out after too many refused logins"),
            Refusal::RegistryLocked => f.write_str("unknown user, registry locked"),
            Refusal::PasswordAgainstPolicy => f.write_str("unknown user, password against policy"),
            Refusal::Pending { created: true, .. } => {
                f.write_str("unknown user, pending request recorded")
            }
            Refusal::Pending { conflict: true, .. } => f.write_str(
                "unknown user, pending request updated: CONFLICT, another password than before",
            ),
            Refusal::Pending { .. } => f.write_str("unknown user, pending request updated"),
            Refusal::PendingFull => f.write_str("unknown user, pending requests full"),
            Refusal::PendingGone => f.write_str("unknown user, pending request resolved meanwhile"),
            Refusal::PendingRaced => f.write_str("unknown user, pending request created meanwhile"),
            Refusal::Busy => f.write_str("too many logins being checked, try again"),
            Refusal::Contended => {
                f.write_str("this username is being tried from another address, try again")
            }
            Refusal::StateError => {
                f.write_str("could not record the request (the state cannot be written)")
            }
            Refusal::Certificate(reason) => f.write_str(reason),
        }
    }
}

pub type Verdict = Result<(), Refusal>;

/// Longest password accepted for checking; argon2 takes any length, but a
/// 64 KiB password would only be a way to make us hash more.
const MAX_PASSWORD_BYTES: usize = 1024;

/// After a wrong password, how many check times a username's next check
/// waits (it is refused at once meanwhile).
const FAILURE_COOLDOWN_CHECKS: u32 = 4;

/// The longest a login waits for a place among the password checks before
/// it is refused as busy (the device tries again later).
const MAX_CHECK_WAIT: Duration = Duration::from_secs(5);

/// Logins that may wait for a place, per place.
const WAITERS_PER_PLACE: usize = 16;

/// Entries kept in each credential cache before it is cleared.
const CACHE_LIMIT: usize = 100_000;

/// A keyed or plain BLAKE3 digest.
type Digest = [u8; 32];

pub struct Authenticator {
    live: Arc<LiveState>,
    /// Key for the digests below, new each start.
    key: [u8; 32],
    /// username → (BLAKE3 of the stored PHC hash it was verified against,
    /// digest of the password). The stored hash's own digest, not a copy:
    /// every connected device has an entry.
    verified: Mutex<HashMap<String, (Digest, Digest)>>,
    /// digest of (username, password) of recent refusals → the stored PHC hash
    /// a wrong password failed against (empty for other reasons).
    refused: Mutex<HashMap<[u8; 32], String>>,
    hashing: HashPool,
    /// digest of (username, password) → the pending request's hash it matched,
    /// so a device retrying while it waits for approval costs no argon2 work.
    pending_matched: Mutex<HashMap<[u8; 32], String>>,
    /// Registrations waiting for a hashing slot; past `max_waiting` they are refused.
    waiting: AtomicUsize,
    /// Places for password checks (of known users, and the stand-in checks
    /// of unknown ones), `max_waiting` of them: a flood of wrong passwords
    /// cannot queue argon2 work without bound.
    check_places: tokio::sync::Semaphore,
    /// Logins waiting for a place; past `max_waiting * WAITERS_PER_PLACE`
    /// they are refused at once.
    waiting_for_check: AtomicUsize,
    /// Usernames with a password check in flight: one at a time per user, so
    /// hammering one account takes one hashing thread, not all of them.
    checking_users: Mutex<HashMap<String, InFlight>>,
    /// When each username last failed a password check. For a few check
    /// times after a failure its next check is refused at once, so wrong
    /// passwords for one account take at most a fifth of one core.
    failed_at: Mutex<HashMap<String, (Instant, Option<IpAddr>)>>,
    max_waiting: usize,
    recorder: Recorder,
    /// How long a password check takes here, in microseconds: the least time
    /// any refusal takes.
    typical_verify_micros: AtomicU64,
}

impl Authenticator {
    /// `workers` argon2 computations run at once; at most `max_waiting`
    /// registrations queue behind them. Starts the registration writer, so
    /// call it within the runtime.
    pub fn new(
        live: Arc<LiveState>,
        workers: usize,
        max_waiting: usize,
        retry_write_interval: Duration,
    ) -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self {
            live: live.clone(),
            key,
            verified: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            pending_matched: Mutex::new(HashMap::new()),
            hashing: HashPool::new(workers),
            waiting: AtomicUsize::new(0),
            check_places: tokio::sync::Semaphore::new(max_waiting),
            waiting_for_check: AtomicUsize::new(0),
            checking_users: Mutex::new(HashMap::new()),
            failed_at: Mutex::new(HashMap::new()),
            max_waiting,
            recorder: Recorder::start(live.clone(), retry_write_interval),
            // What refusals start out taking, before real checks refine it.
            typical_verify_micros: AtomicU64::new(calibrate(live.snapshot().state.argon2)),
        }
    }

    /// How long a password check takes here now: what every refusal takes
    /// at least, and the unit of the cooldown after a wrong password.
    fn typical_check(&self) -> Duration {
        Duration::from_micros(self.typical_verify_micros.load(Ordering::Relaxed))
    }

    fn digest(&self, username: &str, password: &[u8]) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(&(username.len() as u64).to_le_bytes());
        hasher.update(username.as_bytes());
        hasher.update(password);
        *hasher.finalize().as_bytes()
    }

    /// Writes the registration attempts counted and not written yet (at a
    /// stop).
    pub async fn flush_registrations(&self) {
        self.recorder.flush().await;
    }

    /// Whether the login's password is the one last verified for its user
    /// (and the stored hash unchanged since): a login the broker can accept
    /// without hashing.
    pub fn remembered_good(&self, login: &Login) -> bool {
        let (Some(username), Some(password)) = (&login.username, &login.password) else {
            return false;
        };
        let snapshot = self.live.snapshot();
        let Some(user) = snapshot.state.users.get(username) else {
            return false;
        };
        let stored_digest = *blake3::hash(user.password_hash.as_bytes()).as_bytes();
        let digest = self.digest(username, password);
        self.verified
            .lock()
            .unwrap()
            .get(username)
            .is_some_and(|(hash, known)| *hash == stored_digest && *known == digest)
    }

    /// Decides a login. The first refusal of a (username, password) pair takes
    /// at least as long as a typical password check, so the time to answer
    /// does not tell an unknown user from a wrong password; the wait is a
    /// timer, so it costs no CPU. Repeats of a refused pair are answered at once.
    pub async fn authenticate(&self, login: &Login) -> Verdict {
        let started = Instant::now();
        let digest = self.digest(
            login.username.as_deref().unwrap_or(""),
            login.password.as_deref().unwrap_or(b""),
        );
        let refused_before = self.refused.lock().unwrap().contains_key(&digest);
        let verdict = self.decide(login, &digest).await;
        if verdict.is_err() && !refused_before {
            // A wrong password is already remembered with its stored hash. A
            // busy refusal decided nothing about the pair: its repeat must be
            // held like a first refusal again, or the clock would tell.
            if !matches!(verdict, Err(Refusal::Busy | Refusal::Contended)) {
                remember_if_new(&self.refused, digest, String::new);
            }
            if let Some(rest) = self.typical_check().checked_sub(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
        verdict
    }

    async fn decide(&self, login: &Login, digest: &[u8; 32]) -> Verdict {
        if let Some(certificate) = &login.certificate {
            return self.decide_certificate(login, certificate);
        }
        let (Some(username), Some(password)) = (&login.username, &login.password) else {
            return Err(Refusal::NoCredentials);
        };
        if !names::is_valid_username(username) {
            return Err(Refusal::InvalidUsername);
        }
        let snapshot = self.live.snapshot();
        let state = &snapshot.state;
        let now = chrono::Utc::now();
        if let Some(barrier) = state.barrier(Some(username), &login.client_id, login.peer, now) {
            return Err(Refusal::Barred(barrier));
        }
        if let Some(user) = state.users.get(username) {
            // A user enrolled with a certificate only has no password.
            if password.len() > MAX_PASSWORD_BYTES || user.password_hash.is_empty() {
                return Err(Refusal::WrongPassword);
            }
            return self
                .verify_known(username, password, digest, &user.password_hash, login.peer)
                .await;
        }
        if !state.is_unlocked(now) {
            return self.refuse_like_a_check(username, digest, login.peer).await;
        }
        let Ok(text) = std::str::from_utf8(password) else {
            return Err(Refusal::PasswordAgainstPolicy);
        };
        if text.len() > MAX_PASSWORD_BYTES || !state.password_policy.allows(text) {
            return Err(Refusal::PasswordAgainstPolicy);
        }
        self.register(login, username, text).await
    }

    /// A login with a client certificate: trusted, naming (as its CN) the
    /// username sent if one was, a user that exists and is not barred, and,
    /// for a certificate of the registry's CA, one issued to that user and
    /// neither revoked nor expired. No password is looked at.
    fn decide_certificate(
        &self,
        login: &Login,
        certificate: &super::certificates::Presented,
    ) -> Verdict {
        if let Some(reason) = &certificate.untrusted {
            return Err(Refusal::Certificate(reason.clone()));
        }
        let Some(name) = certificate.common_name.as_deref() else {
            return Err(Refusal::Certificate("client certificate has no CN".into()));
        };
        if login.username.as_deref() != Some(name) {
            return Err(Refusal::Certificate(format!(
                "username {} is not the client certificate's CN {}",
                login
                    .username
                    .as_deref()
                    .map(names::printable)
                    .unwrap_or_default(),
                names::printable(name)
            )));
        }
        if !names::is_valid_username(name) {
            return Err(Refusal::InvalidUsername);
        }
        let snapshot = self.live.snapshot();
        let state = &snapshot.state;
        let now = chrono::Utc::now();
        if let Some(barrier) = state.barrier(Some(name), &login.client_id, login.peer, now) {
            return Err(Refusal::Barred(barrier));
        }
        let Some(user) = state.users.get(name) else {
            return Err(Refusal::Certificate(format!(
                "client certificate of {name}, who is not a user (deleted, or never approved)"
            )));
        };
        if certificate.by_registry {
            match user
                .certificates
                .iter()
                .find(|issued| issued.fingerprint == certificate.fingerprint)
            {
                Some(issued) if issued.revoked.is_some() => {
                    return Err(Refusal::Certificate("client certificate revoked".into()))
                }
                Some(issued) if issued.is_live(now) => {}
                Some(_) => return Err(Refusal::Certificate("client certificate expired".into())),
                None => {
                    return Err(Refusal::Certificate(format!(
                        "client certificate not issued to the user {name} (it was deleted and made again?)"
                    )))
                }
            }
        }
        Ok(())
    }

    async fn verify_known(
        &self,
        username: &str,
        password: &[u8],
        digest: &[u8; 32],
        stored: &str,
        peer: Option<IpAddr>,
    ) -> Verdict {
        let stored_digest = *blake3::hash(stored.as_bytes()).as_bytes();
        if let Some((hash, known)) = self.verified.lock().unwrap().get(username) {
            if *hash == stored_digest && known == digest {
                return Ok(());
            }
        }
        if self
            .refused
            .lock()
            .unwrap()
            .get(digest)
            .is_some_and(|hash| hash == stored)
        {
            return Err(Refusal::WrongPassword);
        }
        // Another check of this username may settle this one (the same
        // right password from a fleet sharing a username, a retry).
        let settled = || {
            if let Some((hash, known)) = self.verified.lock().unwrap().get(username) {
                if *hash == stored_digest && known == digest {
                    return Some(Ok(()));
                }
            }
            self.refused
                .lock()
                .unwrap()
                .get(digest)
                .is_some_and(|hash| hash == stored)
                .then_some(Err(Refusal::WrongPassword))
        };
        let _slot = match CheckSlot::take(self, username, peer, &settled).await? {
            Turn::Slot(slot) => slot,
            Turn::Settled(verdict) => return verdict,
        };
        let password_copy = password.to_vec();
        let stored_copy = stored.to_owned();
        let (matches, took) = self
            .hash_work(move || {
                let started = Instant::now();
                let matches = password::verify(&password_copy, &stored_copy);
                (matches, started.elapsed())
            })
            .await;
        // A moving average, so refusals keep matching what a check costs now.
        let old = self.typical_verify_micros.load(Ordering::Relaxed);
        let new = (old * 7 + took.as_micros() as u64) / 8;
        self.typical_verify_micros.store(new, Ordering::Relaxed);
        if matches {
            remember(
                &self.verified,
                username.to_owned(),
                (stored_digest, *digest),
            );
            Ok(())
        } else {
            remember(&self.refused, *digest, stored.to_owned());
            remember(&self.failed_at, username.to_owned(), (Instant::now(), peer));
            Err(Refusal::WrongPassword)
        }
    }

    /// Refuses an unknown user (the registry is locked) through the same
    /// steps a wrong password for a known user goes through: a pair refused
    /// before is answered at once, a username in its cooldown or with a check
    /// in flight is busy, and the refusal starts a cooldown. Without this, a
    /// known username's busy answers would set it apart by the clock.
    async fn refuse_like_a_check(
        &self,
        username: &str,
        digest: &[u8; 32],
        peer: Option<IpAddr>,
    ) -> Verdict {
        if self.refused.lock().unwrap().contains_key(digest) {
            return Err(Refusal::RegistryLocked);
        }
        let settled = || {
            self.refused
                .lock()
                .unwrap()
                .contains_key(digest)
                .then_some(Err(Refusal::RegistryLocked))
        };
        let _slot = match CheckSlot::take(self, username, peer, &settled).await? {
            Turn::Slot(slot) => slot,
            Turn::Settled(verdict) => return verdict,
        };
        // Holds its place for as long as a check would (a timer, no CPU), so
        // those waiting behind it wait as they would behind a real one.
        tokio::time::sleep(self.typical_check()).await;
        remember(&self.failed_at, username.to_owned(), (Instant::now(), peer));
        Err(Refusal::RegistryLocked)
    }

    /// Records or updates the pending request of an unknown user.
    async fn register(&self, login: &Login, username: &str, password: &str) -> Verdict {
        // A full registry refuses newcomers before any hashing, so a flood of
        // new names costs no argon2 work once the bound is reached.
        {
            let snapshot = self.live.snapshot();
            let state = &snapshot.state;
            if !state.pending.contains_key(username)
                && state.live_pending(chrono::Utc::now()).count() >= state.registry.max_pending
            {
                return Err(Refusal::PendingFull);
            }
        }
        // Refuse early rather than queue unbounded argon2 work: a flood of
        // registrations must not delay the logins of known users for long.
        let Some(_waiting) = CountedIn::below(&self.waiting, self.max_waiting) else {
            return Err(Refusal::Busy);
        };
        let mut result = self.register_queued(login, username, password).await;
        if result == Err(Refusal::PendingRaced) {
            result = self.register_queued(login, username, password).await;
        }
        result
    }

    async fn register_queued(&self, login: &Login, username: &str, password: &str) -> Verdict {
        let snapshot = self.live.snapshot();
        let known = snapshot
            .state
            .pending
            .get(username)
            .map(|request| request.password_hashes_for(None))
            .unwrap_or_default();
        let digest = self.digest(username, password.as_bytes());
        let remembered = self
            .pending_matched
            .lock()
            .unwrap()
            .get(&digest)
            .filter(|hash| known.contains(hash))
            .cloned();
        let offered = match remembered {
            Some(hash) => OfferedPassword::Matches(hash),
            None => {
                let cost = snapshot.state.argon2;
                let password = password.to_owned();
                self.hash_work(move || {
                    if let Some(hash) = known
                        .iter()
                        .find(|hash| password::verify(password.as_bytes(), hash))
                    {
                        return OfferedPassword::Matches(hash.clone());
                    }
                    let room = known.len() < crate::state::MAX_PASSWORDS_PER_REQUEST;
                    OfferedPassword::New {
                        hash: room.then(|| password::hash(&password, cost)),
                        checked: known,
                    }
                })
                .await
            }
        };
        let new_password = matches!(offered, OfferedPassword::New { .. });
        match &offered {
            OfferedPassword::Matches(hash)
            | OfferedPassword::New {
                hash: Some(hash), ..
            } => {
                remember(&self.pending_matched, digest, hash.clone());
            }
            OfferedPassword::New { hash: None, .. } => {}
        }
        let attempt = LoginAttempt {
            username: username.to_owned(),
            client_id: login.client_id.clone(),
            address: login.address.clone(),
            protocol: login.protocol.to_owned(),
            password: offered,
            enrolment: None,
        };
        match self.recorder.record(attempt).await {
            Ok(Recorded::Created) => Err(Refusal::Pending {
                created: true,
                conflict: false,
                new_password,
            }),
            Ok(Recorded::Updated { conflict }) => Err(Refusal::Pending {
                created: false,
                conflict,
                new_password,
            }),
            Ok(Recorded::Locked) => Err(Refusal::RegistryLocked),
            // Approved between our look and the write: the device is a user now,
            // but this login was not checked as one. It will be on the next try.
            Ok(Recorded::UserExists) => Err(Refusal::PendingGone),
            Ok(Recorded::Full) => Err(Refusal::PendingFull),
            Ok(Recorded::Gone) => Err(Refusal::PendingGone),
            Ok(Recorded::Raced) => Err(Refusal::PendingRaced),
            Err(error) => {
                tracing::error!("cannot record a pending request: {error}");
                Err(Refusal::StateError)
            }
        }
    }

    /// Runs argon2 work on the hashing threads, at most `workers` at a time.
    pub(super) async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        self.hashing.run(work).await
    }
}

/// A place among the password checks in flight: one per username, and at
/// most `max_waiting` in all, taken in turn. Given back when dropped, so a
/// login abandoned mid-check (the client went away) frees it too.
struct CheckSlot<'a> {
    _claim: UsernameClaim<'a>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

/// A username's check in flight: from where, and who waits for it.
struct InFlight {
    by: Option<IpAddr>,
    done: Arc<tokio::sync::Notify>,
    waiters: usize,
}

/// Logins of one username that may wait for its check in flight; past it,
/// refused as busy.
const WAITERS_PER_USERNAME: usize = 1024;

/// A check's turn, or the answer another check of the same username gave
/// meanwhile.
enum Turn<'a> {
    Slot(CheckSlot<'a>),
    Settled(Verdict),
}

/// The one check in flight (or waiting for its turn) of a username.
struct UsernameClaim<'a> {
    authenticator: &'a Authenticator,
    username: String,
}

impl Drop for UsernameClaim<'_> {
    fn drop(&mut self) {
        let done = self
            .authenticator
            .checking_users
            .lock()
            .unwrap()
            .remove(&self.username);
        if let Some(done) = done {
            done.done.notify_waiters();
        }
    }
}

/// One counted in a bound count, until dropped: however the wait it
/// stands for ends, even when a client that went away drops the login's
/// future mid-wait.
struct CountedIn<'a>(&'a AtomicUsize);

impl<'a> CountedIn<'a> {
    /// Counts one in, unless `limit` are in already.
    fn below(count: &'a AtomicUsize, limit: usize) -> Option<Self> {
        if count.fetch_add(1, Ordering::SeqCst) >= limit {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Self(count))
    }
}

impl Drop for CountedIn<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<'a> CheckSlot<'a> {
    /// A place for a check of `username` from `peer`, the answer `settled`
    /// finds once an earlier check of the same username is over, or the
    /// refusal: busy when this address's own earlier attempts stand in the
    /// way past `MAX_CHECK_WAIT`, contended when another address's do (which
    /// must not count against this one: an attacker could shut a device's
    /// address out).
    ///
    /// Checks of one username run one at a time, with a cooldown of a few
    /// check times after a wrong password; a login behind them waits its
    /// turn rather than being refused (a fleet sharing one username that
    /// reconnects at once: the first check settles all the others, with no
    /// argon2 work). When every place is taken, a check waits its turn too,
    /// first come first served: refused at once instead, the devices of a
    /// gateway that restarts would race each other for the places and the
    /// unlucky ones could lose every time for the whole storm. Every wait
    /// ends by `MAX_CHECK_WAIT`.
    async fn take(
        authenticator: &'a Authenticator,
        username: &str,
        peer: Option<IpAddr>,
        settled: &(dyn Fn() -> Option<Verdict> + Sync),
    ) -> Result<Turn<'a>, Refusal> {
        let blocked_by = |other: Option<IpAddr>| {
            if other == peer {
                Refusal::Busy
            } else {
                Refusal::Contended
            }
        };
        let deadline = tokio::time::Instant::now() + MAX_CHECK_WAIT;
        let claim = loop {
            if let Some(verdict) = settled() {
                return Ok(Turn::Settled(verdict));
            }
            let typical = authenticator.typical_check();
            let cooldown = authenticator
                .failed_at
                .lock()
                .unwrap()
                .get(username)
                .and_then(|(failed, by)| {
                    (typical * FAILURE_COOLDOWN_CHECKS)
                        .checked_sub(failed.elapsed())
                        .map(|left| (left, *by))
                });
            if let Some((left, by)) = cooldown {
                if tokio::time::Instant::now() + left > deadline {
                    return Err(blocked_by(by));
                }
                tokio::time::sleep(left).await;
                continue;
            }
            // The username first: a thousand attempts on one account wait
            // here, not for the places every login shares.
            let waiting_for = {
                let mut checking = authenticator.checking_users.lock().unwrap();
                match checking.get_mut(username) {
                    Some(in_flight) if in_flight.waiters >= WAITERS_PER_USERNAME => {
                        return Err(blocked_by(in_flight.by));
                    }
                    Some(in_flight) => {
                        in_flight.waiters += 1;
                        Some((in_flight.done.clone(), in_flight.by))
                    }
                    None => {
                        checking.insert(
                            username.to_owned(),
                            InFlight {
                                by: peer,
                                done: Arc::new(tokio::sync::Notify::new()),
                                waiters: 0,
                            },
                        );
                        None
                    }
                }
            };
            let Some((done, by)) = waiting_for else {
                break UsernameClaim {
                    authenticator,
                    username: username.to_owned(),
                };
            };
            // Registered before the check below: the end of the check in
            // flight cannot slip between them (notify_waiters wakes every
            // future made before it).
            let finished = done.notified();
            let still = authenticator
                .checking_users
                .lock()
                .unwrap()
                .get(username)
                .is_some_and(|in_flight| Arc::ptr_eq(&in_flight.done, &done));
            let timed_out = still && tokio::time::timeout_at(deadline, finished).await.is_err();
            if let Some(in_flight) = authenticator
                .checking_users
                .lock()
                .unwrap()
                .get_mut(username)
            {
                if Arc::ptr_eq(&in_flight.done, &done) {
                    in_flight.waiters = in_flight.waiters.saturating_sub(1);
                }
            }
            if timed_out {
                return Err(blocked_by(by));
            }
        };
        let Some(_waiting) = CountedIn::below(
            &authenticator.waiting_for_check,
            authenticator.max_waiting * WAITERS_PER_PLACE,
        ) else {
            return Err(Refusal::Busy);
        };
        let permit = tokio::time::timeout_at(deadline, authenticator.check_places.acquire()).await;
        match permit {
            Ok(Ok(permit)) => Ok(Turn::Slot(Self {
                _claim: claim,
                _permit: permit,
            })),
            // Timed out (or, never, closed).
            _ => Err(Refusal::Busy),
        }
    }
}

/// How long one password check takes here, in microseconds. Measured on a
/// thread of its own: `verify` keeps its working memory (19 MiB with the
/// defaults) per thread, and that belongs on the hashing threads, not on
/// whichever thread starts the broker.
fn calibrate(cost: password::HashCost) -> u64 {
    std::thread::scope(|scope| {
        scope
            .spawn(|| password::time_verify(cost, 1).as_micros() as u64)
            .join()
            .unwrap_or(20_000)
    })
}

/// Inserts into a bounded cache; a full one starts over, which only costs
/// some argon2 work again.
fn remember<K: Hash + Eq, V>(cache: &Mutex<HashMap<K, V>>, key: K, value: V) {
    insert_bounded(&mut cache.lock().unwrap(), key, value);
}

/// Like [`remember`], but keeps what is already there.
fn remember_if_new<K: Hash + Eq, V>(
    cache: &Mutex<HashMap<K, V>>,
    key: K,
    value: impl FnOnce() -> V,
) {
    let mut cache = cache.lock().unwrap();
    if !cache.contains_key(&key) {
        insert_bounded(&mut cache, key, value());
    }
}

fn insert_bounded<K: Hash + Eq, V>(cache: &mut HashMap<K, V>, key: K, value: V) {
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(key, value);
}
