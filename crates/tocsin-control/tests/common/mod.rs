//! A tiny resident for the tests: a counter, a broadcast sender, one window at a
//! time; and a raw line client to look at the wire itself.

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tempfile::TempDir;
use tocsin_control::{bind, serve, ClientInfo, Clients, Handler, Push, Request, Role, Welcome};
use tocsin_engine::{ErrorCode, IpcError, Snapshot};
use tokio::io::AsyncWriteExt;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::sync::CancellationToken;

/// How long any single await in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// Await `f`, failing the test if it takes longer than [`WAIT`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}

pub fn snapshot(unread_urgent: u32) -> Snapshot {
    Snapshot {
        accounts: vec![],
        unread_urgent,
        paused: false,
        paused_until_ms: None,
        demo: false,
        store_error: None,
        notifier_error: None,
        notifier_cause: None,
        keychain_error: None,
    }
}

pub struct TestHandler {
    pub calls: AtomicU64,
    pub pushes: broadcast::Sender<Push>,
    pub history: PathBuf,
    window: Mutex<Option<u64>>,
    /// `rules_get` says it started here, then waits for `release`.
    pub slow_started: Notify,
    pub release: Notify,
    /// Every client `gone` was called for.
    pub gone: mpsc::UnboundedSender<ClientInfo>,
}

impl Handler for TestHandler {
    fn admit(&self, client: &ClientInfo) -> Result<Welcome, IpcError> {
        if client.role == Role::Window {
            let mut window = self.window.lock().unwrap();
            if window.is_some() {
                return Err(IpcError::new(
                    ErrorCode::WindowOpen,
                    "the history window is already open",
                ));
            }
            *window = Some(client.id);
        }
        Ok(Welcome::new(self.history.clone()))
    }

    async fn handle(&self, _client: &ClientInfo, request: Request) -> Result<Value, IpcError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match request {
            Request::Status => Ok(serde_json::to_value(snapshot(99)).unwrap()),
            Request::Subscribe => Ok(Value::Null),
            Request::Reconnect => panic!("the test handler panics on reconnect"),
            Request::AutostartGet => Ok(json!(true)),
            Request::MarkRead { id } => Ok(json!(id)),
            Request::RulesGet => {
                self.slow_started.notify_one();
                self.release.notified().await;
                Ok(json!("slow"))
            }
            other => Err(IpcError::new(
                ErrorCode::NotFound,
                format!("no {}", other.op()),
            )),
        }
    }

    fn pushes(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    fn gone(&self, client: &ClientInfo) {
        let mut window = self.window.lock().unwrap();
        if *window == Some(client.id) {
            *window = None;
        }
        let _ = self.gone.send(client.clone());
    }
}

/// A resident serving a socket in a fresh temporary directory.
pub struct Harness {
    pub dir: TempDir,
    pub path: PathBuf,
    pub handler: Arc<TestHandler>,
    pub clients: Clients,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<()>,
    pub gone: mpsc::UnboundedReceiver<ClientInfo>,
}

pub async fn start() -> Harness {
    start_with(16).await
}

/// A harness whose push channel keeps `capacity` pushes.
pub async fn start_with(capacity: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run").join("control.sock");
    let listener = bind(&path).await.unwrap();
    let (gone_tx, gone) = mpsc::unbounded_channel();
    let handler = Arc::new(TestHandler {
        calls: AtomicU64::new(0),
        pushes: broadcast::channel(capacity).0,
        history: dir.path().join("history.db"),
        window: Mutex::new(None),
        slow_started: Notify::new(),
        release: Notify::new(),
        gone: gone_tx,
    });
    let clients = Clients::new();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(
        listener,
        handler.clone(),
        clients.clone(),
        shutdown.clone(),
    ));
    Harness {
        dir,
        path,
        handler,
        clients,
        shutdown,
        task,
        gone,
    }
}

/// A client that writes and reads raw lines.
pub struct Raw {
    pub lines: FramedRead<OwnedReadHalf, LinesCodec>,
    pub write: OwnedWriteHalf,
}

impl Raw {
    pub async fn connect(path: &Path) -> Raw {
        let (read, write) = UnixStream::connect(path).await.unwrap().into_split();
        Raw {
            lines: FramedRead::new(read, LinesCodec::new_with_max_length(16 << 20)),
            write,
        }
    }

    /// Connect and say hello as `role`; the welcome line.
    pub async fn hello(path: &Path, role: &str) -> (Raw, Value) {
        let mut raw = Raw::connect(path).await;
        raw.send(&json!({"protocol": 1, "role": role, "version": "test"}).to_string())
            .await;
        let welcome = raw.next().await.expect("a welcome");
        assert!(welcome.get("welcome").is_some(), "{welcome}");
        (raw, welcome)
    }

    pub async fn send(&mut self, line: &str) {
        self.write.write_all(line.as_bytes()).await.unwrap();
        self.write.write_all(b"\n").await.unwrap();
    }

    /// The next line, or `None` when the server closed.
    pub async fn next(&mut self) -> Option<Value> {
        next_line(&mut self.lines).await
    }
}

/// The next line from `lines`, or `None` when the server closed.
pub async fn next_line(lines: &mut FramedRead<OwnedReadHalf, LinesCodec>) -> Option<Value> {
    match within(lines.next()).await {
        Some(Ok(line)) => Some(serde_json::from_str(&line).unwrap()),
        // A reset after the server closed on unread input counts as closed.
        Some(Err(_)) | None => None,
    }
}
