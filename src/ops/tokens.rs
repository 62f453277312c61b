//! API tokens: create (the secret is shown once), list, revoke.

use std::time::Duration;

use serde::Serialize;

use super::now;
use crate::error::{Error, Result};
use crate::output;
use crate::state::store::Store;
use crate::state::tokens::{self, ApiToken, TokenRole};

/// A token as `token list` gives it: never its secret or digest.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: TokenRole,
    pub created: String,
    pub expires: Option<String>,
}

impl TokenInfo {
    fn new(name: &str, token: &ApiToken) -> Self {
        Self {
            name: name.to_owned(),
            role: token.role,
            created: output::rfc3339(token.created),
            expires: token.expires.map(output::rfc3339),
        }
    }
}

/// A new token and its secret, which exists nowhere else.
#[derive(Debug, Serialize)]
pub struct Created {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: String,
}

pub fn create(
    store: &Store,
    name: &str,
    role: TokenRole,
    lifetime: Option<Duration>,
) -> Result<Created> {
    crate::names::check_role(name).map_err(|e| Error::usage(e.replace("role", "token name")))?;
    let secret = tokens::new_secret();
    let now = now();
    let expires = match lifetime {
        Some(lifetime) => Some(
            chrono::Duration::from_std(lifetime)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .ok_or_else(|| Error::usage("the token's lifetime is too long"))?,
        ),
        None => None,
    };
    let token = ApiToken {
        digest: tokens::digest(&secret),
        role,
        created: now,
        expires,
    };
    store.update(|state| {
        if state.tokens.contains_key(name) {
            return Err(Error::conflict(format!(
                "a token named {name} exists already; revoke it first with `mqreg token revoke {name}`"
            )));
        }
        state.tokens.insert(name.to_owned(), token.clone());
        Ok(())
    })?;
    Ok(Created {
        info: TokenInfo::new(name, &token),
        token: secret,
    })
}

pub fn list(store: &Store) -> Result<Vec<TokenInfo>> {
    let state = store.load()?;
    Ok(state
        .tokens
        .iter()
        .map(|(name, token)| TokenInfo::new(name, token))
        .collect())
}

pub fn revoke(store: &Store, name: &str) -> Result<()> {
    store.update(|state| {
        state.tokens.remove(name).map(|_| ()).ok_or_else(|| {
            Error::not_found(format!("no token named {name}; see `mqreg token list`"))
        })
    })
}
