//! The account configuration file (`config.toml`): which providers to connect to and
//! how. Never holds a secret: keys live in the OS keychain.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tocsin_model::Provider;
use tocsin_providers::{AuthMode, Endpoint, Subscriptions};
use tocsin_supervisor::Backoff;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
}

/// One account: a provider connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Unique name, also the keychain entry name.
    pub name: String,
    pub provider: String,
    /// WebSocket endpoint (`wss://...`).
    pub url: String,
    #[serde(default = "default_auth")]
    pub auth: AuthMode,
    /// The query parameter for `auth = "query"` when the provider has two names
    /// (AgentMail: `api_key` or `auth_token`).
    #[serde(default)]
    pub auth_param: Option<String>,
    /// The HTTP endpoint that hands out connection tokens or tickets (`auth = "token"`).
    #[serde(default)]
    pub token_url: Option<String>,
    /// The REST base for actions (mark read, reply); derived from `url` when absent.
    #[serde(default)]
    pub rest_url: Option<String>,
    /// A PEM file with an extra certificate authority to trust (a company proxy or
    /// a self-hosted server). The platform roots are always trusted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// daimon / AgentMail inboxes. Empty = everything the key can see.
    #[serde(default)]
    pub inboxes: Vec<String>,
    /// AgentMail pods.
    #[serde(default)]
    pub pods: Vec<String>,
    /// AgentMail event types (`message.received`, ...). Empty = all.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Prismer conversations to join.
    #[serde(default)]
    pub conversations: Vec<String>,
    /// Topic patterns (the topic platform).
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub backoff: BackoffConfig,
    /// The most events per second read from this account's socket (a guard against a
    /// runaway server; reading pauses, nothing is dropped). Absent = the default,
    /// [`tocsin_supervisor::RateLimit::default`]; 0 = no limit. Config file only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events_per_sec: Option<u32>,
}

fn default_auth() -> AuthMode {
    AuthMode::Bearer
}

/// Reconnect pacing, in the config file's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffConfig {
    pub base_ms: u64,
    pub cap_ms: u64,
    /// 0 = retry forever.
    pub max_attempts: u32,
    pub stable_after_ms: u64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        let b = Backoff::default();
        BackoffConfig {
            base_ms: b.base.as_millis() as u64,
            cap_ms: b.cap.as_millis() as u64,
            max_attempts: b.max_attempts,
            stable_after_ms: b.stable_after.as_millis() as u64,
        }
    }
}

impl BackoffConfig {
    pub fn to_backoff(self) -> Backoff {
        Backoff {
            base: Duration::from_millis(self.base_ms),
            cap: Duration::from_millis(self.cap_ms),
            max_attempts: self.max_attempts,
            stable_after: Duration::from_millis(self.stable_after_ms),
        }
    }
}

impl AccountConfig {
    pub fn provider(&self) -> Provider {
        Provider::parse(&self.provider).expect("validated")
    }
    /// The socket's rate limit: `max_events_per_sec` with a burst of twice that,
    /// or the default.
    pub fn rate_limit(&self) -> tocsin_supervisor::RateLimit {
        match self.max_events_per_sec {
            None => tocsin_supervisor::RateLimit::default(),
            Some(n) => tocsin_supervisor::RateLimit { per_sec: n, burst: n.saturating_mul(2) },
        }
    }
    /// A topic-platform account reading the NATS bus directly (`nats://` or `tls://`).
    pub fn is_direct_nats(&self) -> bool {
        self.provider == "bivariant" && (self.url.starts_with("nats://") || self.url.starts_with("tls://"))
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            auth: self.auth,
            query_param: self.auth_param.clone(),
            token_url: self.token_url.clone(),
            rest_url: self.rest_url.clone(),
        }
    }

    pub fn subscriptions(&self) -> Subscriptions {
        Subscriptions {
            inboxes: self.inboxes.clone(),
            pods: self.pods.clone(),
            event_types: self.event_types.clone(),
            conversations: self.conversations.clone(),
            topics: self.topics.clone(),
        }
    }
}

/// A configuration problem, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not valid: {reason}")]
    Parse { path: String, reason: String },
    #[error("account {index} ({name}): {field}: {problem}")]
    Invalid { index: usize, name: String, field: &'static str, problem: String },
}

/// Fields that would hold a key: refused with advice, never echoed.
const SECRET_FIELDS: [&str; 5] = ["key", "api_key", "token", "secret", "password"];

/// An account table of `text` that tries to keep a key in the file, found by its
/// field names (the TOML's structure, not the parser's error text).
fn secret_field(text: &str) -> Option<ConfigError> {
    let table: toml::Table = text.parse().ok()?;
    let accounts = table.get("accounts")?.as_array()?;
    accounts.iter().enumerate().find_map(|(i, a)| {
        let a = a.as_table()?;
        let field = SECRET_FIELDS.into_iter().find(|f| a.contains_key(*f))?;
        let name = a.get("name").and_then(|n| n.as_str()).unwrap_or("?").to_owned();
        Some(ConfigError::Invalid {
            index: i + 1,
            problem: format!("keys are never kept in the config file: store it with `tocsin key set {name}`"),
            name,
            field,
        })
    })
}

impl Config {
    /// The file inside `config_dir`.
    pub fn path(config_dir: &Path) -> PathBuf {
        config_dir.join("config.toml")
    }

    /// Loads and validates `config_dir/config.toml`; a missing file is an empty config.
    pub fn load(config_dir: &Path) -> Result<Config, ConfigError> {
        let path = Config::path(config_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(ConfigError::Read { path: path.display().to_string(), reason: e.to_string() }),
        };
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            secret_field(text).unwrap_or_else(|| ConfigError::Parse { path: origin.to_owned(), reason: e.message().to_owned() })
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every account; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let err = |field, problem: String| ConfigError::Invalid { index: i + 1, name: a.name.clone(), field, problem };
            if a.name.is_empty() || a.name.len() > 64 || !a.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(err("name", "use 1 to 64 letters, digits, '-', '_' or '.'".into()));
            }
            if !seen.insert(a.name.to_ascii_lowercase()) {
                return Err(err("name", "another account already has this name".into()));
            }
            if Provider::parse(&a.provider).is_none() {
                return Err(err("provider", format!("\"{}\" is not one of daimon, agentmail, divinci, prismer, bivariant", a.provider)));
            }
            if a.is_direct_nats() {
                if a.topics.is_empty() {
                    return Err(err("topics", "a direct NATS account needs at least one topic pattern".into()));
                }
                for t in &a.topics {
                    tocsin_providers::topics::validate(t, None).map_err(|e| err("topics", e.to_string()))?;
                }
                continue;
            }
            if !(a.url.starts_with("wss://") || a.url.starts_with("ws://")) {
                return Err(err(
                    "url",
                    format!("\"{}\" must start with wss:// (or ws:// for a local server; nats:// for the topic platform's bus)", a.url),
                ));
            }
            if a.url.contains("key=") || a.url.contains("token=") || a.url.contains("api_key=") {
                return Err(err("url", "must not contain a key; store keys with `tocsin key set`".into()));
            }
            if let Some(p) = &a.auth_param {
                if p.is_empty() || p.len() > 32 || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(err("auth_param", "use a query parameter name: 1 to 32 letters, digits, '_' or '-' (such as api_key)".into()));
                }
            }
            if let Err(problem) = tocsin_providers::adapter_for(a.provider(), &a.endpoint(), &a.subscriptions()) {
                return Err(err("auth", problem));
            }
            if let Some(ca) = &a.ca_file {
                if !Path::new(ca).is_absolute() {
                    return Err(err("ca_file", format!("\"{ca}\" must be an absolute path to a PEM file")));
                }
            }
            if a.backoff.base_ms == 0 || a.backoff.cap_ms < a.backoff.base_ms {
                return Err(err("backoff", "base_ms must be above 0 and cap_ms at least base_ms".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_account() {
        let c = Config::parse(
            r#"
            [[accounts]]
            name = "ops"
            provider = "daimon"
            url = "wss://ws.daimon.email/v1/stream"
            auth = "query"
            inboxes = ["inbox_ops"]
            [accounts.backoff]
            base_ms = 500
            cap_ms = 10000
            max_attempts = 5
            "#,
            "t",
        )
        .unwrap();
        let a = &c.accounts[0];
        assert_eq!(a.provider(), Provider::Daimon);
        assert_eq!(a.auth, AuthMode::Query);
        assert_eq!(a.backoff.to_backoff().cap, Duration::from_secs(10));
        assert_eq!(a.backoff.stable_after_ms, 60_000);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = |t: &str| Config::parse(t, "config.toml").unwrap_err().to_string();
        let e = bad("[[accounts]]\nname='a'\nprovider='gmail'\nurl='wss://x'\n");
        assert!(e.contains("provider") && e.contains("gmail"), "{e}");
        let e = bad("[[accounts]]\nname='a'\nprovider='daimon'\nurl='https://x'\n");
        assert!(e.contains("url"), "{e}");
        let e = bad("[[accounts]]\nname='a'\nprovider='daimon'\nurl='wss://x'\nkey='dm_live_x'\n");
        assert!(e.contains("never kept in the config file"), "{e}");
        let e = bad("[[accounts]]\nname='a'\nprovider='daimon'\nurl='wss://x'\n[[accounts]]\nname='A'\nprovider='daimon'\nurl='wss://y'\n");
        assert!(e.contains("account 2") && e.contains("name"), "{e}");
        let e = bad("[[accounts]]\nname='a'\nprovider='agentmail'\nurl='wss://x'\nauth='query'\nauth_param='autg[umman'\n");
        assert!(e.contains("auth_param"), "{e}");
        let e = bad("[[accounts]]\nname='a b'\nprovider='daimon'\nurl='wss://x'\n");
        assert!(e.contains("name"), "{e}");
    }

    #[test]
    fn direct_nats_accounts() {
        let c = Config::parse("[[accounts]]\nname='bus'\nprovider='bivariant'\nurl='nats://127.0.0.1:4222'\ntopics=['events.org_1.>']\n", "t").unwrap();
        assert!(c.accounts[0].is_direct_nats());
        let e = Config::parse("[[accounts]]\nname='bus'\nprovider='bivariant'\nurl='nats://h'\ntopics=['events.org_1.>.x']\n", "t").unwrap_err();
        assert!(e.to_string().contains("topics"), "{e}");
        let e = Config::parse("[[accounts]]\nname='bus'\nprovider='daimon'\nurl='nats://h'\n", "t").unwrap_err();
        assert!(e.to_string().contains("url"), "{e}");
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
    }
}
