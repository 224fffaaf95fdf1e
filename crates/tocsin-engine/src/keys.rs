//! Keys as the engine sees them: each account's key state for the Accounts screen,
//! whether the keychain as a whole works (a banner and the tray's error state when
//! it does not), and "test key": one real connection that reports the auth result.

use std::time::Duration;

use tocsin_secrets::{KeyInfo, KeyState, KeyStore, Sensitive};
use tocsin_supervisor::{AccountStatus, ConnState};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::accounts::{AccountInput, AccountView, KeyTest};
use crate::config::{AccountConfig, Config};
use crate::{Engine, ErrorCode, IpcError};

/// How long "test key" waits for the server's verdict.
pub const KEY_TEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Words for the window when keys cannot be read at all: no keychain, or locked.
/// `None` when every account's key is readable, missing (a per-account state) or
/// comes from the environment.
pub fn keychain_problem(keys: &KeyStore, config: &Config) -> Option<String> {
    if let Err(e) = keys.backend() {
        return Some(format!("{e}"));
    }
    for a in &config.accounts {
        let info = keys.info(&a.name);
        match info.state {
            KeyState::Locked => {
                return Some(format!("The {} is locked: unlock it (or log in again) so Tocsin can read account keys.", info.backend))
            }
            KeyState::Unavailable | KeyState::Error => {
                return Some(info.message.unwrap_or_else(|| format!("The {} cannot be used.", info.backend)))
            }
            _ => {}
        }
    }
    None
}

impl Engine {
    /// The configured accounts with their key states (the demo profile's accounts,
    /// read-only, when it runs).
    pub fn accounts(&self) -> Vec<AccountView> {
        if self.shared.demo {
            return self
                .snapshot()
                .accounts
                .iter()
                .map(|s| AccountView {
                    account: AccountInput::new(&s.account, s.provider.as_str(), "ws://127.0.0.1 (demo emulator)"),
                    key: KeyInfo { state: KeyState::Stored, last4: None, backend: "demo (no key needed)".into(), message: None },
                    demo: true,
                })
                .collect();
        }
        self.config
            .accounts
            .iter()
            .map(|a| AccountView { account: AccountInput::from(a), key: self.keys.info(&a.name), demo: false })
            .collect()
    }

    /// The keychain in use.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Stores `key` for `account` in the keychain and reconnects that account with
    /// it. Returns what may be shown: the state and the last four characters.
    pub fn set_key(&self, account: &str, key: Sensitive<String>) -> Result<KeyInfo, IpcError> {
        self.known(account)?;
        self.keys.set(account, &key).map_err(|e| IpcError::new(ErrorCode::InvalidArgument, e.to_string()))?;
        self.key_changed(account);
        Ok(self.keys.info(account))
    }

    /// Removes `account`'s key from the keychain.
    pub fn remove_key(&self, account: &str) -> Result<KeyInfo, IpcError> {
        self.known(account)?;
        self.keys.remove(account).map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
        self.key_changed(account);
        Ok(self.keys.info(account))
    }

    /// Connects once to `account` with its stored key and reports the auth result.
    pub async fn test_key(&self, account: &str) -> Result<KeyTest, IpcError> {
        let config = self.known(account)?.clone();
        Ok(test_key(&config).await)
    }

    fn known(&self, account: &str) -> Result<&AccountConfig, IpcError> {
        self.config
            .accounts
            .iter()
            .find(|a| a.name == account)
            .ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("no account is named \"{account}\"")))
    }

    fn key_changed(&self, account: &str) {
        *self.shared.keychain_error.lock().unwrap() = keychain_problem(&self.keys, &self.config);
        if let Some(tx) = self.outgoing.get(account) {
            let _ = tx.try_send(tocsin_supervisor::Outgoing::Reconnect);
        }
        self.shared.touch();
    }
}

/// One connection to `account` with its key as stored now: `ok` once the server
/// accepted it (open or subscribed), not ok with the server's or the network's
/// words otherwise. Events received meanwhile are dropped: the running connection
/// receives them too.
pub async fn test_key(account: &AccountConfig) -> KeyTest {
    let keys = KeyStore::detect();
    if let Err(e) = keys.get(&account.name) {
        return KeyTest { ok: false, message: e.to_string() };
    }
    let (sink, mut events) = mpsc::channel(64);
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let (status_tx, mut status) = watch::channel(AccountStatus::new(&account.name, account.provider()));
    let cancel = CancellationToken::new();
    let mut config = account.clone();
    // One attempt, no retries: the verdict is the first answer.
    config.backoff.max_attempts = 1;
    let (_tx, outgoing) = mpsc::channel(1);
    let task = if account.is_direct_nats() {
        let conn = crate::nats_connection_for(&config, outgoing);
        tokio::spawn(tocsin_supervisor::nats::run_nats(conn, sink, status_tx, cancel.clone()))
    } else {
        let conn = match crate::connection_with(&config, None, outgoing) {
            Ok(c) => c,
            Err(e) => return KeyTest { ok: false, message: e.to_string() },
        };
        tokio::spawn(tocsin_supervisor::run(conn, sink, status_tx, cancel.clone()))
    };
    let verdict = tokio::time::timeout(KEY_TEST_TIMEOUT, async {
        loop {
            {
                let s = status.borrow_and_update();
                match &s.state {
                    ConnState::Open | ConnState::Subscribed => {
                        return KeyTest { ok: true, message: format!("The server accepted the key ({} connected).", account.provider()) };
                    }
                    ConnState::Closed { reason, .. } => return KeyTest { ok: false, message: reason.clone() },
                    ConnState::Reconnecting { .. } => {
                        let why = s.last_error.clone().unwrap_or_else(|| "the connection failed".into());
                        return KeyTest { ok: false, message: why };
                    }
                    _ => {}
                }
            }
            if status.changed().await.is_err() {
                return KeyTest { ok: false, message: "the connection ended without an answer".into() };
            }
        }
    })
    .await
    .unwrap_or_else(|_| KeyTest { ok: false, message: format!("no answer from the server within {} s", KEY_TEST_TIMEOUT.as_secs()) });
    cancel.cancel();
    let _ = task.await;
    verdict
}
