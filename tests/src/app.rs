//! The real `tocsin` binary as a child process.
//!
//! [`binary`] finds it (`TOCSIN_BIN`, else `<workspace>/target/debug/tocsin`, or under
//! `CARGO_TARGET_DIR`); it is never built from here: run `cargo build --workspace`
//! first (scripts/test.sh does). [`AppProcess`] captures stdout and stderr into a log
//! file in a temporary directory, prints the log's path when spawned, and when the
//! test panics prints the log's tail and copies it to [`crate::artifacts_dir`]. It
//! sends real signals (`SIGTERM`, `SIGINT`) and is killed on drop.
//!
//! GUI tests call [`require_display`] first: outside the CI wrapper (no `DISPLAY`)
//! they fail with a message that says to run them under `scripts/test.sh`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

pub use nix::sys::signal::Signal;

/// The built binary: `TOCSIN_BIN`, else `target/debug/tocsin` in the workspace.
/// Panics with a clear message if it is missing.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOCSIN_BIN") {
        let p = PathBuf::from(p);
        assert!(p.exists(), "TOCSIN_BIN={} does not exist", p.display());
        return p;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { crate::workspace_dir().join(t) })
        .unwrap_or_else(|| crate::workspace_dir().join("target"));
    let p = target.join("debug").join("tocsin");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` first (scripts/test.sh does), or set TOCSIN_BIN",
        p.display()
    );
    p
}

/// The built window binary, `tocsin-window`, beside [`binary`] (`TOCSIN_WINDOW_BIN`
/// overrides it).
pub fn window_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOCSIN_WINDOW_BIN") {
        return PathBuf::from(p);
    }
    let p = binary().with_file_name("tocsin-window");
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` first (scripts/test.sh does)", p.display());
    p
}

/// Whether an X display is available (`DISPLAY` set and non-empty).
pub fn display_available() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
}

/// Panics with a clear message unless an X display is available. GUI tests must
/// not pass silently outside the wrapper that provides Xvfb.
pub fn require_display() {
    assert!(
        display_available(),
        "this test needs an X display (it opens the real app window or tray): run it under scripts/test.sh, \
         which wraps the tests in Xvfb, a private session bus and a keyring"
    );
}

/// Runs `tocsin ARGS` to completion (stdin closed) and returns (status, stdout, stderr).
///
/// Unless `envs` sets `TOCSIN_RUNTIME_DIR`, it runs with an empty one of its own,
/// so it never finds another test's running Tocsin.
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let own_runtime = tempfile::Builder::new().prefix("tocsin-run-").tempdir().expect("tempdir");
    let mut command = Command::new(binary());
    if !envs.iter().any(|(k, _)| *k == "TOCSIN_RUNTIME_DIR") {
        command.env("TOCSIN_RUNTIME_DIR", own_runtime.path().join("run"));
    }
    let out = command
        .args(args)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run tocsin");
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A signal for [`AppProcess::signal`]: a [`Signal`], or a name such as `"TERM"`,
/// `"SIGINT"`, `"KILL"`.
pub trait IntoSignal {
    fn into_signal(self) -> Signal;
}

impl IntoSignal for Signal {
    fn into_signal(self) -> Signal {
        self
    }
}

impl IntoSignal for &str {
    fn into_signal(self) -> Signal {
        let upper = self.to_ascii_uppercase();
        let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
        full.parse().unwrap_or_else(|_| panic!("unknown signal {self:?}"))
    }
}

/// A running `tocsin` process. Killed (SIGKILL) on drop; when the test panicked its
/// log's tail is printed and the whole log is copied to the artifacts directory.
pub struct AppProcess {
    child: Option<Child>,
    log: PathBuf,
    dir: tempfile::TempDir,
    status: Option<ExitStatus>,
}

impl AppProcess {
    /// Spawns `tocsin ARGS` with extra environment `envs` (added to this process's
    /// environment; pass `("DISPLAY", "")` and the like to blank a variable).
    /// Unless `envs` sets `TOCSIN_RUNTIME_DIR` (where the control socket lives),
    /// the process gets one of its own ([`AppProcess::runtime_dir`]).
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> AppProcess {
        Self::spawn_binary(&binary(), args, envs)
    }

    /// Like [`AppProcess::spawn`] with an explicit binary (used by the harness self-test).
    pub fn spawn_binary(bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> AppProcess {
        let dir = tempfile::Builder::new().prefix("tocsin-app-").tempdir().expect("tempdir");
        let log = dir.path().join("tocsin.log");
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(bin);
        if !envs.iter().any(|(k, _)| *k == "TOCSIN_RUNTIME_DIR") {
            command.env("TOCSIN_RUNTIME_DIR", dir.path().join("run"));
        }
        let child = command
            .args(args)
            .envs(envs.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup the log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", bin.display()));
        eprintln!("spawned {} {} (pid {}), log: {}", bin.display(), args.join(" "), child.id(), log.display());
        AppProcess { child: Some(child), log, dir, status: None }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("spawned").id()
    }

    /// Everything the process wrote so far (ANSI colours stripped).
    pub fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The control socket's directory this process was given by default (unused
    /// when the caller set `TOCSIN_RUNTIME_DIR`).
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A scratch directory that lives as long as the process (for config/data dirs).
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until the log contains `needle` and returns the whole log.
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            if !self.running() {
                panic!("tocsin exited ({:?}) before logging {needle:?}; log:\n{log}", self.status);
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("tocsin did not log {needle:?} within {timeout:?}; log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a signal: `app.signal(Signal::SIGTERM)` or `app.signal("TERM")`.
    pub fn signal(&self, sig: impl IntoSignal) {
        let sig = sig.into_signal();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid()).expect("pid fits in i32"));
        nix::sys::signal::kill(pid, sig).unwrap_or_else(|e| panic!("kill -{sig} {pid}: {e}"));
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.try_status().is_none()
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(child) = self.child.as_mut() {
                self.status = child.try_wait().expect("try_wait");
            }
        }
        self.status
    }

    /// Waits for the process to exit; panics (with the log) after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return status;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("tocsin did not exit within {timeout:?}; log tail:\n{}", self.log_tail(80));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends `sig` and waits for the exit.
    pub async fn stop(&mut self, sig: impl IntoSignal, timeout: Duration) -> ExitStatus {
        self.signal(sig);
        self.wait_exit(timeout).await
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.status.is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let kept = crate::artifacts_dir_no_panic()
                .map(|d| d.join(format!("tocsin-{}-{}.log", std::process::id(), self.dir_tag())))
                .filter(|dest| std::fs::copy(&self.log, dest).is_ok());
            eprintln!(
                "---- tocsin log tail ({}{}) ----\n{}\n---- end of log ----",
                self.log.display(),
                kept.map(|k| format!(", copied to {}", k.display())).unwrap_or_default(),
                self.log_tail(120)
            );
        }
    }
}

impl AppProcess {
    fn dir_tag(&self) -> String {
        self.dir.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// Removes ANSI escape sequences.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The app as a user has it: the resident `tocsin --minimized ARGS` (its log in an
/// [`AppProcess`]) and its history window, the `tocsin-window` process, launched
/// through WebKitWebDriver so the test can drive it. Both get `envs` and the
/// resident's control-socket directory; the window is launched once the resident
/// listens. The window is then the one the resident focuses for notifications.
/// It runs with WebKit's compositing on, as screenshots need.
pub async fn resident_with_window(
    driver: &crate::webdriver::WebDriver,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (AppProcess, crate::webdriver::Session) {
    let mut all: Vec<&str> = vec!["--minimized"];
    all.extend_from_slice(args);
    let mut resident = AppProcess::spawn(&all, envs);
    resident.wait_for_log("tocsin running", Duration::from_secs(60)).await;
    let runtime = envs
        .iter()
        .find(|(k, _)| *k == "TOCSIN_RUNTIME_DIR")
        .map(|(_, v)| (*v).to_owned())
        .unwrap_or_else(|| resident.runtime_dir().display().to_string());
    let mut window_env: Vec<(&str, &str)> = envs.to_vec();
    window_env.retain(|(k, _)| *k != "TOCSIN_RUNTIME_DIR" && *k != "WEBKIT_DISABLE_COMPOSITING_MODE");
    window_env.push(("TOCSIN_RUNTIME_DIR", runtime.as_str()));
    // The window turns WebKit's compositing off (it saves ~110 MB); WebKitWebDriver's
    // screenshots need it on, so windows driven with this helper have it back.
    // (gui_split drives one window with the shipped default, without screenshots.)
    window_env.push(("WEBKIT_DISABLE_COMPOSITING_MODE", "0"));
    let session = driver.new_session_with_env(&window_binary(), &[], &window_env).await;
    (resident, session)
}

/// Processes whose parent is `parent` and whose program's file name is `name`, with
/// their arguments (from `/proc`): for example the `tocsin-window` the resident
/// started, and the event it was asked to show (`--focus ID`).
pub fn children_named(parent: u32, name: &str) -> Vec<(u32, Vec<String>)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
            let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<String> =
                cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            let program = Path::new(args.first()?).file_name()?.to_str()?.to_owned();
            (ppid == parent && program == name).then_some((pid, args))
        })
        .collect()
}

/// Sends SIGKILL to `pid` (a process the test's app started), ignoring a gone one.
pub fn kill_pid(pid: u32) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), Signal::SIGKILL);
    }
}
