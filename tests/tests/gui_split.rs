//! The two processes under Xvfb: the resident `tocsin` and its `tocsin-window`.
//! The window survives a restart of the resident (it says so and reconnects),
//! the resident survives a crashed window, there are never two windows, and a
//! window started by hand while one is open brings that one forward and exits.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::app::{self, require_display, resident_with_window, AppProcess};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::tray::StatusNotifierWatcher;
use tocsin_e2e::wait_for;
use tocsin_e2e::webdriver::WebDriver;
use tocsin_e2e::desk::{refs, OneAccount};

const KEY: &str = "dm_live_gui_split_key_3307";

fn mail(id: &str, subject: &str) -> Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":format!("msg_{id}"),"inbox_id":"inbox_ops","from":"Ops <ops@example.com>",
                                 "subject":subject,"body":"x","labels":[]}}})
}

/// Pids of running `tocsin-window` processes whose environment names `runtime`.
fn windows_for(runtime: &str) -> Vec<u32> {
    processes_for(runtime, |comm| comm == "tocsin-window")
}

/// The window processes and their WebKit children (which inherit its environment).
fn window_and_webkit_for(runtime: &str) -> Vec<u32> {
    processes_for(runtime, |comm| comm == "tocsin-window" || (comm.starts_with("WebKit") && comm != "WebKitWebDriver"))
}

fn processes_for(runtime: &str, wanted: impl Fn(&str) -> bool) -> Vec<u32> {
    let needle = format!("TOCSIN_RUNTIME_DIR={runtime}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            wanted(comm.trim()) && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        })
        .collect()
}

fn started_windows(log: &str) -> Vec<u32> {
    log.lines()
        .filter(|l| l.contains("started the history window"))
        .filter_map(|l| l.split("pid=").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_and_the_resident_each_survive_the_other() {
    require_display();
    let desk = OneAccount::start(KEY, "").await;
    let emu = &desk.emu;
    let bus = PrivateBus::start();
    let _watcher = StatusNotifierWatcher::start(&bus).await;
    let _notes = RecordingNotificationServer::start(&bus).await;
    let runtime = desk.path("run");
    let mut owned = desk.env();
    owned.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    let env = refs(&owned);
    let driver = WebDriver::start(&env).await;
    let (mut first, session) = resident_with_window(&driver, &[], &env).await;
    session.wait_until("[data-testid=app]", |_| true, Duration::from_secs(30)).await;
    session.wait_for("[data-testid=account-status][data-state=subscribed]", Duration::from_secs(30)).await;
    emu.daimon().publish(mail("a1", "before the restart"));
    session.wait_for_count("[data-testid=event-row]", |n| n == 1, Duration::from_secs(20)).await;

    // The resident stops: the window stays, and says so.
    assert!(first.stop("TERM", Duration::from_secs(20)).await.success(), "{}", first.log());
    session.wait_until("[data-testid=link-banner]", |t| t.contains("Tocsin stopped"), Duration::from_secs(20)).await;
    session.save_screenshot("window-resident-gone").await;
    // A new resident: the window reconnects by itself, and new events arrive live.
    let mut second = AppProcess::spawn(&["--minimized"], &env);
    second.wait_for_log("the history window connected", Duration::from_secs(30)).await;
    wait_for("the banner to go", Duration::from_secs(20), || async {
        let n = session.execute("return document.querySelectorAll('[data-testid=link-banner]').length", vec![]).await;
        (n == json!(0)).then_some(())
    })
    .await;
    emu.daimon().publish(mail("a2", "after the restart"));
    session
        .wait_until("[data-testid=event-row] [data-testid=event-subject]", |t| t == "after the restart", Duration::from_secs(20))
        .await;

    // A window started by hand while this one is open brings it forward and exits.
    let mut by_hand = AppProcess::spawn_binary(&app::window_binary(), &[], &env);
    assert!(by_hand.wait_exit(Duration::from_secs(30)).await.success(), "{}", by_hand.log());
    assert!(by_hand.log().contains("already open"), "{}", by_hand.log());

    // The WebDriver window closes; `tocsin open` starts a window of the resident's own.
    session.close().await;
    wait_for("the driven window and its WebKit processes to exit", Duration::from_secs(20), || async {
        window_and_webkit_for(&runtime).is_empty().then_some(())
    })
    .await;
    let open = |args: &[&str]| app::run(args, &env);
    let connected = |log: &str| log.matches("the history window connected").count();
    let before = connected(&second.log());
    let (status, _, err) = open(&["open"]);
    assert!(status.success(), "{err}");
    wait_for("the started window to connect", Duration::from_secs(30), || async { (connected(&second.log()) > before).then_some(()) }).await;
    let started = started_windows(&second.log());
    assert_eq!(started.len(), 1, "{}", second.log());
    // Never two: asking again focuses the open one.
    let (status, _, _) = open(&["open"]);
    assert!(status.success());
    assert_eq!(windows_for(&runtime), started, "one window, the one started");
    assert_eq!(started_windows(&second.log()).len(), 1, "no second window was started");

    // The window crashes: the resident logs it and carries on; Open starts a new one.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(started[0]).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    second.wait_for_log("exited abnormally", Duration::from_secs(20)).await;
    assert!(second.running());
    let (status, out, err) = app::run(&["status"], &env);
    assert!(status.success(), "{err}");
    assert!(out.contains("ops"), "{out}");
    let (status, _, err) = open(&["open"]);
    assert!(status.success(), "{err}");
    wait_for("a new window", Duration::from_secs(30), || async { (started_windows(&second.log()).len() == 2).then_some(()) }).await;
    wait_for("the new window to connect", Duration::from_secs(30), || async { (connected(&second.log()) > before + 1).then_some(()) }).await;

    // Quit from the CLI closes the resident and the window it started.
    let (status, _, err) = app::run(&["quit"], &env);
    assert!(status.success(), "{err}");
    assert!(second.wait_exit(Duration::from_secs(20)).await.success());
    wait_for("the window and its WebKit processes to close with it", Duration::from_secs(20), || async {
        window_and_webkit_for(&runtime).is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_started_before_tocsin_waits_for_it_and_shows_its_event() {
    require_display();
    let desk = OneAccount::start(KEY, "inboxes = [\"inbox_ops\"]\n").await;
    let bus = PrivateBus::start();
    let _notes = RecordingNotificationServer::start(&bus).await;
    let mut owned = desk.env();
    owned.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    let env = refs(&owned);
    // A first run stores two events, then stops.
    let mut first = AppProcess::spawn(&["run", "--headless"], &env);
    first.wait_for_log("tocsin running", Duration::from_secs(30)).await;
    wait_for("the account to subscribe", Duration::from_secs(20), || async {
        desk.emu.daimon().commands().iter().any(|c| c["action"] == "subscribe").then_some(())
    })
    .await;
    desk.emu.daimon().publish(mail("b1", "the one to show"));
    desk.emu.daimon().publish(mail("b2", "a later one"));
    let target = wait_for("both events stored", Duration::from_secs(20), || async {
        let (_, out, _) = app::run(&["history", "list", "--json"], &env);
        let items: Vec<Value> = serde_json::from_str(&out).ok()?;
        let id = items.iter().find(|i| i["subject"] == "the one to show")?["id"].as_i64()?;
        (items.len() == 2).then_some(id)
    })
    .await;
    assert!(first.stop("TERM", Duration::from_secs(20)).await.success());

    // The window, asked to show that event, starts while no Tocsin runs: it says so.
    let driver = WebDriver::start(&env).await;
    let session = driver.new_session_with_env(&app::window_binary(), &["--focus".to_owned(), target.to_string()], &env).await;
    session.wait_until("[data-testid=link-banner]", |t| t.contains("not running"), Duration::from_secs(30)).await;
    // Tocsin starts: the window connects by itself and shows the event it was opened for.
    let mut second = AppProcess::spawn(&["run", "--headless"], &env);
    second.wait_for_log("the history window connected", Duration::from_secs(30)).await;
    session.wait_for_count("[data-testid=event-row]", |n| n == 2, Duration::from_secs(20)).await;
    let selected = wait_for("the event to be selected", Duration::from_secs(20), || async {
        let v = session.execute("return document.querySelector('[data-testid=event-row][aria-selected=true]')?.dataset.id ?? null", vec![]).await;
        v.as_str().map(str::to_owned)
    })
    .await;
    assert_eq!(selected, target.to_string());
    assert_eq!(session.execute("return document.querySelectorAll('[data-testid=link-banner]').length", vec![]).await, json!(0));
    session.close().await;
    assert!(second.stop("TERM", Duration::from_secs(20)).await.success());
}
