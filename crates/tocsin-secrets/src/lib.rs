//! Secrets: API keys and tokens, and where they are kept.
//!
//! Owns: [`Sensitive`], the wrapper every secret travels in (its `Debug` and
//! `Display` print `<redacted>`), and [`KeyStore`], which reads and writes account
//! keys in the OS keychain (keyring 3: Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows) or, for headless servers only, from an explicit
//! `TOCSIN_KEY_<ACCOUNT>` environment variable.
//!
//! Must not: write a secret to a file, a log or anything that is not the keychain;
//! fall back silently to memory when the keychain is missing or locked (that is an
//! error the user sees).

use std::fmt;

/// A secret value. Formatting it never shows the value; use [`Sensitive::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }
    /// The secret itself. Call sites are easy to audit with grep.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Sensitive<String> {
    fn from(s: String) -> Self {
        Sensitive(s)
    }
}

impl From<&str> for Sensitive<String> {
    fn from(s: &str) -> Self {
        Sensitive(s.to_owned())
    }
}

/// Why a key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no key is stored for account \"{0}\"; add one with `tocsin key set {0}`")]
    Missing(String),
    #[error("the keychain is locked; unlock it and try again")]
    Locked,
    #[error("no keychain is available ({0}); Tocsin keeps keys only in the OS keychain")]
    Unavailable(String),
    #[error("the keychain refused the request: {0}")]
    Other(String),
}

/// The keychain service name under which Tocsin keeps its keys.
pub const SERVICE: &str = "app.tocsin.desktop";

/// The environment variable that may carry an account's key on headless servers:
/// `TOCSIN_KEY_` followed by the account name upper-cased, with every character that
/// is not a letter or digit replaced by `_`.
pub fn env_var_name(account: &str) -> String {
    let mut s = String::from("TOCSIN_KEY_");
    for c in account.chars() {
        s.push(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' });
    }
    s
}

/// Reads and writes account keys.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    _priv: (),
}

impl KeyStore {
    pub fn new() -> Self {
        KeyStore { _priv: () }
    }

    /// The key for `account`: from `TOCSIN_KEY_<ACCOUNT>` when that variable is set,
    /// else from the OS keychain.
    pub fn get(&self, account: &str) -> Result<Sensitive<String>, SecretError> {
        if let Ok(v) = std::env::var(env_var_name(account)) {
            if !v.is_empty() {
                return Ok(Sensitive(v));
            }
        }
        let entry = keyring::Entry::new(SERVICE, account).map_err(map_err(account))?;
        entry.get_password().map(Sensitive).map_err(map_err(account))
    }

    /// Stores `key` for `account` in the OS keychain.
    pub fn set(&self, account: &str, key: &Sensitive<String>) -> Result<(), SecretError> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(map_err(account))?;
        entry.set_password(key.expose()).map_err(map_err(account))
    }

    /// Removes the key of `account` from the OS keychain.
    pub fn remove(&self, account: &str) -> Result<(), SecretError> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(map_err(account))?;
        entry.delete_credential().map_err(map_err(account))
    }
}

fn map_err(account: &str) -> impl Fn(keyring::Error) -> SecretError + '_ {
    move |e| match e {
        keyring::Error::NoEntry => SecretError::Missing(account.to_owned()),
        keyring::Error::NoStorageAccess(inner) => {
            let text = inner.to_string();
            if text.to_ascii_lowercase().contains("lock") {
                SecretError::Locked
            } else {
                SecretError::Unavailable(text)
            }
        }
        keyring::Error::PlatformFailure(inner) => SecretError::Unavailable(inner.to_string()),
        other => SecretError::Other(other.to_string()),
    }
}

/// Replaces the values of secret-bearing query parameters in `url` with `<redacted>`,
/// so a URL can be logged.
pub fn redact_url(url: &str) -> String {
    const SECRET_PARAMS: [&str; 6] = ["key", "api_key", "auth_token", "token", "ticket", "access_token"];
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k) => format!("{k}=<redacted>"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_formats_its_value() {
        let s = Sensitive::from("dm_live_supersecret");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "dm_live_supersecret");
    }

    #[test]
    fn env_names_are_upper_snake() {
        assert_eq!(env_var_name("ops-mail.1"), "TOCSIN_KEY_OPS_MAIL_1");
    }

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            redact_url("wss://x/v1/stream?key=dm_live_abc&last_event_id=evt_1"),
            "wss://x/v1/stream?key=<redacted>&last_event_id=evt_1"
        );
        assert_eq!(redact_url("ws://x/ws?token=a.b.c"), "ws://x/ws?token=<redacted>");
        assert_eq!(redact_url("ws://x/ws"), "ws://x/ws");
    }
}
