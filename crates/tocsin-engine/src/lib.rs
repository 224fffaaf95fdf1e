//! The engine: wires configuration, keys, connection supervisors, the history store
//! and the notifier into one running service, used alike by the tray app, the
//! headless mode and the tests.
//!
//! Owns: start-up (config → accounts → supervisors, or the demo profile with its
//! in-process emulator), the event pipeline (supervisors → bounded channel →
//! batched store writes → rules → notifications), the aggregate state the tray and
//! window show ([`Snapshot`]), pause, and an orderly shutdown that commits every
//! event already received before it returns.
//!
//! Must not: touch GTK, Tauri or D-Bus directly. The app crate plugs in a
//! [`Notifier`] and listens to [`Update`]s.
//!
//! Layout: `lib.rs` (Engine), `pipeline.rs` (writer and notify tasks), `config.rs`,
//! `demo.rs`, `snapshot.rs`, `notifier.rs`, `error.rs`.

pub mod attention;
pub mod config;
mod demo;
pub mod error;
pub mod notifier;
mod pipeline;
pub mod snapshot;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tocsin_model::{EventKind, HistoryItem, Tier};
use tocsin_providers::Command;
use tocsin_secrets::KeyStore;
use tocsin_store::Store;
use tocsin_supervisor::{Connection, KeySource, Outgoing, DEFAULT_MAX_FRAME};

pub use config::{AccountConfig, Config, ConfigError};
pub use error::{ErrorCode, IpcError};
pub use notifier::{Alert, AlertAction, LogNotifier, Notifier, NotifyError};
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
    paused: AtomicBool,
    demo: bool,
    store_error: Mutex<Option<String>>,
    notifier_error: Mutex<Option<String>>,
    updates: broadcast::Sender<Update>,
    dirty: Notify,
}

impl Shared {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            accounts: self.statuses.iter().map(|s| s.borrow().clone()).collect(),
            unread_urgent: self.unread_urgent.load(Ordering::SeqCst),
            paused: self.paused.load(Ordering::SeqCst),
            demo: self.demo,
            store_error: self.store_error.lock().unwrap().clone(),
            notifier_error: self.notifier_error.lock().unwrap().clone(),
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
}

struct Tasks {
    supervisors: Vec<JoinHandle<()>>,
    pipeline: Vec<JoinHandle<()>>,
    status_task: JoinHandle<()>,
    emulator: Option<tocsin_emulator::Emulator>,
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
        let shared = Arc::new(Shared {
            statuses,
            unread_urgent: AtomicU32::new(u32::try_from(unread).unwrap_or(u32::MAX)),
            paused: AtomicBool::new(false),
            demo,
            store_error: Mutex::new(None),
            notifier_error: Mutex::new(None),
            updates: broadcast::channel(1024).0,
            dirty: Notify::new(),
        });
        let cancel = CancellationToken::new();
        let outgoing = ackers.clone();
        let pipeline = pipeline::spawn(store.clone(), shared.clone(), event_rx, notifier.clone(), ackers);
        let mut supervisors = Vec::new();
        for (conn, status_tx) in connections.into_iter().zip(status_senders) {
            let mut rx = status_tx.subscribe();
            let s = shared.clone();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    s.touch();
                }
            });
            supervisors.push(tokio::spawn(tocsin_supervisor::run(conn, event_tx.clone(), status_tx, cancel.clone())));
        }
        for (account, status_tx) in nats_accounts.into_iter().zip(nats_status) {
            let mut rx = status_tx.subscribe();
            let s = shared.clone();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    s.touch();
                }
            });
            let name = account.name.clone();
            let keys = KeyStore::new();
            let token: KeySource = Arc::new(move || keys.get(&name).map_err(|e| e.to_string()));
            let conn = tocsin_supervisor::nats::NatsConnection {
                account: account.name.clone(),
                url: account.url.clone(),
                token: (account.auth != tocsin_providers::AuthMode::Query).then_some(token),
                topics: account.topics.clone(),
                backoff: account.backoff.to_backoff(),
            };
            supervisors.push(tokio::spawn(tocsin_supervisor::nats::run_nats(conn, event_tx.clone(), status_tx, cancel.clone())));
        }
        drop(event_tx);
        let status_task = tokio::spawn(snapshot::publish_loop(shared.clone(), cancel.clone()));
        let emulator_addr = emulator.as_ref().map(|e| e.local_addr());
        let tasks = Tasks { supervisors, pipeline, status_task, emulator };
        Ok(Engine { store, shared, cancel, tasks: tokio::sync::Mutex::new(Some(tasks)), emulator_addr, outgoing, notifier })
    }

    /// The aggregate state now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// New events and state changes, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.shared.updates.subscribe()
    }

    /// Pauses or resumes notifications (events are still stored).
    pub fn set_paused(&self, paused: bool) -> Snapshot {
        self.shared.paused.store(paused, Ordering::SeqCst);
        self.shared.touch();
        self.snapshot()
    }

    /// Stored events, newest first.
    pub async fn history(&self, limit: u32, before_id: Option<i64>) -> Result<Vec<HistoryItem>, IpcError> {
        if limit == 0 || limit > 1000 {
            return Err(IpcError::new(ErrorCode::InvalidArgument, "limit must be between 1 and 1000"));
        }
        Ok(self.store.list(limit, before_id).await?)
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
            let _ = self.shared.unread_urgent.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            self.shared.touch();
        }
        // Read here: its notification has nothing more to say.
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
            AlertAction::Open(_) | AlertAction::Dismissed(_) => Ok(()),
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

    async fn stored(&self, id: i64) -> Result<tocsin_store::StoredEvent, IpcError> {
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
        self.cancel.cancel();
        for s in tasks.supervisors {
            let _ = s.await;
        }
        // Every sender is gone now: the writer drains the queue, commits, and ends.
        for p in tasks.pipeline {
            let _ = p.await;
        }
        let _ = tasks.status_task.await;
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

async fn connection_for(
    account: &AccountConfig,
    store: &Store,
    outgoing: mpsc::Receiver<Outgoing>,
) -> Result<Connection, EngineError> {
    let adapter = tocsin_providers::adapter_for(account.provider(), &account.endpoint(), &account.subscriptions())
        .map_err(|reason| EngineError::Account { account: account.name.clone(), reason })?;
    let name = account.name.clone();
    let keys = KeyStore::new();
    let key: KeySource = Arc::new(move || keys.get(&name).map_err(|e| e.to_string()));
    Ok(Connection {
        account: account.name.clone(),
        adapter: Arc::from(adapter),
        key,
        backoff: account.backoff.to_backoff(),
        max_frame_bytes: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(10),
        resume: store.cursor(&account.name).await?,
        outgoing,
        rest_base: account.endpoint().rest_base(),
    })
}
