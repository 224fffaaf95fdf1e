//! Window state the page asks for.

use std::sync::atomic::Ordering;

use tauri::State;
use tocsin_engine::IpcError;

use crate::window::PendingFocus;

/// The event a notification asked to show, once (0 = none).
#[tauri::command]
pub fn take_focus(pending: State<'_, PendingFocus>) -> Result<Option<i64>, IpcError> {
    let id = pending.0.swap(0, Ordering::SeqCst);
    Ok((id != 0).then_some(id))
}
