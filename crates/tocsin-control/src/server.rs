//! The server loop: accept, check the peer, shake hands, then read calls and
//! dispatch each to the [`Handler`] while forwarding pushes.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tocsin_engine::{ErrorCode, IpcError, Snapshot};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clients::Clients;
use crate::handler::{check_peer, ClientInfo, Handler};
use crate::path::our_uid;
use crate::wire::{
    check_hello, line_too_long, parse_call, HelloReply, Push, Reply, Request, ServerLine, MAX_LINE,
    PROTOCOL,
};

/// How long a new connection has to send its hello.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// At shutdown, how long calls in flight get to answer (so `quit` gets its reply).
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Lines queued for one client before its pushes lag and its replies wait.
const OUT_QUEUE: usize = 256;
/// Calls one client may have in flight before the server stops reading its lines.
const MAX_IN_FLIGHT: usize = 32;

/// Serve `listener` until `shutdown` is cancelled: then stop accepting, remove the
/// socket file (if it is still the one we bound), close every connection (calls in
/// flight get [`CLOSE_GRACE`] to answer) and return. `clients` is filled with the
/// admitted clients (see [`Clients`]).
pub async fn serve<H: Handler>(
    listener: UnixListener,
    handler: Arc<H>,
    clients: Clients,
    shutdown: CancellationToken,
) {
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_owned));
    let bound = path.as_deref().and_then(file_id);
    let uid = our_uid();
    let tracker = TaskTracker::new();
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                next_id += 1;
                let conn = Connection {
                    id: next_id,
                    our_uid: uid,
                    handler: handler.clone(),
                    clients: clients.clone(),
                    shutdown: shutdown.clone(),
                };
                tracker.spawn(conn.run(stream));
            }
            Err(e) => {
                // Out of file descriptors and the like: do not spin.
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
    drop(listener);
    if let Some(path) = path.filter(|p| bound.is_some() && file_id(p) == bound) {
        if let Err(e) = fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove the control socket");
        }
    }
    tracker.close();
    tracker.wait().await;
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn codec() -> LinesCodec {
    LinesCodec::new_with_max_length(MAX_LINE)
}

type Lines = FramedRead<OwnedReadHalf, LinesCodec>;
type Sink = FramedWrite<OwnedWriteHalf, LinesCodec>;

async fn send_line(sink: &mut Sink, message: &impl Serialize) -> io::Result<()> {
    let line = serde_json::to_string(message).map_err(io::Error::other)?;
    sink.send(line).await.map_err(|e| match e {
        LinesCodecError::Io(e) => e,
        other => io::Error::other(other),
    })
}

/// Why a session stopped reading.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The client finished sending: its calls in flight still get answers.
    Eof,
    /// Shutdown, or the writer failed.
    Cancelled,
    /// A read error or an over-long line.
    Broken,
}

struct Connection<H> {
    id: u64,
    our_uid: u32,
    handler: Arc<H>,
    clients: Clients,
    shutdown: CancellationToken,
}

impl<H: Handler> Connection<H> {
    async fn run(self, stream: UnixStream) {
        let cred = match stream.peer_cred() {
            Ok(c) => c,
            Err(e) => {
                return tracing::warn!(error = %e, "cannot read the control peer's credentials")
            }
        };
        let (rd, wr) = stream.into_split();
        let mut lines = FramedRead::new(rd, codec());
        let mut sink = FramedWrite::new(wr, codec());
        if let Err(e) = check_peer(cred.uid(), self.our_uid) {
            tracing::warn!(peer_uid = cred.uid(), pid = ?cred.pid(), "control peer refused: another user");
            let _ = send_line(&mut sink, &HelloReply::Error(e)).await;
            return;
        }
        let Some(info) = self
            .handshake(&mut lines, &mut sink, cred.uid(), cred.pid())
            .await
        else {
            return;
        };
        tracing::debug!(client = info.id, role = ?info.role, pid = ?info.pid, "control client admitted");

        let (out, queue) = mpsc::channel(OUT_QUEUE);
        self.clients.insert(info.id, info.role, out.clone());
        let conn = self.shutdown.child_token();
        let kill = CancellationToken::new();
        let mut writer = tokio::spawn(write_loop(sink, queue, conn.clone(), kill.clone()));
        self.session(lines, &info, out, &conn).await;
        self.clients.remove(info.id);
        self.handler.gone(&info);
        // Every sender is gone now: the writer flushes what is queued, then closes.
        if tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
        {
            kill.cancel();
            let _ = writer.await;
        }
        tracing::debug!(client = info.id, "control client gone");
    }

    /// Read and check the hello, ask the handler, answer. `None`: closed.
    async fn handshake(
        &self,
        lines: &mut Lines,
        sink: &mut Sink,
        uid: u32,
        pid: Option<i32>,
    ) -> Option<ClientInfo> {
        let first = tokio::select! {
            _ = self.shutdown.cancelled() => return None,
            r = tokio::time::timeout(HANDSHAKE_TIMEOUT, lines.next()) => r,
        };
        let refuse = match first {
            Err(_) => IpcError::new(ErrorCode::InvalidArgument, "no hello within 5 s; closing"),
            Ok(None) | Ok(Some(Err(LinesCodecError::Io(_)))) => return None,
            Ok(Some(Err(LinesCodecError::MaxLineLengthExceeded))) => line_too_long(),
            Ok(Some(Ok(line))) => match check_hello(&line) {
                Err(e) => e,
                Ok(hello) => {
                    let info = ClientInfo {
                        id: self.id,
                        role: hello.role,
                        pid,
                        uid,
                    };
                    match self.handler.admit(&info) {
                        Err(e) => e,
                        Ok(mut welcome) => {
                            welcome.protocol = PROTOCOL;
                            if send_line(sink, &HelloReply::Welcome(welcome))
                                .await
                                .is_err()
                            {
                                self.handler.gone(&info);
                                return None;
                            }
                            return Some(info);
                        }
                    }
                }
            },
        };
        tracing::debug!(code = ?refuse.code, "control hello refused: {}", refuse.message);
        let _ = send_line(sink, &HelloReply::Error(refuse)).await;
        None
    }

    /// Read calls until the client stops, the connection breaks or shutdown.
    async fn session(
        &self,
        mut lines: Lines,
        info: &ClientInfo,
        out: mpsc::Sender<ServerLine>,
        conn: &CancellationToken,
    ) {
        let mut calls = JoinSet::new();
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut forwarder = None;
        let end = loop {
            let next = tokio::select! {
                _ = conn.cancelled() => break End::Cancelled,
                Some(_) = calls.join_next(), if !calls.is_empty() => continue,
                next = lines.next() => next,
            };
            let line = match next {
                None => break End::Eof,
                Some(Ok(line)) => line,
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    queue(&out, reply(0, Err(line_too_long())), conn).await;
                    break End::Broken;
                }
                Some(Err(LinesCodecError::Io(e))) => {
                    tracing::debug!(client = info.id, error = %e, "control read failed");
                    break End::Broken;
                }
            };
            let call = match parse_call(&line) {
                Ok(call) => call,
                Err((id, e)) => {
                    tracing::debug!(client = info.id, "bad control line: {}", e.message);
                    if !queue(&out, reply(id, Err(e)), conn).await {
                        break End::Cancelled;
                    }
                    continue;
                }
            };
            if matches!(call.request, Request::Subscribe) && forwarder.is_none() {
                let pushes = self.handler.pushes();
                let task = forward(pushes, out.clone(), self.handler.clone(), info.clone());
                forwarder = Some(tokio::spawn(task));
                self.clients.subscribed(info.id);
            }
            let permit = tokio::select! {
                _ = conn.cancelled() => break End::Cancelled,
                p = permits.clone().acquire_owned() => p.ok(),
            };
            let (handler, info, out) = (self.handler.clone(), info.clone(), out.clone());
            calls.spawn(async move {
                let _permit = permit;
                let op = call.request.op();
                let answer = AssertUnwindSafe(handler.handle(&info, call.request)).catch_unwind();
                let result = answer.await.unwrap_or_else(|_| {
                    tracing::error!(client = info.id, op, "the control handler panicked");
                    Err(IpcError::new(ErrorCode::Internal, format!("Tocsin failed while answering {op}")))
                });
                if let Err(e) = &result {
                    tracing::debug!(client = info.id, op, code = ?e.code, "control call failed: {}", e.message);
                }
                let _ = out.send(reply(call.id, result)).await;
            });
        };
        if let Some(f) = forwarder {
            f.abort();
        }
        if end == End::Eof {
            tokio::select! {
                _ = drain(&mut calls) => return,
                _ = conn.cancelled() => {}
            }
        }
        if end != End::Broken && self.shutdown.is_cancelled() {
            let _ = tokio::time::timeout(CLOSE_GRACE, drain(&mut calls)).await;
        }
        calls.shutdown().await;
    }
}

/// Queue `line` for the writer unless the connection is cancelled first (a client
/// that does not read must not hold the reader at shutdown). False: not queued.
async fn queue(out: &mpsc::Sender<ServerLine>, line: ServerLine, conn: &CancellationToken) -> bool {
    tokio::select! {
        _ = conn.cancelled() => false,
        sent = out.send(line) => sent.is_ok(),
    }
}

fn reply(id: u64, result: Result<Value, IpcError>) -> ServerLine {
    ServerLine::Reply(Reply {
        id,
        outcome: result.into(),
    })
}

async fn drain(calls: &mut JoinSet<()>) {
    while calls.join_next().await.is_some() {}
}

/// Write queued lines until every sender is gone (or `kill`); a failed write
/// cancels `conn`.
async fn write_loop(
    mut sink: Sink,
    mut queue: mpsc::Receiver<ServerLine>,
    conn: CancellationToken,
    kill: CancellationToken,
) {
    loop {
        let line = tokio::select! {
            _ = kill.cancelled() => break,
            line = queue.recv() => match line {
                Some(line) => line,
                None => break,
            },
        };
        let sent = tokio::select! {
            _ = kill.cancelled() => break,
            sent = send_line(&mut sink, &line) => sent,
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "control write failed");
            conn.cancel();
            break;
        }
    }
}

/// Forward the handler's pushes to one subscribed client; after lagging behind,
/// a fresh status instead of what it missed.
async fn forward<H: Handler>(
    mut pushes: broadcast::Receiver<Push>,
    out: mpsc::Sender<ServerLine>,
    handler: Arc<H>,
    info: ClientInfo,
) {
    loop {
        let push = match pushes.recv().await {
            Ok(push) => push,
            Err(broadcast::error::RecvError::Closed) => return,
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::warn!(
                    client = info.id,
                    skipped,
                    "control client lags; sending a fresh status"
                );
                let status = handler.handle(&info, Request::Status).await;
                match status.map(serde_json::from_value::<Snapshot>) {
                    Ok(Ok(snapshot)) => Push::Status(snapshot),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the status answer is not a Snapshot");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!("no status for a lagging client: {}", e.message);
                        continue;
                    }
                }
            }
        };
        if out.send(ServerLine::Push(push)).await.is_err() {
            return;
        }
    }
}
