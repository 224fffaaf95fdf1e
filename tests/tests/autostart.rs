//! Start at login, end to end: the real `tocsin` (a headless demo resident and
//! the CLI) on a temporary XDG config home, with a temporary data dir standing in
//! for /usr/share (its applications/tocsin.desktop, as the package installs it)
//! and a PATH directory holding `tocsin`. The CLI's `tocsin autostart on|off` and
//! the resident's `autostart_get`/`autostart_set` (what the window calls) read
//! and write the one entry on disk, so each sees the other's change at once.

use std::path::Path;
use std::time::Duration;

use tocsin_control::{Client, Request, Role};
use tocsin_e2e::app::{self, AppProcess};

const INSTALLED: &str = "[Desktop Entry]\nType=Application\nName=Tocsin\nComment=Alerts\nExec=tocsin\nIcon=tocsin\nTerminal=false\nCategories=Network;Email;\n";

struct Desk {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Desk {
    fn new(installed: bool) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let p = |s: &str| dir.path().join(s).display().to_string();
        std::fs::create_dir_all(dir.path().join("share/applications")).unwrap();
        if installed {
            std::fs::write(dir.path().join("share/applications/tocsin.desktop"), INSTALLED).unwrap();
        }
        // `tocsin` on PATH, as /usr/bin/tocsin is for the package.
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(app::binary(), dir.path().join("bin/tocsin")).unwrap();
        let path = format!("{}:{}", p("bin"), std::env::var("PATH").unwrap_or_default());
        let env = vec![
            ("HOME".into(), p("home")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("XDG_DATA_HOME".into(), p("data-home")),
            ("XDG_DATA_DIRS".into(), p("share")),
            ("PATH".into(), path),
            ("TOCSIN_CONFIG_DIR".into(), p("tocsin-config")),
            ("TOCSIN_DATA_DIR".into(), p("tocsin-data")),
            ("TOCSIN_RUNTIME_DIR".into(), p("run")),
            ("DBUS_SESSION_BUS_ADDRESS".into(), "unix:path=/nonexistent/tocsin-test-bus".into()),
            ("DISPLAY".into(), String::new()),
        ];
        Desk { dir, env }
    }

    fn refs(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn cli(&self, args: &[&str]) -> String {
        let (status, out, err) = app::run(args, &self.refs());
        assert!(status.success(), "tocsin {args:?}: {status}\n{out}\n{err}");
        out
    }

    fn entry(&self) -> std::path::PathBuf {
        self.dir.path().join("config/autostart/tocsin.desktop")
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.cli(&["autostart", "status", "--json"])).unwrap()
    }
}

async fn connect(socket: &Path, app: &mut AppProcess) -> Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((client, _)) = Client::connect(socket, Role::Cli).await {
            return client;
        }
        assert!(app.running(), "tocsin exited before its control socket answered:\n{}", app.log());
        assert!(tokio::time::Instant::now() < deadline, "no control socket within 30 s:\n{}", app.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_running_tocsin_share_the_entry_made_from_the_installed_desktop_file() {
    let desk = Desk::new(true);
    let mut app = AppProcess::spawn(&["--demo", "run", "--headless"], &desk.refs());
    let client = connect(&desk.dir.path().join("run/control.sock"), &mut app).await;

    assert!(!client.call::<bool>(Request::AutostartGet).await.unwrap());
    assert_eq!(desk.status()["enabled"], false);

    // On from the CLI: the entry is the installed one, Exec the `tocsin` found on PATH.
    let out = desk.cli(&["autostart", "on"]);
    assert!(out.starts_with("on: "), "{out}");
    let text = std::fs::read_to_string(desk.entry()).unwrap();
    let want = format!("Exec={} --minimized\n", desk.dir.path().join("bin/tocsin").display());
    assert!(text.contains(&want), "{text}");
    assert!(text.contains("Icon=tocsin\n") && text.contains("Categories=Network;Email;\n") && text.contains("X-GNOME-Autostart-enabled=true\n"), "{text}");
    // The running Tocsin (the window's view) sees it at once.
    assert!(client.call::<bool>(Request::AutostartGet).await.unwrap());

    // Off through the running Tocsin (the window's switch): the file goes, and the CLI says off.
    assert!(!client.call::<bool>(Request::AutostartSet { enabled: false }).await.unwrap());
    assert!(!desk.entry().exists());
    assert_eq!(desk.status()["enabled"], false);

    // A desktop's own settings switching it off are read as off by both.
    assert!(client.call::<bool>(Request::AutostartSet { enabled: true }).await.unwrap());
    assert_eq!(desk.status()["enabled"], true);
    let text = std::fs::read_to_string(desk.entry()).unwrap();
    std::fs::write(desk.entry(), text.replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false")).unwrap();
    assert!(!client.call::<bool>(Request::AutostartGet).await.unwrap());
    assert_eq!(desk.status()["enabled"], false);
    app.signal("TERM");
}

#[test]
fn not_installed_the_entry_runs_the_program_it_was_turned_on_from() {
    let desk = Desk::new(false);
    let out = desk.cli(&["autostart", "on"]);
    assert!(out.contains("not installed"), "{out}");
    let st = desk.status();
    assert_eq!(st["enabled"], true);
    assert_eq!(st["installed_entry"], serde_json::Value::Null);
    let exe = app::binary().canonicalize().unwrap();
    let exec = st["exec"].as_str().unwrap();
    assert!(exec.ends_with(" --minimized") && exec.trim_matches('"').starts_with(&exe.display().to_string()), "{exec} runs {}", exe.display());
    desk.cli(&["autostart", "off"]);
    assert!(!desk.entry().exists());
}
