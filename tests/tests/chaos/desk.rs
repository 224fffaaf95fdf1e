//! The real `tocsin run --headless` binary for the chaos tests: accounts against
//! the emulator (or any URL), rules and attention settings imported with the CLI,
//! a private session bus with a recording notification server, the live status
//! over the control socket, and the history exported as JSON Lines.

use std::time::Duration;

use serde_json::Value;
use tocsin_e2e::app::{self, AppProcess};
use tocsin_e2e::bus::PrivateBus;
use tocsin_e2e::notifications::RecordingNotificationServer;
use tocsin_emulator::{Emulator, EmulatorConfig};

use crate::common::*;

pub const KEY: &str = "k_chaos_desk_0123456789";

pub struct Desk {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub bus: PrivateBus,
    pub notes: RecordingNotificationServer,
    /// `(account, key)` for every account.
    keys: Vec<(String, String)>,
}

impl Desk {
    /// The emulator, and `accounts`: `[[accounts]]` TOML for each, built from the emulator.
    pub async fn start(accounts: impl FnOnce(&Emulator) -> Vec<(String, String)>) -> Desk {
        let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![KEY.into()], ..Default::default() })
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let list = accounts(&emu);
        let toml: String = list.iter().map(|(_, t)| t.as_str()).collect();
        std::fs::write(dir.path().join("config/config.toml"), toml).unwrap();
        let keys = list.iter().map(|(a, _)| (key_var(a), KEY.to_owned())).collect();
        let bus = PrivateBus::start();
        let notes = RecordingNotificationServer::start(&bus).await;
        let desk = Desk { emu, dir, bus, notes, keys };
        std::fs::write(desk.path("rules.toml"), RULES).unwrap();
        std::fs::write(desk.path("attention.toml"), "coalesce_max = 100\ncoalesce_window_secs = 1\n").unwrap();
        for (what, file) in [("rules", "rules.toml"), ("attention", "attention.toml")] {
            let (status, _, err) = desk.cli(&[what, "import", &desk.path(file)]);
            assert!(status.success(), "{what} import: {err}");
        }
        desk
    }

    pub fn path(&self, p: &str) -> String {
        self.dir.path().join(p).display().to_string()
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.keys.clone();
        env.extend([
            ("TOCSIN_CONFIG_DIR".into(), self.path("config")),
            ("TOCSIN_DATA_DIR".into(), self.path("data")),
            ("TOCSIN_RUNTIME_DIR".into(), self.path("run")),
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus.address().to_owned()),
            ("DISPLAY".into(), String::new()),
            ("TOCSIN_LOG".into(), String::new()),
        ]);
        env
    }

    /// `tocsin ARGS` against this desk's directories, to completion.
    pub fn cli(&self, args: &[&str]) -> (std::process::ExitStatus, String, String) {
        let env = self.env();
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        app::run(args, &refs)
    }

    /// `tocsin run --headless` with `extra` environment.
    pub fn spawn(&self, extra: &[(&str, &str)]) -> AppProcess {
        let mut env = self.env();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        AppProcess::spawn(&["run", "--headless"], &refs)
    }

    /// The running Tocsin's status (`tocsin status --json`), if it answers.
    pub fn status(&self) -> Option<Value> {
        let (status, out, _) = self.cli(&["status", "--json"]);
        if !status.success() {
            return None;
        }
        serde_json::from_str(&out).ok()
    }

    /// Waits until every account of the running Tocsin is subscribed.
    pub async fn wait_subscribed(&self, app: &mut AppProcess) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            assert!(app.running(), "tocsin exited; log:\n{}", app.log_tail(40));
            if let Some(s) = self.status() {
                let accounts = s["accounts"].as_array().cloned().unwrap_or_default();
                if !accounts.is_empty() && accounts.iter().all(|a| a["state"]["state"] == "subscribed") {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "not every account subscribed in 60 s: {:?}", self.status());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every stored event, oldest first (`tocsin history export --format jsonl`).
    pub fn export(&self) -> Vec<Value> {
        self.export_args(&[])
    }

    /// The export with filters (`--account A`, ...).
    pub fn export_args(&self, filters: &[&str]) -> Vec<Value> {
        let mut args = vec!["history", "export", "--format", "jsonl"];
        args.extend_from_slice(filters);
        let (status, out, err) = self.cli(&args);
        assert!(status.success(), "history export: {err}");
        out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }

/// The newest stored event of `account` (`tocsin history list --account A --limit 1`).
    pub fn newest(&self, account: &str) -> Option<Value> {
        let (status, out, _) = self.cli(&["history", "list", "--json", "--limit", "1", "--account", account]);
        if !status.success() {
            return None;
        }
        serde_json::from_str::<Vec<Value>>(&out).ok()?.into_iter().next()
    }
}

fn key_var(account: &str) -> String {
    let mut var = String::from("TOCSIN_KEY_");
    var.extend(account.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }));
    var
}

/// What the export holds for `account`.
pub fn counted(rows: &[Value], account: &str) -> Counted {
    let mut out = Counted::default();
    for r in rows.iter().filter(|r| r["account"] == account) {
        out.rows += 1;
        if r["kind"] == "gap" {
            let from = r["raw"]["from_ms"].as_i64().unwrap_or(i64::MIN);
            let to = r["raw"]["to_ms"].as_i64().unwrap_or(i64::MAX);
            out.gaps.push((from, to));
            continue;
        }
        let seq = [r["subject"].as_str(), r["text"].as_str()].into_iter().flatten().find_map(seq_of);
        if let Some(seq) = seq {
            out.received.push((r["receivedAtMs"].as_i64().unwrap_or(0), seq));
            *out.per_seq.entry(seq).or_default() += 1;
        }
    }
    out
}
