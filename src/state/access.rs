//! Who may log in at all, before any password is looked at: which client ids
//! a user may use, disabled users, bans, and the flood limits the broker keeps
//! per peer address.
//!
//! Like the rest of the state this is data and pure decisions; the broker asks
//! [`State::barrier`] at login and again for every live connection when the
//! file changes, so a ban or a disable closes what it matches within the
//! broker's reload time.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{State, Timestamp, User};
use crate::names::printable;

/// Which client ids a user may connect with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "RuleText", into = "RuleText")]
pub enum ClientIdRule {
    /// Any client id: MQTT's own rule.
    #[default]
    Any,
    /// Only the client id(s) the device registered with (copied into the user
    /// when its request is approved).
    Registered,
    /// Client ids matching one of these globs; `{username}` is the user's name.
    Patterns(Vec<String>),
}

/// How a rule is written in the state file: `"any"`, `"registered"` or a
/// list of globs.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RuleText {
    Keyword(String),
    Patterns(Vec<String>),
}

impl TryFrom<RuleText> for ClientIdRule {
    type Error = String;
    fn try_from(text: RuleText) -> Result<Self, String> {
        match text {
            RuleText::Keyword(word) => match word.as_str() {
                "any" => Ok(ClientIdRule::Any),
                "registered" => Ok(ClientIdRule::Registered),
                other => Err(format!(
                    "invalid client id rule '{}': use \"any\", \"registered\" or a list of globs like [\"{{username}}-*\"]",
                    printable(other)
                )),
            },
            RuleText::Patterns(patterns) => ClientIdRule::patterns(patterns),
        }
    }
}

impl From<ClientIdRule> for RuleText {
    fn from(rule: ClientIdRule) -> Self {
        match rule {
            ClientIdRule::Any => RuleText::Keyword("any".into()),
            ClientIdRule::Registered => RuleText::Keyword("registered".into()),
            ClientIdRule::Patterns(patterns) => RuleText::Patterns(patterns),
        }
    }
}

impl ClientIdRule {
    /// A pattern rule, each glob checked (with `{username}` standing for a name).
    pub fn patterns(patterns: Vec<String>) -> Result<Self, String> {
        if patterns.is_empty() {
            return Err("a client id rule needs at least one pattern".into());
        }
        for pattern in &patterns {
            glob::Pattern::new(&pattern.replace("{username}", "name"))
                .map_err(|e| format!("invalid client id pattern '{}': {e}", printable(pattern)))?;
        }
        Ok(ClientIdRule::Patterns(patterns))
    }

    /// Whether `client_id` is one `username` may use; `registered` are the ids
    /// its request was approved with.
    pub fn allows(&self, username: &str, client_id: &str, registered: &[String]) -> bool {
        match self {
            ClientIdRule::Any => true,
            ClientIdRule::Registered => registered.iter().any(|id| id == client_id),
            // Usernames hold only [A-Za-z0-9_.], none of them special in a glob.
            ClientIdRule::Patterns(patterns) => patterns.iter().any(|pattern| {
                glob::Pattern::new(&pattern.replace("{username}", username))
                    .is_ok_and(|glob| glob.matches(client_id))
            }),
        }
    }

    /// Whether a device not yet approved may register with `client_id`: only
    /// patterns can say no, since a registration defines what `registered` means.
    pub fn allows_registration(&self, username: &str, client_id: &str) -> bool {
        match self {
            ClientIdRule::Patterns(_) => self.allows(username, client_id, &[]),
            _ => true,
        }
    }
}

impl std::fmt::Display for ClientIdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientIdRule::Any => f.write_str("any"),
            ClientIdRule::Registered => f.write_str("registered"),
            ClientIdRule::Patterns(patterns) => f.write_str(&patterns.join(", ")),
        }
    }
}

/// What a ban matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanKind {
    Username,
    ClientId,
    /// An IP address or a CIDR block.
    Address,
    /// An address the broker's flood guard shut out (an IPv4 address or an
    /// IPv6 /64): it refuses logins it cannot verify without hashing, and
    /// closes no connection.
    Flood,
}

impl BanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BanKind::Username => "username",
            BanKind::ClientId => "client_id",
            BanKind::Address => "address",
            BanKind::Flood => "flood",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    pub id: u64,
    pub kind: BanKind,
    pub value: String,
    pub created: Timestamp,
    /// Lifted at this instant; `None`: until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Parses an address ban's value: an IP address or a CIDR block, written
/// back in its canonical form (`10.1.2.3/8` becomes `10.0.0.0/8`).
pub fn parse_address_ban(text: &str) -> Result<String, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(ip.to_canonical().to_string());
    }
    match text.parse::<ipnet::IpNet>() {
        Ok(net) => Ok(net.trunc().to_string()),
        Err(_) => Err(format!(
            "invalid address '{}': write an IP address like 192.0.2.7 or a CIDR block like 192.0.2.0/24",
            printable(text)
        )),
    }
}

impl Ban {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| until > now)
    }

    fn matches(&self, username: Option<&str>, client_id: &str, peer: Option<IpAddr>) -> bool {
        match self.kind {
            BanKind::Username => username == Some(self.value.as_str()),
            BanKind::ClientId => client_id == self.value,
            BanKind::Address | BanKind::Flood => {
                let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
                    return false;
                };
                match self.value.parse::<ipnet::IpNet>() {
                    Ok(net) => net.contains(&peer),
                    Err(_) => self.value.parse::<IpAddr>() == Ok(peer),
                }
            }
        }
    }

    pub fn check(&self) -> Result<(), String> {
        match self.kind {
            BanKind::Address | BanKind::Flood => parse_address_ban(&self.value).map(|_| ()),
            BanKind::Username => crate::names::check_username(&self.value),
            BanKind::ClientId => Ok(()),
        }
        .map_err(|e| format!("ban {}: {e}", self.id))
    }
}

/// Flapping protection, per peer address: past `max_refusals` refused logins
/// (or `max_registrations` registration attempts) within `window`, an address
/// is refused at once, without looking at its credentials, for `ban_for`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodLimits {
    /// Refused logins per window; 0 turns the limit off.
    pub max_refusals: u32,
    /// Registration attempts that need password hashing (a new request, or a
    /// new password for one) per window; 0 turns the limit off.
    pub max_registrations: u32,
    #[serde(with = "super::humantime_serde_str")]
    pub window: Duration,
    #[serde(with = "super::humantime_serde_str")]
    pub ban_for: Duration,
    /// Addresses (IPs or CIDR blocks) never charged or shut out.
    pub exempt: Vec<String>,
}

impl FloodLimits {
    /// Whether either limit is on (shut-outs are in force only then).
    pub fn is_on(&self) -> bool {
        self.max_refusals != 0 || self.max_registrations != 0
    }

    /// Whether `peer` is in the exempt list.
    pub fn is_exempt(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.exempt
            .iter()
            .any(|entry| match entry.parse::<ipnet::IpNet>() {
                Ok(net) => net.contains(&peer),
                Err(_) => entry.parse::<IpAddr>() == Ok(peer),
            })
    }

    pub fn check(&self) -> Result<(), String> {
        for entry in &self.exempt {
            parse_address_ban(entry).map_err(|e| format!("[flood] exempt: {e}"))?;
        }
        Ok(())
    }
}

impl Default for FloodLimits {
    fn default() -> Self {
        Self {
            max_refusals: 15,
            max_registrations: 15,
            window: Duration::from_secs(60),
            ban_for: Duration::from_secs(300),
            // Local services (and tests, and a gateway's own bridge) are
            // never shut out.
            exempt: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

/// Why a login is refused before its password is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Barrier {
    Disabled,
    Banned { id: u64, kind: BanKind },
    ClientIdNotAllowed,
}

impl std::fmt::Display for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Barrier::Disabled => f.write_str("user disabled"),
            Barrier::Banned { id, kind } => write!(f, "banned by {} (ban {id})", kind.as_str()),
            Barrier::ClientIdNotAllowed => f.write_str("client id not allowed for this user"),
        }
    }
}

impl User {
    /// The client id rule that applies to this user: its own, else the
    /// registry's (`registry_rule`).
    pub fn client_id_rule<'a>(&'a self, registry_rule: &'a ClientIdRule) -> &'a ClientIdRule {
        self.client_ids.as_ref().unwrap_or(registry_rule)
    }
}

impl State {
    /// Whether `username` holds the registry-issued certificate with this
    /// fingerprint, unrevoked and unexpired.
    pub fn certificate_is_live(&self, username: &str, fingerprint: &str, now: Timestamp) -> bool {
        self.users.get(username).is_some_and(|user| {
            user.certificates.iter().any(|certificate| {
                certificate.fingerprint == fingerprint && certificate.is_live(now)
            })
        })
    }

    /// The client id rule that applies to `user`.
    pub fn client_id_rule<'a>(&'a self, user: &'a User) -> &'a ClientIdRule {
        user.client_id_rule(&self.registry.client_ids)
    }

    /// Whether a login (or a live connection) must be refused whatever its
    /// password: a ban matches, the user is disabled, or the client id is not
    /// one the user may use. For an unknown username only bans and the
    /// registry's client id patterns apply.
    pub fn barrier(
        &self,
        username: Option<&str>,
        client_id: &str,
        peer: Option<IpAddr>,
        now: Timestamp,
    ) -> Option<Barrier> {
        if let Some(ban) = self.bans.iter().find(|ban| {
            ban.kind != BanKind::Flood
                && ban.is_active(now)
                && ban.matches(username, client_id, peer)
        }) {
            return Some(Barrier::Banned {
                id: ban.id,
                kind: ban.kind,
            });
        }
        let username = username?;
        match self.users.get(username) {
            Some(user) if user.disabled => Some(Barrier::Disabled),
            Some(user) => (!self.client_id_rule(user).allows(
                username,
                client_id,
                &user.registered_client_ids,
            ))
            .then_some(Barrier::ClientIdNotAllowed),
            None => (!self
                .registry
                .client_ids
                .allows_registration(username, client_id))
            .then_some(Barrier::ClientIdNotAllowed),
        }
    }

    /// [`State::barrier`] for a request that has no MQTT client id (an
    /// enrolment over HTTPS): bans and disabled users only; client id rules
    /// apply when the device logs in over MQTT.
    pub fn barrier_without_client_id(
        &self,
        username: Option<&str>,
        peer: Option<IpAddr>,
        now: Timestamp,
    ) -> Option<Barrier> {
        // A ban or a disabled user is found before any client id rule.
        self.barrier(username, "", peer, now)
            .filter(|barrier| *barrier != Barrier::ClientIdNotAllowed)
    }

    /// The flood guard's shut-out of `peer` in force, if any: only while
    /// the `[flood]` limits are on and the address is not exempt, so a
    /// changed `[flood]` table is in effect at once.
    pub fn flood_ban(&self, peer: IpAddr, now: Timestamp) -> Option<&Ban> {
        if !self.flood.is_on() || self.flood.is_exempt(peer) {
            return None;
        }
        self.bans.iter().find(|ban| {
            ban.kind == BanKind::Flood && ban.is_active(now) && ban.matches(None, "", Some(peer))
        })
    }

    /// Adds a ban and returns it; its id is one more than the highest in use.
    pub fn add_ban(
        &mut self,
        kind: BanKind,
        value: String,
        until: Option<Timestamp>,
        reason: Option<String>,
        now: Timestamp,
    ) -> Ban {
        let id = self.bans.iter().map(|ban| ban.id).max().unwrap_or(0) + 1;
        let ban = Ban {
            id,
            kind,
            value,
            created: now,
            until,
            reason,
        };
        self.bans.push(ban.clone());
        ban
    }

    /// Removes a ban; false if there is none with that id.
    pub fn remove_ban(&mut self, id: u64) -> bool {
        let before = self.bans.len();
        self.bans.retain(|ban| ban.id != id);
        self.bans.len() != before
    }

    /// Bans still in force.
    pub fn active_bans(&self, now: Timestamp) -> impl Iterator<Item = &Ban> {
        self.bans.iter().filter(move |ban| ban.is_active(now))
    }
}
