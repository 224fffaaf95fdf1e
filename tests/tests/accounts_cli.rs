//! The admin CLI end to end, once per Linux keychain backend (Secret Service and
//! kernel keyring): `tocsin account add|list|edit|remove` and `tocsin key
//! set|rotate|test|remove` against the emulator over a real socket, then a headless
//! run that reads its key from the keychain (in the URL's query, the worst case),
//! then a scan of every file the app wrote for the key's bytes.
//!
//! With `TOCSIN_REQUIRE_KEYCHAINS=1` (scripts/test-inner.sh sets it) a backend that
//! does not answer fails the test; elsewhere it is skipped with a message.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::app::{self, AppProcess};
use tocsin_e2e::wait_for;
use tocsin_emulator::{Emulator, EmulatorConfig};

const GOOD: &str = "dm_live_cli_GOOD_0123456789_k9Q7";
const NEWER: &str = "dm_live_cli_NEWER_9876543210_z3X1";
const BAD: &str = "dm_live_cli_WRONG_5555555555_b4D0";

struct Cli<'a> {
    dir: &'a Path,
    backend: &'a str,
}

impl Cli<'_> {
    fn envs(&self) -> Vec<(String, String)> {
        vec![
            ("TOCSIN_CONFIG_DIR".into(), self.dir.join("config").display().to_string()),
            ("TOCSIN_DATA_DIR".into(), self.dir.join("data").display().to_string()),
            ("XDG_STATE_HOME".into(), self.dir.join("state").display().to_string()),
            // Its own control socket, shared with the headless app it starts.
            ("TOCSIN_RUNTIME_DIR".into(), self.dir.join("run").display().to_string()),
            ("TOCSIN_KEYCHAIN".into(), self.backend.into()),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    /// Runs `tocsin ARGS` with `stdin` piped in; returns (ok, stdout, stderr).
    fn run(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = Command::new(app::binary())
            .args(args)
            .envs(self.envs())
            .env_remove("TOCSIN_KEY_OPS")
            .env_remove("TOCSIN_KEY_OPS2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let (o, e) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        (out.status.success(), o, e)
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let (ok, out, err) = self.run(args, stdin);
        assert!(ok, "tocsin {args:?} failed:\n{out}\n{err}");
        format!("{out}{err}")
    }

    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let (ok, out, err) = self.run(args, stdin);
        assert!(!ok, "tocsin {args:?} should have failed:\n{out}\n{err}");
        format!("{out}{err}")
    }

    fn list(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["account", "list", "--json"], "").lines().take_while(|l| !l.is_empty()).collect::<Vec<_>>().join("\n"))
            .unwrap()
    }
}

fn backend_answers(backend: &str) -> bool {
    let probe = format!("probe-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.toml"),
        format!("[[accounts]]\nname = \"{probe}\"\nprovider = \"daimon\"\nurl = \"ws://127.0.0.1:9/v1/stream\"\n"),
    )
    .unwrap();
    let cli = Cli { dir: dir.path(), backend };
    let (ok, _, err) = cli.run(&["key", "set", &probe], "probe-probe-probe\n");
    if ok {
        cli.run(&["key", "remove", &probe], "");
        return true;
    }
    let required = std::env::var("TOCSIN_REQUIRE_KEYCHAINS").is_ok_and(|v| v == "1");
    assert!(!required, "keychain backend {backend} does not answer: {err}");
    eprintln!("skipped: keychain backend {backend} does not answer here: {err}");
    false
}

/// Every file under `root` that contains `needle`.
fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    hits
}

async fn full_flow(backend: &str) {
    if !backend_answers(backend) {
        return;
    }
    let config = EmulatorConfig { keys: vec![GOOD.into(), NEWER.into()], ..EmulatorConfig::default() };
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli { dir: dir.path(), backend };
    let url = emu.daimon_url();
    // Names unique to this run: the keychain outlives the test.
    let ops = format!("ops-{}-{}", backend.replace('-', ""), std::process::id());
    let ops2 = format!("{ops}-renamed");
    let ops_upper = ops.to_uppercase();

    // Accounts: refusals name the field; nothing secret is accepted in the file.
    let e = cli.fails(&["account", "add", &ops, "--provider", "daimon", "--url", "https://x"], "");
    assert!(e.contains("url:"), "{e}");
    let e = cli.fails(&["account", "add", &ops, "--provider", "gmail", "--url", &url], "");
    assert!(e.contains("provider:"), "{e}");
    let e = cli.fails(&["account", "add", &ops, "--provider", "daimon", "--url", &format!("{url}?key={GOOD}")], "");
    assert!(e.contains("url:") && e.contains("must not contain a key"), "{e}");
    cli.ok(&["account", "add", &ops, "--provider", "daimon", "--url", &url, "--auth", "query", "--inbox", "inbox_ops"], "");
    let e = cli.fails(&["account", "add", &ops_upper, "--provider", "daimon", "--url", &url], "");
    assert!(e.contains("name:"), "{e}");
    let list = cli.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["account"]["name"], ops.as_str());
    assert_eq!(list[0]["key"]["state"], "missing");

    // A wrong key: stored, and the test says the server refused it.
    cli.ok(&["key", "set", &ops], &format!("{BAD}\n"));
    let e = cli.fails(&["key", "test", &ops], "");
    assert!(e.contains("key test failed"), "{e}");
    // Rotation to a good key is tested and kept.
    let out = cli.ok(&["key", "rotate", &ops], &format!("{GOOD}\n"));
    assert!(out.contains("rotated") && out.contains("…k9Q7"), "{out}");
    assert!(!out.contains(GOOD), "the key is never printed: {out}");
    cli.ok(&["key", "test", &ops], "");
    // Rotation to a refused key puts the old one back.
    let e = cli.fails(&["key", "rotate", &ops], &format!("{BAD}\n"));
    assert!(e.contains("old key is still in place"), "{e}");
    cli.ok(&["key", "test", &ops], "");
    let list = cli.list();
    assert_eq!(list[0]["key"]["state"], "stored");
    assert_eq!(list[0]["key"]["last4"], "k9Q7");
    let human = cli.ok(&["account", "list"], "");
    assert!(human.contains("…k9Q7") && !human.contains(GOOD), "{human}");

    // Rename: the key moves with the account; then rotate to the newer key.
    cli.ok(&["account", "edit", &ops, "--rename", &ops2, "--inbox", "inbox_ops", "--backoff-base-ms", "200"], "");
    cli.ok(&["key", "test", &ops2], "");
    assert!(cli.fails(&["key", "test", &ops], "").contains("no account is named"));
    cli.ok(&["key", "rotate", &ops2], &format!("{NEWER}\n"));

    // A headless run with the key from the keychain, sent in the URL's query.
    let envs: Vec<(String, String)> = cli.envs().into_iter().chain([("DISPLAY".into(), String::new())]).collect();
    let env_refs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut headless = AppProcess::spawn(&["run", "--headless"], &env_refs);
    // Subscribed as the running Tocsin reports it: the emulator's subscribe count
    // is no witness, since a key test's subscribe can reach it after the test ended.
    wait_for("the headless app to subscribe", Duration::from_secs(20), || async {
        let (ok, out, _) = cli.run(&["status", "--json"], "");
        let snap: serde_json::Value = serde_json::from_str(&out).ok().filter(|_| ok)?;
        (snap["accounts"][0]["state"]["state"] == "subscribed").then_some(())
    })
    .await;
    emu.daimon().publish(json!({"event_id": "evt_cli_1", "type": "message.received", "inbox_id": "inbox_ops",
        "payload": {"message": {"id": "msg_cli_1", "inbox_id": "inbox_ops", "from": "a@b.c", "subject": "Provisioned", "body": "ok"}}}));
    let history = wait_for("the event in the history", Duration::from_secs(20), || async {
        let (ok, out, _) = cli.run(&["history", "search", "provisioned", "--json"], "");
        (ok && out.contains("Provisioned")).then_some(out)
    })
    .await;
    assert!(history.contains("evt_cli_1") || history.contains("Provisioned"));
    headless.stop("TERM", Duration::from_secs(20)).await;

    // Remove the key, then the account.
    cli.ok(&["key", "remove", &ops2], "");
    assert_eq!(cli.list()[0]["key"]["state"], "missing");
    cli.ok(&["account", "remove", &ops2], "");
    assert!(cli.list().is_empty());

    // No file Tocsin wrote (config, database with its WAL, logs) holds any key.
    for key in [GOOD, NEWER, BAD] {
        let hits = files_containing(dir.path(), key.as_bytes());
        assert!(hits.is_empty(), "{key} found in {hits:?}");
    }
    let hits = files_containing(headless.scratch_dir(), GOOD.as_bytes());
    assert!(hits.is_empty(), "the app's own log holds a key: {hits:?}");
    let hits = files_containing(headless.scratch_dir(), NEWER.as_bytes());
    assert!(hits.is_empty(), "the app's own log holds a key: {hits:?}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cli_end_to_end_on_the_secret_service() {
    full_flow("secret-service").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cli_end_to_end_on_the_kernel_keyring() {
    full_flow("kernel").await;
}

/// A locked Secret Service is a clear state, not a fallback: `account list` says
/// "locked", and the app reports it and does not connect with anything else. Runs
/// its own gnome-keyring on a private bus, so locking it disturbs no other test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_keychain_is_a_clear_state() {
    use tocsin_e2e::bus::PrivateBus;
    if Command::new("gnome-keyring-daemon").arg("--version").output().is_err() {
        let required = std::env::var("TOCSIN_REQUIRE_KEYCHAINS").is_ok_and(|v| v == "1");
        assert!(!required, "gnome-keyring-daemon is not installed");
        eprintln!("skipped: gnome-keyring-daemon is not installed");
        return;
    }
    let bus = PrivateBus::start();
    let dir = tempfile::tempdir().unwrap();
    for d in ["runtime", "data"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let keyring_env = |c: &mut Command| {
        c.env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .env("XDG_RUNTIME_DIR", dir.path().join("runtime"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("DISPLAY", "");
    };
    let mut daemon = Command::new("gnome-keyring-daemon");
    daemon.args(["--foreground", "--unlock", "--components=secrets"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    keyring_env(&mut daemon);
    let mut daemon = daemon.spawn().unwrap();
    daemon.stdin.take().unwrap().write_all(b"tocsin-lock-test").unwrap();

    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![GOOD.into()], ..EmulatorConfig::default() }).await.unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.toml"),
        format!("[[accounts]]\nname = \"ops\"\nprovider = \"daimon\"\nurl = \"{}\"\n", emu.daimon_url()),
    )
    .unwrap();
    let tocsin = |args: &[&str], stdin: &str| {
        let mut c = Command::new(app::binary());
        c.args(args)
            .env("TOCSIN_CONFIG_DIR", dir.path().join("config"))
            .env("TOCSIN_DATA_DIR", dir.path().join("appdata"))
            .env("TOCSIN_KEYCHAIN", "secret-service")
            .env_remove("TOCSIN_KEY_OPS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        keyring_env(&mut c);
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    // The daemon takes a moment to claim its name.
    let mut stored = false;
    for _ in 0..50 {
        if tocsin(&["key", "set", "ops"], &format!("{GOOD}\n")).0 {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stored, "gnome-keyring on the private bus never answered");
    let (ok, out) = tocsin(&["account", "list"], "");
    assert!(ok && out.contains("…k9Q7"), "{out}");

    let lock = Command::new("gdbus")
        .args(["call", "--session", "--dest", "org.freedesktop.secrets", "--object-path", "/org/freedesktop/secrets", "--method",
               "org.freedesktop.Secret.Service.Lock", "['/org/freedesktop/secrets/collection/login']"])
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .output()
        .unwrap();
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));

    let (ok, out) = tocsin(&["account", "list", "--json"], "");
    assert!(ok, "{out}");
    let list: Vec<Value> = serde_json::from_str(&out[..out.rfind(']').unwrap() + 1]).unwrap();
    assert_eq!(list[0]["key"]["state"], "locked", "{out}");
    assert!(list[0]["key"]["message"].as_str().unwrap().contains("locked"), "{out}");
    let (ok, out) = tocsin(&["key", "test", "ops"], "");
    assert!(!ok && out.contains("locked"), "{out}");

    // The app says so and stays up; it never connects without the key.
    let envs = [
        ("TOCSIN_CONFIG_DIR", dir.path().join("config").display().to_string()),
        ("TOCSIN_DATA_DIR", dir.path().join("appdata").display().to_string()),
        ("TOCSIN_KEYCHAIN", "secret-service".to_owned()),
        ("DBUS_SESSION_BUS_ADDRESS", bus.address().to_owned()),
        ("XDG_RUNTIME_DIR", dir.path().join("runtime").display().to_string()),
        ("XDG_DATA_HOME", dir.path().join("data").display().to_string()),
        ("DISPLAY", String::new()),
    ];
    let env_refs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut headless = AppProcess::spawn(&["run", "--headless"], &env_refs);
    let log = headless.wait_for_log("keychain", Duration::from_secs(20)).await;
    assert!(log.contains("locked"), "{log}");
    assert!(headless.running(), "the app keeps running with a locked keychain");
    assert!(emu.daimon().commands().iter().all(|c| c["action"] != "subscribe"), "no connection without a key");
    headless.stop("TERM", Duration::from_secs(20)).await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    emu.shutdown().await;
}
