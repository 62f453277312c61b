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
    let sandbox = users();
    let broker = sandbox.serve_with(extra);
    (sandbox, broker)
}

/// alice and bob may read and write everything (role `all`).
fn users() -> Sandbox {
    Sandbox::alice_and_bob()
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
    let sandbox = users();
    edit(&sandbox, |state| {
        // Above the defaults (10,000 messages, 64 MiB per user).
        state.quotas.retained_messages = 100_000;
        state.quotas.retained_bytes = 1 << 30;
    });
    let broker = sandbox.serve_with(&["--persistence", "off"]);
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
    // Before the stall time a publisher waited 5 s for a stuck subscriber.
    // The bounds leave room for a busy test machine (the other tests of this
    // file run meanwhile), not for a wait per message.
    let slow: Vec<_> = waits
        .iter()
        .filter(|wait| **wait > Duration::from_millis(200))
        .collect();
    let worst = *waits.last().unwrap();
    eprintln!("worst wait {worst:?}; waits over 200 ms: {slow:?}");
    assert!(
        slow.len() <= 1,
        "waited for the stuck subscriber more than once: {slow:?}"
    );
    assert!(worst < Duration::from_millis(1_000), "worst {worst:?}");
    drop(stuck);
}

fn edit(sandbox: &Sandbox, change: impl FnOnce(&mut mqreg::state::State)) {
    mqreg::state::store::Store::new(&sandbox.state)
        .update(|state| {
            change(state);
            Ok(())
        })
        .unwrap();
}

/// Publishes a retained QoS 1 message over v5; returns the PUBACK's reason.
fn retain_v5(client: &mut Raw, topic: &str, id: u16) -> u8 {
    client.send(&raw::publish(
        true,
        topic,
        b"kept",
        1,
        true,
        id,
        Props::new(),
    ));
    let puback = client.recv_kind(4, WAIT).expect("PUBACK");
    puback.body.get(2).copied().unwrap_or(0)
}

#[test]
fn retained_quotas_are_per_user_and_refused_visibly() {
    // The contract: a user over its retained quota is refused visibly (v5
    // PUBACK 0x97; 3.1.1: the publish is dropped and logged), never
    // acknowledged as kept and then discarded, and no other user is
    // affected. A user's own quota wins over the default.
    let sandbox = users();
    sandbox.add_users(&["carol"], PASSWORD, Some("all"));
    edit(&sandbox, |state| {
        state.quotas.retained_messages = 3;
        state
            .users
            .get_mut("carol")
            .unwrap()
            .quotas
            .retained_messages = Some(5);
    });
    let broker = sandbox.serve();
    let v5 = |client_id: &str, user: &str| {
        let (client, connack) = Raw::connect(broker.port, &Connect::v5(client_id, user, PASSWORD));
        assert_eq!(connack.body[1], 0);
        client
    };
    let mut alice = v5("q-alice", "alice");
    for n in 0..3u16 {
        assert_eq!(retain_v5(&mut alice, &format!("q/alice/{n}"), n + 1), 0x00);
    }
    assert_eq!(
        retain_v5(&mut alice, "q/alice/3", 4),
        0x97,
        "alice's fourth"
    );
    assert_eq!(
        retain_v5(&mut alice, "q/alice/0", 5),
        0x00,
        "an update of her own fits"
    );
    let mut bob = v5("q-bob", "bob");
    assert_eq!(
        retain_v5(&mut bob, "q/bob/0", 1),
        0x00,
        "bob is not affected"
    );
    let mut carol = v5("q-carol", "carol");
    for n in 0..5u16 {
        assert_eq!(
            retain_v5(&mut carol, &format!("q/carol/{n}"), n + 1),
            0x00,
            "carol's own quota is 5"
        );
    }
    // 3.1.1: dropped (PUBACK all the same), not kept, logged.
    let mut alice3 = connected(&broker, "q-alice3", "alice");
    alice3.send(&raw::publish(
        false,
        "q/alice/9",
        b"kept",
        1,
        true,
        1,
        Props::new(),
    ));
    alice3.recv_kind(4, WAIT).expect("PUBACK");
    let mut reader = connected(&broker, "q-reader", "bob");
    reader.send(&raw::subscribe(false, 1, &[("q/#", 0)], Props::new()));
    let mut topics = Vec::new();
    while let Some(message) = reader.recv_publish(Duration::from_millis(500)) {
        topics.push(message.topic);
    }
    topics.sort();
    let expected: Vec<String> = ["q/alice/0", "q/alice/1", "q/alice/2", "q/bob/0"]
        .into_iter()
        .map(String::from)
        .chain((0..5).map(|n| format!("q/carol/{n}")))
        .collect();
    assert_eq!(topics, expected, "what was refused was not kept");
    assert!(
        broker.log().contains("over the user's retained quota"),
        "{}",
        broker.log()
    );
}

#[test]
fn the_subscription_quota_is_per_user() {
    // SUBACK 0x97 (v5) / 0x80 (3.1.1) past the user's subscriptions, across
    // its sessions; an unsubscribe makes room; other users are unaffected.
    let sandbox = users();
    edit(&sandbox, |state| {
        state.roles.get_mut("all").unwrap().quotas.subscriptions = Some(2)
    });
    let broker = sandbox.serve();
    let suback = |client: &mut Raw, filter: &str, id: u16| {
        let v5 = client.v5;
        client.send(&raw::subscribe(v5, id, &[(filter, 0)], Props::new()));
        let packet = client.recv_kind(9, WAIT).expect("SUBACK");
        *packet.body.last().unwrap()
    };
    let (mut first, _) = Raw::connect(broker.port, &Connect::v5("s-one", "alice", PASSWORD));
    let mut second = connected(&broker, "s-two", "alice");
    assert_eq!(suback(&mut first, "a/1", 1), 0);
    assert_eq!(suback(&mut second, "a/2", 2), 0);
    assert_eq!(suback(&mut first, "a/3", 3), 0x97, "v5: quota exceeded");
    assert_eq!(suback(&mut second, "a/3", 4), 0x80, "3.1.1: failure");
    assert_eq!(
        suback(&mut first, "a/1", 5),
        0,
        "the same filter again is no new one"
    );
    first.send(&raw::unsubscribe(true, 6, &["a/1"]));
    first.recv_kind(11, WAIT).expect("UNSUBACK");
    assert_eq!(suback(&mut second, "a/3", 7), 0, "room again");
    let mut bob = connected(&broker, "s-bob", "bob");
    assert_eq!(suback(&mut bob, "b/1", 1), 0);
}
