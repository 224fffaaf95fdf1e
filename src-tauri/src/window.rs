//! The history window. Created on demand and destroyed on close, so no webview
//! lives while the app sits in the tray.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

/// The window's label.
pub const MAIN: &str = "main";

/// Shows the history window, creating it if needed, and focuses it.
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

/// Opens the window at event `id`: creates or focuses it, then asks the page to
/// select the event (the page also asks for it on load, for a fresh window).
pub fn focus_event<R: Runtime>(app: &AppHandle<R>, id: i64) {
    use tauri::Emitter;
    app.state::<PendingFocus>().0.store(id, std::sync::atomic::Ordering::SeqCst);
    if let Err(e) = open(app) {
        tracing::error!("cannot open the window: {e}");
        return;
    }
    let _ = app.emit_to(MAIN, crate::gui::EVENT_FOCUS, id);
}

/// The event the window should select when it (re)loads; 0 = none.
#[derive(Default)]
pub struct PendingFocus(pub std::sync::atomic::AtomicI64);
