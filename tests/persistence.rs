//! Persistence: what the broker acknowledged survives a restart, a crash
//! and `kill -9` (CONTRACT.md, "Durability and isolation"), with raw MQTT
//! packets against the real binary, restarted on the same state.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::raw::{self, prop, Connect, Props, Raw};
use common::{Broker, Sandbox};

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(300);
const PASSWORD: &str = "password1";

/// alice and bob may read and write everything.
fn sandbox() -> Sandbox {
    Sandbox::alice_and_bob()
}

#[track_caller]
fn connected(broker: &Broker, connect: Connect) -> (Raw, bool) {
    let (client, connack) = Raw::connect(broker.port, &connect);
    // Flags, then the return code (3.1.1) or reason code (5).
    assert_eq!(connack.body[1], 0, "CONNACK refused: {connack:?}");
    (client, connack.body[0] & 1 == 1)
}

#[track_caller]
fn subscribe(client: &mut Raw, filter: &str, qos: u8) {
    let v5 = client.v5;
    client.send(&raw::subscribe(v5, 1, &[(filter, qos)], Props::new()));
    let suback = client.recv_kind(9, WAIT).expect("SUBACK");
    assert!(
        suback.body.last().is_some_and(|&code| code <= 2),
        "{suback:?}"
    );
}

/// A persistent 3.1.1 session of bob's.
fn bobs_session(client_id: &str) -> Connect<'_> {
    Connect::v3(client_id, "bob", PASSWORD).clean(false)
}

#[test]
fn every_acknowledged_message_survives_kill_9_and_is_delivered_once() {
    // The contract: a QoS 1 message the broker acknowledged (PUBACK) to a
    // publisher is on disk before the PUBACK leaves when it is owed to a
    // persistent session. The broker is killed with SIGKILL in the middle of
    // a stream to an offline persistent session; after the restart the
    // session gets every acknowledged message, once, in order.
    let sandbox = sandbox();
    let broker = sandbox.serve();
    let (mut sub, _) = connected(&broker, bobs_session("crash-sub"));
    subscribe(&mut sub, "crash/#", 1);
    sub.send(&raw::disconnect_v3());
    drop(sub);
    let acknowledged = Arc::new(Mutex::new(Vec::<u32>::new()));
    let port = broker.port;
    let publisher = {
        let acknowledged = acknowledged.clone();
        std::thread::spawn(move || {
            let (mut alice, _) = Raw::connect(port, &Connect::v3("crash-pub", "alice", PASSWORD));
            let batch = 50u32;
            for start in (0..100_000u32).step_by(batch as usize) {
                let mut packets = Vec::new();
                for n in start..start + batch {
                    let id = (n % 60_000 + 1) as u16;
                    packets.extend(raw::publish(
                        false,
                        "crash/x",
                        &n.to_be_bytes(),
                        1,
                        false,
                        id,
                        Props::new(),
                    ));
                }
                alice.send(&packets);
                for _ in 0..batch {
                    let Some(puback) = alice.recv_kind(4, WAIT) else {
                        return; // the broker is gone
                    };
                    let id = u16::from_be_bytes([puback.body[0], puback.body[1]]);
                    // Ids repeat only every 60,000 messages: the latest with it.
                    let n = (start..start + batch)
                        .rev()
                        .find(|n| (n % 60_000 + 1) as u16 == id)
                        .expect("a PUBACK of this batch");
                    acknowledged.lock().unwrap().push(n);
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 2_000 {
        assert!(Instant::now() < deadline, "the stream did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }
    broker.crash();
    publisher.join().unwrap();
    let acknowledged: Vec<u32> = acknowledged.lock().unwrap().clone();
    let broker = sandbox.serve();
    let (mut sub, present) = connected(&broker, bobs_session("crash-sub"));
    assert!(present, "the session survived");
    let mut received = Vec::new();
    while let Some(message) = sub.recv_publish(Duration::from_secs(3)) {
        received.push(u32::from_be_bytes(message.payload[..4].try_into().unwrap()));
        sub.send(&raw::ack(0x40, message.packet_id.unwrap()));
    }
    let unique: HashSet<u32> = received.iter().copied().collect();
    assert_eq!(unique.len(), received.len(), "delivered once");
    assert!(
        received.windows(2).all(|pair| pair[0] < pair[1]),
        "in order"
    );
    let lost: Vec<u32> = acknowledged
        .iter()
        .filter(|n| !unique.contains(n))
        .copied()
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost, the first {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
}

#[test]
fn retained_messages_and_sessions_survive_a_restart() {
    // Retained messages and a persistent session (its subscription and the
    // QoS 1 message queued for it) come back after SIGTERM and a new start;
    // Session Present says so (MQTT-3.2.2-2 in 3.1.1, -3 in 5.0).
    let sandbox = sandbox();
    let broker = sandbox.serve();
    for v5 in [false, true] {
        let client_id = format!("keep-{v5}");
        let session = || {
            Connect::version(v5, &client_id, "bob", PASSWORD)
                .clean(false)
                .props(if v5 {
                    Props::new().u32(prop::SESSION_EXPIRY, 3600)
                } else {
                    Props::new()
                })
        };
        let (mut sub, _) = connected(&broker, session());
        subscribe(&mut sub, &format!("keep/{v5}/#"), 1);
        sub.send(&raw::disconnect(v5));
    }
    let (mut alice, _) = connected(&broker, Connect::v3("keep-pub", "alice", PASSWORD));
    for (topic, payload) in [("keep/false/q", "for 3.1.1"), ("keep/true/q", "for 5")] {
        alice.send(&raw::publish(
            false,
            topic,
            payload.as_bytes(),
            1,
            false,
            1,
            Props::new(),
        ));
        alice.recv_kind(4, WAIT).expect("PUBACK");
    }
    alice.send(&raw::publish(
        false,
        "status/gw",
        b"online",
        1,
        true,
        2,
        Props::new(),
    ));
    alice.recv_kind(4, WAIT).expect("PUBACK");
    assert_eq!(broker.stop(), Some(0));

    let broker = sandbox.serve();
    for (v5, payload) in [(false, "for 3.1.1"), (true, "for 5")] {
        let client_id = format!("keep-{v5}");
        let connect = Connect::version(v5, &client_id, "bob", PASSWORD)
            .clean(false)
            .props(if v5 {
                Props::new().u32(prop::SESSION_EXPIRY, 3600)
            } else {
                Props::new()
            });
        let (mut sub, present) = connected(&broker, connect);
        assert!(present, "session present after the restart (v5: {v5})");
        let message = sub.recv_publish(WAIT).expect("the queued message");
        assert_eq!(message.payload, payload.as_bytes());
        sub.send(&raw::ack(0x40, message.packet_id.unwrap()));
        // The subscription came back too: a new message reaches it.
        let (mut alice, _) = connected(&broker, Connect::v3("keep-pub2", "alice", PASSWORD));
        let topic = format!("keep/{v5}/again");
        alice.send(&raw::publish(
            false,
            &topic,
            b"again",
            1,
            false,
            1,
            Props::new(),
        ));
        alice.recv_kind(4, WAIT).expect("PUBACK");
        assert_eq!(
            sub.recv_publish(WAIT)
                .expect("routed to the restored subscription")
                .payload,
            b"again"
        );
    }
    let (mut reader, _) = connected(&broker, Connect::v3("keep-reader", "bob", PASSWORD));
    subscribe(&mut reader, "status/#", 0);
    let retained = reader.recv_publish(WAIT).expect("the retained message");
    assert_eq!(
        (
            retained.topic.as_str(),
            &retained.payload[..],
            retained.retain
        ),
        ("status/gw", &b"online"[..], true)
    );
}

#[test]
fn a_qos_2_message_is_delivered_once_across_a_broker_restart() {
    // MQTT-4.3.3-2 (3.1.1): until the PUBREL, a re-sent PUBLISH with the
    // same packet id is not delivered onward again, and the session keeps
    // that id across a restart of the broker too. The PUBREC leaves only
    // once the id is on disk.
    let sandbox = sandbox();
    let broker = sandbox.serve();
    let (mut sub, _) = connected(&broker, bobs_session("q2r-sub"));
    subscribe(&mut sub, "q2r/#", 2);
    sub.send(&raw::disconnect_v3());
    let (mut publisher, _) = connected(
        &broker,
        Connect::v3("q2r-pub", "alice", PASSWORD).clean(false),
    );
    let mut packet = raw::publish(false, "q2r/x", b"once", 2, false, 9, Props::new());
    publisher.send(&packet);
    publisher.recv_kind(5, WAIT).expect("PUBREC");
    broker.crash();

    let broker = sandbox.serve();
    let (mut publisher, present) = connected(
        &broker,
        Connect::v3("q2r-pub", "alice", PASSWORD).clean(false),
    );
    assert!(present);
    packet[0] |= 0x08; // DUP: the PUBREC is taken as lost
    publisher.send(&packet);
    publisher.recv_kind(5, WAIT).expect("PUBREC");
    publisher.send(&raw::ack(0x62, 9));
    publisher.recv_kind(7, WAIT).expect("PUBCOMP");
    let (mut sub, present) = connected(&broker, bobs_session("q2r-sub"));
    assert!(present);
    let message = sub.recv_publish(WAIT).expect("delivered");
    assert_eq!(message.payload, b"once");
    let id = message.packet_id.unwrap();
    sub.send(&raw::ack(0x50, id));
    sub.recv_kind(6, WAIT).expect("PUBREL");
    sub.send(&raw::ack(0x70, id));
    assert!(sub.recv_publish(QUIET).is_none(), "delivered once");
}

/// A publisher's QoS 2 message released just before a crash, then a new
/// one with the same packet id after it: both delivered.
fn released_before_a_crash(v5: bool) {
    // MQTT-4.3.3-2 (3.1.1): after PUBREL the packet id names a new message,
    // and the publisher may use it again as soon as PUBCOMP arrives. So
    // the release is on disk before PUBCOMP leaves: were it lost in a crash
    // the id would come back as awaiting PUBREL, and the next message with
    // it would be answered PUBREC, taken for a re-send and never delivered.
    // Commits are slowed so that the kill comes before a release written
    // after its PUBCOMP.
    let sandbox = sandbox();
    let slow_disk = [("MQREG_TEST_COMMIT_DELAY_MS", "300")];
    let broker = sandbox.serve_env(&[], None, &slow_disk);
    let (mut sub, _) = connected(&broker, bobs_session("reuse-sub"));
    subscribe(&mut sub, "reuse/#", 2);
    sub.send(&raw::disconnect_v3());
    let publisher_session = || {
        if v5 {
            Connect::v5("reuse-pub", "alice", PASSWORD)
                .clean(false)
                .props(Props::new().u32(prop::SESSION_EXPIRY, 3600))
        } else {
            Connect::v3("reuse-pub", "alice", PASSWORD).clean(false)
        }
    };
    // PUBLISH, PUBREC, PUBREL, PUBCOMP.
    let exactly_once_with_id_7 = |publisher: &mut Raw, payload: &[u8]| {
        publisher.send(&raw::publish(
            v5,
            "reuse/x",
            payload,
            2,
            false,
            7,
            Props::new(),
        ));
        publisher.recv_kind(5, WAIT).expect("PUBREC");
        publisher.send(&raw::ack(0x62, 7));
        publisher.recv_kind(7, WAIT).expect("PUBCOMP");
    };
    let (mut publisher, _) = connected(&broker, publisher_session());
    exactly_once_with_id_7(&mut publisher, b"first");
    broker.crash();

    let broker = sandbox.serve();
    let (mut publisher, present) = connected(&broker, publisher_session());
    assert!(present);
    exactly_once_with_id_7(&mut publisher, b"second");
    let (mut sub, present) = connected(&broker, bobs_session("reuse-sub"));
    assert!(present);
    // Both may come before either is acknowledged.
    let mut payloads = Vec::new();
    while let Some(packet) = sub.recv(QUIET) {
        match packet.kind() {
            3 => {
                let message = sub.parse_publish(&packet);
                sub.send(&raw::ack(0x50, message.packet_id.unwrap()));
                payloads.push(String::from_utf8_lossy(&message.payload).into_owned());
            }
            6 => sub.send(&raw::ack(
                0x70,
                u16::from_be_bytes([packet.body[0], packet.body[1]]),
            )),
            _ => {}
        }
    }
    assert_eq!(payloads, ["first", "second"]);
}

#[test]
fn a_packet_id_released_before_a_crash_names_a_new_message_after_it() {
    // 3.1.1: the PUBREL of this connection's PUBLISH, answered by the
    // protocol layer.
    released_before_a_crash(false);
}

#[test]
fn a_v5_packet_id_released_before_a_crash_names_a_new_message_after_it() {
    // 5: every PUBREL is answered by the session (see `framing`).
    released_before_a_crash(true);
}

#[test]
fn persistence_off_keeps_nothing_and_says_so() {
    let sandbox = sandbox();
    let broker = sandbox.serve_with(&["--persistence", "off"]);
    assert!(broker.log().contains("persistence off"), "{}", broker.log());
    let (mut alice, _) = connected(&broker, Connect::v3("off-pub", "alice", PASSWORD));
    alice.send(&raw::publish(
        false,
        "off/r",
        b"gone",
        1,
        true,
        1,
        Props::new(),
    ));
    alice.recv_kind(4, WAIT).expect("PUBACK");
    assert_eq!(broker.stop(), Some(0));
    let store = sandbox.state.with_file_name("state.messages.redb");
    assert!(!store.exists(), "no store written");
    let broker = sandbox.serve();
    let (mut reader, _) = connected(&broker, Connect::v3("off-reader", "bob", PASSWORD));
    subscribe(&mut reader, "off/#", 0);
    assert!(reader.recv_publish(QUIET).is_none(), "nothing was kept");
}

#[test]
fn a_damaged_store_stops_serve_and_is_left_alone() {
    let sandbox = sandbox();
    let store = sandbox.state.with_file_name("state.messages.redb");
    let garbage = vec![0x5A_u8; 8192];
    std::fs::write(&store, &garbage).unwrap();
    let refused = sandbox.run(&["serve", "--listen", "127.0.0.1:0"]).code(1);
    assert!(
        refused.stderr.contains(&store.display().to_string()),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--persistence off"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read(&store).unwrap(), garbage, "never discarded");
}

#[test]
fn the_store_is_private_and_never_followed_through_a_symlink() {
    // Beside the state, mode 0600 like the state's other files; a symlink
    // planted at its name is an error naming it, never followed.
    let sandbox = sandbox();
    let broker = sandbox.serve();
    let store = sandbox.state.with_file_name("state.messages.redb");
    assert_eq!(common::mode_of(&store) & 0o777, 0o600);
    assert_eq!(broker.stop(), Some(0));
    std::fs::remove_file(&store).unwrap();
    let elsewhere = sandbox.dir.path().join("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, &store).unwrap();
    let refused = sandbox.run(&["serve", "--listen", "127.0.0.1:0"]).code(1);
    assert!(
        refused.stderr.contains(&store.display().to_string()),
        "{}",
        refused.stderr
    );
    assert!(!elsewhere.exists(), "the symlink was not followed");
}
