//! App settings that live outside the history: start at login.

use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;
use tocsin_engine::attention::{self, AttentionSettings};
use tocsin_engine::{ErrorCode, IpcError, Snapshot};
use tocsin_store::Retention;

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
    state.engine().rules_toml()
}

/// Replaces the rules; refused (with the rule and field named) when invalid.
#[tauri::command]
pub async fn rules_set(state: tauri::State<'_, crate::gui::AppState>, toml: String) -> Result<(), IpcError> {
    state.engine().set_rules_toml(&toml).await
}

/// What the rules (or the draft `toml`) decide for stored event `id`.
#[tauri::command]
pub async fn rules_test(
    state: tauri::State<'_, crate::gui::AppState>,
    id: i64,
    toml: Option<String>,
) -> Result<tocsin_model::rules::Decision, IpcError> {
    state.engine().test_rules(id, toml.as_deref()).await
}

/// Quiet hours, coalescing, repeats, notifications on/off and sound.
#[tauri::command]
pub fn attention_get(state: tauri::State<'_, crate::gui::AppState>) -> Result<AttentionSettings, IpcError> {
    Ok(state.engine().attention_settings())
}

/// Replaces the attention settings; refused with the field named when invalid.
#[tauri::command]
pub async fn attention_set(state: tauri::State<'_, crate::gui::AppState>, settings: AttentionSettings) -> Result<(), IpcError> {
    state.engine().set_attention_settings(settings).await
}

/// How much history is kept.
#[tauri::command]
pub async fn retention_get(state: tauri::State<'_, crate::gui::AppState>) -> Result<Retention, IpcError> {
    Ok(state.engine().retention().await)
}

/// Changes how much history is kept; applied at once.
#[tauri::command]
pub async fn retention_set(state: tauri::State<'_, crate::gui::AppState>, retention: Retention) -> Result<Retention, IpcError> {
    state.engine().set_retention(retention).await
}

/// Pauses notifications for an hour, until tomorrow 08:00, until resumed, or resumes.
#[tauri::command]
pub fn pause<R: Runtime>(app: AppHandle<R>, state: tauri::State<'_, crate::gui::AppState>, choice: PauseChoice) -> Result<Snapshot, IpcError> {
    let now = chrono::Local::now();
    let pause = match choice {
        PauseChoice::Hour => attention::pause_for_hour(&now),
        PauseChoice::Tomorrow => attention::pause_until_tomorrow(&now),
        PauseChoice::Forever => attention::Pause::Forever,
        PauseChoice::Resume => attention::resume(),
    };
    let snapshot = state.engine().set_pause(pause);
    crate::tray::update(&app, &snapshot);
    Ok(snapshot)
}

/// The pause menu's choices.
#[derive(Debug, Clone, Copy, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum PauseChoice {
    Hour,
    Tomorrow,
    Forever,
    Resume,
}
