//! Flapping protection: per peer address, a token bucket of refused logins and
//! one of registration attempts. An address that empties either is shut out
//! for a while: the policy writes a `flood` ban into the state (listed by
//! `ban list`, lifted by `ban remove`), and until it ends the address's logins
//! are refused before any credential is looked at (unless the broker can
//! verify one without hashing), so they cost no argon2 work, no state write
//! and no log line.
//!
//! The buckets live in memory only: a restart forgets them, which is what
//! EMQX's flapping detection does too; the state is written once per
//! shut-out, never per attempt.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::state::FloodLimits;

/// Addresses tracked before the tracker forgets the ones in good standing.
const MAX_TRACKED: usize = 100_000;

/// What is being counted against an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    Refusal,
    Registration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(capacity),
            at: now,
        }
    }

    /// Refills at `capacity` per `window`, then takes one token; false when
    /// there was none to take.
    fn take(&mut self, capacity: u32, window: Duration, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let rate = f64::from(capacity) / window.as_secs_f64().max(0.001);
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(capacity));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Address {
    refusals: Bucket,
    registrations: Bucket,
    shut_until: Option<Instant>,
}

/// An address that was just shut out, to be logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutOut {
    pub charge: Charge,
    pub limit: u32,
    pub window: Duration,
    pub ban_for: Duration,
}

impl ShutOut {
    /// What happened, for the log, the audit log and the ban's reason.
    pub fn describe(&self) -> String {
        let what = match self.charge {
            Charge::Refusal => "refused logins",
            Charge::Registration => "registration attempts",
        };
        format!(
            "more than {} {what} in {}: refused without checking for {}",
            self.limit,
            humantime::format_duration(self.window),
            humantime::format_duration(self.ban_for)
        )
    }
}

/// The unit a bucket counts: an IPv4 address, or an IPv6 /64 (one host
/// commonly holds a whole /64, so single IPv6 addresses are free to change).
fn unit(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
        v4 => v4,
    }
}

/// The unit as a ban's value: the IPv4 address, or the IPv6 /64 block.
pub fn unit_text(peer: IpAddr) -> String {
    match unit(peer) {
        IpAddr::V6(v6) => format!("{v6}/64"),
        v4 => v4.to_string(),
    }
}

#[derive(Debug, Default)]
pub struct FloodGuard {
    addresses: Mutex<HashMap<IpAddr, Address>>,
}

impl FloodGuard {
    /// Whether `peer` was shut out at `now` (and so is charged nothing
    /// more). The shut-out itself is the `flood` ban the policy writes into
    /// the state.
    #[cfg(test)]
    pub fn is_shut_out(&self, peer: IpAddr, now: Instant) -> bool {
        let peer = unit(peer);
        let addresses = self.addresses.lock().unwrap();
        addresses
            .get(&peer)
            .and_then(|address| address.shut_until)
            .is_some_and(|until| until > now)
    }

    /// Counts one refusal or registration against `peer`. Returns what
    /// happened when this charge emptied its bucket and shut the address out.
    pub fn charge(
        &self,
        peer: IpAddr,
        charge: Charge,
        limits: &FloodLimits,
        now: Instant,
    ) -> Option<ShutOut> {
        let limit = match charge {
            Charge::Refusal => limits.max_refusals,
            Charge::Registration => limits.max_registrations,
        };
        if limit == 0 {
            return None;
        }
        let peer = unit(peer);
        let mut addresses = self.addresses.lock().unwrap();
        if addresses.len() >= MAX_TRACKED && !addresses.contains_key(&peer) {
            forget_good_standing(&mut addresses, limits, now);
        }
        let address = addresses.entry(peer).or_insert_with(|| Address {
            refusals: Bucket::full(limits.max_refusals, now),
            registrations: Bucket::full(limits.max_registrations, now),
            shut_until: None,
        });
        if address.shut_until.is_some_and(|until| until > now) {
            return None;
        }
        let bucket = match charge {
            Charge::Refusal => &mut address.refusals,
            Charge::Registration => &mut address.registrations,
        };
        if bucket.take(limit, limits.window, now) {
            return None;
        }
        // Served the ban with a full bucket again, or the next refusal trips it.
        *bucket = Bucket::full(limit, now + limits.ban_for);
        address.shut_until = Some(now + limits.ban_for);
        Some(ShutOut {
            charge,
            limit,
            window: limits.window,
            ban_for: limits.ban_for,
        })
    }
}

/// Drops addresses not shut out whose buckets have refilled; if that is not
/// enough, every address not shut out; only if shut-out ones alone fill the
/// table, everything.
fn forget_good_standing(
    addresses: &mut HashMap<IpAddr, Address>,
    limits: &FloodLimits,
    now: Instant,
) {
    addresses.retain(|_, address| {
        address.shut_until.is_some_and(|until| until > now)
            || now.saturating_duration_since(address.refusals.at) < limits.window
            || now.saturating_duration_since(address.registrations.at) < limits.window
    });
    if addresses.len() >= MAX_TRACKED {
        addresses.retain(|_, address| address.shut_until.is_some_and(|until| until > now));
    }
    if addresses.len() >= MAX_TRACKED {
        addresses.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u32) -> FloodLimits {
        FloodLimits {
            max_refusals: max,
            max_registrations: max,
            window: Duration::from_secs(60),
            ban_for: Duration::from_secs(300),
            exempt: Vec::new(),
        }
    }

    #[test]
    fn an_address_is_shut_out_after_its_limit_and_let_in_after_the_ban() {
        let guard = FloodGuard::default();
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        let start = Instant::now();
        for _ in 0..15 {
            assert_eq!(
                guard.charge(peer, Charge::Refusal, &limits(15), start),
                None
            );
        }
        assert!(!guard.is_shut_out(peer, start));
        let tripped = guard.charge(peer, Charge::Refusal, &limits(15), start);
        assert_eq!(tripped.map(|s| s.ban_for), Some(Duration::from_secs(300)));
        assert!(guard.is_shut_out(peer, start + Duration::from_secs(299)));
        // Charges while shut out do not trip it again (one log line per ban).
        assert_eq!(
            guard.charge(peer, Charge::Refusal, &limits(15), start),
            None
        );
        let after = start + Duration::from_secs(300);
        assert!(!guard.is_shut_out(peer, after));
        assert_eq!(
            guard.charge(peer, Charge::Refusal, &limits(15), after),
            None
        );
    }

    #[test]
    fn the_bucket_refills_at_the_limit_per_window() {
        let guard = FloodGuard::default();
        let peer: IpAddr = "2001:db8::1".parse().unwrap();
        let start = Instant::now();
        // One refusal every 4 s is 15 a minute: never shut out.
        for step in 0..100u64 {
            let now = start + Duration::from_secs(4 * step);
            assert_eq!(guard.charge(peer, Charge::Refusal, &limits(15), now), None);
        }
    }

    #[test]
    fn addresses_and_kinds_are_counted_apart() {
        let guard = FloodGuard::default();
        let first: IpAddr = "192.0.2.1".parse().unwrap();
        let second: IpAddr = "192.0.2.2".parse().unwrap();
        let now = Instant::now();
        for _ in 0..3 {
            guard.charge(first, Charge::Refusal, &limits(3), now);
            guard.charge(first, Charge::Registration, &limits(3), now);
        }
        assert!(!guard.is_shut_out(first, now));
        assert!(guard
            .charge(first, Charge::Registration, &limits(3), now)
            .is_some());
        assert!(guard.is_shut_out(first, now));
        assert!(!guard.is_shut_out(second, now));
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let guard = FloodGuard::default();
        let now = Instant::now();
        for host in 1..=4u16 {
            let peer = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 7, 0, 0, 0, host));
            guard.charge(peer, Charge::Refusal, &limits(3), now);
        }
        let other_host: IpAddr = "2001:db8:0:7::99".parse().unwrap();
        let other_net: IpAddr = "2001:db8:0:8::1".parse().unwrap();
        assert!(guard.is_shut_out(other_host, now));
        assert!(!guard.is_shut_out(other_net, now));
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        for _ in 0..4 {
            guard.charge(mapped, Charge::Refusal, &limits(3), now);
        }
        assert!(guard.is_shut_out("192.0.2.9".parse().unwrap(), now));
    }

    #[test]
    fn a_limit_of_zero_turns_it_off() {
        let guard = FloodGuard::default();
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(guard.charge(peer, Charge::Refusal, &limits(0), now), None);
        }
        assert!(!guard.is_shut_out(peer, now));
    }
}
