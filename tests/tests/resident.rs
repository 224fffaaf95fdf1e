//! The resident process and its control socket, with real processes: the
//! binary's libraries, the live CLI, the socket's permissions and peer check, a
//! stale socket, a second resident, and clients of another protocol version.
//! No display: the resident runs headless (the same code path as in the tray).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tocsin_control::{Client, Request, Role};
use tocsin_e2e::app::{self, AppProcess};
use tocsin_e2e::wait_for;
use tocsin_e2e::desk::OneAccount;
use tocsin_engine::ErrorCode;

const KEY: &str = "dm_live_resident_5120";

struct Setup(OneAccount);

async fn setup() -> Setup {
    Setup(OneAccount::start(KEY, "inboxes = [\"inbox_ops\"]\n").await)
}

impl std::ops::Deref for Setup {
    type Target = OneAccount;
    fn deref(&self) -> &OneAccount {
        &self.0
    }
}

impl Setup {
    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.0.env();
        env.push(("DBUS_SESSION_BUS_ADDRESS".into(), "unix:path=/nonexistent/tocsin-test-bus".into()));
        env.push(("DISPLAY".into(), String::new()));
        env
    }

    fn spawn(&self) -> AppProcess {
        let env = self.env();
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        AppProcess::spawn(&["run", "--headless"], &refs)
    }

    /// `tocsin ARGS` with this setup's directories (so it finds the running resident).
    fn cli(&self, args: &[&str]) -> (std::process::ExitStatus, String, String) {
        let env = self.env();
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        app::run(args, &refs)
    }

    async fn running(&self, app: &mut AppProcess) {
        app.wait_for_log("tocsin running", Duration::from_secs(30)).await;
        wait_for("the account to subscribe", Duration::from_secs(20), || async {
            self.emu.daimon().commands().iter().any(|c| c["action"] == "subscribe").then_some(())
        })
        .await;
    }
}

fn mail(id: &str, subject: &str) -> Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":format!("msg_{id}"),"inbox_id":"inbox_ops","from":"Ops <ops@example.com>",
                                 "subject":subject,"body":"x","labels":[]}}})
}

fn ldd(bin: &Path) -> String {
    let out = std::process::Command::new("ldd").arg(bin).output().expect("ldd");
    assert!(out.status.success(), "ldd {} failed", bin.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const GUI_LIBS: [&str; 6] = ["libwebkit2gtk", "libjavascriptcoregtk", "libgtk-3", "libgdk-3", "libsoup", "libayatana-appindicator"];

#[test]
fn the_resident_links_no_webkit_or_gtk_and_the_window_does() {
    let resident = ldd(&app::binary());
    for lib in GUI_LIBS {
        assert!(!resident.contains(lib), "the resident `tocsin` links {lib}:\n{resident}");
    }
    // The check can fail: the window binary, built in the same workspace, links them.
    let window = ldd(&app::window_binary());
    assert!(window.contains("libwebkit2gtk") && window.contains("libgtk-3"), "{window}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_cli_acts_on_the_running_tocsin_at_once() {
    let s = setup().await;
    let (status, _, err) = s.cli(&["status"]);
    assert!(!status.success(), "no Tocsin running yet");
    assert!(err.contains("Tocsin is not running"), "{err}");

    let mut app = s.spawn();
    s.running(&mut app).await;
    let (status, out, err) = s.cli(&["status", "--json"]);
    assert!(status.success(), "{err}");
    let snap: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(snap["accounts"][0]["account"], "ops");
    assert_eq!(snap["accounts"][0]["state"]["state"], "subscribed", "{snap}");
    assert_eq!(snap["paused"], false);

    let (status, out, err) = s.cli(&["pause", "1h"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("paused until"), "{out}");
    let (_, out, _) = s.cli(&["status", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["paused"], true);
    let (status, out, _) = s.cli(&["resume"]);
    assert!(status.success() && !out.contains("paused"), "{out}");
    let (status, _, err) = s.cli(&["pause", "2h"]);
    assert!(!status.success() && err.contains("1h, tomorrow or forever"), "{err}");

    // Rules imported while running apply to the next event, and the CLI says so.
    let rules = s.dir.path().join("rules.toml");
    std::fs::write(&rules, "[[rules]]\nname = \"Deploys\"\nwhen = { subject_contains = [\"deploy\"] }\nthen = { tier = \"urgent\" }\n").unwrap();
    let (status, out, err) = s.cli(&["rules", "import", rules.to_str().unwrap()]);
    assert!(status.success(), "{err}");
    assert!(out.contains("the running Tocsin uses them now"), "{out}");
    s.emu.daimon().publish(mail("r1", "deploy finished"));
    let unread = wait_for("the deploy mail to be counted urgent", Duration::from_secs(20), || async {
        let (_, out, _) = s.cli(&["status", "--json"]);
        let n = serde_json::from_str::<Value>(&out).ok()?["unreadUrgent"].as_u64()?;
        (n == 1).then_some(n)
    })
    .await;
    assert_eq!(unread, 1);
    // A refused import names the rule's field and changes nothing.
    std::fs::write(&rules, "[[rules]]\nname = \"Bad\"\nwhen = { subject_regex = \"(open\" }\nthen = { tier = \"urgent\" }\n").unwrap();
    let (status, _, err) = s.cli(&["rules", "import", rules.to_str().unwrap()]);
    assert!(!status.success() && err.contains("subject_regex"), "{err}");

    // An account added from the CLI is used at once (the resident restarts on the file).
    let url = s.emu.daimon_url();
    let (status, out, err) = s.cli(&["account", "add", "ops2", "--provider", "daimon", "--url", url.as_str()]);
    assert!(status.success(), "{err}");
    assert!(out.contains("the running Tocsin uses it now"), "{out}");
    let (_, out, _) = s.cli(&["status", "--json"]);
    let accounts: Vec<String> = serde_json::from_str::<Value>(&out).unwrap()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(accounts, ["ops", "ops2"]);
    let (status, out, err) = s.cli(&["account", "remove", "ops2", "--keep-key"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("the running Tocsin uses it now"), "{out}");

    // Reconnect drops and reopens the connection.
    let before = s.emu.daimon().total_connections();
    let (status, _, err) = s.cli(&["reconnect"]);
    assert!(status.success(), "{err}");
    wait_for("a new connection", Duration::from_secs(20), || async { (s.emu.daimon().total_connections() > before).then_some(()) }).await;

    // Quit stops it cleanly; the socket goes with it.
    let (status, out, err) = s.cli(&["quit"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("stopped"), "{out}");
    assert!(app.wait_exit(Duration::from_secs(20)).await.success(), "{}", app.log());
    assert!(!s.socket().exists(), "the socket is removed at exit");
    assert!(!app.log().contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_private_stale_ones_are_replaced_and_a_second_resident_refused() {
    let s = setup().await;
    let mut app = s.spawn();
    s.running(&mut app).await;
    let dir_mode = std::fs::metadata(s.dir.path().join("run")).unwrap().permissions().mode() & 0o777;
    let sock_mode = std::fs::metadata(s.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!((dir_mode, sock_mode), (0o700, 0o600));

    // A second headless resident on the same socket refuses to run a second engine.
    let mut second = s.spawn();
    let status = second.wait_exit(Duration::from_secs(20)).await;
    assert!(!status.success());
    assert!(second.log().contains("another Tocsin is already running"), "{}", second.log());
    assert!(app.running());

    // Killed without cleaning up: its socket file stays, and the next start replaces it.
    app.signal("KILL");
    app.wait_exit(Duration::from_secs(10)).await;
    assert!(s.socket().exists(), "SIGKILL leaves the socket file behind");
    let mut third = s.spawn();
    third.wait_for_log("tocsin running", Duration::from_secs(30)).await;
    let (status, out, err) = s.cli(&["status"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("ops (daimon)") || out.contains("ops"), "{out}");
    third.signal("TERM");
    assert!(third.wait_exit(Duration::from_secs(20)).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_another_version_get_a_typed_refusal() {
    let s = setup().await;
    let mut app = s.spawn();
    s.running(&mut app).await;
    let refused = tocsin_control::Client::connect_with_protocol(&s.socket(), Role::Window, tocsin_control::PROTOCOL + 1)
        .await
        .expect_err("a newer window is refused");
    assert_eq!(refused.code, ErrorCode::VersionMismatch);
    assert_eq!(refused.field.as_deref(), Some("protocol"));
    assert!(refused.message.contains("restart Tocsin"), "{}", refused.message);
    let older = tocsin_control::Client::connect_with_protocol(&s.socket(), Role::Cli, tocsin_control::PROTOCOL - 1)
        .await
        .expect_err("an older client is refused");
    assert_eq!((older.code, older.field.as_deref()), (ErrorCode::VersionMismatch, Some("protocol")), "{older:?}");
    // The right version works, and the error of a bad request names its field.
    let (client, welcome) = Client::connect(&s.socket(), Role::Cli).await.unwrap();
    assert_eq!(welcome.pid, app.pid());
    let e = client.call::<()>(Request::RulesSet { toml: "[[rules]]\nname = \"x\"\nwhen = { subject_regex = \"(\" }\nthen = { tier = \"urgent\" }\n".into() }).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert_eq!(e.field.as_deref(), Some("rules[1].subject_regex"));
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(20)).await.success());
}

/// Another user's process is refused by the peer check (SO_PEERCRED), not only by
/// the file modes: the resident runs as `nobody` and this test, as root, can open
/// its socket file but must be turned away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_process_is_refused() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!("this test needs root (CI runs as root) to start the resident as another user");
    }
    let s = setup().await;
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("a nobody user");
    for d in ["data", "run", "config"] {
        std::fs::create_dir_all(s.dir.path().join(d)).unwrap();
    }
    let chown = |p: &Path| nix::unistd::chown(p, Some(nobody.uid), Some(nobody.gid)).unwrap();
    chown(s.dir.path());
    for d in ["data", "run", "config", "config/config.toml"] {
        chown(&s.dir.path().join(d));
    }
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(s.dir.path().join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut args: Vec<String> = vec![
        format!("--reuid={}", nobody.uid),
        format!("--regid={}", nobody.gid),
        "--clear-groups".into(),
        app::binary().display().to_string(),
        "run".into(),
        "--headless".into(),
    ];
    args.shrink_to_fit();
    let env = s.env();
    let mut refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    refs.push(("HOME", "/tmp"));
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut resident = AppProcess::spawn_binary(Path::new("/usr/bin/setpriv"), &arg_refs, &refs);
    resident.wait_for_log("tocsin running", Duration::from_secs(30)).await;
    let refused = Client::connect(&s.socket(), Role::Cli).await.expect_err("root is another user here");
    assert_eq!(refused.code, ErrorCode::Forbidden, "{refused:?}");
    resident.signal("TERM");
    resident.wait_exit(Duration::from_secs(20)).await;
}
