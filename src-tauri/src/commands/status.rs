//! Connection status, pause, and the window's own link to Tocsin.

use tocsin_control::Request;
use tocsin_engine::settings::PauseChoice;
use tocsin_engine::{IpcError, Snapshot};

use super::LinkState;
use crate::link;

/// The aggregate state: accounts, unread urgent, paused.
#[tauri::command]
pub async fn status(link: LinkState<'_>) -> Result<Snapshot, IpcError> {
    link.call(Request::Status).await
}

/// Pauses (until resumed) or resumes notifications.
#[tauri::command]
pub async fn set_paused(link: LinkState<'_>, paused: bool) -> Result<Snapshot, IpcError> {
    let choice = if paused { PauseChoice::Forever } else { PauseChoice::Resume };
    link.call(Request::Pause { choice }).await
}

/// Whether this window is connected to a running Tocsin, and if not, why.
#[tauri::command]
pub fn link_state(link: LinkState<'_>) -> link::LinkState {
    link.state()
}
