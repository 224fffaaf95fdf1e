//! Retention: how long and how many events the history keeps, and the cleanup that
//! enforces it in small batches so the window never waits on a long delete.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Store, StoreError};

/// How much history to keep. `None` keeps everything on that axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export)]
pub struct Retention {
    /// Delete events received more than this many days ago.
    pub max_age_days: Option<u32>,
    /// Keep at most this many events (the newest).
    pub max_events: Option<u32>,
}

impl Default for Retention {
    /// A year, and a million events.
    fn default() -> Self {
        Retention { max_age_days: Some(365), max_events: Some(1_000_000) }
    }
}

impl Retention {
    /// Refuses values that would delete everything by mistake.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_age_days == Some(0) {
            return Err("maxAgeDays: must be at least 1 day (or keep forever)".into());
        }
        if self.max_events.is_some_and(|n| n < 100) {
            return Err("maxEvents: must be at least 100 (or no limit)".into());
        }
        Ok(())
    }
}

/// Rows deleted per transaction.
const BATCH: i64 = 5_000;

impl Store {
    /// Deletes what `retention` no longer keeps, as of `now_ms`, in batches.
    /// Returns how many events were deleted.
    pub async fn apply_retention(&self, retention: &Retention, now_ms: i64) -> Result<u64, StoreError> {
        let mut deleted = 0u64;
        if let Some(days) = retention.max_age_days {
            let cutoff = now_ms - i64::from(days) * 86_400_000;
            deleted += self.delete_in_batches("received_at_ms < ?", cutoff).await?;
        }
        if let Some(max) = retention.max_events {
            // The id of the oldest event still kept; everything below it goes.
            let keep_from: Option<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?")
                .bind(i64::from(max) - 1)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(keep_from) = keep_from {
                deleted += self.delete_in_batches("id < ?", keep_from).await?;
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "history retention: old events deleted");
        }
        Ok(deleted)
    }

    /// Deletes the events matching `condition` (one `?`, bound to `value`), oldest
    /// first, [`BATCH`] per transaction, yielding between batches.
    async fn delete_in_batches(&self, condition: &'static str, value: i64) -> Result<u64, StoreError> {
        let sql = format!("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE {condition} ORDER BY id LIMIT ?)");
        let mut deleted = 0;
        loop {
            // `condition` is one of this file's own constants, never input.
            let n = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(value).bind(BATCH).execute(&self.pool).await?.rows_affected();
            deleted += n;
            self.wrote(n);
            if n < BATCH as u64 {
                return Ok(deleted);
            }
            tokio::task::yield_now().await;
        }
    }
}
