//! `tocsin run --headless` against the emulator over a real socket, storing into a
//! real SQLite file and notifying a notification server on a private session bus.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::app::{self, AppProcess};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::wait_for;
use tocsin_e2e::desk::OneAccount;
use tocsin_emulator::Emulator;

const KEY: &str = "dm_live_e2e_0123456789";

struct Setup(OneAccount);

impl std::ops::Deref for Setup {
    type Target = OneAccount;
    fn deref(&self) -> &OneAccount {
        &self.0
    }
}

async fn setup() -> Setup {
    Setup(OneAccount::start(KEY, "inboxes = [\"inbox_ops\"]\n").await)
}

impl Setup {
    fn dirs(&self) -> (String, String) {
        (self.dir.path().join("config").display().to_string(), self.dir.path().join("data").display().to_string())
    }

    fn spawn(&self, bus: Option<&PrivateBus>) -> AppProcess {
        let (config, data) = self.dirs();
        let mut envs = vec![("TOCSIN_KEY_OPS", KEY), ("TOCSIN_CONFIG_DIR", config.as_str()), ("TOCSIN_DATA_DIR", data.as_str())];
        let address;
        match bus {
            Some(b) => {
                address = b.address().to_owned();
                envs.push(("DBUS_SESSION_BUS_ADDRESS", address.as_str()));
            }
            None => envs.push(("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/tocsin-test-bus")),
        }
        // No DISPLAY: the headless mode must not need one.
        envs.push(("DISPLAY", ""));
        AppProcess::spawn(&["run", "--headless"], &envs)
    }

    fn history(&self) -> Vec<Value> {
        let (_, data) = self.dirs();
        let (status, out, err) = app::run(&["history", "list", "--json", "--limit", "1000", "--data-dir", &data], &[]);
        assert!(status.success(), "history list failed: {err}");
        serde_json::from_str::<Vec<Value>>(&out).expect("history list --json prints a JSON array")
    }
}

fn mail(id: &str, subject: &str, labels: &[&str]) -> Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":format!("msg_{id}"),"inbox_id":"inbox_ops","from":"Ops Bot <bot@example.com>",
                                 "subject":subject,"body":"Details inside.","labels":labels}}})
}

async fn wait_connected(emu: &Emulator) {
    wait_for("the app to connect and subscribe", Duration::from_secs(20), || async {
        emu.daimon().commands().iter().any(|c| c["action"] == "subscribe").then_some(())
    })
    .await;
}

#[tokio::test]
async fn stores_every_event_and_notifies_only_urgent_ones_over_dbus() {
    let s = setup().await;
    let bus = PrivateBus::start();
    let notifications = RecordingNotificationServer::start(&bus).await;
    let mut app = s.spawn(Some(&bus));
    wait_connected(&s.emu).await;
    let subscribe = s.emu.daimon().commands().into_iter().find(|c| c["action"] == "subscribe").unwrap();
    assert_eq!(subscribe["inbox_ids"], json!(["inbox_ops"]));

    let d = s.emu.daimon();
    d.publish(mail("e1", "Weekly report", &[]));
    d.publish(mail("e2", "[URGENT] Primary database down", &[]));
    d.publish(mail("e3", "Lunch?", &[]));
    d.publish(mail("e4", "Customer escalation", &["priority"]));
    d.publish(json!({"event_id":"e5","type":"message.bounced","inbox_id":"inbox_ops",
                     "payload":{"message_id":"m","recipient":"gone@example.com","bounce_type":"hard"}}));
    d.publish(json!({"event_id":"e6","type":"inbox.mystery","inbox_id":"inbox_ops","payload":{"x":1}}));

    let history = wait_for("6 stored events", Duration::from_secs(20), || async {
        let h = s.history();
        (h.len() == 6).then_some(h)
    })
    .await;
    let tiers: Vec<(&str, &str)> =
        history.iter().map(|e| (e["providerType"].as_str().unwrap(), e["tier"].as_str().unwrap())).collect();
    assert_eq!(
        tiers,
        [
            ("inbox.mystery", "normal"),
            ("message.bounced", "high"),
            ("message.received", "urgent"),
            ("message.received", "normal"),
            ("message.received", "urgent"),
            ("message.received", "normal"),
        ]
    );
    assert_eq!(history[5]["subject"], "Weekly report");
    assert_eq!(history[0]["kind"], "other");

    let got = notifications.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = notifications.notifications();
    assert_eq!(got_all.len(), 2, "only urgent events notify: {got_all:#?}");
    assert_eq!(got[0].summary, "[URGENT] Primary database down");
    assert_eq!(got[1].summary, "Customer escalation");
    assert_eq!(got[0].app_name, "Tocsin");
    assert_eq!(got[0].urgency, Some(2), "urgent maps to the critical urgency hint");
    assert_eq!(got[0].desktop_entry.as_deref(), Some("tocsin"));
    assert!(got[0].app_icon.ends_with("tocsin-icon-128.png"), "Tocsin's own icon: {}", got[0].app_icon);
    assert!(std::path::Path::new(&got[0].app_icon).exists());
    assert!(got[0].body.contains("bot@example.com") && got[0].body.contains("Details inside."), "{}", got[0].body);

    app.signal("TERM");
    let status = app.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "clean exit on SIGTERM, got {status:?}\n{}", app.log());
    assert!(!app.log().contains(KEY), "the key must never be logged");
    s.0.emu.shutdown().await;
}

#[tokio::test]
async fn a_burst_interrupted_by_sigint_loses_nothing_it_received() {
    let s = setup().await;
    let bus = PrivateBus::start();
    let _notifications = RecordingNotificationServer::start(&bus).await;
    let mut app = s.spawn(Some(&bus));
    wait_connected(&s.emu).await;
    let daimon = s.emu.daimon().clone();
    let publisher = tokio::spawn(async move {
        for n in 0..20_000 {
            daimon.publish(mail(&format!("b{n}"), &format!("burst {n}"), &[]));
            if n % 200 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    // Interrupt while the burst is still streaming in.
    wait_for("the burst to start arriving", Duration::from_secs(20), || async {
        (s.history().len() > 100).then_some(())
    })
    .await;
    app.signal("INT");
    publisher.abort();
    let status = app.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}");
    let log = app.log();
    let line = log.lines().find(|l| l.contains("all received events committed")).expect("shutdown summary in the log");
    let field = |name: &str| -> i64 {
        let start = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("{name} in {line}")) + name.len() + 1;
        line[start..].split_whitespace().next().unwrap().parse().unwrap()
    };
    eprintln!("{line}");
    let received = field("received");
    let stored = field("stored");
    assert!(received > 0, "some events arrived before the signal: {line}");
    assert_eq!(received, stored, "every received event is in the history: {line}");
    assert_eq!(s.history().len() as i64, stored.min(1000));
    s.0.emu.shutdown().await;
}

#[tokio::test]
async fn without_a_notification_server_it_warns_once_and_keeps_working() {
    let s = setup().await;
    let mut app = s.spawn(None);
    wait_connected(&s.emu).await;
    for n in 0..3 {
        s.emu.daimon().publish(mail(&format!("u{n}"), &format!("[URGENT] alert {n}"), &[]));
    }
    wait_for("3 stored events", Duration::from_secs(20), || async { (s.history().len() == 3).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(10)).await.success());
    let log = app.log();
    let warnings = log.matches("alerts cannot be shown: there is no D-Bus session bus").count();
    assert_eq!(warnings, 1, "one clear warning, not one per event:\n{log}");
    s.0.emu.shutdown().await;
}

#[tokio::test]
async fn a_rejected_key_is_reported_in_words() {
    let s = setup().await;
    let (config, data) = s.dirs();
    let mut app = AppProcess::spawn(
        &["run", "--headless"],
        &[("TOCSIN_KEY_OPS", "dm_live_wrong"), ("TOCSIN_CONFIG_DIR", &config), ("TOCSIN_DATA_DIR", &data), ("DISPLAY", "")],
    );
    wait_for("the rejection in the log", Duration::from_secs(20), || async {
        app.log().contains("the server rejected the API key (HTTP 401").then_some(())
    })
    .await;
    assert!(app.running(), "a bad key stops the account, not the app");
    assert!(!app.log().contains("dm_live_wrong"));
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(10)).await.success());
    s.0.emu.shutdown().await;
}

#[test]
fn history_list_without_a_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (status, _, err) = app::run(&["history", "list", "--json", "--data-dir", &dir.path().display().to_string()], &[]);
    assert!(!status.success());
    assert!(err.contains("no history yet"), "{err}");
}

#[test]
fn an_invalid_config_is_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "[[accounts]]\nname='ops'\nprovider='daimon'\nurl='wss://x'\nkey='dm_live_x'\n")
        .unwrap();
    let (status, _, err) = app::run(
        &["run", "--headless", "--config-dir", &dir.path().display().to_string(), "--data-dir", &dir.path().display().to_string()],
        &[],
    );
    assert!(!status.success());
    assert!(err.contains("never kept in the config file"), "{err}");
    assert!(!err.contains("dm_live_x"), "the refused key is not echoed: {err}");
}

#[tokio::test]
async fn mark_read_from_the_notification_reaches_the_provider_and_closes_it() {
    let s = setup().await;
    let bus = PrivateBus::start();
    let notifications = RecordingNotificationServer::start(&bus).await;
    let mut app = s.spawn(Some(&bus));
    wait_connected(&s.emu).await;
    s.emu.daimon().publish(mail("act1", "[URGENT] Act on me", &[]));
    let shown = notifications.wait_for(1, Duration::from_secs(20)).await;
    let n = &shown[0];
    assert_eq!(n.actions, ["default", "Open", "mark_read", "Mark read"], "Open (the default action) and Mark read");
    let daimon = s.emu.daimon().clone();
    notifications
        .invoke_action_until(
            n.id,
            "mark_read",
            || daimon.commands().iter().any(|c| c["action"] == "mark_as_read"),
            Duration::from_secs(20),
        )
        .await;
    let cmd = s.emu.daimon().commands().into_iter().find(|c| c["action"] == "mark_as_read").unwrap();
    assert_eq!(cmd["message_id"], "msg_act1");
    wait_for("the notification to be closed by the app", Duration::from_secs(10), || async {
        notifications.closed().contains(&n.id).then_some(())
    })
    .await;
    let history = wait_for("the event marked read", Duration::from_secs(10), || async {
        let h = s.history();
        (h[0]["read"] == true).then_some(h)
    })
    .await;
    assert_eq!(history[0]["subject"], "[URGENT] Act on me");
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(10)).await.success());
    s.0.emu.shutdown().await;
}

#[tokio::test]
async fn a_real_notification_daemon_dunst_shows_only_the_urgent_alert() {
    tocsin_e2e::app::require_display();
    let s = setup().await;
    let bus = PrivateBus::start();
    let dunst = std::process::Command::new("dunst")
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dunst must be installed (scripts/setup.sh --test)");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _dunst = Kill(dunst);
    bus.wait_for_name("org.freedesktop.Notifications", Duration::from_secs(10)).await;
    let (config, data) = s.dirs();
    // The app runs headless but notifies the desktop's daemon (a display is present for dunst only).
    let mut app = AppProcess::spawn(
        &["run", "--headless"],
        &[("TOCSIN_KEY_OPS", KEY), ("TOCSIN_CONFIG_DIR", &config), ("TOCSIN_DATA_DIR", &data), ("DBUS_SESSION_BUS_ADDRESS", bus.address())],
    );
    wait_connected(&s.emu).await;
    s.emu.daimon().publish(mail("d1", "Not urgent at all", &[]));
    s.emu.daimon().publish(mail("d2", "[URGENT] Seen by dunst", &[]));
    let dunstctl = |args: &[&str]| {
        let out = std::process::Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .output()
            .expect("dunstctl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    wait_for("dunst to show the urgent alert", Duration::from_secs(20), || async {
        (dunstctl(&["count", "displayed"]) == "1").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dunstctl(&["count", "displayed"]), "1", "only the urgent event notifies");
    // What dunst shows is our alert, with the urgency and app it was sent with.
    let history = dunstctl(&["history"]);
    let _ = history; // dunst moves notifications to history only once closed
    let _ = std::process::Command::new("dunstctl")
        .args(["close-all"])
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .output();
    let history = wait_for("dunst's history", Duration::from_secs(10), || async {
        let h = dunstctl(&["history"]);
        h.contains("Seen by dunst").then_some(h)
    })
    .await;
    let v: serde_json::Value = serde_json::from_str(&history).expect("dunstctl history is JSON");
    let entry = v["data"][0].as_array().unwrap().iter().find(|n| n["summary"]["data"] == "[URGENT] Seen by dunst").unwrap();
    assert_eq!(entry["appname"]["data"], "Tocsin");
    assert_eq!(entry["timeout"]["data"], 0, "urgent alerts stay until acted on: {entry}");
    assert_eq!(entry["default_action_name"]["data"], "default", "a click opens the event: {entry}");
    assert_eq!(entry["category"]["data"], "email.arrived");
    // dunst renders markup: the sender's angle brackets arrive escaped, as text.
    assert!(entry["body"]["data"].as_str().unwrap().contains("&lt;bot@example.com&gt;"), "{entry}");
    assert!(!history.contains("Not urgent at all"));
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(10)).await.success());
    s.0.emu.shutdown().await;
}

#[tokio::test]
async fn rules_export_import_and_test_from_the_cli_drive_the_app() {
    let s = setup().await;
    let (config, data) = s.dirs();
    let cli = |args: &[&str]| {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--data-dir", data.as_str(), "--config-dir", config.as_str()]);
        app::run(&full, &[])
    };
    let (ok, defaults, _) = cli(&["rules", "export"]);
    assert!(ok.success());
    assert!(defaults.contains("[[rules]]") && defaults.contains("[URGENT]"), "{defaults}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rules]]\nname = \"Ops pages\"\nwhen = { subject_regex = \"[unclosed\" }\nthen = { tier = \"urgent\" }\n").unwrap();
    let (status, _, err) = cli(&["rules", "import", bad.to_str().unwrap()]);
    assert!(!status.success());
    assert!(err.contains("\"Ops pages\"") && err.contains("subject_regex"), "{err}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[rules]]\nname = \"Bots are urgent\"\nwhen = { sender = [\"*@example.com\"] }\nthen = { tier = \"urgent\", sound = \"message-new-instant\" }\n").unwrap();
    let (status, out, err) = cli(&["rules", "import", good.to_str().unwrap()]);
    assert!(status.success(), "{err}");
    assert!(out.contains("imported 1 rules"), "{out}");
    assert!(cli(&["rules", "export"]).1.contains("Bots are urgent"));

    // The app uses the imported rules: plain mail from a bot is now urgent, with its sound.
    let bus = PrivateBus::start();
    let notes = RecordingNotificationServer::start(&bus).await;
    let mut app = s.spawn(Some(&bus));
    wait_connected(&s.emu).await;
    s.emu.daimon().publish(mail("bot1", "Nightly job finished", &[]));
    let got = notes.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].summary, "Nightly job finished");
    assert!(got[0].hint_names.iter().any(|h| h == "sound-name"), "{:?}", got[0].hint_names);
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(10)).await.success());
    let id = s.history()[0]["id"].as_i64().unwrap().to_string();
    let (status, out, _) = cli(&["rules", "test", &id]);
    assert!(status.success());
    let decision: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decision["rule"], "Bots are urgent");
    assert_eq!(decision["tier"], "urgent");
    assert_eq!(decision["default"], "normal");
    s.0.emu.shutdown().await;
}

#[test]
fn attention_settings_export_and_import_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let (status, out, _) = app::run(&["attention", "export", "--data-dir", &data], &[]);
    assert!(status.success());
    assert!(out.contains("coalesce_max = 5"), "{out}");
    let file = dir.path().join("quiet.toml");
    std::fs::write(&file, "coalesce_max = 3\n[[quiet_hours]]\ndays = [\"fri\", \"sat\"]\nstart = \"22:00\"\nend = \"07:00\"\n").unwrap();
    let (status, _, err) = app::run(&["attention", "import", file.to_str().unwrap(), "--data-dir", &data], &[]);
    assert!(status.success(), "{err}");
    let (_, out, _) = app::run(&["attention", "export", "--data-dir", &data], &[]);
    assert!(out.contains("coalesce_max = 3") && out.contains("start = \"22:00\""), "{out}");
    std::fs::write(&file, "[[quiet_hours]]\ndays = [\"fri\"]\nstart = \"25:00\"\nend = \"07:00\"\n").unwrap();
    let (status, _, err) = app::run(&["attention", "import", file.to_str().unwrap(), "--data-dir", &data], &[]);
    assert!(!status.success());
    assert!(err.contains("quiet_hours[1].start") || err.contains("quiet_hours[0].start"), "{err}");
}

/// What scripts need from `tocsin history`: the provider's event and message ids in
/// `--json`, and a quiet exit with status 0 when the reader closes the pipe early
/// (`tocsin history export | head`), for both list and export.
#[tokio::test]
async fn history_for_scripts_carries_ids_and_a_closed_pipe_is_quiet() {
    let s = setup().await;
    let mut app = s.spawn(None);
    wait_connected(&s.emu).await;
    const N: usize = 1_200; // far more output than a pipe buffers (64 KiB)
    for i in 0..N {
        s.emu.daimon().publish(mail(&format!("evt_{i}"), &format!("report {i}"), &[]));
    }
    let (_, data) = s.dirs();
    wait_for("every event in the history", Duration::from_secs(60), || async {
        let (status, out, _) = app::run(&["history", "export", "--format", "jsonl", "--data-dir", &data], &[]);
        (status.success() && out.lines().count() == N).then_some(())
    })
    .await;
    let newest = &s.history()[0];
    assert_eq!(newest["providerEventId"], "evt_1199", "{newest}");
    assert_eq!(newest["messageId"], "msg_evt_1199", "{newest}");

    for args in [["history", "export", "--format", "jsonl"].as_slice(), ["history", "list", "--json", "--limit", "1000"].as_slice()] {
        let mut child = std::process::Command::new(app::binary())
            .args(args)
            .args(["--data-dir", &data])
            .env("TOCSIN_RUNTIME_DIR", s.dir.path().join("cli-run"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read one line, as `head -1` would, then close the pipe.
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
        assert!(!first.is_empty());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?} exited {:?}: {err}", out.status);
        assert!(!err.contains("Broken pipe") && !err.contains("failed"), "{args:?}: {err}");
    }
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(20)).await.success());
}
