//! The control plane from outside: the HTTP API with admin, viewer and no
//! token, its error mapping, the control socket's `client` commands, the
//! event stream and `/metrics`, all against the real binary with real
//! devices (mosquitto's clients and raw MQTT 5 packets).

mod common;

use std::io::BufRead;
use std::sync::mpsc;
use std::time::Duration;

use common::raw::{self, Connect, Props, Raw, Will};
use common::{call, eventually, Broker, Sandbox};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "password1";

/// A broker with an HTTP API, and an admin's and a viewer's token.
struct Setup {
    sandbox: Sandbox,
    broker: Broker,
    base: String,
    admin: String,
    viewer: String,
}

fn token(sandbox: &Sandbox, name: &str, role: &str) -> String {
    let created = sandbox.json(&["token", "create", name, "--role", role]);
    created["token"].as_str().unwrap().to_owned()
}

fn setup(extra: &[&str]) -> Setup {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .add_role("all", &["readwrite:#"])
        .add_role("device", &["readwrite:devices/{username}/#"])
        .add_users(&["alice"], PASSWORD, Some("all"));
    let admin = token(&sandbox, "ops", "admin");
    let viewer = token(&sandbox, "grafana", "viewer");
    let mut args = vec!["--http", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let broker = sandbox.serve_with(&args);
    let base = broker.http_base();
    Setup {
        sandbox,
        broker,
        base,
        admin,
        viewer,
    }
}

impl Setup {
    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.base, method, path, Some(&self.admin), body)
    }
    fn viewer(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.base, method, path, Some(&self.viewer), body)
    }
}

#[test]
fn every_path_answers_admin_viewer_and_no_token_as_documented() {
    let s = setup(&[]);
    s.sandbox.seed_pending(&[
        ("sensor1", "secret123", false),
        ("sensor2", "secret123", false),
    ]);
    let ban_id = s.sandbox.json(&["ban", "add", "--address", "192.0.2.1"])["id"]
        .as_u64()
        .unwrap();
    // (method, path, body, what an admin gets); every change is refused to a
    // viewer (403), every path to no token (401).
    let cases: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("GET", "/api/v1/registry".into(), None, 200),
        (
            "POST",
            "/api/v1/registry/unlock".into(),
            Some(json!({"for": "10m"})),
            200,
        ),
        ("POST", "/api/v1/registry/lock".into(), None, 200),
        ("GET", "/api/v1/registry/requests".into(), None, 200),
        ("GET", "/api/v1/registry/requests/sensor1".into(), None, 200),
        ("GET", "/api/v1/registry/refused".into(), None, 200),
        (
            "POST",
            "/api/v1/registry/approve".into(),
            Some(json!({"match": "sensor*", "preview": true})),
            200,
        ),
        (
            "POST",
            "/api/v1/registry/requests/sensor1/approve".into(),
            Some(json!({"roles": ["device"]})),
            200,
        ),
        (
            "POST",
            "/api/v1/registry/requests/sensor2/reject".into(),
            None,
            200,
        ),
        (
            "POST",
            "/api/v1/registry/reject".into(),
            Some(json!({"all": true})),
            200,
        ),
        ("GET", "/api/v1/registry/client-ids".into(), None, 200),
        (
            "POST",
            "/api/v1/registry/client-ids".into(),
            Some(json!({"rule": "any"})),
            200,
        ),
        ("GET", "/api/v1/users".into(), None, 200),
        (
            "POST",
            "/api/v1/users".into(),
            Some(json!({"username": "bob", "password": PASSWORD, "roles": ["device"]})),
            201,
        ),
        ("GET", "/api/v1/users/bob".into(), None, 200),
        (
            "POST",
            "/api/v1/users/bob/roles".into(),
            Some(json!({"grant": ["all"], "revoke": ["device"]})),
            200,
        ),
        ("POST", "/api/v1/users/bob/disable".into(), None, 200),
        ("POST", "/api/v1/users/bob/enable".into(), None, 200),
        (
            "POST",
            "/api/v1/users/bob/password".into(),
            Some(json!({"password": "another1"})),
            200,
        ),
        (
            "POST",
            "/api/v1/users/bob/client-ids".into(),
            Some(json!({"rule": ["{username}-*"]})),
            200,
        ),
        ("DELETE", "/api/v1/users/bob".into(), None, 200),
        ("GET", "/api/v1/roles".into(), None, 200),
        (
            "POST",
            "/api/v1/roles".into(),
            Some(json!({"name": "reader", "permissions": ["read:alerts/#"]})),
            201,
        ),
        (
            "POST",
            "/api/v1/roles/reader/allow".into(),
            Some(json!({"permissions": [{"access": "write", "filter": "x/#"}]})),
            200,
        ),
        (
            "POST",
            "/api/v1/roles/reader/disallow".into(),
            Some(json!({"permissions": ["write:x/#"]})),
            200,
        ),
        ("DELETE", "/api/v1/roles/reader".into(), None, 200),
        ("GET", "/api/v1/bans".into(), None, 200),
        (
            "POST",
            "/api/v1/bans".into(),
            Some(json!({"client_id": "bad", "for": "1h", "reason": "test"})),
            201,
        ),
        ("DELETE", format!("/api/v1/bans/{ban_id}"), None, 200),
        ("GET", "/api/v1/tokens".into(), None, 200),
        (
            "POST",
            "/api/v1/tokens".into(),
            Some(json!({"name": "ci", "role": "viewer", "for": "1h"})),
            201,
        ),
        ("DELETE", "/api/v1/tokens/ci".into(), None, 200),
        ("GET", "/api/v1/audit?lines=5".into(), None, 200),
        ("GET", "/api/v1/clients".into(), None, 200),
        ("GET", "/metrics".into(), None, 200),
    ];
    for (method, path, body, expected) in &cases {
        let (status, answer) = call(&s.base, method, path, None, body.clone());
        assert_eq!(status, 401, "{method} {path} without a token: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("Bearer"),
            "{answer}"
        );
        let (status, answer) = call(&s.base, method, path, Some("mqr_wrong"), body.clone());
        assert_eq!(status, 401, "{method} {path} with a wrong token: {answer}");
        let reads = *method == "GET"
            || path.ends_with("/approve") && body.as_ref().is_some_and(|b| b["preview"] == true);
        if !reads {
            let (status, answer) = s.viewer(method, path, body.clone());
            assert_eq!(status, 403, "{method} {path} as a viewer: {answer}");
        }
        let (status, answer) = s.admin(method, path, body.clone());
        assert_eq!(status, *expected, "{method} {path} as admin: {answer}");
        if reads {
            let (status, _) = s.viewer(method, path, body.clone());
            assert_eq!(status, *expected, "{method} {path} as a viewer");
        }
    }
    // What the viewer was refused changed nothing: sensor1 was approved once, by the admin.
    let audit = s.sandbox.json(&["audit", "-n", "200"]);
    let approvals: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "registry approve")
        .collect();
    assert_eq!(approvals.len(), 1, "{audit}");
    assert_eq!(approvals[0]["actor"], "api:ops");
    assert_eq!(approvals[0]["target"], "sensor1");
    assert_eq!(approvals[0]["outcome"], "ok");
    let user_add = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user add" && e["target"] == "bob")
        .unwrap();
    assert_eq!(user_add["actor"], "api:ops");
    assert!(
        !audit.to_string().contains(PASSWORD),
        "no password in the audit log"
    );
    assert!(
        !audit.to_string().contains(&s.admin),
        "no token in the audit log"
    );
    assert!(!s.broker.log().contains(&s.admin), "no token in the log");
    // /healthz needs nothing.
    assert_eq!(call(&s.base, "GET", "/healthz", None, None).0, 200);
}

#[test]
fn errors_map_to_400_404_409_with_a_message() {
    let s = setup(&[]);
    let cases: Vec<(&str, &str, Option<Value>, u16)> = vec![
        ("GET", "/api/v1/users/nobody", None, 404),
        ("DELETE", "/api/v1/users/nobody", None, 404),
        ("GET", "/api/v1/registry/requests/nobody", None, 404),
        (
            "POST",
            "/api/v1/registry/requests/nobody/approve",
            None,
            404,
        ),
        ("DELETE", "/api/v1/roles/nothing", None, 404),
        ("DELETE", "/api/v1/bans/999", None, 404),
        ("DELETE", "/api/v1/clients/nobody", None, 404),
        ("GET", "/api/v1/nothing-here", None, 404),
        (
            "POST",
            "/api/v1/users",
            Some(json!({"username": "alice", "password": PASSWORD})),
            409,
        ),
        ("POST", "/api/v1/roles", Some(json!({"name": "all"})), 409),
        (
            "POST",
            "/api/v1/users",
            Some(json!({"username": "gw-01", "password": PASSWORD})),
            400,
        ),
        (
            "POST",
            "/api/v1/users",
            Some(json!({"username": "shorty", "password": "abc"})),
            400,
        ),
        ("POST", "/api/v1/users", Some(json!({"name": "x"})), 400),
        (
            "POST",
            "/api/v1/registry/unlock",
            Some(json!({"for": "48h"})),
            400,
        ),
        ("POST", "/api/v1/registry/approve", Some(json!({})), 400),
        (
            "POST",
            "/api/v1/roles",
            Some(json!({"name": "r", "permissions": ["fly:x"]})),
            400,
        ),
        (
            "POST",
            "/api/v1/bans",
            Some(json!({"address": "not-an-address"})),
            400,
        ),
        ("DELETE", "/api/v1/bans/abc", None, 400),
        (
            "POST",
            "/api/v1/users/alice/roles",
            Some(json!({"grant": ["missing"]})),
            404,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = s.admin(method, path, body);
        assert_eq!(status, expected, "{method} {path}: {answer}");
        let message = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: {answer}"));
        assert!(!message.is_empty());
    }
    // Nothing half-done: the refused user was not created.
    assert_eq!(
        s.sandbox
            .run(&["user", "show", "shorty"])
            .code(3)
            .stdout
            .len(),
        0
    );
}

#[test]
fn an_approval_through_the_api_lets_the_device_in_within_its_grant() {
    let s = setup(&[]);
    let (status, _) = s.admin(
        "POST",
        "/api/v1/registry/unlock",
        Some(json!({"for": "5m"})),
    );
    assert_eq!(status, 200);
    let (code, _) = s.broker.mosquitto_pub(&[
        "-i",
        "dev1",
        "-u",
        "sensor7",
        "-P",
        "secret123",
        "-t",
        "devices/sensor7/t",
        "-m",
        "x",
    ]);
    assert_ne!(code, 0, "refused while pending");
    let (_, requests) = s.viewer("GET", "/api/v1/registry/requests", None);
    assert_eq!(requests[0]["username"], "sensor7", "{requests}");
    let (status, answer) = s.admin(
        "POST",
        "/api/v1/registry/requests/sensor7/approve",
        Some(json!({"roles": ["device"]})),
    );
    assert_eq!(
        (status, &answer["approved"]),
        (200, &json!(["sensor7"])),
        "{answer}"
    );
    let mut watcher = s.broker.client("watch", "alice", PASSWORD);
    watcher.expect_connected();
    watcher.subscribe("devices/#");
    let publish = |topic: &str| {
        s.broker.mosquitto_pub(&[
            "-i",
            "dev1",
            "-u",
            "sensor7",
            "-P",
            "secret123",
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            "hello",
        ])
    };
    let mut delivered = false;
    // The approval reaches the broker within a second.
    assert!(eventually(WAIT, || publish("devices/sensor7/t").0 == 0));
    while let Some((topic, payload)) = watcher.message(WAIT) {
        if topic == "devices/sensor7/t" && payload == "hello" {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "the device publishes within its grant");
    publish("devices/other/t");
    assert!(
        watcher.message(Duration::from_millis(300)).is_none(),
        "and nowhere else"
    );
    let _ = &mut watcher;
}

#[test]
fn client_list_shows_a_live_client_and_kick_sends_v5_0x98_and_its_will() {
    let s = setup(&[]);
    let (mut watcher, _) = Raw::connect(s.broker.port, &Connect::v5("watcher", "alice", PASSWORD));
    watcher.send(&raw::subscribe(true, 1, &[("wills/#", 1)], Props::new()));
    watcher.recv_kind(9, WAIT).expect("SUBACK");
    let (mut device, connack) = Raw::connect(
        s.broker.port,
        &Connect::v5("dev-42", "alice", PASSWORD).will(Will {
            topic: "wills/dev-42",
            payload: b"gone",
            qos: 1,
            retain: false,
            props: Props::new(),
        }),
    );
    assert_eq!(connack.body[1], 0);
    let clients = s.sandbox.json(&["client", "list"]);
    let row = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "dev-42")
        .unwrap_or_else(|| panic!("{clients}"));
    assert_eq!(row["username"], "alice");
    assert_eq!(row["protocol"], "5");
    assert!(row["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    for key in ["connected_at", "subscriptions", "queued", "inflight"] {
        assert!(!row[key].is_null(), "{key} in {row}");
    }
    let status = s.sandbox.run(&["registry", "status"]).ok().stdout;
    assert!(status.contains("connected clients: 2"), "{status}");

    s.sandbox.run(&["client", "kick", "dev-42"]).ok();
    // MQTT 5 §3.14.2.1: the server's DISCONNECT with 0x98, Administrative action.
    let disconnect = device.recv_kind(14, WAIT).expect("DISCONNECT");
    assert_eq!(disconnect.body[0], 0x98, "{disconnect:?}");
    // MQTT-3.1.2-8 (5.0): a connection the server closes publishes the will.
    let will = watcher.recv_publish(WAIT).expect("the will");
    assert_eq!(will.topic, "wills/dev-42");
    s.sandbox
        .run(&["client", "kick", "dev-42"])
        .code(3)
        .stderr_has("dev-42");
    let audit = s.sandbox.json(&["audit", "-n", "5"]).to_string();
    assert!(audit.contains("client kick"), "{audit}");
}

#[test]
fn the_event_stream_sees_a_real_registration_and_state_changes() {
    let s = setup(&[]);
    let (events, received) = mpsc::channel::<String>();
    let url = format!("{}/api/v1/events", s.base);
    let token = s.viewer.clone();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let response = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        for line in reader.lines().map_while(Result::ok) {
            if events.send(line).is_err() {
                break;
            }
        }
    });
    assert!(
        received.recv_timeout(WAIT).unwrap().starts_with(':'),
        "the stream opens at once"
    );
    s.sandbox.run(&["registry", "unlock"]).ok();
    let (code, _) = s.broker.mosquitto_pub(&[
        "-i",
        "dev9",
        "-u",
        "sensor9",
        "-P",
        "secret123",
        "-t",
        "t",
        "-m",
        "x",
    ]);
    assert_ne!(code, 0);
    let mut seen = Vec::new();
    let found = eventually(WAIT, || {
        while let Ok(line) = received.try_recv() {
            seen.push(line);
        }
        let text = seen.join("\n");
        text.contains("event: request")
            && text.contains("\"sensor9\"")
            && text.contains("event: change")
    });
    assert!(found, "{}", seen.join("\n"));
    let request = seen
        .iter()
        .skip_while(|line| *line != "event: request")
        .nth(1)
        .unwrap();
    let data: Value = serde_json::from_str(request.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(
        (data["username"].as_str(), data["new"].as_bool()),
        (Some("sensor9"), Some(true))
    );
    assert!(!request.contains("secret123"));
}

/// The samples of a scrape, parsed by a Prometheus text parser.
fn scrape(s: &Setup, token: Option<&str>) -> prometheus_parse::Scrape {
    let (status, body) = call(&s.base, "GET", "/metrics", token, None);
    assert_eq!(status, 200, "{body}");
    let text = body.as_str().unwrap().to_owned();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|sample| {
            sample.metric == name
                && label.is_none_or(|(key, value)| sample.labels.get(key) == Some(value))
        })
        .unwrap_or_else(|| panic!("no {name} {label:?}"));
    match sample.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        _ => panic!("{name} is no counter or gauge"),
    }
}

#[test]
fn metrics_are_prometheus_text_and_move_with_the_traffic() {
    let s = setup(&["--metrics-public"]);
    let before = scrape(&s, None);
    assert_eq!(value(&before, "mqreg_registry_unlocked", None), 0.0);
    let received = value(&before, "mqreg_messages_received_total", None);
    let accepted = value(&before, "mqreg_logins_total", Some(("result", "accepted")));
    s.sandbox.run(&["registry", "unlock"]).ok();
    let sub = s.broker.client("sub", "alice", PASSWORD);
    sub.expect_connected();
    sub.subscribe("m/#");
    for n in 0..5 {
        s.broker.mosquitto_pub(&[
            "-u",
            "alice",
            "-P",
            PASSWORD,
            "-q",
            "1",
            "-r",
            "-t",
            &format!("m/{n}"),
            "-m",
            "x",
        ]);
    }
    s.broker
        .mosquitto_pub(&["-u", "gw-01", "-P", "whatever", "-t", "m", "-m", "x"]);
    s.sandbox.add_users(&["pump7"], PASSWORD, Some("device"));
    s.broker
        .mosquitto_pub(&["-u", "pump7", "-P", PASSWORD, "-t", "elsewhere", "-m", "x"]);
    let mut after = scrape(&s, None);
    eventually(WAIT, || {
        after = scrape(&s, None);
        value(&after, "mqreg_messages_sent_total", None) >= 5.0
            && value(&after, "mqreg_pending_requests", None) == 0.0
    });
    assert_eq!(
        value(&after, "mqreg_messages_received_total", None) - received,
        5.0
    );
    assert!(value(&after, "mqreg_logins_total", Some(("result", "accepted"))) - accepted >= 6.0);
    assert!(value(&after, "mqreg_logins_total", Some(("result", "refused"))) >= 1.0);
    // The five, and the broker's own $SYS figures.
    assert!(value(&after, "mqreg_retained_messages", None) >= 5.0);
    assert_eq!(value(&after, "mqreg_registry_unlocked", None), 1.0);
    assert!(value(&after, "mqreg_connections", None) >= 1.0);
    assert!(value(&after, "mqreg_subscriptions", None) >= 1.0);
    for name in [
        "mqreg_queued_messages",
        "mqreg_inflight_messages",
        "mqreg_persistence_lag",
        "mqreg_bytes_sent_total",
        "mqreg_sessions",
        "mqreg_retained_bytes",
    ] {
        value(&after, name, None);
    }
    value(
        &after,
        "mqreg_messages_dropped_total",
        Some(("reason", "queue_full")),
    );
    assert_eq!(
        value(
            &after,
            "mqreg_messages_dropped_total",
            Some(("reason", "not_authorized"))
        ),
        1.0
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "mqreg_login_check_seconds"),
        "the histogram"
    );
    // Without --metrics-public a token is needed.
    drop(sub);
}

#[test]
fn metrics_need_a_token_unless_public() {
    let s = setup(&[]);
    assert_eq!(call(&s.base, "GET", "/metrics", None, None).0, 401);
    scrape(&s, Some(&s.viewer));
}

#[test]
fn refused_logins_are_listed_with_their_reason_and_never_their_password() {
    let s = setup(&[]);
    for _ in 0..2 {
        s.broker.mosquitto_pub(&[
            "-i",
            "gw-01-client",
            "-u",
            "gw-01",
            "-P",
            "hunter22",
            "-t",
            "t",
            "-m",
            "x",
        ]);
    }
    s.broker.mosquitto_pub(&[
        "-i",
        "a1",
        "-u",
        "Sensor_A1",
        "-P",
        "1234",
        "-t",
        "t",
        "-m",
        "x",
    ]);
    let refused = s.sandbox.json(&["registry", "list", "--refused"]);
    let rows = refused.as_array().unwrap();
    let gw = rows
        .iter()
        .find(|r| r["username"] == "gw-01")
        .unwrap_or_else(|| panic!("{refused}"));
    assert_eq!(gw["reason"], "invalid username");
    assert_eq!(gw["count"], 2);
    assert_eq!(gw["client_id"], "gw-01-client");
    assert_eq!(gw["address"], "127.0.0.1");
    let locked = rows.iter().find(|r| r["username"] == "Sensor_A1").unwrap();
    assert!(
        locked["reason"]
            .as_str()
            .unwrap()
            .contains("registry locked"),
        "{locked}"
    );
    assert!(!refused.to_string().contains("hunter22"));
    let (status, api) = s.viewer("GET", "/api/v1/registry/refused", None);
    assert_eq!((status, api.as_array().unwrap().len()), (200, rows.len()));
    let table = s
        .sandbox
        .run(&["registry", "list", "--refused"])
        .ok()
        .stdout;
    assert!(
        table.contains("gw-01") && table.contains("invalid username"),
        "{table}"
    );
}

#[test]
fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let s = setup(&[]);
    let state = std::fs::read_to_string(&s.sandbox.state).unwrap();
    assert!(
        !state.contains(&s.admin) && !state.contains(&s.admin[4..]),
        "only a hash is stored"
    );
    let list = s.sandbox.json(&["token", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&s.viewer));
    assert_eq!(s.viewer("GET", "/api/v1/registry", None).0, 200);
    s.sandbox.run(&["token", "revoke", "grafana"]).ok();
    assert!(eventually(WAIT, || s
        .viewer("GET", "/api/v1/registry", None)
        .0
        == 401));
    s.sandbox.run(&["token", "revoke", "grafana"]).code(3);
    s.sandbox.run(&["token", "create", "ops"]).code(4);
    // An expired token is refused.
    let short = s.sandbox.json(&["token", "create", "short", "--for", "1s"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(
        call(&s.base, "GET", "/api/v1/registry", Some(&short), None).0,
        401
    );
    // A token never travels in a URL: a query parameter is not looked at.
    assert_eq!(
        call(
            &s.base,
            "GET",
            &format!("/api/v1/registry?token={}", s.admin),
            None,
            None
        )
        .0,
        401
    );
}

#[test]
fn wrong_tokens_are_counted_by_the_flood_guard() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    // The flood guard exempts loopback by default; the test needs it charged.
    mqreg::state::store::Store::new(&sandbox.state)
        .update(|state| {
            state.flood.exempt.clear();
            state.flood.max_refusals = 5;
            Ok(())
        })
        .unwrap();
    let broker = sandbox.serve_with(&["--http", "127.0.0.1:0"]);
    let base = broker.http_base();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(call(&base, "GET", "/api/v1/registry", Some("mqr_guess"), None).0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let bans = sandbox.json(&["ban", "list"]);
    assert!(bans.to_string().contains("flood"), "{bans}");
}

#[test]
fn the_control_socket_is_owner_only_and_gone_after_a_stop() {
    let s = setup(&[]);
    let socket = s.sandbox.state.parent().unwrap().join(".state.toml.sock");
    assert_eq!(common::mode_of(&socket) & 0o777, 0o600);
    let Setup {
        sandbox, broker, ..
    } = s;
    assert_eq!(broker.stop(), Some(0));
    assert!(!socket.exists());
    sandbox
        .run(&["client", "list"])
        .code(1)
        .stderr_has("no running broker");
}

#[test]
fn a_second_broker_on_the_same_state_is_refused_naming_the_first() {
    let s = setup(&[]);
    let second = s.sandbox.run(&["serve", "--listen", "127.0.0.1:0"]).code(1);
    assert!(
        second.stderr.contains(&format!("pid {}", s.broker.pid())),
        "{}",
        second.stderr
    );
    // The first one still serves.
    assert_eq!(s.viewer("GET", "/api/v1/registry", None).0, 200);
}

/// The subject of the certificate a TLS server on `port` presents, and
/// (with a `request`) what it answers to it.
fn served_certificate(port: u16, request: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut client = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-ign_eof",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    let _ = stdin.write_all(request.as_bytes());
    drop(stdin);
    let mut stdout = std::io::BufReader::new(client.stdout.take().unwrap());
    let mut text = String::new();
    let mut subject = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(found) = line.trim().strip_prefix("subject=") {
            subject = found.to_owned();
            if request.is_empty() {
                break;
            }
        }
        text.push_str(&line);
        line.clear();
    }
    if !request.is_empty() {
        let _ = stdout.read_to_string(&mut text);
    }
    let _ = client.kill();
    let _ = client.wait();
    (subject, text)
}

#[test]
fn sighup_swaps_the_tls_certificates_of_mqtt_and_the_api() {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    let (first_cert, first_key) = common::self_signed(dir, "first");
    let (cert, key) = (dir.join("live.crt"), dir.join("live.key"));
    std::fs::copy(&first_cert, &cert).unwrap();
    std::fs::copy(&first_key, &key).unwrap();
    let (cert_arg, key_arg) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let broker = sandbox.serve_with(&[
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert_arg,
        "--tls-key",
        key_arg,
        "--http",
        "127.0.0.1:0",
        "--http-tls-cert",
        cert_arg,
        "--http-tls-key",
        key_arg,
    ]);
    let mqtt_port = broker.tls_port().unwrap();
    let base = broker.http_base();
    assert!(base.starts_with("https://"), "{base}");
    let http_port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let health = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (subject, answer) = served_certificate(http_port, health);
    assert!(
        subject.contains("CN=first") || subject.contains("CN = first"),
        "{answer}"
    );
    assert!(
        answer.contains("200 OK"),
        "the API answers over TLS: {answer}"
    );
    assert!(served_certificate(mqtt_port, "").0.contains("first"));

    // A renewal: new files in place, then SIGHUP.
    let (second_cert, second_key) = common::self_signed(dir, "second");
    std::fs::copy(&second_cert, &cert).unwrap();
    std::fs::copy(&second_key, &key).unwrap();
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -HUP {}", broker.pid())])
        .status();
    assert!(
        eventually(WAIT, || served_certificate(http_port, "")
            .0
            .contains("second")
            && served_certificate(mqtt_port, "").0.contains("second")),
        "{}",
        broker.log()
    );
    // A broken pair is reported and the one in use stays.
    std::fs::write(&key, "not a key").unwrap();
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -HUP {}", broker.pid())])
        .status();
    assert!(eventually(WAIT, || broker
        .log()
        .contains("the one in use stays")));
    assert!(served_certificate(mqtt_port, "").0.contains("second"));
}

#[test]
fn mqtt_3_1_clients_get_connack_1_and_one_log_line_per_address() {
    let s = setup(&[]);
    for _ in 0..3 {
        let (code, output) = s.broker.mosquitto_pub(&[
            "-V", "mqttv31", "-u", "alice", "-P", PASSWORD, "-t", "t", "-m", "x",
        ]);
        assert_ne!(code, 0);
        assert!(output.contains("unacceptable protocol version"), "{output}");
    }
    // MQTT 3.1 §3.2: CONNACK return code 1, exactly these bytes.
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", s.broker.port)).unwrap();
    let mut connect = vec![0x10, 0];
    let body: &[u8] = b"\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02id";
    connect[1] = body.len() as u8;
    connect.extend_from_slice(body);
    let connack = common::send_connect(&mut socket, &connect, WAIT).unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x01]);
    assert!(eventually(WAIT, || s
        .broker
        .log()
        .contains("MQTT 3.1 client")));
    assert_eq!(
        s.broker.log().matches("MQTT 3.1 client").count(),
        1,
        "{}",
        s.broker.log()
    );
}

#[test]
fn refused_publishes_and_subscribes_are_logged_with_the_username() {
    let s = setup(&[]);
    s.sandbox.add_users(&["pump7"], PASSWORD, Some("device"));
    let (code, output) = s.broker.mosquitto_pub(&[
        "-u",
        "pump7",
        "-P",
        PASSWORD,
        "-q",
        "1",
        "-t",
        "elsewhere/x",
        "-m",
        "x",
    ]);
    assert_eq!(
        code, 0,
        "3.1.1: dropped, and the PUBACK still comes: {output}"
    );
    let logged = |what: &str| {
        s.broker.log().lines().any(|line| {
            line.contains(what) && line.contains("pump7") && line.contains("elsewhere/")
        })
    };
    assert!(
        eventually(WAIT, || logged("publish refused")),
        "{}",
        s.broker.log()
    );
    s.broker.mosquitto_sub(&[
        "-u",
        "pump7",
        "-P",
        PASSWORD,
        "-t",
        "elsewhere/#",
        "-C",
        "1",
        "-W",
        "1",
    ]);
    assert!(
        eventually(WAIT, || logged("subscribe refused")),
        "{}",
        s.broker.log()
    );
}

#[test]
fn the_log_filter_changes_while_the_broker_runs() {
    let s = setup(&[]);
    assert_eq!(s.sandbox.json(&["log-level"])["filter"], "info");
    let (code, _) = s
        .broker
        .mosquitto_pub(&["-u", "alice", "-P", PASSWORD, "-t", "t", "-m", "x"]);
    assert_eq!(code, 0);
    assert!(
        !s.broker.log().contains("login accepted"),
        "a debug line at info"
    );
    assert_eq!(s.sandbox.json(&["log-level", "debug"])["filter"], "debug");
    s.broker
        .mosquitto_pub(&["-u", "alice", "-P", PASSWORD, "-t", "t", "-m", "x"]);
    assert!(
        eventually(WAIT, || s.broker.log().contains("login accepted")),
        "{}",
        s.broker.log()
    );
    s.sandbox
        .run(&["log-level", "no such=level=at all"])
        .code(2);
    assert_eq!(
        s.viewer(
            "POST",
            "/api/v1/log-level",
            Some(json!({"filter": "trace"}))
        )
        .0,
        403
    );
    let audit = s.sandbox.json(&["audit", "-n", "3"]).to_string();
    assert!(audit.contains("log-level"), "{audit}");
}

/// (method, path) of every route `src/http/routes.rs` serves, read from its
/// `.route("PATH", get(..).post(..))` calls.
fn served_routes() -> std::collections::BTreeSet<(String, String)> {
    let source = include_str!("../src/http/routes.rs");
    let mut routes = std::collections::BTreeSet::new();
    for call in source.split(".route(").skip(1) {
        let path = call.split('"').nth(1).unwrap().to_owned();
        // The call ends where its parentheses balance.
        let mut depth = 1;
        let end = call
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .unwrap()
            .0;
        for method in ["get", "post", "put", "patch", "delete"] {
            let text = &call[..end];
            if text.contains(&format!(" {method}("))
                || text.contains(&format!(".{method}("))
                || text.contains(&format!("({method}("))
            {
                routes.insert((method.to_owned(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn the_openapi_document_matches_the_server() {
    let doc: Value = serde_json::from_str(include_str!("../docs/openapi.json")).unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let served = served_routes();
    assert!(served.len() > 30, "{served:?}");
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not in docs/openapi.json"
    );
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in docs/openapi.json but not served"
    );
    // And the server answers each documented path (not the fallback).
    let s = setup(&[]);
    for (method, path) in &documented {
        if path == "/api/v1/events" {
            continue;
        }
        let concrete = path
            .replace("{username}", "nobody")
            .replace("{role}", "nothing")
            .replace("{id}", "1")
            .replace("{name}", "none")
            .replace("{client_id}", "nobody");
        let (_, answer) = call(
            &s.base,
            &method.to_uppercase(),
            &concrete,
            Some(&s.viewer),
            None,
        );
        assert!(
            !answer.to_string().contains("no such path"),
            "{method} {concrete}: {answer}"
        );
    }
}

#[test]
fn sys_topics_carry_the_figures_to_users_with_a_read_grant() {
    let s = setup(&["--sys-interval", "1s"]);
    s.sandbox.add_role("monitor", &["read:$SYS/#"]);
    s.sandbox
        .add_users(&["monitor1"], PASSWORD, Some("monitor"));
    let (code, output) = s.broker.mosquitto_sub(&[
        "-u",
        "monitor1",
        "-P",
        PASSWORD,
        "-t",
        "$SYS/broker/clients/connected",
        "-t",
        "$SYS/broker/version",
        "-C",
        "2",
        "-W",
        "10",
        "-v",
    ]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("$SYS/broker/version mqreg "), "{output}");
    let connected: u64 = output
        .lines()
        .find_map(|line| line.strip_prefix("$SYS/broker/clients/connected "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(connected <= 1, "{output}");
    // alice may read # but not $SYS: `#` does not match it (MQTT-4.7.2-1), and
    // a subscription to $SYS/# is refused without a grant on it.
    let (code, output) = s.broker.mosquitto_sub(&[
        "-u", "alice", "-P", PASSWORD, "-t", "$SYS/#", "-C", "1", "-W", "2", "-V", "mqttv5",
    ]);
    assert!(
        output.contains("denied") && !output.contains("mqreg"),
        "{code}: {output}"
    );
    // The figures are no traffic: they do not count as messages received.
    let scrape = scrape(&s, Some(&s.viewer));
    assert_eq!(value(&scrape, "mqreg_messages_received_total", None), 0.0);
}

#[test]
fn of_two_brokers_started_at_once_on_one_state_exactly_one_serves() {
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "lock"]).ok();
    let start = || {
        sandbox
            .command(&["serve", "--listen", "127.0.0.1:0", "--persistence", "off"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut first, mut second) = (start(), start());
    // One of them gives up at once; the other keeps serving.
    let mut refused = None;
    assert!(eventually(WAIT, || {
        for child in [&mut first, &mut second] {
            if let Ok(Some(status)) = child.try_wait() {
                refused = Some(status.code());
            }
        }
        refused.is_some()
    }));
    assert_eq!(refused.unwrap(), Some(1));
    std::thread::sleep(Duration::from_millis(300));
    let running = [&mut first, &mut second]
        .into_iter()
        .filter_map(|child| child.try_wait().ok())
        .filter(Option::is_none)
        .count();
    assert_eq!(running, 1, "exactly one serves");
    for child in [&mut first, &mut second] {
        let _ = child.kill();
        let _ = child.wait();
    }
}
