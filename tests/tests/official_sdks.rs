//! Wire compatibility of the emulator with the providers' official Python SDKs:
//! `agentmail==2.0.18` and `prismer==2.2.71` (tests/sdk/requirements.txt).
//!
//! Each test starts the emulator in-process, runs a script from tests/sdk/ that
//! connects with the SDK's own realtime client (pointed at the emulator the way the
//! SDK lets its users choose a base URL), waits until the emulator has seen the SDK
//! subscribe, publishes events through the control API (`POST /_emulator/.../publish`)
//! and checks what the SDK delivered. The scripts validate every frame against the
//! SDK's own pydantic models, so a frame the SDK would reject fails here.
//!
//! Python: `$TOCSIN_SDK_PYTHON` (scripts/test-inner.sh sets it to `.venv-sdk/bin/python`,
//! which `scripts/setup.sh --test` creates), else `<workspace>/.venv-sdk/bin/python` when
//! it exists, else `python3`. Without the SDKs installed the tests fail saying so.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tocsin_e2e::{wait_for, workspace_dir};
use tocsin_emulator::{agentmail, prismer, Emulator, EmulatorConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const KEY: &str = "am_sdk_e2e_0123456789";
/// The Prismer SDK expects keys to start with `sk-prismer-` (it only warns otherwise).
const PRISMER_KEY: &str = "sk-prismer-sdk-e2e-0123456789";
const INBOX: &str = "agent@agentmail.to";
/// Long enough for a cold Python start on a loaded CI machine; the scripts give up at 20 s.
const T: Duration = Duration::from_secs(30);

async fn emulator() -> Emulator {
    let config = EmulatorConfig { keys: vec![KEY.into(), PRISMER_KEY.into()], ..EmulatorConfig::default() };
    Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.expect("bind the emulator")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TOCSIN_SDK_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = workspace_dir().join(".venv-sdk/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Fails (never skips) when the interpreter lacks the pinned SDKs.
async fn require_sdks() {
    let py = python();
    let out = Command::new(&py)
        .args(["-c", "import importlib.metadata as m; print(m.version('agentmail'), m.version('prismer'))"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {} ({e}); run scripts/setup.sh --test or set TOCSIN_SDK_PYTHON", py.display()));
    let versions = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && versions == "2.0.18 2.2.71",
        "{} does not have agentmail==2.0.18 and prismer==2.2.71 (got {versions:?}, {}); run scripts/setup.sh --test \
         (creates .venv-sdk) or set TOCSIN_SDK_PYTHON to a python with tests/sdk/requirements.txt installed",
        py.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A running tests/sdk script: its stdout JSON lines are collected as they arrive.
struct SdkScript {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    stdout_task: tokio::task::JoinHandle<()>,
    stderr_task: tokio::task::JoinHandle<String>,
}

impl SdkScript {
    fn spawn(script: &str, args: &[&str]) -> SdkScript {
        let path = workspace_dir().join("tests/sdk").join(script);
        let mut child = Command::new(python())
            .arg(&path)
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            // Keep the SDKs from reading a developer's own settings.
            .env_remove("AGENTMAIL_API_KEY")
            .env_remove("PRISMER_API_KEY")
            .env_remove("PRISMER_BASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {}: {e}", python().display(), path.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let sink = lines.clone();
        let stdout_task = tokio::spawn(async move {
            let mut reader = BufReader::new(out).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let v = serde_json::from_str::<Value>(&line).unwrap_or_else(|_| json!({"kind": "unparsed", "line": line}));
                sink.lock().unwrap().push(v);
            }
        });
        let stderr_task = tokio::spawn(async move {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s).await;
            s
        });
        SdkScript { name: script.to_owned(), child, lines, stdout_task, stderr_task }
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    fn line(&self, kind: &str) -> Option<Value> {
        self.lines().into_iter().find(|l| l["kind"] == kind)
    }

    /// Waits for a line of `kind`; fails early (with the output) if the script exits first.
    async fn wait_line(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if let Some(l) = self.line(kind) {
                return l;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader catch up with the last lines before deciding.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Some(l) = self.line(kind) {
                    return l;
                }
                let stderr = self.stderr_so_far().await;
                panic!("{} exited ({status}) before printing a {kind:?} line\nstdout: {:#?}\nstderr: {stderr}", self.name, self.lines());
            }
            assert!(tokio::time::Instant::now() < deadline, "{} printed no {kind:?} line within {T:?}: {:#?}", self.name, self.lines());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stderr_so_far(&mut self) -> String {
        let task = std::mem::replace(&mut self.stderr_task, tokio::spawn(async { String::new() }));
        tokio::time::timeout(Duration::from_secs(5), task).await.ok().and_then(Result::ok).unwrap_or_default()
    }

    /// Waits for the script to exit: (status, stdout lines, stderr).
    async fn finish(mut self) -> (ExitStatus, Vec<Value>, String) {
        let status = match tokio::time::timeout(T, self.child.wait()).await {
            Ok(s) => s.expect("wait for the script"),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!("{} still running after {T:?}: {:#?}", self.name, self.lines());
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.stdout_task).await;
        let stderr = self.stderr_so_far().await;
        (status, self.lines(), stderr)
    }
}

/// `POST {path}` on the emulator's control API with a JSON body; returns the JSON reply.
async fn control(emu: &Emulator, path: &str, body: &Value) -> Value {
    let mut stream = tokio::net::TcpStream::connect(emu.local_addr()).await.expect("connect to the control API");
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        emu.local_addr(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, reply) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "POST {path}: {response}");
    serde_json::from_str(reply).unwrap_or_else(|_| panic!("POST {path}: not JSON: {reply}"))
}

fn events(lines: &[Value]) -> Vec<Value> {
    lines.iter().filter(|l| l["kind"] == "event").cloned().collect()
}

// ---------------------------------------------------------------- AgentMail

/// Waits until the emulator recorded the SDK's `subscribe` for `inbox` and the SDK
/// parsed the `subscribed` answer.
async fn agentmail_subscribed(emu: &Emulator, script: &mut SdkScript, inbox: &str) {
    let hub = emu.agentmail().clone();
    wait_for("the SDK's subscribe frame", T, || {
        let hub = hub.clone();
        async move { hub.commands().into_iter().find(|c| c["type"] == "subscribe").map(|_| ()) }
    })
    .await;
    let subscribed = script.wait_line("subscribed").await;
    assert_eq!(subscribed["inbox_ids"], json!([inbox]), "{subscribed}");
    // The SDK serialises `Subscribe(inbox_ids=[...])` itself: exactly what reached the server.
    let sub = emu.agentmail().commands().into_iter().find(|c| c["type"] == "subscribe").unwrap();
    assert_eq!(sub["inbox_ids"], json!([inbox]), "subscribe frame as sent by the SDK: {sub}");
    assert_eq!(emu.agentmail().connections(), 1);
}

fn assert_agentmail_event(got: &Value, sent: &Value) {
    let m = &sent["message"];
    assert_eq!(got["event_type"], "message.received", "{got}");
    assert_eq!(got["event_id"], sent["event_id"], "{got}");
    for field in ["inbox_id", "thread_id", "message_id", "subject", "from", "to", "labels", "text", "preview", "size"] {
        assert_eq!(got[field], m[field], "message.{field}: {got}");
    }
    assert_eq!(got["thread_message_count"], sent["thread"]["message_count"], "{got}");
    assert_eq!(got["thread_senders"], sent["thread"]["senders"], "{got}");
    assert_eq!(got["thread_last_message_id"], m["message_id"], "{got}");
    // The SDK parsed the timestamp into a datetime (printed back in ISO form).
    let ts = got["timestamp"].as_str().unwrap();
    assert!(ts.starts_with(&m["timestamp"].as_str().unwrap()[..19]) && ts.ends_with("+00:00"), "{ts} vs {}", m["timestamp"]);
}

async fn agentmail_delivers(mode: &str, auth: &str) {
    require_sdks().await;
    let emu = emulator().await;
    let base = emu.http_base();
    let mut script = SdkScript::spawn(
        "agentmail_client.py",
        &[&base, KEY, "--inbox", INBOX, "--count", "2", "--mode", mode, "--auth", auth],
    );
    agentmail_subscribed(&emu, &mut script, INBOX).await;

    // Another inbox first: the subscription filter must keep it from the SDK.
    let other = agentmail::message_received("evt_other_inbox", "other@agentmail.to", "x@example.com", "Not yours", "no", &["received"]);
    let first = agentmail::message_received("evt_sdk_1", INBOX, "Jane Doe <jane@example.com>", "Quarterly report", "Hi there, the report is attached.", &["received", "unread"]);
    let marker = agentmail::message_received("evt_sdk_marker", INBOX, "ops@example.com", "SDK marker ✓", "marker body", &["received"]);
    for frame in [&other, &first, &marker] {
        assert_eq!(control(&emu, "/_emulator/agentmail/publish", frame).await, json!({"published": true}));
    }

    let (status, lines, stderr) = script.finish().await;
    assert!(status.success(), "agentmail_client.py ({mode}, {auth}) failed: {status}\nstdout: {lines:#?}\nstderr: {stderr}");
    let got = events(&lines);
    assert_eq!(got.len(), 2, "exactly the two events for {INBOX}: {lines:#?}");
    assert_agentmail_event(&got[0], &first);
    assert_agentmail_event(&got[1], &marker);
    assert!(lines.iter().all(|l| l["kind"] != "invalid" && l["kind"] != "other"), "{lines:#?}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agentmail_async_sdk_subscribes_and_receives_message_received() {
    agentmail_delivers("async", "header").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agentmail_sync_sdk_with_query_api_key_receives_message_received() {
    // `--auth query`: no client api_key (no Authorization header); `connect(api_key=...)`
    // puts the key in `?api_key=`, the only credential sent.
    agentmail_delivers("sync", "query").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agentmail_sdk_wrong_key_surfaces_invalid_credentials() {
    require_sdks().await;
    let emu = emulator().await;
    let base = emu.http_base();

    // The async client maps the 401 handshake to its documented ApiError.
    let (status, lines, stderr) = SdkScript::spawn("agentmail_client.py", &[&base, "wrong-key", "--inbox", INBOX]).finish().await;
    assert_eq!(status.code(), Some(3), "exit 3 (error) expected: {lines:#?}\n{stderr}");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(
        lines[0],
        json!({"kind": "error", "error": "ApiError", "status_code": 401, "body": "Websocket initialized with invalid credentials."})
    );

    // The sync client sees the same 401. (With websockets >= 14 the SDK's compat shim
    // catches the legacy exception class, so the sync path surfaces websockets'
    // InvalidStatus instead of ApiError: an SDK quirk, not the wire.)
    let (status, lines, stderr) =
        SdkScript::spawn("agentmail_client.py", &[&base, "wrong-key", "--mode", "sync", "--auth", "query"]).finish().await;
    assert_eq!(status.code(), Some(3), "exit 3 (error) expected: {lines:#?}\n{stderr}");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["status_code"], 401, "{lines:#?}");

    // Refused at the handshake: no socket was ever upgraded.
    assert_eq!(emu.agentmail().total_connections(), 0);
    assert!(emu.agentmail().commands().is_empty());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agentmail_frame_missing_a_required_field_is_rejected_by_the_sdk_model() {
    // The check is real: a message.received without `message.size` (required by the
    // SDK's Message model) must fail the script, although the SDK itself would build
    // a model from it without complaint.
    require_sdks().await;
    let emu = emulator().await;
    let mut script = SdkScript::spawn("agentmail_client.py", &[&emu.http_base(), KEY, "--inbox", INBOX]);
    agentmail_subscribed(&emu, &mut script, INBOX).await;
    let mut broken = agentmail::message_received("evt_broken", INBOX, "jane@example.com", "Broken", "body", &["received"]);
    broken["message"].as_object_mut().unwrap().remove("size");
    control(&emu, "/_emulator/agentmail/publish", &broken).await;

    let (status, lines, stderr) = script.finish().await;
    assert_eq!(status.code(), Some(4), "exit 4 (invalid frame) expected: {lines:#?}\n{stderr}");
    let invalid = lines.iter().find(|l| l["kind"] == "invalid").expect("an invalid line");
    assert_eq!(invalid["model"], "MessageReceivedEvent", "{invalid}");
    assert!(invalid["error"].as_str().unwrap().contains("message.size"), "{invalid}");
    emu.shutdown().await;
}

// ---------------------------------------------------------------- Prismer

fn assert_prismer_event(got: &Value, sent: &Value) {
    let p = &sent["payload"];
    assert_eq!(got["type"], "message.new", "{got}");
    assert_eq!(got["id"], p["id"], "{got}");
    assert_eq!(got["conversation_id"], p["conversationId"], "{got}");
    assert_eq!(got["sender_id"], p["senderId"], "{got}");
    assert_eq!(got["content"], p["content"], "{got}");
    assert_eq!(got["content_type"], p["type"], "{got}");
    assert_eq!(got["metadata"], p["metadata"], "{got}");
    assert_eq!(got["created_at"], p["createdAt"], "{got}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prismer_ws_sdk_authenticates_pings_joins_and_receives_message_new() {
    require_sdks().await;
    let emu = emulator().await;
    let mut script = SdkScript::spawn(
        "prismer_client.py",
        &[&emu.http_base(), PRISMER_KEY, "--transport", "ws", "--conversation", "conv_sdk", "--count", "2"],
    );
    // `ready` follows connect (authenticated), ping() (answered by pong) and the join;
    // the script exits early, with the step it was stuck at, when any of them fails.
    let ready = script.wait_line("ready").await;
    assert_eq!(ready["transport"], "ws");
    let hub = emu.prismer().hub.clone();
    wait_for("the SDK's conversation.join", T, || {
        let hub = hub.clone();
        async move { hub.commands().into_iter().find(|c| c["type"] == "conversation.join").map(|_| ()) }
    })
    .await;

    let commands = emu.prismer().hub.commands();
    let join = commands.iter().find(|c| c["type"] == "conversation.join").unwrap();
    assert_eq!(join["payload"]["conversationId"], "conv_sdk", "{join}");
    // The SDK's ping() resolved on the emulator's pong, matched by payload.requestId.
    let ping = commands.iter().find(|c| c["type"] == "ping").expect("the SDK sent a ping");
    let pong = script.line("pong").expect("the SDK's ping() returned");
    assert_eq!(pong["requestId"], ping["payload"]["requestId"], "{pong} vs {ping}");
    assert!(pong["requestId"].as_str().unwrap().starts_with("ping-"), "{pong}");
    let auth = script.line("authenticated").expect("an authenticated line");
    assert!(auth["userId"].as_str().unwrap().starts_with("usr_"), "{auth}");

    let first = prismer::message_new("msg_sdk_1", "conv_sdk", "usr_alice", "Hello from the emulator");
    let marker = prismer::message_new("msg_sdk_marker", "conv_sdk", "usr_bob", "SDK marker ✓");
    for frame in [&first, &marker] {
        assert_eq!(control(&emu, "/_emulator/prismer/publish", frame).await, json!({"published": true}));
    }
    let (status, lines, stderr) = script.finish().await;
    assert!(status.success(), "prismer_client.py (ws) failed: {status}\nstdout: {lines:#?}\nstderr: {stderr}");
    let got = events(&lines);
    assert_eq!(got.len(), 2, "{lines:#?}");
    assert_prismer_event(&got[0], &first);
    assert_prismer_event(&got[1], &marker);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prismer_sse_sdk_receives_message_new() {
    require_sdks().await;
    let emu = emulator().await;
    let mut script = SdkScript::spawn("prismer_client.py", &[&emu.http_base(), PRISMER_KEY, "--transport", "sse", "--count", "1"]);
    // `ready` comes after the SDK saw the `authenticated` data event, which the
    // emulator sends once the stream is attached to the live feed.
    script.wait_line("ready").await;
    assert_eq!(emu.prismer().hub.connections(), 1);
    let auth = script.line("authenticated").expect("an authenticated line");
    assert!(auth["userId"].as_str().unwrap().starts_with("usr_"), "{auth}");

    let marker = prismer::message_new("msg_sse_marker", "conv_sse", "usr_carol", "over SSE");
    control(&emu, "/_emulator/prismer/publish", &marker).await;
    let (status, lines, stderr) = script.finish().await;
    assert!(status.success(), "prismer_client.py (sse) failed: {status}\nstdout: {lines:#?}\nstderr: {stderr}");
    let got = events(&lines);
    assert_eq!(got.len(), 1, "{lines:#?}");
    assert_prismer_event(&got[0], &marker);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prismer_ws_sdk_wrong_token_fails_to_connect() {
    require_sdks().await;
    let emu = emulator().await;
    let (status, lines, stderr) =
        SdkScript::spawn("prismer_client.py", &[&emu.http_base(), "sk-prismer-wrong", "--transport", "ws"]).finish().await;
    assert_eq!(status.code(), Some(3), "exit 3 (error) expected: {lines:#?}\n{stderr}");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    // The emulator answers a bad ?token= with error AUTH_FAILED as the first frame; the
    // SDK requires `authenticated` there and gives up.
    assert_eq!(lines[0]["error"], "ConnectionError", "{lines:#?}");
    assert_eq!(lines[0]["message"], "Expected 'authenticated', got 'error'", "{lines:#?}");
    assert!(emu.prismer().hub.commands().is_empty(), "nothing sent after a failed auth");
    emu.shutdown().await;
}
