//! The real `tocsin` binary as a child process, with its output in a log file that
//! is printed when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// The built binary: `TOCSIN_BIN`, else `target/debug/tocsin` in the workspace.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOCSIN_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_dir().join("target"));
    let p = target.join("debug").join("tocsin");
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` first (scripts/test.sh does)", p.display());
    p
}

/// Runs `tocsin ARGS` to completion and returns (status, stdout, stderr).
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let out = Command::new(binary()).args(args).envs(envs.iter().copied()).output().expect("run tocsin");
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A running `tocsin` process. Killed on drop; its log is printed if the test panicked.
pub struct AppProcess {
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl AppProcess {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> AppProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("tocsin.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary())
            .args(args)
            .envs(envs.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("spawn tocsin");
        AppProcess { child: Some(child), log, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Everything the process wrote so far (ANSI colours stripped).
    pub fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().expect("spawned").try_wait(), Ok(None))
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.as_mut().expect("spawned").try_wait().expect("wait") {
                return status;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("tocsin did not exit within {timeout:?}; log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- tocsin log ({}) ----\n{}\n---- end of log ----", self.log.display(), self.log());
        }
    }
}

fn strip_ansi(s: &str) -> String {
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
