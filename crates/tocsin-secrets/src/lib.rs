//! Secrets: API keys and tokens, and where they are kept.
//!
//! Owns: [`Sensitive`], the wrapper every secret travels in (its `Debug` and
//! `Display` print `<redacted>`), and [`KeyStore`], which reads and writes account
//! keys in one OS keychain [`Backend`] (keyring 3: the Secret Service on Linux, or
//! the kernel keyring when no Secret Service answers; Keychain on macOS; Credential
//! Manager on Windows) or, for headless servers only, from an explicit
//! `TOCSIN_KEY_<ACCOUNT>` environment variable. [`KeyInfo`] is what the window may
//! know about a key: its state and last four characters.
//!
//! Must not: write a secret to a file, a log or anything that is not the keychain;
//! fall back silently to memory when the keychain is missing or locked (that is an
//! error the user sees).

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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

/// Where keys are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The freedesktop Secret Service (gnome-keyring, KWallet) over D-Bus.
    #[cfg(target_os = "linux")]
    SecretService,
    /// The Linux kernel keyring (keyutils): used when no Secret Service answers.
    /// Keys live in the session keyring and do not survive a reboot.
    #[cfg(target_os = "linux")]
    KernelKeyring,
    /// Keychain on macOS, Credential Manager on Windows.
    #[cfg(not(target_os = "linux"))]
    Platform,
}

impl Backend {
    /// The name people see.
    pub fn label(self) -> &'static str {
        match self {
            #[cfg(target_os = "linux")]
            Backend::SecretService => "Secret Service",
            #[cfg(target_os = "linux")]
            Backend::KernelKeyring => "kernel keyring",
            #[cfg(target_os = "macos")]
            Backend::Platform => "macOS Keychain",
            #[cfg(not(any(target_os = "linux", target_os = "macos")))]
            Backend::Platform => "Credential Manager",
        }
    }

    fn entry(self, account: &str) -> Result<keyring::Entry, keyring::Error> {
        match self {
            #[cfg(target_os = "linux")]
            Backend::SecretService => Ok(keyring::Entry::new_with_credential(Box::new(
                keyring::secret_service::SsCredential::new_with_target(None, SERVICE, account)?,
            ))),
            #[cfg(target_os = "linux")]
            Backend::KernelKeyring => Ok(keyring::Entry::new_with_credential(Box::new(
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, account)?,
            ))),
            #[cfg(not(target_os = "linux"))]
            Backend::Platform => keyring::Entry::new(SERVICE, account),
        }
    }
}

/// The environment variable that picks the keychain backend explicitly:
/// `secret-service`, `kernel` (Linux), or unset/`auto`.
pub const BACKEND_ENV: &str = "TOCSIN_KEYCHAIN";

/// The state of an account's key, for the window and `tocsin account list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum KeyState {
    Stored,
    Missing,
    /// Read from `TOCSIN_KEY_<ACCOUNT>` (headless servers).
    Environment,
    Locked,
    Unavailable,
    Error,
}

/// What the window shows about a key: never the key, at most its last four characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyInfo {
    pub state: KeyState,
    pub last4: Option<String>,
    pub backend: String,
    pub message: Option<String>,
}

/// The last four characters of `key`, or nothing for keys too short to hide the rest.
pub fn last4(key: &Sensitive<String>) -> Option<String> {
    let chars: Vec<char> = key.expose().chars().collect();
    (chars.len() >= 12).then(|| chars[chars.len() - 4..].iter().collect())
}

/// Reads and writes account keys in one keychain backend, or reports why it cannot.
#[derive(Debug, Clone)]
pub struct KeyStore {
    backend: Result<Backend, String>,
}

impl Default for KeyStore {
    fn default() -> Self {
        KeyStore::detect()
    }
}

impl KeyStore {
    /// The platform keychain: on Linux the Secret Service when one answers on the
    /// session bus, else the kernel keyring; `TOCSIN_KEYCHAIN` picks one explicitly.
    pub fn detect() -> KeyStore {
        let choice = std::env::var(BACKEND_ENV).unwrap_or_default();
        KeyStore { backend: pick(choice.trim()) }
    }

    /// A store on `backend`, without probing.
    pub fn with_backend(backend: Backend) -> KeyStore {
        KeyStore { backend: Ok(backend) }
    }

    /// Kept for callers that do not care which backend: same as [`KeyStore::detect`].
    pub fn new() -> Self {
        KeyStore::detect()
    }

    /// The backend in use, or why there is none.
    pub fn backend(&self) -> Result<Backend, SecretError> {
        self.backend.clone().map_err(SecretError::Unavailable)
    }

    /// The backend's name, or "no keychain".
    pub fn backend_label(&self) -> String {
        match &self.backend {
            Ok(b) => b.label().to_owned(),
            Err(_) => "no keychain".to_owned(),
        }
    }

    /// The key for `account`: from `TOCSIN_KEY_<ACCOUNT>` when that variable is set,
    /// else from the OS keychain.
    pub fn get(&self, account: &str) -> Result<Sensitive<String>, SecretError> {
        if let Some(v) = env_key(account) {
            return Ok(v);
        }
        self.keychain_get(account)
    }

    /// The key stored in the keychain for `account` (the environment is not read).
    pub fn keychain_get(&self, account: &str) -> Result<Sensitive<String>, SecretError> {
        let entry = self.backend()?.entry(account).map_err(map_err(account))?;
        entry.get_password().map(Sensitive).map_err(map_err(account))
    }

    /// Stores `key` for `account` in the OS keychain.
    pub fn set(&self, account: &str, key: &Sensitive<String>) -> Result<(), SecretError> {
        if key.expose().trim().is_empty() {
            return Err(SecretError::Other("the key is empty".into()));
        }
        if key.expose().chars().any(char::is_control) {
            return Err(SecretError::Other("the key contains control characters (a pasted line break?)".into()));
        }
        let entry = self.backend()?.entry(account).map_err(map_err(account))?;
        entry.set_password(key.expose()).map_err(map_err(account))
    }

    /// Removes the key of `account` from the OS keychain. Removing a key that is not
    /// there is not an error.
    pub fn remove(&self, account: &str) -> Result<(), SecretError> {
        let entry = self.backend()?.entry(account).map_err(map_err(account))?;
        match entry.delete_credential().map_err(map_err(account)) {
            Ok(()) | Err(SecretError::Missing(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What the window shows about `account`'s key.
    pub fn info(&self, account: &str) -> KeyInfo {
        if let Some(v) = env_key(account) {
            return KeyInfo {
                state: KeyState::Environment,
                last4: last4(&v),
                backend: format!("environment ({})", env_var_name(account)),
                message: None,
            };
        }
        let backend = self.backend_label();
        match self.keychain_get(account) {
            Ok(v) => KeyInfo { state: KeyState::Stored, last4: last4(&v), backend, message: None },
            Err(e) => {
                let state = match e {
                    SecretError::Missing(_) => KeyState::Missing,
                    SecretError::Locked => KeyState::Locked,
                    SecretError::Unavailable(_) => KeyState::Unavailable,
                    SecretError::Other(_) => KeyState::Error,
                };
                KeyInfo { state, last4: None, backend, message: Some(e.to_string()) }
            }
        }
    }
}

fn env_key(account: &str) -> Option<Sensitive<String>> {
    std::env::var(env_var_name(account)).ok().filter(|v| !v.is_empty()).map(Sensitive)
}

#[cfg(target_os = "linux")]
fn pick(choice: &str) -> Result<Backend, String> {
    match choice {
        "secret-service" => Ok(Backend::SecretService),
        "kernel" | "keyutils" => Ok(Backend::KernelKeyring),
        "" | "auto" => Ok(if secret_service_answers() { Backend::SecretService } else { Backend::KernelKeyring }),
        other => Err(format!("{BACKEND_ENV}={other:?} is not one of secret-service, kernel, auto")),
    }
}

#[cfg(not(target_os = "linux"))]
fn pick(choice: &str) -> Result<Backend, String> {
    match choice {
        "" | "auto" | "platform" => Ok(Backend::Platform),
        other => Err(format!("{BACKEND_ENV}={other:?} is not one of platform, auto")),
    }
}

/// Whether a Secret Service is reachable: a lookup that answers (found, not found,
/// or locked) says yes; no session bus or no service says no.
#[cfg(target_os = "linux")]
fn secret_service_answers() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        return false;
    }
    let Ok(entry) = Backend::SecretService.entry("__tocsin_probe__") else { return false };
    match entry.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => true,
        Err(keyring::Error::NoStorageAccess(e)) => is_locked(e.as_ref()),
        Err(_) => false,
    }
}

/// Whether the keychain refused because it is locked (or wants an unlock prompt
/// that was dismissed): the Secret Service's own error variant, not its words.
#[cfg(target_os = "linux")]
fn is_locked(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(
        e.downcast_ref::<dbus_secret_service::Error>(),
        Some(dbus_secret_service::Error::Locked | dbus_secret_service::Error::Prompt)
    )
}

#[cfg(not(target_os = "linux"))]
fn is_locked(_: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    false
}

fn map_err(account: &str) -> impl Fn(keyring::Error) -> SecretError + '_ {
    move |e| match e {
        keyring::Error::NoEntry => SecretError::Missing(account.to_owned()),
        keyring::Error::NoStorageAccess(inner) if is_locked(inner.as_ref()) => SecretError::Locked,
        keyring::Error::NoStorageAccess(inner) => SecretError::Unavailable(inner.to_string()),
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
