//! The admin CLI as scripts see it: commands, JSON shapes and exit codes of
//! CONTRACT.md, run through the real binary against a private state file.

mod common;

use common::{mode_of, Sandbox};
use serde_json::json;

fn with_role(sandbox: &Sandbox, role: &str, allow: &[&str]) {
    let mut args = vec!["role", "create", role];
    for permission in allow {
        args.extend(["--allow", permission]);
    }
    sandbox.run(&args).ok();
}

fn with_user(sandbox: &Sandbox, user: &str, password: &str) {
    sandbox
        .run_with_stdin(&["user", "add", user], &format!("{password}\n"))
        .ok();
}

// ---------------------------------------------------------------- registry

#[test]
fn a_new_registry_is_locked_and_empty() {
    let sandbox = Sandbox::new();
    let status = sandbox.json(&["registry", "status"]);
    assert_eq!(
        status,
        json!({
            "locked": true, "unlocked_until": null, "remaining_seconds": 0, "pending": 0,
            "state": sandbox.state.display().to_string(), "served_by": null
        })
    );
    assert!(!sandbox.state.exists(), "reading creates no file");
}

#[test]
fn unlock_opens_a_window_that_lock_closes() {
    let sandbox = Sandbox::new();
    let status = sandbox.json(&["registry", "unlock", "--for", "90s"]);
    assert_eq!(status["locked"], json!(false));
    let remaining = status["remaining_seconds"].as_i64().unwrap();
    assert!((85..=90).contains(&remaining), "{status}");
    let until = status["unlocked_until"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(until).expect("RFC 3339");

    let status = sandbox.json(&["registry", "status"]);
    assert_eq!(status["locked"], json!(false));

    sandbox.run(&["registry", "lock"]).ok();
    assert_eq!(sandbox.json(&["registry", "status"])["locked"], json!(true));
}

#[test]
fn unlock_defaults_to_five_minutes() {
    let sandbox = Sandbox::new();
    let remaining = sandbox.json(&["registry", "unlock"])["remaining_seconds"]
        .as_i64()
        .unwrap();
    assert!((295..=300).contains(&remaining), "{remaining}");
}

#[test]
fn unlock_refuses_bad_durations_with_exit_2() {
    let sandbox = Sandbox::new();
    for bad in ["25h", "0s", "soon", "-5m", ""] {
        sandbox
            .run(&["registry", "unlock", &format!("--for={bad}")])
            .code(2)
            .stderr_has("--for");
    }
    sandbox.run(&["registry", "unlock", "--for", "24h"]).ok();
    assert!(
        sandbox.json(&["registry", "status"])["remaining_seconds"]
            .as_i64()
            .unwrap()
            > 86_000
    );
}

#[test]
fn an_expired_window_reads_as_locked() {
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "unlock", "--for", "1s"]).ok();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(sandbox.json(&["registry", "status"])["locked"], json!(true));
}

#[test]
fn list_shows_pending_requests_in_the_contract_shape() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "pw-one", false), ("sensor2", "pw-two", true)]);
    let list = sandbox.json(&["registry", "list"]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let first = rows[0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "address",
            "attempts",
            "client_id",
            "conflict",
            "first_seen",
            "last_seen",
            "passwords",
            "protocol",
            "username"
        ]
    );
    assert_eq!(first["username"], json!("sensor1"));
    assert_eq!(first["client_id"], json!("sensor1-client"));
    assert_eq!(first["attempts"], json!(1));
    assert_eq!(first["conflict"], json!(false));
    assert_eq!(rows[1]["conflict"], json!(true));
    assert_eq!(sandbox.json(&["registry", "status"])["pending"], json!(2));

    let table = sandbox.run(&["registry", "list"]).ok().stdout;
    assert!(
        table.contains("sensor1") && table.contains("USERNAME"),
        "{table}"
    );
}

#[test]
fn approve_creates_users_without_permissions_and_reports_missing_names() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "pw-one", false), ("sensor2", "pw-two", false)]);
    let run = sandbox
        .run(&["--json", "registry", "approve", "sensor1", "ghost1"])
        .code(3);
    assert_eq!(
        run.json(),
        json!({"approved": ["sensor1"], "not_found": ["ghost1"], "skipped": []})
    );
    let user = sandbox.json(&["user", "show", "sensor1"]);
    assert_eq!(user["roles"], json!([]));
    assert_eq!(
        sandbox
            .json(&["registry", "list"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn approving_keeps_the_password_the_device_offered() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "device-secret", false)]);
    let pending_hash = mqreg::state::store::Store::new(&sandbox.state)
        .load()
        .unwrap()
        .pending["sensor1"]
        .passwords[0]
        .password_hash
        .clone();
    sandbox.run(&["registry", "approve", "sensor1"]).ok();
    let state = mqreg::state::store::Store::new(&sandbox.state)
        .load()
        .unwrap();
    assert_eq!(state.users["sensor1"].password_hash, pending_hash);
    assert!(mqreg::password::verify(
        b"device-secret",
        &state.users["sensor1"].password_hash
    ));
}

#[test]
fn a_conflicted_request_needs_force() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "pw-one", true)]);
    let run = sandbox
        .run(&["--json", "registry", "approve", "sensor1"])
        .code(4);
    assert_eq!(
        run.json(),
        json!({"approved": [], "not_found": [], "skipped": ["sensor1"]})
    );
    sandbox
        .run(&["registry", "approve", "sensor1"])
        .code(4)
        .stderr_has("--force");
    let run = sandbox
        .run(&["--json", "registry", "approve", "sensor1", "--force"])
        .ok();
    assert_eq!(run.json()["approved"], json!(["sensor1"]));
}

#[test]
fn approve_all_skips_conflicts_and_still_succeeds() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[
        ("sensor1", "a-pass", false),
        ("sensor2", "b-pass", true),
        ("pump1", "c-pass", false),
    ]);
    let run = sandbox
        .run(&["--json", "registry", "approve", "--all"])
        .ok();
    assert_eq!(
        run.json(),
        json!({"approved": ["pump1", "sensor1"], "not_found": [], "skipped": ["sensor2"]})
    );
    sandbox
        .run(&["registry", "approve", "--all"])
        .ok()
        .stderr_has("skipped sensor2");
}

#[test]
fn approve_match_with_roles() {
    let sandbox = Sandbox::new();
    with_role(&sandbox, "sensor", &["write:devices/{username}/#"]);
    with_role(&sandbox, "reader", &["read:alerts/#"]);
    sandbox.seed_pending(&[
        ("sensor1", "a-pass", false),
        ("sensor2", "b-pass", false),
        ("pump1", "c-pass", false),
    ]);
    let run = sandbox
        .run(&[
            "--json", "registry", "approve", "--match", "sensor*", "--role", "sensor", "--role",
            "reader",
        ])
        .ok();
    assert_eq!(run.json()["approved"], json!(["sensor1", "sensor2"]));
    assert_eq!(
        sandbox.json(&["user", "show", "sensor2"])["roles"],
        json!(["reader", "sensor"])
    );
    assert_eq!(
        sandbox.json(&["registry", "list"])[0]["username"],
        json!("pump1")
    );
}

#[test]
fn approve_with_an_unknown_role_approves_nothing() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "a-pass", false)]);
    sandbox
        .run(&["registry", "approve", "sensor1", "--role", "nosuch"])
        .code(3)
        .stderr_has("nosuch");
    assert_eq!(sandbox.json(&["registry", "status"])["pending"], json!(1));
    assert_eq!(sandbox.json(&["user", "list"]), json!([]));
}

#[test]
fn bulk_selections_that_match_nothing_succeed() {
    let sandbox = Sandbox::new();
    let run = sandbox
        .run(&["--json", "registry", "approve", "--match", "zz*"])
        .ok();
    assert_eq!(
        run.json(),
        json!({"approved": [], "not_found": [], "skipped": []})
    );
    sandbox.run(&["registry", "reject", "--all"]).ok();
}

#[test]
fn approve_and_reject_need_a_selection() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["registry", "approve"])
        .code(2)
        .stderr_has("--all");
    sandbox.run(&["registry", "reject"]).code(2);
    sandbox
        .run(&["registry", "approve", "--match", "[oops"])
        .code(2);
}

#[test]
fn reject_drops_requests_and_reports_missing_ones() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "a-pass", true), ("sensor2", "b-pass", false)]);
    let run = sandbox
        .run(&["--json", "registry", "reject", "sensor1", "nobody"])
        .code(3);
    assert_eq!(
        run.json(),
        json!({"rejected": ["sensor1"], "not_found": ["nobody"], "skipped": []})
    );
    let run = sandbox.run(&["--json", "registry", "reject", "--all"]).ok();
    assert_eq!(run.json()["rejected"], json!(["sensor2"]));
    assert_eq!(sandbox.json(&["user", "list"]), json!([]));
}

// ---------------------------------------------------------------- users

#[test]
fn user_add_show_list() {
    let sandbox = Sandbox::new();
    with_role(&sandbox, "ops", &[]);
    sandbox
        .run_with_stdin(&["user", "add", "alice", "--role", "ops"], "s3cret-pw\n")
        .ok();
    let user = sandbox.json(&["user", "show", "alice"]);
    assert_eq!(user["username"], json!("alice"));
    assert_eq!(user["roles"], json!(["ops"]));
    chrono::DateTime::parse_from_rfc3339(user["created"].as_str().unwrap()).unwrap();
    let list = sandbox.json(&["user", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0], user);
}

#[test]
fn user_add_refuses_duplicates_bad_names_weak_passwords_and_unknown_roles() {
    let sandbox = Sandbox::new();
    with_user(&sandbox, "alice", "s3cret-pw");
    sandbox
        .run_with_stdin(&["user", "add", "alice"], "other-pw\n")
        .code(4)
        .stderr_has("exists");
    sandbox
        .run_with_stdin(&["user", "add", "bad-name"], "s3cret-pw\n")
        .code(2)
        .stderr_has("bad-name");
    sandbox
        .run_with_stdin(&["user", "add", "bob"], "abc\n")
        .code(2)
        .stderr_has("at least 5 characters");
    sandbox
        .run(&["user", "add", "bob"])
        .code(2)
        .stderr_has("no password on stdin");
    sandbox
        .run_with_stdin(&["user", "add", "bob", "--role", "ghost"], "s3cret-pw\n")
        .code(3)
        .stderr_has("ghost");
    assert_eq!(sandbox.json(&["user", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn the_password_policy_is_read_from_the_state_file() {
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "lock"]).ok();
    let text = sandbox.text().replace("upper = 0", "upper = 2");
    std::fs::write(&sandbox.state, text).unwrap();
    sandbox
        .run_with_stdin(&["user", "add", "carol"], "lowercase\n")
        .code(2)
        .stderr_has("2 upper-case letters");
    sandbox
        .run_with_stdin(&["user", "add", "carol"], "UPpercase\n")
        .ok();
}

#[test]
fn passwords_are_never_stored_in_plain_text() {
    let sandbox = Sandbox::new();
    with_user(&sandbox, "alice", "Plain-Text-Canary");
    sandbox
        .run_with_stdin(&["user", "passwd", "alice"], "Second-Canary\n")
        .ok();
    let text = sandbox.text();
    assert!(!text.contains("Canary"), "{text}");
    let state = mqreg::state::store::Store::new(&sandbox.state)
        .load()
        .unwrap();
    let hash = &state.users["alice"].password_hash;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(mqreg::password::verify(b"Second-Canary", hash));
    assert!(!mqreg::password::verify(b"Plain-Text-Canary", hash));
}

#[test]
fn passwd_and_delete_need_an_existing_user() {
    let sandbox = Sandbox::new();
    sandbox
        .run_with_stdin(&["user", "passwd", "ghost"], "s3cret-pw\n")
        .code(3);
    sandbox.run(&["user", "delete", "ghost"]).code(3);
    sandbox.run(&["user", "show", "ghost"]).code(3);
    with_user(&sandbox, "alice", "s3cret-pw");
    sandbox.run(&["user", "delete", "alice"]).ok();
    sandbox.run(&["user", "show", "alice"]).code(3);
}

#[test]
fn grant_and_revoke_do_what_they_can_and_report_the_rest() {
    let sandbox = Sandbox::new();
    with_user(&sandbox, "alice", "s3cret-pw");
    with_role(&sandbox, "ops", &[]);
    with_role(&sandbox, "dev", &[]);
    let run = sandbox
        .run(&[
            "--json",
            "user",
            "grant-role",
            "alice",
            "ops",
            "ghost",
            "dev",
        ])
        .code(3)
        .stderr_has("ghost");
    // The answer is an error object, with the roles the user holds now.
    assert_eq!(run.json()["error"]["kind"], json!("not_found"));
    assert_eq!(run.json()["not_found"], json!(["ghost"]));
    assert_eq!(run.json()["roles"], json!(["dev", "ops"]));
    let run = sandbox
        .run(&["--json", "user", "revoke-role", "alice", "ops"])
        .ok();
    assert_eq!(run.json()["roles"], json!(["dev"]));
    sandbox
        .run(&["user", "revoke-role", "alice", "ghost"])
        .code(3);
    sandbox
        .run(&["user", "grant-role", "nobody", "ops"])
        .code(3);
    sandbox.run(&["user", "grant-role", "alice"]).code(2);
    sandbox
        .run(&["user", "grant-role", "alice", "bad/role"])
        .code(2);
}

// ---------------------------------------------------------------- roles

#[test]
fn role_lifecycle() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "role",
            "create",
            "sensor",
            "--allow",
            "write:devices/{username}/#",
        ])
        .ok();
    sandbox
        .run(&[
            "role",
            "allow",
            "sensor",
            "read:alerts/#",
            "read:devices/{username}/#",
        ])
        .ok();
    assert_eq!(
        sandbox.json(&["role", "list"]),
        json!([{"name": "sensor", "permissions": [
            {"access": "readwrite", "filter": "devices/{username}/#"},
            {"access": "read", "filter": "alerts/#"},
        ]}])
    );
    sandbox
        .run(&[
            "role",
            "disallow",
            "sensor",
            "write:devices/{username}/#",
            "read:alerts/#",
        ])
        .ok();
    assert_eq!(
        sandbox.json(&["role", "list"])[0]["permissions"],
        json!([{"access": "read", "filter": "devices/{username}/#"}])
    );
    with_user(&sandbox, "alice", "s3cret-pw");
    sandbox.run(&["user", "grant-role", "alice", "sensor"]).ok();
    sandbox.run(&["role", "delete", "sensor"]).ok();
    assert_eq!(sandbox.json(&["role", "list"]), json!([]));
    assert_eq!(
        sandbox.json(&["user", "show", "alice"])["roles"],
        json!([]),
        "deleting a role takes it from its holders"
    );
}

#[test]
fn role_errors_have_their_exit_codes() {
    let sandbox = Sandbox::new();
    with_role(&sandbox, "ops", &[]);
    sandbox
        .run(&["role", "create", "ops"])
        .code(4)
        .stderr_has("exists");
    sandbox.run(&["role", "allow", "ghost", "read:a"]).code(3);
    sandbox
        .run(&["role", "disallow", "ghost", "read:a"])
        .code(3);
    sandbox.run(&["role", "delete", "ghost"]).code(3);
    sandbox
        .run(&["role", "allow", "ops", "read:a/#/b"])
        .code(2)
        .stderr_has("'#' must be");
    sandbox
        .run(&["role", "allow", "ops", "publish:a"])
        .code(2)
        .stderr_has("readwrite");
    sandbox
        .run(&["role", "allow", "ops", "read:x/{user}"])
        .code(2)
        .stderr_has("{username}");
    sandbox.run(&["role", "create", "bad/role"]).code(2);
    sandbox.run(&["role", "create", &"r".repeat(65)]).code(2);
}

// ---------------------------------------------------------------- the file

#[test]
fn the_state_file_is_private() {
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "unlock"]).ok();
    assert_eq!(mode_of(&sandbox.state), 0o600);
    assert_eq!(mode_of(sandbox.state.parent().unwrap()), 0o700);
    let text = sandbox.text();
    assert!(text.starts_with("version = 2"), "{text}");
}

#[test]
fn a_loose_pre_existing_folder_is_warned_about_and_files_stay_private() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let folder = sandbox.state.parent().unwrap();
    std::fs::create_dir_all(folder).unwrap();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&sandbox.state, "version = 1\n").unwrap();
    std::fs::set_permissions(&sandbox.state, std::fs::Permissions::from_mode(0o644)).unwrap();
    sandbox
        .run_with_stdin(&["user", "add", "alice"], "s3cret-pw\n")
        .ok()
        .stderr_has("chmod 700");
    assert_eq!(
        mode_of(&sandbox.state),
        0o600,
        "the rewritten file is private"
    );
    assert_eq!(
        mode_of(&sandbox.state.with_file_name("state.toml.lock")),
        0o600
    );
    assert_eq!(
        mode_of(folder),
        0o755,
        "a folder mqreg did not create is left alone"
    );
}

#[test]
fn a_corrupt_state_file_is_never_overwritten() {
    let sandbox = Sandbox::new();
    with_role(&sandbox, "ops", &[]);
    let corrupt = format!("{}\n[users.broken\n", sandbox.text());
    std::fs::write(&sandbox.state, &corrupt).unwrap();
    let lines = corrupt.lines().count();
    for args in [
        &["role", "create", "dev"][..],
        &["registry", "unlock"],
        &["registry", "status"],
        &["user", "list"],
    ] {
        let run = sandbox.run(args).code(1);
        assert!(
            run.stderr.contains(&sandbox.state.display().to_string()),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("line {lines}")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("column"), "{}", run.stderr);
    }
    assert_eq!(sandbox.text(), corrupt);
}

#[test]
fn a_hand_edited_username_that_escapes_substitution_is_refused() {
    let sandbox = Sandbox::new();
    with_user(&sandbox, "alice", "s3cret-pw");
    let edited = sandbox.text().replace("[users.alice]", "[users.\"a/#\"]");
    std::fs::write(&sandbox.state, &edited).unwrap();
    sandbox.run(&["user", "list"]).code(1).stderr_has("a/#");
    assert_eq!(sandbox.text(), edited);
}

#[test]
fn the_parse_cache_never_hides_a_hand_edit() {
    let sandbox = Sandbox::new();
    let requests: Vec<(String, String)> = (0..300)
        .map(|i| (format!("device{i:03}"), format!("pw-{i}")))
        .collect();
    let requests: Vec<(&str, &str, bool)> = requests
        .iter()
        .map(|(name, password)| (name.as_str(), password.as_str(), false))
        .collect();
    sandbox.seed_pending(&requests);
    sandbox.run(&["role", "create", "ops"]).ok();
    let cache = sandbox.state.with_file_name(".state.toml.cache");
    assert!(cache.exists(), "a big state gets a parse cache");
    assert_eq!(mode_of(&cache), 0o600, "it holds hashes too");
    assert!(!std::fs::read_to_string(&cache).unwrap().contains("pw-1"));

    let edited = sandbox.text().replace("[roles.ops]", "[roles.dev]");
    std::fs::write(&sandbox.state, &edited).unwrap();
    assert_eq!(sandbox.json(&["role", "list"])[0]["name"], json!("dev"));

    std::fs::write(&cache, b"{ not json").unwrap();
    assert_eq!(sandbox.json(&["role", "list"])[0]["name"], json!("dev"));
    sandbox.run(&["role", "create", "ops"]).ok();
    let names: Vec<_> = sandbox
        .json(&["role", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("dev"), json!("ops")]);
    assert_eq!(
        sandbox
            .json(&["registry", "list"])
            .as_array()
            .unwrap()
            .len(),
        300
    );
}

#[test]
fn json_mode_prints_only_json() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "a-pass", true)]);
    for args in [
        &["--json", "registry", "approve", "--all"][..],
        &["registry", "list", "--json"],
        &["--json", "role", "create", "ops"],
        &["--json", "user", "list"],
        &["--json", "registry", "lock"],
    ] {
        let run = sandbox.run(args).ok();
        run.json();
    }
}

#[test]
fn a_held_lock_is_waited_for_then_given_up() {
    use fs2::FileExt;
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "lock"]).ok();
    let lock = std::fs::File::open(sandbox.state.with_file_name("state.toml.lock")).unwrap();
    lock.lock_exclusive().unwrap();
    let run = {
        let output = sandbox
            .command(&["role", "create", "ops"])
            .env("MQREG_LOCK_TIMEOUT", "300ms")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(run.0, Some(1), "{}", run.1);
    assert!(run.1.contains("waiting for the lock"), "{}", run.1);
    assert!(run.1.contains("gave up"), "{}", run.1);
    lock.unlock().unwrap();
    assert_eq!(sandbox.json(&["role", "list"]), serde_json::json!([]));
}

#[test]
fn forty_concurrent_writers_lose_no_update() {
    let sandbox = Sandbox::new();
    with_user(&sandbox, "alice", "s3cret-pw");
    let children: Vec<_> = (0..40)
        .map(|i| {
            let role = format!("role{i:02}");
            sandbox
                .command(&["role", "create", &role, "--allow", &format!("read:r/{i}/#")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let roles = sandbox.json(&["role", "list"]);
    assert_eq!(roles.as_array().unwrap().len(), 40, "{roles}");

    let children: Vec<_> = (0..40)
        .map(|i| {
            sandbox
                .command(&["user", "grant-role", "alice", &format!("role{i:02}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    let held = sandbox.json(&["user", "show", "alice"])["roles"].clone();
    assert_eq!(held.as_array().unwrap().len(), 40, "{held}");
}

#[test]
fn the_state_path_comes_from_the_flag_before_the_environment() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.dir.path().join("other/state.toml");
    sandbox
        .run(&["--state", elsewhere.to_str().unwrap(), "registry", "unlock"])
        .ok();
    assert!(elsewhere.exists());
    assert!(!sandbox.state.exists());
}

// ---------------------------------------------------------------- docs

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(common::MQREG)
        .args(["generate-docs", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["completions", "man"] {
        let mut generated: Vec<_> = std::fs::read_dir(out.path().join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        generated.sort();
        let mut committed: Vec<_> = std::fs::read_dir(repo.join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        committed.sort();
        assert_eq!(
            generated, committed,
            "{folder}/ is stale: run `cargo run -- generate-docs`"
        );
        for name in generated {
            assert!(
                std::fs::read(out.path().join(folder).join(&name)).unwrap()
                    == std::fs::read(repo.join(folder).join(&name)).unwrap(),
                "{folder}/{} is stale: run `cargo run -- generate-docs`",
                name.to_string_lossy()
            );
        }
    }
}

// ---------------------------------------------------------------- audit

#[test]
fn every_change_is_audited_with_its_outcome_and_never_a_password() {
    let sandbox = Sandbox::new();
    sandbox.run(&["role", "create", "ops"]).ok();
    sandbox.run(&["role", "create", "ops"]).code(4);
    sandbox
        .run_with_stdin(
            &["user", "add", "alice", "--role", "ops"],
            "Audit-Canary-1\n",
        )
        .ok();
    sandbox.run(&["user", "list"]).ok();
    sandbox.run(&["registry", "status"]).ok();
    sandbox.run(&["user", "delete", "ghost"]).code(3);

    let entries = sandbox.json(&["audit"]);
    let entries = entries.as_array().unwrap();
    let summary: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap_or("").to_owned(),
                e["outcome"]
                    .as_str()
                    .unwrap()
                    .split(':')
                    .next()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    let expected = [
        ("role create", "ops", "ok"),
        ("role create", "ops", "exit 4"),
        ("user add", "alice", "ok"),
        ("user delete", "ghost", "exit 3"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, t, o)| (a.to_string(), t.to_string(), o.to_string()))
        .collect();
    assert_eq!(
        summary, expected,
        "reads are not audited, changes and failures are"
    );
    for entry in entries {
        assert!(
            entry["actor"].as_str().unwrap().starts_with("cli:"),
            "{entry}"
        );
        chrono::DateTime::parse_from_rfc3339(entry["time"].as_str().unwrap()).unwrap();
    }
    assert!(entries[2]["detail"]
        .as_str()
        .unwrap()
        .contains("user add alice --role ops"));
    let log_path = sandbox.state.with_file_name("audit.jsonl");
    assert_eq!(mode_of(&log_path), 0o600);
    assert!(!std::fs::read_to_string(&log_path)
        .unwrap()
        .contains("Canary"));

    let last = sandbox.json(&["audit", "-n", "1"]);
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert_eq!(last[0]["target"], json!("ghost"));
    let table = sandbox.run(&["audit"]).ok().stdout;
    assert!(
        table.contains("user add") && table.contains("ACTOR"),
        "{table}"
    );
}

#[test]
fn the_audit_log_can_live_elsewhere() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.dir.path().join("logs/mqreg-audit.jsonl");
    let flag = elsewhere.to_str().unwrap();
    sandbox
        .run(&["--audit-log", flag, "registry", "unlock"])
        .ok();
    assert!(elsewhere.exists());
    assert!(!sandbox.state.with_file_name("audit.jsonl").exists());
    let entries = sandbox.json(&["--audit-log", flag, "audit"]);
    assert_eq!(entries[0]["action"], json!("registry unlock"));
}

// ---------------------------------------------------------------- output

#[test]
fn piped_tables_are_plain_columns_and_tsv_on_request() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "pw-one1", false), ("sensor22", "pw-two2", true)]);
    let plain = sandbox.run(&["registry", "list"]).ok().stdout;
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line per request: {plain}");
    assert!(lines[0].starts_with("USERNAME  "), "{plain}");
    assert!(
        !plain.contains('─') && !plain.contains('│'),
        "no box drawing: {plain}"
    );
    // Whitespace-separated fields line up under their titles.
    let column = lines[0].find("CLIENT ID").unwrap();
    assert_eq!(
        &lines[1][column..column + "sensor1-client".len()],
        "sensor1-client"
    );
    assert_eq!(lines[2].split_whitespace().next(), Some("sensor22"));

    let tsv = sandbox
        .run(&["--format", "tsv", "registry", "list"])
        .ok()
        .stdout;
    let rows: Vec<Vec<&str>> = tsv.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows[0][0], "USERNAME");
    assert_eq!(
        rows[1][..3],
        ["sensor1", "sensor1-client", "127.0.0.1:40000"]
    );
    assert!(rows.iter().all(|row| row.len() == rows[0].len()));
}

#[test]
fn terminal_tables_fit_the_width_and_cut_values_instead_of_breaking_them() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "pw-one1", false)]);
    for width in ["80", "100"] {
        let table = sandbox
            .command(&["--format", "table", "registry", "list"])
            .env("COLUMNS", width)
            .output()
            .unwrap();
        let text = String::from_utf8(table.stdout).unwrap();
        let width: usize = width.parse().unwrap();
        for line in text.lines() {
            assert!(
                line.chars().count() <= width,
                "over {width}: {line}\n{text}"
            );
        }
        let data: Vec<&str> = text.lines().filter(|l| l.contains("sensor1")).collect();
        assert_eq!(data.len(), 1, "one line per row, nothing wrapped:\n{text}");
        assert!(
            text.contains('…') || text.contains("127.0.0.1:40000"),
            "{text}"
        );
        assert!(!text.contains("127.0.0.\n"), "{text}");
    }
}

#[test]
fn every_command_has_its_json_shape_and_exit_codes_documented() {
    use clap::CommandFactory;
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md")).unwrap();
    fn leaves(command: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in command.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            let name = format!("{prefix}{}", sub.get_name()).trim().to_owned();
            if sub.get_subcommands().next().is_none() {
                out.push(name);
            } else {
                leaves(sub, &format!("{name} "), out);
            }
        }
    }
    let mut commands = Vec::new();
    leaves(&mqreg::cli::Cli::command(), "", &mut commands);
    assert!(commands.len() > 25);
    for command in commands {
        assert!(
            doc.contains(&format!("`{command}")),
            "docs/json.md lacks `{command}`"
        );
    }
    // Man pages carry the sections clap does not write, every page.
    let man = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/man"));
    for entry in std::fs::read_dir(man).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "1") {
            let page = std::fs::read_to_string(&path).unwrap();
            for section in [
                "DESCRIPTION",
                "EXIT STATUS",
                "ENVIRONMENT",
                "FILES",
                "SEE ALSO",
            ] {
                assert!(page.contains(section), "no {section} in {}", path.display());
            }
        }
    }
    let approve = std::fs::read_to_string(man.join("mqreg-registry-approve.1")).unwrap();
    assert!(approve.contains(".SH EXAMPLES"));
    assert!(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/man/mqreg-state.5")).exists()
    );
}

#[test]
fn bash_completes_names_from_the_state() {
    let sandbox = Sandbox::new();
    sandbox.seed_pending(&[("sensor1", "secret123", false)]);
    sandbox
        .add_role("sensor", &["read:x/#"])
        .add_users(&["pump7"], "password1", Some("sensor"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/completions/mqreg.bash");
    let folder = std::path::Path::new(common::MQREG).parent().unwrap();
    // What bash offers after the words of `line` (the last one being completed).
    let complete = |line: &str| -> String {
        let mut words: Vec<&str> = line.split(' ').collect();
        if line.ends_with(' ') {
            words.pop();
            words.push("");
        }
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let program = format!(
            "source '{script}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _mqreg_with_names mqreg; echo \"${{COMPREPLY[*]}}\"",
            quoted.join(" "),
            words.len() - 1
        );
        let output = std::process::Command::new("bash")
            .args(["-c", &program])
            .env("MQREG_STATE", &sandbox.state)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    folder.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(complete("mqreg registry approve s"), "sensor1");
    assert_eq!(complete("mqreg user show "), "pump7");
    assert_eq!(complete("mqreg user grant-role pump7 "), "sensor");
    assert_eq!(complete("mqreg registry approve sensor1 --role "), "sensor");
    let other = sandbox.dir.path().join("other.toml");
    assert!(
        !complete(&format!("mqreg --state {} role delete ", other.display())).contains("sensor"),
        "another state, other roles"
    );
    assert!(
        complete("mqreg registry appr").contains("approve"),
        "commands as before"
    );
}

#[test]
fn a_reader_that_goes_away_ends_a_command_without_a_panic() {
    let sandbox = Sandbox::new();
    sandbox.add_role("sensor", &["read:x/#"]);
    let mut child = sandbox
        .command(&["config", "show"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -0`: the reader is gone before anything is written.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
