//! Conformance: the broker against the MQTT 3.1.1 and 5 normative statements,
//! each test naming the statements it checks, with raw packets (exact bytes),
//! mosquitto's clients and rumqttc.
//!
//! The two versions number their statements differently: each citation says
//! which it is from, as "MQTT-4.3.3-2 (3.1.1)" or "MQTT-4.3.3-10 (5.0)".
//! Where a rule has no numbered statement, the section is cited ("5.0
//! §4.8.2").

mod common;

use std::time::{Duration, Instant};

use common::raw::{self, prop, Connect, Props, Raw, Will};
use common::{eventually, Broker, Sandbox};

const WAIT: Duration = Duration::from_secs(5);
/// How long to listen for a message that must not come.
const QUIET: Duration = Duration::from_millis(300);
const PASSWORD: &str = "password1";

/// alice and bob may do anything (including `$ops/...`); carol only under
/// `devices/carol/`.
fn setup(extra: &[&str]) -> (Sandbox, Broker) {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .add_role("all", &["readwrite:#", "readwrite:$ops/#"])
        .add_role("device", &["readwrite:devices/{username}/#"])
        .add_users(&["alice", "bob"], PASSWORD, Some("all"))
        .add_users(&["carol"], PASSWORD, Some("device"));
    let broker = sandbox.serve_with(extra);
    (sandbox, broker)
}

fn connect(broker: &Broker, connect: Connect) -> (Raw, raw::Packet) {
    Raw::connect(broker.port, &connect)
}

/// Connects and asserts CONNACK success; returns the session-present flag.
#[track_caller]
fn connected(broker: &Broker, packet: Connect) -> (Raw, bool) {
    let (client, connack) = connect(broker, packet);
    assert_eq!(connack.body[1], 0, "CONNACK refused: {connack:?}");
    (client, connack.body[0] & 1 == 1)
}

#[track_caller]
fn subscribe(client: &mut Raw, id: u16, filters: &[(&str, u8)], props: Props) -> Vec<u8> {
    let v5 = client.v5;
    client.send(&raw::subscribe(v5, id, filters, props));
    let suback = client.recv_kind(9, WAIT).expect("SUBACK");
    let mut at = 2;
    if v5 {
        raw::parse_props(&suback.body, &mut at);
    }
    suback.body[at..].to_vec()
}

fn publish(client: &mut Raw, topic: &str, payload: &[u8], qos: u8, retain: bool, id: u16) {
    let v5 = client.v5;
    client.send(&raw::publish(
        v5,
        topic,
        payload,
        qos,
        retain,
        id,
        Props::new(),
    ));
    match qos {
        1 => {
            client.recv_kind(4, WAIT).expect("PUBACK");
        }
        2 => {
            client.recv_kind(5, WAIT).expect("PUBREC");
            client.send(&raw::ack(0x62, id));
            client.recv_kind(7, WAIT).expect("PUBCOMP");
        }
        _ => {}
    }
}

#[test]
fn a_3_1_1_puback_is_exactly_two_bytes_of_packet_id() {
    // 3.1.1 §3.4.1 (fixed header 0x40, remaining length 2; no numbered
    // statement) and MQTT-2.3.1-6 (3.1.1: the same packet id).
    let (_sandbox, broker) = setup(&[]);
    let (mut alice, _) = connected(&broker, Connect::v3("p1", "alice", PASSWORD));
    alice.send(&raw::publish(
        false,
        "a/b",
        b"x",
        1,
        false,
        0x1234,
        Props::new(),
    ));
    let puback = alice.recv(WAIT).expect("PUBACK");
    assert_eq!(puback.bytes(), [0x40, 0x02, 0x12, 0x34]);
    // A denied publish is acknowledged the same way on 3.1.1 (the contract).
    let (mut carol, _) = connected(&broker, Connect::v3("p2", "carol", PASSWORD));
    carol.send(&raw::publish(
        false,
        "elsewhere",
        b"x",
        1,
        false,
        9,
        Props::new(),
    ));
    assert_eq!(
        carol.recv(WAIT).expect("PUBACK").bytes(),
        [0x40, 0x02, 0x00, 0x09]
    );
}

#[test]
fn denied_v5_publishes_get_puback_0x87_and_the_connection_stays() {
    // MQTT-3.4.2-1 (5.0): a reason code in PUBACK; the contract's 0x87 for no
    // write permission.
    let (_sandbox, broker) = setup(&[]);
    let (mut carol, _) = connected(&broker, Connect::v5("d1", "carol", PASSWORD));
    carol.send(&raw::publish(
        true,
        "elsewhere",
        b"x",
        1,
        false,
        5,
        Props::new(),
    ));
    let puback = carol.recv(WAIT).expect("PUBACK");
    assert_eq!(puback.kind(), 4);
    assert_eq!(&puback.body[..3], [0, 5, 0x87]);
    publish(&mut carol, "devices/carol/t", b"ok", 1, false, 6);
}

#[test]
fn session_present_is_0_after_a_clean_session_every_time() {
    // A clean session ends with its connection (MQTT-3.1.2-6 in 3.1.1; in 5.0
    // a session without Session Expiry Interval, §3.1.2.11.2), and Session
    // Present is 0 when there is no session (MQTT-3.2.2-3, in 3.1.1 and 5.0),
    // on both, immediately after the clean connection's DISCONNECT.
    let (_sandbox, broker) = setup(&[]);
    for v5 in [false, true] {
        for round in 0..30 {
            let id = format!("sp-{v5}-{round}");
            let first = Connect::version(v5, &id, "alice", PASSWORD);
            let (mut client, present) = connected(&broker, first);
            assert!(!present);
            client.send(&raw::disconnect(v5));
            let again = if v5 {
                Connect::v5(&id, "alice", PASSWORD)
                    .clean(false)
                    .props(Props::new().u32(prop::SESSION_EXPIRY, 60))
            } else {
                Connect::v3(&id, "alice", PASSWORD).clean(false)
            };
            let (_client, present) = connected(&broker, again);
            assert!(
                !present,
                "round {round}, v5 {v5}: Session Present after a clean session"
            );
        }
    }
}

#[test]
fn an_immediate_reconnect_after_disconnect_is_accepted_and_the_socket_closes() {
    // On DISCONNECT the server closes the connection (a SHOULD in §3.14.4 of
    // 3.1.1 and 5.0; the numbered MQTT-3.14.4-1 and -2 bind the client); the
    // same client id is accepted again at once, the old connection taken over
    // if it is still there (MQTT-3.1.4-2 in 3.1.1, MQTT-3.1.4-3 in 5.0).
    let (_sandbox, broker) = setup(&[]);
    for round in 0..80 {
        for v5 in [false, true] {
            let packet = Connect::version(v5, "again", "alice", PASSWORD);
            let (mut client, _) = connected(&broker, packet);
            client.send(&raw::disconnect(v5));
            if round % 20 == 0 {
                let (closed, _) = client.closed_within(Duration::from_secs(2));
                assert!(closed, "socket left open after DISCONNECT (v5 {v5})");
            }
        }
    }
}

#[test]
fn a_persistent_session_keeps_subscriptions_and_queued_messages() {
    // All 3.1.1: MQTT-3.1.2-4 (session resumed), MQTT-3.2.2-2 (Session
    // Present 1), MQTT-3.1.2-5 (QoS 1 and 2 messages stored while offline),
    // MQTT-4.6.0-6 (in order).
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, present) =
        connected(&broker, Connect::v3("keeper", "bob", PASSWORD).clean(false));
    assert!(!present);
    assert_eq!(subscribe(&mut sub, 1, &[("q/#", 1)], Props::new()), [1]);
    sub.send(&raw::disconnect_v3());
    drop(sub);
    let (mut alice, _) = connected(&broker, Connect::v3("pub", "alice", PASSWORD));
    for n in 0..5u16 {
        publish(
            &mut alice,
            "q/x",
            format!("m{n}").as_bytes(),
            1,
            false,
            n + 1,
        );
    }
    publish(&mut alice, "q/x", b"qos0-not-kept", 0, false, 0);
    let (mut sub, present) =
        connected(&broker, Connect::v3("keeper", "bob", PASSWORD).clean(false));
    assert!(present);
    for n in 0..5 {
        let message = sub.recv_publish(WAIT).expect("queued message");
        assert_eq!(message.payload, format!("m{n}").as_bytes());
        assert_eq!(message.qos, 1);
        sub.send(&raw::ack(0x40, message.packet_id.unwrap()));
    }
    assert!(
        sub.recv_publish(QUIET).is_none(),
        "QoS 0 is not stored offline"
    );
    // New messages still arrive on the resumed subscription.
    publish(&mut alice, "q/y", b"live", 1, false, 9);
    assert_eq!(sub.recv_publish(WAIT).unwrap().payload, b"live");
}

#[test]
fn unacknowledged_messages_are_resent_with_dup_and_the_same_packet_id() {
    // MQTT-4.4.0-1 (3.1.1): on reconnect with a session, unacknowledged
    // PUBLISH packets are re-sent with their original packet ids;
    // MQTT-3.3.1-1 (3.1.1): DUP set.
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v3("redo", "bob", PASSWORD).clean(false));
    subscribe(&mut sub, 1, &[("r/#", 2)], Props::new());
    let (mut alice, _) = connected(&broker, Connect::v3("pub2", "alice", PASSWORD));
    publish(&mut alice, "r/1", b"one", 1, false, 1);
    publish(&mut alice, "r/2", b"two", 2, false, 2);
    let first = sub.recv_publish(WAIT).unwrap();
    let second = sub.recv_publish(WAIT).unwrap();
    assert!(!first.dup && !second.dup);
    drop(sub); // no PUBACK, no PUBREC: the connection just goes
    let (mut sub, present) = connected(&broker, Connect::v3("redo", "bob", PASSWORD).clean(false));
    assert!(present);
    let again = sub.recv_publish(WAIT).unwrap();
    assert_eq!(
        (again.packet_id, again.dup, &again.payload[..]),
        (first.packet_id, true, &b"one"[..])
    );
    sub.send(&raw::ack(0x40, again.packet_id.unwrap()));
    let again = sub.recv_publish(WAIT).unwrap();
    assert_eq!(
        (again.packet_id, again.dup, again.qos),
        (second.packet_id, true, 2)
    );
    // And the QoS 2 exchange completes (MQTT-4.3.3-1 in 3.1.1): PUBREC,
    // PUBREL, PUBCOMP.
    sub.send(&raw::ack(0x50, again.packet_id.unwrap()));
    let pubrel = sub.recv_kind(6, WAIT).expect("PUBREL");
    assert_eq!(
        pubrel.first, 0x62,
        "MQTT-3.6.1-1 (3.1.1): PUBREL flags 0010"
    );
    sub.send(&raw::ack(0x70, again.packet_id.unwrap()));
    assert!(sub.recv_publish(QUIET).is_none(), "nothing more");
}

#[test]
fn qos_2_flows_both_ways_exactly_once() {
    // The QoS 2 flow as sender and receiver: MQTT-4.3.3-1 and -2 (3.1.1),
    // MQTT-4.3.3-1 to -6 and -8 to -12 (5.0); delivered at the granted QoS:
    // MQTT-3.8.4-6 (3.1.1), MQTT-3.8.4-8 (5.0).
    let (_sandbox, broker) = setup(&[]);
    for v5 in [false, true] {
        let make = |id| Connect::version(v5, id, "bob", PASSWORD);
        let (mut sub, _) = connected(&broker, make("q2-sub"));
        assert_eq!(subscribe(&mut sub, 1, &[("two/#", 2)], Props::new()), [2]);
        let (mut publisher, _) = connected(&broker, make("q2-pub"));
        publish(&mut publisher, "two/x", b"exactly", 2, false, 77);
        let message = sub.recv_publish(WAIT).unwrap();
        assert_eq!((message.qos, &message.payload[..]), (2, &b"exactly"[..]));
        let id = message.packet_id.unwrap();
        sub.send(&raw::ack(0x50, id));
        assert_eq!(sub.recv_kind(6, WAIT).unwrap().body[..2], id.to_be_bytes());
        sub.send(&raw::ack(0x70, id));
        assert!(sub.recv_publish(QUIET).is_none(), "delivered once");
        // Downgraded to the subscription's QoS (MQTT-3.8.4-6 in 3.1.1, -8 in 5.0).
        let (mut low, _) = connected(&broker, make("q2-low"));
        subscribe(&mut low, 1, &[("two/#", 0)], Props::new());
        publish(&mut publisher, "two/y", b"down", 2, false, 78);
        assert_eq!(low.recv_publish(WAIT).unwrap().qos, 0);
    }
}

#[test]
fn a_v5_pubrel_after_reconnect_completes_and_delivers_once() {
    // MQTT-4.3.3-11 (5.0): the receiver answers PUBREL with PUBCOMP, also
    // for a packet id of the session's earlier connection (MQTT-4.4.0-1, 5.0:
    // the client re-sends PUBREL on reconnect). The id is still the session's,
    // so PUBCOMP says success, not 0x92; the message was routed at PUBLISH
    // and is delivered once.
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v5("x-sub", "bob", PASSWORD));
    subscribe(&mut sub, 1, &[("x/#", 2)], Props::new());
    let session = || {
        Connect::v5("x-pub", "alice", PASSWORD)
            .clean(false)
            .props(Props::new().u32(prop::SESSION_EXPIRY, 60))
    };
    let (mut publisher, _) = connected(&broker, session());
    publisher.send(&raw::publish(
        true,
        "x/y",
        b"once",
        2,
        false,
        3,
        Props::new(),
    ));
    publisher.recv_kind(5, WAIT).expect("PUBREC");
    drop(publisher);
    let (mut publisher, present) = connected(&broker, session());
    assert!(present);
    publisher.send(&raw::ack(0x62, 3));
    let pubcomp = publisher.recv_kind(7, WAIT).expect("PUBCOMP");
    assert_eq!(pubcomp.body[..2], [0, 3]);
    assert!(
        pubcomp.body.get(2).is_none_or(|&code| code == 0),
        "PUBCOMP success: {pubcomp:?}"
    );
    let message = sub.recv_publish(WAIT).unwrap();
    assert_eq!(message.payload, b"once");
    sub.send(&raw::ack(0x50, message.packet_id.unwrap()));
    sub.recv_kind(6, WAIT).unwrap();
    sub.send(&raw::ack(0x70, message.packet_id.unwrap()));
    assert!(sub.recv_publish(QUIET).is_none());
}

/// Completes a QoS 2 delivery on the subscriber's side: PUBREC, the
/// broker's PUBREL, PUBCOMP.
#[track_caller]
fn complete_qos_2(sub: &mut Raw, packet_id: u16) {
    sub.send(&raw::ack(0x50, packet_id));
    let pubrel = sub.recv_kind(6, WAIT).expect("PUBREL");
    assert_eq!(pubrel.body[..2], packet_id.to_be_bytes());
    sub.send(&raw::ack(0x70, packet_id));
}

#[test]
fn a_qos_2_publish_re_sent_after_a_reconnect_is_delivered_once() {
    // MQTT-4.3.3-2 (3.1.1) / MQTT-4.3.3-10 (5.0): until its PUBREL, a
    // PUBLISH with the same packet id is answered with PUBREC and not
    // delivered onward again. The sender re-sends it with DUP set on a
    // resumed session (MQTT-4.4.0-1 and MQTT-3.3.1-1, the same in both) when
    // its PUBREC was lost; after PUBCOMP the id names a new message
    // (MQTT-4.3.3-2 in 3.1.1, MQTT-4.3.3-12 in 5.0).
    let (_sandbox, broker) = setup(&[]);
    for v5 in [false, true] {
        let sub_id = format!("dup-sub-{v5}");
        let pub_id = format!("dup-pub-{v5}");
        let (mut sub, _) = connected(&broker, Connect::version(v5, &sub_id, "bob", PASSWORD));
        subscribe(&mut sub, 1, &[("dup/#", 2)], Props::new());
        let session = || {
            Connect::version(v5, &pub_id, "alice", PASSWORD)
                .clean(false)
                .props(if v5 {
                    Props::new().u32(prop::SESSION_EXPIRY, 60)
                } else {
                    Props::new()
                })
        };
        let (mut publisher, _) = connected(&broker, session());
        let mut packet = raw::publish(v5, "dup/x", b"once", 2, false, 5, Props::new());
        publisher.send(&packet);
        publisher.recv_kind(5, WAIT).expect("PUBREC");
        drop(publisher); // as if the PUBREC had been lost
        let (mut publisher, present) = connected(&broker, session());
        assert!(present);
        packet[0] |= 0x08; // DUP
        publisher.send(&packet);
        let pubrec = publisher
            .recv_kind(5, WAIT)
            .expect("PUBREC for the re-send");
        assert_eq!(pubrec.body[..2], [0, 5]);
        publisher.send(&raw::ack(0x62, 5));
        assert_eq!(
            publisher.recv_kind(7, WAIT).expect("PUBCOMP").body[..2],
            [0, 5]
        );
        let message = sub.recv_publish(WAIT).unwrap();
        assert_eq!(message.payload, b"once");
        complete_qos_2(&mut sub, message.packet_id.unwrap());
        assert!(
            sub.recv_publish(QUIET).is_none(),
            "delivered once (v5: {v5})"
        );
        publish(&mut publisher, "dup/x", b"new", 2, false, 5);
        let message = sub
            .recv_publish(WAIT)
            .expect("the same id, released, is a new message");
        assert_eq!(message.payload, b"new");
        complete_qos_2(&mut sub, message.packet_id.unwrap());
    }
}

#[test]
fn qos_2_deliveries_past_the_window_acknowledged_out_of_order_keep_the_connection() {
    // MQTT-4.6.0-2 and -3 (the same in 3.1.1 and 5.0) order a receiver's
    // PUBACKs among themselves and PUBRECs among themselves; nothing orders a PUBCOMP
    // against the PUBREC of another message. The subscriber completes its
    // deliveries in batches, last first, with more outstanding than the
    // broker's window: every message arrives once, in order, and the
    // connection stays. (ntex-mqtt's sink closed it on the first PUBCOMP out
    // of its sending order.)
    let (_sandbox, broker) = setup(&["--max-inflight", "10"]);
    let total = 100u16;
    for v5 in [false, true] {
        let sub_id = format!("win-sub-{v5}");
        let (mut sub, _) = connected(&broker, Connect::version(v5, &sub_id, "bob", PASSWORD));
        subscribe(&mut sub, 1, &[("win/#", 2)], Props::new());
        let port = broker.port;
        let publisher = std::thread::spawn(move || {
            let pub_id = format!("win-pub-{v5}");
            let (mut alice, _) =
                Raw::connect(port, &Connect::version(v5, &pub_id, "alice", PASSWORD));
            for n in 0..total {
                publish(&mut alice, "win/x", &n.to_be_bytes(), 2, false, n + 1);
            }
            alice
        });
        let mut payloads = Vec::new();
        let mut released = Vec::new();
        let mut completed = 0;
        while completed < total {
            let packet = sub
                .recv(WAIT)
                .unwrap_or_else(|| panic!("stalled after {completed} (v5: {v5})"));
            match packet.kind() {
                3 => {
                    let message = sub.parse_publish(&packet);
                    assert_eq!(message.qos, 2);
                    payloads.push(u16::from_be_bytes([message.payload[0], message.payload[1]]));
                    sub.send(&raw::ack(0x50, message.packet_id.unwrap()));
                }
                6 => {
                    released.push(u16::from_be_bytes([packet.body[0], packet.body[1]]));
                    if released.len() == 4 || completed + released.len() as u16 == total {
                        for id in released.drain(..).rev() {
                            sub.send(&raw::ack(0x70, id));
                            completed += 1;
                        }
                    }
                }
                _ => panic!("unexpected packet (v5: {v5}): {packet:?}"),
            }
        }
        assert_eq!(
            payloads,
            (0..total).collect::<Vec<_>>(),
            "once each, in order"
        );
        assert!(sub.recv(QUIET).is_none(), "nothing more, connection open");
        publisher.join().unwrap();
    }
}

#[test]
fn a_rumqttc_qos_2_burst_of_1000_arrives_once_each() {
    // A stock client that acknowledges as the specification allows (PUBREC
    // at once, PUBCOMP when PUBREL comes), with ten times the broker's window
    // outstanding: no disconnect, no duplicate, nothing lost.
    let (_sandbox, broker) = setup(&[]);
    let connect = |client_id: &str| {
        let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", broker.port);
        options.set_credentials("bob", PASSWORD);
        options.set_keep_alive(Duration::from_secs(30));
        rumqttc::Client::new(options, 1_000)
    };
    let (subscriber, mut sub_events) = connect("burst-sub");
    subscriber
        .subscribe("burst/#", rumqttc::QoS::ExactlyOnce)
        .unwrap();
    let mut subscribed = false;
    for event in sub_events.iter() {
        if let rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) =
            event.expect("subscriber connection")
        {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed);
    let total = 1_000u32;
    let (publisher, mut pub_events) = connect("burst-pub");
    let driver = std::thread::spawn(move || {
        let mut completed = 0;
        for event in pub_events.iter() {
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubComp(_)) =
                event.expect("publisher connection")
            {
                completed += 1;
                if completed == total {
                    break;
                }
            }
        }
    });
    for n in 0..total {
        publisher
            .publish(
                "burst/x",
                rumqttc::QoS::ExactlyOnce,
                false,
                n.to_be_bytes().to_vec(),
            )
            .unwrap();
    }
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.len() < total as usize {
        assert!(
            Instant::now() < deadline,
            "bounded: {} received",
            received.len()
        );
        match sub_events.recv_timeout(WAIT) {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(message)))) => {
                received.push(u32::from_be_bytes(message.payload[..4].try_into().unwrap()));
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => panic!("subscriber disconnected after {}: {error}", received.len()),
            Err(_) => panic!("stalled after {}", received.len()),
        }
    }
    assert_eq!(
        received,
        (0..total).collect::<Vec<_>>(),
        "once each, in order"
    );
    driver.join().unwrap();
}

#[test]
fn the_same_user_takes_over_its_session_and_another_user_is_refused() {
    // MQTT-3.1.4-3 (5.0): a second connection with the same client id closes
    // the first, with DISCONNECT 0x8E (5.0 §4.13). Another user's live client
    // id: CONNACK 2 / 0x85, never a kick (the contract).
    let (_sandbox, broker) = setup(&[]);
    let (mut first, _) = connected(&broker, Connect::v5("shared-id", "alice", PASSWORD));
    let (refused, connack) = connect(&broker, Connect::v5("shared-id", "bob", PASSWORD));
    assert_eq!(connack.body[1], 0x85);
    let mut at = 2;
    let props = raw::parse_props(&connack.body, &mut at);
    assert!(
        props.iter().any(|(id, _)| *id == 0x1F),
        "a reason string: {props:?}"
    );
    drop(refused);
    let (refused, connack) = connect(&broker, Connect::v3("shared-id", "bob", PASSWORD));
    assert_eq!(connack.body[1], 2);
    drop(refused);
    let (_second, _) = connected(&broker, Connect::v5("shared-id", "alice", PASSWORD));
    let (closed, packets) = first.closed_within(WAIT);
    assert!(closed, "the first connection is closed");
    assert_eq!(
        packets.last().map(|p| (p.kind(), p.body[0])),
        Some((14, 0x8E)),
        "DISCONNECT 0x8E session taken over"
    );
    // With a reason string for whoever reads the client's log (5.0 §3.14.2.2.3).
    let disconnect = packets.last().unwrap();
    let mut at = 1;
    let props = raw::parse_props(&disconnect.body, &mut at);
    assert!(props.iter().any(|(id, _)| *id == 0x1F), "{props:?}");
}

#[test]
fn an_unsupported_authentication_method_gets_connack_0x8c() {
    // MQTT-4.12.0-1 (5.0): a CONNECT with an Authentication Method the server
    // does not support is refused with 0x8C (Bad authentication method),
    // right password or not, and nothing is recorded for it.
    let (sandbox, broker) = setup(&[]);
    sandbox.run(&["registry", "unlock"]).ok();
    for (username, password) in [("alice", PASSWORD), ("newdevice", "secret99")] {
        let (_client, connack) = connect(
            &broker,
            Connect::v5("auth-method", username, password)
                .props(Props::new().str(prop::AUTHENTICATION_METHOD, "SCRAM-SHA-1")),
        );
        assert_eq!(connack.kind(), 2);
        assert_eq!(connack.body[1], 0x8C, "{username}: {connack:?}");
    }
    let pending = sandbox.json(&["registry", "list"]);
    assert_eq!(pending, serde_json::json!([]), "no request recorded");
    // Without the method the same login is accepted.
    connected(&broker, Connect::v5("auth-method", "alice", PASSWORD));
}

#[test]
fn client_ids_with_control_characters_are_refused() {
    // The contract: CONNACK 2 / 0x85 (a server may refuse ids: MQTT-3.1.3-9
    // in 3.1.1, MQTT-3.1.3-8 in 5.0).
    let (_sandbox, broker) = setup(&[]);
    for id in ["\0dropped-will", "line\nbreak", "tab\there"] {
        let (_c, connack) = connect(&broker, Connect::v3(id, "alice", PASSWORD));
        assert_eq!(connack.body[1], 2, "{id:?}");
        let (_c, connack) = connect(&broker, Connect::v5(id, "alice", PASSWORD));
        assert_eq!(connack.body[1], 0x85, "{id:?}");
    }
    let long = "x".repeat(300);
    let (_c, connack) = connect(&broker, Connect::v3(&long, "alice", PASSWORD));
    assert_eq!(connack.body[1], 2, "over the maximum length");
}

#[test]
fn an_empty_client_id_gets_one_assigned() {
    // MQTT-3.1.3-6 (3.1.1 and 5.0) and MQTT-3.2.2-16 (5.0: the Assigned
    // Client Identifier); MQTT-3.1.3-8 (3.1.1): an empty id without a clean
    // session is refused.
    let (_sandbox, broker) = setup(&[]);
    let (_c, connack) = connect(&broker, Connect::v5("", "alice", PASSWORD));
    assert_eq!(connack.body[1], 0);
    let mut at = 2;
    let props = raw::parse_props(&connack.body, &mut at);
    assert!(
        props.iter().any(|(id, _)| *id == prop::ASSIGNED_CLIENT_ID),
        "{props:?}"
    );
    let (_c, connack) = connect(&broker, Connect::v3("", "alice", PASSWORD));
    assert_eq!(connack.body[1], 0);
    let (mut refused, connack) = connect(&broker, Connect::v3("", "alice", PASSWORD).clean(false));
    assert_eq!(connack.bytes(), [0x20, 0x02, 0x00, 0x02]);
    assert!(refused.closed_within(WAIT).0, "and closed");
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    // MQTT-4.7.2-1 (3.1.1; the same number in 5.0).
    let (_sandbox, broker) = setup(&[]);
    let (mut all, _) = connected(&broker, Connect::v3("w1", "bob", PASSWORD));
    subscribe(&mut all, 1, &[("#", 0), ("+/x", 0)], Props::new());
    let (mut ops, _) = connected(&broker, Connect::v3("w2", "bob", PASSWORD));
    subscribe(&mut ops, 1, &[("$ops/#", 0)], Props::new());
    let (mut alice, _) = connected(&broker, Connect::v3("w3", "alice", PASSWORD));
    publish(&mut alice, "$ops/x", b"dollar", 1, false, 1);
    assert_eq!(ops.recv_publish(WAIT).unwrap().topic, "$ops/x");
    assert!(
        all.recv_publish(QUIET).is_none(),
        "# and +/x must not match $ops/x"
    );
}

#[test]
fn retained_messages_follow_the_spec() {
    // In 5.0 numbers: MQTT-3.3.1-5 (stored), -9 (sent to a new subscriber,
    // with RETAIN 1), -12 (RETAIN 0 to existing subscribers), -13 (Retain As
    // Published), -10 and -11 (Retain Handling 1 and 2), -6 and -7 (an empty
    // payload deletes it). The same rules in 3.1.1: MQTT-3.3.1-5, -6 and -8,
    // -9, and -10 and -11 (the last subscriber here is a 3.1.1 one).
    let (_sandbox, broker) = setup(&[]);
    let (mut alice, _) = connected(&broker, Connect::v5("r-pub", "alice", PASSWORD));
    let (mut live, _) = connected(&broker, Connect::v5("r-live", "bob", PASSWORD));
    subscribe(&mut live, 1, &[("ret/#", 1)], Props::new());
    let (mut kept, _) = connected(&broker, Connect::v5("r-rap", "bob", PASSWORD));
    subscribe(&mut kept, 1, &[("ret/#", 1 | 0x08)], Props::new());
    publish(&mut alice, "ret/a", b"first", 1, true, 1);
    let message = live.recv_publish(WAIT).unwrap();
    assert!(!message.retain, "existing subscriber: RETAIN 0");
    assert!(
        kept.recv_publish(WAIT).unwrap().retain,
        "Retain As Published"
    );
    publish(&mut alice, "ret/a", b"second", 1, true, 2);

    let (mut late, _) = connected(&broker, Connect::v5("r-late", "bob", PASSWORD));
    subscribe(&mut late, 1, &[("ret/+", 1)], Props::new());
    let message = late.recv_publish(WAIT).unwrap();
    assert_eq!(
        (message.retain, &message.payload[..]),
        (true, &b"second"[..])
    );
    // Retain Handling 1: only for a new subscription; 2: never.
    subscribe(&mut late, 2, &[("ret/+", 1 | 0x10)], Props::new());
    assert!(
        late.recv_publish(QUIET).is_none(),
        "RH 1 on an existing subscription"
    );
    let (mut never, _) = connected(&broker, Connect::v5("r-never", "bob", PASSWORD));
    subscribe(&mut never, 1, &[("ret/+", 1 | 0x20)], Props::new());
    assert!(never.recv_publish(QUIET).is_none(), "RH 2");

    publish(&mut alice, "ret/a", b"", 1, true, 3);
    let (mut after, _) = connected(&broker, Connect::v3("r-after", "bob", PASSWORD));
    subscribe(&mut after, 1, &[("ret/#", 1)], Props::new());
    assert!(
        after.recv_publish(QUIET).is_none(),
        "an empty retained payload deletes"
    );
}

#[test]
fn wills_go_out_on_abnormal_close_only_and_honour_the_delay() {
    // All 5.0: MQTT-3.1.2-8 (published when the connection closes
    // abnormally), MQTT-3.1.2-10 and MQTT-3.14.4-3 (removed on DISCONNECT
    // 0x00), DISCONNECT 0x04 sends it (§3.14.2.1), MQTT-3.1.3-9 (Will Delay:
    // not sent if the session resumes in time).
    let (_sandbox, broker) = setup(&[]);
    let (mut watcher, _) = connected(&broker, Connect::v5("will-watch", "bob", PASSWORD));
    subscribe(&mut watcher, 1, &[("wills/#", 1)], Props::new());
    let will = |topic, delay: u32| Will {
        topic,
        payload: b"gone",
        qos: 1,
        retain: false,
        props: Props::new().u32(prop::WILL_DELAY, delay),
    };

    let (dropped, _) = connected(
        &broker,
        Connect::v5("w-a", "alice", PASSWORD).will(will("wills/a", 0)),
    );
    drop(dropped);
    assert_eq!(watcher.recv_publish(WAIT).unwrap().topic, "wills/a");

    let (mut polite, _) = connected(
        &broker,
        Connect::v5("w-b", "alice", PASSWORD).will(will("wills/b", 0)),
    );
    polite.send(&raw::disconnect_v5(0, Props::new()));
    let (mut asking, _) = connected(
        &broker,
        Connect::v5("w-c", "alice", PASSWORD).will(will("wills/c", 0)),
    );
    asking.send(&raw::disconnect_v5(0x04, Props::new()));
    assert_eq!(
        watcher.recv_publish(WAIT).unwrap().topic,
        "wills/c",
        "0x04 sends the will, 0x00 does not"
    );

    let session = || {
        Connect::v5("w-d", "alice", PASSWORD)
            .clean(false)
            .props(Props::new().u32(prop::SESSION_EXPIRY, 60))
            .will(will("wills/d", 1))
    };
    let (delayed, _) = connected(&broker, session());
    drop(delayed);
    let (resumed, present) = connected(&broker, session());
    assert!(present);
    assert!(
        watcher.recv_publish(Duration::from_millis(1_500)).is_none(),
        "resumed within the delay"
    );
    drop(resumed);
    let started = Instant::now();
    assert_eq!(watcher.recv_publish(WAIT).unwrap().topic, "wills/d");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "sent after its delay"
    );
}

#[test]
fn shared_subscriptions_give_each_message_to_one_member() {
    // 5.0 §4.8.2: each message to one member of the group; retained messages
    // are not sent to a shared subscription (a rule of §4.8.2 with no
    // numbered statement). The read permission is checked on FILTER (the
    // contract).
    let (_sandbox, broker) = setup(&[]);
    let (mut alice, _) = connected(&broker, Connect::v5("s-pub", "alice", PASSWORD));
    publish(&mut alice, "jobs/old", b"retained", 1, true, 1);
    let mut members: Vec<Raw> = ["s-1", "s-2"]
        .iter()
        .map(|id| {
            let (mut member, _) = connected(&broker, Connect::v5(id, "bob", PASSWORD));
            assert_eq!(
                subscribe(
                    &mut member,
                    1,
                    &[("$share/workers/jobs/#", 1)],
                    Props::new()
                ),
                [1]
            );
            member
        })
        .collect();
    for n in 0..10u16 {
        publish(
            &mut alice,
            "jobs/x",
            format!("{n}").as_bytes(),
            1,
            false,
            n + 2,
        );
    }
    let mut got = Vec::new();
    for member in &mut members {
        let mut mine = 0;
        while let Some(message) = member.recv_publish(QUIET) {
            assert_ne!(message.payload, b"retained");
            member.send(&raw::ack(0x40, message.packet_id.unwrap()));
            got.push(String::from_utf8(message.payload).unwrap());
            mine += 1;
        }
        assert!(mine > 0, "round robin reaches every member");
    }
    got.sort_by_key(|n| n.parse::<u32>().unwrap());
    assert_eq!(
        got,
        (0..10).map(|n| n.to_string()).collect::<Vec<_>>(),
        "each message exactly once"
    );

    let (mut carol, _) = connected(&broker, Connect::v5("s-carol", "carol", PASSWORD));
    assert_eq!(
        subscribe(
            &mut carol,
            1,
            &[("$share/g/jobs/#", 1), ("$share/g/devices/carol/#", 1)],
            Props::new()
        ),
        [0x87, 1]
    );
}

#[test]
fn v5_properties_are_forwarded_unchanged() {
    // All 5.0: forwarded unaltered, MQTT-3.3.2-4 (payload format), -15
    // (response topic), -16 (correlation data), -17 and -18 (user
    // properties, in order), -20 (content type); MQTT-3.3.4-3 (the
    // subscription identifier). No expiry is added to a message that had
    // none: without a Message Expiry Interval it does not expire (§3.3.2.3.3,
    // no numbered statement; MQTT-3.3.2-6 is the value forwarded when there
    // is one).
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v5("f-sub", "bob", PASSWORD));
    subscribe(
        &mut sub,
        1,
        &[("props/#", 1)],
        Props::new().varint(prop::SUBSCRIPTION_ID, 42),
    );
    let (mut alice, _) = connected(&broker, Connect::v5("f-pub", "alice", PASSWORD));
    let props = Props::new()
        .byte(prop::PAYLOAD_FORMAT, 1)
        .str(prop::CONTENT_TYPE, "text/plain")
        .str(prop::RESPONSE_TOPIC, "props/reply")
        .str(prop::CORRELATION_DATA, "corr-1")
        .pair(prop::USER_PROPERTY, "b", "2")
        .pair(prop::USER_PROPERTY, "a", "1")
        .pair(prop::USER_PROPERTY, "b", "3");
    alice.send(&raw::publish(true, "props/x", b"hello", 1, false, 1, props));
    alice.recv_kind(4, WAIT).unwrap();
    let message = sub.recv_publish(WAIT).unwrap();
    assert_eq!(message.prop(prop::PAYLOAD_FORMAT), Some(&[1u8][..]));
    assert_eq!(
        message.prop(prop::CONTENT_TYPE),
        Some(&b"\0\x0atext/plain"[..])
    );
    assert_eq!(
        message.prop(prop::RESPONSE_TOPIC),
        Some(&b"\0\x0bprops/reply"[..])
    );
    assert_eq!(
        message.prop(prop::CORRELATION_DATA),
        Some(&b"\0\x06corr-1"[..])
    );
    assert_eq!(
        message.props_of(prop::USER_PROPERTY),
        [&b"\0\x01b\0\x012"[..], b"\0\x01a\0\x011", b"\0\x01b\0\x013"]
    );
    assert_eq!(
        message.prop(prop::SUBSCRIPTION_ID),
        Some(&[42u8][..]),
        "MQTT-3.3.4-3 (5.0)"
    );
    assert_eq!(
        message.prop(prop::MESSAGE_EXPIRY),
        None,
        "no expiry invented"
    );
}

#[test]
fn message_expiry_is_honoured_only_when_set() {
    // MQTT-3.3.2-5 (5.0: an expired message is not delivered), MQTT-3.3.2-6
    // (5.0: the forwarded interval is what remains).
    let (_sandbox, broker) = setup(&[]);
    let session = || {
        Connect::v5("e-sub", "bob", PASSWORD)
            .clean(false)
            .props(Props::new().u32(prop::SESSION_EXPIRY, 300))
    };
    let (mut sub, _) = connected(&broker, session());
    subscribe(&mut sub, 1, &[("exp/#", 1)], Props::new());
    sub.send(&raw::disconnect_v5(0, Props::new()));
    drop(sub);
    let (mut alice, _) = connected(&broker, Connect::v5("e-pub", "alice", PASSWORD));
    for (topic, expiry) in [
        ("exp/short", Some(1)),
        ("exp/long", Some(100)),
        ("exp/never", None),
    ] {
        let props = expiry.map_or(Props::new(), |s| Props::new().u32(prop::MESSAGE_EXPIRY, s));
        alice.send(&raw::publish(true, topic, b"m", 1, false, 1, props));
        alice.recv_kind(4, WAIT).unwrap();
    }
    std::thread::sleep(Duration::from_millis(2_100));
    let (mut sub, present) = connected(&broker, session());
    assert!(present);
    let long = sub.recv_publish(WAIT).unwrap();
    assert_eq!(long.topic, "exp/long", "the expired message is gone");
    let left = u32::from_be_bytes(long.prop(prop::MESSAGE_EXPIRY).unwrap().try_into().unwrap());
    assert!((95..=98).contains(&left), "counted down: {left}");
    sub.send(&raw::ack(0x40, long.packet_id.unwrap()));
    let never = sub.recv_publish(WAIT).unwrap();
    assert_eq!(
        (never.topic.as_str(), never.prop(prop::MESSAGE_EXPIRY)),
        ("exp/never", None)
    );
}

#[test]
fn topic_aliases_zero_or_over_the_maximum_are_protocol_errors() {
    // All 5.0: MQTT-3.3.2-8 (alias 0 is not permitted) and MQTT-3.3.2-9 (over
    // the Topic Alias Maximum): DISCONNECT 0x94; a valid alias works
    // (MQTT-3.3.2-12).
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v5("ta-sub", "bob", PASSWORD));
    subscribe(&mut sub, 1, &[("alias/#", 0)], Props::new());
    let (mut alice, connack) = connect(&broker, Connect::v5("ta-ok", "alice", PASSWORD));
    let mut at = 2;
    let props = raw::parse_props(&connack.body, &mut at);
    let maximum = props
        .iter()
        .find(|(id, _)| *id == prop::TOPIC_ALIAS_MAXIMUM)
        .map(|(_, v)| u16::from_be_bytes([v[0], v[1]]))
        .unwrap_or(0);
    assert!(maximum > 0);
    alice.send(&raw::publish(
        true,
        "alias/x",
        b"1",
        0,
        false,
        0,
        Props::new().u16(prop::TOPIC_ALIAS, 1),
    ));
    alice.send(&raw::publish(
        true,
        "",
        b"2",
        0,
        false,
        0,
        Props::new().u16(prop::TOPIC_ALIAS, 1),
    ));
    assert_eq!(sub.recv_publish(WAIT).unwrap().topic, "alias/x");
    assert_eq!(sub.recv_publish(WAIT).unwrap().topic, "alias/x");
    for alias in [0, maximum + 1] {
        let (mut bad, _) = connected(&broker, Connect::v5("ta-bad", "alice", PASSWORD));
        bad.send(&raw::publish(
            true,
            "alias/y",
            b"3",
            0,
            false,
            0,
            Props::new().u16(prop::TOPIC_ALIAS, alias),
        ));
        let (closed, packets) = bad.closed_within(WAIT);
        assert!(closed, "alias {alias}");
        assert_eq!(
            packets.last().map(|p| (p.kind(), p.body[0])),
            Some((14, 0x94)),
            "alias {alias}"
        );
    }
}

#[test]
fn publish_topics_with_wildcards_or_nul_close_the_connection() {
    // MQTT-3.3.2-2 (3.1.1 and 5.0: no wildcards in a topic name); no NUL:
    // MQTT-1.5.3-2 (3.1.1), MQTT-1.5.4-2 (5.0). v5: DISCONNECT 0x90, Topic
    // Name invalid (the contract).
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v3("wc-sub", "bob", PASSWORD));
    subscribe(&mut sub, 1, &[("#", 0)], Props::new());
    for v5 in [false, true] {
        for topic in ["a/+", "a/#", "a\0b"] {
            let packet = Connect::version(v5, "wc", "alice", PASSWORD);
            let (mut bad, _) = connected(&broker, packet);
            bad.send(&raw::publish(v5, topic, b"x", 0, false, 0, Props::new()));
            let (closed, packets) = bad.closed_within(WAIT);
            assert!(closed, "{topic:?} v5 {v5}");
            if v5 {
                let last = packets.last().expect("a DISCONNECT");
                assert_eq!(
                    (last.kind(), last.body[0]),
                    (14, 0x90),
                    "{topic:?}: the contract's 0x90"
                );
            }
        }
    }
    assert!(sub.recv_publish(QUIET).is_none(), "none delivered");
}

#[test]
fn topics_over_the_limits_are_refused() {
    // The contract's limits (levels, bytes): PUBLISH closes (v5 0x90),
    // SUBSCRIBE gets 0x80 / 0x8F.
    let (_sandbox, broker) = setup(&["--max-topic-levels", "8", "--max-topic-bytes", "64"]);
    let deep = ["l"; 9].join("/");
    let long = "x".repeat(65);
    for v5 in [false, true] {
        let packet = Connect::version(v5, "lim", "alice", PASSWORD);
        let (mut client, _) = connected(&broker, packet);
        let codes = subscribe(
            &mut client,
            1,
            &[(&deep, 0), (&long, 0), ("ok/#", 0)],
            Props::new(),
        );
        assert_eq!(codes, if v5 { [0x8F, 0x8F, 0] } else { [0x80, 0x80, 0] });
        for topic in [&deep, &long] {
            let packet = Connect::version(v5, "lim2", "alice", PASSWORD);
            let (mut publisher, _) = connected(&broker, packet);
            publisher.send(&raw::publish(v5, topic, b"x", 1, false, 1, Props::new()));
            let (closed, packets) = publisher.closed_within(WAIT);
            assert!(closed);
            if v5 {
                assert_eq!(
                    packets.last().map(|p| (p.kind(), p.body[0])),
                    Some((14, 0x90))
                );
            }
        }
    }
}

#[test]
fn maximum_packet_size_holds_both_ways() {
    // The client's maximum: MQTT-3.1.2-24 and -25 (5.0): a larger message is
    // not sent to it, the next one is. The server's maximum: MQTT-3.2.2-15
    // (5.0) forbids the client to exceed it, and a larger packet is a
    // Protocol Error answered with DISCONNECT 0x95, Packet too large (5.0
    // §3.2.2.3.6), then a close (MQTT-4.13.1-1, 5.0). 3.1.1 has no Maximum
    // Packet Size and no DISCONNECT from the server: --max-packet-size closes
    // the connection.
    let (_sandbox, broker) = setup(&["--max-packet-size", "1000"]);
    let (mut small, _) = connected(
        &broker,
        Connect::v5("mps-sub", "bob", PASSWORD)
            .props(Props::new().u32(prop::MAXIMUM_PACKET_SIZE, 200)),
    );
    subscribe(&mut small, 1, &[("size/#", 0)], Props::new());
    let (mut alice, _) = connected(&broker, Connect::v5("mps-pub", "alice", PASSWORD));
    publish(&mut alice, "size/big", &[b'x'; 500], 0, false, 0);
    publish(&mut alice, "size/small", b"fits", 0, false, 0);
    let message = small.recv_publish(WAIT).unwrap();
    assert_eq!(
        message.topic, "size/small",
        "the big one was skipped, not the rest"
    );

    for v5 in [false, true] {
        let packet = Connect::version(v5, "mps-big", "alice", PASSWORD);
        let (mut big, _) = connected(&broker, packet);
        big.send(&raw::publish(
            v5,
            "size/huge",
            &[b'x'; 2000],
            0,
            false,
            0,
            Props::new(),
        ));
        let (closed, packets) = big.closed_within(WAIT);
        assert!(closed, "over the server's maximum (v5 {v5})");
        if v5 {
            assert_eq!(
                packets.last().map(|p| (p.kind(), p.body[0])),
                Some((14, 0x95)),
                "DISCONNECT 0x95 before the close: {packets:?}"
            );
        } else {
            assert_eq!(packets, [], "3.1.1: closed without a word");
        }
    }
}

#[test]
fn the_clients_receive_maximum_bounds_what_is_in_flight() {
    // MQTT-3.3.4-9 (5.0): no more unacknowledged QoS 1/2 PUBLISH packets than
    // the client's Receive Maximum; the rest follow as acknowledgements come.
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(
        &broker,
        Connect::v5("rm-sub", "bob", PASSWORD).props(Props::new().u16(prop::RECEIVE_MAXIMUM, 2)),
    );
    subscribe(&mut sub, 1, &[("rm/#", 1)], Props::new());
    let (mut alice, _) = connected(&broker, Connect::v5("rm-pub", "alice", PASSWORD));
    for n in 0..6u16 {
        publish(
            &mut alice,
            "rm/x",
            format!("{n}").as_bytes(),
            1,
            false,
            n + 1,
        );
    }
    let mut received = Vec::new();
    for _ in 0..3 {
        let first = sub.recv_publish(WAIT).unwrap();
        let second = sub.recv_publish(WAIT).unwrap();
        assert!(
            sub.recv_publish(QUIET).is_none(),
            "a third before any PUBACK"
        );
        for message in [first, second] {
            sub.send(&raw::ack(0x40, message.packet_id.unwrap()));
            received.push(String::from_utf8(message.payload).unwrap());
        }
    }
    assert_eq!(
        received,
        ["0", "1", "2", "3", "4", "5"],
        "in order, none lost"
    );
}

#[test]
fn a_steady_qos_1_stream_loses_nothing() {
    // The contract: an acknowledged QoS 1 message reaches a subscriber that
    // keeps reading (publisher paced by the subscriber's queue), in order.
    let (_sandbox, broker) = setup(&["--max-queued-messages", "100"]);
    let (mut sub, _) = connected(&broker, Connect::v3("st-sub", "bob", PASSWORD));
    subscribe(&mut sub, 1, &[("stream/#", 1)], Props::new());
    let total = 20_000u32;
    let port = broker.port;
    let publisher = std::thread::spawn(move || {
        let (mut alice, _) = Raw::connect(port, &Connect::v3("st-pub", "alice", PASSWORD));
        let mut batch = Vec::new();
        for n in 0..total {
            batch.extend(raw::publish(
                false,
                "stream/x",
                &n.to_be_bytes(),
                1,
                false,
                (n % 60_000 + 1) as u16,
                Props::new(),
            ));
            if n % 50 == 49 {
                alice.send(&batch);
                batch.clear();
                for _ in 0..50 {
                    alice.recv_kind(4, Duration::from_secs(30)).expect("PUBACK");
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    for expected in 0..total {
        let message = sub
            .recv_publish(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("message {expected} never came"));
        assert_eq!(message.payload, expected.to_be_bytes(), "in order");
        sub.send(&raw::ack(0x40, message.packet_id.unwrap()));
        assert!(Instant::now() < deadline, "bounded");
    }
    publisher.join().unwrap();
}

#[test]
fn a_subscriber_that_stops_reading_cannot_stall_the_others() {
    // The contract: past its queue bound and a short wait (the stall time), a
    // stuck subscriber's oldest messages are dropped and counted; the
    // publisher and the other subscribers go on.
    let (_sandbox, broker) = setup(&["--max-queued-messages", "20", "--max-inflight", "5"]);
    let (mut stuck, _) = connected(&broker, Connect::v3("stuck", "bob", PASSWORD));
    subscribe(&mut stuck, 1, &[("flow/#", 1)], Props::new());
    let (mut healthy, _) = connected(&broker, Connect::v3("healthy", "bob", PASSWORD));
    subscribe(&mut healthy, 1, &[("flow/#", 1)], Props::new());
    let (mut alice, _) = connected(&broker, Connect::v3("flow-pub", "alice", PASSWORD));
    let started = Instant::now();
    let mut longest = Duration::ZERO;
    for n in 0..200u16 {
        let sent = Instant::now();
        alice.send(&raw::publish(
            false,
            "flow/x",
            &n.to_be_bytes(),
            1,
            false,
            n + 1,
            Props::new(),
        ));
        alice
            .recv_kind(4, Duration::from_secs(20))
            .expect("PUBACK within the bounded wait");
        longest = longest.max(sent.elapsed());
        let message = healthy.recv_publish(WAIT).expect("healthy keeps receiving");
        assert_eq!(message.payload, n.to_be_bytes());
        healthy.send(&raw::ack(0x40, message.packet_id.unwrap()));
    }
    // One wait of about the stall time (50 ms); after it the stuck one holds
    // nobody up. (Before the stall time, a publisher waited up to 5 s.)
    assert!(
        longest < Duration::from_millis(1_000),
        "longest PUBACK wait {longest:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "not stalled for long"
    );
    assert!(
        eventually(WAIT, || broker
            .log()
            .contains("oldest queued messages dropped")),
        "the drop is logged:\n{}",
        broker.log()
    );
    // Once it reads again, it gets what was in flight when it stopped (the
    // first few, already written to it), then the newest messages, not the
    // dropped ones: 0, 1, ... then a gap, then up to 199.
    let mut got = Vec::new();
    while let Some(message) = stuck.recv_publish(QUIET) {
        assert_eq!(message.qos, 1);
        got.push(u16::from_be_bytes([message.payload[0], message.payload[1]]));
        stuck.send(&raw::ack(0x40, message.packet_id.unwrap()));
    }
    let gaps: Vec<usize> = (1..got.len())
        .filter(|&at| got[at] != got[at - 1] + 1)
        .collect();
    let [gap] = gaps[..] else {
        panic!("one run in flight, one run of the newest: {got:?}")
    };
    let (in_flight, newest) = got.split_at(gap);
    assert!(
        in_flight.first() == Some(&0) && in_flight.len() <= 5,
        "the in-flight window (--max-inflight 5) first: {got:?}"
    );
    assert!(
        newest.last() == Some(&199) && newest.len() <= 20 && newest[0] > in_flight[gap - 1],
        "then the newest, at most the queue bound (20): {got:?}"
    );
}

#[test]
fn messages_sent_just_before_disconnect_are_all_delivered() {
    // Packets a client sent before its DISCONNECT are processed before the
    // session ends (the client closes the connection after its DISCONNECT,
    // MQTT-3.14.4-1 in 3.1.1, -2 in 5.0; nothing discards what came first),
    // even when they arrive in the same read as the DISCONNECT and the
    // subscriber's queue makes the broker read slowly. In order, too
    // (MQTT-4.6.0-6 in 3.1.1, -5 in 5.0): a PUBLISH that straddles two socket reads
    // keeps its place (see `src/broker/mqtt/framing.rs`).
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v3("bd-sub", "bob", PASSWORD));
    subscribe(&mut sub, 1, &[("last/#", 0)], Props::new());
    let total = 20_000u32;
    for v5 in [false, true] {
        let packet = Connect::version(v5, "bd-pub", "alice", PASSWORD);
        let (mut publisher, _) = connected(&broker, packet);
        let mut burst = Vec::new();
        for n in 0..total {
            burst.extend(raw::publish(
                v5,
                "last/x",
                &n.to_be_bytes(),
                0,
                false,
                0,
                Props::new(),
            ));
        }
        burst.extend(raw::disconnect(v5));
        publisher.send(&burst);
        for expected in 0..total {
            let message = sub
                .recv_publish(WAIT)
                .unwrap_or_else(|| panic!("only {expected} of {total} arrived (v5 {v5})"));
            assert_eq!(
                message.payload,
                expected.to_be_bytes(),
                "in order (v5 {v5})"
            );
        }
    }
}

#[test]
fn a_v5_session_ends_when_its_expiry_runs_out() {
    // MQTT-3.1.2-23 (5.0: the session is kept for the Session Expiry Interval
    // after the connection closes) and MQTT-4.1.0-2 (5.0: discarded once it
    // has passed); a DISCONNECT may change it (5.0 §3.14.2.2.2, no numbered
    // statement).
    let (_sandbox, broker) = setup(&[]);
    let session = |expiry| {
        Connect::v5("exp-s", "bob", PASSWORD)
            .clean(false)
            .props(Props::new().u32(prop::SESSION_EXPIRY, expiry))
    };
    let (client, _) = connected(&broker, session(1));
    drop(client);
    let (client, present) = connected(&broker, session(1));
    assert!(present, "resumed within the interval");
    drop(client);
    std::thread::sleep(Duration::from_millis(1_600));
    let (mut client, present) = connected(&broker, session(60));
    assert!(!present, "gone after the interval");
    // DISCONNECT with Session Expiry 0 ends it at once.
    client.send(&raw::disconnect_v5(
        0,
        Props::new().u32(prop::SESSION_EXPIRY, 0),
    ));
    let (_client, present) = connected(&broker, session(60));
    assert!(!present);
}

#[test]
fn two_clients_flooding_each_other_cannot_deadlock() {
    // The hazard ntex documents: a publisher whose reads are paused cannot
    // read the acknowledgements that would make room. Two clients publish
    // 4 KiB QoS 1 messages to each other without reading, then read: both
    // get every PUBACK within the bounded wait (messages past the queue
    // bound may be dropped, counted and logged, as the contract allows).
    let (_sandbox, broker) = setup(&["--max-queued-messages", "20"]);
    let count = 1_000u16;
    let payload = vec![b'x'; 4096];
    let mut clients: Vec<Raw> = ["x-a", "x-b"]
        .iter()
        .zip(["to/a/#", "to/b/#"])
        .map(|(id, filter)| {
            let (mut client, _) = connected(&broker, Connect::v3(id, "alice", PASSWORD));
            subscribe(&mut client, 1, &[(filter, 1)], Props::new());
            client
        })
        .collect();
    let writers: Vec<_> = clients
        .iter()
        .zip(["to/b/x", "to/a/x"])
        .map(|(client, topic)| {
            let mut stream = client.stream.try_clone().unwrap();
            let payload = payload.clone();
            std::thread::spawn(move || {
                for id in 1..=count {
                    let packet = raw::publish(false, topic, &payload, 1, false, id, Props::new());
                    if std::io::Write::write_all(&mut stream, &packet).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    // Let both fill the broker's queues and the sockets before anyone reads.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    for client in &mut clients {
        let mut pubacks = 0;
        while pubacks < count {
            let packet = client
                .recv(Duration::from_secs(20))
                .unwrap_or_else(|| panic!("stuck after {pubacks} PUBACKs:\n{}", broker.log()));
            match packet.kind() {
                4 => pubacks += 1,
                3 => {
                    let delivery = client.parse_publish(&packet);
                    client.send(&raw::ack(0x40, delivery.packet_id.unwrap()));
                }
                _ => {}
            }
        }
    }
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn mosquitto_clients_see_forwarded_v5_properties_and_retain() {
    // The same rules with a client we did not write: mosquitto_pub sets the
    // properties (MQTT-3.3.2-15 to -17 and -20, 5.0) on a retained message,
    // mosquitto_sub prints them as it gets the message on subscribing
    // (MQTT-3.3.1-9, 5.0).
    let (_sandbox, broker) = setup(&[]);
    let (code, output) = broker.mosquitto_pub(&[
        "-V",
        "mqttv5",
        "-u",
        "alice",
        "-P",
        PASSWORD,
        "-t",
        "props/real",
        "-m",
        "hello",
        "-r",
        "-q",
        "1",
        "-D",
        "publish",
        "user-property",
        "a",
        "1",
        "-D",
        "publish",
        "content-type",
        "text/plain",
        "-D",
        "publish",
        "response-topic",
        "props/reply",
        "-D",
        "publish",
        "correlation-data",
        "c1",
    ]);
    assert_eq!(code, 0, "{output}");
    let (code, output) = broker.mosquitto_sub(&[
        "-V",
        "mqttv5",
        "-u",
        "bob",
        "-P",
        PASSWORD,
        "-t",
        "props/#",
        "-C",
        "1",
        "-W",
        "10",
        "-F",
        "%t|%p|%P|%C|%R|%D|%r|%E",
    ]);
    assert_eq!(code, 0, "{output}");
    // %E is empty: no Message Expiry was set, and none is added.
    assert_eq!(
        output.trim(),
        "props/real|hello|a:1|text/plain|props/reply|c1|1|",
        "topic, payload, user property, content type, response topic, correlation data, retain, expiry"
    );
}

#[test]
fn a_3_1_1_pubrel_after_reconnect_completes() {
    // MQTT-4.4.0-1 (3.1.1): on reconnect the client re-sends PUBREL for QoS 2
    // messages whose PUBCOMP it did not get, and the server answers PUBCOMP
    // (MQTT-4.3.3-2, 3.1.1); the message was delivered once, when it was
    // published.
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v3("r3-sub", "bob", PASSWORD));
    subscribe(&mut sub, 1, &[("rel/#", 0)], Props::new());
    let session = || Connect::v3("r3-pub", "alice", PASSWORD).clean(false);
    let (mut publisher, _) = connected(&broker, session());
    publisher.send(&raw::publish(
        false,
        "rel/x",
        b"once",
        2,
        false,
        3,
        Props::new(),
    ));
    publisher.recv_kind(5, WAIT).expect("PUBREC");
    drop(publisher);
    let (mut publisher, present) = connected(&broker, session());
    assert!(present);
    publisher.send(&raw::ack(0x62, 3));
    let pubcomp = publisher
        .recv(WAIT)
        .expect("PUBCOMP, not a closed connection");
    assert_eq!(pubcomp.bytes(), [0x70, 0x02, 0, 3]);
    // The connection goes on as usual.
    publish(&mut publisher, "rel/y", b"next", 2, false, 4);
    assert_eq!(sub.recv_publish(WAIT).unwrap().payload, b"once");
    assert_eq!(sub.recv_publish(WAIT).unwrap().payload, b"next");
    assert!(sub.recv_publish(QUIET).is_none(), "each once");
}

#[test]
fn messages_sent_just_before_a_dropped_socket_are_delivered() {
    // What MQTT does not promise for QoS 0 (the client closed its socket
    // without DISCONNECT), mqreg still does, as mosquitto does: packets
    // received before the close are routed.
    let (_sandbox, broker) = setup(&[]);
    let (mut sub, _) = connected(&broker, Connect::v3("drop-sub", "bob", PASSWORD));
    subscribe(&mut sub, 1, &[("gone/#", 0)], Props::new());
    let (mut publisher, _) = connected(&broker, Connect::v3("drop-pub", "alice", PASSWORD));
    let total = 20_000u32;
    let mut burst = Vec::new();
    for n in 0..total {
        burst.extend(raw::publish(
            false,
            "gone/x",
            &n.to_be_bytes(),
            0,
            false,
            0,
            Props::new(),
        ));
    }
    publisher.send(&burst);
    drop(publisher);
    for expected in 0..total {
        let message = sub
            .recv_publish(WAIT)
            .unwrap_or_else(|| panic!("only {expected} of {total} arrived"));
        assert_eq!(message.payload, expected.to_be_bytes());
    }
}

#[test]
fn payloads_larger_than_a_socket_read_arrive_whole_and_in_order() {
    // MQTT-3.3.4-1 (3.1.1 and 5.0: the receiver acknowledges each QoS 1
    // PUBLISH) and in order (MQTT-4.6.0-6 in 3.1.1, MQTT-4.6.0-5 in 5.0):
    // payloads of 200 KiB are read in several parts
    // and handed on in chunks, more than the 64 KiB the broker lets a
    // connection have in flight. Written back to back, each arrives whole,
    // in order, and is acknowledged; on 3.1.1 and 5.
    let (_sandbox, broker) = setup(&[]);
    for v5 in [false, true] {
        let version = if v5 { "v5" } else { "v3" };
        let (mut reader, _) = connected(
            &broker,
            Connect::version(v5, &format!("big-r-{version}"), "bob", PASSWORD),
        );
        subscribe(&mut reader, 1, &[("big/#", 1)], Props::new());
        let (mut writer, _) = connected(
            &broker,
            Connect::version(v5, &format!("big-w-{version}"), "alice", PASSWORD),
        );
        let payloads: Vec<Vec<u8>> = (0..5u8)
            .map(|n| (0..200 * 1024).map(|i| (i as u8) ^ n).collect())
            .collect();
        let mut batch = Vec::new();
        for (n, payload) in payloads.iter().enumerate() {
            let id = n as u16 + 1;
            batch.extend(raw::publish(
                v5,
                "big/x",
                payload,
                1,
                false,
                id,
                Props::new(),
            ));
        }
        writer.send(&batch);
        expect_pubacks(&mut writer, payloads.len(), version);
        receive_in_order(&mut reader, &payloads, version);
    }
}

/// PUBACKs for packet ids 1 to `count`, in order.
#[track_caller]
fn expect_pubacks(writer: &mut Raw, count: usize, version: &str) {
    for id in 1..=count as u16 {
        let ack = writer
            .recv_kind(4, WAIT)
            .unwrap_or_else(|| panic!("{version}: PUBACK {id} missing"));
        assert_eq!(
            u16::from_be_bytes([ack.body[0], ack.body[1]]),
            id,
            "{version}"
        );
    }
}

/// Each of `payloads` reaches `reader` whole and in order; it acknowledges each.
#[track_caller]
fn receive_in_order(reader: &mut Raw, payloads: &[Vec<u8>], version: &str) {
    for (n, payload) in payloads.iter().enumerate() {
        let message = reader
            .recv_publish(WAIT)
            .unwrap_or_else(|| panic!("{version}: message {n} missing"));
        assert!(
            message.payload == *payload,
            "{version}: message {n} changed"
        );
        reader.send(&raw::ack(0x40, message.packet_id.unwrap()));
    }
}

#[test]
fn packets_that_arrive_a_few_bytes_at_a_time_are_read_whole() {
    // MQTT 3.1.1 §4.2 and 5 §4.2: the connection is an ordered stream of
    // bytes, with no packet boundaries of its own. A CONNECT and three QoS 1
    // PUBLISHes (the middle one of 3 KiB: its remaining length takes two
    // bytes) written in pieces, with pauses so that the broker reads them
    // part by part: each is read whole, acknowledged (MQTT-3.3.4-1, 3.1.1 and
    // 5.0) and delivered in order (MQTT-4.6.0-6 in 3.1.1, -5 in 5.0); on
    // 3.1.1 and 5.
    let (_sandbox, broker) = setup(&[]);
    for v5 in [false, true] {
        let version = if v5 { "v5" } else { "v3" };
        let (mut reader, _) = connected(
            &broker,
            Connect::version(v5, &format!("slow-r-{version}"), "bob", PASSWORD),
        );
        subscribe(&mut reader, 1, &[("slow/#", 1)], Props::new());
        let payloads: [Vec<u8>; 3] = [b"a".to_vec(), vec![7; 3 * 1024], b"b".to_vec()];
        let mut stream =
            Connect::version(v5, &format!("slow-w-{version}"), "alice", PASSWORD).encode();
        for (n, payload) in payloads.iter().enumerate() {
            stream.extend(raw::publish(
                v5,
                "slow/x",
                payload,
                1,
                false,
                n as u16 + 1,
                Props::new(),
            ));
        }
        let mut writer = Raw::open(broker.port, v5);
        // Pieces of 1, 2, 3... bytes, with a pause after the first two and
        // after every seventh: splits fall inside headers, lengths and
        // payloads.
        let mut at = 0;
        for piece in (1..).map(|n| n % 200) {
            if at == stream.len() {
                break;
            }
            let end = (at + piece.max(1)).min(stream.len());
            writer.send(&stream[at..end]);
            at = end;
            if piece % 7 == 0 || at < 4 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let connack = writer.recv_kind(2, WAIT).expect("CONNACK");
        assert_eq!(connack.body[1], 0, "{version}: CONNACK {connack:?}");
        expect_pubacks(&mut writer, payloads.len(), version);
        receive_in_order(&mut reader, &payloads, version);
    }
}
