//! The tray app: Tauri wiring. The engine starts before the event loop; the tray and
//! the window follow its updates; closing the window frees the webview and keeps
//! the app in the tray; Quit (or SIGTERM) stops the engine after every received
//! event is committed.

use std::sync::Arc;

use tauri::{Emitter, Manager, RunEvent, Runtime};
use tocsin_engine::{Engine, Update};

use crate::cli::GlobalArgs;
use crate::notifier::DesktopNotifier;

/// State shared with IPC commands and the tray.
pub struct AppState {
    /// The running engine; replaced whole when the accounts change.
    engine: std::sync::RwLock<Arc<Engine>>,
    /// Serialises restarts.
    restarting: tokio::sync::Mutex<()>,
    pub args: GlobalArgs,
    pub config_dir: std::path::PathBuf,
    notifier: Arc<DesktopNotifier>,
}

impl AppState {
    /// The engine running now.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.read().unwrap().clone()
    }

    /// Whether `--demo` asked for the demo profile regardless of accounts.
    pub fn forced_demo(&self) -> bool {
        self.args.demo
    }
}

/// Stops the engine (committing every received event) and starts a new one on the
/// configuration file as it is now; the tray and the window follow the new one.
pub async fn restart_engine<R: Runtime>(app: &tauri::AppHandle<R>) -> Result<(), tocsin_engine::IpcError> {
    use tocsin_engine::{ErrorCode, IpcError};
    let state = app.state::<AppState>();
    let _guard = state.restarting.lock().await;
    let options = state.args.engine_options().map_err(|e| IpcError::new(ErrorCode::InvalidArgument, format!("{e:#}")))?;
    let old = state.engine();
    old.shutdown().await;
    let notifier: Arc<dyn tocsin_engine::Notifier> = state.notifier.clone();
    let engine = match Engine::start(options, notifier).await {
        Ok(e) => Arc::new(e),
        Err(e) => return Err(IpcError::new(ErrorCode::Internal, format!("Tocsin could not restart with the new accounts: {e}"))),
    };
    *state.engine.write().unwrap() = engine.clone();
    spawn_forwarder(app.clone(), engine.clone());
    if app.get_webview_window(crate::window::MAIN).is_some() {
        let _ = app.emit_to(crate::window::MAIN, EVENT_STATUS, &engine.snapshot());
    }
    tracing::info!(accounts = engine.snapshot().accounts.len(), "engine restarted on the new accounts");
    Ok(())
}

/// Event names the window listens to.
pub const EVENT_HISTORY: &str = "tocsin://history";
pub const EVENT_STATUS: &str = "tocsin://status";

pub fn run(args: &GlobalArgs) -> anyhow::Result<()> {
    let options = args.engine_options()?;
    let open_window = !args.minimized;
    let app = builder::<tauri::Wry>(options, args.clone(), open_window).build(tauri::generate_context!())?;
    app.run(move |app, event| match event {
        // The last window closed: stay in the tray.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(state) = app.try_state::<AppState>() {
                tauri::async_runtime::block_on(state.engine().shutdown());
            }
        }
        _ => {}
    });
    Ok(())
}

/// The Tauri app. The single-instance check runs first, so a second launch focuses
/// the first and exits before starting an engine of its own.
pub fn builder<R: Runtime>(options: tocsin_engine::EngineOptions, args: GlobalArgs, open_window: bool) -> tauri::Builder<R> {
    tauri::Builder::<R>::new()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("another launch: showing the window");
            if let Err(e) = crate::window::open(app) {
                tracing::error!("cannot open the window: {e}");
            }
        }))
        // Start at login, in the tray.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ))
        .manage(crate::window::PendingFocus::default())
        .invoke_handler(tauri::generate_handler![
            crate::commands::history::history_list,
            crate::commands::history::history_query,
            crate::commands::history::history_detail,
            crate::commands::history::mark_read,
            crate::commands::history::set_read,
            crate::commands::history::reply,
            crate::commands::history::open_external,
            crate::commands::accounts::accounts_list,
            crate::commands::accounts::account_save,
            crate::commands::accounts::account_remove,
            crate::commands::accounts::key_set,
            crate::commands::accounts::key_remove,
            crate::commands::accounts::key_test,
            crate::commands::settings::retention_get,
            crate::commands::settings::retention_set,
            crate::commands::settings::pause,
            crate::commands::status::status,
            crate::commands::status::set_paused,
            crate::commands::window::take_focus,
            crate::commands::settings::autostart_enabled,
            crate::commands::settings::set_autostart,
            crate::commands::settings::rules_get,
            crate::commands::settings::rules_set,
            crate::commands::settings::rules_test,
            crate::commands::settings::attention_get,
            crate::commands::settings::attention_set,
        ])
        .setup(move |app| {
            let (notifier, alert_actions) = DesktopNotifier::new();
            tauri::async_runtime::spawn(notifier.listen());
            let notifier = Arc::new(notifier);
            let engine = tauri::async_runtime::block_on(Engine::start(options, notifier.clone()))?;
            let engine = Arc::new(engine);
            let config_dir = crate::paths::config_dir(&args)?;
            app.manage(AppState {
                engine: std::sync::RwLock::new(engine.clone()),
                restarting: tokio::sync::Mutex::new(()),
                args: args.clone(),
                config_dir,
                notifier,
            });
            crate::tray::create(app.handle(), &engine.snapshot())?;
            spawn_forwarder(app.handle().clone(), engine.clone());
            spawn_alert_actions(app.handle().clone(), alert_actions);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                crate::signals::terminated().await;
                handle.exit(0);
            });
            if open_window {
                crate::window::open(app.handle())?;
            }
            Ok(())
        })
}

/// Event name: the window should show and select this event id.
pub const EVENT_FOCUS: &str = "tocsin://focus";

/// Acts on what the user did with a notification: Open shows the window at the
/// event; Mark read goes to the engine.
fn spawn_alert_actions<R: Runtime>(
    app: tauri::AppHandle<R>,
    mut actions: tokio::sync::mpsc::UnboundedReceiver<tocsin_engine::AlertAction>,
) {
    tauri::async_runtime::spawn(async move {
        while let Some(action) = actions.recv().await {
            tracing::info!(?action, "notification action");
            match action {
                tocsin_engine::AlertAction::Open(id) => {
                    crate::window::focus_event(&app, id);
                }
                other => {
                    let engine = app.state::<AppState>().engine();
                    if let Err(e) = engine.on_alert_action(other).await {
                        tracing::warn!("{e}");
                    }
                }
            }
        }
    });
}

/// Forwards engine updates to the tray and to the window (when it exists).
fn spawn_forwarder<R: Runtime>(app: tauri::AppHandle<R>, engine: Arc<Engine>) {
    let mut updates = engine.subscribe();
    // Changes made before this subscription (the engine is already connecting) are
    // not in the stream: start from the current state.
    crate::tray::update(&app, &engine.snapshot());
    tauri::async_runtime::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match updates.recv().await {
                Ok(Update::Stored(item)) => {
                    if app.get_webview_window(crate::window::MAIN).is_some() {
                        let _ = app.emit_to(crate::window::MAIN, EVENT_HISTORY, &item);
                    }
                }
                Ok(Update::Status(snapshot)) => {
                    crate::tray::update(&app, &snapshot);
                    if app.get_webview_window(crate::window::MAIN).is_some() {
                        let _ = app.emit_to(crate::window::MAIN, EVENT_STATUS, &snapshot);
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::debug!("the window skipped {n} updates; it reloads on focus"),
                Err(RecvError::Closed) => return,
            }
        }
    });
}
