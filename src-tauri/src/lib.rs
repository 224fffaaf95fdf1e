//! `tocsin-window`: Tocsin's history window, a process of its own.
//!
//! The resident `tocsin` process (engine, tray, notifications) starts it on
//! demand; when its window closes this process exits and its WebKit processes
//! with it, so nothing of WebKit stays resident in the tray.
//!
//! Owns: the Tauri window and its IPC commands. Reads come from the history
//! database opened read-only (WAL: the resident writes meanwhile); every change
//! (read state, replies, settings, accounts, keys, pause) goes to the resident
//! through the control socket ([`link`]), which also streams new rows, status and
//! "show this event" to the page.
//!
//! Must not: hold logic or state of its own beyond the connection. It survives a
//! restart of the resident (says so and reconnects), and a window of another
//! version says so instead of misbehaving.
//!
//! Layout: `lib.rs` (builder, run), `link.rs` (the control connection),
//! `window.rs` (the window), `commands/` (one file per domain).

pub mod commands;
pub mod link;
pub mod window;

use std::process::ExitCode;
use std::sync::Arc;

use tauri::{Manager, Runtime};

/// Event names the page listens to.
pub const EVENT_HISTORY: &str = "tocsin://history";
pub const EVENT_STATUS: &str = "tocsin://status";
pub const EVENT_FOCUS: &str = "tocsin://focus";
pub const EVENT_LINK: &str = "tocsin://link";

/// `tocsin-window [--focus EVENT]`.
pub fn main() -> ExitCode {
    // WebKit's accelerated compositing costs its web process about 110 MB (PSS,
    // measured: 240 MB with it, 128 MB without, same page) for a page of text and
    // lists that does not need it. Set before GTK or any thread starts; a user who
    // wants it back sets WEBKIT_DISABLE_COMPOSITING_MODE=0.
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOCSIN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let mut focus = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--focus" => focus = args.next().and_then(|v| v.parse::<i64>().ok()),
            "--version" => {
                println!("tocsin-window {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            _ => {}
        }
    }
    let app = match builder::<tauri::Wry>(focus).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("tocsin-window: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|_, _| {});
    ExitCode::SUCCESS
}

/// The window app: connects to the resident, then shows the window.
pub fn builder<R: Runtime>(focus: Option<i64>) -> tauri::Builder<R> {
    tauri::Builder::<R>::new()
        .manage(window::PendingFocus::new(focus))
        .invoke_handler(tauri::generate_handler![
            commands::history::history_list,
            commands::history::history_query,
            commands::history::history_detail,
            commands::history::mark_read,
            commands::history::set_read,
            commands::history::reply,
            commands::history::open_external,
            commands::accounts::accounts_list,
            commands::accounts::account_save,
            commands::accounts::account_remove,
            commands::accounts::key_set,
            commands::accounts::key_remove,
            commands::accounts::key_test,
            commands::settings::retention_get,
            commands::settings::retention_set,
            commands::settings::pause,
            commands::settings::autostart_enabled,
            commands::settings::set_autostart,
            commands::settings::rules_get,
            commands::settings::rules_set,
            commands::settings::rules_test,
            commands::settings::attention_get,
            commands::settings::attention_set,
            commands::status::status,
            commands::status::set_paused,
            commands::status::link_state,
            commands::window::take_focus,
        ])
        .setup(|app| {
            let link = Arc::new(link::Link::default());
            app.manage(link.clone());
            window::open(app.handle())?;
            tauri::async_runtime::spawn(link::run(app.handle().clone(), link));
            Ok(())
        })
}
