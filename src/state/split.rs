//! Reading and writing a big state file on two threads.
//!
//! A registry of 10,000 users is a 2 MB TOML file, and the toml crate parses
//! about 50 MB/s: a CLI command would spend most of its time in the parser. The
//! users (and pending requests) are a long run of `[users.NAME]` tables, so the
//! text is cut at a table header near its middle and both halves are parsed at
//! once, then merged.
//!
//! Cutting is only done where it cannot change the meaning: the file holds no
//! multi-line string (so a line starting with `[users.` is a table header), and
//! any failure in a half, or a name defined in both halves, falls back to the
//! ordinary whole-file parse, which then reports the error as usual.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::{PendingRequest, Registry, Role, State, User};
use crate::password::{HashCost, PasswordPolicy};

/// Below this size one thread is as fast.
const SPLIT_FROM_BYTES: usize = 256 * 1024;
const SPLIT_FROM_USERS: usize = 2_000;
const HEADER: &str = "\n[users.";

/// What the second half holds.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tail {
    #[serde(default)]
    users: BTreeMap<String, User>,
    #[serde(default)]
    pending: BTreeMap<String, PendingRequest>,
}

/// The state, parsed in two halves; `None` when it cannot be cut safely or a
/// half does not parse.
pub fn parse(text: &str) -> Option<State> {
    if text.len() < SPLIT_FROM_BYTES || text.contains("'''") || text.contains("\"\"\"") {
        return None;
    }
    let middle = text.len() / 2;
    let cut = middle + text.get(middle..)?.find(HEADER)? + 1;
    let (head, tail) = text.split_at(cut);
    let (head, tail) = std::thread::scope(|scope| {
        let tail = scope.spawn(|| toml::from_str::<Tail>(tail));
        (toml::from_str::<State>(head), tail.join())
    });
    let mut state = head.ok()?;
    let tail = tail.ok()?.ok()?;
    for (name, user) in tail.users {
        if state.users.insert(name, user).is_some() {
            return None;
        }
    }
    for (name, request) in tail.pending {
        if state.pending.insert(name, request).is_some() {
            return None;
        }
    }
    Some(state)
}

/// A run of map entries, serialized as a map.
struct Entries<'a, V>(Vec<(&'a String, &'a V)>);

impl<V: Serialize> Serialize for Entries<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The fields of [`State`] in its order, the users cut short.
#[derive(Serialize)]
struct HeadRef<'a> {
    version: u32,
    registry: &'a Registry,
    password_policy: &'a PasswordPolicy,
    argon2: &'a HashCost,
    roles: &'a BTreeMap<String, Role>,
    users: Entries<'a, User>,
}

#[derive(Serialize)]
struct TailRef<'a> {
    users: Entries<'a, User>,
    pending: &'a BTreeMap<String, PendingRequest>,
}

/// The state as TOML; big states are written in two halves at once.
pub fn serialize(state: &State) -> Result<String, toml::ser::Error> {
    if state.users.len() < SPLIT_FROM_USERS {
        return toml::to_string(state);
    }
    let mut users: Vec<(&String, &User)> = state.users.iter().collect();
    let second = users.split_off(users.len() / 2);
    let head = HeadRef {
        version: state.version,
        registry: &state.registry,
        password_policy: &state.password_policy,
        argon2: &state.argon2,
        roles: &state.roles,
        users: Entries(users),
    };
    let tail = TailRef {
        users: Entries(second),
        pending: &state.pending,
    };
    let (head, tail) = std::thread::scope(|scope| {
        let tail = scope.spawn(|| toml::to_string(&tail));
        (toml::to_string(&head), tail.join())
    });
    let mut text = head?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&tail.expect("serializing cannot panic")?);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn big_state(users: usize, pending: usize) -> State {
        let hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA".to_owned();
        let mut state = State::default();
        let mut role = Role::default();
        role.allow(&"read:a/#".parse().unwrap());
        state.roles.insert("r".into(), role);
        for i in 0..users {
            state.users.insert(
                format!("user{i:05}"),
                User {
                    password_hash: hash.clone(),
                    roles: vec!["r".into()],
                    created: Utc::now(),
                },
            );
        }
        for i in 0..pending {
            state.pending.insert(
                format!("dev{i:04}"),
                PendingRequest {
                    password_hash: hash.clone(),
                    client_id: format!("client \"{i}\" [users.x]"),
                    address: "127.0.0.1:1".into(),
                    protocol: "5".into(),
                    first_seen: Utc::now(),
                    last_seen: Utc::now(),
                    attempts: 1,
                    conflict: false,
                },
            );
        }
        state
    }

    #[test]
    fn a_big_state_round_trips_through_both_halves() {
        let state = big_state(5_000, 300);
        let text = serialize(&state).unwrap();
        let whole: State = toml::from_str(&text).expect("the halves make one valid document");
        assert_eq!(whole, state);
        assert_eq!(parse(&text).expect("big enough to split"), state);
    }

    #[test]
    fn small_states_are_not_split() {
        let state = big_state(10, 2);
        assert_eq!(serialize(&state).unwrap(), toml::to_string(&state).unwrap());
        assert!(parse(&toml::to_string(&state).unwrap()).is_none());
    }

    #[test]
    fn anything_doubtful_falls_back_to_the_whole_file() {
        let text = serialize(&big_state(5_000, 0)).unwrap();
        // The same user in both halves: a duplicate the whole-file parser reports.
        let duplicate = format!("{text}\n[users.user00001]\npassword_hash = \"x\"\ncreated = \"2026-01-01T00:00:00Z\"\n");
        assert!(parse(&duplicate).is_none());
        assert!(toml::from_str::<State>(&duplicate).is_err());
        // A multi-line string could hide a header-looking line.
        let multiline = text.replacen(
            "password_hash = ",
            "note = '''\n[users.fake]\n'''\npassword_hash = ",
            1,
        );
        assert!(parse(&multiline).is_none());
        // A broken second half.
        let broken = format!("{text}\n[users.zz\n");
        assert!(parse(&broken).is_none());
    }
}
