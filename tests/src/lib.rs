//! Test harness for Tocsin's end-to-end tests: the real `tocsin` binary, a private
//! D-Bus session bus per test, a recording notification server, a tray host
//! (StatusNotifierWatcher) that reads and clicks the tray menu over D-Bus, and a
//! WebDriver client for the real WebKit window.
//!
//! Nothing here fakes the app: each helper is a real peer the app talks to.
//!
//! - [`app`]: find and spawn the binary, logs, signals, `require_display`.
//! - [`bus`]: a private `dbus-daemon` with no service activation.
//! - [`desk`]: one daimon account against the emulator, and the environment for it.
//! - [`notifications`]: `org.freedesktop.Notifications` that records every `Notify`.
//! - [`servers`]: real notification servers (dunst, xfce4-notifyd, notification-daemon);
//!   [`monitor`]: a bus monitor, the witness of what they received and emitted.
//! - [`panel`]: a real tray host, xfce4-panel's notification area (on [`xfconf`]'s daemon).
//! - [`x11`]: windows, clicks, keys and screenshots on the Xvfb display.
//! - [`tray`]: `org.kde.StatusNotifierWatcher` + StatusNotifierItem/dbusmenu reader.
//! - [`webdriver`]: `WebKitWebDriver` and a minimal W3C WebDriver client.
//! - [`xss`]: a public XSS corpus, in-page execution sentinels and a loopback canary.
//!
//! GUI tests need Xvfb and the other daemons that `scripts/test.sh` provides; run
//! outside it they fail with a message saying so (they never pass silently).

pub mod app;
pub mod bus;
pub mod desk;
pub mod monitor;
pub mod notifications;
pub mod panel;
pub mod servers;
pub mod tray;
pub mod webdriver;
pub mod x11;
pub mod xfconf;
pub mod xss;

use std::path::PathBuf;
use std::time::Duration;

pub use app::{display_available, require_display, AppProcess};
pub use bus::PrivateBus;
pub use notifications::RecordingNotificationServer;
pub use tray::StatusNotifierWatcher;
pub use webdriver::WebDriver;

/// The workspace root (`CARGO_MANIFEST_DIR/..`).
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Where screenshots and logs worth keeping go: `TOCSIN_ARTIFACTS`, else
/// `<workspace>/artifacts`. Created if missing.
pub fn artifacts_dir() -> PathBuf {
    artifacts_dir_no_panic().expect("create the artifacts directory")
}

pub(crate) fn artifacts_dir_no_panic() -> Option<PathBuf> {
    let dir = std::env::var_os("TOCSIN_ARTIFACTS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("artifacts"));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Polls `f` every 25 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
