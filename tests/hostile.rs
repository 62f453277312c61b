//! Hostile input: the broker survives malformed, truncated and oversize
//! packets, and clients that never speak, and still answers the next client;
//! the CLI loses nothing when its processes are killed mid-write.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::connect::connect_packet as connect;
use common::{eventually, Sandbox};

/// Sends `bytes` and returns whatever comes back before the server closes or
/// goes quiet for a second.
fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut reply = Vec::new();
    let mut buffer = [0u8; 256];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buffer[..n]);
    }
    reply
}

#[test]
fn the_broker_survives_bad_packets_and_answers_the_next_client() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    // About twenty bad logins from one address: past the flood limit, which
    // would answer the last good one after its delay. Not what this is about.
    sandbox.without_flood_limits();
    sandbox.add_users(&["known1"], "right-password", None);
    sandbox.run(&["registry", "unlock"]).ok();
    let broker = sandbox.serve();
    let port = broker.port;

    // Clients that connect and never say anything, left open meanwhile.
    let silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();

    let huge = vec![b'a'; 65_535];
    let refused = [0x20, 0x02, 0x00, 0x05];
    for (what, packet) in [
        ("oversize username", connect(b"c1", &huge, b"password1")),
        (
            "oversize password, known user",
            connect(b"c2", b"known1", &huge),
        ),
        (
            "oversize password, unknown user",
            connect(b"c3", b"newdevice1", &huge),
        ),
        (
            "non-UTF-8 password",
            connect(b"c5", b"newdevice2", b"pass\xffword"),
        ),
    ] {
        let reply = exchange(port, &packet);
        assert!(
            reply.is_empty() || reply.starts_with(&refused),
            "{what}: a refusal or a closed socket, not {reply:?}"
        );
    }
    // A CONNECT whose strings do not decode is a malformed packet: the
    // decoder closes the connection (or answers CONNACK 3) before any login
    // check, the same for every username.
    let malformed = [0x20, 0x02, 0x00, 0x03];
    for (what, packet) in [
        (
            "non-UTF-8 username",
            connect(b"c4", b"dev\xff\xfe1", b"password1"),
        ),
        ("NUL in username", connect(b"c6", b"dev\x001", b"password1")),
        (
            "non-UTF-8 client id",
            connect(b"c\xff", b"known1", b"right-password"),
        ),
    ] {
        let reply = exchange(port, &packet);
        assert!(
            reply.is_empty() || reply.starts_with(&refused) || reply.starts_with(&malformed),
            "{what}: got {reply:?}"
        );
    }
    for (what, bytes) in [
        ("garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        (
            "truncated CONNECT",
            connect(b"c7", b"known1", b"right-password")[..12].to_vec(),
        ),
        (
            "length past the end",
            vec![0x10, 0xff, 0xff, 0xff, 0x7f, 0, 4],
        ),
        (
            "PUBLISH before CONNECT",
            vec![0x30, 0x05, 0, 1, b'a', b'x', b'y'],
        ),
        ("wrong protocol name", {
            let mut packet = connect(b"c8", b"known1", b"right-password");
            packet[4] = b'X';
            packet
        }),
    ] {
        let reply = exchange(port, &bytes);
        assert!(
            reply.is_empty() || reply.starts_with(&[0x20]),
            "{what}: got {reply:?}"
        );
    }
    // Nothing bogus was recorded, and the broker still serves.
    let pending = sandbox.json(&["registry", "list"]);
    assert!(pending.as_array().unwrap().is_empty(), "{pending}");
    // Up to 10 s: its password check runs on the argon2 threads, at a lower
    // priority than whatever else keeps a loaded machine busy.
    let ack = TcpStream::connect(("127.0.0.1", port)).and_then(|mut socket| {
        common::send_connect(
            &mut socket,
            &connect(b"c9", b"known1", b"right-password"),
            Duration::from_secs(10),
        )
    });
    assert!(
        matches!(ack, Ok([0x20, 0x02, 0x00, 0x00])),
        "the known user's login: {ack:?}\n{}",
        broker.log()
    );
    assert!(eventually(Duration::from_secs(5), || broker
        .mosquitto_pub(&["-u", "known1", "-P", "right-password", "-t", "x", "-m", "1"])
        .0
        == 0));
    drop(silent);
    assert!(!broker.log().contains("right-password"));
}

/// A cheap source of varied delays, no crate needed.
fn jitter(round: u64, bound_ms: u64) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis((nanos ^ round.wrapping_mul(0x9E37_79B9)) % bound_ms)
}

#[test]
fn killed_cli_writers_never_corrupt_the_state_or_lose_a_reported_change() {
    let sandbox = Sandbox::new();
    let bulk: Vec<(String, String)> = (0..200)
        .map(|i| (format!("device{i:03}"), "pw-bulk".to_owned()))
        .collect();
    let bulk: Vec<(&str, &str, bool)> = bulk
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_str(), false))
        .collect();
    sandbox.seed_pending(&bulk);
    let mut reported = Vec::new();
    let mut killed = 0;
    for round in 0..12u64 {
        let children: Vec<(String, std::process::Child)> = (0..8)
            .map(|i| {
                let role = format!("r{round:02}x{i}");
                let child = sandbox
                    .command(&["role", "create", &role])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                (role, child)
            })
            .collect();
        std::thread::sleep(jitter(round, 40));
        for (index, (role, mut child)) in children.into_iter().enumerate() {
            if index % 2 == 1 && matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                killed += 1;
            }
            if child.wait().unwrap().success() {
                reported.push(role);
            }
        }
        // Whatever was killed where, the file parses and holds every reported change.
        let roles = sandbox.json(&["role", "list"]);
        let names: Vec<&str> = roles
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        for role in &reported {
            assert!(
                names.contains(&role.as_str()),
                "round {round}: {role} reported done but missing"
            );
        }
    }
    assert!(killed > 0, "the test killed nothing");
    assert_eq!(
        sandbox
            .json(&["registry", "list"])
            .as_array()
            .unwrap()
            .len(),
        200
    );
    eprintln!(
        "{killed} writers killed, {} changes reported and present",
        reported.len()
    );
}

#[test]
fn a_crashed_broker_leaves_a_state_that_serves_again() {
    let sandbox = Sandbox::new();
    sandbox.cheap_hashes();
    sandbox.run(&["registry", "unlock", "--for", "10m"]).ok();
    for round in 0..3u64 {
        let broker = sandbox.serve();
        let port = broker.port.to_string();
        let devices: Vec<_> = (0..20)
            .map(|i| {
                std::process::Command::new("mosquitto_pub")
                    .args(["-h", "127.0.0.1", "-p", &port])
                    .args([
                        "-u",
                        &format!("crash{round}x{i:02}"),
                        "-P",
                        "device-secret",
                        "-t",
                        "x",
                        "-m",
                        "1",
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::sleep(jitter(round, 50));
        broker.crash();
        for mut device in devices {
            let _ = device.wait();
        }
        let pending = sandbox.json(&["registry", "list"]);
        assert!(pending.as_array().unwrap().len() <= 20 * (round as usize + 1));
    }
    let broker = sandbox.serve();
    assert!(eventually(Duration::from_secs(5), || broker
        .mosquitto_pub(&["-u", "after1", "-P", "device-secret", "-t", "x", "-m", "1"])
        .0
        == 5));
}

#[test]
fn a_flood_of_new_names_stays_bounded_and_known_users_still_get_in() {
    let sandbox = Sandbox::new();
    sandbox.without_flood_limits();
    sandbox.cheap_hashes();
    sandbox.add_users(&["known1"], "right-password", None);
    sandbox.run(&["registry", "unlock", "--for", "10m"]).ok();
    let broker = sandbox.serve();
    let port = broker.port;
    let rss_before = broker.rss_kib();

    let flood_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let known_logins = {
        let done = flood_done.clone();
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let reply = exchange(port, &connect(b"known-c", b"known1", b"right-password"));
                answers.push(reply.get(3).copied());
                std::thread::sleep(Duration::from_millis(50));
            }
            answers
        })
    };
    const FLOOD: usize = 5_000;
    const THREADS: usize = 25;
    let flooders: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut answered = 0;
                for i in (t..FLOOD).step_by(THREADS) {
                    let name = format!("flood{i:05}");
                    let reply = exchange(
                        port,
                        &connect(name.as_bytes(), name.as_bytes(), b"flood-password"),
                    );
                    if reply.starts_with(&[0x20, 0x02, 0x00, 0x05]) {
                        answered += 1;
                    }
                }
                answered
            })
        })
        .collect();
    let refused: usize = flooders.into_iter().map(|f| f.join().unwrap()).sum();
    flood_done.store(true, std::sync::atomic::Ordering::Relaxed);
    let known = known_logins.join().unwrap();

    assert_eq!(refused, FLOOD, "every flood login got CONNACK 5");
    assert!(
        !known.is_empty() && known.iter().all(|code| *code == Some(0)),
        "known user during the flood: {known:?}"
    );
    let pending = sandbox
        .json(&["registry", "list"])
        .as_array()
        .unwrap()
        .len();
    assert!(
        pending > 0 && pending <= 1000,
        "{pending} pending, bound 1000"
    );
    let size = std::fs::metadata(&sandbox.state).unwrap().len();
    assert!(size < 1024 * 1024, "state file {size} bytes");
    let rss_after = broker.rss_kib();
    eprintln!(
        "flood: {FLOOD} refused, {pending} pending recorded, state {} KiB, broker RSS {rss_before} -> {rss_after} KiB, {} known logins all accepted",
        size / 1024,
        known.len()
    );
    assert!(
        rss_after < rss_before + 200 * 1024,
        "memory grew from {rss_before} to {rss_after} KiB"
    );
}

#[test]
fn twenty_cli_writers_and_500_registrations_at_once_lose_nothing() {
    let sandbox = Sandbox::new();
    sandbox.without_flood_limits();
    sandbox.cheap_hashes();
    sandbox.run(&["registry", "unlock", "--for", "10m"]).ok();
    let broker = sandbox.serve();
    let port = broker.port;
    const DEVICES: usize = 500;
    // Fifty devices at a time, each once; the retry loop below plays the
    // devices that were turned away while the broker was saturated.
    let registering: Vec<_> = (0..50)
        .map(|t| {
            std::thread::spawn(move || {
                for i in (t..DEVICES).step_by(50) {
                    let name = format!("fleet{i:03}");
                    exchange(
                        port,
                        &connect(name.as_bytes(), name.as_bytes(), b"fleet-password"),
                    );
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..20)
        .map(|i| {
            sandbox
                .command(&["role", "create", &format!("team{i:02}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for writer in writers {
        let output = writer.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for thread in registering {
        thread.join().unwrap();
    }
    // Devices retry, as real ones do: a refusal while the broker is saturated is
    // expected, a lost registration is not.
    for _round in 0..20 {
        let recorded: std::collections::HashSet<String> = sandbox
            .json(&["registry", "list"])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["username"].as_str().unwrap().to_owned())
            .collect();
        let missing: Vec<String> = (0..DEVICES)
            .map(|i| format!("fleet{i:03}"))
            .filter(|name| !recorded.contains(name))
            .collect();
        if missing.is_empty() {
            break;
        }
        for name in missing {
            exchange(
                port,
                &connect(name.as_bytes(), name.as_bytes(), b"fleet-password"),
            );
        }
    }
    let pending = sandbox.json(&["registry", "list"]);
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), DEVICES);
    assert!(pending
        .iter()
        .all(|r| r["conflict"] == serde_json::json!(false)));
    assert_eq!(
        sandbox.json(&["role", "list"]).as_array().unwrap().len(),
        20
    );
}

#[test]
fn unknown_users_and_wrong_passwords_are_refused_alike_in_time() {
    let sandbox = Sandbox::new();
    sandbox.without_flood_limits();
    // The default argon2 cost, so a real password check takes milliseconds.
    sandbox.add_users(&["known1"], "right-password", None);
    let broker = sandbox.serve();
    let median_refusal = |user: &[u8], password: &dyn Fn(usize) -> String| {
        let mut times: Vec<Duration> = (0..11)
            .map(|i| {
                let started = std::time::Instant::now();
                let reply = exchange(
                    broker.port,
                    &connect(b"probe", user, password(i).as_bytes()),
                );
                assert_eq!(reply, [0x20, 0x02, 0x00, 0x05]);
                started.elapsed()
            })
            .collect();
        times.sort();
        times[5]
    };
    // First tries: a new password each time, so each is checked in full.
    let fresh = |i: usize| format!("wrong-password-{i}");
    let wrong_password = median_refusal(b"known1", &fresh);
    let unknown_user = median_refusal(b"nobody1", &fresh);
    eprintln!(
        "first refusals, median: wrong password {wrong_password:?}, unknown user {unknown_user:?}"
    );
    let ratio = unknown_user.as_secs_f64() / wrong_password.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown user {unknown_user:?} vs wrong password {wrong_password:?}: the difference tells which users exist"
    );
    // Repeats of a pair refused before are answered at once, for both alike.
    let same = |_: usize| "wrong-password-0".to_owned();
    let wrong_again = median_refusal(b"known1", &same);
    let unknown_again = median_refusal(b"nobody1", &same);
    eprintln!(
        "repeated refusals, median: wrong password {wrong_again:?}, unknown user {unknown_again:?}"
    );
    for (case, again) in [
        ("wrong password", wrong_again),
        ("unknown user", unknown_again),
    ] {
        assert!(
            again < wrong_password / 2,
            "a repeated {case} took {again:?}, a first one {wrong_password:?}: repeats should not be held"
        );
    }
}
