//! Accounts as the Accounts screen and `tocsin account ...` edit them: the
//! [`AccountInput`] form (exactly what `config.toml` holds, never a key), and the
//! edits that validate the whole file before writing it atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tocsin_providers::AuthMode;
use tocsin_secrets::KeyInfo;
use ts_rs::TS;

use crate::config::{AccountConfig, BackoffConfig, Config, ConfigError};

/// An account's settings as the window edits them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export)]
pub struct AccountInput {
    pub name: String,
    pub provider: String,
    pub url: String,
    #[ts(type = "\"bearer\" | \"query\" | \"frame\" | \"token\"")]
    pub auth: AuthMode,
    pub auth_param: Option<String>,
    pub token_url: Option<String>,
    pub rest_url: Option<String>,
    /// A PEM file with an extra certificate authority to trust for this account.
    pub ca_file: Option<String>,
    pub inboxes: Vec<String>,
    pub pods: Vec<String>,
    pub event_types: Vec<String>,
    pub conversations: Vec<String>,
    pub topics: Vec<String>,
    pub backoff: BackoffInput,
}

/// Reconnect pacing, as the window edits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export, rename = "BackoffConfig")]
pub struct BackoffInput {
    #[ts(type = "number")]
    pub base_ms: u64,
    #[ts(type = "number")]
    pub cap_ms: u64,
    pub max_attempts: u32,
    #[ts(type = "number")]
    pub stable_after_ms: u64,
}

/// One account in the Accounts screen: its settings and its key's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AccountView {
    pub account: AccountInput,
    pub key: KeyInfo,
    /// A demo-profile account: shown, not editable.
    pub demo: bool,
}

/// What `tocsin key test` and the window's "Test key" found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyTest {
    pub ok: bool,
    pub message: String,
}

impl AccountInput {
    /// An account with these essentials and defaults for the rest.
    pub fn new(name: &str, provider: &str, url: &str) -> Self {
        AccountInput {
            name: name.to_owned(),
            provider: provider.to_owned(),
            url: url.to_owned(),
            auth: AuthMode::Bearer,
            auth_param: None,
            token_url: None,
            rest_url: None,
            ca_file: None,
            inboxes: vec![],
            pods: vec![],
            event_types: vec![],
            conversations: vec![],
            topics: vec![],
            backoff: BackoffInput::default(),
        }
    }
}

fn clean(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

fn opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl From<&AccountConfig> for AccountInput {
    fn from(a: &AccountConfig) -> Self {
        AccountInput {
            name: a.name.clone(),
            provider: a.provider.clone(),
            url: a.url.clone(),
            auth: a.auth,
            auth_param: a.auth_param.clone(),
            token_url: a.token_url.clone(),
            rest_url: a.rest_url.clone(),
            ca_file: a.ca_file.clone(),
            inboxes: a.inboxes.clone(),
            pods: a.pods.clone(),
            event_types: a.event_types.clone(),
            conversations: a.conversations.clone(),
            topics: a.topics.clone(),
            backoff: BackoffInput {
                base_ms: a.backoff.base_ms,
                cap_ms: a.backoff.cap_ms,
                max_attempts: a.backoff.max_attempts,
                stable_after_ms: a.backoff.stable_after_ms,
            },
        }
    }
}

impl From<&AccountInput> for AccountConfig {
    fn from(a: &AccountInput) -> Self {
        AccountConfig {
            name: a.name.trim().to_owned(),
            provider: a.provider.trim().to_ascii_lowercase(),
            url: a.url.trim().to_owned(),
            auth: a.auth,
            auth_param: opt(&a.auth_param),
            token_url: opt(&a.token_url),
            rest_url: opt(&a.rest_url),
            ca_file: opt(&a.ca_file),
            inboxes: clean(&a.inboxes),
            pods: clean(&a.pods),
            event_types: clean(&a.event_types),
            conversations: clean(&a.conversations),
            topics: clean(&a.topics),
            backoff: BackoffConfig {
                base_ms: a.backoff.base_ms,
                cap_ms: a.backoff.cap_ms,
                max_attempts: a.backoff.max_attempts,
                stable_after_ms: a.backoff.stable_after_ms,
            },
            max_events_per_sec: None,
        }
    }
}

impl Default for BackoffInput {
    fn default() -> Self {
        let b = BackoffConfig::default();
        BackoffInput { base_ms: b.base_ms, cap_ms: b.cap_ms, max_attempts: b.max_attempts, stable_after_ms: b.stable_after_ms }
    }
}

/// A refused edit: the field (as the form names it) and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("no account is named \"{0}\"")]
    NotFound(String),
    #[error(transparent)]
    Config(ConfigError),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

/// The form's name for a config field (`auth_param` → `authParam`).
fn form_field(field: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn invalid(e: ConfigError) -> EditError {
    match e {
        ConfigError::Invalid { field, problem, .. } => EditError::Invalid { field: form_field(field), problem },
        other => EditError::Config(other),
    }
}

/// Adds `account` (when `original` is `None`) or replaces the account named
/// `original` (it may be renamed), validates the whole configuration and writes it.
/// Returns the new configuration.
pub fn save_account(config_dir: &Path, account: &AccountInput, original: Option<&str>) -> Result<Config, EditError> {
    let mut config = Config::load(config_dir).map_err(EditError::Config)?;
    let new = AccountConfig::from(account);
    match original {
        None => {
            if config.accounts.iter().any(|a| a.name.eq_ignore_ascii_case(&new.name)) {
                return Err(EditError::Invalid { field: "name".into(), problem: "another account already has this name".into() });
            }
            config.accounts.push(new);
        }
        Some(name) => {
            let slot = config.accounts.iter_mut().find(|a| a.name == name).ok_or_else(|| EditError::NotFound(name.to_owned()))?;
            // What the window does not edit stays as the file has it.
            *slot = AccountConfig { max_events_per_sec: slot.max_events_per_sec, ..new };
        }
    }
    config.validate().map_err(invalid)?;
    write(config_dir, &config)?;
    Ok(config)
}

/// Removes the account `name` from the configuration file.
pub fn remove_account(config_dir: &Path, name: &str) -> Result<Config, EditError> {
    let mut config = Config::load(config_dir).map_err(EditError::Config)?;
    let before = config.accounts.len();
    config.accounts.retain(|a| a.name != name);
    if config.accounts.len() == before {
        return Err(EditError::NotFound(name.to_owned()));
    }
    write(config_dir, &config)?;
    Ok(config)
}

/// Writes `config` atomically (a temporary file renamed over the old one), readable
/// by the user only.
pub fn write(config_dir: &Path, config: &Config) -> Result<(), EditError> {
    let path = Config::path(config_dir);
    let err = |e: std::io::Error| EditError::Write { path: path.display().to_string(), reason: e.to_string() };
    std::fs::create_dir_all(config_dir).map_err(err)?;
    let text = toml::to_string_pretty(config).map_err(|e| EditError::Write { path: path.display().to_string(), reason: e.to_string() })?;
    let text = format!("# Tocsin accounts. Keys are never kept here: see `tocsin key set ACCOUNT`.\n\n{text}");
    let tmp = path.with_extension("toml.tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(())
}

impl From<EditError> for crate::IpcError {
    fn from(e: EditError) -> Self {
        use crate::{ErrorCode, IpcError};
        match e {
            // The form shows the problem next to the field it names.
            EditError::Invalid { field, problem } => IpcError::new(ErrorCode::InvalidArgument, problem).with_field(field),
            EditError::NotFound(_) => IpcError::new(ErrorCode::NotFound, e.to_string()),
            EditError::Config(_) | EditError::Write { .. } => IpcError::new(ErrorCode::Internal, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str) -> AccountInput {
        AccountInput {
            name: name.into(),
            provider: "daimon".into(),
            url: "wss://ws.daimon.email/v1/stream".into(),
            auth: AuthMode::Bearer,
            auth_param: None,
            token_url: Some("  ".into()),
            rest_url: None,
            ca_file: None,
            inboxes: vec![" inbox_ops ".into(), "".into()],
            pods: vec![],
            event_types: vec![],
            conversations: vec![],
            topics: vec![],
            backoff: BackoffInput::default(),
        }
    }

    #[test]
    fn add_edit_rename_remove_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        save_account(dir.path(), &input("ops"), None).unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.accounts[0].inboxes, ["inbox_ops"]);
        assert_eq!(c.accounts[0].token_url, None);
        let e = save_account(dir.path(), &input("OPS"), None).unwrap_err();
        assert_eq!(e.to_string(), "name: another account already has this name");

        let mut renamed = input("ops-2");
        renamed.url = "wss://other/v1/stream".into();
        save_account(dir.path(), &renamed, Some("ops")).unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.accounts.len(), 1);
        assert_eq!(c.accounts[0].name, "ops-2");
        assert_eq!(AccountInput::from(&c.accounts[0]).url, "wss://other/v1/stream");

        let mut bad = input("ops-2");
        bad.url = "https://x".into();
        let e = save_account(dir.path(), &bad, Some("ops-2")).unwrap_err();
        assert!(e.to_string().starts_with("url: "), "{e}");
        let mut bad = input("ops-2");
        bad.backoff.base_ms = 0;
        assert!(save_account(dir.path(), &bad, Some("ops-2")).unwrap_err().to_string().starts_with("backoff: "));
        // A refused edit leaves the file as it was.
        assert_eq!(Config::load(dir.path()).unwrap().accounts[0].url, "wss://other/v1/stream");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(Config::path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(remove_account(dir.path(), "nope"), Err(EditError::NotFound(_))));
        remove_account(dir.path(), "ops-2").unwrap();
        assert!(Config::load(dir.path()).unwrap().accounts.is_empty());
    }

    #[test]
    fn form_fields_are_camel_case() {
        assert_eq!(form_field("auth_param"), "authParam");
        assert_eq!(form_field("url"), "url");
    }
}

