//! Several gateways sharing one registry in PostgreSQL: each runs the real
//! binary against a private PostgreSQL cluster (Debian's server, started by
//! the test on a free port; `.ci/run` installs it), with real MQTT clients.

mod common;

use std::time::{Duration, Instant};

use common::postgres::Cluster;
use common::{assert_closed_live, assert_live, eventually, Broker, Sandbox};
use serde_json::json;

const PASSWORD: &str = "a-long-device-password";

/// A device logging in once with mosquitto_pub: true when it was let in.
fn logs_in(broker: &Broker, user: &str, password: &str) -> bool {
    let (code, _) = broker.mosquitto_pub(&[
        "-i",
        &format!("{user}-c"),
        "-u",
        user,
        "-P",
        password,
        "-t",
        &format!("plant/{user}/temperature"),
        "-m",
        "21.5",
    ]);
    code == 0
}

/// Two gateways on one new database, with cheap hashes and a role `sensor`
/// that may use `plant/{username}/#`.
fn two_gateways(cluster: &Cluster) -> (Sandbox, Sandbox) {
    let url = cluster.database();
    let east = Sandbox::gateway(&url);
    let west = Sandbox::gateway(&url);
    east.cheap_hashes();
    east.add_role("sensor", &["readwrite:plant/{username}/#"]);
    (east, west)
}

#[test]
fn a_device_approved_at_one_gateway_logs_in_at_the_other_within_a_second() {
    let cluster = Cluster::start();
    let (east, west) = two_gateways(&cluster);
    let east_broker = east.serve();
    let west_broker = west.serve();

    // The registry opened at one gateway is open at every one: the request
    // is recorded by the gateway the device tried, and listed by the other.
    let start = Instant::now();
    west.run(&["registry", "unlock"]).ok();
    assert_live(
        start,
        "unlocked at west, a registration recorded at east",
        || {
            assert!(!logs_in(&east_broker, "pump1", PASSWORD));
            west.json(&["registry", "list"]) != json!([])
        },
    );
    let list = west.json(&["registry", "list"]);
    assert_eq!(list[0]["username"], "pump1", "{list}");
    assert_eq!(list[0]["client_id"], "pump1-c");

    let start = Instant::now();
    west.run(&["registry", "approve", "pump1", "--role", "sensor"])
        .ok();
    assert_live(start, "approved at west, logging in at east", || {
        logs_in(&east_broker, "pump1", PASSWORD)
    });
    assert!(logs_in(&west_broker, "pump1", PASSWORD));

    // A deletion at one gateway closes the device's live connection at the other.
    let device = east_broker.client("pump1-live", "pump1", PASSWORD);
    device.expect_connected();
    let start = Instant::now();
    west.run(&["user", "delete", "pump1"]).ok();
    assert_closed_live(&device, start, "deleted at west, connected at east");
    assert!(!logs_in(&east_broker, "pump1", PASSWORD));

    // And a ban.
    let start = Instant::now();
    east.add_users(&["valve2"], PASSWORD, Some("sensor"));
    assert_live(start, "added at east, logging in at west", || {
        logs_in(&west_broker, "valve2", PASSWORD)
    });
    let device = west_broker.client("valve2-live", "valve2", PASSWORD);
    device.expect_connected();
    let start = Instant::now();
    east.run(&["ban", "add", "--username", "valve2"]).ok();
    assert_closed_live(&device, start, "banned at east, connected at west");
}

#[test]
fn registry_watch_follows_the_database() {
    use std::io::BufRead;
    let cluster = Cluster::start();
    let (east, west) = two_gateways(&cluster);
    let east_broker = east.serve();
    east.run(&["registry", "unlock"]).ok();
    let mut watch = west
        .command(&["--json", "registry", "watch"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    // The watch is listening once it has read the registry (nothing yet).
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    assert!(!logs_in(&east_broker, "pump3", PASSWORD));
    let line = seen
        .recv_timeout(Duration::from_secs(10))
        .expect("an event");
    eprintln!(
        "live: registered at east, seen by a watch at west: {:?}",
        start.elapsed()
    );
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["event"], "new", "{line}");
    assert_eq!(event["username"], "pump3");
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn twenty_concurrent_writers_at_two_gateways_lose_no_update() {
    let cluster = Cluster::start();
    let (east, west) = two_gateways(&cluster);
    east.run(&["role", "create", "shared"]).ok();

    // Every writer edits the same role (one row) and adds a user of its own.
    std::thread::scope(|scope| {
        for writer in 0..20 {
            let gateway = if writer % 2 == 0 { &east } else { &west };
            scope.spawn(move || {
                gateway
                    .run(&["role", "allow", "shared", &format!("read:line/{writer}/#")])
                    .ok();
                gateway
                    .run_with_stdin(
                        &["user", "add", &format!("writer{writer}")],
                        &format!("{PASSWORD}-{writer}\n"),
                    )
                    .ok();
            });
        }
    });

    let roles = west.json(&["role", "list"]);
    let shared = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == "shared")
        .unwrap_or_else(|| panic!("no role 'shared' in {roles}"));
    let permissions = shared["permissions"].as_array().unwrap();
    assert_eq!(permissions.len(), 20, "{shared}");
    let users = east.json(&["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 20, "{users}");

    // Harder: 20 writers, each with a pool of its own, 10 edits each of that
    // one row, as fast as they can.
    std::thread::scope(|scope| {
        for writer in 0..20 {
            let store = if writer % 2 == 0 {
                east.store()
            } else {
                west.store()
            };
            scope.spawn(move || {
                for edit in 0..10 {
                    store
                        .update(|state| {
                            let role = state.roles.get_mut("shared").unwrap();
                            role.permissions
                                .push(format!("write:cell/{writer}/{edit}").parse().unwrap());
                            Ok(())
                        })
                        .unwrap();
                }
            });
        }
    });
    let role = &west.store().load().unwrap().roles["shared"];
    assert_eq!(role.permissions.len(), 20 + 200);
}

#[test]
fn a_gateway_keeps_serving_its_copy_while_the_database_is_down() {
    let mut cluster = Cluster::start();
    let (gateway, _) = two_gateways(&cluster);
    gateway.add_users(&["alice"], PASSWORD, Some("sensor"));
    gateway.run(&["registry", "unlock", "--for", "1h"]).ok();
    let broker = gateway.serve_with(&["--http", "127.0.0.1:0"]);
    let base = broker.http_base();
    assert!(logs_in(&broker, "alice", PASSWORD));
    assert!(
        eventually(Duration::from_secs(5), || gateway.local_copy().exists()),
        "the gateway keeps a copy of the registry"
    );

    cluster.kill();

    // Known users log in, and their permissions still hold.
    assert!(logs_in(&broker, "alice", PASSWORD));
    let alice = broker.client("alice-live", "alice", PASSWORD);
    alice.expect_connected();
    assert!(matches!(
        alice.subscribe("plant/alice/#")[..],
        [rumqttc::SubscribeReasonCode::Success(_)]
    ));
    assert_eq!(
        alice.subscribe("plant/bob/#"),
        vec![rumqttc::SubscribeReasonCode::Failure]
    );

    // A registration cannot be recorded: it is refused, as any failed login.
    assert!(!logs_in(&broker, "newcomer", PASSWORD));
    assert!(eventually(Duration::from_secs(5), || broker
        .log()
        .contains("could not record the request")));

    // Status, health and log say so.
    let status = gateway.json(&["registry", "status"]);
    assert_eq!(status["database"]["reachable"], json!(false), "{status}");
    assert!(status["database"]["error"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
    let health = healthz(&base);
    assert!(health.contains("unreachable"), "{health}");
    assert!(broker
        .log()
        .contains("serving the last copy of the registry"));
    // A command that would change the registry fails and says why.
    gateway
        .run(&["user", "disable", "alice"])
        .code(1)
        .stderr_has("cannot reach the database");

    // A gateway restarted during the outage serves from its copy.
    drop(alice);
    broker.stop();
    let broker = gateway.serve();
    assert!(broker.log().contains("serving this gateway's copy"));
    assert!(logs_in(&broker, "alice", PASSWORD));

    // The database back: changes reach the gateway again.
    cluster.restart();
    gateway.run(&["user", "disable", "alice"]).ok();
    assert!(
        eventually(Duration::from_secs(10), || !logs_in(
            &broker, "alice", PASSWORD
        )),
        "the disable made after the outage reached the gateway"
    );
    assert!(broker.log().contains("reachable again"));
    assert!(!logs_in(&broker, "newcomer", PASSWORD));
    let pending = gateway.json(&["registry", "list"]);
    assert_eq!(pending[0]["username"], "newcomer", "{pending}");
}

fn healthz(base: &str) -> String {
    common::agent()
        .get(format!("{base}/healthz"))
        .call()
        .expect("GET /healthz")
        .body_mut()
        .read_to_string()
        .unwrap()
}

#[test]
fn state_migrate_copies_a_file_state_and_its_ca_into_the_database() {
    let file = Sandbox::new();
    file.cheap_hashes();
    file.add_role("sensor", &["readwrite:plant/{username}/#"]);
    file.add_users(&["alice"], PASSWORD, Some("sensor"));
    file.run(&["ca", "init"]).ok();
    file.seed_pending(&[("pump9", PASSWORD, false)]);
    let fingerprint = file.json(&["ca", "show"])["fingerprint"].clone();

    let cluster = Cluster::start();
    let url = cluster.database();
    let state = file.state.to_str().unwrap();
    let migrated = file
        .run(&["--json", "state", "migrate", "--from", state, "--to", &url])
        .ok()
        .json();
    assert_eq!(migrated["users"], 1, "{migrated}");
    assert_eq!(migrated["roles"], 1);
    assert_eq!(migrated["pending"], 1);
    assert_eq!(migrated["files"].as_array().unwrap().len(), 2);

    // A second copy would overwrite a registry: refused unless --force.
    file.run(&["state", "migrate", "--from", state, "--to", &url])
        .code(4)
        .stderr_has("--force");
    file.run(&["state", "migrate", "--from", state, "--to", &url, "--force"])
        .ok();

    let gateway = Sandbox::gateway(&url);
    assert_eq!(
        gateway.json(&["user", "show", "alice"])["roles"],
        json!(["sensor"])
    );
    assert_eq!(gateway.json(&["ca", "show"])["fingerprint"], fingerprint);
    assert_eq!(gateway.json(&["registry", "list"])[0]["username"], "pump9");
    let broker = gateway.serve();
    assert!(logs_in(&broker, "alice", PASSWORD));
}

#[test]
fn a_database_migrated_by_a_newer_mqreg_is_refused_not_misread() {
    let cluster = Cluster::start();
    let url = cluster.database();
    let gateway = Sandbox::gateway(&url);
    gateway.run(&["user", "list"]).ok();
    let database = url.rsplit('/').next().unwrap();
    cluster
        .psql(
            database,
            "INSERT INTO mqreg_schema_migrations (version) VALUES (99)",
        )
        .unwrap();
    gateway
        .run(&["user", "list"])
        .code(1)
        .stderr_has("newer than this mqreg knows");
    // Passwords in the URL never show in messages.
    let with_password = url.replace("mqreg@", "mqreg:hunter2-secret@");
    let run = Sandbox::gateway(&with_password)
        .run(&["user", "list"])
        .code(1);
    assert!(!run.stderr.contains("hunter2-secret"), "{}", run.stderr);
}
