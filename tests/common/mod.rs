//! Helpers shared by the integration tests: a private state file per test and a
//! way to run the real `mqreg` binary against it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mqreg::password::{self, HashCost};

pub const MQREG: &str = env!("CARGO_BIN_EXE_mqreg");

/// A temporary folder holding one state file, removed when dropped.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("mqreg/state.toml");
        Self { dir, state }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(MQREG);
        command
            .args(args)
            .env("MQREG_STATE", &self.state)
            .env_remove("MQREG_LOCK_TIMEOUT")
            .env_remove("RUST_LOG");
        command
    }

    /// Runs `mqreg ARGS` with `stdin` piped in.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mqreg");
        // mqreg may exit before reading (a bad name, say): a broken pipe is fine.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        Run::from(child.wait_with_output().expect("wait for mqreg"), args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// Runs a command that must succeed and returns its stdout as JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        self.run(&with_json).ok().json()
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.state).unwrap_or_default()
    }

    /// Adds pending requests as the broker would record them, by editing the
    /// file the way the broker does: through the store.
    pub fn seed_pending(&self, requests: &[(&str, &str, bool)]) {
        let store = mqreg::state::store::Store::new(&self.state);
        store
            .update(|state| {
                let now = chrono::Utc::now();
                for (name, password, conflict) in requests {
                    state.pending.insert(
                        name.to_string(),
                        mqreg::state::PendingRequest {
                            password_hash: password::hash(password, cheap_cost()),
                            client_id: format!("{name}-client"),
                            address: "127.0.0.1:40000".into(),
                            protocol: "3.1.1".into(),
                            first_seen: now,
                            last_seen: now,
                            attempts: 1,
                            conflict: *conflict,
                        },
                    );
                }
                Ok(())
            })
            .expect("seed pending requests");
    }
}

/// Argon2 parameters that keep tests fast; the hashes are still argon2id.
pub fn cheap_cost() -> HashCost {
    HashCost {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: String,
}

impl Run {
    fn from(output: Output, args: &[&str]) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "mqreg {} exited {}, expected {expected}\nstdout: {}\nstderr: {}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        self.code(0)
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of mqreg {} is not JSON ({e}):\n{}",
                self.args, self.stdout
            )
        })
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr of mqreg {} lacks {needle:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
