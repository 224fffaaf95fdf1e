//! No notification server at all: the real `tocsin --minimized` in the tray (the
//! harness's StatusNotifierWatcher) on a private bus where nothing owns
//! `org.freedesktop.Notifications`. Before any alert, the tray's tooltip and status
//! line and the status the window gets (`tocsin status --json`: `notifierCause`, a
//! type, and `notifierError`, the words) say alerts cannot be shown; urgent events
//! are still stored and counted; when a server appears everything clears without
//! a restart and the next alert is shown; when it leaves, it says so again.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::app::{self, AppProcess};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::desk::{refs, OneAccount};
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::tray::{flatten, MenuEntry, StatusNotifierWatcher};
use tocsin_e2e::wait_for;

const KEY: &str = "dm_live_noserver_0123456789";
const CANNOT: &str = "alerts cannot be shown: no notification service";

fn mail(id: &str, subject: &str) -> Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":format!("msg_{id}"),"inbox_id":"inbox_ops","from":"Ops <ops@example.com>",
                                 "subject":subject,"body":"x","labels":[]}}})
}

fn status_line(menu: &[MenuEntry]) -> String {
    flatten(menu).into_iter().find(|e| !e.is_separator() && !e.label.is_empty()).map(|e| e.label.clone()).unwrap_or_default()
}

fn status_json(env: &[(String, String)]) -> Value {
    let (status, out, err) = app::run(&["status", "--json"], &refs(env));
    assert!(status.success(), "tocsin status --json: {err}");
    serde_json::from_str(&out).expect("status JSON")
}

#[tokio::test]
async fn without_a_server_the_tray_and_status_say_so_events_are_kept_and_a_new_server_is_used() {
    tocsin_e2e::require_display();
    let bus = PrivateBus::start();
    let watcher = StatusNotifierWatcher::start(&bus).await;
    let s = OneAccount::start(KEY, "inboxes = [\"inbox_ops\"]\n").await;
    let mut env = s.env();
    env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    let mut app = AppProcess::spawn(&["--minimized"], &refs(&env));
    let item = watcher.wait_for_item(Duration::from_secs(30)).await;

    // Before any alert: the tooltip, the status line and the status say it.
    let tip = item.wait_for_tool_tip(|t| t.description.contains(CANNOT), Duration::from_secs(20)).await;
    eprintln!("tooltip: {}", tip.description);
    item.wait_for_menu(|m| status_line(m).contains(CANNOT), Duration::from_secs(10)).await;
    let status = status_json(&env);
    assert_eq!(status["notifierCause"], "noServer", "{status}");
    assert!(status["notifierError"].as_str().unwrap_or_default().starts_with("alerts cannot be shown"), "{status}");

    // Urgent events are stored and counted; the app keeps running.
    let daimon = s.emu.daimon().clone();
    wait_for("the app to subscribe", Duration::from_secs(30), || async {
        daimon.commands().iter().any(|c| c["action"] == "subscribe").then_some(())
    })
    .await;
    s.emu.daimon().publish(mail("n1", "[URGENT] Nobody shows this"));
    item.wait_for_tool_tip(|t| t.description.contains("1 unread urgent") && t.description.contains(CANNOT), Duration::from_secs(20)).await;
    let (_, out, _) = app::run(&["history", "list", "--json", "--data-dir", &s.path("data")], &[]);
    assert!(out.contains("Nobody shows this"), "stored: {out}");
    assert!(app.running());

    // A server appears: the words go at once (no alert needed), and the next alert shows.
    let server = RecordingNotificationServer::start(&bus).await;
    item.wait_for_tool_tip(|t| !t.description.contains("alerts cannot be shown"), Duration::from_secs(20)).await;
    let status = status_json(&env);
    assert!(status["notifierCause"].is_null() && status["notifierError"].is_null(), "{status}");
    s.emu.daimon().publish(mail("n2", "[URGENT] Now it shows"));
    server.wait_for_summary("Now it shows", Duration::from_secs(20)).await;

    // It leaves: back to the words.
    drop(server);
    item.wait_for_tool_tip(|t| t.description.contains(CANNOT), Duration::from_secs(20)).await;
    assert_eq!(status_json(&env)["notifierCause"], "noServer");
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(20)).await.success());
}
