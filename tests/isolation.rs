//! Isolation: no client can hold up another for more than a short bound
//! (CONTRACT.md, "Durability and isolation"): a subscriber to a large set of
//! retained messages gets them at the pace of its socket, and one that stops
//! reading is recognised quickly.

mod common;

use std::time::{Duration, Instant};

use common::raw::{self, Connect, Props, Raw};
use common::{Broker, Sandbox};

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "password1";

fn broker(extra: &[&str]) -> (Sandbox, Broker) {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .run(&["role", "create", "all", "--allow", "readwrite:#"])
        .ok();
    for user in ["alice", "bob"] {
        sandbox
            .run_with_stdin(&["user", "add", user, "--role", "all"], "password1\n")
            .ok();
    }
    let broker = sandbox.serve_with(extra);
    (sandbox, broker)
}

#[track_caller]
fn connected(broker: &Broker, client_id: &str, user: &str) -> Raw {
    let (client, connack) = Raw::connect(broker.port, &Connect::v3(client_id, user, PASSWORD));
    assert_eq!(connack.body[1], 0, "refused: {connack:?}");
    client
}

/// A PINGREQ and its PINGRESP: how long the broker took to answer.
fn ping(client: &mut Raw) -> Duration {
    let sent = Instant::now();
    client.send(&[0xC0, 0x00]);
    client.recv_kind(13, WAIT).expect("PINGRESP");
    sent.elapsed()
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * share).round() as usize]
}

#[test]
fn a_subscriber_to_many_retained_messages_holds_up_nobody() {
    // 30,000 retained messages of 10 KB; one client subscribes to `#` and
    // never reads, another reads them all, and a third pings the broker all
    // along: its answers stay prompt (the retained messages go out a slice
    // at a time, at the pace of each socket). The store is off: this is
    // about the network thread.
    let (_sandbox, broker) = broker(&["--persistence", "off"]);
    let count = 30_000u32;
    let payload = vec![0x42u8; 10 * 1024];
    let mut alice = connected(&broker, "retainer", "alice");
    let mut batch = Vec::new();
    for n in 0..count {
        batch.extend(raw::publish(
            false,
            &format!("big/{n}"),
            &payload,
            0,
            true,
            0,
            Props::new(),
        ));
        if batch.len() > 1 << 20 {
            alice.send(&batch);
            batch.clear();
        }
    }
    alice.send(&batch);
    ping(&mut alice); // all of them routed

    let mut pinger = connected(&broker, "pinger", "bob");
    let mut hog = connected(&broker, "hog", "bob");
    hog.send(&raw::subscribe(false, 1, &[("#", 0)], Props::new()));
    let port = broker.port;
    let reader = std::thread::spawn(move || {
        let (mut reader, _) = Raw::connect(port, &Connect::v3("reader", "bob", PASSWORD));
        reader.send(&raw::subscribe(false, 1, &[("big/#", 0)], Props::new()));
        let mut received = 0;
        while received < count {
            let packet = reader
                .recv(WAIT)
                .expect("the retained messages keep coming");
            if packet.kind() == 3 {
                received += 1;
            }
        }
        received
    });
    let mut latencies = Vec::new();
    while !reader.is_finished() {
        latencies.push(ping(&mut pinger));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(reader.join().unwrap(), count);
    latencies.sort();
    let (p99, worst) = (percentile(&latencies, 0.99), *latencies.last().unwrap());
    eprintln!(
        "{} pings while the retained messages went out: p99 {p99:?}, worst {worst:?}",
        latencies.len()
    );
    assert!(p99 < Duration::from_millis(100), "ping p99 {p99:?}");
    assert!(worst < Duration::from_millis(500), "worst ping {worst:?}");
    drop(hog);
}

#[test]
fn a_stuck_subscriber_delays_a_bystander_publisher_by_the_stall_time_at_most_once() {
    // A subscriber to `devices/#` that never reads; a device publishing
    // QoS 1 to `devices/...` steadily, its PUBACKs and PINGs timed. Once the
    // stuck one's queue is full it waits for the stall time (50 ms) once,
    // and never again while the stuck one reads nothing.
    let (_sandbox, broker) = broker(&["--max-queued-messages", "50"]);
    let mut stuck = connected(&broker, "stuck", "bob");
    stuck.send(&raw::subscribe(false, 1, &[("devices/#", 1)], Props::new()));
    stuck.recv_kind(9, WAIT).expect("SUBACK");
    let mut device = connected(&broker, "device", "alice");
    let mut waits = Vec::new();
    for n in 0..300u16 {
        let sent = Instant::now();
        device.send(&raw::publish(
            false,
            "devices/d1/t",
            &[0u8; 512],
            1,
            false,
            n + 1,
            Props::new(),
        ));
        device.recv_kind(4, WAIT).expect("PUBACK");
        waits.push(sent.elapsed());
        if n % 10 == 0 {
            waits.push(ping(&mut device));
        }
    }
    waits.sort();
    let slow: Vec<_> = waits
        .iter()
        .filter(|wait| **wait > Duration::from_millis(40))
        .collect();
    let worst = *waits.last().unwrap();
    eprintln!("worst wait {worst:?}; waits over 40 ms: {slow:?}");
    assert!(
        slow.len() <= 2,
        "waited for the stuck subscriber more than once: {slow:?}"
    );
    assert!(worst < Duration::from_millis(500), "worst {worst:?}");
    drop(stuck);
}
