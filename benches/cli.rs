//! CLI latency on a big registry: `user grant-role` and `registry approve`, whole
//! process, on a state with 10,000 users and 1,000 pending requests.
//!
//! Run with `cargo bench --bench cli`. Prints the median and p90 of each; the
//! target is a median under 50 ms. This is a measurement, not a test: nothing
//! here fails on a slow machine.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mqreg::password::{self, HashCost};
use mqreg::state::store::Store;
use mqreg::state::{PendingRequest, Role, User};

const USERS: usize = 10_000;
const PENDING: usize = 1_000;
const RUNS: usize = 41;

fn main() {
    let binary = env!("CARGO_BIN_EXE_mqreg");
    let dir = tempfile::tempdir().expect("temp dir");
    let state_path = dir.path().join("state.toml");
    seed(&state_path);
    let size = std::fs::metadata(&state_path).unwrap().len();
    println!(
        "state: {USERS} users, {PENDING} pending requests, {} KiB",
        size / 1024
    );

    let grant = measure(RUNS, |i| {
        run(
            binary,
            &state_path,
            &["user", "grant-role", &format!("user{:05}", i * 7), "sensor"],
        )
    });
    report("user grant-role", &grant);

    let approve = measure(RUNS, |i| {
        run(
            binary,
            &state_path,
            &[
                "registry",
                "approve",
                &format!("device{i:04}"),
                "--role",
                "sensor",
            ],
        )
    });
    report("registry approve", &approve);

    let list = measure(RUNS, |_| {
        run(binary, &state_path, &["--json", "registry", "status"])
    });
    report("registry status (read only)", &list);
}

fn seed(path: &Path) {
    // Real argon2id PHC strings, made cheap: the file size is what matters here.
    let cost = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let hash = password::hash("benchmark-password", cost);
    // Whole seconds, as mqreg itself stores times.
    let now = mqreg::commands::now();
    Store::new(path)
        .update(|state| {
            let mut role = Role::default();
            role.allow(&"write:devices/{username}/#".parse().unwrap());
            state.roles.insert("sensor".into(), role);
            state.roles.insert("reader".into(), Role::default());
            for i in 0..USERS {
                state.users.insert(
                    format!("user{i:05}"),
                    User::new(hash.clone(), vec!["reader".into()], now),
                );
            }
            for i in 0..PENDING {
                state.pending.insert(
                    format!("device{i:04}"),
                    PendingRequest::new(
                        hash.clone(),
                        format!("client-{i}"),
                        "127.0.0.1:50000".into(),
                        "5".into(),
                        now,
                    ),
                );
            }
            Ok(())
        })
        .expect("seed the state");
}

fn run(binary: &str, state: &Path, args: &[&str]) {
    let output = Command::new(binary)
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .expect("run mqreg");
    assert!(
        output.status.success(),
        "mqreg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn measure(runs: usize, mut once: impl FnMut(usize)) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..runs)
        .map(|i| {
            let start = Instant::now();
            once(i);
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn report(what: &str, sorted: &[Duration]) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what:<30} median {:>7.1} ms   p90 {:>7.1} ms   ({} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        sorted.len()
    );
}
