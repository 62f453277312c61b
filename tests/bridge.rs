//! Bridges to an upstream broker: the real binary, a real mosquitto as the
//! upstream (Debian's, started by the test on a free port, with persistence
//! in a temporary folder), and real MQTT clients on both sides.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::postgres::free_port;
use common::{eventually, Broker, Sandbox};
use serde_json::Value;

const DEVICE_PASSWORD: &str = "device-password-long";
const BRIDGE_PASSWORD: &str = "bridge-password-long";

/// The certificates of a TLS upstream: a CA, the server's (for 127.0.0.1)
/// and a client's, both signed by it.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "upstream test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |name: &str, sans: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    };
    let (server_cert, server_key) = leaf("upstream", vec!["127.0.0.1".into()]);
    let (client_cert, client_key) = leaf("gateway-4", vec![]);
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    Pki {
        ca: ca_path,
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

/// A mosquitto upstream with persistence, stopped when dropped.
struct Upstream {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Upstream {
    fn start(tls: Option<&Pki>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\n\
             persistence_location {}/\nmax_queued_messages 100000\nmax_inflight_messages 100\n",
            dir.path().display()
        );
        if let Some(pki) = tls {
            config.push_str(&format!(
                "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
                pki.ca.display(),
                pki.server_cert.display(),
                pki.server_key.display()
            ));
        }
        std::fs::write(dir.path().join("mosquitto.conf"), config).unwrap();
        let mut upstream = Self {
            dir,
            port,
            child: None,
        };
        upstream.run();
        upstream
    }

    fn run(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        self.child = Some(child);
        assert!(
            eventually(Duration::from_secs(10), || std::net::TcpStream::connect((
                "127.0.0.1",
                self.port
            ))
            .is_ok()),
            "mosquitto did not start on port {}",
            self.port
        );
    }

    /// SIGTERM, as a service stop or an orderly kill: mosquitto saves its
    /// persistent sessions and exits.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.run();
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A persistent subscriber on the upstream (mosquitto_sub, clean session
/// off), collecting payloads one per line; libmosquitto reconnects by itself
/// when the upstream comes back. At QoS 1 its own leg is at least once, so
/// the tests read order from first arrivals there; at QoS 2 it counts each
/// message the upstream routed exactly once.
struct Collector {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Collector {
    fn start(upstream: &Upstream, filter: &str, tls: Option<&Pki>) -> Self {
        Self::start_on(upstream.port, filter, tls, None, 1, "collector")
    }

    fn start_on(
        port: u16,
        filter: &str,
        tls: Option<&Pki>,
        login: Option<(&str, &str)>,
        qos: u8,
        name: &str,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("seen.txt");
        let mut command = Command::new("mosquitto_sub");
        command
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-i", &format!("{name}-{}-{qos}", std::process::id()), "-c"])
            .args(["-q", &qos.to_string()])
            .args(["-t", filter]);
        if let Some((user, password)) = login {
            command.args(["-u", user, "-P", password]);
        }
        if let Some(pki) = tls {
            command
                .arg("--cafile")
                .arg(&pki.ca)
                .arg("--cert")
                .arg(&pki.client_cert)
                .arg("--key")
                .arg(&pki.client_key);
        }
        let child = command
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub (apt-get install mosquitto-clients)");
        let collector = Self {
            child,
            out,
            _dir: dir,
        };
        // Subscribed once the upstream lists it.
        std::thread::sleep(Duration::from_millis(300));
        collector
    }

    fn seen(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway with a device user `dev` (everything) and the bridge's local
/// user `bridge` (given permissions), cheap hashes.
fn gateway(bridge_permissions: &[&str]) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox.without_flood_limits();
    sandbox.add_role("devices", &["readwrite:#"]);
    sandbox.add_users(&["dev"], DEVICE_PASSWORD, Some("devices"));
    sandbox.add_role("bridging", bridge_permissions);
    sandbox.add_users(&["bridge"], BRIDGE_PASSWORD, Some("bridging"));
    sandbox
}

fn write_config(sandbox: &Sandbox, text: &str) -> String {
    let path = sandbox.dir.path().join("mqreg.toml");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    path.display().to_string()
}

fn bridge_table(name: &str, address: &str, extra: &str, topics: &str) -> String {
    format!(
        "[[bridges]]\nname = \"{name}\"\naddress = \"{address}\"\nlocal_username = \"bridge\"\n\
         local_password = \"{BRIDGE_PASSWORD}\"\n{extra}\n{topics}\n"
    )
}

/// The gateway served with one bridge, `central`, to `address` (`extra`
/// lines and `topics` tables as [`bridge_table`] takes them; `args` and
/// `env` for `serve` besides the config file), once the bridge is
/// connected; and the config file's path, to serve it again.
fn serve_bridged(
    sandbox: &Sandbox,
    address: &str,
    extra: &str,
    topics: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Broker, String) {
    let config = write_config(sandbox, &bridge_table("central", address, extra, topics));
    let mut all = vec!["--config", config.as_str()];
    all.extend_from_slice(args);
    let broker = sandbox.serve_env(&all, None, env);
    assert!(eventually(Duration::from_secs(10), || bridge_connected(
        sandbox, "central"
    )));
    (broker, config)
}

/// The bridges as the API gives them.
fn bridges(sandbox: &Sandbox) -> Vec<Value> {
    sandbox
        .json(&["client", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|client| client.get("bridge").cloned())
        .collect()
}

fn bridge_connected(sandbox: &Sandbox, name: &str) -> bool {
    bridges(sandbox)
        .iter()
        .any(|b| b["name"] == name && b["connected"] == true)
}

/// `mosquitto_pub -l` at the gateway as `dev`: one QoS 1 message per line,
/// numbers FROM..TO.
fn publish_sequence(broker: &Broker, topic: &str, from: u32, to: u32) {
    let login = ["-i", "sequencer", "-u", "dev", "-P", DEVICE_PASSWORD];
    publish_numbers(broker.port, &login, topic, from..to);
}

/// `mosquitto_pub -l` at `port`: one QoS 1 message per line.
fn publish_numbers(port: u16, login: &[&str], topic: &str, numbers: std::ops::Range<u32>) {
    let lines: String = numbers.map(|n| format!("{n}\n")).collect();
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(login)
        .args(["-t", topic, "-q", "1", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "mosquitto_pub -l failed");
}

/// An upstream that can be stopped and started again on the same port.
trait Restartable {
    fn address(&self) -> String;
    fn stop(&mut self);
    fn start_again(&mut self);
    /// A subscriber to `filter` with a persistent session there.
    fn collector(&self, filter: &str, qos: u8) -> Collector;
    /// Another one (its own client id), at QoS 2, to keep connected.
    fn live_collector(&self, filter: &str) -> Collector;
    /// `username`/`password` lines of the bridge table, if it needs them.
    fn credentials(&self) -> String {
        String::new()
    }
}

impl Restartable for Upstream {
    fn address(&self) -> String {
        Upstream::address(self)
    }
    fn stop(&mut self) {
        Upstream::stop(self);
    }
    fn start_again(&mut self) {
        self.run();
    }
    fn collector(&self, filter: &str, qos: u8) -> Collector {
        Collector::start_on(self.port, filter, None, None, qos, "collector")
    }
    fn live_collector(&self, filter: &str) -> Collector {
        Collector::start_on(self.port, filter, None, None, 2, "live")
    }
}

/// mqreg itself as the upstream, with its message store.
struct MqregUpstream {
    sandbox: Sandbox,
    port: u16,
    broker: Option<Broker>,
}

impl MqregUpstream {
    fn start() -> Self {
        let sandbox = Sandbox::new();
        sandbox.cheap_hashes();
        sandbox.without_flood_limits();
        sandbox.add_role("all", &["readwrite:#"]);
        sandbox.add_users(&["central", "collector"], DEVICE_PASSWORD, Some("all"));
        let mut upstream = Self {
            sandbox,
            port: free_port(),
            broker: None,
        };
        upstream.start_again();
        upstream
    }
}

impl Restartable for MqregUpstream {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// SIGKILL: mqreg keeps what it acknowledged on disk, so a crash
    /// loses nothing a bridge or a subscriber is owed.
    fn stop(&mut self) {
        if let Some(broker) = self.broker.take() {
            broker.crash();
        }
    }
    fn start_again(&mut self) {
        let listen = self.address();
        self.broker = Some(self.sandbox.serve_with(&["--listen", &listen]));
    }
    fn collector(&self, filter: &str, qos: u8) -> Collector {
        Collector::start_on(
            self.port,
            filter,
            None,
            Some(("collector", DEVICE_PASSWORD)),
            qos,
            "collector",
        )
    }
    fn live_collector(&self, filter: &str) -> Collector {
        Collector::start_on(
            self.port,
            filter,
            None,
            Some(("collector", DEVICE_PASSWORD)),
            2,
            "live",
        )
    }
    fn credentials(&self) -> String {
        format!("username = \"central\"\npassword = \"{DEVICE_PASSWORD}\"")
    }
}

/// 10,000 QoS 1 messages published at the gateway, the upstream stopped
/// after the first 5,000 (with messages in flight) and started again after
/// the rest: what the upstream delivered, in its order, to two subscribers
/// (QoS 2, persistent sessions).
///
/// The first is offline the whole time and collects afterwards: the
/// upstream keeps its messages in the order they arrived, so what it hands
/// over is what the bridge delivered, duplicates included, and nothing of
/// the subscriber's own leg crosses the restart. The second stays connected
/// (libmosquitto reconnects by itself), so messages in flight to it cross
/// the restart too.
fn across_an_outage(upstream: &mut dyn Restartable) -> [Vec<u32>; 2] {
    drop(upstream.collector("site4/#", 2));
    let live = upstream.live_collector("site4/#");
    let sandbox = gateway(&["read:plant/#"]);
    // qos = 2 on the bridge's leg: a message re-sent after the outage is
    // recognised by the upstream, never taken twice.
    let (broker, _) = serve_bridged(
        &sandbox,
        &upstream.address(),
        &upstream.credentials(),
        "[[bridges.topics]]\npattern = \"#\"\ndirection = \"out\"\nqos = 2\n\
         local_prefix = \"plant/\"\nremote_prefix = \"site4/\"",
        &[],
        &[],
    );

    publish_sequence(&broker, "plant/line1/seq", 0, 5_000);
    upstream.stop();
    // Taken while the upstream is away: kept on disk.
    publish_sequence(&broker, "plant/line1/seq", 5_000, 10_000);
    let status = &bridges(&sandbox)[0];
    assert_eq!(status["connected"], false, "{status}");
    assert!(status["queued"].as_u64().unwrap() >= 5_000, "{status}");
    assert!(
        status["last_error"].as_str().unwrap().contains("refused"),
        "{status}"
    );

    upstream.start_again();
    let start = Instant::now();
    assert!(
        eventually(Duration::from_secs(60), || {
            let status = &bridges(&sandbox)[0];
            status["queued"] == 0 && status["sent"] == 10_000
        }),
        "the backlog did not drain: {:?}",
        bridges(&sandbox)
    );
    eprintln!(
        "the backlog drained {:?} after the upstream came back",
        start.elapsed()
    );
    let collector = upstream.collector("site4/#", 2);
    assert!(
        eventually(Duration::from_secs(30), || collector.seen().len() >= 10_000),
        "the upstream's subscriber got {} of 10000",
        collector.seen().len()
    );
    assert!(
        eventually(Duration::from_secs(30), || live.seen().len() >= 10_000),
        "the upstream's connected subscriber got {} of 10000",
        live.seen().len()
    );
    // A moment for a duplicate to show.
    std::thread::sleep(Duration::from_millis(500));
    [collector, live].map(|collector| {
        collector
            .seen()
            .iter()
            .map(|n| n.parse().unwrap())
            .collect()
    })
}

/// Every number once, in order.
fn assert_once_and_in_order(seen: &[u32]) {
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 10_000, "some never arrived");
    assert_eq!(seen.len(), 10_000, "some arrived twice");
    assert!(
        seen.iter().copied().eq(0..10_000),
        "out of order: first difference at {:?}",
        seen.iter().zip(0..).find(|(a, b)| **a != *b)
    );
}

#[test]
fn ten_thousand_qos1_messages_cross_an_upstream_outage_once_and_in_order() {
    let mut upstream = MqregUpstream::start();
    let [offline, connected] = across_an_outage(&mut upstream);
    assert_once_and_in_order(&offline);
    assert_once_and_in_order(&connected);
}

/// The same with Debian's mosquitto 2.0 as the upstream, which hands a QoS 2
/// message on at PUBREL: the messages in flight at its stop are re-sent as
/// they were first sent, each as PUBLISH or, where mosquitto had sent
/// PUBREC, as PUBREL ([MQTT-4.4.0-1], [MQTT-4.6.0-1], [MQTT-4.6.0-4]).
/// Failed before the bridge reordered its client's re-sends: later messages
/// were released before earlier ones.
#[test]
fn ten_thousand_qos1_messages_cross_a_mosquitto_outage_once_and_in_order() {
    let mut upstream = Upstream::start(None);
    let [offline, connected] = across_an_outage(&mut upstream);
    assert_once_and_in_order(&offline);
    assert_once_and_in_order(&connected);
}

#[test]
fn a_bridge_survives_a_tls_upstream_restart_with_mutual_tls() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = pki(pki_dir.path());
    let mut upstream = Upstream::start(Some(&pki));
    let collector = Collector::start(&upstream, "site4/#", Some(&pki));
    let sandbox = gateway(&["read:plant/#"]);
    let tls = format!(
        "protocol = \"5\"\ntls = {{ ca = \"{}\", cert = \"{}\", key = \"{}\" }}",
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let (broker, _) = serve_bridged(
        &sandbox,
        &upstream.address(),
        &tls,
        "[[bridges.topics]]\npattern = \"#\"\ndirection = \"out\"\nqos = 1\n\
         local_prefix = \"plant/\"\nremote_prefix = \"site4/\"",
        &[],
        &[],
    );
    publish_sequence(&broker, "plant/a", 0, 10);
    assert!(eventually(Duration::from_secs(10), || collector
        .seen()
        .len()
        == 10));

    upstream.restart();
    assert!(
        eventually(Duration::from_secs(20), || bridge_connected(
            &sandbox, "central"
        )),
        "the bridge reconnected over TLS: {:?}",
        bridges(&sandbox)
    );
    publish_sequence(&broker, "plant/a", 10, 20);
    assert!(eventually(Duration::from_secs(10), || collector
        .seen()
        .len()
        >= 20));
    let seen: Vec<u32> = collector
        .seen()
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(seen.iter().copied().eq(0..20), "{seen:?}");
}

#[test]
fn messages_from_upstream_obey_the_local_users_acl_and_never_loop() {
    let upstream = Upstream::start(None);
    // The bridge may publish commands only under cmd/allowed/, and read
    // what goes up.
    let sandbox = gateway(&["write:cmd/allowed/#", "read:shared/#", "write:shared/#"]);
    let (broker, _) = serve_bridged(
        &sandbox,
        &upstream.address(),
        "",
        "[[bridges.topics]]\npattern = \"#\"\ndirection = \"in\"\nqos = 1\n\
         local_prefix = \"cmd/\"\nremote_prefix = \"central/cmd/\"\n\
         [[bridges.topics]]\npattern = \"#\"\ndirection = \"both\"\nqos = 1\n\
         local_prefix = \"shared/\"\nremote_prefix = \"shared/\"",
        &["--http", "127.0.0.1:0"],
        &[],
    );

    let device = broker.client("device", "dev", DEVICE_PASSWORD);
    device.expect_connected();
    device.subscribe("cmd/#");
    device.subscribe("shared/#");
    let remote = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &upstream.port.to_string()])
        .args(["-q", "1", "-t", "central/cmd/denied/valve", "-m", "open"])
        .status()
        .unwrap();
    assert!(remote.success());
    let remote = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &upstream.port.to_string()])
        .args(["-q", "1", "-t", "central/cmd/allowed/valve", "-m", "open"])
        .status()
        .unwrap();
    assert!(remote.success());
    let (topic, payload) = device.message(Duration::from_secs(5)).expect("a command");
    assert_eq!(
        (topic.as_str(), payload.as_str()),
        ("cmd/allowed/valve", "open")
    );
    assert!(eventually(Duration::from_secs(5), || {
        bridges(&sandbox)[0]["refused"] == 1
    }));

    // A topic bridged both ways: published here, it goes up once and does
    // not come back (3.1.1 upstream: the bridge recognises its own echo).
    let watcher = Collector::start(&upstream, "shared/#", None);
    std::thread::sleep(Duration::from_millis(300));
    device.publish("shared/level", "42");
    assert!(eventually(Duration::from_secs(5), || watcher.seen() == ["42"]));
    let (topic, _) = device
        .message(Duration::from_secs(2))
        .expect("its own message");
    assert_eq!(topic, "shared/level");
    assert!(
        device.message(Duration::from_millis(800)).is_none(),
        "the message came back over the bridge"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(watcher.seen(), ["42"], "the message went up more than once");

    // Metrics and $SYS say the same.
    let token = sandbox.run(&["token", "create", "scraper"]).ok().stdout;
    let metrics = common::agent()
        .get(format!("{}/metrics", broker.http_base()))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains("mqreg_bridge_connected{bridge=\"central\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("mqreg_bridge_refused_messages_total{bridge=\"central\"} 1"));
}

/// What comes from upstream is acknowledged there only once this broker
/// has it on disk for the persistent sessions it is owed to: the PUBACK
/// hands the message over ([MQTT-4.3.2-2]: the receiver takes ownership),
/// so a gateway killed with SIGKILL while messages stream in loses none of
/// them; the upstream sends again what was not acknowledged. Commits are
/// slowed (`MQREG_TEST_COMMIT_DELAY_MS`, debug builds only) so that the kill
/// catches messages on their way into the store.
#[test]
fn messages_from_upstream_are_acknowledged_once_on_disk_and_survive_a_crash() {
    const MESSAGES: u32 = 300;
    let upstream = Upstream::start(None);
    let sandbox = gateway(&["write:cmd/#"]);
    let slow_disk = [("MQREG_TEST_COMMIT_DELAY_MS", "100")];
    let (broker, config) = serve_bridged(
        &sandbox,
        &upstream.address(),
        "",
        "[[bridges.topics]]\npattern = \"#\"\ndirection = \"in\"\nqos = 1\n\
         local_prefix = \"cmd/\"\nremote_prefix = \"central/cmd/\"",
        &[],
        &slow_disk,
    );
    // A device's persistent session, offline while the messages come.
    let device_session = |port: u16, wait: &str| {
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-i", "device", "-c", "-q", "1", "-t", "cmd/#"])
            .args(["-u", "dev", "-P", DEVICE_PASSWORD, "-W", wait])
            .output()
            .unwrap()
    };
    device_session(broker.port, "1");

    publish_numbers(upstream.port, &[], "central/cmd/seq", 0..MESSAGES);
    assert!(
        eventually(Duration::from_secs(20), || bridges(&sandbox)[0]["received"]
            .as_u64()
            .unwrap_or(0)
            >= 40),
        "nothing came in: {:?}",
        bridges(&sandbox)
    );
    let taken = bridges(&sandbox)[0]["received"].as_u64().unwrap_or(0);
    broker.crash();
    assert!(
        taken < u64::from(MESSAGES),
        "the crash came after the last message: nothing was on its way"
    );

    let broker = sandbox.serve_with(&["--config", &config]);
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < MESSAGES as usize && Instant::now() < deadline {
        let output = device_session(broker.port, "2");
        seen.extend(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| line.parse::<u32>().ok()),
        );
    }
    let missing: Vec<u32> = (0..MESSAGES).filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "lost in the crash: {missing:?}");
}

#[test]
fn bridges_are_added_changed_and_removed_on_sighup() {
    let upstream = Upstream::start(None);
    let sandbox = gateway(&["read:plant/#"]);
    sandbox.add_role("system", &["read:$SYS/#"]);
    sandbox.add_users(&["watcher"], DEVICE_PASSWORD, Some("system"));
    let config = write_config(&sandbox, "");
    let broker = sandbox.serve_with(&["--config", &config, "--sys-interval", "1s"]);
    assert!(bridges(&sandbox).is_empty());

    let out = |remote_prefix: &str| {
        bridge_table(
            "central",
            &upstream.address(),
            "",
            &format!(
                "[[bridges.topics]]\npattern = \"#\"\ndirection = \"out\"\n\
                 local_prefix = \"plant/\"\nremote_prefix = \"{remote_prefix}\""
            ),
        )
    };
    write_config(&sandbox, &out("site4/"));
    hangup(&broker);
    assert!(
        eventually(Duration::from_secs(10), || bridge_connected(
            &sandbox, "central"
        )),
        "the bridge did not connect: {:?}\n{}",
        bridges(&sandbox),
        broker.log()
    );
    let watcher = broker.client("sys-watcher", "watcher", DEVICE_PASSWORD);
    watcher.expect_connected();
    watcher.subscribe("$SYS/broker/connection/#");
    let (topic, state) = watcher.message(Duration::from_secs(5)).expect("$SYS state");
    assert_eq!(
        (topic.as_str(), state.as_str()),
        ("$SYS/broker/connection/central/state", "1")
    );

    // Changed: the new prefix is used.
    let collector = Collector::start(&upstream, "site5/#", None);
    std::thread::sleep(Duration::from_millis(300));
    write_config(&sandbox, &out("site5/"));
    hangup(&broker);
    assert!(eventually(Duration::from_secs(10), || {
        publish_sequence(&broker, "plant/x", 1, 2);
        !collector.seen().is_empty()
    }));
    let upstream_topics = collector.seen();
    assert_eq!(upstream_topics[0], "1");

    // Removed.
    write_config(&sandbox, "");
    hangup(&broker);
    assert!(eventually(Duration::from_secs(10), || bridges(&sandbox).is_empty()));
    assert!(broker.log().contains("bridge removed"));
}

fn hangup(broker: &Broker) {
    // SAFETY: signalling the broker we started.
    unsafe {
        libc::kill(broker.pid() as i32, libc::SIGHUP);
    }
}
