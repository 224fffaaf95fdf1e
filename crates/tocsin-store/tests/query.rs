//! Search, filters, paging, retention and export against a real SQLite file.

use tocsin_model::{Event, EventKind, HistoryQuery, Provider, Tier, MATCH_END, MATCH_START};
use tocsin_store::{ExportFormat, NewEvent, Retention, Store};

fn event(n: u32, account: &str, provider: Provider, subject: &str, text: &str, tier: Tier, received: i64) -> NewEvent {
    NewEvent {
        event: Event {
            dedupe_key: format!("{account}:{n}"),
            provider,
            account: account.into(),
            kind: if n % 5 == 0 { EventKind::MessageSent } else { EventKind::MessageReceived },
            provider_type: "message.received".into(),
            provider_event_id: Some(format!("e{n}")),
            occurred_at_ms: Some(received),
            received_at_ms: received,
            inbox: Some("inbox_ops".into()),
            thread: None,
            message_id: Some(format!("m{n}")),
            sender: Some(format!("sender{}@example.com", n % 3)),
            subject: Some(subject.into()),
            text: Some(text.into()),
            html: None,
            labels: vec![],
            attachments: vec![],
            replayed: false,
            ack: None,
            priority: None,
            topic: None,
            raw: serde_json::json!({"n": n}),
        },
        tier,
    }
}

async fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("history.db")).await.unwrap();
    let mut batch = Vec::new();
    for n in 1..=300u32 {
        let (account, provider) = if n % 2 == 0 { ("mail", Provider::Daimon) } else { ("chat", Provider::Divinci) };
        let tier = if n % 10 == 0 { Tier::Urgent } else { Tier::Normal };
        let subject = if n % 7 == 0 { format!("Invoice {n} overdue") } else { format!("Weekly report {n}") };
        let text = if n == 150 { "The café déjà vu server is on fire, call Zoë".to_owned() } else { format!("body number {n}") };
        batch.push(event(n, account, provider, &subject, &text, tier, 1_000 * i64::from(n)));
    }
    store.insert_batch(&batch).await.unwrap();
    (dir, store)
}

fn q() -> HistoryQuery {
    HistoryQuery { limit: 50, ..Default::default() }
}

#[tokio::test]
async fn words_find_events_with_marked_matches_newest_first() {
    let (_d, store) = seeded().await;
    let page = store.query(&HistoryQuery { text: Some("invoice overdue".into()), ..q() }).await.unwrap();
    // Multiples of 7 up to 300: 42 of them.
    assert_eq!(page.total, Some(42));
    assert!(!page.total_capped);
    assert_eq!(page.items.len(), 42);
    assert_eq!(page.items[0].subject.as_deref(), Some("Invoice 294 overdue"));
    assert!(page.items.windows(2).all(|w| w[0].id > w[1].id));
    let m = page.items[0].matches.as_ref().unwrap();
    assert_eq!(m.subject.as_deref(), Some(format!("{MATCH_START}Invoice{MATCH_END} 294 {MATCH_START}overdue{MATCH_END}").as_str()));

    // Diacritics are folded, `zo*` is a prefix, the body is searched and snippets
    // mark the words.
    let page = store.query(&HistoryQuery { text: Some("cafe zo*".into()), ..q() }).await.unwrap();
    assert_eq!(page.items.len(), 1);
    // Without the star, words are whole words.
    assert_eq!(store.query(&HistoryQuery { text: Some("cafe zo".into()), ..q() }).await.unwrap().total, Some(0));
    let page = store.query(&HistoryQuery { text: Some("CAFÉ zoë".into()), ..q() }).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let snippet = page.items[0].matches.as_ref().unwrap().snippet.clone().unwrap();
    assert!(snippet.contains(&format!("{MATCH_START}café{MATCH_END}")), "{snippet}");
    assert!(snippet.contains(&format!("{MATCH_START}Zoë{MATCH_END}")), "{snippet}");

    // Sender addresses are searchable.
    let page = store.query(&HistoryQuery { text: Some("sender2".into()), ..q() }).await.unwrap();
    assert_eq!(page.total, Some(100));
}

#[tokio::test]
async fn hostile_search_text_is_just_words() {
    let (_d, store) = seeded().await;
    for text in ["\"", "AND OR NOT", "-", "body:*", "NEAR(a b)", "'; DROP TABLE events; --", "((", "*", "\u{2}"] {
        let page = store.query(&HistoryQuery { text: Some(text.into()), ..q() }).await;
        assert!(page.is_ok(), "{text:?}: {page:?}");
    }
    assert_eq!(store.count().await.unwrap(), 300);
    // Blank text is no search at all.
    let page = store.query(&HistoryQuery { text: Some("   ".into()), ..q() }).await.unwrap();
    assert_eq!(page.total, Some(300));
    assert!(page.items[0].matches.is_none());
}

#[tokio::test]
async fn filters_combine_and_pages_follow() {
    let (_d, store) = seeded().await;
    let base = HistoryQuery { accounts: vec!["mail".into()], tiers: vec![Tier::Urgent], ..q() };
    let page = store.query(&base).await.unwrap();
    // Even and a multiple of 10: 30.
    assert_eq!(page.total, Some(30));
    assert!(page.items.iter().all(|i| i.account == "mail" && i.tier == Tier::Urgent));

    let page = store.query(&HistoryQuery { providers: vec![Provider::Divinci], kinds: vec![EventKind::MessageSent], ..q() }).await.unwrap();
    // Odd multiples of 5: 30.
    assert_eq!(page.total, Some(30));

    let page = store.query(&HistoryQuery { since_ms: Some(100_000), until_ms: Some(110_000), ..q() }).await.unwrap();
    assert_eq!(page.total, Some(10));

    let first = store.items_id(&store.query(&HistoryQuery { limit: 7, ..base.clone() }).await.unwrap());
    let last = *first.last().unwrap();
    let next = store.query(&HistoryQuery { limit: 7, before_id: Some(last), ..base.clone() }).await.unwrap();
    assert_eq!(next.total, None);
    assert!(next.items.iter().all(|i| i.id < last));
    assert_eq!(next.items.len(), 7);

    // Filters and words together (the count joins the table).
    let page = store.query(&HistoryQuery { text: Some("invoice".into()), accounts: vec!["mail".into()], ..q() }).await.unwrap();
    assert_eq!(page.total, Some(21), "even multiples of 7");

    // Paging works through a text search too.
    let text = HistoryQuery { text: Some("weekly".into()), limit: 100, ..q() };
    let p1 = store.query(&text).await.unwrap();
    let p2 = store.query(&HistoryQuery { before_id: Some(p1.items.last().unwrap().id), ..text.clone() }).await.unwrap();
    assert!(p2.items.iter().all(|i| i.id < p1.items.last().unwrap().id));
    assert_eq!(p1.items.len() + p2.items.len(), 100 + p2.items.len());

    store.set_read(p1.items[0].id, true).await.unwrap();
    let unread = store.query(&HistoryQuery { read: Some(false), ..q() }).await.unwrap();
    assert_eq!(unread.total, Some(299));
    let read = store.query(&HistoryQuery { read: Some(true), ..q() }).await.unwrap();
    assert_eq!(read.items.len(), 1);
}

#[tokio::test]
async fn totals_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("h.db")).await.unwrap();
    let batch: Vec<_> = (0..10_050u32).map(|n| event(n, "a", Provider::Daimon, "same words", "x", Tier::Normal, 1)).collect();
    store.insert_batch(&batch).await.unwrap();
    let page = store.query(&HistoryQuery { text: Some("same".into()), ..q() }).await.unwrap();
    assert_eq!(page.total, Some(tocsin_store::TOTAL_CAP));
    assert!(page.total_capped);
}

#[tokio::test]
async fn retention_deletes_by_age_then_by_count_and_cleans_the_index() {
    let (_d, store) = seeded().await;
    // "now" is day 2 after the epoch: keep 1 day = everything received after day 1 (none of ours).
    let deleted = store.apply_retention(&Retention { max_age_days: Some(1), max_events: None }, 86_400_000 + 200_000).await.unwrap();
    assert_eq!(deleted, 199, "events received before 200 s are older than a day");
    assert_eq!(store.count().await.unwrap(), 101);
    let deleted = store.apply_retention(&Retention { max_age_days: None, max_events: Some(100) }, 0).await.unwrap();
    assert_eq!(deleted, 1);
    let left = store.query(&HistoryQuery { limit: 100, ..q() }).await.unwrap();
    assert_eq!(left.total, Some(100));
    assert_eq!(left.items.last().unwrap().subject.as_deref(), Some("Weekly report 201"));
    // The FTS index forgot deleted rows.
    let page = store.query(&HistoryQuery { text: Some("cafe".into()), ..q() }).await.unwrap();
    assert_eq!(page.total, Some(0));
    assert!(Retention { max_age_days: Some(0), max_events: None }.validate().is_err());
    assert!(Retention { max_age_days: None, max_events: Some(5) }.validate().is_err());
}

#[tokio::test]
async fn export_writes_jsonl_and_safe_csv() {
    let (_d, store) = seeded().await;
    store
        .insert_batch(&[event(999, "mail", Provider::Daimon, "=HYPERLINK(\"http://evil\")", "line1\nline2, \"quoted\"", Tier::High, 999_000)])
        .await
        .unwrap();
    let mut jsonl = Vec::new();
    let n = store.export(&HistoryQuery { accounts: vec!["mail".into()], ..q() }, ExportFormat::Jsonl, &mut jsonl).await.unwrap();
    assert_eq!(n, 151);
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 151);
    assert!(lines.windows(2).all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()), "oldest first");
    assert_eq!(lines[0]["raw"]["n"], 2);

    let mut csv = Vec::new();
    let n = store.export(&HistoryQuery { text: Some("hyperlink".into()), ..q() }, ExportFormat::Csv, &mut csv).await.unwrap();
    assert_eq!(n, 1);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("id,received_at,account"));
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "{csv}");
    assert!(csv.contains("\"line1\nline2, \"\"quoted\"\"\""), "{csv}");
    assert!(csv.contains("1970-01-01T00:16:39.000Z"), "{csv}");
}

trait Ids {
    fn items_id(&self, page: &tocsin_model::HistoryPage) -> Vec<i64>;
}
impl Ids for Store {
    fn items_id(&self, page: &tocsin_model::HistoryPage) -> Vec<i64> {
        page.items.iter().map(|i| i.id).collect()
    }
}
