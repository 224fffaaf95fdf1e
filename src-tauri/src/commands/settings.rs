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

/// The urgency rules as TOML (the window's rule editor reads and writes this).
#[tauri::command]
pub fn rules_get(state: tauri::State<'_, crate::gui::AppState>) -> Result<String, IpcError> {
    state.engine.rules_toml()
}

/// Replaces the rules; refused (with the rule and field named) when invalid.
#[tauri::command]
pub async fn rules_set(state: tauri::State<'_, crate::gui::AppState>, toml: String) -> Result<(), IpcError> {
    state.engine.set_rules_toml(&toml).await
}

/// What the rules (or the draft `toml`) decide for stored event `id`.
#[tauri::command]
pub async fn rules_test(
    state: tauri::State<'_, crate::gui::AppState>,
    id: i64,
    toml: Option<String>,
) -> Result<tocsin_model::rules::Decision, IpcError> {
    state.engine.test_rules(id, toml.as_deref()).await
}

/// Quiet hours, coalescing and repeats, as JSON.
#[tauri::command]
pub fn attention_get(state: tauri::State<'_, crate::gui::AppState>) -> Result<serde_json::Value, IpcError> {
    serde_json::to_value(state.engine.attention_settings()).map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))
}

/// Replaces the attention settings; refused with the field named when invalid.
#[tauri::command]
pub async fn attention_set(state: tauri::State<'_, crate::gui::AppState>, settings: serde_json::Value) -> Result<(), IpcError> {
    let settings = serde_json::from_value(settings).map_err(|e| IpcError::new(ErrorCode::InvalidArgument, e.to_string()))?;
    state.engine.set_attention_settings(settings).await
}
