//! The daimon.email socket (PROTOCOLS.md section 1), at `/v1/stream`.
//!
//! Auth: `Authorization: Bearer <key>`, `?key=` or `?token=`; anything else gets
//! HTTP 401 `{"error":"invalid_api_key",...}` and no upgrade. On open the server sends
//! `connected`; `subscribe` narrows the stream to `inbox_ids` and answers
//! `subscribed`; `mark_as_read` and `send_email` are recorded and answered with a
//! `result` echoing `request_id`. Every published event is kept for the replay
//! window; a client that reconnects with `last_event_id` (query or subscribe field)
//! gets what it missed, marked `"replayed": true`, then `replay_complete`, or
//! `replay_gap` when the id is unknown or too old. The server pings on an interval.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::EmulatorConfig;

/// How long a connection token is valid.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Events kept for replay at most, whatever their age.
const BUFFER_CAP: usize = 100_000;

#[derive(Debug)]
pub(crate) struct Buffered {
    seq: u64,
    at: Instant,
    event_id: String,
    inbox: Option<String>,
    pub(crate) frame: Value,
}

/// Shared state of the daimon endpoint.
pub struct DaimonState {
    keys: Mutex<HashSet<String>>,
    seq: AtomicU64,
    buffer: Mutex<VecDeque<Arc<Buffered>>>,
    pub(crate) live: broadcast::Sender<Arc<Buffered>>,
    kick: broadcast::Sender<()>,
    connections: AtomicUsize,
    total_connections: AtomicU64,
    rejected_auth: AtomicU64,
    commands: Mutex<Vec<Value>>,
    ping_interval: Duration,
    replay_window: Duration,
    id_prefix: String,
    /// Connection tokens issued by `POST /v1/websocket/token`.
    tokens: Mutex<HashMap<String, Instant>>,
    /// Scenarios: raw frames, half-open connections, slow delivery.
    raw: broadcast::Sender<Arc<str>>,
    hostile: broadcast::Sender<Arc<crate::hostile::Hostile>>,
    silent: std::sync::atomic::AtomicBool,
    delay_ms: AtomicU64,
    cancel: CancellationToken,
}

impl DaimonState {
    pub(crate) fn new(config: &EmulatorConfig, cancel: CancellationToken) -> Self {
        DaimonState {
            keys: Mutex::new(config.keys.iter().cloned().collect()),
            seq: AtomicU64::new(0),
            buffer: Mutex::new(VecDeque::new()),
            live: broadcast::channel(config.live_capacity.max(16)).0,
            kick: broadcast::channel(4).0,
            connections: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            rejected_auth: AtomicU64::new(0),
            commands: Mutex::new(Vec::new()),
            ping_interval: config.ping_interval,
            replay_window: config.replay_window,
            id_prefix: config.event_id_prefix.clone(),
            tokens: Mutex::new(HashMap::new()),
            raw: broadcast::channel(64).0,
            hostile: broadcast::channel(16).0,
            silent: std::sync::atomic::AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            cancel,
        }
    }

    /// Accepts `key` from now on.
    pub fn add_key(&self, key: &str) {
        self.keys.lock().unwrap().insert(key.to_owned());
    }

    /// Publishes an event frame to every matching connection and the replay buffer.
    /// Fills in `event_id` (`evt_<n>`), `timestamp` and `replayed: false` when the
    /// frame lacks them. Returns the event id.
    pub fn publish(&self, mut frame: Value) -> String {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        if !frame.is_object() {
            frame = json!({"type": "message.received", "payload": frame});
        }
        let obj = frame.as_object_mut().expect("object");
        let event_id = match obj.get("event_id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => {
                let id = format!("{}{seq:08}", self.id_prefix);
                obj.insert("event_id".into(), json!(id));
                id
            }
        };
        obj.entry("timestamp").or_insert_with(|| json!(now_rfc3339()));
        obj.entry("replayed").or_insert(json!(false));
        let inbox = obj.get("inbox_id").and_then(Value::as_str).map(str::to_owned);
        let item = Arc::new(Buffered { seq, at: Instant::now(), event_id: event_id.clone(), inbox, frame });
        {
            let mut buf = self.buffer.lock().unwrap();
            buf.push_back(item.clone());
            while buf.len() > BUFFER_CAP || buf.front().is_some_and(|b| b.at.elapsed() > self.replay_window) {
                buf.pop_front();
            }
            // Sent under the lock, so the buffer and the live stream agree on order.
            let _ = self.live.send(item);
        }
        event_id
    }

    /// Closes every open connection abruptly (no close frame), as a network failure would.
    pub fn drop_connections(&self) {
        let _ = self.kick.send(());
    }

    /// Sends `text` verbatim to every connection (malformed, oversized, unknown frames).
    pub fn publish_raw(&self, text: &str) {
        let _ = self.raw.send(Arc::from(text));
    }

    /// Half-open connections: stop reading, stop answering pings, send nothing.
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    /// Plays a hostile scenario on every connection (see [`crate::hostile`]).
    pub fn hostile(&self, h: crate::hostile::Hostile) {
        let _ = self.hostile.send(Arc::new(h));
    }

    /// Slow delivery: wait `delay` before each frame (0 = off).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Open connections now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Successful upgrades since start.
    pub fn total_connections(&self) -> u64 {
        self.total_connections.load(Ordering::SeqCst)
    }

    /// Every command frame clients sent (subscribe, mark_as_read, send_email, ...).
    pub fn commands(&self) -> Vec<Value> {
        self.commands.lock().unwrap().clone()
    }

    pub fn stats(&self) -> Value {
        json!({
            "connections": self.connections(),
            "total_connections": self.total_connections(),
            "rejected_auth": self.rejected_auth.load(Ordering::SeqCst),
            "published": self.seq.load(Ordering::SeqCst),
            "commands": self.commands.lock().unwrap().len(),
        })
    }

    fn authorized(&self, headers: &HeaderMap, query: &HashMap<String, String>) -> bool {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let candidate = bearer.or_else(|| query.get("key").cloned()).or_else(|| query.get("token").cloned());
        let keys = self.keys.lock().unwrap();
        let tokens = self.tokens.lock().unwrap();
        candidate.is_some_and(|k| {
            keys.contains(&k) || tokens.get(&k).is_some_and(|issued| issued.elapsed() < TOKEN_TTL)
        })
    }

    /// Issues a connection token for a valid key (`POST /v1/websocket/token`).
    fn issue_token(&self, key: Option<&str>) -> Option<String> {
        if !key.is_some_and(|k| self.keys.lock().unwrap().contains(k)) {
            return None;
        }
        let token = format!("wst_{:016x}", rand::random::<u64>());
        self.tokens.lock().unwrap().insert(token.clone(), Instant::now());
        Some(token)
    }

    /// Events after `last_event_id`, or `Err(oldest id)` when it is not in the buffer.
    fn replay_after(&self, last_event_id: &str) -> (Result<Vec<Arc<Buffered>>, Option<String>>, u64) {
        let buf = self.buffer.lock().unwrap();
        let high_water = buf.back().map_or(0, |b| b.seq);
        match buf.iter().position(|b| b.event_id == last_event_id) {
            Some(i) => (Ok(buf.iter().skip(i + 1).cloned().collect()), high_water),
            None => (Err(buf.front().map(|b| b.event_id.clone())), high_water),
        }
    }
}

fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    crate::demo::format_ms(ms)
}

/// `POST /v1/websocket/token`: a connection token for a valid key, in daimon's REST
/// envelope; 401 `invalid_api_key` otherwise.
pub(crate) async fn token(State(state): State<Arc<DaimonState>>, headers: HeaderMap) -> Response {
    let key = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    state.commands.lock().unwrap().push(json!({"rest": "POST /v1/websocket/token"}));
    match state.issue_token(key) {
        Some(token) => Json(json!({"result": {"token": token, "expires_at": "2099-01-01T00:00:00Z"},
                                   "next_steps": ["Connect to /v1/stream with Authorization: Bearer <token>"]}))
            .into_response(),
        None => (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_api_key", "next_steps": ["Check the API key"]})))
            .into_response(),
    }
}

/// `GET /v1/stream`: authenticate, then upgrade.
pub(crate) async fn upgrade(
    State(state): State<Arc<DaimonState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    if !state.authorized(&headers, &query) {
        state.rejected_auth.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_api_key",
                        "next_steps": ["Check the Authorization header or the key query parameter"]})),
        )
            .into_response();
    }
    let last_event_id = query.get("last_event_id").cloned();
    ws.max_message_size(1 << 20).on_upgrade(move |socket| serve(state, socket, last_event_id))
}

struct Conn {
    filter: Option<HashSet<String>>,
    high_water: u64,
}

async fn serve(state: Arc<DaimonState>, mut socket: WebSocket, last_event_id: Option<String>) {
    state.connections.fetch_add(1, Ordering::SeqCst);
    state.total_connections.fetch_add(1, Ordering::SeqCst);
    let mut live = state.live.subscribe();
    let mut kick = state.kick.subscribe();
    let mut raw = state.raw.subscribe();
    let mut hostile = state.hostile.subscribe();
    let mut conn = Conn { filter: None, high_water: 0 };
    let mut feeds = Feeds { live: &mut live, kick: &mut kick, raw: &mut raw, hostile: &mut hostile };
    let _ = serve_inner(&state, &mut socket, &mut feeds, &mut conn, last_event_id).await;
    state.connections.fetch_sub(1, Ordering::SeqCst);
}

/// What a connection listens to besides its socket.
struct Feeds<'a> {
    live: &'a mut broadcast::Receiver<Arc<Buffered>>,
    kick: &'a mut broadcast::Receiver<()>,
    raw: &'a mut broadcast::Receiver<Arc<str>>,
    hostile: &'a mut broadcast::Receiver<Arc<crate::hostile::Hostile>>,
}

async fn serve_inner(
    state: &DaimonState,
    socket: &mut WebSocket,
    feeds: &mut Feeds<'_>,
    conn: &mut Conn,
    last_event_id: Option<String>,
) -> Result<(), axum::Error> {
    let Feeds { live, kick, raw, hostile } = feeds;
    let hello = json!({"type": "connected", "connection_id": format!("wsc_{}", state.total_connections()),
                       "account_id": "acc_emulator", "server_time": now_rfc3339()});
    socket.send(text(&hello)).await?;
    if let Some(id) = last_event_id {
        replay(state, socket, conn, &id).await?;
    }
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + state.ping_interval, state.ping_interval);
    loop {
        if state.silent.load(Ordering::SeqCst) {
            tokio::select! {
                _ = kick.recv() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
            }
        }
        tokio::select! {
            _ = state.cancel.cancelled() => {
                let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: 1001, reason: "server shutting down".into() }))).await;
                return Ok(());
            }
            _ = kick.recv() => return Ok(()), // dropped without a close frame
            // Silenced while waiting here: the half-open connection starts now, not after one more ping.
            _ = ping.tick() => if !state.silent.load(Ordering::SeqCst) { socket.send(Message::Ping(Vec::new().into())).await? },
            item = live.recv() => match item {
                Ok(item) => {
                    if item.seq <= conn.high_water || !matches_filter(conn, &item) { continue; }
                    let delay = state.delay_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    socket.send(text(&item.frame)).await?;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                        code: 1008, reason: "slow_consumer".into() }))).await;
                    return Ok(());
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            r = raw.recv() => if let Ok(t) = r {
                socket.send(Message::Text(t.to_string().into())).await?;
            },
            h = hostile.recv() => if let Ok(h) = h {
                crate::hostile::play(socket, &h).await?;
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => handle_command(state, socket, conn, t.as_str()).await?,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            },
        }
    }
}

fn matches_filter(conn: &Conn, item: &Buffered) -> bool {
    match (&conn.filter, &item.inbox) {
        (None, _) => true,
        (Some(f), Some(inbox)) => f.contains(inbox),
        (Some(_), None) => true, // account-wide events (account.upgraded)
    }
}

async fn replay(state: &DaimonState, socket: &mut WebSocket, conn: &mut Conn, id: &str) -> Result<(), axum::Error> {
    let (found, high_water) = state.replay_after(id);
    conn.high_water = conn.high_water.max(high_water);
    match found {
        Ok(items) => {
            let mut count = 0u64;
            for item in items.iter().filter(|i| matches_filter(conn, i)) {
                let mut frame = item.frame.clone();
                frame["replayed"] = json!(true);
                socket.send(text(&frame)).await?;
                count += 1;
            }
            socket.send(text(&json!({"type": "replay_complete", "count": count}))).await
        }
        Err(oldest) => socket.send(text(&json!({"type": "replay_gap", "oldest_event_id": oldest}))).await,
    }
}

async fn handle_command(state: &DaimonState, socket: &mut WebSocket, conn: &mut Conn, t: &str) -> Result<(), axum::Error> {
    let Ok(frame) = serde_json::from_str::<Value>(t) else {
        return socket
            .send(text(&json!({"type":"error","ok":false,"error":"invalid_frame","message":"frame is not JSON"})))
            .await;
    };
    state.commands.lock().unwrap().push(frame.clone());
    let request_id = frame.get("request_id").cloned();
    let action = frame.get("action").and_then(Value::as_str).unwrap_or("");
    let reply = match action {
        "subscribe" => {
            let ids: Vec<String> = frame
                .get("inbox_ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            conn.filter = if frame.get("inbox_ids").is_some() { Some(ids.iter().cloned().collect()) } else { None };
            socket.send(text(&json!({"type": "subscribed", "inbox_ids": ids}))).await?;
            if let Some(id) = frame.get("last_event_id").and_then(Value::as_str) {
                replay(state, socket, conn, id).await?;
            }
            None
        }
        "unsubscribe" => {
            let ids: Vec<String> = frame
                .get("inbox_ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            if let Some(f) = conn.filter.as_mut() {
                for id in &ids {
                    f.remove(id);
                }
            }
            Some(json!({"type": "unsubscribed", "inbox_ids": ids}))
        }
        "mark_as_read" => match frame.get("message_id").and_then(Value::as_str) {
            Some(id) => Some(json!({"type":"result","action":"mark_as_read","ok":true,
                                    "result":{"message_id": id, "read": true}})),
            None => Some(json!({"type":"error","action":"mark_as_read","ok":false,
                                "error":"invalid_frame","message":"missing 'message_id'"})),
        },
        "send_email" => {
            let n = state.commands.lock().unwrap().len();
            Some(json!({"type":"result","action":"send_email","ok":true,
                        "result":{"message_id": format!("msg_sent_{n}"), "status":"sent"},"next_steps":[]}))
        }
        "" => Some(json!({"type":"error","ok":false,"error":"invalid_frame","message":"missing 'action'"})),
        other => Some(json!({"type":"error","action":other,"ok":false,"error":"unknown_action",
                             "message": format!("unknown action '{other}'")})),
    };
    if let Some(mut reply) = reply {
        let is_result = reply["type"] == "result";
        match request_id {
            Some(rid) => {
                reply["request_id"] = rid;
                socket.send(text(&reply)).await?;
            }
            // Without a request_id the server sends no result frame; errors still go out.
            None if !is_result => socket.send(text(&reply)).await?,
            None => {}
        }
    }
    Ok(())
}

fn text(v: &Value) -> Message {
    Message::Text(v.to_string().into())
}

impl crate::hub::Scenarios for DaimonState {
    fn publish_raw(&self, text: &str) {
        DaimonState::publish_raw(self, text)
    }
    fn drop_connections(&self) {
        DaimonState::drop_connections(self)
    }
    fn set_silent(&self, silent: bool) {
        DaimonState::set_silent(self, silent)
    }
    fn set_delay(&self, delay: Duration) {
        DaimonState::set_delay(self, delay)
    }
    fn hostile(&self, h: crate::hostile::Hostile) {
        DaimonState::hostile(self, h)
    }
    fn restart(&self) {
        // The 5-minute replay buffer lives in memory.
        self.buffer.lock().unwrap().clear();
        DaimonState::drop_connections(self)
    }
}
