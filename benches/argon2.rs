//! The argon2 cost trade-off: how long one password check takes for each
//! `[argon2]` setting, and what that means for logins.
//!
//! Run with `cargo bench --bench argon2`. For each memory × iterations pair
//! (one lane; see below) it times verifies on one thread and prints the median,
//! the checks per second one core sustains, and how long a cold connect storm
//! of 2,000 devices would take on this machine's cores. Every check is paid
//! once per device and start of `serve`; reconnects with a remembered password
//! cost none (see the README). This measures, it asserts nothing about time.
//!
//! Parallelism: the argon2 crate is built without its `parallel` feature, so
//! lanes run one after another in one thread; p > 1 adds no speed here, only
//! the same work split differently. It is measured once to show that.

use mqreg::password::{self, HashCost};

const STORM_DEVICES: f64 = 2_000.0;
/// Verifies timed per setting, after one untimed warm-up.
const SAMPLES: usize = 15;

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let default = HashCost::default();
    println!(
        "argon2id verify, median of {SAMPLES}, one thread; default m={} KiB t={} p={}; {cores} cores",
        default.memory_kib, default.iterations, default.parallelism
    );
    println!(
        "{:>10} {:>3} {:>3} {:>10} {:>12} {:>22}",
        "memory KiB", "t", "p", "verify ms", "checks/s/core", "cold storm of 2,000 (s)"
    );
    let mut settings: Vec<HashCost> = Vec::new();
    for memory_kib in [4 * 1024, 8 * 1024, 19 * 1024, 46 * 1024] {
        for iterations in [1, 2, 3] {
            settings.push(HashCost {
                memory_kib,
                iterations,
                parallelism: 1,
            });
        }
    }
    settings.push(HashCost {
        parallelism: 2,
        ..default
    });
    for cost in settings {
        let seconds = password::time_verify(cost, SAMPLES).as_secs_f64();
        let marker = if cost == default { "  <- default" } else { "" };
        println!(
            "{:>10} {:>3} {:>3} {:>10.2} {:>12.0} {:>22.1}{marker}",
            cost.memory_kib,
            cost.iterations,
            cost.parallelism,
            seconds * 1e3,
            1.0 / seconds,
            STORM_DEVICES * seconds / cores as f64,
        );
    }
}
