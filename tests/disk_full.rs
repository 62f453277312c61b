//! A full disk (CONTRACT.md, "Durability and isolation"): known users keep
//! logging in and publishing, what cannot be written is logged, and writing
//! resumes by itself once there is space. The state, its audit log and the
//! message store live on a small tmpfs that the test fills; mounting one
//! needs root (CI runs as root).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::raw::{self, Connect, Props, Raw};
use common::{eventually, Sandbox};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "password1";

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .ok()?
            .success();
        mounted.then(|| Self(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system refuses more.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    while file.write_all(&chunk[..512]).is_ok() {}
    let _ = file.sync_all();
}

#[test]
fn a_full_disk_stops_no_known_user_and_writing_resumes_by_itself() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&outer.path().join("disk"), "16m") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let sandbox = Sandbox {
        state: disk.0.join("state.toml"),
        dir: tempfile::tempdir().unwrap(),
    };
    sandbox.cheap_hashes();
    sandbox
        .add_role("all", &["readwrite:#"])
        .add_users(&["alice", "bob"], PASSWORD, Some("all"));
    sandbox.run(&["registry", "unlock", "--for", "1h"]).ok();
    let broker = sandbox.serve();
    let login = |client_id: &str, user: &str, password: &str, clean: bool| {
        Raw::connect(
            broker.port,
            &Connect::v3(client_id, user, password).clean(clean),
        )
    };
    // bob keeps a persistent session and logs in once before the disk fills.
    let (mut bob, connack) = login("df-bob", "bob", PASSWORD, false);
    assert_eq!(connack.body[1], 0);
    bob.send(&raw::subscribe(false, 1, &[("df/#", 1)], Props::new()));
    bob.recv_kind(9, WAIT).expect("SUBACK");
    let (_alice, connack) = login("df-alice", "alice", PASSWORD, true);
    assert_eq!(connack.body[1], 0);

    let filler = disk.0.join("filler");
    fill(&filler);
    // Known users log in (alice's password was verified before; bob's
    // session is persistent) and publish; QoS 1 is acknowledged and
    // delivered although the store cannot write it.
    let (mut alice, connack) = login("df-alice", "alice", PASSWORD, true);
    assert_eq!(connack.body[1], 0, "a known user logs in on a full disk");
    for n in 0..20u16 {
        alice.send(&raw::publish(
            false,
            "df/x",
            &n.to_be_bytes(),
            1,
            false,
            n + 1,
            Props::new(),
        ));
        alice.recv_kind(4, WAIT).expect("PUBACK on a full disk");
        let message = bob.recv_publish(WAIT).expect("delivered");
        assert_eq!(message.payload, n.to_be_bytes());
        bob.send(&raw::ack(0x40, message.packet_id.unwrap()));
    }
    // A new device cannot be recorded: refused (as any failed login), logged.
    let (_device, connack) = login("df-dev", "newdev", "device-pw", true);
    assert_eq!(connack.body[1], 5);
    assert!(
        eventually(WAIT, || broker
            .log()
            .contains("cannot write the message store")),
        "the store's failure is logged:\n{}",
        broker.log()
    );

    std::fs::remove_file(&filler).unwrap();
    // Writing resumes by itself: the next attempt of the device is recorded,
    // and the store writes what it held in memory.
    assert!(
        eventually(WAIT, || {
            let (_device, connack) = login("df-dev", "newdev", "device-pw", true);
            connack.body[1] == 5
                && sandbox
                    .json(&["registry", "list"])
                    .as_array()
                    .is_some_and(|pending| pending.len() == 1)
        }),
        "registration recorded once there is space:\n{}",
        broker.log()
    );
    let mut id = 100;
    assert!(
        eventually(WAIT, || {
            // Something for the store to write, now and then.
            id += 1;
            alice.send(&raw::publish(
                false,
                "df/x",
                b"later",
                1,
                false,
                id,
                Props::new(),
            ));
            alice.recv_kind(4, WAIT).expect("PUBACK");
            let message = bob.recv_publish(WAIT).expect("delivered");
            bob.send(&raw::ack(0x40, message.packet_id.unwrap()));
            broker.log().contains("the message store is written again")
        }),
        "{}",
        broker.log()
    );
    let log = broker.log();
    assert_eq!(
        log.matches("cannot write the message store").count(),
        1,
        "logged once per cause:\n{log}"
    );
    drop(broker);
    drop(disk);
}
