//! `tocsin account add|list|edit|remove` and `tocsin key set|rotate|test|remove`:
//! provisioning from the command line. Accounts go to `config.toml` (validated
//! before it is written); keys go to the OS keychain only, read from standard input
//! or a prompt that does not echo, and are shown afterwards as their last four
//! characters at most.

use std::io::{BufRead, IsTerminal};

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use tocsin_engine::accounts::{self, AccountInput};
use tocsin_engine::{keys, Config};
use tocsin_providers::AuthMode;
use tocsin_secrets::{last4, KeyState, KeyStore, Sensitive};

use crate::cli::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an account.
    Add {
        name: String,
        #[command(flatten)]
        fields: AccountFields,
    },
    /// The accounts, with their key states.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change an account: only the options given change (a list option replaces the list).
    Edit {
        name: String,
        /// A new name (the key moves with it).
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        fields: AccountFields,
    },
    /// Remove an account and its key.
    Remove {
        name: String,
        /// Leave the key in the keychain.
        #[arg(long)]
        keep_key: bool,
    },
}

/// Account settings on the command line.
#[derive(Debug, Clone, Args, Default)]
pub struct AccountFields {
    /// daimon, agentmail, divinci, prismer or bivariant.
    #[arg(long)]
    pub provider: Option<String>,
    /// The WebSocket endpoint (wss://...), or nats:// for the topic platform's bus.
    #[arg(long)]
    pub url: Option<String>,
    /// bearer, query, frame or token.
    #[arg(long)]
    pub auth: Option<String>,
    #[arg(long)]
    pub auth_param: Option<String>,
    #[arg(long)]
    pub token_url: Option<String>,
    #[arg(long)]
    pub rest_url: Option<String>,
    /// A PEM file with an extra certificate authority to trust.
    #[arg(long)]
    pub ca_file: Option<String>,
    #[arg(long = "inbox")]
    pub inboxes: Vec<String>,
    #[arg(long = "pod")]
    pub pods: Vec<String>,
    #[arg(long = "event-type")]
    pub event_types: Vec<String>,
    #[arg(long = "conversation")]
    pub conversations: Vec<String>,
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    #[arg(long)]
    pub backoff_base_ms: Option<u64>,
    #[arg(long)]
    pub backoff_cap_ms: Option<u64>,
    /// 0 = retry forever.
    #[arg(long)]
    pub backoff_max_attempts: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Store ACCOUNT's key: from standard input when it is not a terminal, else a
    /// prompt that does not echo.
    Set { account: String },
    /// Replace ACCOUNT's key with a new one, test it, and keep the old one if the
    /// server refuses the new one.
    Rotate {
        account: String,
        /// Store the new key without testing it.
        #[arg(long)]
        no_test: bool,
    },
    /// Connect with ACCOUNT's key and report what the server says.
    Test { account: String },
    /// Remove ACCOUNT's key from the keychain.
    Remove { account: String },
}

fn auth_mode(s: &str) -> anyhow::Result<AuthMode> {
    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
        .map_err(|_| anyhow!("--auth {s}: use bearer, query, frame or token"))
}

impl AccountFields {
    fn apply(&self, a: &mut AccountInput) -> anyhow::Result<()> {
        if let Some(v) = &self.provider {
            a.provider = v.clone();
        }
        if let Some(v) = &self.url {
            a.url = v.clone();
        }
        if let Some(v) = &self.auth {
            a.auth = auth_mode(v)?;
        }
        let set = |slot: &mut Option<String>, v: &Option<String>| {
            if let Some(v) = v {
                *slot = (!v.is_empty()).then(|| v.clone());
            }
        };
        set(&mut a.auth_param, &self.auth_param);
        set(&mut a.token_url, &self.token_url);
        set(&mut a.rest_url, &self.rest_url);
        set(&mut a.ca_file, &self.ca_file);
        for (slot, v) in [
            (&mut a.inboxes, &self.inboxes),
            (&mut a.pods, &self.pods),
            (&mut a.event_types, &self.event_types),
            (&mut a.conversations, &self.conversations),
            (&mut a.topics, &self.topics),
        ] {
            if !v.is_empty() {
                *slot = v.clone();
            }
        }
        if let Some(v) = self.backoff_base_ms {
            a.backoff.base_ms = v;
        }
        if let Some(v) = self.backoff_cap_ms {
            a.backoff.cap_ms = v;
        }
        if let Some(v) = self.backoff_max_attempts {
            a.backoff.max_attempts = v;
        }
        Ok(())
    }
}

pub fn account(args: &GlobalArgs, command: &AccountCommand) -> anyhow::Result<()> {
    let dir = crate::paths::config_dir(args)?;
    match command {
        AccountCommand::Add { name, fields } => {
            let mut a = AccountInput::new(name, "", "");
            if fields.provider.is_none() || fields.url.is_none() {
                bail!("account add needs --provider and --url");
            }
            fields.apply(&mut a)?;
            accounts::save_account(&dir, &a, None)?;
            let live = crate::live::config_changed()?;
            println!("added account \"{name}\"; {live}; store its key with `tocsin key set {name}`");
        }
        AccountCommand::List { json } => {
            let config = Config::load(&dir)?;
            let keys = KeyStore::detect();
            let views: Vec<_> = config
                .accounts
                .iter()
                .map(|a| tocsin_engine::accounts::AccountView { account: AccountInput::from(a), key: keys.info(&a.name), demo: false })
                .collect();
            if *json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else if views.is_empty() {
                println!("no accounts (add one with `tocsin account add NAME --provider ... --url ...`)");
            } else {
                for v in views {
                    let key = match (&v.key.state, &v.key.last4) {
                        (KeyState::Stored | KeyState::Environment, Some(l4)) => format!("key …{l4} ({})", v.key.backend),
                        (KeyState::Stored | KeyState::Environment, None) => format!("key set ({})", v.key.backend),
                        (_, _) => format!("{:?}: {}", v.key.state, v.key.message.unwrap_or_default()).to_lowercase(),
                    };
                    println!("{:<16} {:<10} {:<48} {}", v.account.name, v.account.provider, v.account.url, key);
                }
            }
        }
        AccountCommand::Edit { name, rename, fields } => {
            let config = Config::load(&dir)?;
            let current = config.accounts.iter().find(|a| &a.name == name).ok_or_else(|| anyhow!("no account is named \"{name}\""))?;
            let mut a = AccountInput::from(current);
            if let Some(r) = rename {
                a.name = r.clone();
            }
            fields.apply(&mut a)?;
            accounts::save_account(&dir, &a, Some(name))?;
            if let Some(new) = rename.as_ref().filter(|r| *r != name) {
                let keys = KeyStore::detect();
                if let Ok(k) = keys.keychain_get(name) {
                    keys.set(new, &k)?;
                    keys.remove(name)?;
                }
            }
            println!("saved account \"{}\"; {}", a.name, crate::live::config_changed()?);
        }
        AccountCommand::Remove { name, keep_key } => {
            accounts::remove_account(&dir, name)?;
            if !keep_key {
                KeyStore::detect().remove(name)?;
            }
            let live = crate::live::config_changed()?;
            println!("removed account \"{name}\"{}; {live}", if *keep_key { "" } else { " and its key" });
        }
    }
    Ok(())
}

pub fn key(args: &GlobalArgs, command: &KeyCommand) -> anyhow::Result<()> {
    let dir = crate::paths::config_dir(args)?;
    let config = Config::load(&dir)?;
    let name = match command {
        KeyCommand::Set { account } | KeyCommand::Rotate { account, .. } | KeyCommand::Test { account } | KeyCommand::Remove { account } => account,
    };
    let account = config.accounts.iter().find(|a| &a.name == name).ok_or_else(|| anyhow!("no account is named \"{name}\" (see `tocsin account list`)"))?;
    let keys = KeyStore::detect();
    keys.backend()?;
    match command {
        KeyCommand::Set { .. } => {
            let key = read_key(&format!("Key for {name}: "))?;
            let live = live_key(name, Some(&key))?;
            if live.is_none() {
                keys.set(name, &key)?;
            }
            println!(
                "stored the key for \"{name}\" in the {} (…{}); {}",
                keys.backend_label(),
                last4(&key).unwrap_or_else(|| "set".into()),
                if live.is_some() { "the running Tocsin reconnects with it now" } else { "Tocsin uses it when it starts" }
            );
        }
        KeyCommand::Rotate { no_test, .. } => {
            let old = keys.keychain_get(name).ok();
            let key = read_key(&format!("New key for {name}: "))?;
            keys.set(name, &key)?;
            // A running Tocsin reconnects with the new key.
            live_key(name, Some(&key))?;
            if !no_test {
                let verdict = runtime()?.block_on(keys::test_key(account));
                if !verdict.ok {
                    match old {
                        Some(old) => {
                            keys.set(name, &old)?;
                            live_key(name, Some(&old))?;
                            bail!("the server refused the new key ({}); the old key is still in place", verdict.message);
                        }
                        None => bail!("the server refused the new key ({}); it is stored, fix it with `tocsin key set {name}`", verdict.message),
                    }
                }
                println!("{}", verdict.message);
            }
            println!("rotated the key for \"{name}\" (…{}); a running Tocsin uses it at its next connection", last4(&key).unwrap_or_else(|| "set".into()));
        }
        KeyCommand::Test { .. } => {
            let verdict = runtime()?.block_on(keys::test_key(account));
            if !verdict.ok {
                bail!("key test failed: {}", verdict.message);
            }
            println!("key test passed: {}", verdict.message);
        }
        KeyCommand::Remove { .. } => {
            if live_key(name, None)?.is_none() {
                keys.remove(name)?;
            }
            println!("removed the key for \"{name}\" from the {}", keys.backend_label());
        }
    }
    Ok(())
}

/// Stores (or with `None` removes) `account`'s key through the running Tocsin,
/// which reconnects that account at once. `None` when no Tocsin is running.
fn live_key(account: &str, key: Option<&Sensitive<String>>) -> anyhow::Result<Option<tocsin_secrets::KeyInfo>> {
    use tocsin_control::Request;
    let request = match key {
        Some(k) => Request::KeySet { account: account.to_owned(), key: k.clone() },
        None => Request::KeyRemove { account: account.to_owned() },
    };
    crate::live::if_running(async |c| Ok(c.call(request).await?))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// A key from standard input (its first line) or a prompt without echo.
fn read_key(prompt: &str) -> anyhow::Result<Sensitive<String>> {
    let key = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let key = key.trim_end_matches(['\r', '\n']).trim().to_owned();
    if key.is_empty() {
        bail!("no key given");
    }
    Ok(Sensitive::new(key))
}
