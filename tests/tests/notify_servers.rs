//! The real `tocsin run --headless` against real notification servers from Debian 12
//! (dunst 1.9 with its stock configuration and with `markup = no`, xfce4-notifyd
//! 0.7.3, notification-daemon 3.20), each on a private
//! session bus and the Xvfb display, and against a server without actions.
//!
//! For each real server: what it reports (`GetCapabilities`), what it received (the
//! bus monitor's record of the `Notify` call it answered, and the server's own
//! witness: dunst's `-print` output, xfce4-notifyd's notification log,
//! notification-daemon's bubble on screen), then both actions through the server's
//! own UI: Mark read (dunst's context menu; the bubble's button on the others) must
//! reach the provider, and Open (`dunstctl action`; xfce4-notifyd's Open button; a
//! click on notification-daemon's bubble) must start the window at the event.
//! Screenshots go to the artifacts directory (`notify-<server>-*.png`).

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::app::{self, AppProcess};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::desk::{refs, OneAccount};
use tocsin_e2e::monitor::{BusMonitor, ServerSignal};
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::servers::{self, Button, RealServer, ServerKind};
use tocsin_e2e::{wait_for, x11};

const KEY: &str = "dm_live_servers_0123456789";
/// Markup in the subject and the sender: it must show as typed.
const SUBJECT: &str = "[URGENT] <b>Deploy</b> & rollback";
const FROM: &str = "Ops <b>Bot</b> & Co <bot@example.com>";

fn mail(id: &str, subject: &str) -> Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":format!("msg_{id}"),"inbox_id":"inbox_ops","from":FROM,
                                 "subject":subject,"body":"Details inside.","labels":[]}}})
}

/// The emulator, account `ops`, and `tocsin run --headless` on `bus` (with the
/// display, so an Open starts the real window); returns once it subscribed.
async fn app_on(bus: &PrivateBus) -> (OneAccount, AppProcess, Vec<(String, String)>) {
    let s = OneAccount::start(KEY, "inboxes = [\"inbox_ops\"]\n").await;
    let mut env = s.env();
    env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    let app = AppProcess::spawn(&["run", "--headless"], &refs(&env));
    let daimon = s.emu.daimon().clone();
    wait_for("the app to subscribe", Duration::from_secs(30), || async {
        daimon.commands().iter().any(|c| c["action"] == "subscribe").then_some(())
    })
    .await;
    (s, app, env)
}

/// Waits for the resident to start `tocsin-window --focus EVENT` and for that
/// window to be on screen; then closes it.
async fn window_opens_at(app: &AppProcess, event: i64) {
    let (pid, args) = wait_for(&format!("tocsin-window --focus {event} started by the app"), Duration::from_secs(20), || async {
        app::children_named(app.pid(), "tocsin-window").into_iter().find(|(_, a)| a.windows(2).any(|w| w[0] == "--focus" && w[1] == event.to_string()))
    })
    .await;
    eprintln!("window process {pid}: {args:?}");
    wait_for("the window on screen", Duration::from_secs(60), || async { (!x11::windows_of_pid(pid).is_empty()).then_some(()) }).await;
    app::kill_pid(pid);
}

/// The event id of the last "notification action action=Open(ID)" line.
fn opened_event(log: &str) -> Option<i64> {
    let line = log.lines().rev().find(|l| l.contains("notification action") && l.contains("Open("))?;
    line.split("Open(").nth(1)?.split(')').next()?.parse().ok()
}

async fn exercise(kind: ServerKind) {
    let _screen = x11::exclusive().await;
    let bus = PrivateBus::start();
    let monitor = BusMonitor::start(&bus).await;
    let server = RealServer::start(kind, &bus).await;
    let (caps, info) = servers::capabilities(&bus).await;
    eprintln!("{kind:?}: {info:?}, capabilities {caps:?}");
    let (s, mut app, _env) = app_on(&bus).await;
    let name = format!("{kind:?}").to_lowercase();

    // 1. What the server received and shows.
    s.emu.daimon().publish(mail("m1", &format!("{SUBJECT} #1")));
    let n = monitor.wait_for_summary("#1", Duration::from_secs(30)).await;
    assert_eq!(n.summary, format!("{SUBJECT} #1"), "the summary is plain text on every server");
    if caps.iter().any(|c| c == "body-markup") {
        assert!(n.body.contains("Ops &lt;b&gt;Bot&lt;/b&gt; &amp; Co &lt;bot@example.com&gt;"), "escaped for a markup server: {n:?}");
        assert!(!n.body.contains('<'), "{n:?}");
    } else {
        assert!(n.body.contains(FROM), "plain for a plain server: {n:?}");
    }
    assert!(caps.iter().any(|c| c == "actions"), "{kind:?} reports actions (measured on Debian 12): {caps:?}");
    assert_eq!(n.actions, ["default", "Open", "mark_read", "Mark read"]);
    assert_eq!(n.urgency, Some(2), "urgent = critical");
    assert_eq!(n.desktop_entry.as_deref(), Some("tocsin"));
    assert_eq!(n.expire_timeout, 0, "urgent alerts never expire");
    match kind {
        ServerKind::Dunst | ServerKind::DunstNoMarkup => {
            let out = wait_for("dunst -print to show the alert", Duration::from_secs(10), || async {
                let o = server.output();
                o.contains("#1").then_some(o)
            })
            .await;
            let block = out.split("\n}\n").find(|b| b.contains("#1")).unwrap_or_default().to_owned();
            assert!(block.contains(&format!("summary: '{SUBJECT} #1'")), "{block}");
            if kind == ServerKind::Dunst {
                // What dunst renders: its format wraps the escaped summary in <b>; the body
                // arrived escaped and is rendered as markup.
                assert!(block.contains("formatted: '<b>[URGENT] &lt;b&gt;Deploy&lt;/b&gt; &amp; rollback #1</b>"), "{block}");
                assert!(block.contains("body: 'From Ops &lt;b&gt;Bot&lt;/b&gt; &amp; Co"), "{block}");
            } else {
                // markup = no: dunst strips tags from what it shows, so the text must come plain.
                assert!(block.contains("body: 'From Ops <b>Bot</b> & Co <bot@example.com>"), "{block}");
            }
            assert!(block.contains("urgency: CRITICAL") && block.contains("desktop_entry: 'tocsin'"), "{block}");
            assert!(block.contains("\"default\": \"Open\"") && block.contains("\"mark_read\": \"Mark read\""), "{block}");
        }
        ServerKind::Xfce4Notifyd => {
            let log = wait_for("xfce4-notifyd's log to hold the alert", Duration::from_secs(10), || async {
                let l = server.notification_log();
                l.contains("#1").then_some(l)
            })
            .await;
            assert!(log.contains(&format!("summary={SUBJECT} #1")), "{log}");
            assert!(log.contains("action-id-0=default") && log.contains("action-label-1=Mark read"), "{log}");
            assert!(log.contains("app_name=tocsin"), "named after the desktop-entry hint: {log}");
        }
        ServerKind::NotificationDaemon => {}
    }
    if !matches!(kind, ServerKind::Dunst | ServerKind::DunstNoMarkup) {
        x11::wait_for_window(kind.window_name(), Duration::from_secs(10)).await;
    }
    x11::screenshot_artifact(&format!("notify-{name}-1"));

    // 2. Mark read through the server's own UI.
    match kind {
        ServerKind::Dunst | ServerKind::DunstNoMarkup => {
            let offered = server.dunst_context_choose(&format!("[{},mark_read]", n.id)).await;
            assert!(offered.contains(&format!("#Open ({SUBJECT} #1) [{},default]", n.id)), "dunst's menu: {offered}");
        }
        _ => {
            let bubble = x11::wait_for_window(kind.window_name(), Duration::from_secs(10)).await;
            let (x, y) = kind.button(&bubble, Button::MarkRead).expect("a Mark read button");
            x11::click(x, y, 1);
        }
    }
    monitor.wait_for_signal(&ServerSignal::ActionInvoked { id: n.id, key: "mark_read".into() }, Duration::from_secs(10)).await;
    let daimon = s.emu.daimon().clone();
    wait_for("mark_as_read at the provider", Duration::from_secs(20), || async {
        daimon.commands().iter().any(|c| c["action"] == "mark_as_read" && c["message_id"] == "msg_m1").then_some(())
    })
    .await;

    // 3. Open through the server's own UI: the window starts at the event.
    s.emu.daimon().publish(mail("m2", &format!("{SUBJECT} #2")));
    let n2 = monitor.wait_for_summary("#2", Duration::from_secs(30)).await;
    match kind {
        ServerKind::Dunst | ServerKind::DunstNoMarkup => {
            wait_for("dunst to show one alert", Duration::from_secs(10), || async {
                (server.dunstctl(&["count", "displayed"]) == "1").then_some(())
            })
            .await;
            server.dunstctl(&["action", "0"]);
        }
        _ => {
            let bubble = x11::wait_for_window(kind.window_name(), Duration::from_secs(10)).await;
            x11::screenshot_artifact(&format!("notify-{name}-2"));
            let button = if kind == ServerKind::Xfce4Notifyd { Button::Open } else { Button::Body };
            let (x, y) = kind.button(&bubble, button).expect("where Open is");
            x11::click(x, y, 1);
        }
    }
    monitor.wait_for_signal(&ServerSignal::ActionInvoked { id: n2.id, key: "default".into() }, Duration::from_secs(10)).await;
    let log = app.wait_for_log("notification action action=Open(", Duration::from_secs(10)).await;
    let event = opened_event(&log).expect("the opened event in the log");
    window_opens_at(&app, event).await;
    assert!(monitor.refused().is_empty(), "no Notify refused: {:?}", monitor.refused());
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(20)).await.success());
}

#[tokio::test]
async fn dunst_gets_escaped_markup_critical_urgency_and_working_actions() {
    exercise(ServerKind::Dunst).await;
}

/// The same dunst with `markup = no` (no `body-markup` capability): the body is sent as typed.
#[tokio::test]
async fn dunst_without_markup_gets_plain_text() {
    exercise(ServerKind::DunstNoMarkup).await;
}

#[tokio::test]
async fn xfce4_notifyd_gets_escaped_markup_critical_urgency_and_working_actions() {
    exercise(ServerKind::Xfce4Notifyd).await;
}

#[tokio::test]
async fn notification_daemon_gets_escaped_markup_critical_urgency_and_working_actions() {
    exercise(ServerKind::NotificationDaemon).await;
}

/// A server without `actions` (and without `body-markup`) gets no actions, the text
/// as typed, and where to act instead; `tocsin open ID`, the fallback it names,
/// opens the window at the event.
#[tokio::test]
async fn a_server_without_actions_gets_plain_text_and_the_cli_opens_the_event() {
    app::require_display();
    let _screen = x11::exclusive().await;
    let bus = PrivateBus::start();
    let server = RecordingNotificationServer::start_with_capabilities(&bus, &["body"]).await;
    let (s, mut app, env) = app_on(&bus).await;
    s.emu.daimon().publish(mail("p1", SUBJECT));
    let n = server.wait_for_summary("Deploy", Duration::from_secs(30)).await;
    assert!(n.actions.is_empty(), "no actions offered: {n:?}");
    assert!(n.body.contains(FROM), "plain text, not escaped: {n:?}");
    assert!(n.body.ends_with("Open it from the Tocsin tray icon, or with `tocsin open`."), "{n:?}");
    assert_eq!(n.urgency, Some(2));
    let history = s.path("data");
    let (_, out, _) = app::run(&["history", "list", "--json", "--data-dir", &history], &[]);
    let id = serde_json::from_str::<Vec<Value>>(&out).expect("history json")[0]["id"].as_i64().expect("an id");
    let (status, _, err) = app::run(&["open", &id.to_string()], &refs(&env));
    assert!(status.success(), "{err}");
    window_opens_at(&app, id).await;
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(20)).await.success());
}
