//! App settings that live outside the history: start at login.

use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;
use tocsin_engine::{ErrorCode, IpcError};

/// Whether Tocsin starts (in the tray) when the user logs in.
#[tauri::command]
pub fn autostart_enabled<R: Runtime>(app: AppHandle<R>) -> Result<bool, IpcError> {
    app.autolaunch()
        .is_enabled()
        .map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot read the login item: {e}")))
}

/// Turns start-at-login on or off.
#[tauri::command]
pub fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<bool, IpcError> {
    let launcher = app.autolaunch();
    let result = if enabled { launcher.enable() } else { launcher.disable() };
    result.map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot change the login item: {e}")))?;
    launcher
        .is_enabled()
        .map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot read the login item: {e}")))
}
