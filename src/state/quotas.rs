//! Per-user quotas: what one user may keep in the broker, so that no user
//! can use up what the others need. A global `[quotas]` table holds the
//! defaults; a role or a user may carry a `quotas` table of its own, whose
//! fields win (a user's over its roles', and among roles the most generous).

use serde::{Deserialize, Serialize};

/// The limits in force for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    /// Retained messages the user's publishes keep, at most.
    pub retained_messages: u64,
    /// Their bytes (topics and payloads).
    pub retained_bytes: u64,
    /// Subscriptions of all the user's sessions together.
    pub subscriptions: u64,
    /// Bytes queued for one offline persistent session of the user; past
    /// it the oldest messages are dropped (counted and logged).
    pub queued_bytes: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            retained_messages: 10_000,
            retained_bytes: 64 * 1024 * 1024,
            subscriptions: 1_000,
            queued_bytes: 32 * 1024 * 1024,
        }
    }
}

/// A role's or user's own quotas: the fields set replace the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained_messages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_bytes: Option<u64>,
}

impl QuotaOverrides {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Quotas {
    /// The quotas of a user with `own` overrides and the roles' overrides
    /// `roles`: per field, the user's own if set, else the largest a role
    /// sets, else the default.
    pub fn resolve<'a>(
        &self,
        own: Option<&QuotaOverrides>,
        roles: impl Iterator<Item = &'a QuotaOverrides> + Clone,
    ) -> Quotas {
        let pick = |field: fn(&QuotaOverrides) -> Option<u64>, default: u64| {
            own.and_then(field)
                .or_else(|| roles.clone().filter_map(field).max())
                .unwrap_or(default)
        };
        Quotas {
            retained_messages: pick(|q| q.retained_messages, self.retained_messages),
            retained_bytes: pick(|q| q.retained_bytes, self.retained_bytes),
            subscriptions: pick(|q| q.subscriptions, self.subscriptions),
            queued_bytes: pick(|q| q.queued_bytes, self.queued_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_own_quota_wins_then_the_most_generous_role_then_the_default() {
        let defaults = Quotas::default();
        let small = QuotaOverrides {
            retained_messages: Some(5),
            subscriptions: Some(10),
            ..QuotaOverrides::default()
        };
        let large = QuotaOverrides {
            retained_messages: Some(50),
            ..QuotaOverrides::default()
        };
        let own = QuotaOverrides {
            retained_messages: Some(1),
            ..QuotaOverrides::default()
        };
        let roles = [small, large];
        let resolved = defaults.resolve(None, roles.iter());
        assert_eq!(resolved.retained_messages, 50);
        assert_eq!(resolved.subscriptions, 10);
        assert_eq!(resolved.queued_bytes, defaults.queued_bytes);
        assert_eq!(
            defaults.resolve(Some(&own), roles.iter()).retained_messages,
            1
        );
        assert_eq!(defaults.resolve(None, [].iter()), defaults);
    }
}
