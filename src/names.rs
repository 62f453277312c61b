//! Validation of usernames and role names.
//!
//! Usernames are substituted into topic filters (`devices/{username}/#`), so the
//! rule keeps out everything that could change a filter's meaning: `/`, the MQTT
//! wildcards `+` and `#`, and a leading `$`. It is the Connectware rule of
//! `CONTRACT.md`: 3 to 64 characters, `^[A-Za-z0-9][A-Za-z0-9_.]*$`.

/// Why a username is refused, as a sentence a person can act on.
pub fn check_username(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(3..=64).contains(&len) {
        return Err(format!(
            "invalid username '{}': it must be 3 to 64 characters long, not {len}",
            printable(name)
        ));
    }
    let first = name.chars().next().unwrap_or(' ');
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "invalid username '{}': it must start with a letter or digit (A-Z, a-z, 0-9)",
            printable(name)
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(format!(
            "invalid username '{}': '{}' is not allowed; use only A-Z, a-z, 0-9, '_' and '.'",
            printable(name),
            bad.escape_default()
        ));
    }
    Ok(())
}

pub fn is_valid_username(name: &str) -> bool {
    check_username(name).is_ok()
}

/// Why a role name is refused: 1 to 64 characters of `[A-Za-z0-9_.-]`.
pub fn check_role(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(1..=64).contains(&len) {
        return Err(format!(
            "invalid role '{}': it must be 1 to 64 characters long, not {len}",
            printable(name)
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "invalid role '{}': '{}' is not allowed; use only A-Z, a-z, 0-9, '_', '.' and '-'",
            printable(name),
            bad.escape_default()
        ));
    }
    Ok(())
}

/// A name as it may be shown in a message: control characters escaped, and cut
/// short, so a hostile 64 KiB username cannot flood a terminal or a log line.
pub fn printable(name: &str) -> String {
    const SHOWN: usize = 80;
    let mut out: String = name
        .chars()
        .take(SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if name.chars().count() > SHOWN {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_connectware_rule() {
        for ok in ["abc", "sensor_01", "a.b.c", "0day", &"x".repeat(64)] {
            assert!(check_username(ok).is_ok(), "{ok} should be valid");
        }
        for bad in [
            "ab",
            &"x".repeat(65),
            "_abc",
            ".abc",
            "dev-1",
            "dev/1",
            "dev+",
            "dev#",
            "$sys",
            "dév1",
            "de v",
            "",
            "abc\n",
        ] {
            assert!(check_username(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn username_errors_name_the_problem() {
        let message = check_username("dev-1").unwrap_err();
        assert!(
            message.contains("'dev-1'") && message.contains("'-'"),
            "{message}"
        );
        let message = check_username("ab").unwrap_err();
        assert!(message.contains("3 to 64"), "{message}");
    }

    #[test]
    fn roles_allow_dashes_but_not_slashes() {
        for ok in ["a", "sensor-writers", "ops.v2", "A_b-c.d", &"r".repeat(64)] {
            assert!(check_role(ok).is_ok(), "{ok} should be valid");
        }
        for bad in ["", "a/b", "a b", "a+", "#", &"r".repeat(65), "rôle"] {
            assert!(check_role(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn printable_escapes_and_truncates() {
        assert_eq!(printable("a\nb"), "a\\nb");
        let long = printable(&"y".repeat(1000));
        assert_eq!(long.chars().count(), 81);
    }
}
