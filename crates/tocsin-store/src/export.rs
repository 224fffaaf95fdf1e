//! Export: the events a [`HistoryQuery`] selects, oldest first, as JSON Lines (every
//! stored field, with the original frame) or CSV (the columns a spreadsheet needs).
//! Rows stream from SQLite to the writer; memory does not grow with the history.

use std::io::Write;

use futures_util::stream::BoxStream;
use serde_json::json;
use sqlx::{QueryBuilder, Row, Sqlite};
use tocsin_model::HistoryQuery;

use crate::{query::fts_query, Store, StoreError};

/// The file formats `tocsin history export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

const CSV_HEADER: &str = "id,received_at,account,provider,kind,provider_type,tier,read,inbox,sender,subject,text";

impl Store {
    /// Writes every event `q` selects (its `limit` and `before_id` are ignored) to
    /// `out`, oldest first. Returns how many were written.
    pub async fn export(&self, q: &HistoryQuery, format: ExportFormat, out: &mut dyn Write) -> Result<u64, StoreError> {
        let fts = q.text.as_deref().and_then(fts_query);
        let mut b = QueryBuilder::<Sqlite>::new(
            "SELECT e.id, e.account, e.provider, e.kind, e.provider_type, e.provider_event_id, e.tier, e.inbox, e.thread, \
             e.message_id, e.sender, e.subject, e.body_text, e.body_html, e.labels, e.attachments, e.occurred_at_ms, \
             e.received_at_ms, e.read, e.replayed, e.raw",
        );
        let filters = HistoryQuery { before_id: None, ..q.clone() };
        crate::query::push_from_where(&mut b, &filters, fts.as_deref());
        b.push(" ORDER BY e.id ASC");
        let io = |e: std::io::Error| StoreError::Output { kind: e.kind(), reason: e.to_string() };
        if format == ExportFormat::Csv {
            writeln!(out, "{CSV_HEADER}").map_err(io)?;
        }
        let mut rows: BoxStream<'_, Result<sqlx::sqlite::SqliteRow, sqlx::Error>> = b.build().fetch(&self.pool);
        let mut n = 0u64;
        while let Some(row) = futures_util::StreamExt::next(&mut rows).await {
            let row = row?;
            match format {
                ExportFormat::Jsonl => {
                    let parse = |col: &str| -> Result<serde_json::Value, StoreError> {
                        let text: String = row.try_get(col)?;
                        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
                    };
                    let line = json!({
                        "id": row.try_get::<i64, _>("id")?,
                        "account": row.try_get::<String, _>("account")?,
                        "provider": row.try_get::<String, _>("provider")?,
                        "kind": row.try_get::<String, _>("kind")?,
                        "providerType": row.try_get::<String, _>("provider_type")?,
                        "providerEventId": row.try_get::<Option<String>, _>("provider_event_id")?,
                        "tier": row.try_get::<String, _>("tier")?,
                        "inbox": row.try_get::<Option<String>, _>("inbox")?,
                        "thread": row.try_get::<Option<String>, _>("thread")?,
                        "messageId": row.try_get::<Option<String>, _>("message_id")?,
                        "sender": row.try_get::<Option<String>, _>("sender")?,
                        "subject": row.try_get::<Option<String>, _>("subject")?,
                        "text": row.try_get::<Option<String>, _>("body_text")?,
                        "html": row.try_get::<Option<String>, _>("body_html")?,
                        "labels": parse("labels")?,
                        "attachments": parse("attachments")?,
                        "occurredAtMs": row.try_get::<Option<i64>, _>("occurred_at_ms")?,
                        "receivedAtMs": row.try_get::<i64, _>("received_at_ms")?,
                        "read": row.try_get::<bool, _>("read")?,
                        "replayed": row.try_get::<bool, _>("replayed")?,
                        "raw": parse("raw")?,
                    });
                    serde_json::to_writer(&mut *out, &line).map_err(|e| match e.io_error_kind() {
                        Some(kind) => StoreError::Output { kind, reason: e.to_string() },
                        None => StoreError::Other(e.to_string()),
                    })?;
                    out.write_all(b"\n").map_err(io)?;
                }
                ExportFormat::Csv => {
                    let received: i64 = row.try_get("received_at_ms")?;
                    let fields = [
                        row.try_get::<i64, _>("id")?.to_string(),
                        iso8601(received),
                        row.try_get("account")?,
                        row.try_get("provider")?,
                        row.try_get("kind")?,
                        row.try_get("provider_type")?,
                        row.try_get("tier")?,
                        row.try_get::<bool, _>("read")?.to_string(),
                        row.try_get::<Option<String>, _>("inbox")?.unwrap_or_default(),
                        row.try_get::<Option<String>, _>("sender")?.unwrap_or_default(),
                        row.try_get::<Option<String>, _>("subject")?.unwrap_or_default(),
                        row.try_get::<Option<String>, _>("body_text")?.unwrap_or_default(),
                    ];
                    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                    writeln!(out, "{}", line.join(",")).map_err(io)?;
                }
            }
            n += 1;
        }
        out.flush().map_err(io)?;
        Ok(n)
    }
}

/// One CSV field (RFC 4180 quoting). A value a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR at the start) gets a leading `'`, because subjects
/// and senders come from strangers.
pub fn csv_field(value: &str) -> String {
    let mut v = String::with_capacity(value.len() + 2);
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.push('\'');
    }
    v.push_str(value);
    if v.contains([',', '"', '\n', '\r']) || v != v.trim() {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` from ms since the epoch.
pub fn iso8601(ms: i64) -> String {
    tocsin_model::format_rfc3339_ms(ms)
}
