//! The client side: the window and the CLI talk to the resident through [`Client`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tocsin_engine::{ErrorCode, IpcError};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};
use tokio_util::sync::CancellationToken;

use crate::server::HANDSHAKE_TIMEOUT;
use crate::wire::{
    Call, Hello, HelloReply, Outcome, Push, Request, Role, ServerLine, Welcome, MAX_LINE, PROTOCOL,
    VERSION,
};

/// Pushes queued for a subscriber that is not reading; beyond this they are dropped.
const PUSH_QUEUE: usize = 1024;
/// Request lines queued before `call` waits.
const OUT_QUEUE: usize = 64;

/// A connection to the resident. Cheap to clone; every clone (and every task) may
/// call at once, replies are matched by id. The connection closes when the last
/// clone is dropped, or when the resident goes.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    out: mpsc::Sender<String>,
    shared: Arc<Shared>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.closed.cancel();
    }
}

/// What the reader and writer tasks share with the handles.
struct Shared {
    state: Mutex<State>,
    next_id: AtomicU64,
    closed: CancellationToken,
}

struct State {
    open: bool,
    pending: HashMap<u64, oneshot::Sender<Outcome>>,
    pushes: Option<mpsc::Sender<Push>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection is gone: fail the calls waiting, end the pushes.
    fn close(&self) {
        let mut state = self.lock();
        state.open = false;
        state.pending.clear();
        state.pushes = None;
        drop(state);
        self.closed.cancel();
    }
}

impl Client {
    /// Connect and shake hands as `role`. `not_running` when the socket is missing
    /// or nobody listens ("Tocsin is not running"); `version_mismatch`, `forbidden`
    /// or `window_open` as the resident said.
    pub async fn connect(path: &Path, role: Role) -> Result<(Client, Welcome), IpcError> {
        Client::connect_with_protocol(path, role, PROTOCOL).await
    }

    /// [`connect`](Self::connect), claiming control protocol `protocol` (tests).
    pub async fn connect_with_protocol(
        path: &Path,
        role: Role,
        protocol: u32,
    ) -> Result<(Client, Welcome), IpcError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| connect_error(path, &e))?;
        let (rd, wr) = stream.into_split();
        let mut lines = FramedRead::new(rd, LinesCodec::new_with_max_length(MAX_LINE));
        let mut sink = FramedWrite::new(wr, LinesCodec::new_with_max_length(MAX_LINE));
        let hello = Hello {
            protocol,
            role,
            version: VERSION.to_owned(),
        };
        let hello = serde_json::to_string(&hello).map_err(internal)?;
        // A refused peer may find the socket already closed: read the reason anyway.
        let _ = sink.send(hello).await;
        let answer = match tokio::time::timeout(HANDSHAKE_TIMEOUT, lines.next()).await {
            Err(_) => return Err(not_running("Tocsin did not answer within 5 s")),
            Ok(None) | Ok(Some(Err(_))) => {
                return Err(not_running(
                    "Tocsin closed the connection before welcoming it",
                ))
            }
            Ok(Some(Ok(line))) => line,
        };
        let welcome = match serde_json::from_str::<HelloReply>(&answer) {
            Ok(HelloReply::Welcome(w)) => w,
            Ok(HelloReply::Error(e)) => return Err(e),
            Err(e) => {
                return Err(IpcError::new(
                    ErrorCode::VersionMismatch,
                    format!("the running Tocsin answered in a way this version does not understand ({e}): restart Tocsin so both are the same version"),
                )
                .with_field("protocol"))
            }
        };
        if welcome.protocol != protocol {
            return Err(IpcError::new(
                ErrorCode::VersionMismatch,
                format!(
                    "this client speaks control protocol {protocol} but the running Tocsin speaks {}: restart Tocsin so both are the same version",
                    welcome.protocol
                ),
            )
            .with_field("protocol"));
        }
        Ok((Client::start(lines, sink), welcome))
    }

    fn start(
        lines: FramedRead<OwnedReadHalf, LinesCodec>,
        sink: FramedWrite<OwnedWriteHalf, LinesCodec>,
    ) -> Client {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                open: true,
                pending: HashMap::new(),
                pushes: None,
            }),
            next_id: AtomicU64::new(1),
            closed: CancellationToken::new(),
        });
        let (out, queue) = mpsc::channel(OUT_QUEUE);
        tokio::spawn(read_loop(lines, shared.clone()));
        tokio::spawn(write_loop(sink, queue, shared.clone()));
        Client {
            inner: Arc::new(Inner { out, shared }),
        }
    }

    /// Ask the resident and wait for its answer (`not_running` if the connection
    /// drops meanwhile). Dropping the future forgets the call (the resident still
    /// does it).
    pub async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, IpcError> {
        let value = self.call_value(request).await?;
        serde_json::from_value(value).map_err(|e| {
            IpcError::new(
                ErrorCode::Internal,
                format!("Tocsin's answer does not parse: {e}"),
            )
        })
    }

    async fn call_value(&self, request: Request) -> Result<Value, IpcError> {
        let shared = &self.inner.shared;
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let line = serde_json::to_string(&Call { id, request }).map_err(internal)?;
        if line.len() > MAX_LINE {
            return Err(IpcError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "the request is longer than the {} MiB the control socket takes",
                    MAX_LINE >> 20
                ),
            ));
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut state = shared.lock();
            if !state.open {
                return Err(not_running(
                    "Tocsin is not running (the connection was closed)",
                ));
            }
            state.pending.insert(id, tx);
        }
        let _forget = Forget { shared, id };
        if self.inner.out.send(line).await.is_err() {
            return Err(lost());
        }
        rx.await.map_err(|_| lost())?.into()
    }

    /// Start the pushes; the receiver ends when the connection drops. Subscribing
    /// again replaces (ends) the previous receiver. A receiver more than 1024
    /// pushes behind misses pushes.
    pub async fn subscribe(&self) -> Result<mpsc::Receiver<Push>, IpcError> {
        let (tx, rx) = mpsc::channel(PUSH_QUEUE);
        {
            let mut state = self.inner.shared.lock();
            if !state.open {
                return Err(not_running(
                    "Tocsin is not running (the connection was closed)",
                ));
            }
            state.pushes = Some(tx);
        }
        if let Err(e) = self.call_value(Request::Subscribe).await {
            self.inner.shared.lock().pushes = None;
            return Err(e);
        }
        Ok(rx)
    }

    /// Resolves when the connection is gone.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.shared.closed.clone().cancelled_owned()
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.closed.is_cancelled()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Removes a call's waiter when its future is dropped before the answer.
struct Forget<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(&self.id);
    }
}

async fn read_loop(mut lines: FramedRead<OwnedReadHalf, LinesCodec>, shared: Arc<Shared>) {
    loop {
        let next = tokio::select! {
            _ = shared.closed.cancelled() => break,
            next = lines.next() => next,
        };
        let line = match next {
            Some(Ok(line)) => line,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "control read failed");
                break;
            }
            None => break,
        };
        match serde_json::from_str::<ServerLine>(&line) {
            Ok(ServerLine::Reply(reply)) => {
                let waiter = shared.lock().pending.remove(&reply.id);
                match (waiter, reply.outcome) {
                    (Some(tx), outcome) => {
                        let _ = tx.send(outcome);
                    }
                    (None, Outcome::Err(e)) if reply.id == 0 => {
                        tracing::warn!(code = ?e.code, "Tocsin could not read a request: {}", e.message);
                    }
                    (None, _) => {}
                }
            }
            Ok(ServerLine::Push(push)) => {
                let mut state = shared.lock();
                if let Some(tx) = &state.pushes {
                    match tx.try_send(push) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            tracing::warn!("dropping a push: the subscriber is not keeping up");
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => state.pushes = None,
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "unreadable line from Tocsin"),
        }
    }
    shared.close();
}

async fn write_loop(
    mut sink: FramedWrite<OwnedWriteHalf, LinesCodec>,
    mut queue: mpsc::Receiver<String>,
    shared: Arc<Shared>,
) {
    loop {
        let line = tokio::select! {
            _ = shared.closed.cancelled() => break,
            line = queue.recv() => match line {
                Some(line) => line,
                None => break,
            },
        };
        let sent = tokio::select! {
            _ = shared.closed.cancelled() => break,
            sent = sink.send(line) => sent,
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "control write failed");
            break;
        }
    }
    shared.close();
}

fn connect_error(path: &Path, e: &io::Error) -> IpcError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => not_running("Tocsin is not running"),
        io::ErrorKind::PermissionDenied => IpcError::new(
            ErrorCode::Forbidden,
            format!("cannot use the control socket {}: permission denied (is Tocsin running as another user?)", path.display()),
        ),
        _ => not_running(&format!("Tocsin is not running (cannot connect to {}: {e})", path.display())),
    }
}

fn not_running(message: &str) -> IpcError {
    IpcError::new(ErrorCode::NotRunning, message)
}

fn lost() -> IpcError {
    not_running("Tocsin stopped before answering")
}

fn internal(e: impl std::fmt::Display) -> IpcError {
    IpcError::new(ErrorCode::Internal, e.to_string())
}
