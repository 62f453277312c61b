//! Unit tests of the pure state edits.

use super::*;
use chrono::TimeZone;

fn at(seconds: i64) -> Timestamp {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

/// A real (cheap) argon2id hash, so `State::check` accepts the state.
fn some_hash() -> String {
    password::hash(
        "secret",
        HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
    )
}

fn request(hash: &str, seen: Timestamp, conflict: bool) -> PendingRequest {
    let mut request = PendingRequest::new(
        hash.to_owned(),
        "client".into(),
        "127.0.0.1:5000".into(),
        "5".into(),
        seen,
    );
    request.conflict = conflict;
    request
}

fn state_with_pending(names: &[(&str, bool)]) -> State {
    let hash = some_hash();
    let mut state = State::default();
    for (name, conflict) in names {
        state
            .pending
            .insert(name.to_string(), request(&hash, at(0), *conflict));
    }
    state
}

fn named(names: &[&str]) -> Selection {
    Selection {
        names: names.iter().map(|n| n.to_string()).collect(),
        ..Selection::default()
    }
}

#[test]
fn the_registry_locks_itself_when_the_window_ends() {
    let mut state = State::default();
    assert!(!state.is_unlocked(at(0)));
    state.unlock(at(0), Duration::from_secs(300));
    assert!(state.is_unlocked(at(299)));
    assert!(!state.is_unlocked(at(300)));
    let status = state.status(at(100));
    assert!(!status.locked);
    assert_eq!(status.remaining_seconds, 200);
    assert_eq!(status.unlocked_until, Some(at(300)));
    let status = state.status(at(301));
    assert!(status.locked);
    assert_eq!((status.remaining_seconds, status.unlocked_until), (0, None));
    state.unlock(at(0), Duration::from_secs(300));
    state.lock();
    assert!(state.status(at(1)).locked);
}

#[test]
fn approve_creates_users_with_the_offered_hash_and_given_roles() {
    let mut state = state_with_pending(&[("dev1", false), ("dev2", false)]);
    let hash = state.pending["dev1"].passwords[0].password_hash.clone();
    let roles = vec!["b".to_string(), "a".to_string(), "a".to_string()];
    let outcome = state.approve(&named(&["dev1", "ghost"]), &roles, false, None, at(5));
    assert_eq!(outcome.done, vec!["dev1"]);
    assert_eq!(outcome.not_found, vec!["ghost"]);
    assert!(outcome.skipped.is_empty());
    let user = &state.users["dev1"];
    assert_eq!(user.password_hash, hash);
    assert_eq!(user.roles, vec!["a", "b"]);
    assert_eq!(user.created, at(5));
    assert!(!state.pending.contains_key("dev1"));
    assert!(state.pending.contains_key("dev2"));
}

#[test]
fn approved_users_have_no_roles_unless_given() {
    let mut state = state_with_pending(&[("dev1", false)]);
    state.approve(&named(&["dev1"]), &[], false, None, at(1));
    assert!(state.users["dev1"].roles.is_empty());
}

#[test]
fn a_conflicted_request_needs_its_name_and_force() {
    let mut state = state_with_pending(&[("dev1", true), ("dev2", false)]);
    let outcome = state.approve(&named(&["dev1"]), &[], false, None, at(1));
    assert_eq!(
        outcome.skipped,
        vec![("dev1".to_string(), SkipReason::Conflict)]
    );
    assert!(outcome.done.is_empty());

    let all = Selection {
        all: true,
        ..Selection::default()
    };
    let outcome = state.approve(&all, &[], true, None, at(1));
    assert_eq!(
        outcome.done,
        vec!["dev2"],
        "bulk approval skips conflicts even with --force"
    );
    assert_eq!(
        outcome.skipped,
        vec![("dev1".to_string(), SkipReason::Conflict)]
    );

    let outcome = state.approve(&named(&["dev1"]), &[], true, None, at(1));
    assert_eq!(outcome.done, vec!["dev1"]);
    assert!(state.pending.is_empty());
}

#[test]
fn match_selects_by_glob_and_names_add_up_without_repeats() {
    let mut state = state_with_pending(&[("sensor1", false), ("sensor2", false), ("pump1", false)]);
    let selection = Selection {
        names: vec!["sensor1".into(), "sensor1".into()],
        pattern: Some(glob::Pattern::new("sensor*").unwrap()),
        ..Selection::default()
    };
    let outcome = state.approve(&selection, &[], false, None, at(1));
    assert_eq!(outcome.done, vec!["sensor1", "sensor2"]);
    assert_eq!(state.pending.keys().collect::<Vec<_>>(), vec!["pump1"]);
}

#[test]
fn approve_skips_a_name_that_became_a_user() {
    let mut state = state_with_pending(&[("dev1", false)]);
    state
        .users
        .insert("dev1".into(), User::new(some_hash(), vec![], at(0)));
    let outcome = state.approve(&named(&["dev1"]), &[], false, None, at(1));
    assert_eq!(
        outcome.skipped,
        vec![("dev1".to_string(), SkipReason::UserExists)]
    );
}

#[test]
fn reject_drops_requests() {
    let mut state = state_with_pending(&[("dev1", true), ("dev2", false)]);
    let outcome = state.reject(
        &Selection {
            all: true,
            ..Selection::default()
        },
        at(1),
    );
    assert_eq!(
        outcome.done,
        vec!["dev1", "dev2"],
        "rejecting needs no --force"
    );
    assert!(state.pending.is_empty());
    let outcome = state.reject(&named(&["dev1"]), at(1));
    assert_eq!(outcome.not_found, vec!["dev1"]);
}

#[test]
fn expired_requests_are_invisible_and_pruned() {
    let mut state = state_with_pending(&[("old1", false)]);
    let day = 24 * 3600;
    assert_eq!(state.live_pending(at(day - 1)).count(), 1);
    assert_eq!(state.live_pending(at(day)).count(), 0);
    assert_eq!(state.status(at(day)).pending, 0);
    let outcome = state.approve(&named(&["old1"]), &[], false, None, at(day));
    assert_eq!(outcome.not_found, vec!["old1"]);
    state.prune_expired(at(day));
    assert!(state.pending.is_empty());
}

#[test]
fn permissions_merge_and_split_by_access() {
    let mut role = Role::default();
    role.allow(&"read:a/#".parse().unwrap());
    role.allow(&"write:a/#".parse().unwrap());
    role.allow(&"write:b".parse().unwrap());
    assert_eq!(
        role.permissions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["readwrite:a/#", "write:b"]
    );
    assert!(role.disallow(&"write:a/#".parse().unwrap()));
    assert!(role.disallow(&"readwrite:b".parse().unwrap()));
    assert!(!role.disallow(&"read:zzz".parse().unwrap()));
    assert_eq!(
        role.permissions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["read:a/#"]
    );
}

#[test]
fn permission_syntax_errors_are_explained() {
    assert!("read:a/+/c".parse::<Permission>().is_ok());
    let message = "publish:a".parse::<Permission>().unwrap_err();
    assert!(
        message.contains("read (subscribe), write (publish) or readwrite"),
        "{message}"
    );
    let message = "a/b".parse::<Permission>().unwrap_err();
    assert!(message.contains("ACCESS:FILTER"), "{message}");
    assert!("write:a/#/b".parse::<Permission>().is_err());
    assert_eq!(
        "write:x:y".parse::<Permission>().unwrap().filter,
        "x:y",
        "only the first colon separates"
    );
}

#[test]
fn permissions_come_from_known_roles_only() {
    let mut state = State::default();
    let mut role = Role::default();
    role.allow(&"read:a".parse().unwrap());
    state.roles.insert("r1".into(), role);
    let user = User::new(some_hash(), vec!["r1".into(), "gone".into()], at(0));
    let granted: Vec<String> = state
        .permissions_of(&user)
        .map(ToString::to_string)
        .collect();
    assert_eq!(granted, vec!["read:a"]);
    assert_eq!(state.missing_roles(&user.roles), vec!["gone"]);
}

#[test]
fn check_refuses_hand_edited_names_that_could_escape_substitution() {
    let mut state = state_with_pending(&[]);
    state
        .users
        .insert("evil/#".into(), User::new(some_hash(), vec![], at(0)));
    let message = state.check().unwrap_err();
    assert!(message.contains("evil/#"), "{message}");
}

#[test]
fn check_refuses_plaintext_passwords_and_newer_schemas() {
    let mut state = State::default();
    state
        .users
        .insert("dev1".into(), User::new("hunter22".into(), vec![], at(0)));
    assert!(state.check().unwrap_err().contains("not an argon2id hash"));
    let state = State {
        version: SCHEMA_VERSION + 1,
        ..State::default()
    };
    assert!(state.check().unwrap_err().contains("upgrade mqreg"));
}

#[test]
fn the_state_round_trips_through_toml() {
    let mut state = state_with_pending(&[("dev1", true)]);
    state.unlock(at(0), Duration::from_secs(60));
    let mut role = Role::default();
    role.allow(&"readwrite:devices/{username}/#".parse().unwrap());
    state.roles.insert("device".into(), role);
    let text = toml::to_string(&state).unwrap();
    assert!(text.starts_with("version = 2"), "{text}");
    let back: State = toml::from_str(&text).unwrap();
    assert_eq!(back, state);
    assert!(back.check().is_ok());
}

/// A password offered when no request was pending.
fn new_password(hash: String) -> OfferedPassword {
    OfferedPassword::New {
        checked: vec![],
        hash: Some(hash),
    }
}

fn attempt(name: &str, password: OfferedPassword) -> LoginAttempt {
    LoginAttempt {
        username: name.into(),
        client_id: format!("{name}-c"),
        address: "10.0.0.1:1234".into(),
        protocol: "3.1.1".into(),
        password,
        enrolment: None,
    }
}

#[test]
fn attempts_are_recorded_only_while_unlocked() {
    let mut state = State::default();
    let hash = some_hash();
    assert_eq!(
        state.record_attempt(attempt("dev1", new_password(hash.clone())), at(0)),
        Recorded::Locked
    );
    assert!(state.pending.is_empty());
    state.unlock(at(0), Duration::from_secs(60));
    assert_eq!(
        state.record_attempt(attempt("dev1", new_password(hash.clone())), at(1)),
        Recorded::Created
    );
    let request = &state.pending["dev1"];
    assert_eq!((request.attempts, request.conflict), (1, false));
    assert_eq!(request.passwords[0].password_hash, hash);
    assert_eq!(request.client_id, "dev1-c");
}

#[test]
fn a_second_password_marks_a_conflict() {
    let mut state = State::default();
    state.unlock(at(0), Duration::from_secs(60));
    let hash = some_hash();
    state.record_attempt(attempt("dev1", new_password(hash.clone())), at(1));
    assert_eq!(
        state.record_attempt(
            attempt("dev1", OfferedPassword::Matches(hash.clone())),
            at(2)
        ),
        Recorded::Updated { conflict: false }
    );
    assert_eq!(
        state.record_attempt(
            attempt(
                "dev1",
                OfferedPassword::New {
                    checked: vec![hash.clone()],
                    hash: Some(some_hash()),
                }
            ),
            at(3)
        ),
        Recorded::Updated { conflict: true }
    );
    assert_eq!(
        state.record_attempt(
            attempt("dev1", OfferedPassword::Matches(hash.clone())),
            at(4)
        ),
        Recorded::Updated { conflict: true },
        "a conflict stays until the admin decides"
    );
    let request = &state.pending["dev1"];
    assert_eq!(request.attempts, 4);
    assert_eq!((request.first_seen, request.last_seen), (at(1), at(4)));
    assert_eq!(
        request.passwords[0].password_hash, hash,
        "the first password is kept"
    );
}

#[test]
fn a_check_against_replaced_hashes_is_made_again() {
    let mut state = State::default();
    state.unlock(at(0), Duration::from_secs(60));
    state.record_attempt(attempt("dev1", new_password(some_hash())), at(1));
    let stale = some_hash();
    assert_eq!(
        state.record_attempt(
            attempt("dev1", OfferedPassword::Matches(stale.clone())),
            at(2)
        ),
        Recorded::Raced
    );
    let outdated = OfferedPassword::New {
        checked: vec![stale],
        hash: Some(some_hash()),
    };
    assert_eq!(
        state.record_attempt(attempt("dev1", outdated), at(2)),
        Recorded::Raced
    );
    assert_eq!(
        state.record_attempt(attempt("dev1", new_password(some_hash())), at(2)),
        Recorded::Raced,
        "a request appeared since the password was hashed as a new one"
    );
    assert_eq!(state.pending["dev1"].attempts, 1);
}

#[test]
fn existing_users_full_registries_and_vanished_requests_record_nothing() {
    let mut state = state_with_pending(&[("dev1", false)]);
    state.unlock(at(0), Duration::from_secs(60));
    state.approve(&named(&["dev1"]), &[], false, None, at(1));
    assert_eq!(
        state.record_attempt(attempt("dev1", new_password(some_hash())), at(2)),
        Recorded::UserExists
    );
    assert_eq!(
        state.record_attempt(
            attempt("dev2", OfferedPassword::Matches(some_hash())),
            at(2)
        ),
        Recorded::Gone
    );
    state.registry.max_pending = 1;
    assert_eq!(
        state.record_attempt(attempt("dev3", new_password(some_hash())), at(2)),
        Recorded::Created
    );
    assert_eq!(
        state.record_attempt(attempt("dev4", new_password(some_hash())), at(2)),
        Recorded::Full
    );
    assert!(!state.pending.contains_key("dev4"));
    assert_eq!(
        state.record_attempt(
            attempt(
                "dev3",
                OfferedPassword::Matches(state.pending["dev3"].passwords[0].password_hash.clone())
            ),
            at(3)
        ),
        Recorded::Updated { conflict: false },
        "a full registry still updates the requests it holds"
    );
}

#[test]
fn each_distinct_password_is_kept_up_to_the_bound() {
    let mut state = State::default();
    state.unlock(at(0), Duration::from_secs(600));
    let first = some_hash();
    state.record_attempt(attempt("dev1", new_password(first.clone())), at(1));
    let mut known = vec![first];
    for second in 2..=MAX_PASSWORDS_PER_REQUEST + 2 {
        let hash = some_hash();
        let offered = OfferedPassword::New {
            checked: known.clone(),
            // Past the bound the broker does not even hash it.
            hash: (known.len() < MAX_PASSWORDS_PER_REQUEST).then(|| hash.clone()),
        };
        assert_eq!(
            state.record_attempt(attempt("dev1", offered), at(second as i64)),
            Recorded::Updated { conflict: true }
        );
        if known.len() < MAX_PASSWORDS_PER_REQUEST {
            known.push(hash);
        }
    }
    let request = &state.pending["dev1"];
    assert_eq!(request.passwords.len(), MAX_PASSWORDS_PER_REQUEST);
    assert_eq!(request.attempts, MAX_PASSWORDS_PER_REQUEST as u64 + 2);
    assert_eq!(request.password_hashes(), known);
    // A known password counts against its own attempt.
    state.record_attempt(
        attempt("dev1", OfferedPassword::Matches(known[1].clone())),
        at(50),
    );
    let second = &state.pending["dev1"].passwords[1];
    assert_eq!((second.count, second.last_seen), (2, at(50)));
}

#[test]
fn approving_a_request_with_several_passwords_needs_the_attempt_number() {
    let mut state = State::default();
    state.unlock(at(0), Duration::from_secs(600));
    let first = some_hash();
    let second = some_hash();
    state.record_attempt(attempt("dev1", new_password(first.clone())), at(1));
    let mut other = attempt(
        "dev1",
        OfferedPassword::New {
            checked: vec![first.clone()],
            hash: Some(second.clone()),
        },
    );
    other.client_id = "impostor".into();
    state.record_attempt(other, at(2));
    let skipped = |outcome: SelectionOutcome| outcome.skipped[0].1;
    assert_eq!(
        skipped(state.approve(&named(&["dev1"]), &[], false, None, at(3))),
        SkipReason::Conflict
    );
    assert_eq!(
        skipped(state.approve(&named(&["dev1"]), &[], true, None, at(3))),
        SkipReason::NeedsAttempt
    );
    assert_eq!(
        skipped(state.approve(&named(&["dev1"]), &[], true, Some(3), at(3))),
        SkipReason::NoSuchAttempt
    );
    assert_eq!(
        skipped(state.approve(&named(&["dev1"]), &[], true, Some(0), at(3))),
        SkipReason::NoSuchAttempt
    );
    let outcome = state.approve(&named(&["dev1"]), &[], true, Some(2), at(3));
    assert_eq!(outcome.done, vec!["dev1"]);
    let user = &state.users["dev1"];
    assert_eq!(user.password_hash, second);
    assert_eq!(user.registered_client_ids, vec!["impostor"]);
}

#[test]
fn a_schema_1_pending_request_reads_as_one_password() {
    let hash = some_hash();
    let text = format!(
        "version = 1\n[pending.dev1]\npassword_hash = \"{hash}\"\nclient_id = \"c1\"\n\
         address = \"10.0.0.1:1\"\nprotocol = \"5\"\nfirst_seen = \"2027-01-15T08:00:00Z\"\n\
         last_seen = \"2027-01-15T08:05:00Z\"\nattempts = 3\nconflict = false\n"
    );
    let state: State = toml::from_str(&text).unwrap();
    let request = &state.pending["dev1"];
    assert_eq!(request.passwords.len(), 1);
    assert_eq!(request.passwords[0].password_hash, hash);
    assert_eq!(request.passwords[0].count, 3);
    assert_eq!(request.passwords[0].client_id, "c1");
    assert!(state.check().is_ok());
    let empty = "[pending.dev1]\nclient_id = \"c\"\naddress = \"a\"\nprotocol = \"5\"\n\
                 first_seen = \"2027-01-15T08:00:00Z\"\nlast_seen = \"2027-01-15T08:00:00Z\"\nattempts = 1\n";
    assert!(
        toml::from_str::<State>(empty).is_err(),
        "a request needs a password"
    );
}

#[test]
fn client_id_rules_allow_what_they_say() {
    let registered = vec!["board-1".to_string()];
    assert!(ClientIdRule::Any.allows("dev1", "anything", &[]));
    assert!(ClientIdRule::Registered.allows("dev1", "board-1", &registered));
    assert!(!ClientIdRule::Registered.allows("dev1", "board-2", &registered));
    assert!(!ClientIdRule::Registered.allows("dev1", "", &[]));
    let rule = ClientIdRule::patterns(vec!["{username}".into(), "{username}-*".into()]).unwrap();
    assert!(rule.allows("dev1", "dev1", &[]));
    assert!(rule.allows("dev1", "dev1-kitchen", &[]));
    assert!(!rule.allows("dev1", "dev10", &[]));
    assert!(!rule.allows("dev1", "dev2-kitchen", &[]));
    assert!(
        !rule.allows("dev.1", "devx1", &[]),
        "'.' in a name is literal"
    );
    assert!(rule.allows_registration("dev1", "dev1-a"));
    assert!(!rule.allows_registration("dev1", "other"));
    assert!(ClientIdRule::Registered.allows_registration("dev1", "other"));
    assert!(ClientIdRule::patterns(vec![]).is_err());
    assert!(ClientIdRule::patterns(vec!["[oops".into()]).is_err());
    // As the file writes them.
    for (rule, text) in [
        (ClientIdRule::Any, "\"any\""),
        (ClientIdRule::Registered, "\"registered\""),
        (
            ClientIdRule::Patterns(vec!["{username}".into()]),
            "[\"{username}\"]",
        ),
    ] {
        assert_eq!(serde_json::to_string(&rule).unwrap(), text);
        assert_eq!(serde_json::from_str::<ClientIdRule>(text).unwrap(), rule);
    }
    assert!(serde_json::from_str::<ClientIdRule>("\"some\"").is_err());
}

#[test]
fn barriers_come_from_bans_disabled_users_and_client_id_rules() {
    let mut state = State::default();
    state
        .users
        .insert("dev1".into(), User::new(some_hash(), vec![], at(0)));
    let peer: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    assert_eq!(state.barrier(Some("dev1"), "c", Some(peer), at(1)), None);
    let ban = state.add_ban(
        BanKind::Address,
        access::parse_address_ban("192.0.2.99/24").unwrap(),
        Some(at(10)),
        None,
        at(0),
    );
    assert_eq!(ban.value, "192.0.2.0/24");
    assert_eq!(
        state.barrier(Some("dev1"), "c", Some(mapped), at(1)),
        Some(Barrier::Banned {
            id: 1,
            kind: BanKind::Address
        }),
        "an IPv4-mapped address is the IPv4 address"
    );
    assert_eq!(
        state.barrier(None, "c", Some(peer), at(1)),
        Some(Barrier::Banned {
            id: 1,
            kind: BanKind::Address
        }),
        "unknown users and registrations too"
    );
    assert_eq!(
        state.barrier(Some("dev1"), "c", Some(peer), at(10)),
        None,
        "expired"
    );
    state.prune_expired(at(10));
    assert!(state.bans.is_empty(), "expired bans vanish on save");
    let id = state
        .add_ban(BanKind::ClientId, "evil".into(), None, None, at(0))
        .id;
    assert_eq!(id, 1, "ids are reused once free");
    assert!(state.barrier(Some("dev1"), "evil", None, at(1)).is_some());
    assert!(state.barrier(Some("dev1"), "evil2", None, at(1)).is_none());
    assert!(state.remove_ban(id));
    assert!(!state.remove_ban(id));
    state.users.get_mut("dev1").unwrap().disabled = true;
    assert_eq!(
        state.barrier(Some("dev1"), "c", None, at(1)),
        Some(Barrier::Disabled)
    );
    let user = state.users.get_mut("dev1").unwrap();
    user.disabled = false;
    user.client_ids = Some(ClientIdRule::patterns(vec!["{username}".into()]).unwrap());
    assert_eq!(
        state.barrier(Some("dev1"), "c", None, at(1)),
        Some(Barrier::ClientIdNotAllowed)
    );
    assert_eq!(state.barrier(Some("dev1"), "dev1", None, at(1)), None);
    assert!(access::parse_address_ban("10.0.0.0/33").is_err());
    assert!(access::parse_address_ban("host.example").is_err());
    assert_eq!(
        access::parse_address_ban("::ffff:10.1.2.3").unwrap(),
        "10.1.2.3"
    );
}

#[test]
fn the_new_fields_round_trip_through_both_writers() {
    let mut state = state_with_pending(&[("dev1", false)]);
    let mut user = User::new(some_hash(), vec!["r".into()], at(0));
    user.disabled = true;
    user.client_ids = Some(ClientIdRule::Patterns(vec!["{username}-*".into()]));
    user.registered_client_ids = vec!["board \"1\"".into()];
    state.users.insert("dev2".into(), user);
    state.users.insert(
        "dev3".into(),
        User {
            client_ids: Some(ClientIdRule::Registered),
            ..User::new(some_hash(), vec![], at(0))
        },
    );
    state.registry.client_ids = ClientIdRule::Registered;
    state.flood.max_refusals = 7;
    state.add_ban(
        BanKind::Username,
        "dev9".into(),
        Some(at(99)),
        Some("why \"not\"".into()),
        at(0),
    );
    let second = some_hash();
    let request = state.pending.get_mut("dev1").unwrap();
    request.passwords.push(PasswordAttempt {
        password_hash: second,
        ..request.passwords[0].clone()
    });
    request.conflict = true;
    let text = bulk::serialize(&state).unwrap();
    let back: State = toml::from_str(&text).unwrap();
    assert_eq!(back, state, "{text}");
    assert_eq!(
        toml::from_str::<State>(&toml::to_string(&state).unwrap()).unwrap(),
        state
    );
}
