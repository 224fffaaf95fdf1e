//! The engine with a real emulator on loopback and a real SQLite file. The notifier
//! here records alerts in memory (the D-Bus path is tested end to end in `tests/`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tocsin_emulator::{Emulator, EmulatorConfig};
use tocsin_engine::{Config, ConnState, Engine, EngineOptions, Update};
use tocsin_model::{EventKind, Tier};

mod support;
use support::{wait_until, NoServer, Recorder};

async fn setup(account: &str) -> (Emulator, EngineOptions, tempfile::TempDir) {
    let key = format!("dm_live_{account}_key");
    std::env::set_var(tocsin_secrets::env_var_name(account), &key);
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![key], ..Default::default() })
        .await
        .unwrap();
    let config = Config::parse(
        &format!("[[accounts]]\nname = \"{account}\"\nprovider = \"daimon\"\nurl = \"{}\"\n", emu.daimon_url()),
        "test",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        config,
        data_dir: dir.path().to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_secs(1),
    };
    (emu, options, dir)
}

fn mail(id: &str, subject: &str, labels: &[&str]) -> serde_json::Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":id,"from":"a@b.c","subject":subject,"body":"body text","labels":labels}}})
}

#[tokio::test]
async fn stores_everything_notifies_urgent_once_and_respects_pause() {
    let (emu, options, _dir) = setup("pipeline").await;
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    let mut updates = engine.subscribe();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;

    let d = emu.daimon();
    d.publish(mail("e1", "weekly report", &[]));
    d.publish(mail("e2", "[URGENT] db down", &[]));
    d.publish(mail("e3", "escalation", &["priority"]));
    d.publish(json!({"event_id":"e4","type":"message.bounced","payload":{"recipient":"x@y.z"}}));
    d.publish(mail("e2", "[URGENT] db down (redelivered)", &[])); // same event id: a duplicate
    wait_until(|| engine.snapshot().accounts[0].events_received == 5).await;
    wait_until(|| recorder.0.lock().unwrap().len() == 2).await;

    let items = stored(&engine, 4).await;
    let tiers: Vec<_> = items.iter().map(|i| (i.subject.clone(), i.tier)).collect();
    assert_eq!(items.len(), 4, "{tiers:?}");
    assert_eq!(items[0].kind, EventKind::MessageBounced);
    assert_eq!(items[0].tier, Tier::High);
    assert_eq!(items[1].tier, Tier::Urgent);
    assert_eq!(items[2].tier, Tier::Urgent);
    assert_eq!(items[3].tier, Tier::Normal);
    let alerts = recorder.0.lock().unwrap().clone();
    assert_eq!(alerts[0].summary, "[URGENT] db down");
    assert_eq!(alerts[1].summary, "escalation");
    assert!(alerts[0].body.contains("From a@b.c") && alerts[0].body.contains("body text"), "{}", alerts[0].body);
    assert_eq!(engine.snapshot().unread_urgent, 2);

    let mut stored = 0;
    while let Ok(u) = updates.try_recv() {
        if matches!(u, Update::Stored(_)) {
            stored += 1;
        }
    }
    assert_eq!(stored, 4, "the window hears of each new event once");

    engine.set_paused(true);
    d.publish(mail("e5", "[URGENT] while paused", &[]));
    wait_until(|| engine.snapshot().unread_urgent == 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.0.lock().unwrap().len(), 2, "paused: stored and counted, not notified");
    engine.set_paused(false);
    d.publish(mail("e6", "[URGENT] after resume", &[]));
    wait_until(|| recorder.0.lock().unwrap().len() == 3).await;

    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn resumes_from_the_stored_cursor_after_a_restart() {
    let (emu, options, _dir) = setup("restart").await;
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options.clone(), recorder.clone()).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    emu.daimon().publish(mail("r1", "first", &[]));
    wait_until(|| engine.snapshot().accounts[0].events_received == 1).await;
    engine.shutdown().await;

    // Published while Tocsin was not running: replayed on the next start.
    emu.daimon().publish(mail("r2", "[URGENT] missed while down", &[]));
    emu.daimon().publish(mail("r3", "also missed", &[]));
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].events_received == 2).await;
    wait_until(|| recorder.0.lock().unwrap().len() == 1).await;
    let items = stored(&engine, 3).await;
    let subjects: Vec<_> = items.iter().map(|i| i.subject.clone().unwrap()).collect();
    assert_eq!(subjects, ["also missed", "[URGENT] missed while down", "first"]);
    assert!(items[0].replayed && items[1].replayed && !items[2].replayed);
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn without_a_notification_server_the_snapshot_says_so_and_events_are_kept() {
    let (emu, options, _dir) = setup("nonotify").await;
    let engine = Engine::start(options, Arc::new(NoServer)).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    emu.daimon().publish(mail("n1", "[URGENT] nobody listening", &[]));
    wait_until(|| engine.snapshot().notifier_error.is_some()).await;
    assert_eq!(engine.snapshot().notifier_cause, Some(tocsin_engine::NotifierCause::NoServer));
    assert!(engine.snapshot().notifier_error.unwrap().contains("no notification service"), "and in words");
    assert_eq!(stored(&engine, 1).await.len(), 1);
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn a_bad_key_shows_a_fatal_state() {
    let (emu, options, _dir) = setup("badkey").await;
    std::env::set_var(tocsin_secrets::env_var_name("badkey"), "dm_live_wrong");
    let engine = Engine::start(options, Arc::new(Recorder::default())).await.unwrap();
    wait_until(|| matches!(engine.snapshot().accounts[0].state, ConnState::Closed { fatal: true, .. })).await;
    assert_eq!(engine.snapshot().tray_state(), tocsin_engine::TrayState::Error);
    // The admin fixes the key, then asks for a reconnect: the stopped account comes back.
    std::env::set_var(tocsin_secrets::env_var_name("badkey"), "dm_live_badkey_key");
    engine.reconnect_all();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn the_demo_profile_streams_into_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        config: Config::default(),
        data_dir: dir.path().to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_millis(20),
    };
    let recorder = Arc::new(Recorder::default());
    let started = std::time::Instant::now();
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    assert!(engine.snapshot().demo);
    assert!(engine.demo_emulator_addr().unwrap().ip().is_loopback());
    assert_eq!(engine.snapshot().accounts.len(), 5, "one demo account per provider");
    wait_until(|| engine.snapshot().accounts.iter().all(|a| a.state == ConnState::Subscribed)).await;
    wait_until(|| engine.snapshot().accounts.iter().all(|a| a.events_received >= 3)).await;
    // The demo's first urgent event (due 5 s after the start, on its schedule) is
    // classified urgent by the default rules and raised as an alert.
    support::wait_until_for(Duration::from_secs(30), || !recorder.0.lock().unwrap().is_empty()).await;
    eprintln!("first demo alert after {:?}: {}", started.elapsed(), recorder.0.lock().unwrap()[0].summary);
    engine.shutdown().await;
    let store = tocsin_store::Store::open(&dir.path().join("history.db")).await.unwrap();
    assert!(store.count().await.unwrap() >= 20);
}

#[tokio::test]
async fn mark_read_goes_to_the_provider_then_the_history() {
    let (emu, options, _dir) = setup("markread").await;
    let engine = Engine::start(options, Arc::new(Recorder::default())).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    emu.daimon().publish(mail("k1", "[URGENT] read me", &[]));
    wait_until(|| engine.snapshot().unread_urgent == 1).await;
    let id = engine.history(1, None).await.unwrap()[0].id;
    engine.mark_read(id).await.unwrap();
    let cmd = emu.daimon().commands().into_iter().find(|c| c["action"] == "mark_as_read").expect("the provider was told");
    assert_eq!(cmd["message_id"], "k1");
    assert!(engine.history(1, None).await.unwrap()[0].read);
    assert_eq!(engine.snapshot().unread_urgent, 0);
    engine.mark_read(id).await.unwrap(); // already read: nothing to do
    assert_eq!(emu.daimon().commands().iter().filter(|c| c["action"] == "mark_as_read").count(), 1);
    let missing = engine.mark_read(999_999).await.unwrap_err();
    assert_eq!(missing.code, tocsin_engine::ErrorCode::NotFound);
    engine.reply(id, "On it").await.unwrap();
    assert!(emu.daimon().commands().iter().any(|c| c["action"] == "send_email" && c["params"]["body"] == "On it"));
    assert_eq!(engine.reply(id, "  ").await.unwrap_err().code, tocsin_engine::ErrorCode::InvalidArgument);
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn one_account_of_each_provider_connects_and_stores() {
    let key = "key_five_providers";
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![key.into()], ..Default::default() })
        .await
        .unwrap();
    for name in ["d5", "a5", "p5", "c5", "b5"] {
        std::env::set_var(tocsin_secrets::env_var_name(name), key);
    }
    let toml = format!(
        r#"
[[accounts]]
name = "d5"
provider = "daimon"
url = "{daimon}"
[[accounts]]
name = "a5"
provider = "agentmail"
url = "{agentmail}"
auth = "query"
[[accounts]]
name = "p5"
provider = "prismer"
url = "{prismer}"
auth = "frame"
[[accounts]]
name = "c5"
provider = "divinci"
url = "{divinci}"
auth = "token"
[[accounts]]
name = "b5"
provider = "bivariant"
url = "{bivariant}"
topics = ["events.org_123.>"]
"#,
        daimon = emu.daimon_url(),
        agentmail = emu.agentmail_url(),
        prismer = emu.prismer_url(),
        divinci = emu.divinci_chat_url("thr_5"),
        bivariant = emu.bivariant_url()
    );
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        config: Config::parse(&toml, "test").unwrap(),
        data_dir: dir.path().to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_secs(1),
    };
    let engine = Engine::start(options, Arc::new(Recorder::default())).await.unwrap();
    wait_until(|| engine.snapshot().accounts.iter().all(|a| a.state == ConnState::Subscribed)).await;
    assert_eq!(engine.snapshot().accounts.len(), 5);
    emu.daimon().publish(mail("five-d", "from daimon", &[]));
    emu.agentmail().publish(tocsin_emulator::agentmail::message_received("five-a", "x@agentmail.to", "a@b.c", "from agentmail", "t", &[]));
    emu.prismer().publish(tocsin_emulator::prismer::message_new("five-p", "conv", "usr_other", "from prismer"));
    emu.divinci().publish(tocsin_emulator::divinci::message_created("five-c", "thr_5", "from the chat sdk"));
    emu.bivariant().publish(tocsin_emulator::bivariant::message_posted("five-b", "conv_5", "from the topic platform"));
    wait_until(|| engine.snapshot().accounts.iter().all(|a| a.events_received >= 1)).await;
    let mut items = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            // A new Prismer account also gets its "now following" entry (the sync cursor).
            items = engine.history(10, None).await.unwrap();
            items.retain(|i| i.provider_type != "tocsin.following");
            if items.len() >= 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let mut providers: Vec<&str> = items.iter().map(|i| i.provider.as_str()).collect();
    providers.sort();
    assert_eq!(providers, ["agentmail", "bivariant", "daimon", "divinci", "prismer"]);
    // Prismer events were acknowledged after the commit.
    wait_until(|| emu.prismer().hub.commands().iter().any(|c| c["type"] == "ack")).await;
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn user_rules_decide_tier_and_notification_and_persist() {
    let (emu, options, _dir) = setup("rules").await;
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options.clone(), recorder.clone()).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    let bad = engine.set_rules_toml("[[rules]]\nname = \"broken\"\nwhen = { subject_regex = \"(oops\" }\nthen = { tier = \"urgent\" }\n").await;
    let err = bad.unwrap_err();
    assert_eq!(err.code, tocsin_engine::ErrorCode::InvalidArgument);
    assert!(err.message.contains("\"broken\"") && err.message.contains("subject_regex"), "{}", err.message);
    engine
        .set_rules_toml(
            r#"
[[rules]]
name = "VIP"
when = { sender = ["@vip.example"] }
then = { tier = "urgent" }

[[rules]]
name = "Newsletters stay quiet"
when = { subject_contains = ["newsletter"] }
then = { tier = "low", notify = false }
"#,
        )
        .await
        .unwrap();
    let vip = json!({"event_id":"r1","type":"message.received","inbox_id":"inbox_ops",
        "payload":{"message":{"id":"r1","from":"CEO <ceo@vip.example>","subject":"call me","body":"now"}}});
    emu.daimon().publish(vip);
    emu.daimon().publish(mail("r2", "[URGENT] Weekly newsletter", &[]));
    wait_until(|| engine.snapshot().accounts[0].events_received == 2).await;
    wait_until(|| recorder.0.lock().unwrap().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alerts = recorder.0.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "only the VIP mail notifies: {alerts:?}");
    assert_eq!(alerts[0].summary, "call me");
    let items = engine.history(10, None).await.unwrap();
    assert_eq!(items[0].tier, Tier::Low, "the newsletter rule comes before the built-in [URGENT] rule? no: user rules replace the set");
    assert_eq!(items[1].tier, Tier::Urgent);
    let decision = engine.test_rules(items[1].id, None).await.unwrap();
    assert_eq!(decision.rule.as_deref(), Some("VIP"));
    engine.shutdown().await;
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    assert!(engine.rules_toml().unwrap().contains("Newsletters stay quiet"), "rules survive a restart");
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_urgent_mail_becomes_a_few_notifications_and_a_summary() {
    let (emu, options, _dir) = setup("burst").await;
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    let mut settings = engine.attention_settings();
    settings.coalesce_max = 3;
    settings.coalesce_window_secs = 1;
    engine.set_attention_settings(settings).await.unwrap();
    for n in 0..20 {
        emu.daimon().publish(mail(&format!("u{n}"), &format!("[URGENT] alert {n}"), &[]));
    }
    wait_until(|| engine.snapshot().unread_urgent == 20).await;
    wait_until(|| recorder.0.lock().unwrap().iter().any(|a| a.summary.contains("urgent emails"))).await;
    let alerts = recorder.0.lock().unwrap().clone();
    assert_eq!(alerts.len(), 4, "3 alone, then one summary: {alerts:#?}");
    assert_eq!(alerts[3].summary, "17 urgent emails in 1 inbox");
    let mut bad = engine.attention_settings();
    bad.coalesce_max = 0;
    assert_eq!(engine.set_attention_settings(bad).await.unwrap_err().code, tocsin_engine::ErrorCode::InvalidArgument);
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn search_detail_unread_and_notifications_switch_through_the_engine() {
    let (emu, options, _dir) = setup("windowops").await;
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    let d = emu.daimon();
    d.publish(json!({"event_id":"w1","type":"message.received","inbox_id":"inbox_ops",
        "payload":{"message":{"id":"w1","from":"a@b.c","subject":"[URGENT] Kiwi outage","body":"kiwi body",
                   "html_body":"<p onclick=x()>Hi <img src=https://t.example/p.gif></p><script>x()</script>",
                   "to":["ops@example.com"],"web_url":"https://mail.example.com/w1"}}}));
    wait_until(|| engine.snapshot().unread_urgent == 1).await;

    let page = engine.query(&tocsin_model::HistoryQuery { text: Some("kiwi".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(page.total, Some(1));
    let id = page.items[0].id;
    let detail = engine.detail(id, false).await.unwrap();
    let html = detail.html.unwrap();
    assert_eq!(html.remote_images, 1);
    assert!(!html.document.contains("<script") && !html.document.contains("onclick") && !html.document.contains("t.example"));
    assert_eq!(detail.web_url.as_deref(), Some("https://mail.example.com/w1"));
    assert!(detail.headers.iter().any(|h| h.name == "To" && h.value == "ops@example.com"));
    assert_eq!(engine.query(&tocsin_model::HistoryQuery { limit: 0, ..Default::default() }).await.unwrap_err().code, tocsin_engine::ErrorCode::InvalidArgument);

    // Read, then unread again: the urgent count follows.
    engine.set_read(id, true).await.unwrap();
    assert_eq!(engine.snapshot().unread_urgent, 0);
    engine.set_read(id, false).await.unwrap();
    assert_eq!(engine.snapshot().unread_urgent, 1);
    assert!(engine.detail(999_999, false).await.is_err());

    // Notifications off: stored, counted, not shown.
    let shown = recorder.0.lock().unwrap().len();
    let settings = tocsin_engine::attention::AttentionSettings { notifications_enabled: false, ..Default::default() };
    engine.set_attention_settings(settings).await.unwrap();
    d.publish(mail("w2", "[URGENT] second", &[]));
    wait_until(|| engine.snapshot().unread_urgent == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorder.0.lock().unwrap().len(), shown, "no notification while they are off");

    // Retention settings are validated and stored.
    assert!(engine.set_retention(tocsin_store::Retention { max_age_days: Some(0), max_events: None }).await.is_err());
    let r = tocsin_store::Retention { max_age_days: Some(30), max_events: Some(5000) };
    engine.set_retention(r).await.unwrap();
    assert_eq!(engine.retention().await, r);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_history_keeps_events_in_memory_says_so_and_still_alerts_once() {
    use sqlx::ConnectOptions;
    let (emu, options, dir) = setup("locked").await;
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    emu.daimon().publish(mail("k0", "before the lock", &[]));
    stored(&engine, 1).await;

    // Another program takes the history's write lock and keeps it past the busy timeout.
    let mut other = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("history.db")).connect().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    emu.daimon().publish(mail("k1", "[URGENT] while the history is locked", &[]));
    emu.daimon().publish(mail("k2", "also while locked", &[]));
    wait_until(|| engine.snapshot().accounts[0].events_received == 3).await;
    wait_until(|| engine.snapshot().store_error.is_some()).await;
    let problem = engine.snapshot().store_error.unwrap();
    assert!(problem.contains("locked"), "{problem}");
    // The urgent one alerts although it cannot be written yet: alerts do not wait
    // for the disk.
    wait_until(|| recorder.0.lock().unwrap().len() == 1).await;
    assert_eq!(engine.history(10, None).await.unwrap().len(), 1, "not stored yet");
    // A redelivery of it while it waits (a reconnect's replay) is a duplicate.
    emu.daimon().publish(mail("k1", "[URGENT] while the history is locked", &[]));
    wait_until(|| engine.snapshot().accounts[0].events_received == 4).await;

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    drop(other);
    wait_until(|| engine.snapshot().store_error.is_none()).await;
    wait_until(|| engine.snapshot().unread_urgent == 1).await;
    let items = engine.history(10, None).await.unwrap();
    let subjects: Vec<_> = items.iter().map(|i| i.subject.clone().unwrap()).collect();
    assert_eq!(subjects, ["also while locked", "[URGENT] while the history is locked", "before the lock"]);
    let alert = recorder.0.lock().unwrap()[0].clone();
    assert_eq!(alert.event_id, items[1].id, "the alert, raised before the write, opens the stored event");
    // Retried, but alerted once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
    engine.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_engine_receives_into_a_history_at_a_time() {
    let (emu, options, _dir) = setup("one-writer").await;
    let first = Engine::start(options.clone(), Arc::new(Recorder::default())).await.unwrap();
    wait_until(|| first.snapshot().accounts[0].state == ConnState::Subscribed).await;
    emu.daimon().publish(mail("w0", "first engine", &[]));
    wait_until(|| first.snapshot().accounts[0].events_received == 1).await;

    // A second one on the same history would number rows the first also numbers.
    let second = Engine::start(options.clone(), Arc::new(Recorder::default())).await;
    let message = second.err().expect("a second engine on the same history is refused").to_string();
    assert!(message.contains("already receiving events"), "{message}");

    // Once the first stops, the next one continues the numbering after its rows.
    first.shutdown().await;
    let next = Engine::start(options, Arc::new(Recorder::default())).await.unwrap();
    wait_until(|| next.snapshot().accounts[0].state == ConnState::Subscribed).await;
    emu.daimon().publish(mail("w1", "second engine", &[]));
    wait_until(|| next.snapshot().accounts[0].events_received >= 1).await;
    let items = stored(&next, 2).await;
    assert!(items[0].id > items[1].id, "{items:?}");
    next.shutdown().await;
    emu.shutdown().await;
}

/// The newest events (up to 50, newest first) once the history holds at least `n`:
/// alerts are raised before the write, so an alert does not mean the event is stored yet.
async fn stored(engine: &Engine, n: usize) -> Vec<tocsin_model::HistoryItem> {
    for _ in 0..200 {
        let items = engine.history(50, None).await.unwrap();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the history never held {n} events");
}
