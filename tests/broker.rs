//! `mqreg serve` against real clients: the registration flow and the broker
//! rules of CONTRACT.md, on MQTT 3.1.1 and 5, with mosquitto's clients and a
//! Rust client, the CLI changing the state while the broker runs.

mod common;

use std::time::{Duration, Instant};

use common::raw::{Connect, Raw};
use common::{
    assert_closed_live, assert_live, assert_stops_live, eventually, Broker, Flow, Sandbox, LIVE,
    LIVE_PATIENCE,
};
use rumqttc::{QoS, SubscribeReasonCode};
use serde_json::json;

/// How long to listen for a message that must not come.
const QUIET: Duration = Duration::from_millis(300);

fn pending(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    sandbox
        .json(&["registry", "list"])
        .as_array()
        .unwrap()
        .clone()
}

fn pending_count(sandbox: &Sandbox) -> usize {
    pending(sandbox).len()
}

/// An unlocked registry with a `sensor` role confined to the device's own topics,
/// and a broker that has seen both.
fn open_registry() -> (Sandbox, Broker) {
    let sandbox = registry_sandbox();
    let broker = sandbox.serve();
    (sandbox, broker)
}

/// What [`open_registry`] serves, before it is served.
fn registry_sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox.add_role(
        "sensor",
        &["write:devices/{username}/#", "read:commands/{username}"],
    );
    sandbox.run(&["registry", "unlock", "--for", "10m"]).ok();
    sandbox
}

/// An `operator` user (password `ops-secret`) whose role `ops` has `ACCESS:#`.
fn add_operator(sandbox: &Sandbox, access: &str) {
    sandbox
        .add_role("ops", &[&format!("{access}:#")])
        .add_users(&["operator"], "ops-secret", Some("ops"));
}

/// A device user with the `sensor` role and the password `device-secret`.
fn add_device(sandbox: &Sandbox, name: &str) {
    sandbox.add_users(&[name], "device-secret", Some("sensor"));
}

/// Users added while the broker runs can log in, within the contract's
/// second of `start` (just before the last CLI command).
#[track_caller]
fn logins_work(broker: &Broker, start: Instant, logins: &[(&str, &str)]) {
    assert_live(start, "the new users log in", || {
        logins
            .iter()
            .all(|(user, password)| register(broker, "311", user, password) == 0)
    });
}

/// Publishes once as a device so that a pending request is recorded.
fn register(broker: &Broker, version: &str, user: &str, password: &str) -> i32 {
    broker
        .mosquitto_pub(&[
            "-V",
            version,
            "-u",
            user,
            "-P",
            password,
            "-i",
            &format!("{user}-board"),
            "-t",
            "x",
            "-m",
            "hello",
        ])
        .0
}

#[test]
fn the_whole_flow_on_mqtt_3_1_1() {
    let sandbox = registry_sandbox();
    // An operator who reads every device's topics, to watch what gets through.
    add_operator(&sandbox, "read");
    let broker = sandbox.serve();
    let (code, output) = broker.mosquitto_pub(&[
        "-V",
        "311",
        "-u",
        "sensor1",
        "-P",
        "device-secret",
        "-i",
        "board-7",
        "-t",
        "devices/sensor1/temp",
        "-m",
        "21.5",
    ]);
    assert_eq!(code, 5, "CONNACK 5, not authorized: {output}");
    assert!(output.contains("not authorised"), "{output}");

    let requests = pending(&sandbox);
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request["username"], json!("sensor1"));
    assert_eq!(request["client_id"], json!("board-7"));
    assert_eq!(request["protocol"], json!("3.1.1"));
    assert_eq!(request["attempts"], json!(1));
    assert_eq!(request["conflict"], json!(false));
    assert!(request["address"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    // Approved without roles: the device gets in but may do nothing.
    let start = Instant::now();
    sandbox.run(&["registry", "approve", "sensor1"]).ok();
    assert_live(start, "the approved device logs in", || {
        broker
            .mosquitto_pub(&[
                "-u",
                "sensor1",
                "-P",
                "device-secret",
                "-t",
                "devices/sensor1/temp",
                "-m",
                "1",
            ])
            .0
            == 0
    });
    let watcher = broker.client("watcher-1", "sensor1", "device-secret");
    watcher.expect_connected();
    assert_eq!(
        watcher.subscribe("commands/sensor1"),
        vec![rumqttc::SubscribeReasonCode::Failure],
        "no role, no subscription"
    );

    let start = Instant::now();
    sandbox
        .run(&["user", "grant-role", "sensor1", "sensor"])
        .ok();
    assert_live(start, "the granted subscription", || {
        matches!(
            watcher.subscribe("commands/sensor1")[..],
            [SubscribeReasonCode::Success(_)]
        )
    });
    let (code, output) = broker.mosquitto_sub(&[
        "-V",
        "311",
        "-u",
        "sensor1",
        "-P",
        "device-secret",
        "-t",
        "commands/sensor2",
        "-t",
        "commands/sensor1",
        "-C",
        "1",
        "-W",
        "1",
        "-d",
    ]);
    assert!(
        output.contains("Subscribed (mid: 1): 128, 0"),
        "{code}: {output}"
    );

    // A denied QoS 1 publish on 3.1.1 is acknowledged and dropped; the
    // connection stays. The operator reads both devices' topics.
    let ops = broker.client("ops-1", "operator", "ops-secret");
    ops.expect_connected();
    assert_eq!(
        ops.subscribe("devices/#"),
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    let (code, output) = broker.mosquitto_pub(&[
        "-V",
        "311",
        "-u",
        "sensor1",
        "-P",
        "device-secret",
        "-q",
        "1",
        "-d",
        "-t",
        "devices/sensor2/temp",
        "-m",
        "spoofed",
        "-t",
        "devices/sensor2/temp",
    ]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("received PUBACK"), "{output}");
    // A publish it may make, after the spoofed ones: it arrives, and alone.
    let (code, output) = broker.mosquitto_pub(&[
        "-V",
        "311",
        "-u",
        "sensor1",
        "-P",
        "device-secret",
        "-q",
        "1",
        "-t",
        "devices/sensor1/temp",
        "-m",
        "own",
    ]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(
        ops.message(Duration::from_secs(5)),
        Some(("devices/sensor1/temp".into(), "own".into())),
        "the spoofed message was dropped, the device's own delivered"
    );
    assert_eq!(ops.message(QUIET), None, "nothing spoofed came later");
}

#[test]
fn the_whole_flow_on_mqtt_5() {
    let (sandbox, broker) = open_registry();
    let (code, output) = broker.mosquitto_pub(&[
        "-V",
        "5",
        "-u",
        "sensor5",
        "-P",
        "device-secret",
        "-i",
        "board-5",
        "-t",
        "x",
        "-m",
        "1",
    ]);
    assert_eq!(code, 135, "CONNACK 0x87: {output}");
    assert_eq!(pending(&sandbox)[0]["protocol"], json!("5"));

    let start = Instant::now();
    sandbox
        .run(&["registry", "approve", "sensor5", "--role", "sensor"])
        .ok();
    assert_live(start, "the approved device logs in", || {
        broker
            .mosquitto_pub(&[
                "-V",
                "5",
                "-u",
                "sensor5",
                "-P",
                "device-secret",
                "-t",
                "devices/sensor5/t",
                "-m",
                "1",
            ])
            .0
            == 0
    });
    let (_, output) = broker.mosquitto_pub(&[
        "-V",
        "5",
        "-u",
        "sensor5",
        "-P",
        "device-secret",
        "-q",
        "1",
        "-d",
        "-t",
        "devices/sensor6/temp",
        "-m",
        "spoofed",
    ]);
    assert!(
        output.contains("received PUBACK (Mid: 1, RC:135)"),
        "{output}"
    );
    let (_, output) = broker.mosquitto_pub(&[
        "-V",
        "5",
        "-u",
        "sensor5",
        "-P",
        "device-secret",
        "-q",
        "1",
        "-d",
        "-t",
        "devices/sensor5/temp",
        "-m",
        "ok",
    ]);
    assert!(
        output.contains("received PUBACK (Mid: 1, RC:0)"),
        "{output}"
    );
    let (_, output) = broker.mosquitto_sub(&[
        "-V",
        "5",
        "-u",
        "sensor5",
        "-P",
        "device-secret",
        "-t",
        "commands/#",
        "-t",
        "commands/sensor5",
        "-C",
        "1",
        "-W",
        "1",
        "-d",
    ]);
    assert!(output.contains("Subscribed (mid: 1): 135, 0"), "{output}");
}

#[test]
fn messages_flow_within_granted_topics_only() {
    let (sandbox, broker) = open_registry();
    add_operator(&sandbox, "readwrite");
    register(&broker, "311", "sensor1", "device-secret");
    let start = Instant::now();
    sandbox
        .run(&["registry", "approve", "sensor1", "--role", "sensor"])
        .ok();
    assert_live(start, "the approved device logs in", || {
        register(&broker, "311", "sensor1", "device-secret") == 0
    });
    let ops = broker.client("ops-1", "operator", "ops-secret");
    ops.expect_connected();
    assert_eq!(
        ops.subscribe("devices/#"),
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    let device = broker.client("sensor1-live", "sensor1", "device-secret");
    device.expect_connected();
    device.publish("devices/sensor2/temp", "spoofed");
    device.publish("devices/sensor1/temp", "21.5");
    assert_eq!(
        ops.message(Duration::from_secs(5)),
        Some(("devices/sensor1/temp".into(), "21.5".into())),
        "the spoofed message was dropped, the own one delivered"
    );
    // Commands reach the device only on its own topic: a subscription that
    // would take another device's is refused, and delivers nothing.
    assert_eq!(
        device.subscribe("commands/sensor2"),
        [SubscribeReasonCode::Failure]
    );
    assert_eq!(
        device.subscribe("commands/+"),
        [SubscribeReasonCode::Failure]
    );
    assert_eq!(
        device.subscribe("commands/sensor1"),
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    ops.publish("commands/sensor2", "not for you");
    ops.publish("commands/sensor1", "reboot");
    assert_eq!(
        device.message(Duration::from_secs(5)),
        Some(("commands/sensor1".into(), "reboot".into()))
    );
    assert_eq!(device.message(QUIET), None, "nothing for another device");
}

#[test]
fn a_locked_registry_records_nothing() {
    let sandbox = Sandbox::new();
    let broker = sandbox.serve();
    assert_eq!(register(&broker, "311", "sensor1", "device-secret"), 5);
    assert_eq!(register(&broker, "5", "sensor1", "device-secret"), 135);
    assert_eq!(pending_count(&sandbox), 0);
    assert!(broker.log().contains("registry locked"), "{}", broker.log());
}

#[test]
fn the_registry_locks_itself() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    let broker = sandbox.serve();
    let start = Instant::now();
    sandbox.run(&["registry", "unlock", "--for", "2s"]).ok();
    assert_live(start, "a registration recorded", || {
        register(&broker, "311", "early1", "device-secret");
        pending_count(&sandbox) == 1
    });
    assert!(eventually(Duration::from_secs(3), || sandbox
        .json(&["registry", "status"])["locked"]
        == json!(true)));
    assert_eq!(register(&broker, "311", "late1", "device-secret"), 5);
    assert_eq!(
        pending_count(&sandbox),
        1,
        "nothing recorded after the window"
    );
}

#[test]
fn locking_takes_effect_while_serving() {
    let (sandbox, broker) = open_registry();
    // Open: a registration is recorded.
    assert_eq!(register(&broker, "311", "early1", "device-secret"), 5);
    assert_eq!(pending_count(&sandbox), 1);
    let start = Instant::now();
    sandbox.run(&["registry", "lock"]).ok();
    // Each try is a new name; the broker says why it refused it.
    let mut tries = 0;
    assert_live(start, "a registration refused as locked", || {
        tries += 1;
        let name = format!("late{tries}");
        register(&broker, "311", &name, "device-secret");
        broker.log().lines().any(|line| {
            line.contains("login refused")
                && line.contains(&format!("username={name} "))
                && line.contains("registry locked")
        })
    });
    assert_eq!(register(&broker, "311", "after1", "device-secret"), 5);
    let names: Vec<_> = pending(&sandbox)
        .iter()
        .map(|request| request["username"].clone())
        .collect();
    assert!(
        !names.contains(&json!("after1")) && !names.contains(&json!(format!("late{tries}"))),
        "recorded while locked: {names:?}"
    );
}

#[test]
fn failed_logins_never_touch_users() {
    let (sandbox, broker) = open_registry();
    let start = Instant::now();
    sandbox
        .run_with_stdin(
            &["user", "add", "known1", "--role", "sensor"],
            "right-password\n",
        )
        .ok();
    logins_work(&broker, start, &[("known1", "right-password")]);
    let before = sandbox.text();
    assert_eq!(register(&broker, "311", "known1", "wrong-password"), 5);
    assert_eq!(register(&broker, "5", "known1", "wrong-password"), 135);
    let (code, _) = broker.mosquitto_pub(&["-V", "311", "-t", "x", "-m", "anonymous"]);
    assert_eq!(code, 5, "no credentials");
    assert_eq!(
        register(&broker, "311", "bad-name", "device-secret"),
        5,
        "invalid username"
    );
    assert_eq!(
        register(&broker, "311", "shortpw", "abc"),
        5,
        "password against policy"
    );
    assert_eq!(sandbox.text(), before, "no user changed, nothing recorded");
    assert_eq!(register(&broker, "311", "known1", "right-password"), 0);
    let log = broker.log();
    for reason in [
        "wrong password",
        "no username or password",
        "invalid username",
        "against policy",
    ] {
        assert!(log.contains(reason), "log lacks {reason}:\n{log}");
    }
    for secret in ["wrong-password", "right-password", "device-secret"] {
        assert!(!log.contains(secret), "a password reached the log:\n{log}");
    }
    assert!(!log.contains("$argon2"), "a hash reached the log:\n{log}");
}

#[test]
fn a_second_password_marks_a_conflict_that_needs_force() {
    let sandbox = registry_sandbox();
    // Unchanged repeats are written at most once per interval: the shortest.
    let broker = sandbox.serve_with(&["--retry-write-interval", "1s"]);
    register(&broker, "311", "sensor1", "first-password");
    register(&broker, "311", "sensor1", "first-password");
    assert!(eventually(Duration::from_secs(3), || {
        let request = &pending(&sandbox)[0];
        (request["attempts"].clone(), request["conflict"].clone()) == (json!(2), json!(false))
    }));
    register(&broker, "5", "sensor1", "other-password");
    let request = &pending(&sandbox)[0];
    assert_eq!(
        (request["attempts"].clone(), request["conflict"].clone()),
        (json!(3), json!(true))
    );
    assert!(broker.log().contains("conflict"), "{}", broker.log());

    sandbox.run(&["registry", "approve", "sensor1"]).code(4);
    // Two passwords: the admin must say which one becomes the user's.
    let unclear = sandbox.run(&[
        "registry", "approve", "sensor1", "--force", "--role", "sensor",
    ]);
    let unclear = unclear.code(2);
    assert!(unclear.stderr.contains("--attempt"), "{}", unclear.stderr);
    let shown = sandbox.json(&["registry", "show", "sensor1"]);
    let attempts = shown["passwords"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{shown}");
    assert_eq!(
        (attempts[0]["attempt"].clone(), attempts[0]["count"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(
        (
            attempts[1]["protocol"].clone(),
            attempts[1]["count"].clone()
        ),
        (json!("5"), json!(1))
    );
    assert!(
        !shown.to_string().contains("argon2"),
        "hashes stay in the file"
    );
    let start = Instant::now();
    sandbox
        .run(&[
            "registry",
            "approve",
            "sensor1",
            "--force",
            "--attempt",
            "1",
            "--role",
            "sensor",
        ])
        .ok();
    // Attempt 1 is the first password.
    assert_live(start, "the approved device logs in", || {
        register(&broker, "311", "sensor1", "first-password") == 0
    });
    assert_eq!(register(&broker, "311", "sensor1", "other-password"), 5);
}

#[test]
fn a_device_retrying_unchanged_is_written_once_per_interval() {
    // The contract (durability): a device retrying while it waits for
    // approval does not rewrite the state file on every attempt; its
    // last-seen time and count are written at most once per interval (10 s
    // by default, 3 s here), and nothing is lost; a new client id is written
    // at once.
    let sandbox = registry_sandbox();
    let broker = sandbox.serve_with(&["--retry-write-interval", "3s"]);
    let attempts = || pending(&sandbox)[0]["attempts"].as_u64().unwrap();
    let login = |client_id: &str| {
        let (_client, connack) =
            Raw::connect(broker.port, &Connect::v3(client_id, "gw1", "device-secret"));
        assert_eq!(connack.body, [0, 5], "refused while pending");
    };
    let started = Instant::now();
    for _ in 0..50 {
        login("gw1-board");
    }
    assert_eq!(attempts(), 1, "the repeats are not written yet");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the retries took longer than the interval: the check above proves nothing"
    );
    assert!(
        eventually(Duration::from_secs(6), || attempts() == 50),
        "written together once the interval is over: {}",
        attempts()
    );
    login("gw1-other-board");
    let request = &pending(&sandbox)[0];
    assert_eq!(
        (request["attempts"].clone(), request["client_id"].clone()),
        (json!(51), json!("gw1-other-board")),
        "a new client id at once"
    );
}

#[test]
fn approve_match_with_role_lets_a_fleet_in() {
    let (sandbox, broker) = open_registry();
    for name in ["sensor1", "sensor2", "sensor3", "pump1"] {
        register(&broker, "311", name, &format!("{name}-secret"));
    }
    let start = Instant::now();
    sandbox
        .run(&[
            "registry", "approve", "--match", "sensor*", "--role", "sensor",
        ])
        .ok();
    for name in ["sensor1", "sensor2", "sensor3"] {
        let password = format!("{name}-secret");
        assert_live(start, &format!("{name} logs in"), || {
            broker
                .mosquitto_pub(&[
                    "-V",
                    "5",
                    "-u",
                    name,
                    "-P",
                    &password,
                    "-q",
                    "1",
                    "-t",
                    &format!("devices/{name}/t"),
                    "-m",
                    "1",
                ])
                .0
                == 0
        });
    }
    assert_eq!(register(&broker, "311", "pump1", "pump1-secret"), 5);
    assert_eq!(pending(&sandbox)[0]["username"], json!("pump1"));
}

#[test]
fn a_revoked_permission_stops_working_on_a_live_connection() {
    let (sandbox, broker) = open_registry();
    add_operator(&sandbox, "readwrite");
    let start = Instant::now();
    add_device(&sandbox, "sensor1");
    logins_work(
        &broker,
        start,
        &[("operator", "ops-secret"), ("sensor1", "device-secret")],
    );
    let ops = broker.client("ops-1", "operator", "ops-secret");
    ops.expect_connected();
    ops.subscribe("devices/#");
    let device = broker.client("sensor1-board", "sensor1", "device-secret");
    device.expect_connected();
    device.subscribe("commands/sensor1");

    // The device's publishes reach the operator and the operator's commands
    // reach the device, until the role goes: then both stop (publishes
    // refused, deliveries stopped) within the second.
    assert_stops_live(
        "revoke-role",
        &[
            Flow {
                from: &device,
                topic: "devices/sensor1/temp",
                to: &ops,
            },
            Flow {
                from: &ops,
                topic: "commands/sensor1",
                to: &device,
            },
        ],
        || {
            sandbox
                .run(&["user", "revoke-role", "sensor1", "sensor"])
                .ok();
        },
    );

    // Granting again works on the same connections, and nobody was disconnected.
    let start = Instant::now();
    sandbox
        .run(&["user", "grant-role", "sensor1", "sensor"])
        .ok();
    assert_live(start, "publishes delivered again", || {
        device.publish("devices/sensor1/temp", "again");
        ops.message(Duration::from_millis(100))
            .is_some_and(|(_, payload)| payload == "again")
    });
    assert_live(start, "commands delivered again", || {
        ops.publish("commands/sensor1", "cmd-again");
        device
            .message(Duration::from_millis(100))
            .is_some_and(|(_, payload)| payload == "cmd-again")
    });
}

#[test]
fn a_role_change_applies_to_every_holder_live() {
    let (sandbox, broker) = open_registry();
    add_operator(&sandbox, "read");
    add_device(&sandbox, "sensor1");
    let start = Instant::now();
    add_device(&sandbox, "sensor2");
    logins_work(
        &broker,
        start,
        &[
            ("operator", "ops-secret"),
            ("sensor1", "device-secret"),
            ("sensor2", "device-secret"),
        ],
    );
    let ops = broker.client("ops-1", "operator", "ops-secret");
    ops.expect_connected();
    ops.subscribe("devices/#");
    let sensor1 = broker.client("sensor1-board", "sensor1", "device-secret");
    sensor1.expect_connected();
    let sensor2 = broker.client("sensor2-board", "sensor2", "device-secret");
    sensor2.expect_connected();
    // Both holders' publishes arrive before the role loses the permission,
    // and neither's after.
    assert_stops_live(
        "role disallow",
        &[
            Flow {
                from: &sensor1,
                topic: "devices/sensor1/temp",
                to: &ops,
            },
            Flow {
                from: &sensor2,
                topic: "devices/sensor2/temp",
                to: &ops,
            },
        ],
        || {
            sandbox
                .run(&["role", "disallow", "sensor", "write:devices/{username}/#"])
                .ok();
        },
    );
}

#[test]
fn a_deleted_user_is_disconnected_and_others_are_not() {
    let (sandbox, broker) = open_registry();
    add_device(&sandbox, "sensor1");
    let start = Instant::now();
    add_device(&sandbox, "sensor2");
    logins_work(
        &broker,
        start,
        &[("sensor1", "device-secret"), ("sensor2", "device-secret")],
    );
    let doomed = broker.client("c1", "sensor1", "device-secret");
    doomed.expect_connected();
    let survivor = broker.client("c2", "sensor2", "device-secret");
    survivor.expect_connected();
    let start = Instant::now();
    sandbox.run(&["user", "delete", "sensor1"]).ok();
    assert_closed_live(&doomed, start, "the deleted user's connection");
    assert!(
        survivor.next(Duration::from_millis(500)).is_none(),
        "others stay connected"
    );
    assert_eq!(register(&broker, "311", "sensor1", "device-secret"), 5);
}

#[test]
fn a_changed_password_ends_the_remembered_one_while_serving() {
    // A verified password is remembered so that a device's reconnects cost no
    // argon2 work, but only against the hash it was verified with: after
    // `user passwd`, the old password is refused and the new one gets in.
    let (sandbox, broker) = open_registry();
    add_device(&sandbox, "sensor1");
    let start = Instant::now();
    sandbox.run(&["registry", "lock"]).ok();
    logins_work(&broker, start, &[("sensor1", "device-secret")]);
    assert_eq!(register(&broker, "311", "sensor1", "device-secret"), 0);
    let start = Instant::now();
    sandbox
        .run_with_stdin(&["user", "passwd", "sensor1"], "second-secret\n")
        .ok();
    assert_live(start, "the old password refused", || {
        register(&broker, "311", "sensor1", "device-secret") == 5
    });
    assert_eq!(register(&broker, "311", "sensor1", "second-secret"), 0);
}

#[test]
fn a_will_needs_write_permission() {
    let (sandbox, broker) = open_registry();
    add_operator(&sandbox, "read");
    let start = Instant::now();
    add_device(&sandbox, "sensor1");
    logins_work(
        &broker,
        start,
        &[("operator", "ops-secret"), ("sensor1", "device-secret")],
    );
    let ops = broker.client("ops-1", "operator", "ops-secret");
    ops.expect_connected();
    ops.subscribe("#");
    for (topic, delivered) in [("alarms/all", false), ("devices/sensor1/status", true)] {
        let mut options = rumqttc::MqttOptions::new("willer", "127.0.0.1", broker.port);
        options.set_credentials("sensor1", "device-secret");
        options.set_last_will(rumqttc::LastWill::new(
            topic,
            "gone",
            rumqttc::QoS::AtLeastOnce,
            false,
        ));
        let (client, mut connection) = rumqttc::Client::new(options, 10);
        for event in connection.iter() {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) = event {
                break;
            }
        }
        // Vanish without DISCONNECT: dropping the connection closes the socket.
        drop(connection);
        drop(client);
        let got = ops.message(Duration::from_secs(2));
        assert_eq!(got.is_some(), delivered, "will on {topic}: {got:?}");
    }
}

#[test]
fn retained_messages_work() {
    let (sandbox, broker) = open_registry();
    let start = Instant::now();
    add_operator(&sandbox, "readwrite");
    logins_work(&broker, start, &[("operator", "ops-secret")]);
    let (code, out) = broker.mosquitto_pub(&[
        "-u",
        "operator",
        "-P",
        "ops-secret",
        "-t",
        "config/x",
        "-m",
        "kept",
        "-r",
        "-q",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = broker.mosquitto_sub(&[
        "-u",
        "operator",
        "-P",
        "ops-secret",
        "-t",
        "config/#",
        "-C",
        "1",
        "-W",
        "5",
    ]);
    assert_eq!((code, out.trim()), (0, "kept"));
}

#[test]
fn users_survive_a_restart_and_sigterm_exits_0() {
    let (sandbox, broker) = open_registry();
    register(&broker, "311", "sensor1", "device-secret");
    let start = Instant::now();
    sandbox
        .run(&["registry", "approve", "sensor1", "--role", "sensor"])
        .ok();
    assert_live(start, "the approved device logs in", || {
        register(&broker, "311", "sensor1", "device-secret") == 0
    });
    assert_eq!(broker.stop(), Some(0));
    let broker = sandbox.serve();
    assert_eq!(register(&broker, "5", "sensor1", "device-secret"), 0);
    assert_eq!(register(&broker, "5", "sensor1", "device-secreT"), 135);
}

#[test]
fn a_corrupt_state_file_while_serving_keeps_the_last_good_state() {
    let (sandbox, broker) = open_registry();
    let start = Instant::now();
    add_device(&sandbox, "sensor1");
    logins_work(&broker, start, &[("sensor1", "device-secret")]);
    let good = sandbox.text();
    // Hand edits, not CLI changes: the contract's second is not promised for
    // them, only that they are noticed.
    std::fs::write(&sandbox.state, "this is [not toml").unwrap();
    assert!(eventually(LIVE_PATIENCE, || broker
        .log()
        .contains("cannot read state file")));
    assert!(broker.log().contains("last good state"), "{}", broker.log());
    assert_eq!(register(&broker, "311", "sensor1", "device-secret"), 0);
    assert_eq!(sandbox.text(), "this is [not toml", "never overwritten");
    std::fs::write(
        &sandbox.state,
        good.replace("[users.sensor1]", "[users.sensor9]"),
    )
    .unwrap();
    assert!(eventually(LIVE_PATIENCE, || register(
        &broker,
        "311",
        "sensor9",
        "device-secret"
    ) == 0));
}

#[test]
fn a_state_file_that_does_not_parse_stops_serve_from_starting() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.state.parent().unwrap()).unwrap();
    std::fs::write(&sandbox.state, "version = \n").unwrap();
    sandbox
        .run(&["serve", "--listen", "127.0.0.1:0"])
        .code(1)
        .stderr_has("line 1, column");
}

#[test]
fn concurrent_registrations_and_cli_writes_lose_nothing() {
    // Thirty devices register from one address at once: more than the flood
    // limit lets through, and not what this test is about.
    let sandbox = registry_sandbox();
    sandbox.without_flood_limits();
    let broker = sandbox.serve();
    let devices: Vec<_> = (0..30)
        .map(|i| {
            std::process::Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
                .args([
                    "-u",
                    &format!("fleet{i:02}"),
                    "-P",
                    "fleet-secret",
                    "-t",
                    "x",
                    "-m",
                    "1",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let admins: Vec<_> = (0..20)
        .map(|i| {
            sandbox
                .command(&["role", "create", &format!("extra{i:02}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for device in devices {
        device.wait_with_output().unwrap();
    }
    for admin in admins {
        let output = admin.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(pending_count(&sandbox), 30);
    assert_eq!(
        sandbox.json(&["role", "list"]).as_array().unwrap().len(),
        21
    );
}

#[test]
fn a_tls_listener_serves_the_same_rules() {
    let sandbox = Sandbox::new();
    add_operator(&sandbox, "readwrite");
    let dir = sandbox.dir.path();
    let (cert, key) = common::self_signed(dir, "localhost");
    // Every store commit takes 300 ms here (a slow disk; debug builds
    // only), so that the PUBACK below is seen to wait for it.
    let broker = sandbox.serve_env(
        &[
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        None,
        &[("MQREG_TEST_COMMIT_DELAY_MS", "300")],
    );
    let tls_port = broker.tls_port().expect("a TLS listener").to_string();
    let tls = |password: &str| {
        let output = std::process::Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &tls_port,
                "--cafile",
                cert.to_str().unwrap(),
            ])
            .args([
                "-V", "5", "-u", "operator", "-P", password, "-q", "1", "-t", "a/b", "-m", "x",
            ])
            .output()
            .unwrap();
        output.status.code()
    };
    assert_eq!(tls("ops-secret"), Some(0));
    assert_eq!(tls("wrong-secret"), Some(135));
    // A message owed to an offline persistent session is on disk before its
    // PUBACK leaves, over TLS too: the layer above TLS holds the PUBACK and
    // sends it once the store has written (a publisher waiting forever
    // would time out here).
    let keeper = [
        "-u",
        "operator",
        "-P",
        "ops-secret",
        "-i",
        "keeper",
        "-c",
        "-q",
        "1",
        "-t",
        "kept/#",
    ];
    let (code, output) = broker.mosquitto_sub(&[&keeper[..], &["-E"]].concat());
    assert_eq!(code, 0, "{output}");
    let started = std::time::Instant::now();
    let published = std::process::Command::new("timeout")
        .args([
            "10",
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            &tls_port,
            "--cafile",
        ])
        .arg(&cert)
        .args([
            "-u",
            "operator",
            "-P",
            "ops-secret",
            "-q",
            "1",
            "-t",
            "kept/x",
            "-m",
            "kept",
        ])
        .output()
        .unwrap();
    assert_eq!(
        published.status.code(),
        Some(0),
        "{published:?}\n{}",
        broker.log()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the PUBACK did not wait for the store"
    );
    let (code, output) = broker.mosquitto_sub(&[&keeper[..], &["-C", "1", "-W", "5"]].concat());
    assert_eq!((code, output.trim()), (0, "kept"));
}

#[test]
fn tls_needs_a_certificate_and_a_key() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
        ])
        .code(2)
        .stderr_has("--tls-cert");
}

#[test]
fn pending_requests_are_bounded() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    mqreg::state::store::Store::new(&sandbox.state)
        .update(|state| {
            state.registry.max_pending = 3;
            Ok(())
        })
        .unwrap();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve_with(&["--retry-write-interval", "1s"]);
    for i in 0..5 {
        assert_eq!(
            register(&broker, "311", &format!("flood{i}"), "flood-secret"),
            5
        );
    }
    let names: Vec<_> = pending(&sandbox)
        .iter()
        .map(|r| r["username"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("flood0"), json!("flood1"), json!("flood2")],
        "the first ones are kept"
    );
    assert!(
        broker.log().contains("pending requests full"),
        "{}",
        broker.log()
    );
    // Known requests are still updated when the registry is full (an
    // unchanged repeat within the interval is written when it is over).
    register(&broker, "311", "flood0", "flood-secret");
    assert!(eventually(Duration::from_secs(3), || pending(&sandbox)[0]
        ["attempts"]
        == json!(2)));
}

#[test]
fn registrations_and_refused_logins_are_audited() {
    let (sandbox, broker) = open_registry();
    register(&broker, "311", "sensor1", "Broker-Canary-1");
    register(&broker, "5", "sensor1", "Broker-Canary-1");
    sandbox.run(&["registry", "lock"]).ok();
    // Polling would add audit entries: the contract's second, then one try.
    std::thread::sleep(LIVE);
    register(&broker, "311", "stranger1", "Broker-Canary-2");
    let entries = sandbox.json(&["audit", "-n", "100"]);
    let broker_entries: Vec<(String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == json!("broker"))
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        broker_entries,
        vec![
            ("registration recorded".to_owned(), "sensor1".to_owned()),
            ("registration updated".to_owned(), "sensor1".to_owned()),
            ("login refused".to_owned(), "stranger1".to_owned()),
        ]
    );
    let stranger = entries.as_array().unwrap().last().unwrap();
    assert!(stranger["outcome"]
        .as_str()
        .unwrap()
        .contains("registry locked"));
    assert!(stranger["detail"]
        .as_str()
        .unwrap()
        .contains("stranger1-board"));
    let text = std::fs::read_to_string(sandbox.state.with_file_name("audit.jsonl")).unwrap();
    assert!(
        !text.contains("Canary") && !text.contains("argon2"),
        "{text}"
    );
}
