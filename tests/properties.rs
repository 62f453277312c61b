//! Properties checked on generated input (proptest): the topic logic, and the
//! state-file loader and writer, which must never panic, whatever they are fed.

use proptest::prelude::*;

use mqreg::state::store::Store;
use mqreg::state::{PendingRequest, State};
use mqreg::topic::{check_filter, covers, matches, substitute};

fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("$s".to_owned()),
        Just(String::new()),
        Just("+".to_owned()),
    ]
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("$s"), Just("")],
        1..5,
    )
    .prop_map(|levels| levels.join("/"))
}

fn filter() -> impl Strategy<Value = String> {
    (prop::collection::vec(level(), 1..5), any::<bool>()).prop_map(|(mut levels, hash)| {
        if hash {
            levels.push("#".into());
        }
        levels.join("/")
    })
}

/// A requested filter and a grant built to cover it: the filter with some
/// levels made `+`, perhaps cut short by `#` (never a leading wildcard for a
/// `$` filter, which only a grant naming it covers).
fn covering_pair() -> impl Strategy<Value = (String, String)> {
    (
        filter(),
        prop::collection::vec(any::<bool>(), 5),
        any::<bool>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(requested, plus, hash, cut)| {
            let dollar = requested.starts_with('$');
            let mut granted: Vec<&str> = requested
                .split('/')
                .enumerate()
                .map(|(at, level)| {
                    if level != "#" && plus[at] && !(at == 0 && dollar) {
                        "+"
                    } else {
                        level
                    }
                })
                .collect();
            if hash {
                // `#` after the first `keep` levels (at least one for `$`).
                let named = granted.iter().filter(|level| **level != "#").count();
                let first = usize::from(dollar);
                granted.truncate(first + cut.index(named - first + 1));
                granted.push("#");
            }
            (granted.join("/"), requested)
        })
}

/// A grant and a request: random ones (which rarely cover), and ones built to
/// cover (`true`).
fn grant_and_request() -> impl Strategy<Value = (String, String, bool)> {
    prop_oneof![
        (filter(), filter()).prop_map(|(granted, requested)| (granted, requested, false)),
        covering_pair().prop_map(|(granted, requested)| (granted, requested, true)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// `covers` is sound: a granted filter that covers a requested one matches
    /// every topic the requested one matches. And it is not vacuous: half the
    /// cases are grants built to cover their request, which `covers` must
    /// say cover it (a `covers` that always answered no would pass the
    /// soundness half alone).
    #[test]
    fn covering_implies_matching((granted, requested, built_to_cover) in grant_and_request(), topics in prop::collection::vec(topic(), 20)) {
        if built_to_cover {
            prop_assert!(covers(&granted, &requested), "{granted} is built to cover {requested}");
        }
        if covers(&granted, &requested) {
            for topic in &topics {
                if matches(&requested, topic) {
                    prop_assert!(matches(&granted, topic), "{granted} covers {requested} but not topic {topic}");
                }
            }
        }
    }

    /// Every filter covers itself.
    #[test]
    fn covering_is_reflexive(filter in filter()) {
        prop_assert!(covers(&filter, &filter));
    }

    #[test]
    fn filter_validation_never_panics(text in ".{0,80}") {
        let _ = check_filter(&text);
    }

    /// Whatever the client id, a substituted valid filter stays a valid filter
    /// with no more wildcards than the template had.
    #[test]
    fn substitution_never_widens(client_id in ".{0,20}", username in "[A-Za-z0-9][A-Za-z0-9_.]{2,10}") {
        for template in ["d/{client_id}/#", "c/{username}/{client_id}", "x/{client_id}"] {
            if let Some(filter) = substitute(template, &username, &client_id) {
                prop_assert!(check_filter(&filter).is_ok(), "{filter}");
                let wild = |f: &str| f.matches(['+', '#']).count();
                prop_assert_eq!(wild(&filter), wild(template));
                prop_assert!(!filter.starts_with('$'));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The loader answers any text with a state or an error, never a panic.
    #[test]
    fn the_loader_never_panics(text in "(version = 1\n)?(\\[[a-z_.\"]{0,20}\\]\n)?[ -~\n]{0,200}") {
        if let Ok(state) = Store::parse(std::path::Path::new("fuzz.toml"), &text) {
            prop_assert!(state.check().is_ok());
        }
    }

    /// Damaging a valid file anywhere gives an error or a valid state.
    #[test]
    fn a_damaged_file_is_refused_or_valid(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = sample_file().into_bytes();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            if let Ok(state) = Store::parse(std::path::Path::new("fuzz.toml"), &text) {
                prop_assert!(state.check().is_ok());
            }
        }
    }

    /// Whatever a client id holds, the written file reads back as the same state.
    #[test]
    fn any_client_id_round_trips(client_id in "\\PC{0,30}|[\\x00-\\x7f]{0,30}", name in "[A-Za-z0-9][A-Za-z0-9_.]{2,20}") {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("state.toml"));
        let hash = mqreg::password::hash("pw", mqreg::password::HashCost { memory_kib: 64, iterations: 1, parallelism: 1 });
        let now = chrono::Utc::now();
        let mut request = PendingRequest::new(hash, client_id.clone(), client_id.clone(), "5".into(), now);
        request.passwords[0].client_id = format!("{client_id}\u{7f}");
        store.update(|state| {
            state.pending.insert(name.clone(), request.clone());
            Ok(())
        }).unwrap();
        let state: State = store.load().unwrap();
        prop_assert_eq!(&state.pending[&name], &request);
    }
}

fn sample_file() -> String {
    "version = 1\n\n[registry]\nmax_pending = 1000\npending_max_age = \"1day\"\n\n\
     [[roles.sensor.permissions]]\naccess = \"write\"\nfilter = \"devices/{username}/#\"\n\n\
     [users.sensor1]\npassword_hash = \"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA\"\n\
     roles = [\"sensor\"]\ncreated = \"2026-11-24T11:00:00Z\"\n"
        .to_owned()
}

#[test]
fn the_sample_file_is_valid_before_damage() {
    let state = Store::parse(std::path::Path::new("sample.toml"), &sample_file()).unwrap();
    assert_eq!(state.users["sensor1"].roles, vec!["sensor"]);
}
