//! The Client Registry View in a real browser: Debian's headless Chromium,
//! driven through chromedriver (WebDriver) by fantoccini, against the real
//! broker, with real devices (mosquitto's clients) registering, logging in
//! and being kicked while the page watches.
//!
//! Each test signs in as a person would (the token typed into the form) and
//! acts through what is on screen: clicks, keys, the text of tables. What
//! the page shows is then checked against the broker itself (the device's
//! login, the API, the CLI). `MQREG_SCREENSHOTS=1` also writes the pages'
//! pictures into `docs/screenshots/` (the README shows them).

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Broker, Sandbox};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const PASSWORD: &str = "password1";
const WAIT: Duration = Duration::from_secs(10);

/// A gateway: a broker with its API, an admin's and a viewer's token, a
/// role `sensor` and a user `alice` who may read everything.
struct Gateway {
    sandbox: Sandbox,
    broker: Broker,
    base: String,
    admin: String,
    viewer: String,
}

fn gateway() -> Gateway {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .add_role("all", &["readwrite:#"])
        .add_role("sensor", &["write:sensors/{username}/#"])
        .add_users(&["alice"], PASSWORD, Some("all"));
    let admin = token(&sandbox, "ops", "admin");
    let viewer = token(&sandbox, "grafana", "viewer");
    let broker = sandbox.serve_with(&["--http", "127.0.0.1:0"]);
    let base = broker.http_base();
    Gateway {
        sandbox,
        broker,
        base,
        admin,
        viewer,
    }
}

fn token(sandbox: &Sandbox, name: &str, role: &str) -> String {
    sandbox.json(&["token", "create", name, "--role", role])["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A device trying to log in once, as mosquitto_pub does: true when it was
/// let in and its message accepted.
fn device_publishes(gateway: &Gateway, user: &str, password: &str, topic: &str) -> bool {
    let (code, _) = gateway.broker.mosquitto_pub(&[
        "-V",
        "mqttv311",
        "-i",
        &format!("{user}-c"),
        "-u",
        user,
        "-P",
        password,
        "-t",
        topic,
        "-m",
        "21.5",
        "-q",
        "1",
    ]);
    code == 0
}

/// Whether `alice` (who may read everything) sees a message a device
/// publishes to `topic`: proof that the broker accepted it, which
/// mosquitto_pub's exit code alone is not for MQTT 3.1.1.
fn arrives(gateway: &Gateway, user: &str, password: &str, topic: &str) -> bool {
    let watcher = gateway.broker.client("watcher", "alice", PASSWORD);
    watcher.expect_connected();
    watcher.subscribe(topic);
    device_publishes(gateway, user, password, topic);
    watcher.message(Duration::from_secs(2)).is_some()
}

#[tokio::test]
async fn an_admin_unlocks_approves_a_registering_device_and_locks_again() {
    let gateway = gateway();
    let page = Page::open(&gateway, 1280).await;
    page.sign_in(&gateway.admin).await;

    // Unlock with the default choice, five minutes; the countdown runs.
    assert_eq!(page.value("#unlock-for").await, "5m");
    page.click("#unlock").await;
    page.wait_text("#registry-badge", "Unlocked · 4:5").await;
    let status = api(&gateway, "GET", "/api/v1/registry", None).1;
    assert_eq!(status["locked"], false, "{status}");

    // A device registers: its row appears without a reload (the mark set
    // on this document is still there).
    page.script("window.notReloaded = true; return null").await;
    assert!(!device_publishes(
        &gateway,
        "sensor_7",
        "s3cret-sensor-7",
        "sensors/sensor_7/t"
    ));
    let row = "#pending tr[data-key='sensor_7']";
    for expected in ["sensor_7-c", "127.0.0.1:", "MQTT 3.1.1", "just now", "no"] {
        page.wait_text(row, expected).await;
    }
    assert_eq!(
        page.script("return window.notReloaded === true").await,
        json!(true)
    );
    page.wait_text("#pending-count", "1").await;

    // Grant Access with a role.
    page.click(row).await;
    page.wait_text("#grant-title", "Grant access to sensor_7")
        .await;
    page.wait_text("#grant-details", "sensor_7-c").await;
    page.click("#grant-role-sensor").await;
    page.click("#grant-allow").await;
    page.wait_gone("#pending tr[data-key='sensor_7']").await;
    page.wait_text("#notice", "Approved sensor_7 with sensor")
        .await;
    assert!(!page.shown("#grant").await, "the dialog closes");

    // The device now logs in and publishes within its grant, and only there.
    assert!(arrives(
        &gateway,
        "sensor_7",
        "s3cret-sensor-7",
        "sensors/sensor_7/t"
    ));
    assert!(!arrives(
        &gateway,
        "sensor_7",
        "s3cret-sensor-7",
        "sensors/other/t"
    ));
    assert!(!device_publishes(
        &gateway,
        "sensor_7",
        "another-password",
        "sensors/sensor_7/t"
    ));
    let user = api(&gateway, "GET", "/api/v1/users/sensor_7", None).1;
    assert_eq!(user["roles"], json!(["sensor"]), "{user}");

    // Lock: the page and the broker agree.
    page.click("#lock").await;
    page.wait_text("#registry-badge", "Locked").await;
    let status = api(&gateway, "GET", "/api/v1/registry", None).1;
    assert_eq!(status["locked"], true, "{status}");

    page.assert_no_console_errors().await;
    page.close().await;
}

#[tokio::test]
async fn a_viewer_sees_every_page_and_no_control_that_changes_anything() {
    let gateway = gateway();
    gateway.sandbox.run(&["registry", "unlock"]).ok();
    assert!(!device_publishes(&gateway, "cam_1", "camera-password", "x"));
    let page = Page::open(&gateway, 1280).await;
    page.sign_in(&gateway.viewer).await;
    page.wait_text("#who", "api:grafana · read-only").await;
    page.wait_for("#pending tr[data-key='cam_1']").await;

    // Every control that changes something is out of sight, on every page.
    for section in ["registry", "users", "roles", "bans", "clients", "audit"] {
        page.goto_section(section).await;
        let changers = page
            .script("return [...document.querySelectorAll('.change')].filter(e => e.offsetParent !== null).map(e => e.outerHTML.slice(0, 80))")
            .await;
        assert_eq!(changers, json!([]), "visible controls on {section}");
    }
    page.goto_section("users").await;
    page.wait_for("#users tr[data-key='alice']").await;

    // A request still opens, read-only: its details, no Allow, no Reject.
    page.goto_section("registry").await;
    page.click("#pending tr[data-key='cam_1']").await;
    page.wait_text("#grant-details", "cam_1-c").await;
    assert!(!page.shown("#grant-allow").await);
    assert!(!page.shown("#grant-reject").await);

    // And the token could not have done it anyway: the server says 403.
    let refused = page
        .script_async(
            "const done = arguments[arguments.length - 1];
             fetch('api/v1/registry/requests/cam_1/approve', {method: 'POST',
               headers: {Authorization: 'Bearer ' + sessionStorage.getItem('mqreg.token')}})
             .then(r => done(r.status))",
        )
        .await;
    assert_eq!(refused, json!(403));
    let pending = api(&gateway, "GET", "/api/v1/registry/requests", None).1;
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    page.close().await;
}

#[tokio::test]
async fn a_conflicted_request_is_approved_only_with_the_attempt_chosen() {
    let gateway = gateway();
    gateway.sandbox.run(&["registry", "unlock"]).ok();
    assert!(!device_publishes(&gateway, "pump_2", "the-real-pump", "x"));
    assert!(!device_publishes(&gateway, "pump_2", "an-impostor", "x"));
    let page = Page::open(&gateway, 1280).await;
    page.sign_in(&gateway.admin).await;
    page.wait_text("#pending tr[data-key='pump_2']", "2 passwords")
        .await;

    // Keyboard only: Tab to the row, Enter opens it.
    page.focus_by_tab("#pending tr[data-key='pump_2']").await;
    page.press(Key::Enter).await;
    page.wait_text("#grant-attempts", "Attempt 2").await;
    assert!(page.shown("#grant-attempts").await);
    assert!(
        !page.find("#grant-allow").await.is_enabled().await.unwrap(),
        "Allow waits for an attempt"
    );
    // Esc closes the dialog; the request is still pending.
    page.press(Key::Escape).await;
    page.wait_until_hidden("#grant").await;
    let pending = api(&gateway, "GET", "/api/v1/registry/requests", None).1;
    assert_eq!(pending[0]["username"], "pump_2", "{pending}");

    // The first attempt is the real pump; approved with the keyboard only.
    page.focus_by_tab("#pending tr[data-key='pump_2']").await;
    page.press(Key::Enter).await;
    page.wait_text("#grant-attempts", "Attempt 2").await;
    page.focus_by_tab("#attempt-1").await;
    page.press_text(" ").await;
    page.focus_by_tab("#grant-role-sensor").await;
    page.press_text(" ").await;
    page.focus_by_tab("#grant-allow").await;
    page.press(Key::Enter).await;
    page.wait_gone("#pending tr[data-key='pump_2']").await;
    assert!(arrives(
        &gateway,
        "pump_2",
        "the-real-pump",
        "sensors/pump_2/p"
    ));
    assert!(!device_publishes(
        &gateway,
        "pump_2",
        "an-impostor",
        "sensors/pump_2/p"
    ));
    page.assert_no_console_errors().await;
    page.close().await;
}

#[tokio::test]
async fn a_live_client_is_listed_and_kicked() {
    let gateway = gateway();
    let device = gateway.broker.client("line4.plc", "alice", PASSWORD);
    device.expect_connected();
    let page = Page::open(&gateway, 1280).await;
    page.sign_in(&gateway.admin).await;
    page.goto_section("clients").await;
    page.wait_text("#clients tr[data-key='line4.plc']", "alice")
        .await;
    page.click("button[aria-label='Kick line4.plc']").await;
    page.wait_text("#notice", "Kicked line4.plc").await;
    assert!(
        common::eventually(WAIT, || matches!(
            device.next(Duration::from_millis(100)),
            Some(common::Seen::Closed)
        )),
        "the device's connection was closed"
    );
    page.wait_gone("#clients tr[data-key='line4.plc']").await;
    page.assert_no_console_errors().await;
    page.close().await;
}

#[tokio::test]
async fn changes_made_from_the_cli_appear_within_a_second() {
    let gateway = gateway();
    let page = Page::open(&gateway, 1280).await;
    page.sign_in(&gateway.admin).await;
    page.goto_section("users").await;
    page.wait_for("#users tr[data-key='alice']").await;

    let start = Instant::now();
    gateway
        .sandbox
        .run_with_stdin(
            &["user", "add", "bob", "--role", "sensor"],
            "password-of-bob\n",
        )
        .ok();
    let took = page
        .wait_for_within("#users tr[data-key='bob']", start)
        .await;
    eprintln!("a user added from the CLI showed on the page after {took:?}");

    page.goto_section("registry").await;
    page.wait_text("#registry-badge", "Locked").await;
    let start = Instant::now();
    gateway
        .sandbox
        .run(&["registry", "unlock", "--for", "2m"])
        .ok();
    page.wait_text_within("#registry-badge", "Unlocked ·", start)
        .await;
    page.wait_text("#window-state", "for 1:5").await;
    page.close().await;
}

#[tokio::test]
async fn users_roles_and_bans_are_managed_from_the_page() {
    let gateway = gateway();
    gateway
        .sandbox
        .run_with_stdin(&["user", "add", "meter_9"], "meter-password\n")
        .ok();
    gateway
        .sandbox
        .run(&["ban", "add", "--address", "10.9.8.7", "--for", "1h"])
        .ok();
    let page = Page::open(&gateway, 1280).await;
    page.sign_in(&gateway.admin).await;

    // A role with a permission that names the device.
    page.goto_section("roles").await;
    page.type_into("#role-name", "meter").await;
    page.click("#role-form button[type=submit]").await;
    page.wait_for("#roles article[data-key='meter']").await;
    page.type_into(
        "input[aria-label='Topic filter for a new permission of meter']",
        "meters/{username}/#",
    )
    .await;
    page.click("button[aria-label='Allow on meter']").await;
    page.wait_text(
        "#roles article[data-key='meter']",
        "read:meters/{username}/#",
    )
    .await;
    // A bad filter is refused, and the reason shows beside the role.
    page.type_into(
        "input[aria-label='Topic filter for a new permission of meter']",
        "meters/#/x",
    )
    .await;
    page.click("button[aria-label='Allow on meter']").await;
    page.wait_text("#roles article[data-key='meter'] .error", "#")
        .await;

    // Grant it to the user, then disable the user.
    page.goto_section("users").await;
    page.click("#users tr[data-key='meter_9']").await;
    page.click("#user-role-meter").await;
    page.click("#user-save").await;
    page.wait_text("#users tr[data-key='meter_9']", "meter")
        .await;
    let user = api(&gateway, "GET", "/api/v1/users/meter_9", None).1;
    assert_eq!(user["roles"], json!(["meter"]), "{user}");
    page.click("#users tr[data-key='meter_9']").await;
    page.click("#user-toggle").await;
    page.wait_text("#users tr[data-key='meter_9']", "disabled")
        .await;
    assert!(!device_publishes(
        &gateway,
        "meter_9",
        "meter-password",
        "meters/meter_9/x"
    ));

    // Delete asks first.
    page.click("#user-delete").await;
    page.wait_text("#confirm-title", "Delete meter_9?").await;
    page.click("#confirm-yes").await;
    page.wait_gone("#users tr[data-key='meter_9']").await;
    let (status, _) = api(&gateway, "GET", "/api/v1/users/meter_9", None);
    assert_eq!(status, 404);

    // Bans: the one from the CLI is listed and removed here.
    page.goto_section("bans").await;
    page.wait_text("#bans tr[data-key='1']", "10.9.8.7").await;
    page.click("button[aria-label='Remove ban 1 on 10.9.8.7']")
        .await;
    page.wait_gone("#bans tr[data-key='1']").await;
    assert_eq!(api(&gateway, "GET", "/api/v1/bans", None).1, json!([]));

    // The audit log names this page's token for each change, filterable.
    page.goto_section("audit").await;
    page.type_into("#audit-actor", "api:ops").await;
    page.wait_text("#audit", "user delete").await;
    let rows = page
        .script("return [...document.querySelectorAll('#audit tbody tr')].map(r => r.cells[1].textContent)")
        .await;
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|actor| actor == "api:ops"),
        "{rows}"
    );
    page.close().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_in_words_and_bulk_approval_previews_its_matches() {
    let gateway = gateway();
    gateway.sandbox.run(&["registry", "unlock"]).ok();
    for name in ["sensor_a", "sensor_b", "valve_1"] {
        assert!(!device_publishes(&gateway, name, "device-password", "x"));
    }
    let page = Page::open(&gateway, 1280).await;
    page.goto("/").await;
    page.type_into("#token", "mqr_0000").await;
    page.press(Key::Enter).await;
    page.wait_text("#sign-in-error", "The gateway refused this token")
        .await;
    assert!(page.shown("#sign-in").await);

    page.sign_in(&gateway.admin).await;
    page.click("#bulk summary").await;
    page.type_into("#bulk-match", "sensor_*").await;
    page.wait_text("#bulk-preview", "Matches 2: sensor_a, sensor_b")
        .await;
    page.wait_text("#bulk-approve", "Approve 2 matching").await;
    page.click("#bulk-role-sensor").await;
    page.click("#bulk-approve").await;
    page.wait_gone("#pending tr[data-key='sensor_a']").await;
    page.wait_for("#pending tr[data-key='valve_1']").await;
    let users = api(&gateway, "GET", "/api/v1/users", None).1;
    let approved: Vec<_> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|user| user["roles"] == json!(["sensor"]))
        .map(|user| user["username"].as_str().unwrap())
        .collect();
    assert_eq!(approved, ["sensor_a", "sensor_b"]);
    page.close().await;
}

#[tokio::test]
async fn a_device_enrolling_with_a_csr_shows_its_key_and_its_certificate_is_revoked_here() {
    let gateway = gateway();
    gateway.sandbox.run(&["ca", "init"]).ok();
    gateway.sandbox.run(&["registry", "unlock"]).ok();
    let dir = gateway.sandbox.dir.path();
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=meter_3", "-keyout"])
        .arg(dir.join("meter.key"))
        .arg("-out")
        .arg(dir.join("meter.csr"))
        .output()
        .unwrap();
    assert!(made.status.success());
    let csr = std::fs::read_to_string(dir.join("meter.csr")).unwrap();
    let request = json!({"username": "meter_3", "csr": csr, "context": {"label": "B-2"}});
    let (status, _) = common::call(
        &gateway.base,
        "POST",
        "/api/client-registry/register",
        None,
        Some(request.clone()),
    );
    assert_eq!(status, 202);
    let fingerprint = gateway.sandbox.json(&["registry", "show", "meter_3"])["passwords"][0]["csr"]
        ["key_fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();

    let page = Page::open(&gateway, 1280).await;
    page.sign_in(&gateway.admin).await;
    page.wait_text("#pending tr[data-key='meter_3']", "REST (HTTPS)")
        .await;
    page.click("#pending tr[data-key='meter_3']").await;
    page.wait_text("#grant-details", &fingerprint).await;
    page.wait_text("#grant-details", "\"label\":\"B-2\"").await;
    page.click("#grant-role-sensor").await;
    page.click("#grant-allow").await;
    page.wait_gone("#pending tr[data-key='meter_3']").await;
    let (status, answer) = common::call(
        &gateway.base,
        "POST",
        "/api/client-registry/register",
        None,
        Some(request),
    );
    assert_eq!(status, 201, "{answer}");

    page.goto_section("users").await;
    page.wait_text("#users tr[data-key='meter_3']", "1 valid")
        .await;
    page.click("#users tr[data-key='meter_3']").await;
    let serial = answer["serial"].as_str().unwrap();
    page.click(&format!(
        "button[aria-label='Revoke certificate {serial} of meter_3']"
    ))
    .await;
    page.wait_text("#confirm-title", "Revoke certificate?")
        .await;
    page.click("#confirm-yes").await;
    page.wait_text("#users tr[data-key='meter_3']", "0 valid of 1")
        .await;
    let user = api(&gateway, "GET", "/api/v1/users/meter_3", None).1;
    assert_eq!(user["certificates"][0]["status"], "revoked", "{user}");
    page.assert_no_console_errors().await;
    page.close().await;
}

/// The pages at a desktop's and a phone's width: nothing wider than the
/// screen (no sideways scrolling on a phone), and pictures for the README.
#[tokio::test]
async fn every_page_fits_a_phone_and_a_desktop() {
    let gateway = gateway();
    gateway
        .sandbox
        .run(&["registry", "unlock", "--for", "5m"])
        .ok();
    for (name, password) in [("sensor_12", "pw-sensor_12"), ("camera_3", "pw-camera_3")] {
        assert!(!device_publishes(&gateway, name, password, "x"));
    }
    assert!(!device_publishes(&gateway, "camera_3", "another-one", "x"));
    gateway
        .sandbox
        .run(&[
            "ban",
            "add",
            "--address",
            "10.20.0.0/16",
            "--for",
            "1d",
            "--reason",
            "old firmware",
        ])
        .ok();
    let plc = gateway.broker.client("line4.plc", "alice", PASSWORD);
    plc.expect_connected();
    let save = std::env::var_os("MQREG_SCREENSHOTS").is_some();
    for width in [1280, 360] {
        let page = Page::open(&gateway, width).await;
        page.sign_in(&gateway.admin).await;
        page.wait_for("#pending tr[data-key='camera_3']").await;
        for section in ["registry", "users", "roles", "bans", "clients", "audit"] {
            page.goto_section(section).await;
            page.wait_for(&format!(
                "#page-{section} tbody tr, #page-{section} article"
            ))
            .await;
            let overflow = page
                .script("return document.documentElement.scrollWidth - window.innerWidth")
                .await;
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{section} at {width} px is {overflow} px too wide"
            );
            page.assert_controls_named(section).await;
            if save {
                page.save_screenshot(&format!("{section}-{width}")).await;
            }
        }
        page.goto_section("registry").await;
        page.click("#pending tr[data-key='camera_3']").await;
        page.wait_text("#grant-attempts", "Attempt 2").await;
        page.assert_controls_named("the Grant Access dialog").await;
        if save {
            page.save_screenshot(&format!("grant-{width}")).await;
        }
        page.assert_no_console_errors().await;
        page.close().await;
    }
}

/// One request to the API with the admin token.
fn api(gateway: &Gateway, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    common::call(&gateway.base, method, path, Some(&gateway.admin), body)
}

// ------------------------------------------------------------- the browser

/// One browser at a time: two cores, and each Chromium wants one.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chromedriver on a port of its own, in a process group of its own so that
/// it and the Chromium it starts are stopped together, even after a panic.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> Self {
        let port = common::postgres::free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run chromedriver (apt-get install chromium chromium-driver): {e}")
            });
        let url = format!("http://127.0.0.1:{port}");
        let ready = common::eventually(Duration::from_secs(20), || {
            ureq::get(&format!("{url}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|status| status["value"]["ready"] == true)
        });
        assert!(ready, "chromedriver did not start on port {port}");
        Self { child, url }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // SAFETY: a plain syscall on the group this child leads.
        unsafe { libc::killpg(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A Chromium tab on the gateway's page, `width` pixels wide.
struct Page {
    client: Client,
    base: String,
    driver: ChromeDriver,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Page {
    async fn open(gateway: &Gateway, width: u32) -> Page {
        let turn = ONE_BROWSER.lock().await;
        let driver = ChromeDriver::start();
        let profile = tempfile::tempdir().unwrap();
        let mut options = json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-quic", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                format!("--window-size={},900", width.max(800)),
                format!("--user-data-dir={}", profile.path().display()),
            ],
        });
        if width < 800 {
            // A headless window is at least 500 px wide: a phone is emulated,
            // touch and all, as Chromium's device mode does.
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": 780, "pixelRatio": 1 }
            });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": options,
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(serde_json::from_value(capabilities).unwrap())
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        client.goto(&format!("{}/", gateway.base)).await.unwrap();
        let inner = client
            .execute("return window.innerWidth", vec![])
            .await
            .unwrap();
        assert_eq!(inner, json!(width), "the viewport's width");
        Page {
            client,
            base: gateway.base.clone(),
            driver,
            _profile: profile,
            _turn: turn,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// Signs in through the form, and waits for the event stream to be open.
    async fn sign_in(&self, token: &str) {
        self.goto("/").await;
        self.type_into("#token", token).await;
        self.click("#sign-in-form button[type=submit]").await;
        self.wait_for("#app:not([hidden])").await;
        self.wait_for("#live.on").await;
    }

    async fn goto_section(&self, section: &str) {
        self.click(&format!(".tabs a[data-page='{section}']")).await;
        self.wait_for(&format!("#page-{section}:not([hidden])"))
            .await;
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("waited {WAIT:?} for {css}: {e}"))
    }

    /// Waits for `css`, and fails unless it came within a second of `start`.
    async fn wait_for_within(&self, css: &str, start: Instant) -> Duration {
        self.wait_for(css).await;
        let took = start.elapsed();
        assert!(took <= common::LIVE, "{css} showed after {took:?}");
        took
    }

    async fn wait_text_within(&self, css: &str, needle: &str, start: Instant) -> Duration {
        self.wait_text(css, needle).await;
        let took = start.elapsed();
        assert!(
            took <= common::LIVE,
            "{needle:?} in {css} showed after {took:?}"
        );
        took
    }

    async fn wait_text(&self, css: &str, needle: &str) {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                last = element.text().await.unwrap_or_default();
                if last.contains(needle) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{needle:?} never showed in {css}; it says {last:?}");
    }

    async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.client.find(Locator::Css(css)).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} is still there after {WAIT:?}");
    }

    async fn wait_until_hidden(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if !self.shown(css).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} is still shown after {WAIT:?}");
    }

    async fn shown(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Waits for `css` to be on screen and usable, as a person would.
    async fn wait_usable(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false)
                    && element.is_enabled().await.unwrap_or(false)
                {
                    return element;
                }
            }
            assert!(Instant::now() < deadline, "{css} never became usable");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks `css`; a row that a live update replaced between finding and
    /// clicking it is found again (as a person would click the new one).
    async fn click(&self, css: &str) {
        for _ in 0..20 {
            let element = self.wait_usable(css).await;
            match element.click().await {
                Ok(()) => return,
                Err(error) if error.to_string().contains("stale element") => continue,
                Err(error) => panic!("click {css}: {error}"),
            }
        }
        panic!("{css} was replaced each time it was clicked");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.wait_usable(css).await;
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
        assert_eq!(self.value(css).await, text, "typed into {css}");
    }

    async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn press(&self, key: Key) {
        let active = self.client.active_element().await.unwrap();
        active
            .send_keys(&char::from(key).to_string())
            .await
            .unwrap();
    }

    async fn press_text(&self, text: &str) {
        let active = self.client.active_element().await.unwrap();
        active.send_keys(text).await.unwrap();
    }

    /// Every control in sight has a name a screen reader can say: its text,
    /// a label, or an `aria-label`.
    async fn assert_controls_named(&self, place: &str) {
        let nameless = self
            .script(
                "return [...document.querySelectorAll('button, input, select, a, [tabindex]')]
                   .filter(e => e.offsetParent !== null)
                   .filter(e => !(e.getAttribute('aria-label') || (e.labels && e.labels.length)
                                 || e.textContent.trim()))
                   .map(e => e.outerHTML.slice(0, 100))",
            )
            .await;
        assert_eq!(nameless, json!([]), "controls without a name on {place}");
    }

    /// Presses Tab until `css` has the focus (at most 60 times): the element
    /// is reachable by keyboard, in tab order.
    async fn focus_by_tab(&self, css: &str) {
        self.client
            .execute(
                "document.activeElement.blur(); window.scrollTo(0, 0)",
                vec![],
            )
            .await
            .unwrap();
        for _ in 0..60 {
            self.press(Key::Tab).await;
            let here = self
                .script(&format!(
                    "return document.activeElement.matches({})",
                    json!(css)
                ))
                .await;
            if here == json!(true) {
                return;
            }
        }
        panic!("{css} is not reached with Tab");
    }

    async fn script(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    async fn script_async(&self, script: &str) -> Value {
        self.client.execute_async(script, vec![]).await.unwrap()
    }

    async fn save_screenshot(&self, name: &str) {
        // Let relative times and the countdown settle into their text.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client.screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Chromium's console holds no error (a failed load, a script error, a
    /// refused content-security rule).
    async fn assert_no_console_errors(&self) {
        let session = self.client.session_id().await.unwrap().unwrap();
        let mut response = ureq::post(&format!("{}/session/{session}/se/log", self.driver.url))
            .send_json(json!({ "type": "browser" }))
            .unwrap();
        let log: Value = response.body_mut().read_json().unwrap();
        let errors: Vec<_> = log["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .collect();
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}
