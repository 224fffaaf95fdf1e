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
