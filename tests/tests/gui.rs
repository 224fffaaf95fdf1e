//! The real tray app under Xvfb: its StatusNotifierItem and menu read and clicked
//! over D-Bus by a tray host on a private bus, and its window driven through
//! WebKitWebDriver. Run through scripts/test.sh (Xvfb); without a display these
//! tests fail with a message saying so.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::app::{require_display, resident_with_window, AppProcess};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::tray::{flatten, StatusNotifierWatcher};
use tocsin_e2e::wait_for;
use tocsin_e2e::webdriver::WebDriver;
use tocsin_e2e::desk::OneAccount;

const KEY: &str = "dm_live_gui_test_key_4821";

struct Setup(OneAccount);

impl std::ops::Deref for Setup {
    type Target = OneAccount;
    fn deref(&self) -> &OneAccount {
        &self.0
    }
}

async fn setup() -> Setup {
    require_display();
    Setup(OneAccount::start(KEY, "").await)
}

impl Setup {
    async fn connected(&self) {
        wait_for("the app to connect", Duration::from_secs(30), || async {
            (self.emu.daimon().connections() > 0).then_some(())
        })
        .await;
    }
}

fn mail(id: &str, subject: &str, from: &str, body: &str, labels: &[&str]) -> Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":format!("msg_{id}"),"inbox_id":"inbox_ops","from":from,
                                 "subject":subject,"body":body,"labels":labels}}})
}

fn status_line(menu: &[tocsin_e2e::tray::MenuEntry]) -> String {
    flatten(menu)
        .into_iter()
        .find(|e| e.label.contains("unread urgent"))
        .map(|e| e.label.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_tells_the_truth_and_quit_exits() {
    let s = setup().await;
    let bus = PrivateBus::start();
    let watcher = StatusNotifierWatcher::start(&bus).await;
    let notes = RecordingNotificationServer::start(&bus).await;
    let mut env: Vec<(String, String)> = s.env();
    env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    // One control-socket directory for both launches, so the second finds the first.
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut app = AppProcess::spawn(&["--minimized"], &env_refs);

    let item = watcher.wait_for_item(Duration::from_secs(30)).await;
    s.connected().await;
    // The lines are updated one after the other: wait for both.
    let menu = item
        .wait_for_menu(
            |m| status_line(m).starts_with("Connected") && flatten(m).iter().any(|e| e.label == "ops (daimon): connected"),
            Duration::from_secs(20),
        )
        .await;
    let labels: Vec<String> =
        flatten(&menu).into_iter().filter(|e| !e.is_separator() && !e.label.is_empty()).map(|e| e.label.clone()).collect();
    assert_eq!(
        labels,
        [
            "Connected · 0 unread urgent",
            "ops (daimon): connected",
            "Open history",
            "Pause for 1 hour",
            "Pause until tomorrow morning",
            "Pause until I resume",
            "Resume notifications",
            "Reconnect all",
            "Quit"
        ],
        "{menu:#?}"
    );
    let resume = flatten(&menu).into_iter().find(|e| e.label == "Resume notifications").unwrap().clone();
    assert!(!resume.enabled, "nothing to resume yet");
    let status_entry = flatten(&menu).into_iter().find(|e| e.label.contains("unread urgent")).unwrap().clone();
    assert!(!status_entry.enabled, "the status line is information, not an action");
    assert_eq!((item.id().await, item.title().await), ("tocsin".to_owned(), "Tocsin".to_owned()));
    // Properties are read from the same state as the menu: the icon is the connected one.
    let icon_connected = item.icon_pixmap().await;
    assert!(
        icon_connected.len() == 1 && icon_connected[0].argb.len() == (icon_connected[0].width * icon_connected[0].height * 4) as usize,
        "one ARGB32 icon: {:?}",
        icon_connected.iter().map(|p| (p.width, p.height, p.argb.len())).collect::<Vec<_>>()
    );
    let tip = item.tool_tip().await.expect("the item has a tooltip");
    assert_eq!((tip.title.as_str(), tip.description.as_str()), ("Tocsin", "Connected · 0 unread urgent"));

    // An urgent event: notified, counted in the menu and the tooltip, the icon changes
    // (the urgent icon with the count as a badge).
    s.emu.daimon().publish(mail("u1", "[URGENT] Disk full on db-1", "alerts@example.com", "97% used", &[]));
    let got = notes.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].summary, "[URGENT] Disk full on db-1");
    item.wait_for_menu(|m| status_line(m) == "Connected · 1 unread urgent", Duration::from_secs(10)).await;
    item.wait_for_tool_tip(|t| t.description.contains("1 unread urgent"), Duration::from_secs(10)).await;
    let icon_urgent = item.icon_pixmap().await;
    assert!(!icon_urgent.is_empty(), "the item still has an icon");
    assert_ne!(icon_connected, icon_urgent, "the icon shows the unread-urgent state");

    // A second launch does not start another Tocsin: it hands over and exits.
    let mut second = AppProcess::spawn(&["--minimized"], &env_refs);
    let status = second.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}\n{}", second.log());
    assert!(app.running(), "the first instance keeps running");

    // Pause for an hour from the tray: the status line says until when.
    item.click_label("Pause for 1 hour").await;
    item.wait_for_menu(|m| status_line(m).contains("paused until "), Duration::from_secs(10)).await;
    // Pause until resumed: the next urgent event is counted but not notified.
    item.click_label("Pause until I resume").await;
    item.wait_for_menu(
        |m| {
            status_line(m).contains("notifications paused")
                && flatten(m).iter().any(|e| e.label == "Resume notifications" && e.enabled)
        },
        Duration::from_secs(10),
    )
    .await;
    s.emu.daimon().publish(mail("u2", "[URGENT] Second alert while paused", "alerts@example.com", "x", &[]));
    item.wait_for_menu(|m| status_line(m).ends_with("2 unread urgent"), Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(notes.notifications().len(), 1, "paused: no notification");
    item.click_label("Resume notifications").await;
    item.wait_for_menu(|m| !status_line(m).contains("paused"), Duration::from_secs(10)).await;
    s.emu.daimon().publish(mail("u3", "[URGENT] Third alert after resuming", "alerts@example.com", "x", &[]));
    notes.wait_for(2, Duration::from_secs(20)).await;

    // The provider goes away: the account's line says so.
    let Setup(tocsin_e2e::desk::OneAccount { emu, dir: _dir, .. }) = s;
    emu.shutdown().await;
    let menu = item
        .wait_for_menu(
            |m| flatten(m).iter().any(|e| e.label.starts_with("ops (daimon): reconnecting (attempt")),
            Duration::from_secs(20),
        )
        .await;
    assert!(status_line(&menu).starts_with("0 of 1 connected"), "{}", status_line(&menu));

    // Quit from the tray menu exits the app cleanly.
    item.click_label("Quit").await;
    let status = app.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}\n{}", app.log());
    assert!(!app.log().contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_lists_events_live_newest_first() {
    let s = setup().await;
    let bus = PrivateBus::start();
    let _notes = RecordingNotificationServer::start(&bus).await;
    let _watcher = StatusNotifierWatcher::start(&bus).await;
    let history = [
        mail("h1", "Weekly report: agent resolutions", "Priya Raman <priya@lumen.dev>", "Resolved 412 conversations this week, median handling time 3m12s.", &[]),
        mail("h2", "Invoice INV-2291 for November", "billing@stripe.example.com", "Please find attached the invoice for November.", &[]),
        mail("h3", "[URGENT] Payment processing errors spiking", "alerts@pagerduty.example.com", "Card authorisations are failing at 18% for EU customers since 10:05.", &[]),
        mail("h4", "Customer escalation: contract at risk", "Maya Chen <maya.chen@northwind.io>", "Acme's CTO asked for a call today about the outage on Friday.", &["priority"]),
        json!({"event_id":"h5","type":"message.bounced","inbox_id":"inbox_ops","payload":{"message_id":"m","recipient":"former.employee@closed-company.example","bounce_type":"hard","reason":"550 5.1.1 mailbox does not exist"}}),
        mail("h6", "Re: onboarding call next week", "Jonas Weber <jonas@kontor.de>", "Tuesday 10:00 works for us; I'll bring the integration checklist.", &[]),
        mail("h7", "<img src=x onerror=\"document.title='pwned'\">Hostile subject", "\"<script>alert(1)</script>\" <x@evil.example>", "<b>not bold</b>", &[]),
    ];
    let mut env = s.env();
    env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let driver = WebDriver::start(&env_refs).await;
    let (_resident, session) = resident_with_window(&driver, &[], &env_refs).await;
    session.wait_until("[data-testid=app]", |_| true, Duration::from_secs(30)).await;
    let notes = _notes;
    s.connected().await;
    wait_for("the app to subscribe", Duration::from_secs(10), || async {
        (s.emu.daimon().total_connections() > 0).then_some(())
    })
    .await;
    for h in &history {
        s.emu.daimon().publish(h.clone());
    }
    let rows = session
        .wait_for_count("[data-testid=event-row]", |n| n == history.len(), Duration::from_secs(20))
        .await;
    let subjects: Vec<String> = serde_json::from_value(
        session
            .execute("return [...document.querySelectorAll('[data-testid=event-subject]')].map(e => e.textContent)", vec![])
            .await,
    )
    .unwrap();

    assert_eq!(subjects[0], "<img src=x onerror=\"document.title='pwned'\">Hostile subject", "newest first, as text");
    assert_eq!(subjects[6], "Weekly report: agent resolutions");
    let tiers: Vec<String> = {
        let mut t = Vec::new();
        for r in &rows {
            t.push(session.attribute(r, "data-tier").await.unwrap_or_default());
        }
        t
    };
    assert_eq!(tiers, ["normal", "normal", "high", "urgent", "urgent", "normal", "normal"]);
    let chip = session.find("[data-testid=account-status]").await;
    assert_eq!(session.attribute(&chip, "data-state").await.as_deref(), Some("subscribed"));
    assert!(session.text(&session.find("[data-testid=unread-urgent]").await).await.starts_with('2'));
    let title = session.execute("return document.title", vec![]).await;
    assert_eq!(title, json!("Tocsin"), "the hostile subject did not run");
    assert_eq!(session.execute("return document.querySelectorAll('img').length", vec![]).await, json!(0));

    // A live event arrives at the top without a reload.
    s.emu.daimon().publish(mail("live1", "[URGENT] Certificate expires in 2 hours", "Lena Novak <lena@fjord.no>", "The TLS certificate for api.example.com expires today at 14:00 UTC and renewal failed.", &[]));
    session
        .wait_until("[data-testid=event-row] [data-testid=event-subject]", |t| t.starts_with("[URGENT] Certificate"), Duration::from_secs(20))
        .await;
    // The count comes with the next status snapshot, not with the row.
    session.wait_until("[data-testid=unread-urgent]", |t| t.starts_with('3'), Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let shot = session.save_screenshot("window-main").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a real screenshot");

    // "Open" on a notification shows that event in the window, selected.
    let shown = notes.wait_for(3, Duration::from_secs(20)).await;
    let escalation = shown.iter().find(|n| n.summary == "Customer escalation: contract at risk").unwrap().clone();
    let target = wait_for("the escalation row", Duration::from_secs(10), || async {
        let v = session.execute("return [...document.querySelectorAll('[data-testid=event-row]')].filter(r => r.textContent.includes('Customer escalation')).map(r => r.dataset.id)[0] ?? null", vec![]).await;
        v.as_str().map(str::to_owned)
    })
    .await;
    let selected = || async {
        let v = session.execute("return document.querySelector('[data-testid=event-row][aria-selected=true]')?.dataset.id ?? null", vec![]).await;
        v.as_str().map(str::to_owned)
    };
    notes
        .invoke_action_until_async(escalation.id, "default", || async { selected().await.as_deref() == Some(target.as_str()) }, Duration::from_secs(20))
        .await;

    // The rule editor's commands: refuse invalid rules in words, test against a stored event.
    let rules = session.execute("return window.__TAURI_INTERNALS__.invoke('rules_get')", vec![]).await;
    assert!(rules.as_str().unwrap().contains("[URGENT]"));
    let refused = session
        .execute(
            "return window.__TAURI_INTERNALS__.invoke('rules_set', {toml: arguments[0]}).then(() => null, e => e)",
            vec![json!("[[rules]]\nname = \"x\"\nthen = { tier = \"urgent\" }\n")],
        )
        .await;
    assert_eq!(refused["code"], "invalid_argument", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("\"x\""), "{refused}");
    let decision = session
        .execute(&format!("return window.__TAURI_INTERNALS__.invoke('rules_test', {{id: {target}, toml: null}})"), vec![])
        .await;
    assert_eq!(decision["tier"], "urgent", "{decision}");

    // The Rules screen: edit, see a refusal in words, test on the selected event.
    session.click_css("[data-testid=rules-tab]").await;
    session.wait_until("[data-testid=rules-editor]", |_| true, Duration::from_secs(10)).await;
    let text = session.execute("return document.querySelector('[data-testid=rules-editor]').value", vec![]).await;
    assert!(text.as_str().unwrap().contains("[URGENT]"), "{text}");
    session
        .execute(
            "const t = document.querySelector('[data-testid=rules-editor]'); t.value = arguments[0]; t.dispatchEvent(new Event('input', {bubbles: true}));",
            vec![json!("[[rules]]\nname = \"Pages\"\nwhen = { subject_regex = \"(open\" }\nthen = { tier = \"urgent\" }\n")],
        )
        .await;
    session.click_css("[data-testid=rules-save]").await;
    session.wait_until("[data-testid=rules-error]", |t| t.contains("\"Pages\"") && t.contains("subject_regex"), Duration::from_secs(10)).await;
    session
        .execute(
            "const t = document.querySelector('[data-testid=rules-editor]'); t.value = arguments[0]; t.dispatchEvent(new Event('input', {bubbles: true}));",
            vec![json!("[[rules]]\nname = \"Escalations\"\nwhen = { subject_contains = [\"escalation\"] }\nthen = { tier = \"high\", notify = false }\n")],
        )
        .await;
    session.click_css("[data-testid=rules-test]").await;
    session
        .wait_until("[data-testid=rules-result]", |t| t == "Rule “Escalations”: high, stays silent", Duration::from_secs(10))
        .await;
    session.save_screenshot("window-rules").await;
    session.click_css("[data-testid=history-tab]").await;
    session.wait_until("[data-testid=event-list]", |_| true, Duration::from_secs(10)).await;

    // Pause from the window.
    session.click_css("[data-testid=pause-toggle]").await;
    session.wait_until("[data-testid=pause-toggle]", |t| t.contains("Resume"), Duration::from_secs(10)).await;
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_profile_runs_all_five_providers_in_the_app() {
    require_display();
    let bus = PrivateBus::start();
    let watcher = StatusNotifierWatcher::start(&bus).await;
    let notes = RecordingNotificationServer::start(&bus).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let config = dir.path().join("config").display().to_string();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let home_str = home.display().to_string();
    let env = [
        ("DBUS_SESSION_BUS_ADDRESS", bus.address()),
        ("TOCSIN_DEMO_INTERVAL_MS", "60"),
        ("TOCSIN_DATA_DIR", data.as_str()),
        ("TOCSIN_CONFIG_DIR", config.as_str()),
        ("HOME", home_str.as_str()),
        ("XDG_CONFIG_HOME", ""),
    ];
    let driver = WebDriver::start(&env).await;
    let started = std::time::Instant::now();
    let (_resident, session) = resident_with_window(&driver, &["--demo"], &env).await;
    // The tray: one line per demo account, all connected.
    let item = watcher.wait_for_item(Duration::from_secs(30)).await;
    let menu = item
        .wait_for_menu(
            |m| flatten(m).iter().filter(|e| e.label.starts_with("demo-") && e.label.ends_with(": connected")).count() == 5,
            Duration::from_secs(30),
        )
        .await;
    let lines: Vec<String> = flatten(&menu).iter().filter(|e| e.label.starts_with("demo-")).map(|e| e.label.clone()).collect();
    assert_eq!(
        lines,
        [
            "demo-mail (daimon): connected",
            "demo-agentmail (agentmail): connected",
            "demo-prismer (prismer): connected",
            "demo-chat (divinci): connected",
            "demo-topics (bivariant): connected"
        ]
    );
    // The window: five connected accounts, and events from every provider.
    session
        .wait_for_count("[data-testid=account-status][data-state=subscribed]", |n| n == 5, Duration::from_secs(30))
        .await;
    let providers = wait_for("events from all five providers in the window", Duration::from_secs(60), || async {
        let v = session
            .execute(
                "return [...new Set([...document.querySelectorAll('[data-testid=event-row] .where')].map(e => e.textContent.split(' · ')[0].trim()))].sort()",
                vec![],
            )
            .await;
        let names: Vec<String> = serde_json::from_value(v).unwrap_or_default();
        (names.len() == 5).then_some(names)
    })
    .await;
    assert_eq!(providers, ["demo-agentmail", "demo-chat", "demo-mail", "demo-prismer", "demo-topics"]);
    // The first minute: a welcome card says plainly that this is a demo, and the
    // first urgent alert is on screen (the demo's schedule puts it 5 s after start).
    session.wait_until("[data-testid=welcome-demo-note]", |t| t.contains("This is a demo."), Duration::from_secs(10)).await;
    let first = notes.wait_for(1, Duration::from_secs(30)).await;
    eprintln!("first demo alert: {:?} ({:?} after the resident started)", first[0].summary, started.elapsed());
    session.save_screenshot("window-demo").await;
    session.click_css("[data-testid=welcome-watch-demo]").await;
    wait_for("the welcome card set aside", Duration::from_secs(10), || async {
        (session.execute("return document.querySelector('[data-testid=welcome]') === null", vec![]).await == json!(true)).then_some(())
    })
    .await;

    // Start at login: the setting writes (and removes) the desktop's login item.
    let invoke = |cmd: &str, args: Value| {
        format!("return window.__TAURI_INTERNALS__.invoke('{cmd}', {args})")
    };
    assert_eq!(session.execute(&invoke("autostart_enabled", json!({})), vec![]).await, json!(false));
    assert_eq!(session.execute(&invoke("set_autostart", json!({"enabled": true})), vec![]).await, json!(true));
    let entry = std::fs::read_dir(home.join(".config/autostart"))
        .expect("an autostart folder")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "desktop"))
        .expect("a login item");
    let desktop = std::fs::read_to_string(entry.path()).unwrap();
    assert!(desktop.contains("--minimized"), "starts in the tray: {desktop}");
    assert_eq!(session.execute(&invoke("set_autostart", json!({"enabled": false})), vec![]).await, json!(false));
    assert!(!entry.path().exists(), "turning it off removes the login item");
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tray_host_alerts_still_show_and_a_relaunch_opens_the_window() {
    let s = setup().await;
    let bus = PrivateBus::start(); // no StatusNotifierWatcher on this bus
    let notes = RecordingNotificationServer::start(&bus).await;
    let mut env: Vec<(String, String)> = s.env();
    env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut app = AppProcess::spawn(&["--minimized"], &env_refs);
    s.connected().await;
    s.emu.daimon().publish(mail("nt1", "[URGENT] No tray here", "alerts@example.com", "x", &[]));
    let got = notes.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].summary, "[URGENT] No tray here");
    assert!(app.running());
    let mut second = AppProcess::spawn(&[], &env_refs);
    assert!(second.wait_exit(Duration::from_secs(20)).await.success());
    assert!(second.log().contains("already running: showing its window"), "{}", second.log());
    // The first starts its window process, which connects to it.
    app.wait_for_log("started the history window", Duration::from_secs(10)).await;
    app.wait_for_log("the history window connected", Duration::from_secs(30)).await;
    assert!(app.running());
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(15)).await.success());
}
