//! Bridges to upstream brokers: `[[bridges]]` in the config file.
//!
//! A bridge is two MQTT clients glued together, inside the broker process:
//! one connects to this broker as a configured local user (so what comes in
//! from upstream obeys that user's ACL, as any device's publishes do, and
//! the core needs no special case), the other to the upstream broker.
//! Messages going out at QoS 1/2 are committed to the bridge's own queue on
//! disk ([`queue`]) before the local side acknowledges them, and leave it
//! only once the upstream broker acknowledged them: an upstream outage or a
//! gateway restart loses nothing that was taken, and the order is kept. The
//! queue is bounded in bytes; past it the oldest are dropped and counted.
//!
//! Loops (a topic bridged both ways) are cut with MQTT 5's No Local where
//! the broker speaks it (always on the local side), and for a 3.1.1 upstream
//! by remembering what was just sent up and dropping it when it comes back.
//!
//! Bridges are started once the broker listens, and added, changed or
//! removed on SIGHUP without a restart ([`Bridges::apply`]).

pub mod client;
mod link;
pub mod queue;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// One `[[bridges]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Names the bridge in `client list`, metrics, `$SYS` and its queue file.
    pub name: String,
    /// `host:port` of the upstream broker, or several, tried in turn.
    #[serde(deserialize_with = "one_or_many")]
    pub address: Vec<String>,
    #[serde(default)]
    pub protocol: Protocol,
    /// The bridge's client id upstream [default: HOSTNAME.NAME, as mosquitto's].
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub tls: Option<BridgeTls>,
    /// The local user the bridge logs in as: what comes from upstream is
    /// published with its permissions, and what goes up is what it may read.
    pub local_username: String,
    pub local_password: String,
    /// Bytes of messages kept for the upstream while it is unreachable.
    #[serde(default = "default_queue_bytes")]
    pub max_queued_bytes: u64,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_seconds: u64,
    /// QoS 1/2 messages in flight to a 3.1.1 upstream at most (an MQTT 5
    /// upstream says its own): mosquitto's `max_inflight_messages`, 20 by
    /// default, above which it drops QoS 2 messages.
    #[serde(default = "default_max_inflight")]
    pub max_inflight: u16,
    pub topics: Vec<TopicRule>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Protocol {
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    #[serde(rename = "5")]
    V5,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeTls {
    /// The CA certificate(s) the upstream's certificate must chain to (PEM).
    pub ca: PathBuf,
    /// A client certificate (PEM chain) and its key, for mutual TLS.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// Which messages cross, and how their topics change on the way: a local
/// topic `local_prefix + T` is `remote_prefix + T` upstream, for every `T`
/// matching `pattern`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRule {
    pub pattern: String,
    pub direction: Direction,
    /// The QoS of the bridge's subscriptions on both sides and of what it
    /// publishes (as mosquitto's bridge topic QoS).
    #[serde(default = "default_qos")]
    pub qos: u8,
    #[serde(default)]
    pub local_prefix: String,
    #[serde(default)]
    pub remote_prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
    Both,
}

impl Direction {
    pub fn goes_out(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }
    pub fn comes_in(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }
}

fn default_queue_bytes() -> u64 {
    64 * 1024 * 1024
}

fn default_keep_alive() -> u64 {
    30
}

fn default_max_inflight() -> u16 {
    20
}

fn default_qos() -> u8 {
    1
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// `host:port` split; a bare IPv6 address in brackets.
pub fn split_address(address: &str) -> Result<(String, u16), String> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("'{address}' has no port: write it like broker.example:1883"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{address}': '{port}' is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("'{address}' has no host"));
    }
    Ok((host.to_owned(), port))
}

impl BridgeConfig {
    /// Everything that can be checked without connecting; the error names
    /// the bridge and the value.
    pub fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "bridge name '{name}': use 1 to 64 letters, digits, '-' or '_'"
            ));
        }
        if self.address.is_empty() {
            return Err(format!("bridge {name}: give address = \"host:port\""));
        }
        for address in &self.address {
            split_address(address).map_err(|e| format!("bridge {name}: {e}"))?;
        }
        if self.topics.is_empty() {
            return Err(format!(
                "bridge {name}: give at least one [[bridges.topics]] (pattern, direction)"
            ));
        }
        for rule in &self.topics {
            crate::topic::check_filter(&rule.pattern)
                .map_err(|e| format!("bridge {name}: pattern '{}': {e}", rule.pattern))?;
            if rule.qos > 2 {
                return Err(format!(
                    "bridge {name}: qos {} for '{}': give 0, 1 or 2",
                    rule.qos, rule.pattern
                ));
            }
            for prefix in [&rule.local_prefix, &rule.remote_prefix] {
                if prefix.contains(['+', '#']) {
                    return Err(format!(
                        "bridge {name}: prefix '{prefix}' must not hold a wildcard"
                    ));
                }
            }
        }
        if self.local_username.is_empty() {
            return Err(format!(
                "bridge {name}: give local_username (and local_password): the local user the bridge logs in as"
            ));
        }
        if let Some(tls) = &self.tls {
            if tls.cert.is_some() != tls.key.is_some() {
                return Err(format!("bridge {name}: tls.cert and tls.key go together"));
            }
        }
        if !(1..=256).contains(&self.max_inflight) {
            return Err(format!(
                "bridge {name}: max_inflight = {}: give 1 to 256",
                self.max_inflight
            ));
        }
        if self.max_queued_bytes == 0 {
            return Err(format!("bridge {name}: max_queued_bytes must be above 0"));
        }
        Ok(())
    }

    /// The local client id: one per bridge, so its session is its own.
    pub fn local_client_id(&self) -> String {
        format!("mqreg-bridge-{}", self.name)
    }
}

/// Checks a whole list: each bridge, and names used once.
pub fn check_all(bridges: &[BridgeConfig]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for bridge in bridges {
        bridge.check()?;
        if !seen.insert(bridge.name.as_str()) {
            return Err(format!("two bridges are named '{}'", bridge.name));
        }
    }
    Ok(())
}

/// What `client list`, `/metrics` and `$SYS` say of a bridge.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BridgeStatus {
    pub name: String,
    /// The upstream address in use (or last tried).
    pub upstream: String,
    pub connected: bool,
    /// Messages (and their bytes) waiting for the upstream.
    pub queued: u64,
    pub queued_bytes: u64,
    /// Messages dropped for room in the queue, ever.
    pub dropped: u64,
    /// Messages delivered upstream, and brought in, since the broker started.
    pub sent: u64,
    pub received: u64,
    /// Messages the upstream (out) or this broker (in) refused (MQTT 5
    /// reason codes: not authorized, quota).
    pub refused: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Every running bridge's status, shared with the API and the metrics.
#[derive(Debug, Default)]
pub struct Statuses(Mutex<BTreeMap<String, BridgeStatus>>);

impl Statuses {
    pub fn all(&self) -> Vec<BridgeStatus> {
        lock(&self.0).values().cloned().collect()
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut BridgeStatus)) {
        let mut all = lock(&self.0);
        let status = all.entry(name.to_owned()).or_insert_with(|| BridgeStatus {
            name: name.to_owned(),
            ..Default::default()
        });
        change(status);
    }

    fn remove(&self, name: &str) {
        lock(&self.0).remove(name);
    }
}

/// A bridge's shared state, still usable if a thread panicked holding it
/// (what it guards is counters and queues, each change whole).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

struct Running {
    config: BridgeConfig,
    stop: tokio::sync::watch::Sender<bool>,
    /// Closed when the bridge's thread ends.
    done: tokio::sync::oneshot::Receiver<()>,
}

/// The bridges of one broker.
pub struct Bridges {
    /// Where the local side connects: a plain listener of this broker.
    local: SocketAddr,
    /// The state's local path: queue files go beside it.
    store: crate::state::store::Store,
    pub statuses: Arc<Statuses>,
    running: tokio::sync::Mutex<BTreeMap<String, Running>>,
}

impl Bridges {
    pub fn new(
        local: SocketAddr,
        store: crate::state::store::Store,
        statuses: Arc<Statuses>,
    ) -> Self {
        let local = match local.ip() {
            ip if ip.is_unspecified() => SocketAddr::new(
                if local.is_ipv6() {
                    std::net::Ipv6Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv4Addr::LOCALHOST.into()
                },
                local.port(),
            ),
            _ => local,
        };
        Self {
            local,
            store,
            statuses,
            running: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Makes the running bridges the ones `configs` describes: new ones are
    /// started, removed ones stopped, changed ones restarted (their queue
    /// stays on disk and carries over).
    pub async fn apply(&self, configs: Vec<BridgeConfig>) {
        let mut running = self.running.lock().await;
        let wanted: BTreeMap<String, BridgeConfig> = configs
            .into_iter()
            .map(|config| (config.name.clone(), config))
            .collect();
        let names: Vec<String> = running.keys().cloned().collect();
        for name in names {
            let keep = wanted
                .get(&name)
                .is_some_and(|config| *config == running[&name].config);
            if !keep {
                if wanted.contains_key(&name) {
                    tracing::info!(bridge = %name, "bridge changed: restarting it");
                } else {
                    tracing::info!(bridge = %name, "bridge removed");
                }
                let old = running.remove(&name).expect("listed");
                let _ = old.stop.send(true);
                let _ = old.done.await;
                self.statuses.remove(&name);
            }
        }
        for (name, config) in wanted {
            if running.contains_key(&name) {
                continue;
            }
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let queue_path = self.store.beside(&format!("bridge-{name}.redb"));
            tracing::info!(bridge = %name, upstream = %config.address.join(", "), "bridge starting");
            let (finished, done) = tokio::sync::oneshot::channel();
            let work = link::run(
                config.clone(),
                self.local,
                queue_path,
                self.statuses.clone(),
                stopped,
            );
            // Each bridge on a thread and a one-thread runtime of its own:
            // a message passes through several tasks (the two connections,
            // the queue's writer, the forwarder), and on one thread handing
            // it on is a function call, not a wake-up of another thread.
            let thread_name = name.clone();
            let started = std::thread::Builder::new()
                .name(format!("mqreg-bridge-{name}"))
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime.block_on(work),
                        Err(error) => tracing::error!(
                            bridge = %thread_name,
                            "bridge not started: cannot start its runtime: {error}"
                        ),
                    }
                    drop(finished);
                });
            if let Err(error) = started {
                tracing::error!(bridge = %name, "bridge not started: cannot start its thread: {error}");
                continue;
            }
            running.insert(name, Running { config, stop, done });
        }
    }

    /// Stops every bridge (the broker is stopping).
    pub async fn stop(&self) {
        self.apply(Vec::new()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<BridgeConfig>, String> {
        #[derive(Deserialize)]
        struct File {
            bridges: Vec<BridgeConfig>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        check_all(&file.bridges)?;
        Ok(file.bridges)
    }

    const GOOD: &str = r##"
        [[bridges]]
        name = "central"
        address = "broker.example:1883"
        local_username = "bridge"
        local_password = "secret-secret"
        topics = [{ pattern = "#", direction = "both", local_prefix = "plant/", remote_prefix = "site4/" }]
    "##;

    #[test]
    fn a_bridge_table_reads_with_its_defaults() {
        let bridges = parse(GOOD).unwrap();
        let bridge = &bridges[0];
        assert_eq!(bridge.address, ["broker.example:1883"]);
        assert_eq!(bridge.protocol, Protocol::V311);
        assert_eq!(bridge.topics[0].qos, 1);
        assert_eq!(bridge.max_queued_bytes, 64 * 1024 * 1024);
        assert!(bridge.topics[0].direction.goes_out() && bridge.topics[0].direction.comes_in());
    }

    #[test]
    fn bad_bridges_are_refused_with_what_is_wrong() {
        let cases = [
            (
                GOOD.replace("\"central\"", "\"cen tral\""),
                "letters, digits",
            ),
            (
                GOOD.replace("broker.example:1883", "broker.example"),
                "has no port",
            ),
            (
                GOOD.replace("pattern = \"#\"", "pattern = \"a/#/b\""),
                "pattern 'a/#/b'",
            ),
            (
                GOOD.replace("local_prefix = \"plant/\"", "local_prefix = \"plant/+/\""),
                "wildcard",
            ),
            (
                GOOD.replace("direction = \"both\"", "direction = \"sideways\""),
                "sideways",
            ),
            (format!("{GOOD}{GOOD}"), "two bridges"),
        ];
        for (text, expected) in cases {
            let error = parse(&text).unwrap_err();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(
            split_address("10.0.0.1:8883").unwrap(),
            ("10.0.0.1".into(), 8883)
        );
        assert_eq!(split_address("[::1]:1883").unwrap(), ("::1".into(), 1883));
        assert!(split_address(":1883").is_err());
    }
}
