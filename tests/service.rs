//! mqreg as a system service: files that keep their owner under sudo and never
//! follow planted symlinks, the preflight, signals, the served-by record, logs
//! for people and for shippers, and the packaged unit file. Tests that need
//! root (CI runs as root) are named `needs_root_...`; run as another user,
//! they pass without checking anything and print `SKIPPED` in cargo's
//! output, even without --nocapture.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{eventually, Sandbox};
use serde_json::json;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Whether a `needs_root_...` test can run. When not root, it says so where
/// it shows: straight to the process's stderr, which the test harness does
/// not capture (it captures `eprintln!`, shown for failing tests only), so
/// that a skipped test is not mistaken for a passed one.
fn runs_as_root(test: &str, why: &str) -> bool {
    if is_root() {
        return true;
    }
    // One write, so that the line is not split by the harness's own output.
    let line = format!("SKIPPED {test}: {why}; not root (CI runs as root)\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    false
}

/// `nobody` on Debian: a user the state can belong to that is not root.
const NOBODY: u32 = 65534;

fn owner(path: &Path) -> (u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    (meta.uid(), meta.gid())
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -{name} {pid}")])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn needs_root_writing_a_service_users_state_keeps_every_file_the_users() {
    if !runs_as_root(
        "needs_root_writing_a_service_users_state_keeps_every_file_the_users",
        "writes as root a state another user owns",
    ) {
        return;
    }
    let sandbox = Sandbox::new();
    // A state big enough to get a parse cache, owned by the service user.
    mqreg::state::store::Store::new(&sandbox.state)
        .update(|state| {
            let hash = mqreg::password::hash("pw-secret", common::cheap_cost());
            for index in 0..600 {
                state.users.insert(
                    format!("device{index:04}"),
                    mqreg::state::User::new(hash.clone(), vec![], chrono::Utc::now()),
                );
            }
            Ok(())
        })
        .unwrap();
    let folder = sandbox.state.parent().unwrap().to_owned();
    for entry in std::fs::read_dir(&folder).unwrap() {
        chown(&entry.unwrap().path(), NOBODY);
    }
    chown(&folder, NOBODY);
    std::fs::remove_file(folder.join(".state.toml.cache")).ok();
    std::fs::remove_file(folder.join("state.toml.lock")).ok();

    sandbox.run(&["registry", "unlock"]).ok();
    sandbox.run(&["user", "delete", "device0001"]).ok();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            owner(&path),
            (NOBODY, NOBODY),
            "{} changed hands",
            path.display()
        );
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ".state.toml.cache",
            "audit.jsonl",
            "state.toml",
            "state.toml.lock"
        ],
        "state, cache, lock and audit were all written, and no temp file is left"
    );
    // The service user can still change its state (through root's 0700 temp dir).
    std::fs::set_permissions(sandbox.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = sandbox
        .command(&["registry", "lock"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .uid(NOBODY)
        .gid(NOBODY)
        .status()
        .unwrap();
    assert!(status.success(), "nobody can still write its state");
}

#[test]
fn symlinks_planted_at_any_state_file_name_are_refused_never_followed() {
    for name in ["state.toml.lock", "audit.jsonl", "state.toml"] {
        let sandbox = Sandbox::new();
        sandbox.run(&["registry", "lock"]).ok();
        let victim = sandbox.dir.path().join("victim.txt");
        std::fs::write(&victim, "precious\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let planted = sandbox.state.with_file_name(name);
        std::fs::remove_file(&planted).ok();
        std::os::unix::fs::symlink(&victim, &planted).unwrap();

        let run = sandbox.run(&["registry", "unlock"]);
        if name == "audit.jsonl" {
            // The change itself is done; the audit line is refused and said so.
            run.ok().stderr_has("symbolic link");
        } else {
            run.code(1).stderr_has("symbolic link");
        }
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious\n",
            "{name}"
        );
        assert_eq!(
            std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o644,
            "{name}"
        );
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
        // A broker refuses to start on it (preflight), before listening.
        let output = sandbox
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("symbolic link"), "{name}: {stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }
}

#[test]
fn needs_root_serve_refuses_to_start_in_a_folder_it_cannot_write() {
    if !runs_as_root(
        "needs_root_serve_refuses_to_start_in_a_folder_it_cannot_write",
        "runs the broker as another user",
    ) {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "lock"]).ok();
    let folder = sandbox.state.parent().unwrap();
    // The temp dir is root's 0700: let nobody through to a folder it may not write.
    std::fs::set_permissions(sandbox.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&sandbox.state, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = sandbox
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&folder.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("chown") || stderr.contains("owns it"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn sighup_rereads_the_state_and_reopens_the_audit_log() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    let pid = broker.pid();
    let audit = sandbox.state.with_file_name("audit.jsonl");
    // logrotate without copytruncate: rename, then HUP.
    let rotated = sandbox.state.with_file_name("audit.jsonl.1");
    std::fs::rename(&audit, &rotated).unwrap();
    signal(pid, "HUP");
    assert!(eventually(Duration::from_secs(5), || broker
        .log()
        .contains("SIGHUP: state file re-read, audit log reopened")));
    assert_eq!(
        broker
            .mosquitto_pub(&["-u", "newdev1", "-P", "device-secret", "-t", "x", "-m", "1"])
            .0,
        5
    );
    let fresh = std::fs::read_to_string(&audit).expect("a new audit log");
    assert!(fresh.contains("registration recorded"), "{fresh}");
    assert!(!std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("newdev1"));
    // Still serving after the HUP; SIGTERM is still a clean stop.
    assert_eq!(broker.stop(), Some(0));
}

#[test]
fn a_running_broker_is_named_and_a_change_nobody_serves_is_pointed_out() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["registry", "unlock"])
        .ok()
        .stderr_has("no running broker serves");
    // Reading a file no broker serves is pointed out too ("no users" may be
    // the wrong file's answer).
    sandbox
        .run(&["user", "list"])
        .ok()
        .stderr_has("no running broker serves");
    let broker = sandbox.serve();
    let read = sandbox.run(&["user", "list"]).ok();
    assert!(
        !read.stderr.contains("no running broker"),
        "{}",
        read.stderr
    );
    let status = sandbox.json(&["registry", "status"]);
    assert_eq!(status["state"], json!(sandbox.state.display().to_string()));
    assert_eq!(status["served_by"]["pid"], json!(broker.pid()));
    let listen = status["served_by"]["listen"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(listen.ends_with(&format!(":{}", broker.port)), "{listen}");
    let run = sandbox.run(&["registry", "lock"]).ok();
    assert!(!run.stderr.contains("no running broker"), "{}", run.stderr);
    let text = sandbox.run(&["registry", "status"]).ok().stdout;
    assert!(text.contains("served by: mqreg"), "{text}");

    // A crash leaves the record behind; it is recognised as stale.
    broker.crash();
    let status = sandbox.json(&["registry", "status"]);
    assert_eq!(status["served_by"], json!(null));
    sandbox
        .run(&["registry", "unlock"])
        .ok()
        .stderr_has("no running broker serves");
    // A clean stop removes it.
    let broker = sandbox.serve();
    assert!(sandbox.json(&["registry", "status"])["served_by"].is_object());
    assert_eq!(broker.stop(), Some(0));
    let record = sandbox.state.with_file_name(".state.toml.served");
    assert!(!record.exists());
}

#[test]
fn json_logs_env_settings_and_a_meaningless_json_flag() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .run_with_stdin(&["user", "add", "dev1"], "device-secret\n")
        .ok();
    // Every serve option has an environment variable, for unit files.
    let mut child = sandbox
        .command(&["serve"])
        .env("MQREG_LISTEN", "127.0.0.1:0")
        .env("MQREG_LOG_FORMAT", "json")
        .env("MQREG_CONNECT_TIMEOUT", "3s")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let mut port = None;
    let mut seen = Vec::new();
    while port.is_none() {
        let line = read.recv_timeout(Duration::from_secs(20)).unwrap();
        let object: serde_json::Value =
            serde_json::from_str(&line).expect("one JSON object per line");
        let message = object["fields"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(address) = message.strip_prefix("listening on ") {
            port = Some(address.rsplit(':').next().unwrap().parse::<u16>().unwrap());
        }
        seen.push(object);
    }
    let port = port.unwrap();
    let output = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-i", "board-1"])
        .args(["-u", "dev1", "-P", "device-secret", "-t", "x", "-m", "1"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut messages = Vec::new();
    while let Ok(line) = read.recv_timeout(Duration::from_secs(2)) {
        let object: serde_json::Value = serde_json::from_str(&line).unwrap();
        messages.push(object);
        if messages
            .iter()
            .any(|o| o["fields"]["message"] == json!("client disconnected"))
        {
            break;
        }
    }
    let connected = messages
        .iter()
        .find(|o| o["fields"]["message"] == json!("client connected"))
        .expect("a login line at INFO");
    assert_eq!(connected["level"], json!("INFO"));
    assert_eq!(connected["fields"]["username"], json!("dev1"));
    assert_eq!(connected["fields"]["client_id"], json!("board-1"));
    assert_eq!(connected["fields"]["protocol"], json!("3.1.1"));
    let gone = messages
        .iter()
        .find(|o| o["fields"]["message"] == json!("client disconnected"))
        .expect("a disconnect line at INFO");
    assert_eq!(gone["fields"]["reason"], json!("client sent DISCONNECT"));
    let _ = child.kill();
    let _ = child.wait();

    sandbox
        .run(&["--json", "serve", "--listen", "127.0.0.1:0"])
        .code(2)
        .stderr_has("--log-format json");
}

#[test]
fn the_packaged_unit_file_runs_mqreg_as_a_sandboxed_service_user() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/mqreg.service"
    ))
    .unwrap();
    let mut section = String::new();
    let mut keys = std::collections::BTreeMap::new();
    for (number, line) in unit.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not KEY=VALUE: {line}", number + 1));
        assert!(
            !section.is_empty(),
            "line {}: outside a section",
            number + 1
        );
        keys.insert(format!("{section}.{key}"), value.to_owned());
    }
    for (key, value) in [
        ("Service.Type", "notify"),
        ("Service.User", "mqreg"),
        ("Service.StateDirectory", "mqreg"),
        ("Service.ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Service.ProtectSystem", "strict"),
        ("Service.NoNewPrivileges", "yes"),
        (
            "Service.Environment",
            "MQREG_STATE=/var/lib/mqreg/state.toml",
        ),
        ("Install.WantedBy", "multi-user.target"),
    ] {
        assert_eq!(keys.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(keys["Service.ExecStart"].ends_with("mqreg serve"));
    assert!(keys["Service.LimitNOFILE"].parse::<u64>().unwrap() >= 65_536);
    // systemd's own check where systemd is installed (not in every container).
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let output = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/packaging/mqreg.service"
            ))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The binary path and the user exist only once installed.
        let real_problems: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.contains("/usr/local/bin/mqreg") && !line.contains("User"))
            .filter(|line| !line.trim().is_empty())
            .collect();
        assert!(real_problems.is_empty(), "{stderr}");
    }
}

#[test]
fn the_broker_tells_systemd_it_is_ready_once_it_listens() {
    // sd_notify(3): READY=1 on the datagram socket NOTIFY_SOCKET names.
    let sandbox = Sandbox::new();
    let socket_path = sandbox.dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let broker = sandbox.serve_env(
        &[],
        None,
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    let mut buffer = [0u8; 256];
    let read = socket.recv(&mut buffer).expect("a notification");
    let message = String::from_utf8_lossy(&buffer[..read]).into_owned();
    assert!(message.contains("READY=1"), "{message}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", broker.port)).is_ok(),
        "ready means listening"
    );
    assert_eq!(broker.stop(), Some(0));
    let read = socket
        .recv(&mut buffer)
        .expect("a notification at the stop");
    assert!(String::from_utf8_lossy(&buffer[..read]).contains("STOPPING=1"));
}

#[test]
fn a_refusal_repeated_in_a_loop_is_written_once_with_its_count() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox.without_flood_limits();
    sandbox
        .run_with_stdin(&["user", "add", "dev1"], "device-secret\n")
        .ok();
    let broker = sandbox.serve();
    let login = |user: &str, password: &str| {
        broker
            .mosquitto_pub(&[
                "-i", "loop", "-u", user, "-P", password, "-t", "x", "-m", "1",
            ])
            .0
    };
    for _ in 0..40 {
        assert_eq!(login("dev1", "wrong-password"), 5);
    }
    // Another wrong password is the same refusal (username, address, reason);
    // another username is not, and is written.
    assert_eq!(login("dev1", "another-wrong"), 5);
    assert_eq!(login("ghost1", "whatever-pw"), 5);
    let pid = broker.pid();
    let log_before_stop = broker.log();
    assert_eq!(
        log_before_stop
            .matches("login refused username=dev1")
            .count(),
        1,
        "{log_before_stop}"
    );
    assert!(log_before_stop.contains("login refused username=ghost1"));
    signal(pid, "TERM");
    assert!(
        eventually(Duration::from_secs(10), || broker
            .log()
            .contains("login refused 40 more times")),
        "{}",
        broker.log()
    );
    let audit = std::fs::read_to_string(sandbox.state.with_file_name("audit.jsonl")).unwrap();
    let refusals: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("login refused"))
        .collect();
    assert_eq!(refusals.len(), 3, "{audit}");
    assert!(audit.contains("40 more times"), "{audit}");
}

fn audit_entries(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    std::fs::read_to_string(sandbox.state.with_file_name("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn bulk_approvals_are_audited_per_user_by_the_real_user() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[
        ("sensor1", "pw-one1", false),
        ("sensor2", "pw-two2", false),
        ("pump1", "pw-three", false),
    ]);
    let mut command = sandbox.command(&["registry", "approve", "--match", "sensor*"]);
    // $USER is whatever the caller says; the audit trusts the uid.
    command.env("USER", "mallory").env("SUDO_UID", "65534");
    assert!(command.output().unwrap().status.success());
    sandbox.run(&["registry", "reject", "--all"]).ok();
    let entries = audit_entries(&sandbox);
    let approved: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == json!("registry approve"))
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(approved, ["sensor1", "sensor2"]);
    let rejected: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == json!("registry reject"))
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(rejected, ["pump1"]);
    let actor = entries[0]["actor"].as_str().unwrap();
    assert!(!actor.contains("mallory"), "{actor}");
    if is_root() {
        assert_eq!(actor, "cli:root (sudo by nobody)");
    } else {
        assert!(
            !actor.contains("sudo"),
            "SUDO_UID is believed only from root: {actor}"
        );
    }
}

#[test]
fn json_mode_answers_errors_with_a_json_object() {
    let sandbox = Sandbox::new();
    sandbox.run(&["role", "create", "r1"]).ok();
    sandbox
        .run_with_stdin(&["user", "add", "dev1"], "device-secret\n")
        .ok();
    for (args, code, kind) in [
        (
            vec!["user", "grant-role", "dev1", "missing"],
            3,
            "not_found",
        ),
        (vec!["user", "show", "ghost1"], 3, "not_found"),
        (vec!["role", "create", "r1"], 4, "conflict"),
        (vec!["registry", "unlock", "--for", "99h"], 2, "usage"),
        (vec!["user", "show", "bad/name"], 2, "usage"),
    ] {
        let mut with_json = vec!["--json"];
        with_json.extend(args.iter().copied());
        let run = sandbox.run(&with_json).code(code);
        let answer: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {}", run.stdout));
        assert_eq!(answer["error"]["code"], json!(code), "{args:?}");
        assert_eq!(answer["error"]["kind"], json!(kind), "{args:?}");
        assert!(answer["error"]["message"].as_str().unwrap().len() > 5);
    }
}

#[test]
fn a_registration_never_follows_a_symlink_planted_while_the_broker_runs() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    let victim = sandbox.dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let lock = sandbox.state.with_file_name("state.toml.lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    // One unauthenticated login while the registry is open makes the broker
    // write the state: it must refuse the link, not follow it.
    assert_eq!(
        broker
            .mosquitto_pub(&[
                "-u",
                "intruder1",
                "-P",
                "some-password",
                "-t",
                "x",
                "-m",
                "1"
            ])
            .0,
        5
    );
    assert!(eventually(Duration::from_secs(5), || broker
        .log()
        .contains("symbolic link")));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&lock).unwrap().is_symlink());
}

#[test]
fn hard_links_and_fifos_at_state_file_names_are_refused() {
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "lock"]).ok();
    let victim = sandbox.dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let lock = sandbox.state.with_file_name("state.toml.lock");
    std::fs::remove_file(&lock).unwrap();
    std::fs::hard_link(&victim, &lock).unwrap();
    sandbox
        .run(&["registry", "unlock"])
        .code(1)
        .stderr_has("hard links");
    std::fs::remove_file(&lock).unwrap();
    // A FIFO would block an open forever; it is refused at once instead.
    let fifo = std::ffi::CString::new(sandbox.state.to_str().unwrap()).unwrap();
    std::fs::remove_file(&sandbox.state).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let started = std::time::Instant::now();
    sandbox
        .run(&["user", "list"])
        .code(1)
        .stderr_has("not a regular file");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_state_file_removed_while_serving_is_not_served_as_empty() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox
        .run_with_stdin(&["user", "add", "dev1"], "device-secret\n")
        .ok();
    let broker = sandbox.serve();
    let live = broker.client("dev1-board", "dev1", "device-secret");
    live.expect_connected();
    // A hand restore: rm, then copy back.
    let saved = std::fs::read(&sandbox.state).unwrap();
    std::fs::remove_file(&sandbox.state).unwrap();
    assert!(eventually(Duration::from_secs(5), || broker
        .log()
        .contains("is missing")));
    assert!(
        live.next(Duration::from_millis(500)).is_none(),
        "the user's connection stays"
    );
    let login = |broker: &common::Broker| {
        broker
            .mosquitto_pub(&["-u", "dev1", "-P", "device-secret", "-t", "x", "-m", "1"])
            .0
    };
    assert_eq!(login(&broker), 0, "the last good state is still served");
    std::fs::write(&sandbox.state, &saved).unwrap();
    assert_eq!(login(&broker), 0);
}
