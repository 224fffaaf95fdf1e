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
