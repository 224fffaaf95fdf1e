//! Full-text search over 1 000 000 stored events: the newest 50 matches of a query,
//! as the window lists them, from the FTS5 index the store keeps. The database is
//! built once into `target/bench-data/search-1m/` (batched `Store::insert_batch`, 1024
//! events a transaction) and reused.
//!
//! Criterion measures each query kind; then a second pass runs every query 100 times
//! and writes p50/p95/max in ms to `artifacts/bench/search.json` (criterion reports
//! means and medians, the target is a p95). Warm page cache: the file was just built
//! or read.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tocsin_bench::{stats, SEARCH_QUERIES};

/// The query the window's search runs: newest 50 events matching `?1`, with the
/// columns a history row shows.
const SEARCH_SQL: &str = "SELECT id, account, provider, kind, provider_type, tier, subject, sender, \
     substr(body_text, 1, 400) AS body_head, inbox, received_at_ms, occurred_at_ms, read, replayed \
     FROM events WHERE id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 ORDER BY rowid DESC LIMIT 50) \
     ORDER BY id DESC";

/// The FTS5 expression for a user's search text: words as prefix-free terms, the
/// "prefix" case as `word*`, a quoted phrase kept.
fn fts(kind: &str, text: &str) -> String {
    if kind == "prefix" {
        format!("{text}*")
    } else {
        text.to_owned()
    }
}

async fn search(pool: &SqlitePool, expr: &str) -> usize {
    sqlx::query(SEARCH_SQL).bind(expr).fetch_all(pool).await.expect("search").len()
}

/// What the window runs: `Store::query` with the typed text (whole words; `word*`
/// an explicit prefix), 50 rows, highlights and snippets, and the capped total.
async fn window_search(store: &tocsin_store::Store, text: &str) -> usize {
    let q = tocsin_model::HistoryQuery { text: Some(text.to_owned()), limit: 50, ..Default::default() };
    store.query(&q).await.expect("query").items.len()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let path = rt.block_on(tocsin_bench::ensure_search_db()).expect("build the search database");
    let options = SqliteConnectOptions::new().filename(&path).read_only(true);
    let pool = rt.block_on(SqlitePoolOptions::new().max_connections(1).connect_with(options)).unwrap();
    let total: i64 = rt.block_on(sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool)).unwrap();
    let db_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    {
        let mut group = c.benchmark_group("search_1m");
        for (kind, text) in SEARCH_QUERIES {
            let expr = fts(kind, text);
            group.bench_with_input(BenchmarkId::from_parameter(kind), &expr, |b, expr| b.iter(|| rt.block_on(search(&pool, expr))));
        }
        group.finish();
    }
    c.final_summary();

    // The store's own query, as the window calls it (first page: rows, marks, total).
    let store = rt.block_on(tocsin_store::Store::open(&path)).expect("open the store");
    let mut window_ms: Vec<f64> = Vec::new();
    let mut window_per_kind = serde_json::Map::new();
    for (kind, text) in SEARCH_QUERIES {
        // Typed as a user asks for a prefix: `deplo*` (a bare word is a whole word).
        let typed = fts(kind, text);
        let mut v = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            rt.block_on(window_search(&store, &typed));
            let ms = started.elapsed().as_secs_f64() * 1e3;
            v.push(ms);
            window_ms.push(ms);
        }
        window_per_kind.insert(kind.to_string(), json!(stats(&mut v)));
    }
    let window_overall = stats(&mut window_ms);
    eprintln!("Store::query (window search) over 1M: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms", window_overall.p50, window_overall.p95, window_overall.max);
    eprintln!("per kind: {}", serde_json::Value::Object(window_per_kind.clone()));
    rt.block_on(store.close());

    // Percentiles: every query kind 100 times, interleaved.
    let runs = 100;
    let mut all = Vec::new();
    let mut per_kind = serde_json::Map::new();
    let mut by_kind: Vec<Vec<f64>> = vec![Vec::new(); SEARCH_QUERIES.len()];
    let mut hits = vec![0usize; SEARCH_QUERIES.len()];
    for _ in 0..runs {
        for (i, (kind, text)) in SEARCH_QUERIES.iter().enumerate() {
            let expr = fts(kind, text);
            let started = Instant::now();
            hits[i] = rt.block_on(search(&pool, &expr));
            let ms = started.elapsed().as_secs_f64() * 1e3;
            by_kind[i].push(ms);
            all.push(ms);
        }
    }
    for (i, (kind, text)) in SEARCH_QUERIES.iter().enumerate() {
        let matches: i64 = rt
            .block_on(sqlx::query_scalar("SELECT count(*) FROM events_fts WHERE events_fts MATCH ?1").bind(fts(kind, text)).fetch_one(&pool))
            .unwrap();
        per_kind.insert(kind.to_string(), json!({"query": fts(kind, text), "rows_returned": hits[i], "matches": matches, "ms": stats(&mut by_kind[i])}));
    }
    let overall = stats(&mut all);
    eprintln!("search over {total} events: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} queries)", overall.p50, overall.p95, overall.max, overall.n);
    tocsin_bench::write_result(
        "search",
        &json!({
            "events": total,
            "db_bytes": db_bytes,
            "sql": SEARCH_SQL,
            "runs_per_query": runs,
            "ms": overall,
            "per_query": per_kind,
            "store_query_ms": window_overall,
            "store_query_per_kind": window_per_kind,
        }),
    );
}
