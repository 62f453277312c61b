//! `$SYS/broker/...`: the broker's figures as retained messages, for
//! MQTT-only tooling (MQTT Explorer, mosquitto_sub), named as mosquitto
//! names them. Published on the network thread every `--sys-interval`,
//! only the values that changed; delivered only to users with a `read`
//! grant on them (`#` never matches `$SYS`, MQTT-4.7.2-1).

use std::time::{Duration, Instant};

use ntex_bytes::{ByteString, Bytes};

use crate::broker::core::{Message, Shared};
use crate::broker::live::LiveState;

/// The topics and their values now.
fn figures(
    core: &Shared,
    live: &LiveState,
    bridges: &crate::bridge::Statuses,
    started: Instant,
) -> Vec<(String, String)> {
    let stats = core.borrow().stats();
    let snapshot = live.snapshot();
    let status = snapshot.state.status(chrono::Utc::now());
    let counters = stats.counters;
    let mut figures = vec![
        (
            "$SYS/broker/version",
            format!("mqreg {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "$SYS/broker/uptime",
            format!("{} seconds", started.elapsed().as_secs()),
        ),
        (
            "$SYS/broker/clients/connected",
            stats.connections.to_string(),
        ),
        ("$SYS/broker/clients/total", stats.sessions.to_string()),
        (
            "$SYS/broker/clients/disconnected",
            (stats.sessions - stats.connections).to_string(),
        ),
        (
            "$SYS/broker/subscriptions/count",
            stats.subscriptions.to_string(),
        ),
        (
            "$SYS/broker/retained messages/count",
            stats.retained.to_string(),
        ),
        (
            "$SYS/broker/messages/received",
            counters.received.to_string(),
        ),
        ("$SYS/broker/messages/sent", counters.sent.to_string()),
        (
            "$SYS/broker/bytes/received",
            counters.received_bytes.to_string(),
        ),
        ("$SYS/broker/bytes/sent", counters.sent_bytes.to_string()),
        (
            "$SYS/broker/publish/messages/dropped",
            (counters.dropped + counters.too_large).to_string(),
        ),
        ("$SYS/broker/messages/queued", stats.queued.to_string()),
        ("$SYS/broker/messages/inflight", stats.inflight.to_string()),
        ("$SYS/broker/registry/pending", status.pending.to_string()),
        (
            "$SYS/broker/registry/unlocked",
            u8::from(!status.locked).to_string(),
        ),
    ];
    let mut figures: Vec<(String, String)> = figures
        .drain(..)
        .map(|(topic, value)| (topic.to_owned(), value))
        .collect();
    // As mosquitto: 1 while a bridge is connected to its upstream, else 0.
    for bridge in bridges.all() {
        figures.push((
            format!("$SYS/broker/connection/{}/state", bridge.name),
            u8::from(bridge.connected).to_string(),
        ));
    }
    figures
}

/// Publishes the figures every `interval` until the broker stops.
pub async fn publish_periodically(
    core: Shared,
    live: std::sync::Arc<LiveState>,
    bridges: std::sync::Arc<crate::bridge::Statuses>,
    interval: Duration,
) {
    let started = Instant::now();
    let mut last: Vec<(String, String)> = Vec::new();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = figures(&core, &live, &bridges, started);
        for (topic, value) in &now {
            if last.iter().any(|(seen, old)| seen == topic && old == value) {
                continue;
            }
            let message = Message {
                topic: ByteString::from(topic.as_str()),
                payload: Bytes::from(value.clone().into_bytes()),
                qos: 0,
                retain: true,
                properties: None,
                expires_at: None,
                publisher: None,
            };
            // No owner: charged to no user's quota, and never refused by one.
            let _ = core.borrow_mut().publish(message, None);
        }
        last = now;
    }
}
