//! API tokens: who may use the HTTP API, and as what.
//!
//! A token is 32 random bytes shown once, when it is made (`mqr_` and 64 hex
//! digits); the state keeps its BLAKE3 digest only. The secret is random, so
//! a fast digest is as good as a slow password hash here: nobody can guess
//! 256 bits, and a stolen state file gives nothing to replay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    /// Everything the CLI can do.
    Admin,
    /// Read only: every GET, no change.
    Viewer,
}

impl TokenRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Admin => "admin",
            TokenRole::Viewer => "viewer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// BLAKE3 of the secret, hex.
    pub digest: String,
    pub role: TokenRole,
    pub created: Timestamp,
    /// Refused from then on; `None` never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
}

/// The prefix of every token, so that secret scanners and people recognise one.
pub const PREFIX: &str = "mqr_";

/// A new secret: the prefix and 64 hex digits of OS randomness.
pub fn new_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let mut secret = String::from(PREFIX);
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    secret
}

pub fn digest(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// The name and role of the token whose secret this is, unless it is
/// unknown or expired. Compared in constant time.
pub fn verify<'a>(
    tokens: &'a BTreeMap<String, ApiToken>,
    secret: &str,
    now: Timestamp,
) -> Option<(&'a str, TokenRole)> {
    let presented = blake3::hash(secret.as_bytes());
    tokens.iter().find_map(|(name, token)| {
        let stored = blake3::Hash::from_hex(&token.digest).ok()?;
        // blake3::Hash's equality is constant-time.
        (stored == presented && token.expires.is_none_or(|until| until > now))
            .then_some((name.as_str(), token.role))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(expires: Option<Timestamp>) -> (BTreeMap<String, ApiToken>, String) {
        let secret = new_secret();
        let mut tokens = BTreeMap::new();
        tokens.insert(
            "ci".to_owned(),
            ApiToken {
                digest: digest(&secret),
                role: TokenRole::Viewer,
                created: chrono::Utc::now(),
                expires,
            },
        );
        (tokens, secret)
    }

    #[test]
    fn the_secret_verifies_and_nothing_else() {
        let (tokens, secret) = tokens(None);
        let now = chrono::Utc::now();
        assert_eq!(
            verify(&tokens, &secret, now),
            Some(("ci", TokenRole::Viewer))
        );
        assert_eq!(verify(&tokens, &format!("{secret}0"), now), None);
        assert_eq!(verify(&tokens, "", now), None);
        assert!(secret.starts_with(PREFIX) && secret.len() == PREFIX.len() + 64);
        assert!(!tokens["ci"].digest.contains(&secret[PREFIX.len()..]));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let now = chrono::Utc::now();
        let (tokens, secret) = tokens(Some(now - chrono::Duration::seconds(1)));
        assert_eq!(verify(&tokens, &secret, now), None);
    }
}
