//! Enrolment with certificates, from outside: keys and CSRs made by
//! openssl as a device maker would, registration over the HTTP API
//! (`POST /api/client-registry/register`), approval, and then mosquitto's
//! clients logging in with the certificate on the TLS listener (mutual
//! TLS), refused when they must be, and renewal with curl over mutual TLS.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{call, eventually, Broker, Sandbox};
use serde_json::{json, Value};

const PASSWORD: &str = "password1";
const WAIT: Duration = Duration::from_secs(10);

/// A broker with the registry's CA, a TLS listener and an HTTPS API, a role
/// `sensor` on `sensors/{username}/#`, and `alice`, who may read anything.
struct Gateway {
    sandbox: Sandbox,
    broker: Broker,
    /// The HTTPS API's base URL.
    base: String,
    /// The server certificate, which clients trust.
    server_cert: PathBuf,
    tls_port: u16,
}

fn gateway(extra: &[&str]) -> Gateway {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .add_role("all", &["readwrite:#"])
        .add_role("sensor", &["readwrite:sensors/{username}/#"])
        .add_users(&["alice"], PASSWORD, Some("all"));
    sandbox.run(&["ca", "init"]).ok();
    let (server_cert, server_key) = common::self_signed(sandbox.dir.path(), "gateway");
    let (cert, key) = (server_cert.to_str().unwrap(), server_key.to_str().unwrap());
    let mut args = vec![
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
        "--http",
        "127.0.0.1:0",
        "--http-tls-cert",
        cert,
        "--http-tls-key",
        key,
    ];
    args.extend_from_slice(extra);
    let broker = sandbox.serve_with(&args);
    let base = broker.http_base();
    let tls_port = broker.tls_port().expect("a TLS listener");
    Gateway {
        sandbox,
        broker,
        base,
        server_cert,
        tls_port,
    }
}

/// A device's key and CSR, made by openssl: `NAME.key`, `NAME.csr`.
fn device_csr(dir: &Path, file: &str, cn: &str, key: &[&str]) -> (PathBuf, String) {
    let (key_path, csr_path) = (
        dir.join(format!("{file}.key")),
        dir.join(format!("{file}.csr")),
    );
    let made = Command::new("openssl")
        .args(["req", "-new", "-newkey"])
        .args(key)
        .args(["-nodes", "-subj", &format!("/CN={cn}")])
        .arg("-keyout")
        .arg(&key_path)
        .arg("-out")
        .arg(&csr_path)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (key_path, std::fs::read_to_string(csr_path).unwrap())
}

const P256: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// SHA-256 of a CSR's public key, computed by openssl: what the admin
/// compares with the device's label.
fn key_fingerprint(csr: &str) -> String {
    let shell =
        "openssl req -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r";
    let mut child = Command::new("sh")
        .args(["-c", shell])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), csr.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_uppercase();
    hex.as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

/// `POST /api/client-registry/register` with curl over HTTPS, as a device
/// would; returns the status and the JSON answer.
fn register(gateway: &Gateway, body: Value) -> (u16, Value) {
    curl(gateway, "/api/client-registry/register", body, None)
}

fn curl(
    gateway: &Gateway,
    path: &str,
    body: Value,
    client: Option<(&Path, &Path)>,
) -> (u16, Value) {
    let out_file = gateway.sandbox.dir.path().join("curl-out.json");
    let mut command = Command::new("curl");
    command
        .args(["-s", "-o"])
        .arg(&out_file)
        .args(["-w", "%{http_code}", "--cacert"])
        .arg(&gateway.server_cert)
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ]);
    if let Some((cert, key)) = client {
        command.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    let mut child = command
        .arg(format!("{}{path}", gateway.base))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl (apt-get install curl)");
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        body.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let status: u16 = String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0);
    let text = std::fs::read_to_string(&out_file).unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// mosquitto_pub on the TLS listener with a client certificate: true when
/// the broker let it in (a refused login exits non-zero).
fn publish_with(gateway: &Gateway, cert: &Path, key: &Path, extra: &[&str], topic: &str) -> bool {
    Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &gateway.tls_port.to_string(),
            "--cafile",
        ])
        .arg(&gateway.server_cert)
        .arg("--cert")
        .arg(cert)
        .arg("--key")
        .arg(key)
        .args(extra)
        .args(["-t", topic, "-m", "20.5", "-q", "1"])
        .output()
        .expect("mosquitto_pub")
        .status
        .success()
}

/// Whether a message published with the certificate reaches `alice`.
fn arrives(gateway: &Gateway, cert: &Path, key: &Path, topic: &str) -> bool {
    let watcher = gateway.broker.client("watcher", "alice", PASSWORD);
    watcher.expect_connected();
    watcher.subscribe(topic);
    publish_with(gateway, cert, key, &[], topic);
    watcher.message(Duration::from_secs(2)).is_some()
}

fn save(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_device_enrols_with_a_csr_and_then_logs_in_with_its_certificate() {
    let gateway = gateway(&[]);
    let dir = gateway.sandbox.dir.path();
    let (key, csr) = device_csr(dir, "dev_1", "dev_1", P256);
    let request = json!({"username": "dev_1", "csr": csr, "context": {"line": 4, "label": "A-17"}});

    // Locked, nothing pending: 423.
    let (status, answer) = register(&gateway, request.clone());
    assert_eq!(status, 423, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("locked"));

    // Unlocked: 202, and 202 again while the device polls.
    gateway.sandbox.run(&["registry", "unlock"]).ok();
    for _ in 0..2 {
        let (status, answer) = register(&gateway, request.clone());
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["conflict"], false);
    }

    // The admin sees what to compare with the device's label.
    let shown = gateway.sandbox.json(&["registry", "show", "dev_1"]);
    let attempt = &shown["passwords"][0];
    assert_eq!(shown["protocol"], "REST");
    assert_eq!(attempt["csr"]["subject"], "CN=dev_1");
    assert_eq!(attempt["csr"]["key_type"], "EC P-256");
    assert_eq!(attempt["csr"]["key_fingerprint"], key_fingerprint(&csr));
    assert_eq!(attempt["context"], json!({"line": 4, "label": "A-17"}));
    assert_eq!(attempt["password"], false);
    assert_eq!(shown["attempts"], 2);

    // Approval issues the certificate; the next poll collects it.
    gateway
        .sandbox
        .run(&["registry", "approve", "dev_1", "--role", "sensor"])
        .ok();
    let (status, answer) = register(&gateway, request);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["username"], "dev_1");
    let cert = save(dir, "dev_1.pem", answer["certificate"].as_str().unwrap());
    let ca = save(dir, "ca.pem", answer["ca"].as_str().unwrap());
    let verified = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&ca)
        .arg(&cert)
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    let user = gateway.sandbox.json(&["user", "show", "dev_1"]);
    assert_eq!(user["certificates"][0]["status"], "valid", "{user}");
    assert_eq!(
        user["certificates"][0]["fingerprint"],
        answer["fingerprint"]
    );

    // Mutual TLS: no password, and exactly the topics its role allows.
    assert!(arrives(&gateway, &cert, &key, "sensors/dev_1/temperature"));
    assert!(!arrives(&gateway, &cert, &key, "sensors/dev_2/temperature"));
    // A username sent must be the certificate's CN.
    assert!(publish_with(
        &gateway,
        &cert,
        &key,
        &["-u", "dev_1"],
        "sensors/dev_1/t"
    ));
    assert!(!publish_with(
        &gateway,
        &cert,
        &key,
        &["-u", "alice"],
        "sensors/dev_1/t"
    ));
    assert!(gateway
        .broker
        .log()
        .contains("username alice is not the client certificate's CN dev_1"));
}

#[test]
fn a_bad_csr_is_refused_with_its_reason() {
    let gateway = gateway(&[]);
    let dir = gateway.sandbox.dir.path();
    gateway.sandbox.run(&["registry", "unlock"]).ok();
    let (_, csr) = device_csr(dir, "other", "someone_else", P256);
    let (status, answer) = register(&gateway, json!({"username": "dev_1", "csr": csr}));
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("CN is \"someone_else\""),
        "{answer}"
    );

    // One byte of the signed part changed: the signature no longer holds.
    let (_, csr) = device_csr(dir, "dev_1", "dev_1", P256);
    let pem = pem_body(&csr);
    let mut der = decode_base64(&pem);
    let at = der.windows(5).position(|w| w == b"dev_1").unwrap() + 4;
    der[at] = b'2';
    let altered = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        encode_base64(&der)
    );
    let (status, answer) = register(&gateway, json!({"username": "dev_2", "csr": altered}));
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("signature"),
        "{answer}"
    );

    let (_, weak) = device_csr(dir, "weak", "dev_3", &["rsa:1024"]);
    let (status, answer) = register(&gateway, json!({"username": "dev_3", "csr": weak}));
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("RSA of 1024 bits"),
        "{answer}"
    );

    let (status, _) = register(&gateway, json!({"username": "dev_4", "csr": "hello"}));
    assert_eq!(status, 400);
    let (status, _) = register(&gateway, json!({"username": "dev_4"}));
    assert_eq!(status, 400);
    let (status, _) = register(&gateway, json!({"username": "dev-4", "password": "x"}));
    assert_eq!(status, 400);
    assert_eq!(gateway.sandbox.json(&["registry", "list"]), json!([]));
}

#[test]
fn another_csr_for_the_same_username_is_a_conflict() {
    let gateway = gateway(&[]);
    let dir = gateway.sandbox.dir.path();
    gateway.sandbox.run(&["registry", "unlock"]).ok();
    let (_, first) = device_csr(dir, "a", "pump_1", P256);
    let (_, second) = device_csr(
        dir,
        "b",
        "pump_1",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    assert_eq!(
        register(&gateway, json!({"username": "pump_1", "csr": first})).0,
        202
    );
    let (status, answer) = register(&gateway, json!({"username": "pump_1", "csr": second}));
    assert_eq!(status, 202);
    assert_eq!(answer["conflict"], true);
    let shown = gateway.sandbox.json(&["registry", "show", "pump_1"]);
    let attempts = shown["passwords"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["csr"]["key_type"], "EC P-384");
    assert_ne!(
        attempts[0]["csr"]["key_fingerprint"],
        attempts[1]["csr"]["key_fingerprint"]
    );
    // Approval needs the attempt chosen, as over MQTT.
    let refused = gateway.sandbox.run(&["registry", "approve", "pump_1"]);
    assert_eq!(refused.code, 4);
    gateway
        .sandbox
        .run(&["registry", "approve", "pump_1", "--force", "--attempt", "2"])
        .ok();
    assert_eq!(
        register(&gateway, json!({"username": "pump_1", "csr": second})).0,
        201
    );
    assert_eq!(
        register(&gateway, json!({"username": "pump_1", "csr": first})).0,
        403
    );
}

#[test]
fn certificates_that_must_not_log_in_are_refused_and_revoking_closes_live_ones() {
    let gateway = gateway(&[]);
    let dir = gateway.sandbox.dir.path();
    let sandbox = &gateway.sandbox;
    // Issued by hand: the admin enrols a device with `cert issue`.
    for name in ["dev_5", "dev_6"] {
        sandbox
            .run_with_stdin(
                &["user", "add", name, "--role", "sensor"],
                "password-1234\n",
            )
            .ok();
    }
    let (key5, csr5) = device_csr(dir, "dev_5", "dev_5", P256);
    let csr_file = save(dir, "dev_5.csr", &csr5);
    let issued = sandbox.json(&[
        "cert",
        "issue",
        "dev_5",
        "--csr",
        csr_file.to_str().unwrap(),
    ]);
    let cert5 = save(dir, "dev_5.pem", issued["certificate"].as_str().unwrap());
    assert!(arrives(&gateway, &cert5, &key5, "sensors/dev_5/t"));

    // Another CA's certificate for the same name: refused, reason logged.
    let (other_ca, other_key) = common::self_signed(dir, "other-ca");
    let forged = dir.join("forged.pem");
    let extensions = save(dir, "client.ext", "extendedKeyUsage=clientAuth\n");
    let signed = Command::new("openssl")
        .args(["x509", "-req", "-days", "1", "-extfile"])
        .arg(&extensions)
        .arg("-in")
        .arg(&csr_file)
        .arg("-CA")
        .arg(&other_ca)
        .arg("-CAkey")
        .arg(&other_key)
        .arg("-out")
        .arg(&forged)
        .output()
        .unwrap();
    assert!(signed.status.success(), "{signed:?}");
    assert!(!publish_with(
        &gateway,
        &forged,
        &key5,
        &[],
        "sensors/dev_5/t"
    ));
    assert!(gateway
        .broker
        .log()
        .contains("client certificate from a CA the broker does not trust"));

    // Revoking closes the live connection at once, and refuses new ones.
    let mut live = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &gateway.tls_port.to_string(),
            "--cafile",
        ])
        .arg(&gateway.server_cert)
        .arg("--cert")
        .arg(&cert5)
        .arg("--key")
        .arg(&key5)
        .args(["-i", "dev5-live", "-t", "sensors/dev_5/#"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(WAIT, || gateway
        .broker
        .log()
        .contains("client_id=dev5-live")));
    let start = Instant::now();
    sandbox.run(&["user", "revoke-cert", "dev_5"]).ok();
    common::assert_live(start, "the revoked certificate's connection closed", || {
        gateway.broker.log().contains("reason=certificate revoked")
    });
    assert!(
        eventually(WAIT, || live.try_wait().unwrap().is_some()),
        "mosquitto_sub ended (its reconnect is refused)"
    );
    assert!(!publish_with(
        &gateway,
        &cert5,
        &key5,
        &[],
        "sensors/dev_5/t"
    ));
    assert!(gateway
        .broker
        .log()
        .contains("reason=client certificate revoked"));

    // A deleted user's certificate no longer logs in, nor does it for a
    // new user of the same name.
    let (key6, csr6) = device_csr(dir, "dev_6", "dev_6", P256);
    let csr6_file = save(dir, "dev_6.csr", &csr6);
    let issued = sandbox.json(&[
        "cert",
        "issue",
        "dev_6",
        "--csr",
        csr6_file.to_str().unwrap(),
    ]);
    let cert6 = save(dir, "dev_6.pem", issued["certificate"].as_str().unwrap());
    assert!(publish_with(
        &gateway,
        &cert6,
        &key6,
        &[],
        "sensors/dev_6/t"
    ));
    sandbox.run(&["user", "delete", "dev_6"]).ok();
    assert!(!publish_with(
        &gateway,
        &cert6,
        &key6,
        &[],
        "sensors/dev_6/t"
    ));
    sandbox
        .run_with_stdin(
            &["user", "add", "dev_6", "--role", "sensor"],
            "password-1234\n",
        )
        .ok();
    assert!(!publish_with(
        &gateway,
        &cert6,
        &key6,
        &[],
        "sensors/dev_6/t"
    ));
    assert!(gateway
        .broker
        .log()
        .contains("not issued to the user dev_6"));
    // A disabled user's certificate neither.
    sandbox
        .run_with_stdin(
            &["user", "add", "dev_7", "--role", "sensor"],
            "password-1234\n",
        )
        .ok();
    let (key7, csr7) = device_csr(dir, "dev_7", "dev_7", P256);
    let csr7_file = save(dir, "dev_7.csr", &csr7);
    let issued = sandbox.json(&[
        "cert",
        "issue",
        "dev_7",
        "--csr",
        csr7_file.to_str().unwrap(),
    ]);
    let cert7 = save(dir, "dev_7.pem", issued["certificate"].as_str().unwrap());
    sandbox.run(&["user", "disable", "dev_7"]).ok();
    assert!(!publish_with(
        &gateway,
        &cert7,
        &key7,
        &[],
        "sensors/dev_7/t"
    ));
    let _ = live.kill();
    let _ = live.wait();
}

#[test]
fn a_certificate_is_renewed_over_mutual_tls_and_the_old_one_still_works() {
    let gateway = gateway(&[]);
    let dir = gateway.sandbox.dir.path();
    let sandbox = &gateway.sandbox;
    sandbox
        .run_with_stdin(
            &["user", "add", "dev_8", "--role", "sensor"],
            "password-1234\n",
        )
        .ok();
    let (key, csr) = device_csr(dir, "dev_8", "dev_8", P256);
    let csr_file = save(dir, "dev_8.csr", &csr);
    let issued = sandbox.json(&[
        "cert",
        "issue",
        "dev_8",
        "--csr",
        csr_file.to_str().unwrap(),
    ]);
    let old = save(dir, "dev_8.pem", issued["certificate"].as_str().unwrap());

    let (new_key, new_csr) = device_csr(dir, "dev_8b", "dev_8", P256);
    let (status, answer) = curl(
        &gateway,
        "/api/client-registry/renew",
        json!({ "csr": new_csr }),
        Some((&old, &key)),
    );
    assert_eq!(status, 201, "{answer}");
    let new = save(dir, "dev_8b.pem", answer["certificate"].as_str().unwrap());
    assert_ne!(answer["serial"], issued["serial"]);
    assert!(arrives(&gateway, &new, &new_key, "sensors/dev_8/t"));
    assert!(arrives(&gateway, &old, &key, "sensors/dev_8/t"));
    let user = sandbox.json(&["user", "show", "dev_8"]);
    assert_eq!(user["certificates"].as_array().unwrap().len(), 2);
    let audit = sandbox.json(&["audit", "--lines", "5"]);
    assert!(audit.to_string().contains("device:dev_8"), "{audit}");

    // Without a certificate, or for another name: refused.
    let (status, _) = curl(
        &gateway,
        "/api/client-registry/renew",
        json!({"csr": new_csr}),
        None,
    );
    assert_eq!(status, 401);
    let (_, other_csr) = device_csr(dir, "dev_9", "dev_9", P256);
    let (status, answer) = curl(
        &gateway,
        "/api/client-registry/renew",
        json!({ "csr": other_csr }),
        Some((&old, &key)),
    );
    assert_eq!(status, 400, "{answer}");
    // Renewal keeps the old certificate valid, so it is bounded: at most
    // four valid certificates per user.
    for expected in [201, 201, 403] {
        let (status, answer) = curl(
            &gateway,
            "/api/client-registry/renew",
            json!({ "csr": new_csr }),
            Some((&old, &key)),
        );
        assert_eq!(status, expected, "{answer}");
        if status == 403 {
            assert!(
                answer["error"]
                    .as_str()
                    .unwrap()
                    .contains("4 valid certificates"),
                "{answer}"
            );
        }
    }
    // A revoked certificate renews nothing.
    sandbox
        .run(&[
            "user",
            "revoke-cert",
            "dev_8",
            issued["serial"].as_str().unwrap(),
        ])
        .ok();
    let (status, _) = curl(
        &gateway,
        "/api/client-registry/renew",
        json!({ "csr": new_csr }),
        Some((&old, &key)),
    );
    assert_eq!(status, 403);
    assert!(arrives(&gateway, &new, &new_key, "sensors/dev_8/t"));
}

#[test]
fn rest_registrations_from_one_address_are_bounded_like_mqtt_ones() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    // The flood guard counts loopback too here.
    mqreg::state::store::Store::new(&sandbox.state)
        .update(|state| {
            state.flood.exempt.clear();
            Ok(())
        })
        .unwrap();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve_with(&["--http", "127.0.0.1:0"]);
    let base = broker.http_base();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..200 {
        let body = json!({"username": format!("bulk_{i}"), "password": format!("password-{i:04}")});
        let (status, _) = call(
            &base,
            "POST",
            "/api/client-registry/register",
            None,
            Some(body),
        );
        *statuses.entry(status).or_insert(0) += 1;
    }
    let pending = sandbox
        .json(&["registry", "list"])
        .as_array()
        .unwrap()
        .len();
    assert!(pending <= 16, "{pending} pending; {statuses:?}");
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 150,
        "{statuses:?}"
    );
    let bans = sandbox.json(&["ban", "list"]);
    assert_eq!(bans[0]["kind"], "flood", "{bans}");
    // The same address over MQTT is shut out too: one guard for both doors.
    let (code, _) =
        broker.mosquitto_pub(&["-u", "bulk_x", "-P", "password-x", "-t", "x", "-m", "y"]);
    assert_ne!(code, 0);
}

/// The base64 body of a PEM block.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

fn decode_base64(text: &str) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["base64", "-d", "-A"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    out.stdout
}

fn encode_base64(bytes: &[u8]) -> String {
    let out = Command::new("openssl")
        .args(["base64", "-A"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
