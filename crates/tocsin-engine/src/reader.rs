//! Reading the history: pages, searches and one event in full, checked the same
//! way whoever asks. The engine reads through here on its own store; the window
//! process opens the database read-only ([`Reader::open`]) and reads through here
//! too, so a page looks the same from both.
//!
//! Must not: write. Every change (read state, replies, settings) goes to the
//! engine, which owns the database.

use std::path::Path;

use tocsin_model::{HistoryItem, HistoryPage, HistoryQuery};
use tocsin_store::Store;

use crate::detail::{self, EventDetail};
use crate::{ErrorCode, IpcError};

/// A read-only view of a history database.
#[derive(Clone)]
pub struct Reader {
    store: Store,
}

impl Reader {
    /// Opens the history at `path` read-only.
    pub async fn open(path: &Path) -> Result<Reader, IpcError> {
        Ok(Reader { store: Store::open_read_only(path).await? })
    }

    pub async fn list(&self, limit: u32, before_id: Option<i64>) -> Result<Vec<HistoryItem>, IpcError> {
        list(&self.store, limit, before_id).await
    }

    pub async fn query(&self, q: &HistoryQuery) -> Result<HistoryPage, IpcError> {
        query(&self.store, q).await
    }

    pub async fn detail(&self, id: i64, allow_remote_images: bool) -> Result<EventDetail, IpcError> {
        detail(&self.store, id, allow_remote_images).await
    }

    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// Stored events, newest first.
pub async fn list(store: &Store, limit: u32, before_id: Option<i64>) -> Result<Vec<HistoryItem>, IpcError> {
    if limit == 0 || limit > 1000 {
        return Err(IpcError::new(ErrorCode::InvalidArgument, "must be between 1 and 1000").with_field("limit"));
    }
    Ok(store.list(limit, before_id).await?)
}

/// One page of events matching `q`.
pub async fn query(store: &Store, q: &HistoryQuery) -> Result<HistoryPage, IpcError> {
    if q.limit == 0 || q.limit > 1000 {
        return Err(IpcError::new(ErrorCode::InvalidArgument, "must be between 1 and 1000").with_field("limit"));
    }
    if let (Some(a), Some(b)) = (q.since_ms, q.until_ms) {
        if a >= b {
            return Err(IpcError::new(ErrorCode::InvalidArgument, "the start must be before the end").with_field("since_ms"));
        }
    }
    Ok(store.query(q).await?)
}

/// Event `id` in full. Remote images are fetched only with `allow_remote_images`.
pub async fn detail(store: &Store, id: i64, allow_remote_images: bool) -> Result<EventDetail, IpcError> {
    let not_found = || IpcError::new(ErrorCode::NotFound, format!("event {id} is not in the history"));
    let item = store.item(id).await?.ok_or_else(not_found)?;
    let event = store.event(id).await?.ok_or_else(not_found)?;
    Ok(detail::detail(item, event, allow_remote_images).await)
}
