//! The test's X display (Xvfb under scripts/test.sh) as a user sees it: windows by
//! name with their geometry (`xdotool search`), mouse clicks and keys (`xdotool`),
//! screenshots (`import -window root`) and their pixels (`convert … rgb:-`).
//!
//! Tests that click or read the screen hold [`exclusive`] for their whole run: the
//! tests of one binary run in parallel threads and share the display.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// One visible top-level window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub id: u64,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

impl Window {
    /// A point `dx` from the left (negative: from the right) and `dy` from the top
    /// (negative: from the bottom).
    pub fn point(&self, dx: i32, dy: i32) -> (i32, i32) {
        let x = if dx < 0 { self.x + self.width + dx } else { self.x + dx };
        let y = if dy < 0 { self.y + self.height + dy } else { self.y + dy };
        (x, y)
    }
}

/// Holds the display for one test (released when dropped).
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(())).lock().await
}

fn xdotool(args: &[&str]) -> String {
    let out = Command::new("xdotool")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xdotool ({e}): install it (scripts/setup.sh --test does)"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Visible windows whose name matches the regular expression `name`.
pub fn windows_named(name: &str) -> Vec<Window> {
    windows(&["search", "--onlyvisible", "--name", name])
}

/// Visible windows of the process `pid`.
pub fn windows_of_pid(pid: u32) -> Vec<Window> {
    windows(&["search", "--onlyvisible", "--pid", &pid.to_string()])
}

fn windows(search: &[&str]) -> Vec<Window> {
    xdotool(search)
        .lines()
        .filter_map(|id| {
            let shell = xdotool(&["getwindowgeometry", "--shell", id.trim()]);
            let field = |k: &str| shell.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).and_then(|v| v.trim().parse::<i64>().ok());
            Some(Window {
                id: field("WINDOW")? as u64,
                x: field("X")? as i32,
                y: field("Y")? as i32,
                width: field("WIDTH")? as i32,
                height: field("HEIGHT")? as i32,
            })
        })
        .filter(|w| w.width > 1 && w.height > 1)
        .collect()
}

/// Waits for exactly one visible window named `name` and returns it.
pub async fn wait_for_window(name: &str, timeout: Duration) -> Window {
    crate::wait_for(&format!("one visible window named {name:?}"), timeout, || async {
        let w = windows_named(name);
        (w.len() == 1).then(|| w[0])
    })
    .await
}

/// Moves the pointer to (x, y) and clicks `button` (1 left, 2 middle, 3 right).
pub fn click(x: i32, y: i32, button: u8) {
    xdotool(&["mousemove", "--sync", &x.to_string(), &y.to_string()]);
    xdotool(&["click", &button.to_string()]);
}

/// Presses keys in order (`"Down"`, `"Return"`, ...), with xdotool's default delay.
pub fn keys(keys: &[&str]) {
    let mut args = vec!["key"];
    args.extend_from_slice(keys);
    xdotool(&args);
}

/// A screenshot of the whole screen to `path` (PNG).
pub fn screenshot(path: &Path) {
    let status = Command::new("import").args(["-window", "root"]).arg(path).status().expect("run import (imagemagick)");
    assert!(status.success(), "import -window root {} failed", path.display());
}

/// A screenshot into the artifacts directory, named `name.png`; returns its path.
pub fn screenshot_artifact(name: &str) -> std::path::PathBuf {
    let path = crate::artifacts_dir().join(format!("{name}.png"));
    screenshot(&path);
    path
}

/// RGB pixels of the rectangle (x, y, w, h) of a screenshot, row by row.
pub fn pixels(shot: &Path, (x, y, w, h): (i32, i32, i32, i32)) -> Vec<[u8; 3]> {
    let out = Command::new("convert")
        .arg(shot)
        .args(["-crop", &format!("{w}x{h}+{x}+{y}"), "+repage", "-depth", "8", "rgb:-"])
        .output()
        .expect("run convert (imagemagick)");
    assert!(out.status.success(), "convert failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect()
}

/// Whether two colours are within `tolerance` on every channel.
pub fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}
