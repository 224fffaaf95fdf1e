//! Settings: rules, attention, retention, pause and start-at-login, all owned by
//! the resident (its engine's settings module) and changed through it.

use tocsin_control::Request;
use tocsin_engine::attention::AttentionSettings;
use tocsin_engine::settings::PauseChoice;
use tocsin_engine::{IpcError, Snapshot};
use tocsin_store::Retention;

use super::LinkState;

/// Whether Tocsin starts (in the tray) when the user logs in.
#[tauri::command]
pub async fn autostart_enabled(link: LinkState<'_>) -> Result<bool, IpcError> {
    link.call(Request::AutostartGet).await
}

/// Turns start-at-login on or off.
#[tauri::command]
pub async fn set_autostart(link: LinkState<'_>, enabled: bool) -> Result<bool, IpcError> {
    link.call(Request::AutostartSet { enabled }).await
}

/// The urgency rules as TOML.
#[tauri::command]
pub async fn rules_get(link: LinkState<'_>) -> Result<String, IpcError> {
    link.call(Request::RulesGet).await
}

/// Replaces the rules; refused (with the rule and field named) when invalid.
#[tauri::command]
pub async fn rules_set(link: LinkState<'_>, toml: String) -> Result<(), IpcError> {
    link.call(Request::RulesSet { toml }).await
}

/// What the rules (or the draft `toml`) decide for stored event `id`.
#[tauri::command]
pub async fn rules_test(link: LinkState<'_>, id: i64, toml: Option<String>) -> Result<tocsin_model::rules::Decision, IpcError> {
    link.call(Request::RulesTest { id, toml }).await
}

/// Quiet hours, coalescing, repeats, notifications on/off and sound.
#[tauri::command]
pub async fn attention_get(link: LinkState<'_>) -> Result<AttentionSettings, IpcError> {
    link.call(Request::AttentionGet).await
}

/// Replaces the attention settings; refused with the field named when invalid.
#[tauri::command]
pub async fn attention_set(link: LinkState<'_>, settings: AttentionSettings) -> Result<(), IpcError> {
    link.call(Request::AttentionSet { settings }).await
}

/// How much history is kept.
#[tauri::command]
pub async fn retention_get(link: LinkState<'_>) -> Result<Retention, IpcError> {
    link.call(Request::RetentionGet).await
}

/// Changes how much history is kept; applied at once.
#[tauri::command]
pub async fn retention_set(link: LinkState<'_>, retention: Retention) -> Result<Retention, IpcError> {
    link.call(Request::RetentionSet { retention }).await
}

/// Pauses notifications for an hour, until tomorrow 08:00, until resumed, or resumes.
#[tauri::command]
pub async fn pause(link: LinkState<'_>, choice: PauseChoice) -> Result<Snapshot, IpcError> {
    link.call(Request::Pause { choice }).await
}
