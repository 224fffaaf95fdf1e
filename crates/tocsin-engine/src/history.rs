//! The engine's history commands: search and filters, the detail pane, read and
//! unread, and retention (settings plus the background cleanup).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tocsin_model::{HistoryPage, HistoryQuery, Tier};
use tocsin_store::{Retention, Store};
use tokio_util::sync::CancellationToken;

use crate::detail::{self, EventDetail};
use crate::{load_json, Engine, ErrorCode, IpcError, Shared};

const SETTING_RETENTION: &str = "retention";
/// How often retention runs by itself.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// The first run waits this long after start, so start-up stays quick.
const RETENTION_FIRST: Duration = Duration::from_secs(30);

impl Engine {
    /// One page of events matching `q`.
    pub async fn query(&self, q: &HistoryQuery) -> Result<HistoryPage, IpcError> {
        if q.limit == 0 || q.limit > 1000 {
            return Err(IpcError::new(ErrorCode::InvalidArgument, "limit: must be between 1 and 1000"));
        }
        if let (Some(a), Some(b)) = (q.since_ms, q.until_ms) {
            if a >= b {
                return Err(IpcError::new(ErrorCode::InvalidArgument, "time range: the start must be before the end"));
            }
        }
        Ok(self.store.query(q).await?)
    }

    /// Event `id` in full. Remote images are fetched only with `allow_remote_images`.
    pub async fn detail(&self, id: i64, allow_remote_images: bool) -> Result<EventDetail, IpcError> {
        let not_found = || IpcError::new(ErrorCode::NotFound, format!("event {id} is not in the history"));
        let item = self.store.item(id).await?.ok_or_else(not_found)?;
        let event = self.store.event(id).await?.ok_or_else(not_found)?;
        Ok(detail::detail(item, event, allow_remote_images).await)
    }

    /// Marks event `id` read (at the provider too, like [`Engine::mark_read`]) or
    /// unread (here only: providers have no "unread" command we send).
    pub async fn set_read(&self, id: i64, read: bool) -> Result<(), IpcError> {
        if read {
            return self.mark_read(id).await;
        }
        let event = self.stored(id).await?;
        if self.store.set_read(id, false).await? && event.tier == Tier::Urgent {
            self.shared.unread_urgent.fetch_add(1, Ordering::SeqCst);
            self.shared.touch();
        }
        Ok(())
    }

    /// How much history is kept.
    pub async fn retention(&self) -> Retention {
        load_json(&self.store, SETTING_RETENTION).await.unwrap_or_default()
    }

    /// Changes how much history is kept and applies it now.
    pub async fn set_retention(&self, retention: Retention) -> Result<Retention, IpcError> {
        retention.validate().map_err(|e| IpcError::new(ErrorCode::InvalidArgument, e))?;
        let json = serde_json::to_string(&retention).map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
        self.store.set_setting(SETTING_RETENTION, &json).await?;
        self.shared.retention_changed.notify_one();
        Ok(retention)
    }
}

/// Applies the retention setting 30 s after start, every hour, and whenever it
/// changes. Deleting events never touches unread urgent counts of kept events;
/// the count is re-read after each run.
pub(crate) async fn retention_loop(store: Store, shared: Arc<Shared>, cancel: CancellationToken) {
    let mut wait = RETENTION_FIRST;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
            () = shared.retention_changed.notified() => {}
        }
        wait = RETENTION_EVERY;
        let retention: Retention = load_json(&store, SETTING_RETENTION).await.unwrap_or_default();
        match store.apply_retention(&retention, tocsin_model::now_ms()).await {
            Ok(0) => {}
            Ok(_) => {
                if let Ok(n) = store.unread_count(Tier::Urgent).await {
                    shared.unread_urgent.store(u32::try_from(n).unwrap_or(u32::MAX), Ordering::SeqCst);
                    shared.touch();
                }
            }
            Err(e) => tracing::warn!("history retention failed: {e}"),
        }
    }
}
