//! Passwords: the policy they must meet, and their argon2id hashes.
//!
//! The policy lives in the state file's `[password_policy]` table so that the CLI
//! (`user add`, `user passwd`) and the broker (which records a pending request
//! only for a password that would be accepted) judge a password alike.
//! Character classes are Unicode classes: `É` counts as upper case, `٣` as numeric.

use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};

/// Minimum counts of each class of character; 0 switches a rule off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min: usize,
    pub lower: usize,
    pub upper: usize,
    pub numeric: usize,
    /// Anything that is not a letter, a digit or white space.
    pub symbol: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min: 5,
            lower: 0,
            upper: 0,
            numeric: 0,
            symbol: 0,
        }
    }
}

impl PasswordPolicy {
    /// Every rule the password breaks, or `Ok` when it meets the policy.
    /// The message never repeats the password.
    pub fn check(&self, password: &str) -> Result<(), String> {
        let mut counts = [0usize; 5];
        for c in password.chars() {
            counts[0] += 1;
            if c.is_lowercase() {
                counts[1] += 1;
            } else if c.is_uppercase() {
                counts[2] += 1;
            } else if c.is_numeric() {
                counts[3] += 1;
            } else if !c.is_alphabetic() && !c.is_whitespace() {
                counts[4] += 1;
            }
        }
        let rules = [
            (self.min, "characters"),
            (self.lower, "lower-case letters"),
            (self.upper, "upper-case letters"),
            (self.numeric, "digits"),
            (self.symbol, "symbols"),
        ];
        let broken: Vec<String> = rules
            .iter()
            .zip(counts)
            .filter(|((wanted, _), have)| have < wanted)
            .map(|((wanted, what), have)| format!("at least {wanted} {what} (it has {have})"))
            .collect();
        if broken.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the password does not meet the policy: it needs {}",
                broken.join(", ")
            ))
        }
    }

    pub fn allows(&self, password: &str) -> bool {
        self.check(password).is_ok()
    }
}

/// Argon2id cost parameters, from the state file's `[argon2]` table. The
/// defaults are the argon2 crate's (OWASP's recommendation): 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl HashCost {
    pub fn check(&self) -> Result<(), String> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map(|_| ())
            .map_err(|e| format!("invalid [argon2] parameters {self:?}: {e}"))
    }
}

/// An argon2id PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
pub fn hash(password: &str, cost: HashCost) -> String {
    let params =
        Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).unwrap_or_default();
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashing with valid parameters cannot fail")
        .to_string()
}

/// How long one check against a hash of `cost` takes on this thread: the
/// median of `samples` (at least one), after an untimed warm-up, since the
/// first check on a thread also pays for its working memory.
pub fn time_verify(cost: HashCost, samples: usize) -> Duration {
    let phc = hash("calibration", cost);
    verify(b"warm-up", &phc);
    let mut times: Vec<Duration> = (0..samples.max(1))
        .map(|_| {
            let started = Instant::now();
            verify(b"not the password", &phc);
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Whether `password` matches a PHC hash; the hash carries its own parameters.
/// A hash that does not parse matches nothing.
///
/// The 19 MiB of argon2 working memory are kept per thread and reused, instead
/// of allocated and zeroed for every check: about 12 % faster, which is what a
/// connect storm after a restart is made of.
pub fn verify(password: &[u8], phc: &str) -> bool {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut computed = vec![0u8; expected.len()];
    let hashed = BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        blocks.resize(params.block_count(), Block::default());
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password,
            salt,
            &mut computed,
            &mut blocks[..],
        )
    });
    // `Output` compares in constant time.
    hashed.is_ok() && Output::new(&computed).is_ok_and(|computed| computed == expected)
}

/// Whether a string has the shape of an argon2id PHC hash
/// (`$argon2id$v=19$m=..,t=..,p=..$SALT$HASH`), for state-file checks. Only the
/// shape: it runs on every user at every load, so it skips base64 decoding.
pub fn is_argon2id_hash(phc: &str) -> bool {
    let b64 = |part: &str| {
        part.len() >= 16
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    let mut parts = phc.split('$');
    parts.next() == Some("")
        && parts.next() == Some("argon2id")
        && parts.next().is_some_and(|v| v.starts_with("v="))
        && parts
            .next()
            .is_some_and(|p| p.starts_with("m=") && p.contains(",t=") && p.contains(",p="))
        && parts.next().is_some_and(b64)
        && parts.next().is_some_and(b64)
        && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashCost {
        HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn default_policy_wants_five_characters() {
        let policy = PasswordPolicy::default();
        assert!(policy.allows("abcde"));
        assert!(
            policy.allows("ééééé"),
            "length counts characters, not bytes"
        );
        let message = policy.check("abcd").unwrap_err();
        assert!(
            message.contains("at least 5 characters (it has 4)"),
            "{message}"
        );
        assert!(
            !message.contains("abcd"),
            "never echo the password: {message}"
        );
    }

    #[test]
    fn every_class_is_counted_with_unicode_rules() {
        let policy = PasswordPolicy {
            min: 8,
            lower: 2,
            upper: 1,
            numeric: 1,
            symbol: 1,
        };
        assert!(policy.allows("abÉ٣!xyz"));
        let message = policy.check("ABCDEFGH").unwrap_err();
        assert!(
            message.contains("2 lower-case letters (it has 0)"),
            "{message}"
        );
        assert!(message.contains("1 digits (it has 0)"), "{message}");
        assert!(message.contains("1 symbols (it has 0)"), "{message}");
        assert!(!message.contains("upper-case"), "{message}");
    }

    #[test]
    fn zero_switches_rules_off() {
        let policy = PasswordPolicy {
            min: 0,
            ..PasswordPolicy::default()
        };
        assert!(policy.allows(""));
    }

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let first = hash("s3cret!", cheap());
        let second = hash("s3cret!", cheap());
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert!(!first.contains("s3cret"));
        assert!(verify(b"s3cret!", &first));
        assert!(!verify(b"s3cret?", &first));
        assert!(!verify(b"s3cret!", "not a hash"));
        assert!(!verify(b"s3cret!", &first.replace("$v=19", "$v=99")));
        assert!(is_argon2id_hash(&first));
        assert!(!is_argon2id_hash("$2b$12$abcdefghijklmnopqrstuv"));
        assert!(!is_argon2id_hash(
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
        ));
        assert!(!is_argon2id_hash(&format!("{first}$extra")));
        assert!(!is_argon2id_hash(&first.replace("$v=19", "")));
    }

    #[test]
    fn verify_agrees_with_the_argon2_crate_on_any_parameters() {
        use argon2::PasswordVerifier;
        for (m, t, p) in [(64, 1, 1), (256, 3, 2), (8, 1, 1), (1024, 2, 4)] {
            let cost = HashCost {
                memory_kib: m,
                iterations: t,
                parallelism: p,
            };
            let phc = hash("pässword", cost);
            let parsed = PasswordHash::new(&phc).unwrap();
            for candidate in ["pässword", "password", ""] {
                assert_eq!(
                    verify(candidate.as_bytes(), &phc),
                    Argon2::default()
                        .verify_password(candidate.as_bytes(), &parsed)
                        .is_ok(),
                    "{phc} with {candidate:?}"
                );
            }
        }
        // A foreign argon2i hash of "password" (RFC test vectors style) still verifies.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"password", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify(b"password", &argon2i));
        assert!(!verify(b"passwore", &argon2i));
    }

    #[test]
    fn bad_cost_parameters_are_reported() {
        let cost = HashCost {
            memory_kib: 1,
            ..HashCost::default()
        };
        assert!(cost.check().is_err());
        assert!(HashCost::default().check().is_ok());
    }
}
