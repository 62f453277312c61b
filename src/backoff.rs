//! Waiting before a reconnection: a backoff plus some jitter, so that many
//! gateways that lost the same server do not all come back in the same
//! instant. The jitter is the clock's low bits: no random-number crate is
//! needed for spreading reconnections.

use std::time::Duration;

/// `wait` plus a part of `spread` (below it).
pub fn jittered(wait: Duration, spread: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let spread_ms = (spread.as_millis() as u64).max(1);
    wait + Duration::from_millis(u64::from(nanos) % spread_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jitter_stays_below_its_spread() {
        for _ in 0..100 {
            let waited = jittered(Duration::from_millis(200), Duration::from_millis(250));
            assert!(waited >= Duration::from_millis(200) && waited < Duration::from_millis(450));
        }
    }
}
