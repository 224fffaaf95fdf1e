//! The resident process: the engine, the tray (unless headless), notifications,
//! the control socket and the window launcher, until Quit, SIGTERM or SIGINT.
//!
//! Owns: start-up order (the socket first, so a second launch finds this one
//! before any engine starts), the running engine and its restarts when accounts
//! change, what each control request does ([`Resident`] is the socket's
//! handler), forwarding engine updates to the tray and to subscribed clients,
//! and an orderly stop that commits every received event.
//!
//! Must not: show a window. The window is the `tocsin-window` process
//! ([`crate::window`]); this one never links WebKit or GTK.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tocsin_control::{ClientInfo, Clients, Push, Request, Role, Welcome};
use tocsin_engine::{Engine, ErrorCode, IpcError, Update};

use crate::cli::GlobalArgs;
use crate::notifier::DesktopNotifier;
use crate::tray::{Tray, TrayAction};
use crate::window::WindowLauncher;

/// With a tray (a desktop session) or without (servers, tests, benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tray { open_window: bool },
    Headless,
}

/// The running resident: the socket's handler, shared by the tray and the
/// notification listener.
pub struct Resident {
    engine: std::sync::RwLock<Arc<Engine>>,
    /// Serialises restarts.
    restarting: tokio::sync::Mutex<()>,
    /// Stops the forwarder of the engine running now (replaced on restart).
    forwarder: std::sync::Mutex<CancellationToken>,
    args: GlobalArgs,
    config_dir: PathBuf,
    history: PathBuf,
    notifier: Arc<DesktopNotifier>,
    pushes: broadcast::Sender<Push>,
    window: WindowLauncher,
    tray: Arc<tokio::sync::OnceCell<Tray>>,
    quit: CancellationToken,
}

/// Runs the resident until it is told to stop.
pub fn run(args: &GlobalArgs, mode: Mode) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args.clone(), mode))
}

async fn run_async(args: GlobalArgs, mode: Mode) -> anyhow::Result<()> {
    // Before anything else: a SIGTERM during start-up still shuts down in order.
    let terminated = crate::signals::terminated();
    let socket = tocsin_control::socket_path()?;
    let listener = match tocsin_control::bind(&socket).await {
        Ok(l) => l,
        Err(tocsin_control::BindError::AlreadyRunning { .. }) => return another_launch(mode).await,
        Err(e) => return Err(e.into()),
    };
    let options = args.engine_options()?;
    let history = options.data_dir.join("history.db");
    let (notifier, mut alert_actions) = DesktopNotifier::new();
    tokio::spawn(notifier.listen());
    let notifier = Arc::new(notifier);
    let engine = Arc::new(Engine::start(options, notifier.clone()).await?);
    let clients = Clients::default();
    let (pushes, _) = broadcast::channel(1024);
    let resident = Arc::new(Resident {
        engine: std::sync::RwLock::new(engine.clone()),
        restarting: tokio::sync::Mutex::new(()),
        forwarder: std::sync::Mutex::new(CancellationToken::new()),
        config_dir: crate::paths::config_dir(&args)?,
        args,
        history,
        notifier,
        pushes,
        window: WindowLauncher::new(clients.clone()),
        tray: Arc::new(tokio::sync::OnceCell::new()),
        quit: CancellationToken::new(),
    });
    let stop_serving = CancellationToken::new();
    let server = tokio::spawn(tocsin_control::serve(listener, resident.clone(), clients, stop_serving.clone()));

    if let Mode::Tray { .. } = mode {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        match Tray::start(&engine.snapshot(), tx).await {
            Ok(tray) => {
                let _ = resident.tray.set(tray);
                tokio::spawn(tray_actions(resident.clone(), rx));
            }
            Err(e) => tracing::warn!("no tray: {e}; notifications and the window still work"),
        }
    }
    resident.forward(engine.clone());
    {
        let resident = resident.clone();
        tokio::spawn(async move {
            while let Some(action) = alert_actions.recv().await {
                tracing::info!(?action, "notification action");
                match action {
                    tocsin_engine::AlertAction::Open(id) => resident.open_window(Some(id)),
                    other => {
                        if let Err(e) = resident.engine().on_alert_action(other).await {
                            tracing::warn!("{e}");
                        }
                    }
                }
            }
        });
    }
    let snapshot = engine.snapshot();
    if let Some(problem) = &snapshot.keychain_error {
        tracing::error!("keychain: {problem}");
    }
    tracing::info!(
        accounts = snapshot.accounts.len(),
        demo = snapshot.demo,
        socket = %socket.display(),
        headless = mode == Mode::Headless,
        "tocsin running; stop with Quit, Ctrl-C or SIGTERM"
    );
    if let Mode::Tray { open_window: true } = mode {
        resident.open_window(None);
    }

    let quit_from_user = tokio::select! {
        () = terminated => false,
        () = resident.quit.cancelled() => true,
    };
    stop_serving.cancel();
    let _ = server.await;
    if quit_from_user {
        // Quit means the whole app: the window this process started goes too.
        resident.window.close();
    }
    // The icon goes at once; committing what was received may take a moment.
    if let Some(tray) = resident.tray.get() {
        tray.hide().await;
    }
    resident.engine().shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Another resident owns the socket: a plain launch shows its window, a
/// `--minimized` one leaves it be; headless mode refuses to run a second engine.
async fn another_launch(mode: Mode) -> anyhow::Result<()> {
    match mode {
        Mode::Headless => anyhow::bail!("another Tocsin is already running (see `tocsin status`)"),
        // Started at login (or by hand) in the tray while one runs: nothing to show.
        Mode::Tray { open_window: false } => {
            tracing::info!("Tocsin is already running");
            return Ok(());
        }
        Mode::Tray { open_window: true } => {}
    }
    let client = crate::live::connect().await?.ok_or_else(|| anyhow::anyhow!("Tocsin stopped while this launch asked it to open"))?;
    client.call::<()>(Request::OpenWindow { event: None }).await?;
    tracing::info!("Tocsin is already running: showing its window");
    Ok(())
}

async fn tray_actions(resident: Arc<Resident>, mut actions: tokio::sync::mpsc::UnboundedReceiver<TrayAction>) {
    while let Some(action) = actions.recv().await {
        tracing::debug!(?action, "tray");
        match action {
            TrayAction::Open => resident.open_window(None),
            TrayAction::Pause(choice) => {
                resident.engine().set_pause(choice.at(&chrono::Local::now()));
            }
            TrayAction::Reconnect => resident.engine().reconnect_all(),
            TrayAction::Quit => resident.quit.cancel(),
        }
    }
}

impl Resident {
    /// The engine running now.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.read().unwrap().clone()
    }

    fn open_window(&self, event: Option<i64>) {
        if let Err(e) = self.window.open(event) {
            tracing::error!("cannot open the window: {e}");
        }
    }

    /// Sends `engine`'s updates to the tray and to subscribed clients, until the
    /// next restart replaces it.
    fn forward(&self, engine: Arc<Engine>) {
        let stop = CancellationToken::new();
        let old = std::mem::replace(&mut *self.forwarder.lock().unwrap(), stop.clone());
        old.cancel();
        let mut updates = engine.subscribe();
        let (tray, pushes) = (self.tray.clone(), self.pushes.clone());
        let status = move |snapshot: tocsin_engine::Snapshot| {
            let (tray, pushes) = (tray.clone(), pushes.clone());
            async move {
                if let Some(tray) = tray.get() {
                    tray.update(&snapshot).await;
                }
                let _ = pushes.send(Push::Status(snapshot));
            }
        };
        let pushes = self.pushes.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            // Changes made before this subscription are not in the stream.
            status(engine.snapshot()).await;
            loop {
                let update = tokio::select! {
                    () = stop.cancelled() => return,
                    u = updates.recv() => u,
                };
                match update {
                    Ok(Update::Stored(item)) => {
                        let _ = pushes.send(Push::Stored(item));
                    }
                    Ok(Update::Status(snapshot)) => status(snapshot).await,
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!("skipped {n} updates; sending the current status");
                        status(engine.snapshot()).await;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// Stops the engine (committing every received event) and starts a new one on
    /// the configuration file as it is now.
    async fn restart(&self) -> Result<(), IpcError> {
        let _guard = self.restarting.lock().await;
        let options = self.args.engine_options().map_err(|e| IpcError::new(ErrorCode::InvalidArgument, format!("{e:#}")))?;
        self.engine().shutdown().await;
        let notifier: Arc<dyn tocsin_engine::Notifier> = self.notifier.clone();
        let engine = Arc::new(
            Engine::start(options, notifier)
                .await
                .map_err(|e| IpcError::new(ErrorCode::Internal, format!("Tocsin could not restart with the new accounts: {e}")))?,
        );
        *self.engine.write().unwrap() = engine.clone();
        self.forward(engine.clone());
        tracing::info!(accounts = engine.snapshot().accounts.len(), "engine restarted on the new accounts");
        Ok(())
    }

    async fn dispatch(&self, request: Request) -> Result<serde_json::Value, IpcError> {
        use serde_json::to_value;
        let engine = self.engine();
        let json = |v: Result<serde_json::Value, serde_json::Error>| v.map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()));
        match request {
            Request::Status => json(to_value(engine.snapshot())),
            Request::Subscribe => Ok(serde_json::Value::Null),
            Request::Pause { choice } => json(to_value(engine.set_pause(choice.at(&chrono::Local::now())))),
            Request::Reconnect => {
                engine.reconnect_all();
                Ok(serde_json::Value::Null)
            }
            Request::OpenWindow { event } => {
                self.window.open(event)?;
                Ok(serde_json::Value::Null)
            }
            Request::MarkRead { id } => json(to_value(engine.mark_read(id).await?)),
            Request::SetRead { id, read } => json(to_value(engine.set_read(id, read).await?)),
            Request::Reply { id, text } => json(to_value(engine.reply(id, &text).await?)),
            Request::RulesGet => json(to_value(engine.rules_toml()?)),
            Request::RulesSet { toml } => json(to_value(engine.set_rules_toml(&toml).await?)),
            Request::RulesTest { id, toml } => json(to_value(engine.test_rules(id, toml.as_deref()).await?)),
            Request::AttentionGet => json(to_value(engine.attention_settings())),
            Request::AttentionSet { settings } => json(to_value(engine.set_attention_settings(settings).await?)),
            Request::RetentionGet => json(to_value(engine.retention().await)),
            Request::RetentionSet { retention } => json(to_value(engine.set_retention(retention).await?)),
            Request::AccountsList => json(to_value(engine.accounts())),
            Request::AccountSave { account, original_name } => {
                if original_name.is_none() && engine.snapshot().demo && self.args.demo {
                    return Err(IpcError::new(
                        ErrorCode::InvalidArgument,
                        "Tocsin runs the demo profile (--demo); start it without --demo to use accounts",
                    )
                    .with_field("name"));
                }
                tocsin_engine::accounts::save_account(&self.config_dir, &account, original_name.as_deref())?;
                if let Some(old) = original_name.filter(|old| *old != account.name) {
                    // A renamed account keeps its key under the new name.
                    let keys = engine.keys().clone();
                    if let Ok(key) = keys.keychain_get(&old) {
                        let _ = keys.set(account.name.trim(), &key);
                        let _ = keys.remove(&old);
                    }
                }
                self.restart().await?;
                json(to_value(self.engine().accounts()))
            }
            Request::AccountRemove { name } => {
                tocsin_engine::accounts::remove_account(&self.config_dir, &name)?;
                let _ = engine.keys().remove(&name);
                self.restart().await?;
                json(to_value(self.engine().accounts()))
            }
            Request::ConfigChanged => {
                self.restart().await?;
                json(to_value(self.engine().snapshot()))
            }
            Request::KeySet { account, key } => json(to_value(engine.set_key(&account, key)?)),
            Request::KeyRemove { account } => json(to_value(engine.remove_key(&account)?)),
            Request::KeyTest { account } => json(to_value(engine.test_key(&account).await?)),
            Request::AutostartGet => json(to_value(crate::autostart::enabled()?)),
            Request::AutostartSet { enabled } => json(to_value(crate::autostart::set(enabled)?)),
            Request::Quit => {
                self.quit.cancel();
                Ok(serde_json::Value::Null)
            }
        }
    }
}

impl tocsin_control::Handler for Resident {
    fn admit(&self, client: &ClientInfo) -> Result<Welcome, IpcError> {
        if client.role == Role::Window {
            self.window.admit(client)?;
        }
        Ok(Welcome::new(self.history.clone()))
    }

    async fn handle(&self, client: &ClientInfo, request: Request) -> Result<serde_json::Value, IpcError> {
        let subscribe = matches!(request, Request::Subscribe);
        let reply = self.dispatch(request).await;
        if subscribe && client.role == Role::Window {
            self.window.subscribed(client.id);
        }
        reply
    }

    fn pushes(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    fn gone(&self, client: &ClientInfo) {
        if client.role == Role::Window {
            self.window.gone(client);
        }
    }
}
