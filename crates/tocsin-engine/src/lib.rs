//! The engine: wires configuration, keys, connection supervisors, the history store
//! and the notifier into one running service, used alike by the tray app, the
//! headless mode and the tests.
//!
//! Owns: start-up (config → accounts → supervisors, or the demo profile with its
//! in-process emulator), the event pipeline (supervisors → bounded channel →
//! rules → dedupe → alerts, then batched store writes), the aggregate state the tray and
//! window show ([`Snapshot`]), pause, and an orderly shutdown that commits every
//! event already received before it returns.
//!
//! Must not: touch GTK, Tauri or D-Bus directly. The app crate plugs in a
//! [`Notifier`] and listens to [`Update`]s.
//!
//! Layout: `lib.rs` (Engine: start, state, commands to providers, shutdown),
//! `pipeline.rs` (front, writer and notify tasks), `attention.rs` (quiet hours, pause,
//! coalescing), `history.rs` (search, detail, read state, retention), `detail.rs`
//! (sanitised HTML, headers, web links), `accounts.rs` (the Accounts form and
//! config edits), `keys.rs` (key state, keychain health, "test key"), `config.rs`,
//! `demo.rs`, `snapshot.rs`, `notifier.rs` + `notify_health.rs`, `error.rs`.

pub mod accounts;
pub mod attention;
pub mod config;
mod demo;
pub mod detail;
pub mod error;
mod history;
pub mod keys;
pub mod notifier;
mod notify_health;
mod pipeline;
pub mod reader;
pub mod settings;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tocsin_model::rules::CompiledRuleSet;
use tocsin_model::{EventKind, HistoryItem, Tier};
use tocsin_providers::Command;
use tocsin_secrets::KeyStore;
use tocsin_store::Store;
use tocsin_supervisor::{Connection, KeySource, Outgoing, DEFAULT_MAX_FRAME};

pub use config::{AccountConfig, Config, ConfigError};
pub use error::{ErrorCode, IpcError};
pub use notifier::{Alert, AlertAction, LogNotifier, Notifier, NotifierCause, NotifyError};
pub use snapshot::{Snapshot, TrayState};
pub use tocsin_supervisor::{AccountStatus, ConnState};

/// How to start the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub config: Config,
    /// Where the history database lives.
    pub data_dir: PathBuf,
    /// Run the demo profile even if accounts are configured.
    pub force_demo: bool,
    /// Mean gap between demo events.
    pub demo_interval: Duration,
}

/// Something the tray or the window should show.
#[derive(Debug, Clone)]
pub enum Update {
    /// A new event was committed to the history.
    Stored(HistoryItem),
    /// The aggregate state changed.
    Status(Snapshot),
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] tocsin_store::StoreError),
    #[error("the demo emulator could not start: {0}")]
    Demo(std::io::Error),
    #[error("account \"{account}\": {reason}")]
    Account { account: String, reason: String },
}

pub(crate) struct Shared {
    statuses: Vec<watch::Receiver<AccountStatus>>,
    unread_urgent: AtomicU32,
    /// The user's rules, compiled; swapped whole when edited.
    rules: std::sync::RwLock<Arc<CompiledRuleSet>>,
    /// Quiet hours, pause, coalescing and repeats.
    attention: Mutex<attention::Attention>,
    /// Wakes the notify loop when the attention state changed (pause, settings).
    attention_changed: Notify,
    demo: bool,
    /// Per account: when its next reconnect attempt is due (ms since the epoch).
    next_retry: Mutex<std::collections::HashMap<String, i64>>,
    /// Why keys cannot be read from the keychain, if they cannot.
    keychain_error: Mutex<Option<String>>,
    /// Wakes the retention task (settings changed).
    retention_changed: Notify,
    store_error: Mutex<Option<String>>,
    notifier_error: Mutex<Option<NotifyError>>,
    updates: broadcast::Sender<Update>,
    dirty: Notify,
}

impl Shared {
    fn snapshot(&self) -> Snapshot {
        let pause = self.attention.lock().unwrap().pause().current(tocsin_model::now_ms());
        let next_retry = self.next_retry.lock().unwrap();
        let notifier_error = self.notifier_error.lock().unwrap().clone();
        Snapshot {
            accounts: self
                .statuses
                .iter()
                .map(|s| {
                    let mut status = s.borrow().clone();
                    status.next_retry_at_ms = next_retry.get(&status.account).copied();
                    status
                })
                .collect(),
            unread_urgent: self.unread_urgent.load(Ordering::SeqCst),
            paused: pause != attention::Pause::Off,
            paused_until_ms: match pause {
                attention::Pause::Until(ms) => Some(ms),
                _ => None,
            },
            demo: self.demo,
            store_error: self.store_error.lock().unwrap().clone(),
            notifier_error: notifier_error.as_ref().map(ToString::to_string),
            notifier_cause: notifier_error.as_ref().map(NotifyError::cause),
            keychain_error: self.keychain_error.lock().unwrap().clone(),
        }
    }

    /// Re-reads the unread-urgent count from the history, its one source: called
    /// after every change that can move it (a committed urgent event, read or
    /// unread, retention). A failed read keeps the last count.
    pub(crate) async fn recount_unread(&self, store: &Store) {
        match store.unread_count(Tier::Urgent).await {
            Ok(n) => {
                self.unread_urgent.store(u32::try_from(n).unwrap_or(u32::MAX), Ordering::SeqCst);
                self.touch();
            }
            Err(e) => tracing::warn!("the unread urgent count could not be read: {e}"),
        }
    }

    /// Marks the snapshot as changed; the status task publishes it (throttled).
    pub(crate) fn touch(&self) {
        self.dirty.notify_one();
    }
}

/// A running engine. Shared by reference (it is `Send + Sync`); stop it once with
/// [`Engine::shutdown`].
pub struct Engine {
    store: Store,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: tokio::sync::Mutex<Option<Tasks>>,
    emulator_addr: Option<std::net::SocketAddr>,
    /// Each account's channel to its supervisor (acks, commands).
    outgoing: std::collections::HashMap<String, mpsc::Sender<Outgoing>>,
    notifier: Arc<dyn Notifier>,
    /// The runtime the engine runs on, for work started from other threads.
    runtime: tokio::runtime::Handle,
    /// The accounts it runs (empty for the demo profile).
    config: Config,
    keys: KeyStore,
    /// Each account's names, kept in the store at shutdown.
    names: Vec<(String, NameCacheRef)>,
}

type NameCacheRef = Arc<Mutex<tocsin_providers::NameCache>>;

struct Tasks {
    supervisors: Vec<JoinHandle<()>>,
    pipeline: Vec<JoinHandle<()>>,
    status_task: JoinHandle<()>,
    retention_task: JoinHandle<()>,
    emulator: Option<tocsin_emulator::Emulator>,
    /// This engine receives into the history; released at shutdown.
    _writer: tocsin_store::WriterLock,
}

/// Capacity of the channel between the supervisors and the store writer.
const EVENT_QUEUE: usize = 8192;
/// Capacity of each account's outgoing (ack) channel.
const OUTGOING_QUEUE: usize = 8192;

impl Engine {
    /// Opens the history and starts one supervisor per account (or the demo profile
    /// when no account is configured or `force_demo` is set).
    pub async fn start(options: EngineOptions, notifier: Arc<dyn Notifier>) -> Result<Engine, EngineError> {
        let store = Store::open(&options.data_dir.join("history.db")).await?;
        // One receiving engine per history: the pipeline numbers rows itself.
        let writer_lock = store.lock_writer()?;
        let first_id = store.next_id().await?;
        let demo = options.force_demo || options.config.accounts.is_empty();
        let mut emulator = None;
        let mut ackers = std::collections::HashMap::new();
        let nats_accounts: Vec<&AccountConfig> = if demo {
            Vec::new()
        } else {
            options.config.accounts.iter().filter(|a| a.is_direct_nats()).collect()
        };
        let connections: Vec<Connection> = if demo {
            let (emu, conns) = demo::start(options.demo_interval).await.map_err(EngineError::Demo)?;
            emulator = Some(emu);
            conns
                .into_iter()
                .map(|(conn, tx)| {
                    ackers.insert(conn.account.clone(), tx);
                    conn
                })
                .collect()
        } else {
            let mut out = Vec::new();
            for account in options.config.accounts.iter().filter(|a| !a.is_direct_nats()) {
                let (outgoing_tx, outgoing) = mpsc::channel(OUTGOING_QUEUE);
                ackers.insert(account.name.clone(), outgoing_tx);
                out.push(connection_for(account, &store, outgoing).await?);
            }
            out
        };

        let names: Vec<(String, NameCacheRef)> = connections.iter().map(|c| (c.account.clone(), c.names.clone())).collect();
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let mut status_senders = Vec::new();
        let mut statuses = Vec::new();
        for c in &connections {
            let (tx, rx) = watch::channel(AccountStatus::new(&c.account, c.adapter.provider()));
            status_senders.push(tx);
            statuses.push(rx);
        }
        let mut nats_status = Vec::new();
        for a in &nats_accounts {
            let (tx, rx) = watch::channel(AccountStatus { transport: "nats".into(), ..AccountStatus::new(&a.name, a.provider()) });
            nats_status.push(tx);
            statuses.push(rx);
        }
        let unread = store.unread_count(Tier::Urgent).await?;
        let rules = settings::rules(&store).await;
        let mut attention_state = attention::Attention::new(settings::attention(&store).await);
        attention_state.set_pause(settings::pause(&store).await);
        let shared = Arc::new(Shared {
            statuses,
            unread_urgent: AtomicU32::new(u32::try_from(unread).unwrap_or(u32::MAX)),
            rules: std::sync::RwLock::new(Arc::new(rules)),
            attention: Mutex::new(attention_state),
            attention_changed: Notify::new(),
            demo,
            next_retry: Mutex::new(std::collections::HashMap::new()),
            keychain_error: Mutex::new(None),
            retention_changed: Notify::new(),
            store_error: Mutex::new(None),
            notifier_error: Mutex::new(None),
            updates: broadcast::channel(1024).0,
            dirty: Notify::new(),
        });
        let cancel = CancellationToken::new();
        let mut outgoing = ackers.clone();
        let pipeline = pipeline::spawn(store.clone(), shared.clone(), event_rx, notifier.clone(), ackers, first_id);
        let mut supervisors = Vec::new();
        for (conn, status_tx) in connections.into_iter().zip(status_senders) {
            tokio::spawn(watch_status(status_tx.subscribe(), shared.clone()));
            supervisors.push(tokio::spawn(tocsin_supervisor::run(conn, event_tx.clone(), status_tx, cancel.clone())));
        }
        for (account, status_tx) in nats_accounts.into_iter().zip(nats_status) {
            tokio::spawn(watch_status(status_tx.subscribe(), shared.clone()));
            // Reconnect and commands reach NATS accounts like every other.
            let (outgoing_tx, outgoing_rx) = mpsc::channel(OUTGOING_QUEUE);
            outgoing.insert(account.name.clone(), outgoing_tx);
            let mut conn = nats_connection_for(account, outgoing_rx);
            conn.resume_at_ms = store.connected_until(&account.name).await?;
            supervisors.push(tokio::spawn(tocsin_supervisor::nats::run_nats(conn, event_tx.clone(), status_tx, cancel.clone())));
        }
        drop(event_tx);
        if let Some(health) = notifier.health() {
            tokio::spawn(notify_health::watch_health(shared.clone(), health, cancel.clone()));
        }
        let status_task = tokio::spawn(snapshot::publish_loop(shared.clone(), cancel.clone()));
        let retention_task = tokio::spawn(history::retention_loop(store.clone(), shared.clone(), cancel.clone()));
        let keys = KeyStore::detect();
        if !demo {
            *shared.keychain_error.lock().unwrap() = keys::keychain_problem(&keys, &options.config);
        }
        let emulator_addr = emulator.as_ref().map(|e| e.local_addr());
        let tasks = Tasks { supervisors, pipeline, status_task, retention_task, emulator, _writer: writer_lock };
        let config = if demo { Config::default() } else { options.config.clone() };
        Ok(Engine {
            store,
            shared,
            cancel,
            tasks: tokio::sync::Mutex::new(Some(tasks)),
            emulator_addr,
            outgoing,
            notifier,
            runtime: tokio::runtime::Handle::current(),
            config,
            keys,
            names,
        })
    }

    /// The aggregate state now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// New events and state changes, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.shared.updates.subscribe()
    }

    /// Pauses notifications until resumed, or resumes them (events are still stored).
    pub fn set_paused(&self, paused: bool) -> Snapshot {
        self.set_pause(if paused { attention::Pause::Forever } else { attention::Pause::Off })
    }

    /// Sets the pause (for an hour, until tomorrow, until resumed, or off) and keeps it.
    pub fn set_pause(&self, pause: attention::Pause) -> Snapshot {
        self.shared.attention.lock().unwrap().set_pause(pause);
        self.shared.attention_changed.notify_one();
        self.shared.touch();
        let store = self.store.clone();
        // Callable from any thread (a tray menu handler has no runtime of its own).
        self.runtime.spawn(async move {
            if let Err(e) = settings::save_pause(&store, pause).await {
                tracing::warn!("the pause could not be saved: {e}");
            }
        });
        self.snapshot()
    }

    /// The rule set as TOML.
    pub fn rules_toml(&self) -> Result<String, IpcError> {
        let rules = self.shared.rules.read().unwrap().clone();
        rules.rule_set().to_toml().map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Replaces the rule set with `toml` (validated first; nothing changes when it is
    /// refused) and keeps it.
    pub async fn set_rules_toml(&self, toml: &str) -> Result<(), IpcError> {
        let compiled = settings::save_rules(&self.store, toml).await?;
        *self.shared.rules.write().unwrap() = Arc::new(compiled);
        Ok(())
    }

    /// What the rules (the current ones, or `toml` when given) decide for stored event `id`.
    pub async fn test_rules(&self, id: i64, toml: Option<&str>) -> Result<tocsin_model::rules::Decision, IpcError> {
        let event = self
            .store
            .event(id)
            .await?
            .ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("event {id} is not in the history")))?;
        let rules = match toml {
            Some(t) => Arc::new(settings::compile_rules(t)?),
            None => self.shared.rules.read().unwrap().clone(),
        };
        Ok(rules.evaluate(&event))
    }

    /// The attention settings (quiet hours, coalescing, repeats).
    pub fn attention_settings(&self) -> attention::AttentionSettings {
        self.shared.attention.lock().unwrap().settings().clone()
    }

    /// Replaces the attention settings (validated) and keeps them.
    pub async fn set_attention_settings(&self, settings: attention::AttentionSettings) -> Result<(), IpcError> {
        settings::save_attention(&self.store, &settings).await?;
        self.shared
            .attention
            .lock()
            .unwrap()
            .set_settings(settings)
            .map_err(settings::attention_error)?;
        self.shared.attention_changed.notify_one();
        Ok(())
    }

    /// Stored events, newest first.
    pub async fn history(&self, limit: u32, before_id: Option<i64>) -> Result<Vec<HistoryItem>, IpcError> {
        reader::list(&self.store, limit, before_id).await
    }

    /// Marks event `id` read: at the provider first (its mark-read command), then in
    /// the history. Events with nothing to mark at the provider (gaps, deliveries)
    /// are marked read locally.
    pub async fn mark_read(&self, id: i64) -> Result<(), IpcError> {
        let event = self.stored(id).await?;
        if event.read {
            return Ok(());
        }
        if event.message_id.is_some() || event.thread.is_some() {
            let command = Command::MarkRead {
                message_id: event.message_id.clone(),
                inbox: event.inbox.clone(),
                thread: event.thread.clone(),
            };
            if matches!(event.kind, EventKind::MessageReceived | EventKind::MessageUpdated | EventKind::Notification) {
                self.command(&event.account, command).await?;
            }
        }
        if self.store.set_read(id, true).await? && event.tier == Tier::Urgent {
            self.shared.recount_unread(&self.store).await;
        }
        // Read here: its notification has nothing more to say, and it stops repeating.
        self.shared.attention.lock().unwrap().resolved(id);
        let notifier = self.notifier.clone();
        let _ = tokio::task::spawn_blocking(move || notifier.withdraw(id)).await;
        Ok(())
    }

    /// Every account drops its connection (or stops waiting) and connects again now;
    /// accounts stopped by an error try again too.
    pub fn reconnect_all(&self) {
        for tx in self.outgoing.values() {
            let _ = tx.try_send(Outgoing::Reconnect);
        }
    }

    /// What to do when the user acts on an alert: `MarkRead` marks it read (at the
    /// provider and here); `Open` and `Dismissed` are the front end's to handle.
    pub async fn on_alert_action(&self, action: AlertAction) -> Result<(), IpcError> {
        match action {
            AlertAction::MarkRead(id) => self.mark_read(id).await,
            AlertAction::Dismissed(id) => {
                self.shared.attention.lock().unwrap().resolved(id);
                Ok(())
            }
            AlertAction::Open(_) => Ok(()),
        }
    }

    /// Replies to event `id` with plain `text` through its provider.
    pub async fn reply(&self, id: i64, text: &str) -> Result<(), IpcError> {
        if text.trim().is_empty() {
            return Err(IpcError::new(ErrorCode::InvalidArgument, "the reply is empty"));
        }
        let event = self.stored(id).await?;
        let command = Command::Reply {
            message_id: event.message_id.clone(),
            inbox: event.inbox.clone(),
            thread: event.thread.clone(),
            text: text.to_owned(),
        };
        self.command(&event.account, command).await
    }

    pub(crate) async fn stored(&self, id: i64) -> Result<tocsin_store::StoredEvent, IpcError> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("event {id} is not in the history")))
    }

    async fn command(&self, account: &str, command: Command) -> Result<(), IpcError> {
        let Some(tx) = self.outgoing.get(account) else {
            return Err(IpcError::new(ErrorCode::NotConnected, format!("account \"{account}\" is not configured any more")));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        if tx.try_send(Outgoing::Command { command, reply }).is_err() {
            return Err(IpcError::new(ErrorCode::NotConnected, format!("account \"{account}\" is busy or stopped; try again")));
        }
        match tokio::time::timeout(tocsin_supervisor::COMMAND_TIMEOUT + Duration::from_secs(5), answer).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(reason))) => Err(IpcError::new(ErrorCode::ProviderRefused, reason)),
            Ok(Err(_)) => Err(IpcError::new(ErrorCode::NotConnected, "the connection dropped before the server answered; try again")),
            Err(_) => Err(IpcError::new(ErrorCode::NotConnected, format!("account \"{account}\" is not connected right now; try again when it is"))),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The address of the demo emulator, when the demo profile runs.
    pub fn demo_emulator_addr(&self) -> Option<std::net::SocketAddr> {
        self.emulator_addr
    }

    /// Stops every connection, commits every event already received, then returns.
    /// Later calls return at once.
    pub async fn shutdown(&self) {
        let Some(tasks) = self.tasks.lock().await.take() else { return };
        let before = self.store.count().await.ok();
        // Accounts connected until now missed nothing until now: the next start
        // catches up (or notes a gap) from here, not from their last event.
        let stopped_at = tocsin_model::now_ms();
        let connected: Vec<String> = (self.shared.statuses.iter())
            .map(|s| s.borrow().clone())
            .filter(|s| s.state == ConnState::Subscribed)
            .map(|s| s.account)
            .collect();
        self.cancel.cancel();
        for s in tasks.supervisors {
            let _ = s.await;
        }
        // Every sender is gone now: the writer drains the queue, commits, and ends.
        for p in tasks.pipeline {
            let _ = p.await;
        }
        let _ = tasks.status_task.await;
        let _ = tasks.retention_task.await;
        if !self.shared.demo {
            for (account, cache) in &self.names {
                let json = serde_json::to_string(&*cache.lock().unwrap()).unwrap_or_default();
                if let Err(e) = self.store.set_setting(&names_setting(account), &json).await {
                    tracing::warn!(account, "cannot keep the names looked up: {e}");
                }
            }
            for account in connected {
                if let Err(e) = self.store.mark_connected(&account, stopped_at).await {
                    tracing::warn!(account, "cannot note when the account was last connected: {e}");
                }
            }
        }
        let received: u64 = self.shared.statuses.iter().map(|s| s.borrow().events_received).sum();
        let stored = self.store.count().await.ok();
        tracing::info!(
            received,
            stored = stored.unwrap_or(-1),
            committed_during_shutdown = stored.zip(before).map_or(-1, |(a, b)| a - b),
            "all received events committed"
        );
        self.store.close().await;
        if let Some(emu) = tasks.emulator {
            emu.shutdown().await;
        }
    }
}

/// Follows one account's state: publishes changes and notes when the next
/// reconnect attempt is due.
async fn watch_status(mut rx: watch::Receiver<AccountStatus>, shared: Arc<Shared>) {
    while rx.changed().await.is_ok() {
        let (account, due) = {
            let s = rx.borrow_and_update();
            let due = match s.state {
                ConnState::Reconnecting { delay_ms, .. } => {
                    Some(tocsin_model::now_ms() + i64::try_from(delay_ms).unwrap_or(i64::MAX / 2))
                }
                _ => None,
            };
            (s.account.clone(), due)
        };
        {
            let mut map = shared.next_retry.lock().unwrap();
            match due {
                Some(t) => map.insert(account, t),
                None => map.remove(&account),
            };
        }
        shared.touch();
    }
}

async fn connection_for(
    account: &AccountConfig,
    store: &Store,
    outgoing: mpsc::Receiver<Outgoing>,
) -> Result<Connection, EngineError> {
    let mut conn = connection_with(account, store.cursor(&account.name).await?, outgoing)?;
    conn.resume_at_ms = store.connected_until(&account.name).await?;
    // A cache: unreadable means empty (names are looked up again).
    if let Some(json) = store.setting(&names_setting(&account.name)).await? {
        if let Ok(cache) = serde_json::from_str(&json) {
            conn.names = Arc::new(Mutex::new(cache));
        }
    }
    Ok(conn)
}

/// The setting that keeps an account's [`tocsin_providers::NameCache`] between runs.
fn names_setting(account: &str) -> String {
    format!("names:{account}")
}

/// The direct NATS connection for a topic-platform `account` with a `nats://` URL.
pub(crate) fn nats_connection_for(
    account: &AccountConfig,
    outgoing: mpsc::Receiver<Outgoing>,
) -> tocsin_supervisor::nats::NatsConnection {
    let name = account.name.clone();
    let keys = KeyStore::new();
    let token: KeySource = Arc::new(move || keys.get(&name).map_err(|e| e.to_string()));
    tocsin_supervisor::nats::NatsConnection {
        account: account.name.clone(),
        url: account.url.clone(),
        token: (account.auth != tocsin_providers::AuthMode::Query).then_some(token),
        topics: account.topics.clone(),
        backoff: account.backoff.to_backoff(),
        ca_file: account.ca_file.as_ref().map(PathBuf::from),
        resume_at_ms: None,
        outgoing,
    }
}

/// The supervisor's connection for `account`, resuming after `resume`.
pub(crate) fn connection_with(
    account: &AccountConfig,
    resume: Option<String>,
    outgoing: mpsc::Receiver<Outgoing>,
) -> Result<Connection, EngineError> {
    let adapter = tocsin_providers::adapter_for(account.provider(), &account.endpoint(), &account.subscriptions())
        .map_err(|reason| EngineError::Account { account: account.name.clone(), reason })?;
    let name = account.name.clone();
    let keys = KeyStore::new();
    let key: KeySource = Arc::new(move || keys.get(&name).map_err(|e| e.to_string()));
    let (name, keys) = (account.name.clone(), KeyStore::new());
    let save_key: tocsin_supervisor::KeySaver = Arc::new(move |k| keys.set(&name, k).map_err(|e| e.to_string()));
    Ok(Connection {
        account: account.name.clone(),
        adapter: Arc::from(adapter),
        key,
        backoff: account.backoff.to_backoff(),
        max_frame_bytes: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(10),
        resume,
        resume_at_ms: None,
        outgoing,
        rest_base: account.endpoint().rest_base(),
        ca_file: account.ca_file.as_ref().map(PathBuf::from),
        rate_limit: account.rate_limit(),
        names: Default::default(),
        save_key: Some(save_key),
    })
}
