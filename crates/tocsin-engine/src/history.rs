//! The engine's history commands: search and filters, the detail pane, read and
//! unread, and retention (settings plus the background cleanup).

use std::sync::Arc;
use std::time::Duration;

use tocsin_model::{HistoryPage, HistoryQuery, Tier};
use tocsin_store::{Retention, Store};
use tokio_util::sync::CancellationToken;

use crate::detail::EventDetail;
use crate::{settings, Engine, ErrorCode, IpcError, Shared};

/// How often retention runs by itself.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// The first run waits this long after start, so start-up stays quick.
const RETENTION_FIRST: Duration = Duration::from_secs(30);

impl Engine {
    /// One page of events matching `q`.
    pub async fn query(&self, q: &HistoryQuery) -> Result<HistoryPage, IpcError> {
        crate::reader::query(&self.store, q).await
    }

    /// Event `id` in full. Remote images are fetched only with `allow_remote_images`.
    pub async fn detail(&self, id: i64, allow_remote_images: bool) -> Result<EventDetail, IpcError> {
        crate::reader::detail(&self.store, id, allow_remote_images).await
    }

    /// Marks event `id` read (at the provider too, like [`Engine::mark_read`]) or
    /// unread (here only: providers have no "unread" command we send).
    pub async fn set_read(&self, id: i64, read: bool) -> Result<(), IpcError> {
        if read {
            return self.mark_read(id).await;
        }
        let event = self.stored(id).await?;
        if self.store.set_read(id, false).await? && event.tier == Tier::Urgent {
            self.shared.recount_unread(&self.store).await;
        }
        Ok(())
    }

    /// How much history is kept.
    pub async fn retention(&self) -> Retention {
        settings::retention(&self.store).await
    }

    /// Changes how much history is kept and applies it now.
    pub async fn set_retention(&self, retention: Retention) -> Result<Retention, IpcError> {
        retention.validate().map_err(|e| IpcError::new(ErrorCode::InvalidArgument, e))?;
        settings::save_retention(&self.store, &retention).await?;
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
        let retention: Retention = settings::retention(&store).await;
        match store.apply_retention(&retention, tocsin_model::now_ms()).await {
            Ok(0) => {}
            Ok(_) => shared.recount_unread(&store).await,
            Err(e) => tracing::warn!("history retention failed: {e}"),
        }
    }
}
