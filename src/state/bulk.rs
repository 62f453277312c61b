//! Reading and writing the bulk of a big state file fast: its users and
//! pending requests, a long run of `[users.NAME]` and `[pending.NAME]` tables.
//!
//! A registry of 10,000 users is a 2 MB TOML file, and the toml crate parses
//! about 50 MB/s: a CLI command would spend most of its time in the parser. So
//! the text is cut at a table header near its middle and both halves are
//! parsed at once, then merged; and the bulk is written without serde.
//!
//! Cutting is only done where it cannot change the meaning: the file holds no
//! multi-line string (so a line starting with `[users.` is a table header), and
//! any failure in a half, or a name defined in both halves, falls back to the
//! ordinary whole-file parse, which then reports the error as usual.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use toml_writer::{TomlStringBuilder, WriteTomlKey, WriteTomlValue};

use super::{Ban, FloodLimits, PendingRequest, Registry, Role, State, Timestamp, User};
use crate::password::{HashCost, PasswordPolicy};

/// Below this size one thread is as fast.
const SPLIT_FROM_BYTES: usize = 256 * 1024;
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

/// The fields of [`State`] before the bulk, in its order.
#[derive(Serialize)]
struct HeadRef<'a> {
    version: u32,
    registry: &'a Registry,
    password_policy: &'a PasswordPolicy,
    argon2: &'a HashCost,
    flood: &'a FloodLimits,
    quotas: &'a super::quotas::Quotas,
    roles: &'a BTreeMap<String, Role>,
    #[serde(skip_serializing_if = "<[Ban]>::is_empty")]
    bans: &'a [Ban],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tokens: &'a BTreeMap<String, super::tokens::ApiToken>,
}

/// The state as TOML. The users and pending requests, nearly all of a big file,
/// are written directly rather than through serde: the toml serializer takes
/// about 20 ms for 10,000 users, this a few. Keys and strings still go through
/// `toml_writer`, which quotes and escapes them; the tests check that the result
/// reads back as the same state, whatever the names hold.
pub fn serialize(state: &State) -> Result<String, toml::ser::Error> {
    let mut text = toml::to_string(&HeadRef {
        version: state.version,
        registry: &state.registry,
        password_policy: &state.password_policy,
        argon2: &state.argon2,
        flood: &state.flood,
        quotas: &state.quotas,
        roles: &state.roles,
        bans: &state.bans,
        tokens: &state.tokens,
    })?;
    text.reserve(state.users.len() * 220 + state.pending.len() * 320);
    for (name, user) in &state.users {
        table_header(&mut text, "users", name);
        string_field(&mut text, "password_hash", &user.password_hash);
        string_list_field(&mut text, "roles", &user.roles);
        time_field(&mut text, "created", user.created);
        if user.disabled {
            text.push_str("disabled = true\n");
        }
        if let Some(rule) = &user.client_ids {
            // Rare, and its shape varies: serde writes it.
            text.push_str("client_ids = ");
            text.push_str(&toml::to_string(&Wrapped { value: rule })?["value = ".len()..]);
        }
        if !user.registered_client_ids.is_empty() {
            string_list_field(
                &mut text,
                "registered_client_ids",
                &user.registered_client_ids,
            );
        }
        if !user.quotas.is_empty() {
            let fields = [
                ("retained_messages", user.quotas.retained_messages),
                ("retained_bytes", user.quotas.retained_bytes),
                ("subscriptions", user.quotas.subscriptions),
                ("queued_bytes", user.quotas.queued_bytes),
            ];
            let set: Vec<String> = fields
                .iter()
                .filter_map(|(key, value)| value.map(|value| format!("{key} = {value}")))
                .collect();
            let _ = writeln!(text, "quotas = {{ {} }}", set.join(", "));
        }
        for certificate in &user.certificates {
            text.push_str("\n[[users.");
            let _ = name.as_str().write_toml_key(&mut text);
            text.push_str(".certificates]]\n");
            string_field(&mut text, "serial", &certificate.serial);
            string_field(&mut text, "fingerprint", &certificate.fingerprint);
            string_field(&mut text, "key_fingerprint", &certificate.key_fingerprint);
            time_field(&mut text, "issued", certificate.issued);
            time_field(&mut text, "not_after", certificate.not_after);
            if let Some(revoked) = certificate.revoked {
                time_field(&mut text, "revoked", revoked);
            }
            string_field(&mut text, "pem", &certificate.pem);
        }
    }
    for (name, request) in &state.pending {
        table_header(&mut text, "pending", name);
        string_field(&mut text, "client_id", &request.client_id);
        string_field(&mut text, "address", &request.address);
        string_field(&mut text, "protocol", &request.protocol);
        time_field(&mut text, "first_seen", request.first_seen);
        time_field(&mut text, "last_seen", request.last_seen);
        let _ = writeln!(text, "attempts = {}", request.attempts);
        let _ = writeln!(text, "conflict = {}", request.conflict);
        for attempt in &request.passwords {
            text.push_str("\n[[pending.");
            let _ = name.as_str().write_toml_key(&mut text);
            text.push_str(".passwords]]\n");
            string_field(&mut text, "password_hash", &attempt.password_hash);
            string_field(&mut text, "client_id", &attempt.client_id);
            string_field(&mut text, "address", &attempt.address);
            string_field(&mut text, "protocol", &attempt.protocol);
            time_field(&mut text, "first_seen", attempt.first_seen);
            time_field(&mut text, "last_seen", attempt.last_seen);
            let _ = writeln!(text, "count = {}", attempt.count);
            if let Some(enrolment) = &attempt.enrolment {
                // Rare (REST registrations): serde writes it, as a table of
                // the attempt just written.
                text.push_str("\n[pending.");
                let _ = name.as_str().write_toml_key(&mut text);
                text.push_str(".passwords.enrolment]\n");
                let fields = [
                    ("csr", &enrolment.csr),
                    ("csr_subject", &enrolment.csr_subject),
                    ("csr_key_type", &enrolment.csr_key_type),
                    ("csr_key_fingerprint", &enrolment.csr_key_fingerprint),
                    ("context", &enrolment.context),
                ];
                for (key, value) in fields {
                    if let Some(value) = value {
                        string_field(&mut text, key, value);
                    }
                }
            }
        }
    }
    Ok(text)
}

#[derive(Serialize)]
struct Wrapped<'a, T: Serialize> {
    value: &'a T,
}

fn string_list_field(text: &mut String, key: &str, values: &[String]) {
    text.push_str(key);
    text.push_str(" = [");
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        string_value(text, value);
    }
    text.push_str("]\n");
}

fn table_header(text: &mut String, table: &str, name: &str) {
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    text.push('[');
    text.push_str(table);
    text.push('.');
    let _ = name.write_toml_key(text);
    text.push_str("]\n");
}

/// Always a basic ("...") string, never a multi-line one, so that [`parse`] can
/// cut the file at header lines.
fn string_value(text: &mut String, value: &str) {
    let _ = TomlStringBuilder::new(value)
        .as_basic()
        .write_toml_value(text);
}

fn string_field(text: &mut String, key: &str, value: &str) {
    text.push_str(key);
    text.push_str(" = ");
    string_value(text, value);
    text.push('\n');
}

/// As chrono's serde writes it, so both writers agree.
fn time_field(text: &mut String, key: &str, value: Timestamp) {
    let _ = writeln!(
        text,
        "{key} = \"{}\"",
        value.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    );
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
                User::new(hash.clone(), vec!["r".into()], Utc::now()),
            );
        }
        for i in 0..pending {
            state.pending.insert(
                format!("dev{i:04}"),
                PendingRequest::new(
                    hash.clone(),
                    format!("client \"{i}\" [users.x]"),
                    "127.0.0.1:1".into(),
                    "5".into(),
                    Utc::now(),
                ),
            );
        }
        // Certificates and enrolments, with the newlines of their PEM.
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        if let Some(user) = state.users.values_mut().next() {
            user.certificates.push(crate::state::UserCertificate {
                serial: "4A:01".into(),
                fingerprint: "AB:CD".into(),
                key_fingerprint: "EF:01".into(),
                issued: now,
                not_after: now,
                revoked: Some(now),
                pem: "-----BEGIN CERTIFICATE-----\nMIIB\n[users.x]\n-----END CERTIFICATE-----\n"
                    .into(),
            });
        }
        if let Some(request) = state.pending.values_mut().next() {
            request.passwords[0].enrolment = Some(crate::state::Enrolment {
                csr: Some("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n".into()),
                csr_subject: Some("CN=dev0000".into()),
                csr_key_type: Some("EC P-256".into()),
                csr_key_fingerprint: Some("01:02".into()),
                context: Some("{\"line\": 4}".into()),
            });
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
        assert!(parse(&serialize(&state).unwrap()).is_none());
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

    #[test]
    fn any_string_reads_back_as_written() {
        let mut state = big_state(3, 0);
        state
            .users
            .insert("dotted.name".into(), state.users["user00000"].clone());
        let awkward = [
            "quote \" and backslash \\",
            "new\nline, tab\t, DEL \u{7f}, NUL \u{0}, escape \u{1b}",
            "'''triple''' \"\"\"double\"\"\"",
            "ünïcødé 🚀 \u{200b}",
            "[users.fake]\npassword_hash = \"x\"",
            "",
        ];
        for (i, text) in awkward.into_iter().enumerate() {
            let mut request = big_state(0, 1).pending.into_values().next().unwrap();
            request.client_id = text.to_owned();
            request.address = text.to_owned();
            request.attempts = u64::MAX - i as u64;
            request.conflict = i % 2 == 0;
            state.pending.insert(format!("dev.{i}"), request);
        }
        state.users.get_mut("user00001").unwrap().roles = vec![];
        state.tokens.insert(
            "deploy.bot".into(),
            crate::state::tokens::ApiToken {
                digest: crate::state::tokens::digest("secret"),
                role: crate::state::tokens::TokenRole::Admin,
                created: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                expires: None,
            },
        );
        let text = serialize(&state).unwrap();
        let back: State = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, state);
    }

    #[test]
    fn the_bulk_writer_agrees_with_serde() {
        let state = big_state(20, 5);
        let direct: State = toml::from_str(&serialize(&state).unwrap()).unwrap();
        let via_serde: State = toml::from_str(&toml::to_string(&state).unwrap()).unwrap();
        assert_eq!(direct, via_serde);
    }
}
