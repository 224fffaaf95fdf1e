//! Listing and searching: one [`HistoryQuery`] (words, filters, paging) turned into
//! one SQL statement.
//!
//! A text search goes through the FTS5 index and walks it newest first
//! (`ORDER BY rowid DESC` is native to FTS5), so the first page of a word found in a
//! million events stops after `limit` hits instead of sorting them all. Filters are
//! bound parameters, never spliced text.

use sqlx::{QueryBuilder, Row, Sqlite};
use tocsin_model::{HistoryItem, HistoryPage, HistoryQuery, SearchMatches};

use crate::{item_from_row, Store, StoreError};

/// Totals stop counting here; the page says the total is a lower bound.
pub const TOTAL_CAP: i64 = 10_000;

/// How many words of body text a search snippet shows.
const SNIPPET_TOKENS: i64 = 18;

/// Turns what the user typed into an FTS5 query that cannot be a syntax error:
/// every word quoted (so `AND`, `-`, `:` and quotes are just text) and required.
/// Words match whole words (after case and accent folding); a word typed with a
/// trailing `*` (`deplo*`) matches every word it starts. Whole words are the
/// default because FTS5 walks a whole word's matches newest first and stops at the
/// page, while a prefix must gather every matching word's rows first (measured in
/// BENCHMARKS.md). `None` when nothing searchable is left.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '"' || c.is_control())
        .filter_map(|w| {
            let prefix = w.ends_with('*');
            let w: String = w.chars().filter(|c| *c != '*').collect();
            let alnum = w.chars().filter(|c| c.is_alphanumeric()).count();
            match alnum {
                0 => None,
                // A one-letter prefix would gather most of the history.
                1 => Some(format!("\"{w}\"")),
                _ if prefix => Some(format!("\"{w}\"*")),
                _ => Some(format!("\"{w}\"")),
            }
        })
        .take(16)
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

impl Store {
    /// One page of events matching `q`, newest first.
    pub async fn query(&self, q: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        let limit = i64::from(q.limit.clamp(1, 1000));
        let fts = q.text.as_deref().and_then(fts_query);
        let mut sql = QueryBuilder::new("");
        push_select(&mut sql, q, fts.as_deref(), false);
        // FTS5 walks its index newest first natively when ordered by its own rowid.
        sql.push(if fts.is_some() { " ORDER BY events_fts.rowid DESC LIMIT " } else { " ORDER BY e.id DESC LIMIT " });
        sql.push_bind(limit);
        let rows = sql.build().fetch_all(&self.pool).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut item: HistoryItem = item_from_row(row)?;
            if fts.is_some() {
                item.matches = Some(SearchMatches {
                    subject: row.try_get("m_subject")?,
                    sender: row.try_get("m_sender")?,
                    snippet: row.try_get::<Option<String>, _>("m_snippet")?.filter(|s| !s.is_empty()),
                });
            }
            items.push(item);
        }
        let (total, total_capped) = if q.before_id.is_none() {
            let n = count(self, q, fts.as_deref()).await?;
            (Some(n.min(TOTAL_CAP)), n > TOTAL_CAP)
        } else {
            (None, false)
        };
        Ok(HistoryPage { items, total, total_capped })
    }
}

async fn count(store: &Store, q: &HistoryQuery, fts: Option<&str>) -> Result<i64, StoreError> {
    let only_text = q.accounts.is_empty()
        && q.providers.is_empty()
        && q.kinds.is_empty()
        && q.tiers.is_empty()
        && q.read.is_none()
        && q.since_ms.is_none()
        && q.until_ms.is_none();
    if let (Some(m), true) = (fts, only_text) {
        // The index alone knows how many rows match: no join.
        return Ok(sqlx::query_scalar("SELECT count(*) FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH ? LIMIT ?)")
            .bind(m)
            .bind(TOTAL_CAP + 1)
            .fetch_one(&store.pool)
            .await?);
    }
    let mut outer = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM (");
    push_select(&mut outer, q, fts, true);
    outer.push(" LIMIT ").push(TOTAL_CAP + 1).push(")");
    Ok(outer.build_query_scalar::<i64>().fetch_one(&store.pool).await?)
}

fn push_select<'a>(b: &mut QueryBuilder<Sqlite>, q: &'a HistoryQuery, fts: Option<&'a str>, ids_only: bool) {
    b.push("SELECT ");
    if ids_only {
        b.push("e.id");
    } else {
        b.push(crate::ITEM_COLUMNS_E);
        if fts.is_some() {
            b.push(
                ", highlight(events_fts, 0, char(2), char(3)) AS m_subject, \
                 highlight(events_fts, 1, char(2), char(3)) AS m_sender, \
                 snippet(events_fts, 2, char(2), char(3), '…', ",
            );
            b.push(SNIPPET_TOKENS.to_string());
            b.push(") AS m_snippet");
        }
    }
    push_from_where(b, q, fts);
}

/// `FROM ... WHERE ...` for `q` (the FTS join when `fts` is set).
pub(crate) fn push_from_where<'a>(b: &mut QueryBuilder<Sqlite>, q: &'a HistoryQuery, fts: Option<&'a str>) {
    match fts {
        Some(m) => {
            b.push(" FROM events_fts JOIN events e ON e.id = events_fts.rowid WHERE events_fts MATCH ");
            b.push_bind(m);
        }
        None => {
            b.push(" FROM events e WHERE 1");
        }
    }
    if let Some(before) = q.before_id {
        b.push(if fts.is_some() { " AND events_fts.rowid < " } else { " AND e.id < " }).push_bind(before);
    }
    push_in(b, "e.account", q.accounts.iter().map(String::as_str));
    push_in(b, "e.provider", q.providers.iter().map(|p| p.as_str()));
    push_in(b, "e.kind", q.kinds.iter().map(|k| k.as_str()));
    push_in(b, "e.tier", q.tiers.iter().map(|t| t.as_str()));
    if let Some(read) = q.read {
        b.push(" AND e.read = ").push_bind(read);
    }
    if let Some(since) = q.since_ms {
        b.push(" AND e.received_at_ms >= ").push_bind(since);
    }
    if let Some(until) = q.until_ms {
        b.push(" AND e.received_at_ms < ").push_bind(until);
    }
}

fn push_in<'a>(b: &mut QueryBuilder<Sqlite>, column: &str, values: impl Iterator<Item = &'a str>) {
    let values: Vec<&str> = values.collect();
    if values.is_empty() {
        return;
    }
    b.push(" AND ").push(column).push(" IN (");
    let mut sep = b.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    sep.push_unseparated(")");
}
