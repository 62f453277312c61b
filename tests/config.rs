//! The config file (`--config`, `/etc/mqreg/mqreg.toml`): serve options and
//! settings below the command line and the environment, re-read on SIGHUP,
//! never written by mqreg; `config show` says where each value comes from.

mod common;

use std::time::Duration;

use common::{eventually, Sandbox};

const WAIT: Duration = Duration::from_secs(10);

fn write_config(sandbox: &Sandbox, text: &str) -> String {
    let path = sandbox.dir.path().join("mqreg.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn config_show_gives_each_value_and_its_source_by_precedence() {
    let sandbox = Sandbox::new();
    let config = write_config(
        &sandbox,
        "# the admin's comment\nlog = \"debug\"\n[serve]\nmax_inflight = 20\nstall-timeout = \"100ms\"\nlisten = [\"127.0.0.1:1883\", \"127.0.0.2:1883\"]\n[password_policy]\nmin = 12\n",
    );
    let shown = sandbox
        .command(&["--json", "--config", &config, "config", "show"])
        .env("MQREG_STALL_TIMEOUT", "200ms")
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let serve = &shown["serve"];
    assert_eq!(serve["max_inflight"]["value"], serde_json::json!(["20"]));
    assert!(serve["max_inflight"]["source"]
        .as_str()
        .unwrap()
        .contains("mqreg.toml"));
    assert_eq!(
        serve["stall_timeout"]["value"],
        serde_json::json!(["200ms"])
    );
    assert_eq!(
        serve["stall_timeout"]["source"],
        "environment MQREG_STALL_TIMEOUT"
    );
    assert_eq!(
        serve["listen"]["value"],
        serde_json::json!(["127.0.0.1:1883", "127.0.0.2:1883"])
    );
    assert_eq!(serve["connect_timeout"]["source"], "default");
    assert_eq!(shown["log"]["value"], "debug");
    assert_eq!(shown["settings"]["password_policy"]["value"]["min"], 12);
    assert!(shown["settings"]["password_policy"]["source"]
        .as_str()
        .unwrap()
        .contains("config file"));
    assert_eq!(shown["settings"]["flood"]["source"], "default");
    // People get the same as commented TOML.
    let text = sandbox
        .run(&["--config", &config, "config", "show"])
        .ok()
        .stdout;
    assert!(
        text.contains("max_inflight = \"20\"  # config file"),
        "{text}"
    );
    // mqreg never writes the config file.
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .starts_with("# the admin's comment"));
}

#[test]
fn serve_takes_the_config_files_options_and_the_command_line_wins() {
    let sandbox = Sandbox::new();
    let config = write_config(
        &sandbox,
        "[serve]\nhttp = \"127.0.0.1:0\"\nmetrics_public = true\nsys_interval = \"0s\"\n",
    );
    let broker = sandbox.serve_with(&["--config", &config, "--sys-interval", "1s"]);
    assert!(
        eventually(WAIT, || broker
            .log()
            .contains("HTTP API on http://127.0.0.1:")),
        "{}",
        broker.log()
    );
    assert!(broker.log().contains("config file"), "{}", broker.log());
}

#[test]
fn the_config_files_settings_apply_and_are_never_written_into_the_state() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    let config = write_config(&sandbox, "[password_policy]\nmin = 12\n");
    sandbox
        .command(&["--config", &config, "user", "add", "bob"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let refused = sandbox.run_with_stdin(
        &["--config", &config, "user", "add", "bob"],
        "elevenchars\n",
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("12"), "{}", refused.stderr);
    sandbox
        .run_with_stdin(
            &["--config", &config, "user", "add", "bob"],
            "twelve-chars\n",
        )
        .ok();
    let state = sandbox.text();
    assert!(
        !state.contains("min = 12"),
        "the state keeps its own table:\n{state}"
    );
    // Without the config file the state's own policy is in force again.
    sandbox
        .run_with_stdin(&["user", "add", "carol"], "short\n")
        .ok();
}

#[test]
fn sighup_re_reads_the_config_files_settings_and_log_filter() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    let config = write_config(&sandbox, "log = \"info\"\n");
    let broker = sandbox.serve_with(&["--config", &config]);
    sandbox.run(&["registry", "unlock"]).ok();
    std::fs::write(&config, "log = \"debug\"\n[password_policy]\nmin = 20\n").unwrap();
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -HUP {}", broker.pid())])
        .status();
    // The state is re-read with the new settings after the file: the line
    // that says so comes last.
    assert!(
        eventually(WAIT, || broker.log().contains("config file re-read")
            && broker.log().contains("SIGHUP: state file re-read")),
        "{}",
        broker.log()
    );
    // The test broker runs with RUST_LOG=info, which wins over the file's `log`.
    assert_eq!(sandbox.json(&["log-level"])["filter"], "info");
    // A 10-character password is against the new policy: no request is recorded.
    let (code, _) =
        broker.mosquitto_pub(&["-u", "sensor1", "-P", "tencharsxx", "-t", "t", "-m", "x"]);
    assert_ne!(code, 0);
    let refused = sandbox.json(&["registry", "list", "--refused"]);
    assert!(
        refused.to_string().contains("password against policy"),
        "{refused}"
    );
    assert_eq!(sandbox.json(&["registry", "list"]), serde_json::json!([]));
    // A broken file is reported and the settings in force stay.
    std::fs::write(&config, "[password_policy\n").unwrap();
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -HUP {}", broker.pid())])
        .status();
    assert!(eventually(WAIT, || broker
        .log()
        .contains("settings and bridges in force stay")));
}

#[test]
fn a_bad_config_file_is_named_with_what_is_wrong() {
    let sandbox = Sandbox::new();
    let config = write_config(&sandbox, "[serve]\nlisten_on = \"x\"\n");
    sandbox
        .run(&["--config", &config, "serve"])
        .code(2)
        .stderr_has("'listen_on'");
    let config = write_config(&sandbox, "[serve\n");
    sandbox
        .run(&["--config", &config, "config", "show"])
        .code(2)
        .stderr_has("mqreg.toml");
    let config = write_config(&sandbox, "[serve]\nmax_inflight = 0\n");
    sandbox
        .run(&["--config", &config, "serve"])
        .code(2)
        .stderr_has("mqreg.toml");
    sandbox
        .run(&["--config", "/nonexistent/mqreg.toml", "registry", "status"])
        .code(1)
        .stderr_has("/nonexistent/mqreg.toml");
}

#[test]
fn the_config_files_state_path_is_used_when_nothing_else_names_one() {
    let sandbox = Sandbox::new();
    let state = sandbox.dir.path().join("elsewhere/state.toml");
    let config = write_config(
        &sandbox,
        &format!("state = {:?}\n", state.to_str().unwrap()),
    );
    let output = sandbox
        .command(&["--json", "--config", &config, "registry", "unlock"])
        .env_remove("MQREG_STATE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(state.exists());
}
