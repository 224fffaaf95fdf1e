//! Test harness for Tocsin's end-to-end tests: the real `tocsin` binary, a private
//! D-Bus session bus per test, a recording notification server, a tray host
//! (StatusNotifierWatcher) that reads and clicks the tray menu, and a WebDriver
//! client for the real WebKit window.
//!
//! Nothing here fakes the app: each helper is a real peer the app talks to.
//!
//! Layout: `app.rs` (spawn the binary), `bus.rs` (private dbus-daemon),
//! `notifications.rs`, `tray.rs`, `webdriver.rs`.

pub mod app;
pub mod bus;
pub mod notifications;
pub mod tray;
pub mod webdriver;

use std::path::PathBuf;
use std::time::Duration;

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Where screenshots and logs worth keeping go (`TOCSIN_ARTIFACTS` or `./artifacts`).
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("TOCSIN_ARTIFACTS").map(PathBuf::from).unwrap_or_else(|| workspace_dir().join("artifacts"));
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
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

/// Panics with a clear message unless an X display is available (GUI tests run
/// under `scripts/test.sh`, which provides Xvfb).
pub fn require_display() {
    if std::env::var_os("DISPLAY").is_none() {
        panic!("this test opens the real app window and needs an X display: run it through scripts/test.sh (Xvfb)");
    }
}
