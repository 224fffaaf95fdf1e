//! `tocsin history list|search|export`: the stored events for scripts and people,
//! with the window's filters. Output cut short by its reader (`| head`) is not an
//! error: the command stops quietly with status 0, as Unix tools do.

use std::io::Write;

use anyhow::{anyhow, bail, Context};
use tocsin_model::{EventKind, HistoryItem, HistoryQuery, Provider, Tier};
use tocsin_store::{ExportFormat, Store};

use crate::cli::{GlobalArgs, HistoryCommand, HistoryFilters};

pub fn run(args: &GlobalArgs, command: &HistoryCommand) -> anyhow::Result<()> {
    let path = crate::paths::data_dir(args)?.join("history.db");
    if !path.exists() {
        bail!("no history yet at {} (start Tocsin first)", path.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::open(&path).await?;
        let result = list_or_export(&store, command).await;
        store.close().await;
        match result {
            Err(e) if reader_went_away(&e) => Ok(()),
            other => other,
        }
    })
}

/// Whether `e` is a write to a pipe whose reader has closed it.
fn reader_went_away(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let kind = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => Some(io.kind()),
            None => match cause.downcast_ref::<tocsin_store::StoreError>() {
                Some(tocsin_store::StoreError::Output { kind, .. }) => Some(*kind),
                _ => None,
            },
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

async fn list_or_export(store: &Store, command: &HistoryCommand) -> anyhow::Result<()> {
    match command {
        HistoryCommand::List { json, limit, filters } => {
            let q = HistoryQuery { limit: (*limit).clamp(1, 1000), ..query(filters, None)? };
            print_items(&store.query(&q).await?.items, *json)
        }
        HistoryCommand::Search { words, json, limit, filters } => {
            let q = HistoryQuery { limit: (*limit).clamp(1, 1000), ..query(filters, Some(words.join(" ")))? };
            let page = store.query(&q).await?;
            if !json {
                let total = page.total.unwrap_or(0);
                eprintln!("{}{} matching events", total, if page.total_capped { "+" } else { "" });
            }
            print_items(&page.items, *json)
        }
        HistoryCommand::Export { format, output, search, filters } => {
            let format = match format.as_str() {
                "jsonl" | "json" => ExportFormat::Jsonl,
                "csv" => ExportFormat::Csv,
                other => bail!("--format {other}: use jsonl or csv"),
            };
            let q = query(filters, search.clone())?;
            let n = match output {
                Some(file) => {
                    let f = std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    store.export(&q, format, &mut w).await?
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    store.export(&q, format, &mut w).await?
                }
            };
            eprintln!("exported {n} events");
            Ok(())
        }
    }
}

fn print_items(items: &[HistoryItem], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(items)?)?;
        return Ok(());
    }
    for item in items {
        // Control characters from strangers never reach the terminal.
        let subject: String = item.subject.as_deref().unwrap_or(&item.provider_type).chars().filter(|c| !c.is_control()).collect();
        writeln!(
            out,
            "{:>8}  {:<7} {:<10} {:<18} {}{}",
            item.id,
            item.tier.as_str(),
            item.account,
            item.kind.as_str(),
            if item.read { "" } else { "* " },
            subject
        )?;
    }
    Ok(())
}

/// The store query for these filters.
pub fn query(f: &HistoryFilters, text: Option<String>) -> anyhow::Result<HistoryQuery> {
    let providers = f
        .providers
        .iter()
        .map(|p| Provider::parse(p).ok_or_else(|| anyhow!("--provider {p}: use daimon, agentmail, divinci, prismer or bivariant")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tiers = f
        .tiers
        .iter()
        .map(|t| Tier::parse(t).ok_or_else(|| anyhow!("--tier {t}: use urgent, high, normal or low")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let kinds = f.kinds.iter().map(|k| EventKind::parse(k)).collect();
    let now = tocsin_model::now_ms();
    let since_ms = f.since.as_deref().map(|s| parse_time(s, now).with_context(|| format!("--since {s}"))).transpose()?;
    let until_ms = f.until.as_deref().map(|s| parse_time(s, now).with_context(|| format!("--until {s}"))).transpose()?;
    Ok(HistoryQuery {
        text,
        accounts: f.accounts.clone(),
        providers,
        kinds,
        tiers,
        read: if f.unread { Some(false) } else if f.read { Some(true) } else { None },
        since_ms,
        until_ms,
        before_id: None,
        limit: 50,
    })
}

/// RFC 3339, a local date (`2026-11-01`), or an age before `now_ms` (`90m`, `2h`, `7d`).
pub fn parse_time(s: &str, now_ms: i64) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Some(n) = s.strip_suffix(['m', 'h', 'd', 'w']) {
        if let Ok(n) = n.parse::<i64>() {
            let unit = match s.chars().last() {
                Some('m') => 60_000,
                Some('h') => 3_600_000,
                Some('d') => 86_400_000,
                _ => 7 * 86_400_000,
            };
            return Ok(now_ms - n * unit);
        }
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        use chrono::TimeZone;
        let midnight = d.and_hms_opt(0, 0, 0).ok_or_else(|| anyhow!("not a time"))?;
        if let Some(t) = chrono::Local.from_local_datetime(&midnight).earliest() {
            return Ok(t.timestamp_millis());
        }
    }
    bail!("not a time: use 2026-11-01T09:00:00Z, 2026-11-01, or an age like 2h or 7d")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        assert_eq!(parse_time("2h", 10_000_000).unwrap(), 10_000_000 - 7_200_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z", 0).unwrap(), 1000);
        assert!(parse_time("2026-11-01", 0).is_ok());
        assert!(parse_time("yesterday", 0).is_err());
    }
}
