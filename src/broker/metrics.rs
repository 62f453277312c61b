//! `GET /metrics`: the broker in the Prometheus text format, `mqreg_` prefix.
//!
//! Login counts and check times are counted where logins are decided (on
//! the tokio runtime). What the network thread holds (connections,
//! messages, queues) is never counted with atomics on the message path: the
//! core keeps plain counters, and a scrape asks the network thread for a
//! [`Sample`] and encodes it.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::core::Stats;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

/// What a scrape reads off the broker at that moment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sample {
    pub core: Stats,
    pub pending: usize,
    pub unlocked: bool,
    /// Store changes queued and not yet on disk.
    pub persistence_lag: u64,
}

pub struct Metrics {
    registry: Registry,
    /// Logins by result: accepted, refused, pending (a request recorded).
    pub logins: Family<ResultLabel, Counter>,
    /// Time to decide a login, password check included.
    pub login_seconds: Histogram,
    /// API requests refused for a missing or wrong token.
    pub api_unauthorized: Counter,
    sample: Arc<Mutex<Sample>>,
    /// The bridges' statuses, once the broker runs bridges.
    bridges: Arc<Mutex<Option<Arc<crate::bridge::Statuses>>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mqreg");
        let logins = Family::<ResultLabel, Counter>::default();
        // Every result from the start, so that a rate over them is defined.
        for result in ["accepted", "refused", "pending"] {
            drop(logins.get_or_create(&ResultLabel { result }));
        }
        registry.register("logins", "Logins decided, by result", logins.clone());
        let login_seconds = Histogram::new([
            0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]);
        registry.register(
            "login_check_seconds",
            "Time to decide a login, the password check included",
            login_seconds.clone(),
        );
        let api_unauthorized = Counter::default();
        registry.register(
            "api_unauthorized",
            "HTTP API requests refused for a missing, wrong or expired token",
            api_unauthorized.clone(),
        );
        let sample = Arc::new(Mutex::new(Sample::default()));
        registry.register_collector(Box::new(Sampled(sample.clone())));
        let bridges = Arc::new(Mutex::new(None));
        registry.register_collector(Box::new(BridgeFigures(bridges.clone())));
        Self {
            registry,
            logins,
            login_seconds,
            api_unauthorized,
            sample,
            bridges,
        }
    }
}

impl Metrics {
    /// Adds the bridges' figures to every scrape.
    pub fn watch_bridges(&self, statuses: Arc<crate::bridge::Statuses>) {
        *self.bridges.lock().unwrap_or_else(|e| e.into_inner()) = Some(statuses);
    }

    /// The text exposition of everything, with `sample` as the broker's state.
    pub fn render(&self, sample: Sample) -> String {
        *self.sample.lock().unwrap_or_else(|e| e.into_inner()) = sample;
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[derive(Debug)]
struct Sampled(Arc<Mutex<Sample>>);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sample = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        let core = sample.core;
        let gauges: [(&str, &str, i64); 10] = [
            ("connections", "Connected clients", core.connections as i64),
            (
                "sessions",
                "Sessions, connected or kept for a reconnect",
                core.sessions as i64,
            ),
            (
                "subscriptions",
                "Subscriptions of all sessions",
                core.subscriptions as i64,
            ),
            (
                "retained_messages",
                "Retained messages",
                core.retained as i64,
            ),
            (
                "retained_bytes",
                "Topic and payload bytes of retained messages",
                core.retained_bytes as i64,
            ),
            (
                "queued_messages",
                "Messages queued for sessions, not yet sent",
                core.queued as i64,
            ),
            (
                "queued_bytes",
                "Bytes of the messages queued for sessions",
                core.queued_bytes as i64,
            ),
            (
                "inflight_messages",
                "QoS 1 and 2 deliveries sent and not yet acknowledged",
                core.inflight as i64,
            ),
            (
                "pending_requests",
                "Pending registration requests",
                sample.pending as i64,
            ),
            (
                "persistence_lag",
                "Message store changes queued and not yet on disk",
                sample.persistence_lag as i64,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let unlocked = ConstGauge::new(i64::from(sample.unlocked));
        unlocked.encode(encoder.encode_descriptor(
            "registry_unlocked",
            "1 while the registry is unlocked",
            None,
            unlocked.metric_type(),
        )?)?;
        let counters: [(&str, &str, u64); 4] = [
            (
                "messages_received",
                "Messages published to the broker (clients and wills)",
                core.counters.received,
            ),
            (
                "bytes_received",
                "Topic and payload bytes of messages published to the broker",
                core.counters.received_bytes,
            ),
            (
                "messages_sent",
                "Deliveries written to clients",
                core.counters.sent,
            ),
            (
                "bytes_sent",
                "Topic and payload bytes of deliveries written to clients",
                core.counters.sent_bytes,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let mut dropped = encoder.encode_descriptor(
            "messages_dropped",
            "Messages not delivered, by reason: queue_full (a full or offline queue lost its oldest), too_large (over the client's maximum packet size), not_authorized (published without a write grant), quota (a retained message over its user's quota)",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (reason, value) in [
            ("queue_full", core.counters.dropped),
            ("too_large", core.counters.too_large),
            ("not_authorized", core.counters.not_authorized),
            ("quota", core.counters.over_quota),
        ] {
            ConstCounter::new(value).encode(dropped.encode_family(&ReasonLabel { reason })?)?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct BridgeFigures(Arc<Mutex<Option<Arc<crate::bridge::Statuses>>>>);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BridgeLabel {
    bridge: String,
}

impl Collector for BridgeFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(statuses) = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Ok(());
        };
        let bridges = statuses.all();
        if bridges.is_empty() {
            return Ok(());
        }
        type Figure = fn(&crate::bridge::BridgeStatus) -> u64;
        let gauges: [(&str, &str, Figure); 3] = [
            (
                "bridge_connected",
                "1 while the bridge is connected to its upstream",
                |b| u64::from(b.connected),
            ),
            (
                "bridge_queued_messages",
                "Messages kept on disk for the upstream",
                |b| b.queued,
            ),
            (
                "bridge_queued_bytes",
                "Bytes of the messages kept on disk for the upstream",
                |b| b.queued_bytes,
            ),
        ];
        for (name, help, figure) in gauges {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for bridge in &bridges {
                ConstGauge::new(figure(bridge) as i64).encode(family.encode_family(
                    &BridgeLabel {
                        bridge: bridge.name.clone(),
                    },
                )?)?;
            }
        }
        let counters: [(&str, &str, Figure); 4] = [
            (
                "bridge_dropped_messages",
                "Messages dropped from the bridge's queue for room (oldest first)",
                |b| b.dropped,
            ),
            (
                "bridge_sent_messages",
                "Messages the upstream acknowledged",
                |b| b.sent,
            ),
            (
                "bridge_received_messages",
                "Messages brought in from the upstream",
                |b| b.received,
            ),
            (
                "bridge_refused_messages",
                "Messages the upstream or this broker refused (MQTT 5 reason codes)",
                |b| b.refused,
            ),
        ];
        for (name, help, figure) in counters {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for bridge in &bridges {
                ConstCounter::new(figure(bridge)).encode(family.encode_family(
                    &BridgeLabel {
                        bridge: bridge.name.clone(),
                    },
                )?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_everything_with_the_prefix() {
        let metrics = Metrics::default();
        metrics
            .logins
            .get_or_create(&ResultLabel { result: "accepted" })
            .inc();
        metrics.login_seconds.observe(0.02);
        let mut sample = Sample::default();
        sample.core.connections = 3;
        sample.core.counters.dropped = 5;
        sample.unlocked = true;
        let text = metrics.render(sample);
        for line in [
            "mqreg_connections 3",
            "mqreg_registry_unlocked 1",
            "mqreg_logins_total{result=\"accepted\"} 1",
            "mqreg_messages_dropped_total{reason=\"queue_full\"} 5",
            "mqreg_login_check_seconds_count 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
    }
}
