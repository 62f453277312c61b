//! What the running broker tells the control plane: events as they happen
//! (for `GET /api/v1/events`), the recent refused logins (for `registry list
//! --refused`), and the login metrics. One [`Hub`] per broker, shared by the
//! login policy, the network thread and the HTTP API.
//!
//! Nothing here may slow the message path: an event is only built when
//! someone listens, and the refused log is touched on refusals only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

use super::metrics::Metrics;
use crate::state::Timestamp;

/// Events kept for a slow listener before it misses some.
const EVENT_BACKLOG: usize = 1024;

/// Refused logins remembered; past it the least recently seen goes.
const MAX_REFUSED: usize = 1000;

/// One event: its kind (`request`, `login`, `logout`, `refused`, `change`)
/// and its data.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub kind: &'static str,
    pub data: serde_json::Value,
}

pub struct Hub {
    events: broadcast::Sender<Event>,
    refused: Mutex<HashMap<RefusedKey, RefusedLogin>>,
    pub metrics: Metrics,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            events: broadcast::channel(EVENT_BACKLOG).0,
            refused: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RefusedKey {
    username: String,
    address: Option<IpAddr>,
    reason: String,
}

/// Refused login attempts of one username from one address for one reason.
/// Passwords are never kept.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedLogin {
    pub username: String,
    /// The client id of the latest attempt.
    pub client_id: String,
    pub address: String,
    pub protocol: String,
    pub reason: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    #[serde(skip)]
    last: Timestamp,
}

impl Hub {
    /// Sends an event to every listener; `data` is only built when there is one.
    pub fn publish(&self, kind: &'static str, data: impl FnOnce() -> serde_json::Value) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(Event { kind, data: data() });
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Remembers a refused login; returns the entry as it now is.
    pub fn note_refused(
        &self,
        username: &str,
        client_id: &str,
        address: Option<IpAddr>,
        protocol: &str,
        reason: &str,
    ) -> RefusedLogin {
        let now = chrono::Utc::now();
        let key = RefusedKey {
            username: username.to_owned(),
            address,
            reason: reason.to_owned(),
        };
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if refused.len() >= MAX_REFUSED && !refused.contains_key(&key) {
            if let Some(oldest) = refused
                .iter()
                .min_by_key(|(_, entry)| entry.last)
                .map(|(key, _)| key.clone())
            {
                refused.remove(&oldest);
            }
        }
        let stamp = crate::output::rfc3339(now);
        let entry = refused.entry(key).or_insert_with(|| RefusedLogin {
            username: username.to_owned(),
            client_id: String::new(),
            address: address.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            protocol: String::new(),
            reason: reason.to_owned(),
            count: 0,
            first_seen: stamp.clone(),
            last_seen: String::new(),
            last: now,
        });
        entry.count += 1;
        entry.client_id = client_id.to_owned();
        entry.protocol = protocol.to_owned();
        entry.last_seen = stamp;
        entry.last = now;
        entry.clone()
    }

    /// The refused logins, most recent first.
    pub fn refused(&self) -> Vec<RefusedLogin> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<RefusedLogin> = refused.values().cloned().collect();
        list.sort_by(|a, b| b.last.cmp(&a.last).then(a.username.cmp(&b.username)));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_aggregated_by_username_address_and_reason() {
        let hub = Hub::default();
        let here: Option<IpAddr> = Some("192.0.2.7".parse().unwrap());
        hub.note_refused("gw-01", "a", here, "3.1.1", "invalid username");
        let again = hub.note_refused("gw-01", "b", here, "3.1.1", "invalid username");
        assert_eq!((again.count, again.client_id.as_str()), (2, "b"));
        hub.note_refused("gw-01", "b", here, "3.1.1", "wrong password");
        hub.note_refused("gw-01", "b", None, "5", "invalid username");
        assert_eq!(hub.refused().len(), 3);
    }

    #[test]
    fn the_refused_log_is_bounded() {
        let hub = Hub::default();
        for n in 0..MAX_REFUSED + 10 {
            hub.note_refused(&format!("u{n}"), "c", None, "5", "invalid username");
        }
        assert_eq!(hub.refused().len(), MAX_REFUSED);
    }

    #[test]
    fn events_reach_listeners_and_cost_nothing_without_one() {
        let hub = Hub::default();
        hub.publish("login", || unreachable!("nobody listens"));
        let mut listener = hub.subscribe();
        hub.publish("login", || serde_json::json!({"username": "a"}));
        assert_eq!(listener.try_recv().unwrap().kind, "login");
    }
}
