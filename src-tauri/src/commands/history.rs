//! History commands.

use tauri::State;
use tocsin_engine::IpcError;
use tocsin_model::HistoryItem;

use crate::gui::AppState;

/// Stored events, newest first; `before_id` pages to older ones.
#[tauri::command]
pub async fn history_list(
    state: State<'_, AppState>,
    limit: u32,
    before_id: Option<i64>,
) -> Result<Vec<HistoryItem>, IpcError> {
    state.engine.history(limit, before_id).await
}

/// Marks an event read at its provider and in the history.
#[tauri::command]
pub async fn mark_read(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.engine.mark_read(id).await
}

/// Replies to an event with plain text through its provider.
#[tauri::command]
pub async fn reply(state: State<'_, AppState>, id: i64, text: String) -> Result<(), IpcError> {
    state.engine.reply(id, &text).await
}
