//! The history store: every event Tocsin received, in a local SQLite file.
//!
//! Owns: the database file (WAL mode, migrations embedded and applied at open), the
//! `events` table with its full-text index, the per-account replay cursors, batched
//! inserts that skip duplicates by dedupe key (numbered by SQLite, or by the one
//! process holding the history's writer lock), and the queries the window and the
//! CLI list from.
//!
//! Must not: decide urgency, talk to the network or notify anyone. It stores what it
//! is given and says which events were new, so the caller notifies each event once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tocsin_model::{excerpt, Attachment, Event, EventKind, HistoryItem, Provider, Tier};

mod export;
mod query;
mod retention;
mod write_tx;

pub use export::{csv_field, iso8601, ExportFormat};
pub use query::{fts_query, TOTAL_CAP};
pub use retention::Retention;

/// Why the history could not be read or written, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the history database could not be opened at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the history database could not be upgraded: {0}")]
    Migrate(String),
    #[error("the disk is full; new events are kept in memory until space is freed")]
    DiskFull,
    #[error("the history database is read-only; new events are kept in memory until it is writable")]
    ReadOnly,
    /// The disk refused a write (SQLite's I/O error: a file system remounted
    /// read-only, an immutable file, a failing or removed disk).
    #[error("the disk refused to write the history (read-only, failing or removed?): {0}; new events are kept in memory until it can be written")]
    WriteRefused(String),
    #[error("another Tocsin is already receiving events into the history at {path}; quit it first (or give this one another --data-dir)")]
    InUse { path: String },
    /// Writing an export failed; `kind` tells a closed pipe (`| head`) from a real failure.
    #[error("cannot write the export: {reason}")]
    Output { kind: std::io::ErrorKind, reason: String },
    #[error("the history database failed: {0}")]
    Other(String),
}

/// This process receives events into the history: see [`Store::lock_writer`].
#[derive(Debug)]
pub struct WriterLock {
    _file: std::fs::File,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // Extended result codes carry the primary one in the low byte
            // (778 = SQLITE_IOERR_WRITE, 1032 = SQLITE_READONLY_DBMOVED, ...).
            match db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff) {
                Some(13) => return StoreError::DiskFull,
                Some(8) => return StoreError::ReadOnly,
                Some(10) => return StoreError::WriteRefused(db.message().to_owned()),
                _ => {}
            }
        }
        StoreError::Other(e.to_string())
    }
}

/// An event to store, with the tier the rules gave it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event: Event,
    pub tier: Tier,
}

impl NewEvent {
    /// The list item this event is once stored as row `id`.
    pub fn item(&self, id: i64) -> HistoryItem {
        let NewEvent { event: e, tier } = self;
        HistoryItem {
            id,
            account: e.account.clone(),
            provider: e.provider,
            kind: e.kind,
            provider_type: e.provider_type.clone(),
            provider_event_id: e.provider_event_id.clone(),
            message_id: e.message_id.clone(),
            tier: *tier,
            subject: e.subject.clone(),
            sender: e.sender.clone(),
            excerpt: e.excerpt(EXCERPT_CHARS),
            inbox: e.inbox.clone(),
            received_at_ms: e.received_at_ms,
            occurred_at_ms: e.occurred_at_ms,
            read: false,
            replayed: e.replayed,
            matches: None,
        }
    }
}

/// A stored event's identity, for commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub account: String,
    pub kind: EventKind,
    pub tier: Tier,
    pub message_id: Option<String>,
    pub inbox: Option<String>,
    pub thread: Option<String>,
    pub read: bool,
}

/// The history database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: SqlitePool,
    checkpoints: Arc<Checkpoints>,
    path: Arc<std::path::PathBuf>,
}

/// WAL checkpoints, kept off the writer's path. SQLite's automatic checkpoint runs
/// inside the COMMIT that crosses its threshold (1 000 pages by default), which made
/// that one commit (and the alert waiting for it) 10 ms or more late, once every few
/// hundred events (BENCHMARKS.md). Here, after every [`CHECKPOINT_AFTER_ROWS`] rows
/// written, one `wal_checkpoint(PASSIVE)` runs on another connection while the
/// writer goes on; once it has copied everything, the next write starts the WAL
/// over. The automatic checkpoint stays as a backstop at [`WAL_BACKSTOP_PAGES`], for
/// a flood that never leaves the background one time to catch up. Closing the last
/// connection checkpoints what is left, as SQLite always does.
#[derive(Debug, Default)]
struct Checkpoints {
    rows_since: AtomicU64,
    running: AtomicBool,
}

/// Rows written between checkpoints (a row with its index entries is about one
/// 4 KiB page, so about SQLite's default of 1 000 pages).
const CHECKPOINT_AFTER_ROWS: u64 = 1_000;

/// The automatic (in-commit) checkpoint's threshold: 40 MiB of WAL.
const WAL_BACKSTOP_PAGES: u32 = 10_000;

/// A batch inserted but not committed: see [`Store::stage`].
pub struct Staged<'b> {
    store: Store,
    tx: write_tx::WriteTx,
    batch: &'b [NewEvent],
    items: Vec<Option<HistoryItem>>,
    /// The new rows' ids, lowest and highest.
    range: Option<(i64, i64)>,
}

impl Staged<'_> {
    /// The stored item for each new event of the batch, `None` for each duplicate.
    pub fn items(&self) -> &[Option<HistoryItem>] {
        &self.items
    }

    /// Indexes the new rows for search, advances the cursors and commits.
    pub async fn commit(self) -> Result<Vec<Option<HistoryItem>>, StoreError> {
        let Staged { store, mut tx, batch, items, range } = self;
        // The new rows' full-text entries, in one statement (one FTS5 segment a batch).
        // The batch holds the write lock, so every id in the range is one of its rows.
        if let Some((lo, hi)) = range {
            sqlx::query(
                "INSERT INTO events_fts (rowid, subject, sender, body_text)
                 SELECT id, subject, sender, body_text FROM events WHERE id BETWEEN ? AND ?",
            )
            .bind(lo)
            .bind(hi)
            .execute(&mut *tx)
            .await?;
        }
        // Edits replace the text of the message they edit (after the index above, so
        // the update trigger finds every row it touches indexed).
        for (NewEvent { event: e, .. }, item) in batch.iter().zip(&items) {
            let (Some(item), Some(message), Some(text)) = (item, &e.message_id, &e.text) else { continue };
            if e.kind != tocsin_model::EventKind::MessageUpdated || !e.labels.iter().any(|l| l == tocsin_model::LABEL_EDIT) {
                continue;
            }
            sqlx::query(
                "UPDATE events SET body_text = ?1,
                        labels = CASE WHEN EXISTS (SELECT 1 FROM json_each(labels) WHERE value = ?5) THEN labels
                                      ELSE json_insert(labels, '$[#]', ?5) END
                 WHERE account = ?2 AND message_id = ?3 AND id != ?4
                   AND kind IN ('message_received', 'message_sent', 'stream_end')",
            )
            .bind(text)
            .bind(&e.account)
            .bind(message)
            .bind(item.id)
            .bind(tocsin_model::LABEL_EDITED)
            .execute(&mut *tx)
            .await?;
        }
        // Each account is known connected up to its newest event.
        let mut seen: Vec<(&str, i64)> = Vec::new();
        for NewEvent { event: e, .. } in batch {
            match seen.iter_mut().find(|(a, _)| *a == e.account) {
                Some(slot) => slot.1 = slot.1.max(e.received_at_ms),
                None => seen.push((&e.account, e.received_at_ms)),
            }
        }
        for (account, at) in seen {
            mark_connected(&mut tx, account, at).await?;
        }
        // Each account's cursor: its last event (in batch order) with a provider id.
        let mut cursors: Vec<(&str, &str, i64)> = Vec::new();
        for NewEvent { event: e, .. } in batch {
            if let Some(cursor) = &e.provider_event_id {
                match cursors.iter_mut().find(|(a, _, _)| *a == e.account) {
                    Some(slot) => *slot = (&e.account, cursor, e.received_at_ms),
                    None => cursors.push((&e.account, cursor, e.received_at_ms)),
                }
            }
        }
        for (account, cursor, at) in cursors {
            sqlx::query(
                "INSERT INTO cursors (account, last_event_id, updated_at_ms) VALUES (?,?,?)
                 ON CONFLICT(account) DO UPDATE SET last_event_id = excluded.last_event_id,
                                                    updated_at_ms = excluded.updated_at_ms",
            )
            .bind(account)
            .bind(cursor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        store.wrote(items.iter().flatten().count() as u64);
        Ok(items)
    }
}

async fn mark_connected(conn: &mut sqlx::SqliteConnection, account: &str, at_ms: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO connected_until (account, at_ms) VALUES (?, ?)
         ON CONFLICT(account) DO UPDATE SET at_ms = MAX(at_ms, excluded.at_ms)",
    )
    .bind(account)
    .bind(at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

const EXCERPT_CHARS: usize = 180;

/// Rows per multi-row INSERT (20 columns each: well under SQLite's bind limit).
pub const INSERT_CHUNK: usize = 64;

/// The columns a [`HistoryItem`] is read from, for a query over `events e`.
pub(crate) const ITEM_COLUMNS_E: &str = "e.id, e.account, e.provider, e.kind, e.provider_type, e.provider_event_id, e.message_id, e.tier, e.subject, e.sender, \
     substr(e.body_text, 1, 400) AS body_head, e.inbox, e.received_at_ms, e.occurred_at_ms, e.read, e.replayed";

/// The columns a [`HistoryItem`] is read from.
macro_rules! item_columns {
    () => {
        "id, account, provider, kind, provider_type, provider_event_id, message_id, tier, subject, sender, \
         substr(body_text, 1, 400) AS body_head, inbox, received_at_ms, occurred_at_ms, read, replayed"
    };
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |reason: String| StoreError::Open { path: path.display().to_string(), reason };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| open_err(e.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // See `Checkpoints`.
            .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Store { pool, checkpoints: Arc::default(), path: Arc::new(path.to_path_buf()) })
    }

    /// Opens the database at `path` for reading only (the window's view of the
    /// history: the resident process writes, migrates and owns it). WAL lets this
    /// read while the writer commits; nothing here can change the file.
    pub async fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let open_err = |reason: String| StoreError::Open { path: path.display().to_string(), reason };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| open_err(e.to_string()))?
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        Ok(Store { pool, checkpoints: Arc::default(), path: Arc::new(path.to_path_buf()) })
    }

    /// Counts `rows` written; starts a background checkpoint when enough piled up
    /// and none is running.
    pub(crate) fn wrote(&self, rows: u64) {
        let c = &self.checkpoints;
        if c.rows_since.fetch_add(rows, Ordering::Relaxed) + rows < CHECKPOINT_AFTER_ROWS || c.running.swap(true, Ordering::AcqRel) {
            return;
        }
        c.rows_since.store(0, Ordering::Relaxed);
        let (pool, c) = (self.pool.clone(), self.checkpoints.clone());
        tokio::spawn(async move {
            // PASSIVE: copies what no reader still needs; never waits for the writer.
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::debug!("history checkpoint: {e}");
            }
            c.running.store(false, Ordering::Release);
        });
    }

    /// Stores `batch` in one transaction. Returns, in order, the stored item for each
    /// new event and `None` for each duplicate (same dedupe key as a stored event, or
    /// as an earlier event of the batch). Also advances each account's replay cursor
    /// to its last event with an id.
    ///
    /// Rows go in as multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` statements
    /// of [`INSERT_CHUNK`] rows (one round trip to SQLite per chunk, not per event),
    /// and each account's cursor is written once per batch.
    pub async fn insert_batch(&self, batch: &[NewEvent]) -> Result<Vec<Option<HistoryItem>>, StoreError> {
        self.stage(batch).await?.commit().await
    }

    /// The first half of [`Store::insert_batch`]: the rows are inserted in a
    /// transaction that is not committed yet, so which events are new, and their
    /// ids, are known before any disk write. Nothing is visible to other
    /// connections until [`Staged::commit`]; dropping the [`Staged`] rolls it back.
    pub async fn stage<'b>(&self, batch: &'b [NewEvent]) -> Result<Staged<'b>, StoreError> {
        self.stage_rows(batch, None).await
    }

    /// [`Store::stage`] with the rows' ids given (`ids[i]` is `batch[i]`'s), for a
    /// writer that decided which events are new ([`Store::known`]) and numbered
    /// them ([`Store::next_id`]) itself, so it could alert before writing. `None`
    /// marks a known duplicate: not inserted, but it still advances its account's
    /// cursor. An event whose key turns out to be stored is skipped as well.
    pub async fn stage_with_ids<'b>(&self, batch: &'b [NewEvent], ids: &[Option<i64>]) -> Result<Staged<'b>, StoreError> {
        assert_eq!(batch.len(), ids.len(), "one id per event");
        self.stage_rows(batch, Some(ids)).await
    }

    async fn stage_rows<'b>(&self, batch: &'b [NewEvent], given: Option<&[Option<i64>]>) -> Result<Staged<'b>, StoreError> {
        // (id to give, event): a NULL id lets SQLite number the row.
        let rows: Vec<(Option<i64>, &NewEvent)> = match given {
            None => batch.iter().map(|n| (None, n)).collect(),
            Some(ids) => batch.iter().zip(ids).filter_map(|(n, id)| id.map(|id| (Some(id), n))).collect(),
        };
        let mut tx = write_tx::WriteTx::begin(&self.pool).await?;
        let mut ids: std::collections::HashMap<&str, i64> = std::collections::HashMap::with_capacity(batch.len());
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut b = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO events (id, dedupe_key, account, provider, kind, provider_type, provider_event_id, tier,
                    inbox, thread, message_id, sender, subject, body_text, body_html, labels, attachments,
                    occurred_at_ms, received_at_ms, replayed, raw) ",
            );
            b.push_values(chunk, |mut row, (id, NewEvent { event: e, tier })| {
                row.push_bind(*id)
                    .push_bind(e.dedupe_key.clone())
                    .push_bind(e.account.clone())
                    .push_bind(e.provider.as_str())
                    .push_bind(e.kind.as_str())
                    .push_bind(e.provider_type.clone())
                    .push_bind(e.provider_event_id.clone())
                    .push_bind(tier.as_str())
                    .push_bind(e.inbox.clone())
                    .push_bind(e.thread.clone())
                    .push_bind(e.message_id.clone())
                    .push_bind(e.sender.clone())
                    .push_bind(e.subject.clone())
                    .push_bind(e.text.clone())
                    .push_bind(e.html.clone())
                    .push_bind(serde_json::to_string(&e.labels).unwrap_or_else(|_| "[]".into()))
                    .push_bind(serde_json::to_string(&e.attachments).unwrap_or_else(|_| "[]".into()))
                    .push_bind(e.occurred_at_ms)
                    .push_bind(e.received_at_ms)
                    .push_bind(e.replayed)
                    .push_bind(e.raw.to_string());
            });
            b.push(" ON CONFLICT(dedupe_key) DO NOTHING RETURNING id, dedupe_key");
            for row in b.build().fetch_all(&mut *tx).await? {
                let id: i64 = row.try_get(0)?;
                let key: String = row.try_get(1)?;
                if let Some((_, e)) = chunk.iter().find(|(_, n)| n.event.dedupe_key == key) {
                    ids.insert(e.event.dedupe_key.as_str(), id);
                }
            }
        }
        let range = ids.values().min().copied().zip(ids.values().max().copied());
        // The first event with a key owns the new row; later ones in the batch are duplicates.
        let mut out = Vec::with_capacity(batch.len());
        for new in batch {
            out.push(ids.remove(new.event.dedupe_key.as_str()).map(|id| new.item(id)));
        }
        Ok(Staged { store: self.clone(), tx, batch, items: out, range })
    }
    /// Which of `keys` are stored (committed) already. A read: it never waits for the
    /// writer, so it answers while a commit is stuck on a slow disk.
    pub async fn known(&self, keys: &[&str]) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut out = std::collections::HashSet::new();
        for chunk in keys.chunks(500) {
            let mut b = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT dedupe_key FROM events WHERE dedupe_key IN (");
            let mut list = b.separated(", ");
            for k in chunk {
                list.push_bind(*k);
            }
            b.push(")");
            for row in b.build().fetch_all(&self.pool).await? {
                out.insert(row.try_get::<String, _>(0)?);
            }
        }
        Ok(out)
    }

    /// The id after the highest stored one: where a writer that numbers its own rows
    /// ([`Store::stage_with_ids`]) starts. Hold a [`WriterLock`] while numbering, so
    /// no other process takes the same ids.
    pub async fn next_id(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetch_one(&self.pool).await?)
    }

    /// Claims this history for one receiving process (an advisory lock on a file
    /// beside the database, released when the [`WriterLock`] is dropped or the
    /// process ends). Readers (the CLI, the window) need no lock.
    pub fn lock_writer(&self) -> Result<WriterLock, StoreError> {
        let path = self.path.with_extension("writer.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        match file.try_lock() {
            Ok(()) => Ok(WriterLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse { path: self.path.display().to_string() }),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(StoreError::Open { path: path.display().to_string(), reason: e.to_string() })
            }
        }
    }

    /// Up to `limit` events, newest first, older than `before_id` when given.
    pub async fn list(&self, limit: u32, before_id: Option<i64>) -> Result<Vec<HistoryItem>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", item_columns!(), " FROM events WHERE id < ? ORDER BY id DESC LIMIT ?"))
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Stored event `id` as the list shows it.
    pub async fn item(&self, id: i64) -> Result<Option<HistoryItem>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", item_columns!(), " FROM events WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// What commands need to know about stored event `id`.
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account, provider, kind, tier, message_id, inbox, thread, read FROM events WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let kind: String = row.try_get("kind")?;
        let tier: String = row.try_get("tier")?;
        Ok(Some(StoredEvent {
            id: row.try_get("id")?,
            account: row.try_get("account")?,
            kind: EventKind::parse(&kind),
            tier: Tier::parse(&tier).unwrap_or(Tier::Normal),
            message_id: row.try_get("message_id")?,
            inbox: row.try_get("inbox")?,
            thread: row.try_get("thread")?,
            read: row.try_get("read")?,
        }))
    }

    /// Sets the read flag of `id`; returns whether it changed.
    pub async fn set_read(&self, id: i64, read: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE events SET read = ? WHERE id = ? AND read <> ?")
            .bind(read)
            .bind(id)
            .bind(read)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A stored setting (rules as TOML, attention as JSON, ...).
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.pool).await?)
    }

    /// Stores a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The stored event `id` as the rules see it (for "test this rule").
    pub async fn event(&self, id: i64) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(
            "SELECT dedupe_key, account, provider, kind, provider_type, provider_event_id, inbox, thread, message_id,
                    sender, subject, body_text, body_html, labels, attachments, occurred_at_ms, received_at_ms, replayed, raw
             FROM events WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let provider: String = row.try_get("provider")?;
        let kind: String = row.try_get("kind")?;
        let labels: String = row.try_get("labels")?;
        let raw: String = row.try_get("raw")?;
        let raw: serde_json::Value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null);
        Ok(Some(Event {
            dedupe_key: row.try_get("dedupe_key")?,
            provider: Provider::parse(&provider).unwrap_or(Provider::Daimon),
            account: row.try_get("account")?,
            kind: EventKind::parse(&kind),
            provider_type: row.try_get("provider_type")?,
            provider_event_id: row.try_get("provider_event_id")?,
            occurred_at_ms: row.try_get("occurred_at_ms")?,
            received_at_ms: row.try_get("received_at_ms")?,
            inbox: row.try_get("inbox")?,
            thread: row.try_get("thread")?,
            message_id: row.try_get("message_id")?,
            sender: row.try_get("sender")?,
            subject: row.try_get("subject")?,
            text: row.try_get("body_text")?,
            html: row.try_get("body_html")?,
            labels: serde_json::from_str(&labels).unwrap_or_default(),
            attachments: serde_json::from_str::<Vec<Attachment>>(&row.try_get::<String, _>("attachments")?).unwrap_or_default(),
            replayed: row.try_get("replayed")?,
            ack: None,
            // Not columns: read back from the original frame where providers put them.
            priority: raw.pointer("/notification/priority").and_then(|v| v.as_str()).map(str::to_owned),
            topic: raw.get("topic").and_then(|v| v.as_str()).map(str::to_owned),
            raw,
        }))
    }

    /// How many events are stored.
    pub async fn count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&self.pool).await?)
    }

    /// How many unread events have tier `tier`.
    pub async fn unread_count(&self, tier: Tier) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM events WHERE read = 0 AND tier = ?")
            .bind(tier.as_str())
            .fetch_one(&self.pool)
            .await?)
    }

    /// When `account` was last known connected: its newest committed event, or the
    /// last [`Store::mark_connected`].
    pub async fn connected_until(&self, account: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT at_ms FROM connected_until WHERE account = ?")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records that `account` was connected, with nothing missed, up to `at_ms` (a
    /// clean stop). Never moves the mark back.
    pub async fn mark_connected(&self, account: &str, at_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        mark_connected(&mut conn, account, at_ms).await
    }

    /// The replay cursor of `account`: the last provider event id committed for it.
    pub async fn cursor(&self, account: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT last_event_id FROM cursors WHERE account = ?")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn item_from_row(row: &SqliteRow) -> Result<HistoryItem, StoreError> {
    let provider: String = row.try_get("provider")?;
    let tier: String = row.try_get("tier")?;
    let kind: String = row.try_get("kind")?;
    let head: Option<String> = row.try_get("body_head")?;
    Ok(HistoryItem {
        id: row.try_get("id")?,
        account: row.try_get("account")?,
        provider: Provider::parse(&provider)
            .ok_or_else(|| StoreError::Other(format!("unknown provider \"{provider}\" in the history")))?,
        kind: EventKind::parse(&kind),
        provider_type: row.try_get("provider_type")?,
        provider_event_id: row.try_get("provider_event_id")?,
        message_id: row.try_get("message_id")?,
        tier: Tier::parse(&tier).unwrap_or(Tier::Normal),
        subject: row.try_get("subject")?,
        sender: row.try_get("sender")?,
        excerpt: head.map(|h| excerpt(&h, EXCERPT_CHARS)),
        inbox: row.try_get("inbox")?,
        received_at_ms: row.try_get("received_at_ms")?,
        occurred_at_ms: row.try_get("occurred_at_ms")?,
        read: row.try_get("read")?,
        replayed: row.try_get("replayed")?,
        matches: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, subject: &str) -> NewEvent {
        NewEvent {
            event: Event {
                dedupe_key: format!("daimon:{id}"),
                provider: Provider::Daimon,
                account: "ops".into(),
                kind: EventKind::MessageReceived,
                provider_type: "message.received".into(),
                provider_event_id: Some(id.into()),
                occurred_at_ms: Some(1),
                received_at_ms: 2,
                inbox: Some("inbox_ops".into()),
                thread: None,
                message_id: Some(format!("msg_{id}")),
                sender: Some("a@b.c".into()),
                subject: Some(subject.into()),
                text: Some("hello\n\nworld".into()),
                html: None,
                labels: vec!["priority".into()],
                attachments: vec![],
                replayed: false,
                ack: None,
                priority: None,
                topic: None,
                raw: serde_json::json!({"event_id": id}),
            },
            tier: Tier::Urgent,
        }
    }

    /// Rows the full-text index finds for `term`.
    async fn fts_hits(store: &Store, term: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events_fts WHERE events_fts MATCH ?")
            .bind(term)
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_writer_that_numbers_its_rows_gets_those_ids_and_known_duplicates_still_move_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("h.db")).await.unwrap();
        store.insert_batch(&[event("e1", "one")]).await.unwrap();
        assert_eq!(store.next_id().await.unwrap(), 2);
        // Which keys are stored: a read.
        let known = store.known(&["daimon:e1", "daimon:e2"]).await.unwrap();
        assert_eq!(known, std::collections::HashSet::from(["daimon:e1".to_owned()]));

        // e2 and e3 get ids 10 and 11; the third claims a stored key (skipped); the
        // last is a known duplicate (None).
        let mut dup = event("e1", "one again");
        dup.event.provider_event_id = Some("e1-redelivered".into());
        let batch = [event("e2", "two"), event("e3", "three"), event("e1", "claims e1"), dup];
        let staged = store.stage_with_ids(&batch, &[Some(10), Some(11), Some(12), None]).await.unwrap();
        let ids: Vec<Option<i64>> = staged.items().iter().map(|i| i.as_ref().map(|i| i.id)).collect();
        assert_eq!(ids, [Some(10), Some(11), None, None]);
        // Not visible to readers before the commit.
        assert!(store.known(&["daimon:e2"]).await.unwrap().is_empty());
        staged.commit().await.unwrap();
        assert_eq!(store.item(11).await.unwrap().unwrap().subject.as_deref(), Some("three"));
        assert!(store.item(12).await.unwrap().is_none());
        assert_eq!(store.count().await.unwrap(), 3);
        assert_eq!(store.next_id().await.unwrap(), 12);
        // The cursor is the batch's last event, duplicate or not.
        assert_eq!(store.cursor("ops").await.unwrap().as_deref(), Some("e1-redelivered"));
        // Searchable like any row.
        assert_eq!(fts_hits(&store, "three").await, 1);
    }

    #[tokio::test]
    async fn one_writer_lock_per_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let a = Store::open(&path).await.unwrap();
        let b = Store::open(&path).await.unwrap();
        let held = a.lock_writer().unwrap();
        let refused = b.lock_writer().unwrap_err();
        assert!(matches!(refused, StoreError::InUse { .. }), "{refused:?}");
        assert!(refused.to_string().contains("already receiving events"), "{refused}");
        drop(held);
        b.lock_writer().expect("free once the holder lets go");
    }

    #[tokio::test]
    async fn stores_lists_and_skips_duplicates_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/history.db");
        let store = Store::open(&path).await.unwrap();
        let out = store.insert_batch(&[event("e1", "one"), event("e2", "two"), event("e1", "dup")]).await.unwrap();
        assert!(out[0].is_some() && out[1].is_some() && out[2].is_none());
        assert_eq!(out[0].as_ref().unwrap().excerpt.as_deref(), Some("hello world"));
        store.close().await;

        let store = Store::open(&path).await.unwrap();
        let again = store.insert_batch(&[event("e2", "two again"), event("e3", "three")]).await.unwrap();
        assert!(again[0].is_none() && again[1].is_some());
        let items = store.list(10, None).await.unwrap();
        let subjects: Vec<_> = items.iter().map(|i| i.subject.clone().unwrap()).collect();
        assert_eq!(subjects, ["three", "two", "one"]);
        assert_eq!(items[0].tier, Tier::Urgent);
        assert_eq!(items[0].excerpt.as_deref(), Some("hello world"));
        let older = store.list(10, Some(items[0].id)).await.unwrap();
        assert_eq!(older.len(), 2);
        assert_eq!(store.count().await.unwrap(), 3);
        assert_eq!(store.unread_count(Tier::Urgent).await.unwrap(), 3);
        assert_eq!(store.cursor("ops").await.unwrap().as_deref(), Some("e3"));
        assert_eq!(store.cursor("nobody").await.unwrap(), None);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&store.pool).await.unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(fts_hits(&store, "three").await, 1);
    }

    #[tokio::test]
    async fn the_full_text_index_holds_exactly_the_new_rows_of_each_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("history.db")).await.unwrap();
        // Batches with duplicates inside, across batches and at the ends, over several chunks.
        let first: Vec<NewEvent> = (0..150).map(|i| event(&format!("a{i}"), &format!("alpha{i}"))).collect();
        let mut second: Vec<NewEvent> = (140..300).map(|i| event(&format!("a{i}"), &format!("alpha{i}"))).collect();
        second.push(event("a0", "alpha0 again"));
        assert_eq!(store.insert_batch(&first).await.unwrap().iter().flatten().count(), 150);
        assert_eq!(store.insert_batch(&second).await.unwrap().iter().flatten().count(), 150);
        assert_eq!(store.insert_batch(&[]).await.unwrap().len(), 0);
        let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM events_fts").fetch_one(&store.pool).await.unwrap();
        assert_eq!(indexed, 300);
        // FTS5 checks every index entry against the rows it was made from.
        sqlx::query("INSERT INTO events_fts (events_fts, rank) VALUES ('integrity-check', 1)").execute(&store.pool).await.unwrap();
        for word in ["alpha0", "alpha149", "alpha150", "alpha299"] {
            let hits: i64 = sqlx::query_scalar("SELECT count(*) FROM events_fts WHERE events_fts MATCH ?")
                .bind(word)
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert_eq!(hits, 1, "{word}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_in_the_background_and_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let store = Store::open(&path).await.unwrap();
        let wal = || std::fs::metadata(path.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0);
        let batch = |from: usize, n: usize| -> Vec<NewEvent> { (from..from + n).map(|i| event(&format!("w{i}"), "wal")).collect() };
        // Below the threshold: nothing starts.
        store.insert_batch(&batch(0, 500)).await.unwrap();
        assert!(!store.checkpoints.running.load(Ordering::Acquire));
        assert_eq!(store.checkpoints.rows_since.load(Ordering::Relaxed), 500);
        // Crossing it starts one; wait for it to finish.
        store.insert_batch(&batch(500, 700)).await.unwrap();
        assert_eq!(store.checkpoints.rows_since.load(Ordering::Relaxed), 0);
        for _ in 0..500 {
            if !store.checkpoints.running.load(Ordering::Acquire) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!store.checkpoints.running.load(Ordering::Acquire), "the checkpoint never finished");
        let before = wal();
        assert!(before > 100 * 4096, "{before} bytes of WAL");
        // Everything was copied, so the next write goes to the start of the WAL
        // instead of growing it (without the checkpoint, it grows).
        store.insert_batch(&batch(1200, 10)).await.unwrap();
        assert_eq!(wal(), before);
        assert_eq!(store.count().await.unwrap(), 1210);
    }

    #[tokio::test]
    async fn unwritable_location_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = Store::open(&file.join("history.db")).await.unwrap_err();
        assert!(err.to_string().contains("could not be opened"), "{err}");
    }
}
