//! Access control beyond the password, against a real broker with real
//! clients (mosquitto's and a Rust one): client id rules, no takeover across
//! users, disabled users, bans, flood limits, conflicting registrations, and
//! `registry watch`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{assert_closed_live, assert_live, eventually, Broker, Sandbox, Seen};
use mqreg::state::store::Store;
use serde_json::json;

const PASSWORD: &str = "device-secret";

/// Users alice and bob (password `device-secret`) with the `sensor` role,
/// which ties topics to the username and to the client id.
fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .add_role(
            "sensor",
            &[
                "readwrite:devices/{username}/#",
                "read:commands/{client_id}",
            ],
        )
        .add_users(&["alice", "bob"], PASSWORD, Some("sensor"));
    sandbox
}

fn edit(sandbox: &Sandbox, change: impl FnOnce(&mut mqreg::state::State)) {
    Store::new(&sandbox.state)
        .update(|state| {
            change(state);
            Ok(())
        })
        .unwrap();
}

/// `mosquitto_pub` once as `user` with `client_id`; its exit code is the
/// CONNACK code when refused (5 / 135 not authorized, 2 / 133 id rejected).
fn publish_as(broker: &Broker, version: &str, user: &str, password: &str, client_id: &str) -> i32 {
    broker
        .mosquitto_pub(&[
            "-V",
            version,
            "-u",
            user,
            "-P",
            password,
            "-i",
            client_id,
            "-t",
            &format!("devices/{user}/x"),
            "-m",
            "hi",
        ])
        .0
}

/// A connected Rust client, or a panic.
fn connected(broker: &Broker, client_id: &str, user: &str) -> common::Client {
    let client = broker.client(client_id, user, PASSWORD);
    client.expect_connected();
    client
}

#[track_caller]
fn assert_closed_within(client: &common::Client, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match client.next(left) {
            Some(Seen::Closed) => return,
            Some(_) => continue,
            None => panic!("the connection was not closed within {timeout:?}"),
        }
    }
}

#[test]
fn the_registered_rule_binds_a_user_to_the_client_id_it_registered_with() {
    let sandbox = sandbox();
    sandbox
        .run(&["registry", "client-ids", "--registered"])
        .ok();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    assert_eq!(
        publish_as(&broker, "311", "sensor1", PASSWORD, "board-1"),
        5
    );
    let start = Instant::now();
    sandbox
        .run(&["registry", "approve", "sensor1", "--role", "sensor"])
        .ok();
    assert_live(start, "the approved device logs in", || {
        publish_as(&broker, "311", "sensor1", PASSWORD, "board-1") == 0
    });
    let user = sandbox.json(&["user", "show", "sensor1"]);
    assert_eq!(user["client_ids"], json!("registered"), "{user}");
    assert_eq!(user["registered_client_ids"], json!(["board-1"]), "{user}");
    assert_eq!(
        publish_as(&broker, "311", "sensor1", PASSWORD, "board-2"),
        5
    );
    assert_eq!(
        publish_as(&broker, "5", "sensor1", PASSWORD, "board-2"),
        135
    );
    assert!(
        broker.log().contains("client id not allowed"),
        "{}",
        broker.log()
    );
    // Users made before the rule have no registered id: they are refused
    // until given a rule of their own.
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice"), 5);
    let start = Instant::now();
    sandbox
        .run(&["user", "client-ids", "alice", "--set", "{username}"])
        .ok();
    assert_live(start, "alice's own rule lets her in", || {
        publish_as(&broker, "311", "alice", PASSWORD, "alice") == 0
    });
}

#[test]
fn client_id_patterns_stop_one_user_reading_another_users_commands() {
    let sandbox = sandbox();
    let broker = sandbox.serve();
    // With `any` (the default), alice can use bob's client id while he is
    // away, and with it read commands/{client_id}: the hole the rule closes.
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "bob"), 0);
    let start = Instant::now();
    sandbox
        .run(&[
            "registry",
            "client-ids",
            "--set",
            "{username}",
            "{username}-*",
        ])
        .ok();
    assert_live(start, "bob's client id refused to alice", || {
        publish_as(&broker, "311", "alice", PASSWORD, "bob") == 5
    });
    assert_eq!(publish_as(&broker, "5", "alice", PASSWORD, "bob-2"), 135);
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice"), 0);
    assert_eq!(
        publish_as(&broker, "5", "alice", PASSWORD, "alice-kitchen"),
        0
    );

    // A narrower rule closes the live connections it refuses, within 1 s.
    let live = connected(&broker, "alice-kitchen", "alice");
    let start = Instant::now();
    sandbox
        .run(&["user", "client-ids", "alice", "--set", "{username}"])
        .ok();
    assert_closed_live(&live, start, "the connection the narrower rule refuses");
    let shown = sandbox.json(&["user", "client-ids", "alice"]);
    assert_eq!(shown["client_ids"], json!(["{username}"]));
    assert_eq!(shown["client_ids_own"], json!(true));
    let start = Instant::now();
    sandbox
        .run(&["user", "client-ids", "alice", "--inherit"])
        .ok();
    assert_live(start, "the inherited rule lets alice-kitchen in", || {
        publish_as(&broker, "311", "alice", PASSWORD, "alice-kitchen") == 0
    });
    sandbox
        .run(&["user", "client-ids", "alice", "--set", "[unclosed"])
        .code(2);
}

#[test]
fn a_registry_pattern_refuses_registrations_with_other_client_ids() {
    let sandbox = sandbox();
    sandbox
        .run(&["registry", "client-ids", "--set", "{username}"])
        .ok();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    assert_eq!(publish_as(&broker, "311", "sensor7", PASSWORD, "other"), 5);
    assert_eq!(sandbox.json(&["registry", "list"]), json!([]));
    assert_eq!(
        publish_as(&broker, "311", "sensor7", PASSWORD, "sensor7"),
        5
    );
    assert_eq!(
        sandbox.json(&["registry", "list"])[0]["username"],
        json!("sensor7")
    );
}

#[test]
fn another_users_live_client_id_is_refused_and_the_holder_keeps_it() {
    // Contract: CONNACK 2 (3.1.1) / 0x85 (5), never a kick; the same user
    // taking over its own session is MQTT-3.1.4-2 (3.1.1; MQTT-3.1.4-3 in
    // 5.0) and keeps working.
    let sandbox = sandbox();
    let broker = sandbox.serve();
    let holder = connected(&broker, "shared", "alice");
    holder.subscribe("devices/alice/#");
    assert_eq!(publish_as(&broker, "311", "bob", PASSWORD, "shared"), 2);
    assert_eq!(publish_as(&broker, "5", "bob", PASSWORD, "shared"), 133);
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice-2"), 0);
    assert_eq!(
        holder.message(Duration::from_secs(5)),
        Some(("devices/alice/x".into(), "hi".into())),
        "the holder is still connected and subscribed"
    );
    let (code, _) = broker.mosquitto_pub(&[
        "-u",
        "alice",
        "-P",
        PASSWORD,
        "-i",
        "shared",
        "-t",
        "devices/alice/y",
        "-m",
        "mine",
    ]);
    assert_eq!(code, 0, "the same user takes its session over");
    assert_closed_within(&holder, Duration::from_secs(5));
}

#[test]
fn a_disabled_user_is_refused_and_disconnected_and_enable_undoes_it() {
    let sandbox = sandbox();
    let broker = sandbox.serve();
    let live = connected(&broker, "alice-1", "alice");
    let start = Instant::now();
    let shown = sandbox.json(&["user", "disable", "alice"]);
    assert_eq!(shown["disabled"], json!(true));
    assert_closed_live(&live, start, "the disabled user's connection");
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice-1"), 5);
    assert_eq!(publish_as(&broker, "5", "alice", PASSWORD, "alice-1"), 135);
    assert_eq!(publish_as(&broker, "311", "bob", PASSWORD, "bob-1"), 0);
    let user = sandbox.json(&["user", "show", "alice"]);
    assert_eq!(user["roles"], json!(["sensor"]), "roles are kept");
    let start = Instant::now();
    sandbox.run(&["user", "enable", "alice"]).ok();
    assert_live(start, "the enabled user logs in", || {
        publish_as(&broker, "311", "alice", PASSWORD, "alice-1") == 0
    });
    sandbox.run(&["user", "disable", "nobody1"]).code(3);
    let audit = std::fs::read_to_string(sandbox.state.with_file_name("audit.jsonl")).unwrap();
    assert!(audit.contains("\"user disable\""), "{audit}");
}

#[test]
fn an_address_ban_closes_connections_and_refuses_logins_and_registrations() {
    let sandbox = sandbox();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    let live = connected(&broker, "alice-1", "alice");
    let start = Instant::now();
    let ban = sandbox.json(&[
        "ban",
        "add",
        "--address",
        "127.0.0.1/8",
        "--reason",
        "lab network",
    ]);
    assert_eq!(ban["kind"], json!("address"));
    assert_eq!(ban["value"], json!("127.0.0.0/8"), "written canonical");
    assert_eq!(ban["until"], json!(null));
    assert_closed_live(&live, start, "the banned address's connection");
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice-1"), 5);
    assert_eq!(
        publish_as(&broker, "5", "newdevice", PASSWORD, "new-1"),
        135
    );
    assert_eq!(
        sandbox.json(&["registry", "list"]),
        json!([]),
        "no registration"
    );
    let bans = sandbox.json(&["ban", "list"]);
    assert_eq!(bans.as_array().unwrap().len(), 1);
    assert_eq!(bans[0]["reason"], json!("lab network"));
    let id = ban["id"].as_u64().unwrap().to_string();
    let start = Instant::now();
    sandbox.run(&["ban", "remove", &id]).ok();
    assert_live(start, "the unbanned address logs in", || {
        publish_as(&broker, "311", "alice", PASSWORD, "alice-1") == 0
    });
    sandbox.run(&["ban", "remove", &id]).code(3);
    sandbox
        .run(&["ban", "add", "--address", "300.1.2.3"])
        .code(2)
        .stderr_has("invalid address");
    sandbox
        .run(&["ban", "add", "--reason", "no target"])
        .code(2);
}

#[test]
fn username_and_client_id_bans_match_only_what_they_name_and_expire() {
    let sandbox = sandbox();
    // The retries below would trip the flood limit, which has a test of its own.
    edit(&sandbox, |state| state.flood.max_refusals = 0);
    let broker = sandbox.serve();
    let start = Instant::now();
    sandbox
        .run(&["ban", "add", "--client-id", "evil-board"])
        .ok();
    sandbox
        .run(&["ban", "add", "--username", "bob", "--for", "2s"])
        .ok();
    assert_live(start, "both bans in force", || {
        publish_as(&broker, "311", "alice", PASSWORD, "evil-board") == 5
            && publish_as(&broker, "311", "bob", PASSWORD, "bob-1") == 5
    });
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice-1"), 0);
    // The username ban lifts itself; the client id ban stays.
    assert!(eventually(Duration::from_secs(5), || publish_as(
        &broker, "311", "bob", PASSWORD, "bob-1"
    ) == 0));
    let bans = sandbox.json(&["ban", "list"]);
    assert_eq!(bans.as_array().unwrap().len(), 1, "{bans}");
    assert_eq!(bans[0]["kind"], json!("client_id"));
}

#[test]
fn the_flood_limit_shuts_an_address_out_visibly_and_spares_known_good_logins() {
    // The contract: a shut-out address is listed by `ban list` (kind
    // `flood`, its expiry) and lifted by `ban remove ID`; a login the broker
    // can verify without hashing (a remembered good password) is never
    // refused by it. Loopback is exempt by default: cleared here.
    let sandbox = sandbox();
    edit(&sandbox, |state| {
        state.flood.max_refusals = 3;
        state.flood.ban_for = Duration::from_secs(60);
        state.flood.exempt.clear();
    });
    let broker = sandbox.serve();
    for _ in 0..3 {
        assert_eq!(
            publish_as(&broker, "311", "alice", "wrong-pw", "alice-1"),
            5
        );
    }
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice-1"), 0);
    // The fourth refusal empties the bucket and shuts the address out.
    assert_eq!(
        publish_as(&broker, "311", "alice", "wrong-pw", "alice-1"),
        5
    );
    let bans = sandbox.json(&["ban", "list"]);
    let bans = bans.as_array().unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(
        (bans[0]["kind"].clone(), bans[0]["value"].clone()),
        (json!("flood"), json!("127.0.0.1"))
    );
    assert!(bans[0]["until"].is_string(), "it has an expiry: {bans:?}");
    // alice's right password was verified before: no hashing, no refusal.
    assert_eq!(publish_as(&broker, "311", "alice", PASSWORD, "alice-1"), 0);
    // bob's never was: refused without a check, like any unknown pair.
    assert_eq!(publish_as(&broker, "5", "bob", PASSWORD, "bob-1"), 135);
    let log = broker.log();
    assert_eq!(log.matches("address shut out").count(), 1, "{log}");
    assert!(log.contains("more than 3 refused logins in 1m"), "{log}");
    let id = bans[0]["id"].to_string();
    let start = Instant::now();
    sandbox.run(&["ban", "remove", &id]).ok();
    assert_live(start, "the shut-out lifted", || {
        publish_as(&broker, "5", "bob", PASSWORD, "bob-1") == 0
    });
    let audit = std::fs::read_to_string(sandbox.state.with_file_name("audit.jsonl")).unwrap();
    assert_eq!(audit.matches("address shut out").count(), 1, "{audit}");
}

#[test]
fn a_changed_flood_table_is_in_effect_at_once() {
    // `[flood]` turned off (or the address made exempt) lifts a shut-out in
    // force without a restart.
    let sandbox = sandbox();
    edit(&sandbox, |state| {
        state.flood.max_refusals = 2;
        state.flood.exempt.clear();
    });
    let broker = sandbox.serve();
    for _ in 0..3 {
        publish_as(&broker, "311", "alice", "wrong-pw", "alice-1");
    }
    assert_eq!(
        publish_as(&broker, "5", "bob", PASSWORD, "bob-1"),
        135,
        "shut out"
    );
    // Written through the store, as the CLI writes.
    let start = Instant::now();
    edit(&sandbox, |state| {
        state.flood.exempt = vec!["127.0.0.0/8".into()]
    });
    assert_live(start, "the exempted address logs in", || {
        publish_as(&broker, "5", "bob", PASSWORD, "bob-1") == 0
    });
}

#[test]
fn loopback_is_never_shut_out_by_default() {
    // Issue 17, point 7: twenty devices registering at once behind one
    // address, and a local service retrying a wrong password, shut out
    // nobody on loopback (the default `[flood] exempt`).
    let sandbox = sandbox();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    let devices: Vec<_> = (0..20)
        .map(|index| {
            let port = broker.port;
            std::thread::spawn(move || {
                let name = format!("rig{index}");
                let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                let connect = common::raw::Connect::v3(&name, &name, "rig-secret").encode();
                common::send_connect(&mut socket, &connect, Duration::from_secs(30)).unwrap()[3]
            })
        })
        .collect();
    for device in devices {
        assert_eq!(device.join().unwrap(), 5, "refused while pending");
    }
    for _ in 0..17 {
        publish_as(&broker, "311", "alice", "wrong-pw", "alice-1");
    }
    assert_eq!(
        sandbox
            .json(&["registry", "list"])
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(publish_as(&broker, "311", "bob", PASSWORD, "bob-1"), 0);
    assert_eq!(sandbox.json(&["ban", "list"]), json!([]));
    assert!(
        !broker.log().contains("address shut out"),
        "{}",
        broker.log()
    );
}

#[test]
fn a_fleet_sharing_one_username_all_get_in_at_once() {
    // Issue 17, point 8: 300 connections of one username with the right
    // password at once (a fleet reconnecting after a gateway restart) are
    // all accepted: the first check settles the others, which wait for it
    // instead of being refused; and a right password right after a wrong
    // one waits out the cooldown instead of being refused.
    let sandbox = sandbox();
    let broker = sandbox.serve();
    let start = std::sync::Arc::new(std::sync::Barrier::new(300));
    let devices: Vec<_> = (0..300)
        .map(|index| {
            let (start, port) = (start.clone(), broker.port);
            std::thread::spawn(move || {
                let client_id = format!("fleet-{index}");
                let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                let connect = common::raw::Connect::v3(&client_id, "alice", PASSWORD).encode();
                start.wait();
                common::send_connect(&mut socket, &connect, Duration::from_secs(30)).unwrap()[3]
            })
        })
        .collect();
    let refused = devices
        .into_iter()
        .map(|device| device.join().unwrap())
        .filter(|code| *code != 0)
        .count();
    assert_eq!(refused, 0, "{}", broker.log());
    assert_eq!(publish_as(&broker, "311", "bob", "wrong-pw", "bob-1"), 5);
    assert_eq!(publish_as(&broker, "311", "bob", PASSWORD, "bob-1"), 0);
}

#[test]
fn the_registration_limit_bounds_new_requests_per_address() {
    let sandbox = sandbox();
    edit(&sandbox, |state| {
        state.flood.max_registrations = 2;
        state.flood.exempt.clear();
    });
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    for index in 0..5 {
        let name = format!("newdev{index}");
        assert_eq!(publish_as(&broker, "311", &name, PASSWORD, &name), 5);
    }
    // Two fit the bucket, the third tripped it, the rest were not looked at.
    assert_eq!(
        sandbox
            .json(&["registry", "list"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(broker.log().contains("more than 2 registration attempts"));
}

#[test]
fn every_distinct_password_of_a_conflicted_request_is_kept_and_one_is_chosen() {
    let sandbox = sandbox();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    for (password, client_id) in [
        ("first-pw", "board-a"),
        ("second-pw", "board-b"),
        ("first-pw", "board-a2"),
    ] {
        assert_eq!(
            publish_as(&broker, "311", "sensor3", password, client_id),
            5
        );
    }
    let listed = &sandbox.json(&["registry", "list"])[0];
    assert_eq!(
        (
            listed["attempts"].clone(),
            listed["passwords"].clone(),
            listed["conflict"].clone()
        ),
        (json!(3), json!(2), json!(true))
    );
    let table = sandbox.run(&["registry", "show", "sensor3"]).ok();
    assert!(table.stdout.contains("board-b"), "{}", table.stdout);
    assert!(!table.stdout.contains("argon2"), "{}", table.stdout);
    sandbox
        .run(&["registry", "approve", "sensor3", "--force"])
        .code(2)
        .stderr_has("board-b");
    sandbox
        .run(&[
            "registry",
            "approve",
            "sensor3",
            "--force",
            "--attempt",
            "3",
        ])
        .code(2);
    sandbox
        .run(&["registry", "approve", "--all", "--attempt", "2"])
        .code(2);
    let start = Instant::now();
    sandbox
        .run(&[
            "registry",
            "approve",
            "sensor3",
            "--force",
            "--attempt",
            "2",
            "--role",
            "sensor",
        ])
        .ok();
    assert_live(start, "the chosen password logs in", || {
        publish_as(&broker, "311", "sensor3", "second-pw", "board-b") == 0
    });
    let user = sandbox.json(&["user", "show", "sensor3"]);
    assert_eq!(user["registered_client_ids"], json!(["board-b"]));
    assert_eq!(
        publish_as(&broker, "311", "sensor3", "first-pw", "board-a"),
        5
    );
    sandbox.run(&["registry", "show", "sensor3"]).code(3);
}

/// `mqreg registry watch`, its stdout lines on a channel; killed when dropped.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(sandbox: &Sandbox, args: &[&str]) -> Self {
        let mut all = vec!["registry", "watch"];
        all.extend_from_slice(args);
        let mut child = sandbox
            .command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    fn next(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from registry watch")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn registry_watch_streams_a_real_devices_registration_and_runs_exec() {
    let sandbox = sandbox();
    sandbox.run(&["registry", "unlock"]).ok();
    sandbox.seed_pending(&[("early1", "early-secret", false)]);
    let broker = sandbox.serve();
    let ran = sandbox.dir.path().join("ran.txt");
    let command = format!(
        "echo \"$MQREG_EVENT $MQREG_USERNAME $MQREG_CLIENT_ID $MQREG_CONFLICT\" >> '{}'",
        ran.display()
    );
    let watch = Watch::start(&sandbox, &["--json", "--exec", &command]);
    // Requests already pending come first: the watch is running.
    let first: serde_json::Value = serde_json::from_str(&watch.next()).unwrap();
    assert_eq!(
        (first["event"].clone(), first["username"].clone()),
        (json!("existing"), json!("early1"))
    );

    assert_eq!(
        publish_as(&broker, "5", "sensor9", PASSWORD, "board-9"),
        135
    );
    let new: serde_json::Value = serde_json::from_str(&watch.next()).unwrap();
    assert_eq!(new["event"], json!("new"));
    assert_eq!(new["username"], json!("sensor9"));
    assert_eq!(new["client_id"], json!("board-9"));
    assert_eq!(new["protocol"], json!("5"));
    assert_eq!(new["passwords"][0]["attempt"], json!(1));

    assert_eq!(
        publish_as(&broker, "311", "sensor9", PASSWORD, "board-9"),
        5
    );
    let changed: serde_json::Value = serde_json::from_str(&watch.next()).unwrap();
    assert_eq!(
        (changed["event"].clone(), changed["attempts"].clone()),
        (json!("changed"), json!(2))
    );
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&ran).is_ok_and(|text| text == "new sensor9 board-9 false\n")
    }));
}

#[test]
fn registry_watch_works_without_a_broker() {
    let sandbox = sandbox();
    let watch = Watch::start(&sandbox, &[]);
    assert!(watch.next().starts_with("EVENT"), "a header first");
    sandbox.seed_pending(&[("pump1", "pump-secret", true)]);
    let line = watch.next();
    assert!(line.starts_with("new"), "{line}");
    assert!(
        line.contains("pump1") && line.contains("pump1-client"),
        "{line}"
    );
}

#[test]
fn a_device_with_an_empty_client_id_is_judged_by_the_id_it_sent() {
    use common::raw::{Connect, Raw};
    // Registered with an empty client id (one is assigned), approved under
    // the registered rule: it logs in with an empty id again, and a state
    // change does not cut it off for the id the broker assigned.
    let sandbox = sandbox();
    sandbox
        .run(&["registry", "client-ids", "--registered"])
        .ok();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    let (_, connack) = Raw::connect(broker.port, &Connect::v5("", "pump7", PASSWORD));
    assert_eq!(connack.body[1], 0x87);
    sandbox
        .run(&["registry", "approve", "pump7", "--role", "sensor"])
        .ok();
    assert_eq!(
        sandbox.json(&["user", "show", "pump7"])["registered_client_ids"],
        json!([""])
    );
    let (mut device, connack) = Raw::connect(broker.port, &Connect::v5("", "pump7", PASSWORD));
    assert_eq!(connack.body[1], 0, "{connack:?}");
    sandbox
        .run(&["role", "allow", "sensor", "read:extra/#"])
        .ok();
    let (closed, _) = device.closed_within(Duration::from_millis(1500));
    assert!(!closed, "a state change left the device connected");
    let (_, connack) = Raw::connect(broker.port, &Connect::v5("pump7-x", "pump7", PASSWORD));
    assert_eq!(
        connack.body[1], 0x87,
        "another id is not the registered one"
    );
}

#[test]
fn more_devices_at_once_than_check_places_all_get_in() {
    // At most 64 password checks wait for argon2. The 150 devices of a
    // gateway that restarts log in at the same moment: each waits its turn
    // (first come, first served) instead of being refused as busy.
    let sandbox = sandbox();
    let names: Vec<String> = (0..150).map(|i| format!("device{i}")).collect();
    let hash = mqreg::password::hash(PASSWORD, common::cheap_cost());
    edit(&sandbox, |state| {
        for name in &names {
            state.users.insert(
                name.clone(),
                mqreg::state::User::new(hash.clone(), vec!["sensor".into()], chrono::Utc::now()),
            );
        }
    });
    let broker = sandbox.serve_with(&["--hash-workers", "1"]);
    let start = std::sync::Arc::new(std::sync::Barrier::new(names.len()));
    let devices: Vec<_> = names
        .iter()
        .map(|name| {
            let (start, port, name) = (start.clone(), broker.port, name.clone());
            std::thread::spawn(move || {
                let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                let connect = common::raw::Connect::v3(&name, &name, PASSWORD).encode();
                start.wait();
                common::send_connect(&mut socket, &connect, Duration::from_secs(30)).unwrap()[3]
            })
        })
        .collect();
    let refused: Vec<usize> = devices
        .into_iter()
        .map(|device| device.join().unwrap())
        .enumerate()
        .filter(|(_, code)| *code != 0)
        .map(|(index, _)| index)
        .collect();
    assert!(
        refused.is_empty(),
        "refused: devices {refused:?}\n{}",
        broker.log()
    );
}
