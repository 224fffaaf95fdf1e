//! The tray on a real tray host: xfce4-panel 4.18's notification area (Debian 12)
//! on a private bus and the Xvfb display, with the real `tocsin --minimized`. The
//! panel's own StatusNotifierWatcher registers the item; the icon (the colour of
//! the item's `IconPixmap`) appears in a screenshot of the panel, where it was not
//! before; a right click with xdotool opens the menu the panel draws from the
//! item's dbusmenu, and choosing "Pause until I resume" in it pauses Tocsin
//! (`tocsin status --json`); a left click opens the history window. Screenshots:
//! `tray-host-*.png` in the artifacts directory.

use std::time::Duration;

use tocsin_e2e::app::{self, AppProcess};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::desk::{refs, OneAccount};
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::panel::{XfcePanel, PANEL_SIZE};
use tocsin_e2e::tray::TrayItem;
use tocsin_e2e::{wait_for, x11};

const KEY: &str = "dm_live_trayhost_0123456789";

/// The most common opaque colour of an ARGB32 pixmap.
fn main_colour(argb: &[u8]) -> [u8; 3] {
    let mut counts = std::collections::HashMap::<[u8; 3], usize>::new();
    for px in argb.chunks_exact(4).filter(|p| p[0] == 255) {
        *counts.entry([px[1], px[2], px[3]]).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c).expect("an opaque icon")
}

/// Pixels of `colour` in the panel strip of a new screenshot, and their bounding box's centre.
fn find_icon(name: &str, width: i32, colour: [u8; 3]) -> (usize, (i32, i32)) {
    let shot = x11::screenshot_artifact(name);
    let px = x11::pixels(&shot, (0, 0, width, PANEL_SIZE));
    let hits: Vec<(i32, i32)> = px
        .iter()
        .enumerate()
        .filter(|(_, p)| x11::near(**p, colour, 24))
        .map(|(i, _)| (i as i32 % width, i as i32 / width))
        .collect();
    let (xs, ys): (Vec<i32>, Vec<i32>) = hits.iter().copied().unzip();
    let centre = match (xs.iter().min(), xs.iter().max(), ys.iter().min(), ys.iter().max()) {
        (Some(x0), Some(x1), Some(y0), Some(y1)) => ((x0 + x1) / 2, (y0 + y1) / 2),
        _ => (0, 0),
    };
    (hits.len(), centre)
}

#[tokio::test]
async fn the_icon_and_menu_appear_and_work_in_the_xfce_panel() {
    tocsin_e2e::require_display();
    let _screen = x11::exclusive().await;
    let bus = PrivateBus::start();
    let _notes = RecordingNotificationServer::start(&bus).await;
    let panel = XfcePanel::start(&bus).await;
    let strip = panel.window().await;
    let baseline = x11::screenshot_artifact("tray-host-0-empty");

    let s = OneAccount::start(KEY, "inboxes = [\"inbox_ops\"]\n").await;
    let mut env = s.env();
    env.push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address().to_owned()));
    let mut app = AppProcess::spawn(&["--minimized"], &refs(&env));

    // The panel's watcher registered the item.
    let prefix = format!("org.kde.StatusNotifierItem-{}-", app.pid());
    let entry = wait_for("the panel to register tocsin's item", Duration::from_secs(30), || async {
        panel.registered_items().await.into_iter().find(|e| e.starts_with(&prefix))
    })
    .await;
    let (name, path) = entry.split_at(entry.find('/').expect("name/path"));
    let item = TrayItem::new(bus.connection().await, name, path);
    item.wait_for_tool_tip(|t| t.description.starts_with("Connected"), Duration::from_secs(30)).await;
    let pixmap = item.icon_pixmap().await;
    let colour = main_colour(&pixmap[0].argb);

    // The icon is on screen, in the panel, where it was not before.
    let before = x11::pixels(&baseline, (0, 0, strip.width, PANEL_SIZE)).iter().filter(|p| x11::near(**p, colour, 24)).count();
    assert_eq!(before, 0, "the empty panel has no pixel of the icon's colour {colour:?}");
    let (hits, (cx, cy)) = wait_for("the icon in the panel", Duration::from_secs(20), || async {
        let (n, c) = find_icon("tray-host-1-icon", strip.width, colour);
        (n >= 20).then_some((n, c))
    })
    .await;
    eprintln!("icon colour {colour:?}: {hits} pixels around ({cx}, {cy})");

    // Right click: the panel's menu, drawn from the dbusmenu; choose "Pause until I resume".
    x11::click(cx, cy, 3);
    let menu = wait_for("the panel's menu for the item", Duration::from_secs(10), || async {
        x11::windows_named("^wrapper-2.0$").into_iter().find(|w| w.height > 100)
    })
    .await;
    eprintln!("menu window {menu:?}");
    x11::screenshot_artifact("tray-host-2-menu");
    // Keyboard in the GTK menu: the first Down selects the first enabled entry (Open
    // history), then Pause for 1 hour, Pause until tomorrow morning, Pause until I resume.
    x11::keys(&["Down", "Down", "Down", "Down", "Return"]);
    let status = wait_for("Tocsin paused until resumed", Duration::from_secs(10), || async {
        let (ok, out, _) = app::run(&["status", "--json"], &refs(&env));
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        (ok.success() && v["paused"] == true && v["pausedUntilMs"].is_null()).then_some(v)
    })
    .await;
    assert!(status["notifierCause"].is_null(), "{status}");
    item.wait_for_tool_tip(|t| t.description.contains("notifications paused"), Duration::from_secs(10)).await;

    // Left click: the history window opens.
    x11::click(cx, cy, 1);
    let (pid, _) = wait_for("tocsin-window started from the icon", Duration::from_secs(20), || async {
        app::children_named(app.pid(), "tocsin-window").into_iter().next()
    })
    .await;
    wait_for("the window on screen", Duration::from_secs(60), || async { (!x11::windows_of_pid(pid).is_empty()).then_some(()) }).await;
    x11::screenshot_artifact("tray-host-3-window");
    app::kill_pid(pid);
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(20)).await.success());
    wait_for("the item gone from the panel", Duration::from_secs(10), || async {
        (!panel.registered_items().await.iter().any(|e| e.starts_with(&prefix))).then_some(())
    })
    .await;
}
