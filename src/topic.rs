//! MQTT topic filters and the permission checks built on them.
//!
//! Pure functions, no I/O: the broker calls them on every PUBLISH and SUBSCRIBE,
//! the CLI to validate `role allow` arguments.
//!
//! Two questions are asked of a granted filter:
//! - publish: does it *match* a concrete topic ([`matches`]);
//! - subscribe: does it *cover* a requested filter, that is, match every topic
//!   the requested filter could match ([`covers`]). Matching is not enough here:
//!   `devices/+/temp` shares topics with `devices/#` but does not cover it.
//!
//! Filters may hold the placeholders `{username}` and `{client_id}`, replaced by
//! the client's own values before either check ([`substitute`]).

pub const USERNAME_PLACEHOLDER: &str = "{username}";
pub const CLIENT_ID_PLACEHOLDER: &str = "{client_id}";

/// Longest topic or filter MQTT can carry (a two-byte length prefix).
const MAX_LEN: usize = 65_535;

/// Checks MQTT filter syntax (`+` alone in a level, `#` alone in the last one)
/// and that every `{...}` is a known placeholder.
pub fn check_filter(filter: &str) -> Result<(), String> {
    let shown = crate::names::printable(filter);
    if filter.is_empty() {
        return Err("invalid topic filter '': a filter cannot be empty".into());
    }
    if filter.len() > MAX_LEN {
        return Err(format!(
            "invalid topic filter '{shown}': longer than {MAX_LEN} bytes"
        ));
    }
    if filter.contains('\0') {
        return Err(format!(
            "invalid topic filter '{shown}': it contains a NUL character"
        ));
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (index, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || index != levels.len() - 1) {
            return Err(format!(
                "invalid topic filter '{shown}': '#' must be a whole level and the last one, as in 'a/b/#'"
            ));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!(
                "invalid topic filter '{shown}': '+' must be a whole level, as in 'a/+/c'"
            ));
        }
    }
    let mut rest = filter;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        if let Some(after) = tail
            .strip_prefix(USERNAME_PLACEHOLDER)
            .or_else(|| tail.strip_prefix(CLIENT_ID_PLACEHOLDER))
        {
            rest = after;
        } else {
            return Err(format!(
                "invalid topic filter '{shown}': unknown placeholder at '{}'; the known ones are {{username}} and {{client_id}}",
                crate::names::printable(&tail.chars().take(20).collect::<String>())
            ));
        }
    }
    Ok(())
}

/// Replaces the placeholders with the client's own values.
///
/// Returns `None` when a value used by the filter could change its meaning: a
/// client id holding `/`, `+`, `#` or `{`, starting with `$`, or empty. Such a
/// permission then grants nothing rather than something unintended. Usernames
/// are validated when users are created, but are checked the same way here.
pub fn substitute(filter: &str, username: &str, client_id: &str) -> Option<String> {
    if !filter.contains('{') {
        return Some(filter.to_owned());
    }
    let safe = |value: &str| {
        !value.is_empty() && !value.starts_with('$') && !value.contains(['/', '+', '#', '{', '\0'])
    };
    let mut out = filter.to_owned();
    for (placeholder, value) in [
        (USERNAME_PLACEHOLDER, username),
        (CLIENT_ID_PLACEHOLDER, client_id),
    ] {
        if out.contains(placeholder) {
            if !safe(value) {
                return None;
            }
            out = out.replace(placeholder, value);
        }
    }
    Some(out)
}

/// Whether `filter` matches the concrete `topic`, with the MQTT rule that topics
/// starting with `$` are not matched by a leading `+` or `#`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether the granted filter matches every topic the requested one can match.
pub fn covers(granted: &str, requested: &str) -> bool {
    // A requested filter naming a `$` topic is only covered by a grant that names it too.
    if requested.starts_with('$') && granted.starts_with(['+', '#']) {
        return false;
    }
    let mut granted_levels = granted.split('/');
    let mut requested_levels = requested.split('/');
    loop {
        match (granted_levels.next(), requested_levels.next()) {
            // `a/#` also matches `a` itself, so it covers a request that ends here.
            (Some("#"), _) => return true,
            (Some("+"), Some(r)) if r != "#" => {}
            (Some(g), Some(r)) if g == r => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_syntax() {
        for ok in [
            "#",
            "+",
            "a/b/c",
            "a/+/c",
            "a/#",
            "+/+/#",
            "/",
            "a//b",
            "$SYS/#",
            "devices/{username}/#",
            "c/{client_id}/{username}",
            "pre-{username}-post",
            "sp ace",
        ] {
            assert!(check_filter(ok).is_ok(), "{ok} should be valid");
        }
        for bad in [
            "", "a/#/b", "a#", "#/", "a/b#", "a+/b", "a/+b", "++", "{user}/x", "x/{", "a\0b",
        ] {
            assert!(check_filter(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(check_filter(&"a".repeat(65_536)).is_err());
    }

    #[test]
    fn filter_errors_say_what_to_do() {
        let message = check_filter("a/#/b").unwrap_err();
        assert!(
            message.contains("'a/#/b'") && message.contains("last"),
            "{message}"
        );
        let message = check_filter("x/{user}").unwrap_err();
        assert!(message.contains("{username}"), "{message}");
    }

    #[test]
    fn matching_follows_the_spec_examples() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("#", "a/b/c"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(matches("a/b", "a/b"));
    }

    #[test]
    fn dollar_topics_escape_leading_wildcards() {
        assert!(!matches("#", "$SYS/broker"));
        assert!(!matches("+/broker", "$SYS/broker"));
        assert!(matches("$SYS/#", "$SYS/broker"));
        assert!(matches("$SYS/+", "$SYS/broker"));
        assert!(matches("a/#", "a/$b"), "only the first level is special");
    }

    #[test]
    fn covering_is_stricter_than_overlapping() {
        assert!(covers("#", "a/b"));
        assert!(covers("#", "#"));
        assert!(covers("#", "+/x/#"));
        assert!(covers("a/#", "a"));
        assert!(covers("a/#", "a/#"));
        assert!(covers("a/#", "a/+/c"));
        assert!(covers("a/+", "a/+"));
        assert!(covers("a/+", "a/b"));
        assert!(covers("a/+/c", "a/b/c"));
        assert!(covers("a/b", "a/b"));
        assert!(!covers("a/+", "a/#"), "+ is one level, # is many");
        assert!(!covers("a/+", "a"));
        assert!(!covers("a/+", "a/b/c"));
        assert!(!covers("a/b", "a/+"));
        assert!(!covers("a/b", "a/#"));
        assert!(!covers("a/b", "a/b/c"));
        assert!(!covers("devices/+/temp", "devices/#"));
        assert!(!covers("a/b/#", "a/#"));
    }

    #[test]
    fn covering_respects_dollar_topics() {
        assert!(!covers("#", "$SYS/#"));
        assert!(!covers("+/#", "$SYS/x"));
        assert!(covers("$SYS/#", "$SYS/x"));
        assert!(
            covers("#", "+/x"),
            "a leading wildcard never matches $ topics either"
        );
    }

    #[test]
    fn covering_agrees_with_matching_on_concrete_topics() {
        let grants = ["#", "a/#", "a/+", "a/+/c", "+/b", "a/b", "$SYS/#", "/+"];
        let topics = ["a", "a/b", "a/b/c", "x/b", "$SYS/x", "/a", "a/"];
        for granted in grants {
            for topic in topics {
                assert_eq!(
                    covers(granted, topic),
                    matches(granted, topic),
                    "granted {granted}, topic {topic}"
                );
            }
        }
    }

    #[test]
    fn placeholders_are_replaced_by_the_clients_values() {
        assert_eq!(
            substitute("devices/{username}/#", "sensor1", "c1").as_deref(),
            Some("devices/sensor1/#")
        );
        assert_eq!(
            substitute("c/{client_id}/{username}/{client_id}", "u", "cid").as_deref(),
            Some("c/cid/u/cid")
        );
        assert_eq!(substitute("plain/#", "u", "").as_deref(), Some("plain/#"));
    }

    #[test]
    fn unsafe_values_grant_nothing() {
        for client_id in ["", "a/b", "+", "#", "$x", "{username}"] {
            assert_eq!(
                substitute("c/{client_id}/x", "u", client_id),
                None,
                "{client_id:?}"
            );
        }
        assert_eq!(substitute("d/{username}", "a/b", "c"), None);
        assert_eq!(
            substitute("d/{username}", "a/b", "c"),
            substitute("d/{username}", "#", "c")
        );
        assert!(
            substitute("d/{username}", "ok", "a/b").is_some(),
            "client id unused"
        );
    }
}
