//! The history window: one per process, created at start; closing it ends the
//! process (and its WebKit processes).

use std::sync::atomic::{AtomicI64, Ordering};

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

/// The window's label.
pub const MAIN: &str = "main";

/// Creates the window, or shows and focuses it.
pub fn open<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window(MAIN) {
        w.unminimize()?;
        w.show()?;
        return w.set_focus();
    }
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Tocsin")
        .inner_size(980.0, 680.0)
        .min_inner_size(560.0, 360.0)
        .build()?;
    Ok(())
}

/// Brings the window to the front and, with an event, asks the page to select it
/// (the page also asks on load, for an event given at start).
pub fn focus_event<R: Runtime>(app: &AppHandle<R>, event: Option<i64>) {
    if let Some(id) = event {
        app.state::<PendingFocus>().0.store(id, Ordering::SeqCst);
    }
    if let Err(e) = open(app) {
        tracing::error!("cannot show the window: {e}");
        return;
    }
    if let Some(id) = event {
        let _ = app.emit_to(MAIN, crate::EVENT_FOCUS, id);
    }
}

/// The event the window should select when it (re)loads; 0 = none.
#[derive(Default)]
pub struct PendingFocus(pub AtomicI64);

impl PendingFocus {
    pub fn new(event: Option<i64>) -> Self {
        PendingFocus(AtomicI64::new(event.unwrap_or(0)))
    }
}
