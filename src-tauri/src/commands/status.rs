//! Connection status and pause.

use tauri::{AppHandle, Runtime, State};
use tocsin_engine::{IpcError, Snapshot};

use crate::gui::AppState;

/// The aggregate state: accounts, unread urgent, paused.
#[tauri::command]
pub fn status(state: State<'_, AppState>) -> Result<Snapshot, IpcError> {
    Ok(state.engine().snapshot())
}

/// Pauses or resumes notifications.
#[tauri::command]
pub fn set_paused<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, paused: bool) -> Result<Snapshot, IpcError> {
    let snapshot = state.engine().set_paused(paused);
    crate::tray::update(&app, &snapshot);
    Ok(snapshot)
}
