//! Self-tests of the e2e harness against real peers: a real dbus-daemon, `gdbus`,
//! notify-rust (the app's notification library), a real libayatana-appindicator tray
//! item (compiled here from a few lines of C), and WebKitWebDriver driving WebKitGTK's
//! MiniBrowser. The last two need an X display: run them under scripts/test.sh.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tocsin_e2e::app::{require_display, AppProcess, Signal};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_e2e::tray::{flatten, strip_mnemonic, StatusNotifierWatcher, TrayItem};
use tocsin_e2e::webdriver::WebDriver;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

const T: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------- bus

#[tokio::test]
async fn private_bus_gives_unique_names_activates_nothing_and_dies_on_drop() {
    let bus = PrivateBus::start();
    assert!(bus.address().starts_with("unix:path="), "{}", bus.address());
    assert!(bus.address().contains(&bus.dir().display().to_string()), "the socket lives in the bus tempdir: {}", bus.address());

    let a = bus.connection().await;
    let b = bus.connection().await;
    let (ua, ub) = (a.unique_name().unwrap().to_string(), b.unique_name().unwrap().to_string());
    assert!(ua.starts_with(":1.") && ub.starts_with(":1.") && ua != ub, "{ua} {ub}");

    // Nothing is activatable, so calling an unowned service fails instead of starting one.
    let dbus = zbus::fdo::DBusProxy::new(&a).await.unwrap();
    let activatable: Vec<String> = dbus.list_activatable_names().await.unwrap().into_iter().map(|n| n.to_string()).collect();
    assert_eq!(activatable, ["org.freedesktop.DBus"]);
    let err = a
        .call_method(Some("org.freedesktop.Notifications"), "/org/freedesktop/Notifications", Some("org.freedesktop.Notifications"), "GetCapabilities", &())
        .await
        .expect_err("no notification server may exist on a fresh private bus");
    assert!(err.to_string().contains("ServiceUnknown") || err.to_string().contains("was not provided"), "{err}");

    assert!(!bus.name_has_owner("org.example.Selftest").await);
    b.request_name("org.example.Selftest").await.unwrap();
    assert_eq!(bus.wait_for_name("org.example.Selftest", T).await, ub);

    let address = bus.address().to_owned();
    drop((a, b));
    drop(bus);
    let after = zbus::connection::Builder::address(address.as_str()).unwrap().build().await;
    assert!(after.is_err(), "the daemon is gone after drop");
}

// ---------------------------------------------------------------- notifications

async fn gdbus(address: &str, method: &str, args: &[&str]) -> String {
    let out = tokio::process::Command::new("gdbus")
        .args(["call", "--address", address, "--dest", "org.freedesktop.Notifications"])
        .args(["--object-path", "/org/freedesktop/Notifications", "--method"])
        .arg(format!("org.freedesktop.Notifications.{method}"))
        .args(args)
        .output()
        .await
        .expect("gdbus (libglib2.0-bin) must be installed");
    assert!(out.status.success(), "gdbus {method} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn recording_server_records_what_gdbus_sends() {
    let bus = PrivateBus::start();
    let server = RecordingNotificationServer::start(&bus).await;
    assert!(server.notifications().is_empty());

    let caps = gdbus(bus.address(), "GetCapabilities", &[]).await;
    assert_eq!(caps, "(['actions', 'body'],)");
    let info = gdbus(bus.address(), "GetServerInformation", &[]).await;
    assert!(info.starts_with("('tocsin-recorder', 'tocsin-e2e'"), "{info}");

    let reply = gdbus(
        bus.address(),
        "Notify",
        &[
            "Tocsin",
            "0",
            "tocsin",
            "[URGENT] Primary database down",
            "From ops@example.com",
            "['open', 'Open', 'ack', 'Acknowledge']",
            "{'urgency': <byte 2>, 'desktop-entry': <'tocsin'>, 'category': <'email.arrived'>, 'x-count': <int32 7>}",
            "int32 -1",
        ],
    )
    .await;
    assert_eq!(reply, "(uint32 1,)");
    let got = server.wait_for(1, T).await;
    let n = &got[0];
    assert_eq!((n.id, n.app_name.as_str(), n.replaces_id, n.app_icon.as_str()), (1, "Tocsin", 0, "tocsin"));
    assert_eq!(n.summary, "[URGENT] Primary database down");
    assert_eq!(n.body, "From ops@example.com");
    assert_eq!(n.action_keys(), ["open", "ack"]);
    assert_eq!(n.action_label("ack"), Some("Acknowledge"));
    assert_eq!(n.urgency, Some(2));
    assert_eq!(n.desktop_entry.as_deref(), Some("tocsin"));
    assert_eq!(n.category.as_deref(), Some("email.arrived"));
    assert_eq!(n.hints["urgency"], "byte 2");
    assert_eq!(n.hints["x-count"], "7");
    assert_eq!(n.hint_names, ["category", "desktop-entry", "urgency", "x-count"]);
    assert_eq!(n.expire_timeout, -1);
    assert!(n.sender.starts_with(":1."));

    // replaces_id keeps the id; a fresh notification gets a new one.
    let again = gdbus(bus.address(), "Notify", &["Tocsin", "1", "", "updated", "", "[]", "{}", "5000"]).await;
    assert_eq!(again, "(uint32 1,)");
    let fresh = gdbus(bus.address(), "Notify", &["Tocsin", "0", "", "second", "", "[]", "{}", "0"]).await;
    assert_eq!(fresh, "(uint32 2,)");
    let all = server.wait_for(3, T).await;
    assert_eq!(all.iter().map(|n| n.summary.as_str()).collect::<Vec<_>>(), ["[URGENT] Primary database down", "updated", "second"]);
    assert_eq!(all[1].urgency, None);

    gdbus(bus.address(), "CloseNotification", &["2"]).await;
    assert_eq!(server.closed(), [2]);
}

#[tokio::test]
async fn recording_server_signals_reach_a_subscriber() {
    use futures_util::StreamExt;
    let bus = PrivateBus::start();
    let server = RecordingNotificationServer::start(&bus).await;
    let client = bus.connection().await;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.freedesktop.Notifications")
        .unwrap()
        .build();
    let mut stream = zbus::MessageStream::for_match_rule(rule, &client, None).await.unwrap();
    server.invoke_action(7, "open").await;
    server.close(7, 2).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let msg = tokio::time::timeout(T, stream.next()).await.expect("signals arrive").unwrap().unwrap();
        let member = msg.header().member().unwrap().to_string();
        let text = match member.as_str() {
            "ActionInvoked" => format!("{:?}", msg.body().deserialize::<(u32, String)>().unwrap()),
            _ => format!("{:?}", msg.body().deserialize::<(u32, u32)>().unwrap()),
        };
        seen.push(format!("{member}{text}"));
    }
    assert_eq!(seen, ["ActionInvoked(7, \"open\")", "NotificationClosed(7, 2)"]);
}

/// Not a test on its own: the client process for
/// `notify_rust_client_gets_the_action_after_re_emission`, which runs this test
/// binary again with only this test and `TOCSIN_SELFTEST_NOTIFY_CHILD=1`.
#[test]
#[ignore = "helper process, run by notify_rust_client_gets_the_action_after_re_emission"]
fn notify_rust_child_process() {
    if std::env::var_os("TOCSIN_SELFTEST_NOTIFY_CHILD").is_none() {
        return;
    }
    let handle = notify_rust::Notification::new()
        .appname("notify-probe")
        .summary("probe")
        .body("from the harness self-test")
        .action("open", "Open")
        .hint(notify_rust::Hint::DesktopEntry("notify-probe".into()))
        .urgency(notify_rust::Urgency::Critical)
        .show()
        .expect("notify over the private bus");
    println!("CHILD-ID {}", handle.id());
    // Listen late, as an app does after other work: an early ActionInvoked is lost.
    std::thread::sleep(Duration::from_millis(600));
    handle.wait_for_action(|key| println!("CHILD-ACTION {key}"));
}

#[tokio::test]
async fn notify_rust_client_gets_the_action_after_re_emission() {
    use tokio::io::AsyncBufReadExt;
    let bus = PrivateBus::start();
    let server = RecordingNotificationServer::start(&bus).await;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "notify_rust_child_process", "--ignored", "--nocapture", "--test-threads=1"])
        .env("TOCSIN_SELFTEST_NOTIFY_CHILD", "1")
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader_lines = lines.clone();
    let mut reader = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let reader_task = tokio::spawn(async move {
        while let Ok(Some(line)) = reader.next_line().await {
            reader_lines.lock().unwrap().push(line);
        }
    });

    let n = server.wait_for(1, T).await.remove(0);
    assert_eq!((n.app_name.as_str(), n.summary.as_str()), ("notify-probe", "probe"));
    assert_eq!(n.urgency, Some(2), "notify-rust sends Urgency::Critical as byte 2");
    assert_eq!(n.desktop_entry.as_deref(), Some("notify-probe"));
    assert_eq!(n.action_keys(), ["open"]);

    // libtest prints its own "test ... " prefix on the same line as the first output.
    let got_it = || lines.lock().unwrap().iter().any(|l| l.ends_with("CHILD-ACTION open"));
    server.invoke_action_until(n.id, "open", got_it, T).await;
    let status = tokio::time::timeout(T, child.wait()).await.expect("the client exits after its action").unwrap();
    reader_task.await.unwrap();
    assert!(status.success());
    let lines = lines.lock().unwrap().clone();
    assert!(lines.iter().any(|l| l.ends_with(&format!("CHILD-ID {}", n.id))), "{lines:?}");
}

// ---------------------------------------------------------------- tray (zbus item)

struct FakeItem {
    title: String,
}

#[zbus::interface(name = "org.kde.StatusNotifierItem")]
impl FakeItem {
    #[zbus(property)]
    fn id(&self) -> String {
        "fake-tocsin".into()
    }
    #[zbus(property)]
    fn title(&self) -> String {
        self.title.clone()
    }
    #[zbus(property)]
    fn status(&self) -> String {
        "NeedsAttention".into()
    }
    #[zbus(property)]
    fn icon_name(&self) -> String {
        "tocsin-alert".into()
    }
    #[zbus(property)]
    fn icon_pixmap(&self) -> Vec<(i32, i32, Vec<u8>)> {
        vec![(1, 1, vec![255, 255, 0, 0])]
    }
    #[allow(clippy::type_complexity)]
    #[zbus(property)]
    fn tool_tip(&self) -> (String, Vec<(i32, i32, Vec<u8>)>, String, String) {
        ("tocsin".into(), vec![], "Tocsin".into(), "2 urgent".into())
    }
    #[zbus(property, name = "XAyatanaLabel")]
    fn x_ayatana_label(&self) -> String {
        "2".into()
    }
    #[zbus(property)]
    fn menu(&self) -> OwnedObjectPath {
        ObjectPath::try_from("/fake/Menu").unwrap().into()
    }
}

struct FakeMenu {
    events: Arc<Mutex<Vec<(i32, String)>>>,
}

fn node(id: i32, props: &[(&str, Value<'static>)], children: Vec<Value<'static>>) -> (i32, HashMap<String, Value<'static>>, Vec<Value<'static>>) {
    (id, props.iter().map(|(k, v)| (k.to_string(), v.try_clone().unwrap())).collect(), children)
}

fn child(id: i32, props: &[(&str, Value<'static>)], children: Vec<Value<'static>>) -> Value<'static> {
    Value::Structure(node(id, props, children).into())
}

#[zbus::interface(name = "com.canonical.dbusmenu")]
impl FakeMenu {
    #[allow(clippy::type_complexity)]
    fn get_layout(&self, parent: i32, depth: i32, _props: Vec<String>) -> (u32, (i32, HashMap<String, Value<'static>>, Vec<Value<'static>>)) {
        assert_eq!((parent, depth), (0, -1));
        let submenu = child(
            5,
            &[("label", Value::from("Mo_re")), ("children-display", Value::from("submenu"))],
            vec![child(6, &[("label", Value::from("Mark all __read"))], vec![])],
        );
        let root = node(
            0,
            &[("children-display", Value::from("submenu"))],
            vec![
                child(1, &[("label", Value::from("_Open Tocsin"))], vec![]),
                child(2, &[("label", Value::from("Mute")), ("toggle-type", Value::from("checkmark")), ("toggle-state", Value::I32(1))], vec![]),
                child(3, &[("label", Value::from("Offline")), ("enabled", Value::Bool(false))], vec![]),
                child(4, &[("type", Value::from("separator"))], vec![]),
                submenu,
                child(7, &[("label", Value::from("Hidden")), ("visible", Value::Bool(false))], vec![]),
            ],
        );
        (3, root)
    }

    fn event(&self, id: i32, event_id: String, data: OwnedValue, _timestamp: u32) {
        assert_eq!(i32::try_from(&data).ok(), Some(0), "the click carries int32 0");
        self.events.lock().unwrap().push((id, event_id));
    }
}

#[tokio::test]
async fn watcher_accepts_a_path_registration_and_reads_the_item_and_its_menu() {
    let bus = PrivateBus::start();
    let watcher = StatusNotifierWatcher::start(&bus).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let item_conn = zbus::connection::Builder::address(bus.address())
        .unwrap()
        .serve_at("/org/ayatana/NotificationItem/fake_tocsin", FakeItem { title: "Tocsin".into() })
        .unwrap()
        .serve_at("/fake/Menu", FakeMenu { events: events.clone() })
        .unwrap()
        .build()
        .await
        .unwrap();
    let item_name = item_conn.unique_name().unwrap().to_string();

    // The watcher's own properties, read by a client as an item library would.
    let props = zbus::fdo::PropertiesProxy::builder(&item_conn)
        .destination("org.kde.StatusNotifierWatcher")
        .unwrap()
        .path("/StatusNotifierWatcher")
        .unwrap()
        .build()
        .await
        .unwrap();
    let iface = zbus::names::InterfaceName::from_static_str("org.kde.StatusNotifierWatcher").unwrap();
    assert!(bool::try_from(props.get(iface.clone(), "IsStatusNotifierHostRegistered").await.unwrap()).unwrap());
    assert_eq!(i32::try_from(props.get(iface.clone(), "ProtocolVersion").await.unwrap()).unwrap(), 0);

    item_conn
        .call_method(Some("org.kde.StatusNotifierWatcher"), "/StatusNotifierWatcher", Some("org.kde.StatusNotifierWatcher"), "RegisterStatusNotifierItem", &("/org/ayatana/NotificationItem/fake_tocsin",))
        .await
        .unwrap();
    let item = watcher.wait_for_item(T).await;
    assert_eq!(item.bus_name(), item_name);
    assert_eq!(item.path(), "/org/ayatana/NotificationItem/fake_tocsin");
    let registered = <Vec<String>>::try_from(props.get(iface, "RegisteredStatusNotifierItems").await.unwrap()).unwrap();
    assert_eq!(registered, [format!("{item_name}/org/ayatana/NotificationItem/fake_tocsin")]);

    assert_eq!(item.id().await, "fake-tocsin");
    assert_eq!(item.title().await, "Tocsin");
    assert_eq!(item.status().await, "NeedsAttention");
    assert_eq!(item.icon_name().await.as_deref(), Some("tocsin-alert"));
    assert!(item.has_icon_pixmap().await);
    assert_eq!(item.label().await.as_deref(), Some("2"));
    assert_eq!(item.tool_tip().await.map(|t| (t.title, t.description)), Some(("Tocsin".into(), "2 urgent".into())));
    assert_eq!(item.category().await, None, "a missing property is None, not a panic");
    assert_eq!(item.menu_path().await, "/fake/Menu");
    assert_eq!(item.icon_file().await, None, "no IconThemePath and not an absolute path");

    let menu = item.menu().await;
    let labels: Vec<&str> = menu.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["Open Tocsin", "Mute", "Offline", "", "More", "Hidden"]);
    assert_eq!((menu[1].toggle_type.as_str(), menu[1].toggle_state), ("checkmark", Some(1)));
    assert_eq!(menu[0].toggle_state, None);
    assert!(!menu[2].enabled && menu[0].enabled);
    assert!(menu[3].is_separator() && !menu[0].is_separator());
    assert_eq!(menu[4].children.len(), 1);
    assert_eq!((menu[4].children[0].id, menu[4].children[0].label.as_str()), (6, "Mark all _read"));
    assert!(!menu[5].visible && menu[0].visible);
    assert_eq!(flatten(&menu).len(), 7);

    item.click_label("Mark all _read").await;
    item.click(1).await;
    assert_eq!(*events.lock().unwrap(), [(6, "clicked".to_owned()), (1, "clicked".to_owned())]);

    // The item leaving the bus unregisters it (the proxy holds a clone of the connection).
    drop(props);
    drop(item_conn);
    watcher.wait_for_no_items(T).await;
    assert_eq!(watcher.registrations().len(), 1);
}

#[tokio::test]
async fn watcher_accepts_a_bus_name_registration() {
    let bus = PrivateBus::start();
    let watcher = StatusNotifierWatcher::start(&bus).await;
    let conn = zbus::connection::Builder::address(bus.address())
        .unwrap()
        .serve_at("/StatusNotifierItem", FakeItem { title: "KDE style".into() })
        .unwrap()
        .name("org.kde.StatusNotifierItem-42-1")
        .unwrap()
        .build()
        .await
        .unwrap();
    conn.call_method(Some("org.kde.StatusNotifierWatcher"), "/StatusNotifierWatcher", Some("org.kde.StatusNotifierWatcher"), "RegisterStatusNotifierItem", &("org.kde.StatusNotifierItem-42-1",))
        .await
        .unwrap();
    let item = watcher.wait_for_item(T).await;
    assert_eq!(item.bus_name(), conn.unique_name().unwrap().as_str());
    assert_eq!(item.path(), "/StatusNotifierItem");
    assert_eq!(item.registration().service, "org.kde.StatusNotifierItem-42-1");
    assert_eq!(item.title().await, "KDE style");
    // Hosts can register too, and are remembered.
    conn.call_method(Some("org.kde.StatusNotifierWatcher"), "/StatusNotifierWatcher", Some("org.kde.StatusNotifierWatcher"), "RegisterStatusNotifierHost", &("org.kde.StatusNotifierHost-42",))
        .await
        .unwrap();
    assert_eq!(watcher.hosts(), ["org.kde.StatusNotifierHost-42"]);
}

#[test]
fn mnemonics_are_stripped_like_gtk() {
    assert_eq!(strip_mnemonic("_Quit"), "Quit");
    assert_eq!(strip_mnemonic("Save __as"), "Save _as");
    assert_eq!(strip_mnemonic("No mnemonic"), "No mnemonic");
    assert_eq!(strip_mnemonic("a_b_c"), "abc");
}

// ---------------------------------------------------------------- tray (real libayatana-appindicator)

const INDICATOR_C: &str = r#"
#include <stdio.h>
#include <gtk/gtk.h>
#include <libayatana-appindicator/app-indicator.h>

static AppIndicator *ind;
static void say(GtkMenuItem *item, gpointer what) { printf("CLICKED %s\n", (const char *)what); fflush(stdout); }
static void open_clicked(GtkMenuItem *item, gpointer data) { app_indicator_set_label(ind, "4 urgent", ""); say(item, "open"); }
static void quit(GtkMenuItem *item, gpointer data) { printf("CLICKED quit\n"); fflush(stdout); gtk_main_quit(); }
static GtkWidget *add(GtkWidget *menu, GtkWidget *item) { gtk_menu_shell_append(GTK_MENU_SHELL(menu), item); return item; }

int main(int argc, char **argv) {
    gtk_init(&argc, &argv);
    ind = app_indicator_new("tocsin-selftest", "dialog-information", APP_INDICATOR_CATEGORY_APPLICATION_STATUS);
    app_indicator_set_status(ind, APP_INDICATOR_STATUS_ACTIVE);
    app_indicator_set_title(ind, "Selftest Title");
    app_indicator_set_label(ind, "3 urgent", "");
    GtkWidget *menu = gtk_menu_new();
    g_signal_connect(add(menu, gtk_menu_item_new_with_mnemonic("_Open window")), "activate", G_CALLBACK(open_clicked), NULL);
    GtkWidget *mute = add(menu, gtk_check_menu_item_new_with_label("Mute"));
    gtk_check_menu_item_set_active(GTK_CHECK_MENU_ITEM(mute), TRUE);
    gtk_widget_set_sensitive(add(menu, gtk_menu_item_new_with_label("Status: connected")), FALSE);
    add(menu, gtk_separator_menu_item_new());
    GtkWidget *more = add(menu, gtk_menu_item_new_with_label("More"));
    GtkWidget *sub = gtk_menu_new();
    g_signal_connect(add(sub, gtk_menu_item_new_with_label("Nested action")), "activate", G_CALLBACK(say), "nested");
    gtk_menu_item_set_submenu(GTK_MENU_ITEM(more), sub);
    g_signal_connect(add(menu, gtk_menu_item_new_with_mnemonic("_Quit")), "activate", G_CALLBACK(quit), NULL);
    gtk_widget_show_all(menu);
    app_indicator_set_menu(ind, GTK_MENU(menu));
    printf("READY\n"); fflush(stdout);
    gtk_main();
    return 0;
}
"#;

fn compile_indicator(dir: &Path) -> PathBuf {
    let src = dir.join("indicator.c");
    let bin = dir.join("indicator");
    std::fs::write(&src, INDICATOR_C).unwrap();
    let flags = std::process::Command::new("pkg-config")
        .args(["--cflags", "--libs", "ayatana-appindicator3-0.1"])
        .output()
        .expect("pkg-config must be installed (scripts/setup.sh)");
    assert!(flags.status.success(), "libayatana-appindicator3-dev is missing: {}", String::from_utf8_lossy(&flags.stderr));
    let flags = String::from_utf8(flags.stdout).unwrap();
    let out = std::process::Command::new("cc")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .args(["-Wno-deprecated-declarations"])
        .args(flags.split_whitespace())
        .output()
        .expect("a C compiler (build-essential) must be installed");
    assert!(out.status.success(), "compiling the test indicator failed: {}", String::from_utf8_lossy(&out.stderr));
    bin
}

#[tokio::test]
async fn real_ayatana_indicator_registers_and_its_menu_is_read_and_clicked() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    let bin = compile_indicator(dir.path());
    let bus = PrivateBus::start();
    let watcher = StatusNotifierWatcher::start(&bus).await;
    let mut app = AppProcess::spawn_binary(
        &bin,
        &[],
        &[("DBUS_SESSION_BUS_ADDRESS", bus.address()), ("NO_AT_BRIDGE", "1"), ("GSETTINGS_BACKEND", "memory")],
    );
    app.wait_for_log("READY", T).await;
    let item: TrayItem = watcher.wait_for_item(T).await;
    let reg = item.registration().clone();
    eprintln!("libayatana registration: {reg:?}");
    eprintln!("item properties: {:#?}", item.all_properties().await);
    assert!(reg.service.starts_with("/org/ayatana/NotificationItem/"), "libayatana registers an object path: {reg:?}");
    assert_eq!(reg.path, reg.service);
    assert!(reg.bus_name.starts_with(":1."));

    assert_eq!(item.id().await, "tocsin-selftest");
    assert_eq!(item.title().await, "Selftest Title");
    assert_eq!(item.status().await, "Active");
    assert_eq!(item.icon_name().await.as_deref(), Some("dialog-information"));
    assert_eq!(item.label().await.as_deref(), Some("3 urgent"));
    assert_eq!(item.menu_path().await, format!("{}/Menu", reg.path));

    // dbusmenu-gtk exports the menu lazily: wait until the entries are there.
    let menu = item.wait_for_menu(|m| m.len() >= 6, T).await;
    eprintln!("libayatana menu: {menu:#?}");
    let labels: Vec<&str> = menu.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["Open window", "Mute", "Status: connected", "", "More", "Quit"]);
    assert_eq!((menu[1].toggle_type.as_str(), menu[1].toggle_state), ("checkmark", Some(1)));
    assert!(!menu[2].enabled);
    assert!(menu[3].is_separator());
    assert_eq!(menu[4].children.iter().map(|e| e.label.as_str()).collect::<Vec<_>>(), ["Nested action"]);

    assert_eq!(item.icon_file().await, None, "a theme icon name is not a file");
    item.click_label("Open window").await;
    app.wait_for_log("CLICKED open", T).await;
    // Properties are read fresh: the click changed the label.
    assert_eq!(item.wait_for_string_property("XAyatanaLabel", |l| l == "4 urgent", T).await, "4 urgent");
    item.click_label("Nested action").await;
    app.wait_for_log("CLICKED nested", T).await;
    item.click_label("Quit").await;
    let status = app.wait_exit(T).await;
    assert!(status.success(), "{status:?}");
    watcher.wait_for_no_items(T).await;
}

// ---------------------------------------------------------------- app process

#[tokio::test]
async fn app_process_logs_and_delivers_signals() {
    let script = "echo started; trap 'echo got-term; exit 3' TERM; while :; do sleep 0.05; done";
    let mut p = AppProcess::spawn_binary(Path::new("/bin/sh"), &["-c", script], &[("TOCSIN_SELFTEST", "1")]);
    p.wait_for_log("started", T).await;
    assert!(p.running());
    p.signal(Signal::SIGTERM);
    let status = p.wait_exit(T).await;
    assert_eq!(status.code(), Some(3));
    assert!(p.log().contains("got-term"), "{}", p.log());

    let mut q = AppProcess::spawn_binary(Path::new("/bin/sh"), &["-c", "trap 'exit 4' INT; echo up; while :; do sleep 0.05; done"], &[]);
    q.wait_for_log("up", T).await;
    assert_eq!(q.stop("INT", T).await.code(), Some(4));
}

// ---------------------------------------------------------------- webdriver (real WebKitWebDriver + MiniBrowser)

fn minibrowser() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("webkit2gtk-4.1/MiniBrowser"))
        .find(|p| p.exists());
    found.expect("WebKitGTK's MiniBrowser (libwebkit2gtk-4.1-0) is missing")
}

const PAGE: &str = r#"<!doctype html><html><head><title>Selftest page</title></head><body>
<h1 id="title" data-kind="heading">Hello, harness</h1>
<ul><li>one</li><li>two</li><li>three</li></ul>
<button id="add" onclick="setTimeout(() => { const c = document.getElementById('count'); c.textContent = String(Number(c.textContent) + 1); }, 150)">Add</button>
<span id="count">0</span>
<input id="q" value="">
</body></html>"#;

#[tokio::test]
async fn webdriver_drives_minibrowser() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::write(&page, PAGE).unwrap();
    let wd = WebDriver::start(&[("NO_AT_BRIDGE", "1")]).await;
    // Per-session environment goes through the launch wrapper: TZ is visible to JS.
    let session = wd
        .new_session_with_env(&minibrowser(), &["--automation".to_owned()], &[("TZ", "Asia/Kathmandu")])
        .await;
    session.goto(&format!("file://{}", page.display())).await;
    assert_eq!(session.title().await, "Selftest page");

    let h1 = session.find("#title").await;
    assert_eq!(session.text(&h1).await, "Hello, harness");
    assert_eq!(session.attribute(&h1, "data-kind").await.as_deref(), Some("heading"));
    assert_eq!(session.attribute(&h1, "data-missing").await, None);
    assert_eq!(session.texts("li").await, ["one", "two", "three"]);
    assert!(session.try_find("#nope").await.is_none());
    assert!(session.find_all(".nope").await.is_empty());

    let add = session.find("#add").await;
    session.click(&add).await;
    session.click(&add).await;
    session.wait_until("#count", |t| t == "2", T).await;

    let q = session.find("#q").await;
    session.send_keys(&q, "urgent").await;
    assert_eq!(session.property(&q, "value").await, "urgent");

    let sum = session.execute("return arguments[0] + arguments[1];", vec![40.into(), 2.into()]).await;
    assert_eq!(sum, 42);
    let tz = session.execute("return new Date(2026, 0, 1).getTimezoneOffset();", vec![]).await;
    assert_eq!(tz, -345, "the per-session env reached the browser");

    let png = session.screenshot().await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let saved = session.save_screenshot("selftest-minibrowser").await;
    assert!(std::fs::metadata(&saved).unwrap().len() > 1000);
    session.close().await;
}
