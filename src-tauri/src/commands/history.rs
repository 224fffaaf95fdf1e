//! History commands: list, search and filter, detail (read-only, here), read
//! state and replies (through the resident), and opening an event in its
//! provider's web app.

use tocsin_control::Request;
use tocsin_engine::detail::EventDetail;
use tocsin_engine::{ErrorCode, IpcError};
use tocsin_model::{HistoryItem, HistoryPage, HistoryQuery};

use super::LinkState;

/// Stored events, newest first; `before_id` pages to older ones.
#[tauri::command]
pub async fn history_list(link: LinkState<'_>, limit: u32, before_id: Option<i64>) -> Result<Vec<HistoryItem>, IpcError> {
    link.reader().await?.list(limit, before_id).await
}

/// One page of a search with filters.
#[tauri::command]
pub async fn history_query(link: LinkState<'_>, query: HistoryQuery) -> Result<HistoryPage, IpcError> {
    link.reader().await?.query(&query).await
}

/// One event in full, its HTML sanitised; remote images only when allowed.
#[tauri::command]
pub async fn history_detail(link: LinkState<'_>, id: i64, allow_remote_images: bool) -> Result<EventDetail, IpcError> {
    link.reader().await?.detail(id, allow_remote_images).await
}

/// Marks an event read at its provider and in the history.
#[tauri::command]
pub async fn mark_read(link: LinkState<'_>, id: i64) -> Result<(), IpcError> {
    link.call(Request::MarkRead { id }).await
}

/// Marks an event read (at the provider too) or unread (here).
#[tauri::command]
pub async fn set_read(link: LinkState<'_>, id: i64, read: bool) -> Result<(), IpcError> {
    link.call(Request::SetRead { id, read }).await
}

/// Replies to an event with plain text through its provider.
#[tauri::command]
pub async fn reply(link: LinkState<'_>, id: i64, text: String) -> Result<(), IpcError> {
    link.call(Request::Reply { id, text }).await
}

/// Opens the event's page in the provider's web app, in the user's browser. The
/// URL comes from the stored event (https only), never from the page.
#[tauri::command]
pub async fn open_external(link: LinkState<'_>, id: i64) -> Result<(), IpcError> {
    let detail = link.reader().await?.detail(id, false).await?;
    let url = detail
        .web_url
        .ok_or_else(|| IpcError::new(ErrorCode::NotFound, "this event has no page in the provider's web app"))?;
    open::that_detached(&url).map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot open the browser: {e}")))
}
