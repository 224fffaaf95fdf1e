//! Prismer Cloud (PROTOCOLS.md section 4, the implemented server protocol).
//!
//! WebSocket `/ws`: auth by `?token=` or an `authenticate` frame within the auth
//! deadline (`authenticated` on success; `error` `AUTH_FAILED` on a bad token, the
//! socket staying open; `Authentication timeout` and close 4001 at the deadline;
//! `AUTH_REQUIRED` for other frames before auth, except `ping` and `ack`). Every
//! tracked event carries an `ackId`; events not acknowledged when the socket drops
//! are redelivered on the next auth with `isRetry: true` (at most 100, 5 minutes).
//! `ping` gets `pong` echoing `requestId` at the top and in the payload. A sixth
//! connection of a user evicts the oldest. SSE `/sse?token=` streams the same
//! envelopes as unnamed `data:` events with `: heartbeat` comments.
//! `POST /api/im/conversations/{id}/read` marks a conversation read.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::hub::{bearer, Hub, Outbound};

const MAX_CONNECTIONS_PER_USER: usize = 5;
const UNDELIVERED_CAP: usize = 100;
const UNDELIVERED_TTL: Duration = Duration::from_secs(300);
/// Types that carry no `ackId`.
const UNTRACKED: [&str; 6] = ["pong", "typing.indicator", "presence.changed", "authenticated", "error", "message.stream.chunk"];

#[derive(Default)]
struct User {
    undelivered: VecDeque<(Instant, Value)>,
    /// Open connections, oldest first: (id, evict signal).
    conns: VecDeque<(u64, mpsc::Sender<()>)>,
}

/// Prismer's emulated state.
pub struct PrismerState {
    pub hub: Arc<Hub>,
    users: Mutex<HashMap<String, User>>,
    next_ack: AtomicU64,
    next_conn: AtomicU64,
    /// Refuse WebSocket upgrades (HTTP 503), so clients fall back to SSE.
    ws_disabled: AtomicBool,
    auth_timeout: Duration,
    heartbeat: Duration,
}

impl PrismerState {
    pub(crate) fn new(hub: Arc<Hub>, auth_timeout: Duration, heartbeat: Duration) -> Arc<Self> {
        Arc::new(PrismerState {
            hub,
            users: Mutex::default(),
            next_ack: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
            ws_disabled: AtomicBool::new(false),
            auth_timeout,
            heartbeat,
        })
    }

    /// Makes WebSocket upgrades fail (503) or succeed again.
    pub fn set_ws_disabled(&self, disabled: bool) {
        self.ws_disabled.store(disabled, Ordering::SeqCst);
    }

    /// Publishes an event: live to every authenticated connection, and into the
    /// undelivered queue of every known user with no connection open (the server
    /// keeps what an offline user missed, up to 100 events for 5 minutes).
    pub fn publish(&self, frame: Value) {
        // Under the users lock, so a connection closing at the same moment either
        // finds the event in its stream or the event finds it gone.
        let mut users = self.users.lock().unwrap();
        for u in users.values_mut().filter(|u| u.conns.is_empty()) {
            let mut f = frame.clone();
            if !UNTRACKED.contains(&f.get("type").and_then(Value::as_str).unwrap_or("")) {
                f["ackId"] = json!(format!("ack_{}", self.next_ack.fetch_add(1, Ordering::SeqCst)));
            }
            u.undelivered.push_back((Instant::now(), f));
            while u.undelivered.len() > UNDELIVERED_CAP {
                u.undelivered.pop_front();
            }
        }
        self.hub.publish(frame);
    }

    /// Events waiting for redelivery, all users together.
    pub fn undelivered_total(&self) -> usize {
        self.users.lock().unwrap().values().map(|u| u.undelivered.len()).sum()
    }

    /// Events waiting for redelivery to `user`.
    pub fn undelivered(&self, user: &str) -> usize {
        self.users.lock().unwrap().get(user).map_or(0, |u| u.undelivered.len())
    }

    fn user_for(&self, token: Option<&str>) -> Option<String> {
        let token = token?;
        // Every accepted token is one user, named after a digest of the token.
        self.hub.accepts(Some(token)).then(|| format!("usr_{:08x}", token.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))))
    }

}

fn requeue_locked(u: &mut User, pending: HashMap<String, Value>) {
    {
        let mut items: Vec<(u64, Value)> = pending
            .into_iter()
            .map(|(ack, f)| (ack.trim_start_matches("ack_").parse().unwrap_or(0), f))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        for (_, f) in items {
            u.undelivered.push_back((Instant::now(), f));
        }
        while u.undelivered.len() > UNDELIVERED_CAP {
            u.undelivered.pop_front();
        }
    }
}

impl PrismerState {
    fn take_undelivered(&self, user: &str) -> Vec<Value> {
        let mut users = self.users.lock().unwrap();
        let u = users.entry(user.to_owned()).or_default();
        u.undelivered.retain(|(at, _)| at.elapsed() < UNDELIVERED_TTL);
        u.undelivered.drain(..).map(|(_, f)| f).collect()
    }
}

fn token_of(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    query.get("token").cloned().or_else(|| bearer(headers))
}

fn envelope(ty: &str, payload: Value) -> Value {
    json!({"type": ty, "payload": payload, "timestamp": now_ms()})
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn text(v: &Value) -> Message {
    Message::Text(v.to_string().into())
}

pub(crate) async fn upgrade(
    State(state): State<Arc<PrismerState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    if state.ws_disabled.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "WebSocket upgrades are disabled").into_response();
    }
    let token = token_of(&headers, &query);
    ws.max_message_size(1 << 20).on_upgrade(move |socket| serve(state, socket, token))
}

async fn serve(state: Arc<PrismerState>, mut socket: WebSocket, token: Option<String>) {
    let _guard = state.hub.connection();
    let conn_id = state.next_conn.fetch_add(1, Ordering::SeqCst);
    let (mut live, mut kick) = state.hub.subscribe();
    let (evict_tx, mut evict_rx) = mpsc::channel::<()>(1);
    let mut user: Option<String> = None;
    let mut pending: HashMap<String, Value> = HashMap::new();
    let deadline = tokio::time::sleep(state.auth_timeout);
    tokio::pin!(deadline);

    // Query-token auth happens at once; a bad query token is answered like a bad frame.
    if let Some(t) = token.as_deref() {
        match state.user_for(Some(t)) {
            Some(u) => {
                if authenticate(&state, &mut socket, &u, conn_id, &evict_tx, None, &mut pending).await.is_err() {
                    return;
                }
                user = Some(u);
            }
            None => {
                let err = json!({"type":"error","payload":{"message":"Invalid token","code":"AUTH_FAILED"},"timestamp":now_ms()});
                if socket.send(text(&err)).await.is_err() {
                    return;
                }
            }
        }
    }

    loop {
        if state.hub.silent() {
            tokio::select! {
                _ = kick.recv() => break,
                _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
            }
        }
        let sent = tokio::select! {
            _ = kick.recv() => break,
            _ = evict_rx.recv() => {
                let _ = socket.send(text(&json!({"type":"error","data":{"message":"Connection replaced by newer client"}}))).await;
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
            _ = &mut deadline, if user.is_none() => {
                let _ = socket.send(text(&json!({"type":"error","payload":{"message":"Authentication timeout"},"timestamp":now_ms()}))).await;
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 4001, reason: "Authentication timeout".into() }))).await;
                break;
            }
            item = live.recv(), if user.is_some() => match item {
                Ok(Outbound::Frame(f)) => {
                    let mut frame = (*f).clone();
                    state.hub.pace().await;
                    let ty = frame.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
                    if !UNTRACKED.contains(&ty.as_str()) {
                        let ack = format!("ack_{}", state.next_ack.fetch_add(1, Ordering::SeqCst));
                        frame["ackId"] = json!(ack);
                        pending.insert(ack, frame.clone());
                    }
                    socket.send(text(&frame)).await
                }
                Ok(Outbound::Raw(t)) => socket.send(Message::Text(t.to_string().into())).await,
                Ok(Outbound::Hostile(h)) => crate::hostile::play(&mut socket, &h).await,
                Err(_) => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Ok(frame) = serde_json::from_str::<Value>(t.as_str()) else {
                        let _ = socket.send(text(&json!({"type":"error","payload":{"message":"Invalid JSON"}}))).await;
                        continue;
                    };
                    state.hub.record(frame.clone());
                    let ty = frame.get("type").and_then(Value::as_str).unwrap_or("");
                    let request_id = frame.get("requestId").cloned();
                    match ty {
                        "ping" => {
                            let rid = request_id.clone().or_else(|| frame.pointer("/payload/requestId").cloned());
                            let mut pong = json!({"type":"pong","payload":{},"timestamp":now_ms()});
                            if let Some(r) = rid {
                                pong["requestId"] = r.clone();
                                pong["payload"]["requestId"] = r;
                            }
                            socket.send(text(&pong)).await
                        }
                        "ack" => {
                            if let Some(a) = frame.pointer("/payload/ackId").and_then(Value::as_str) {
                                pending.remove(a);
                            }
                            Ok(())
                        }
                        "authenticate" if user.is_none() => {
                            let t = frame.pointer("/payload/token").and_then(Value::as_str);
                            match state.user_for(t) {
                                Some(u) => {
                                    if authenticate(&state, &mut socket, &u, conn_id, &evict_tx, request_id, &mut pending).await.is_err() {
                                        break;
                                    }
                                    user = Some(u);
                                    Ok(())
                                }
                                None => {
                                    let mut err = json!({"type":"error","payload":{"message":"Invalid token","code":"AUTH_FAILED"},"timestamp":now_ms()});
                                    if let Some(r) = request_id { err["requestId"] = r; }
                                    socket.send(text(&err)).await
                                }
                            }
                        }
                        _ if user.is_none() => {
                            let mut err = json!({"type":"error","payload":{"message":"Not authenticated","code":"AUTH_REQUIRED"}});
                            if let Some(r) = request_id { err["requestId"] = r; }
                            socket.send(text(&err)).await
                        }
                        "reconnect" => {
                            let u = user.clone().unwrap_or_default();
                            let redelivered = redeliver(&state, &mut socket, &u, &mut pending).await;
                            let mut ack = envelope("reconnect.ack", json!({"userId": u, "undeliveredCount": redelivered, "syncAdvised": false}));
                            if let Some(r) = request_id { ack["requestId"] = r; }
                            socket.send(text(&ack)).await
                        }
                        "conversation.join" | "conversation.leave" | "typing.start" | "typing.stop" | "presence.update"
                        | "agent.heartbeat" | "message.send" => Ok(()),
                        other => {
                            let mut err = json!({"type":"error","payload":{"message":format!("Unknown event type: {other}"),"code":"UNKNOWN_EVENT"}});
                            if let Some(r) = request_id { err["requestId"] = r; }
                            socket.send(text(&err)).await
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => Ok(()),
            },
        };
        if sent.is_err() {
            break;
        }
    }
    if let Some(u) = user {
        let mut users = state.users.lock().unwrap();
        let entry = users.entry(u.clone()).or_default();
        entry.conns.retain(|(id, _)| *id != conn_id);
        // Published while this connection was attached but never sent: undelivered too.
        while let Ok(item) = live.try_recv() {
            if let Outbound::Frame(f) = item {
                let mut frame = (*f).clone();
                let ty = frame.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
                if !UNTRACKED.contains(&ty.as_str()) {
                    let ack = format!("ack_{}", state.next_ack.fetch_add(1, Ordering::SeqCst));
                    frame["ackId"] = json!(ack);
                    pending.insert(ack, frame);
                }
            }
        }
        requeue_locked(entry, pending);
    }
}

async fn authenticate(
    state: &PrismerState,
    socket: &mut WebSocket,
    user: &str,
    conn_id: u64,
    evict: &mpsc::Sender<()>,
    request_id: Option<Value>,
    pending: &mut HashMap<String, Value>,
) -> Result<(), axum::Error> {
    {
        let mut users = state.users.lock().unwrap();
        let u = users.entry(user.to_owned()).or_default();
        u.conns.push_back((conn_id, evict.clone()));
        while u.conns.len() > MAX_CONNECTIONS_PER_USER {
            if let Some((_, oldest)) = u.conns.pop_front() {
                let _ = oldest.try_send(());
            }
        }
    }
    let mut ok = envelope("authenticated", json!({"userId": user}));
    if let Some(r) = request_id {
        ok["requestId"] = r;
    }
    socket.send(text(&ok)).await?;
    redeliver(state, socket, user, pending).await;
    Ok(())
}

/// Sends the user's undelivered events again, marked `isRetry`; returns how many.
async fn redeliver(state: &PrismerState, socket: &mut WebSocket, user: &str, pending: &mut HashMap<String, Value>) -> usize {
    let items = state.take_undelivered(user);
    let n = items.len();
    for mut frame in items {
        frame["isRetry"] = json!(true);
        if let Some(ack) = frame.get("ackId").and_then(Value::as_str) {
            pending.insert(ack.to_owned(), frame.clone());
        }
        if socket.send(text(&frame)).await.is_err() {
            break;
        }
    }
    n
}

/// `GET /sse?token=`: the same envelopes as unnamed SSE events.
pub(crate) async fn sse(
    State(state): State<Arc<PrismerState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(token) = token_of(&headers, &query) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"ok": false, "error": "Token required (?token=<JWT>)"}))).into_response();
    };
    let Some(user) = state.user_for(Some(&token)) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"ok": false, "error": "Invalid or expired token"}))).into_response();
    };
    let guard = state.hub.connection();
    let (mut live, mut kick) = state.hub.subscribe();
    let first = envelope("authenticated", json!({"userId": user}));
    let stream = async_stream(move |tx| async move {
        let _guard = guard;
        if tx.send(first.to_string()).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                _ = kick.recv() => return,
                item = live.recv() => match item {
                    Ok(Outbound::Frame(f)) => { if tx.send(f.to_string()).await.is_err() { return; } }
                    Ok(Outbound::Raw(t)) => { if tx.send(t.to_string()).await.is_err() { return; } }
                    // The hostile scenarios are WebSocket frames; the SSE stream ignores them.
                    Ok(Outbound::Hostile(_)) => {}
                    Err(_) => return,
                },
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(state.heartbeat).text("heartbeat"))
        .into_response()
}

/// A stream of SSE data events fed by `producer` through a channel.
fn async_stream<F, Fut>(producer: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<String>(256);
    tokio::spawn(producer(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|data| (Ok(SseEvent::default().data(data)), rx))
    })
}

/// `POST /api/im/conversations/{id}/read`.
pub(crate) async fn mark_read(
    State(state): State<Arc<PrismerState>>,
    headers: HeaderMap,
    Path(conversation): Path<String>,
) -> Response {
    if state.user_for(bearer(&headers).as_deref()).is_none() {
        return (StatusCode::UNAUTHORIZED, Json(json!({"ok": false, "error": "Invalid or expired token"}))).into_response();
    }
    state.hub.record(json!({"rest": "POST read", "conversationId": conversation}));
    Json(json!({"ok": true})).into_response()
}

/// A `message.new` envelope in `conversation` from `sender`.
pub fn message_new(id: &str, conversation: &str, sender: &str, content: &str) -> Value {
    json!({"type": "message.new", "timestamp": now_ms(),
           "payload": {"id": id, "conversationId": conversation, "senderId": sender, "type": "text",
                       "content": content, "metadata": {}, "createdAt": "2026-03-16T10:30:45.000Z"}})
}
