//! History commands: list, search and filter, detail, read state, replies, and
//! opening an event in its provider's web app.

use tauri::State;
use tocsin_engine::detail::EventDetail;
use tocsin_engine::{ErrorCode, IpcError};
use tocsin_model::{HistoryItem, HistoryPage, HistoryQuery};

use crate::gui::AppState;

/// Stored events, newest first; `before_id` pages to older ones.
#[tauri::command]
pub async fn history_list(
    state: State<'_, AppState>,
    limit: u32,
    before_id: Option<i64>,
) -> Result<Vec<HistoryItem>, IpcError> {
    state.engine().history(limit, before_id).await
}

/// One page of a search with filters.
#[tauri::command]
pub async fn history_query(state: State<'_, AppState>, query: HistoryQuery) -> Result<HistoryPage, IpcError> {
    state.engine().query(&query).await
}

/// One event in full, its HTML sanitised; remote images only when allowed.
#[tauri::command]
pub async fn history_detail(state: State<'_, AppState>, id: i64, allow_remote_images: bool) -> Result<EventDetail, IpcError> {
    state.engine().detail(id, allow_remote_images).await
}

/// Marks an event read at its provider and in the history.
#[tauri::command]
pub async fn mark_read(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.engine().mark_read(id).await
}

/// Marks an event read (at the provider too) or unread (here).
#[tauri::command]
pub async fn set_read(state: State<'_, AppState>, id: i64, read: bool) -> Result<(), IpcError> {
    state.engine().set_read(id, read).await
}

/// Replies to an event with plain text through its provider.
#[tauri::command]
pub async fn reply(state: State<'_, AppState>, id: i64, text: String) -> Result<(), IpcError> {
    state.engine().reply(id, &text).await
}

/// Opens the event's page in the provider's web app, in the user's browser. The
/// URL comes from the stored event (https only), never from the page.
#[tauri::command]
pub async fn open_external(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    let detail = state.engine().detail(id, false).await?;
    let url = detail
        .web_url
        .ok_or_else(|| IpcError::new(ErrorCode::NotFound, "this event has no page in the provider's web app"))?;
    open::that_detached(&url).map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot open the browser: {e}")))
}
