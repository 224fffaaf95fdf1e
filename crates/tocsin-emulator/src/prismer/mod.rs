//! Prismer Cloud (PROTOCOLS.md section 4, the implemented server protocol).
//!
//! WebSocket `/ws`: auth by `?token=` or an `authenticate` frame within the auth
//! deadline (`authenticated` on success; `error` `AUTH_FAILED` on a bad token, the
//! socket staying open; `Authentication timeout` and close 4001 at the deadline;
//! `AUTH_REQUIRED` for other frames before auth, except `ping` and `ack`). Every
//! tracked event carries an `ackId`; events *sent to an open connection* and not
//! acknowledged when it drops are redelivered on the next auth with `isRetry: true`
//! (at most 100, 5 minutes, in memory: [`PrismerState::restart`] loses them).
//!
//! As the real server was observed to behave (PROTOCOLS.md 4.5 [RUN]): nothing sent
//! while a user has no connection is queued for it; it is only in the sync log
//! (`GET /api/im/sync`, `metadata` a JSON string there), which survives a restart.
//! `reconnect` is answered `syncAdvised: true`. A connection is put in the rooms of
//! the conversations its user belongs to at sign-in only: events of a conversation
//! created later ([`PrismerState::create_conversation`]) reach it only once it sends
//! `conversation.join`, or when sent over REST ([`PrismerState::publish_rest`]).
//! Events of conversations the emulator was never told about go to everyone.
//! Presence is broadcast to every connection.
//! `ping` gets `pong` echoing `requestId` at the top and in the payload. A sixth
//! connection of a user evicts the oldest. SSE `/sse?token=` streams the same
//! envelopes as unnamed `data:` events with `: heartbeat` comments.
//! `POST /api/im/conversations/{id}/read` marks a conversation read.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::hub::{bearer, Hub, Outbound};

mod rest;
pub(crate) use rest::{conversation, mark_read, refresh, sse, sync, user};

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
    /// The sync log (the server's database): survives a restart.
    sync_log: Mutex<Vec<Value>>,
    /// Conversations by id.
    conversations: Mutex<HashMap<String, Conversation>>,
    /// User id → display name (`GET /api/im/users/{id}`).
    names: Mutex<HashMap<String, String>>,
    /// Stream id → sender, from the chunks (the end carries none).
    streams: Mutex<HashMap<String, String>>,
}

pub(crate) struct Conversation {
    pub members: HashSet<String>,
    pub kind: String,
    pub title: Option<String>,
}

/// The frame key that marks an event sent over REST (stripped before sending).
const VIA_REST: &str = "_viaRest";

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
            sync_log: Mutex::default(),
            conversations: Mutex::default(),
            names: Mutex::default(),
            streams: Mutex::default(),
        })
    }

    /// The user id the emulator gives `token`: a JWT's `sub`, else a digest of the
    /// token (every accepted token is one user).
    pub fn user_id(token: &str) -> String {
        if let Some(sub) = jwt_claims(token).and_then(|c| c.get("sub").and_then(Value::as_str).map(str::to_owned)) {
            return sub;
        }
        format!("usr_{:08x}", token.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))))
    }

    /// `POST /api/im/token/refresh`: a new 7-day token for the same user, accepted
    /// from now on (the old one stays valid, as on the real server).
    pub(crate) fn refresh(&self, token: &str) -> Option<String> {
        if !self.hub.accepts(Some(token)) {
            return None;
        }
        let n = self.next_conn.fetch_add(1, Ordering::SeqCst);
        let new = jwt(&Self::user_id(token), now_ms() / 1000 + 7 * 24 * 3600, n);
        self.hub.add_key(&new);
        self.hub.record(json!({"rest": "POST token/refresh"}));
        Some(new)
    }

    /// Creates a conversation of `members` (user ids). Nobody connected is told, and
    /// no open connection joins its room (the real server joins rooms at sign-in
    /// only); the sync log gets `conversation.create` once per member, every member
    /// seeing every copy, as the real server writes it.
    pub fn create_conversation(&self, id: &str, members: &[String], kind: &str, title: Option<&str>) {
        let conversation = Conversation {
            members: members.iter().cloned().collect(),
            kind: kind.to_owned(),
            title: title.map(str::to_owned),
        };
        self.conversations.lock().unwrap().insert(id.to_owned(), conversation);
        let data = json!({"id": id, "type": kind, "title": title, "members": members});
        for _ in members {
            self.log_sync("conversation.create", data.clone(), Some(id));
        }
    }

    /// Events sent while nobody is connected are not queued: that is the sync log's job.
    /// Publishes an event as a WebSocket send would: to the connections in its
    /// conversation's room (everyone, for a conversation the emulator does not know),
    /// and into the sync log when the server persists its type.
    pub fn publish(&self, frame: Value) {
        self.log_sync_of(&frame);
        self.hub.publish(frame);
    }

    /// Publishes an event as a REST send does: to every member's connections, joined
    /// to its room or not.
    pub fn publish_rest(&self, mut frame: Value) {
        self.log_sync_of(&frame);
        frame[VIA_REST] = json!(true);
        self.hub.publish(frame);
    }

    /// A server restart: every connection drops and what lived in memory (the
    /// redelivery queues) is gone; the sync log and the conversations stay.
    pub fn restart(&self) {
        {
            let mut users = self.users.lock().unwrap();
            for u in users.values_mut() {
                u.undelivered.clear();
            }
        }
        self.hub.drop_connections();
    }

    /// The sync log, as the real server writes it for a WebSocket event.
    fn log_sync_of(&self, frame: &Value) {
        let ty = frame.get("type").and_then(Value::as_str).unwrap_or("");
        let payload = frame.get("payload").cloned().unwrap_or(Value::Null);
        let conv = payload.get("conversationId").and_then(Value::as_str).map(str::to_owned);
        let stringified = |p: &Value| {
            let mut d = p.clone();
            let meta = p.get("metadata").cloned().unwrap_or(json!({}));
            d["metadata"] = json!(meta.to_string());
            d
        };
        match ty {
            "message.new" => self.log_sync("message.new", stringified(&payload), conv.as_deref()),
            "message.edit" | "message.edited" => {
                let data = json!({"id": payload.get("id"), "content": payload.get("content"), "type": payload.get("type")});
                self.log_sync("message.edit", data, conv.as_deref());
            }
            "message.deleted" => self.log_sync("message.delete", json!({"id": payload.get("id")}), conv.as_deref()),
            "message.stream.chunk" => {
                if let (Some(id), Some(sender)) = (payload.get("streamId").and_then(Value::as_str), payload.get("senderId").and_then(Value::as_str)) {
                    self.streams.lock().unwrap().insert(id.to_owned(), sender.to_owned());
                }
            }
            "message.stream.end" => {
                let stream = payload.get("streamId").and_then(Value::as_str).unwrap_or("");
                let sender = self.streams.lock().unwrap().remove(stream);
                let data = json!({"id": payload.get("messageId"), "conversationId": conv, "senderId": sender,
                                  "type": "text", "content": payload.get("finalContent"), "metadata": "{}",
                                  "createdAt": crate::demo::format_ms(now_ms())});
                self.log_sync("message.new", data, conv.as_deref());
            }
            _ => {}
        }
    }

    fn log_sync(&self, ty: &str, data: Value, conversation: Option<&str>) {
        let mut log = self.sync_log.lock().unwrap();
        let seq = log.len() as u64 + 1;
        log.push(json!({"seq": seq, "type": ty, "data": data, "conversationId": conversation,
                        "at": crate::demo::format_ms(now_ms())}));
    }

    /// What `user` may see of the sync log after `since`: at most `limit` items, and
    /// whether more follow.
    pub(crate) fn sync_after(&self, user: &str, since: u64, limit: usize) -> (Vec<Value>, bool) {
        let conversations = self.conversations.lock().unwrap();
        let log = self.sync_log.lock().unwrap();
        let mut visible = log.iter().skip(since as usize).filter(|item| {
            match item.get("conversationId").and_then(Value::as_str).and_then(|c| conversations.get(c)) {
                Some(c) => c.members.contains(user),
                None => true,
            }
        });
        let events: Vec<Value> = visible.by_ref().take(limit).cloned().collect();
        let more = visible.next().is_some();
        (events, more)
    }

    /// The rooms `user` is put in at sign-in.
    fn rooms_of(&self, user: &str) -> HashSet<String> {
        let conversations = self.conversations.lock().unwrap();
        conversations.iter().filter(|(_, c)| c.members.contains(user)).map(|(id, _)| id.clone()).collect()
    }

    /// Whether a connection of `user` in `rooms` receives `frame`.
    fn reaches(&self, frame: &Value, user: &str, rooms: &HashSet<String>) -> bool {
        let Some(conv) = frame.pointer("/payload/conversationId").and_then(Value::as_str) else { return true };
        let conversations = self.conversations.lock().unwrap();
        match conversations.get(conv) {
            None => true,
            Some(c) => rooms.contains(conv) || (frame.get(VIA_REST).is_some() && c.members.contains(user)),
        }
    }

    /// `conversation.join`: into the room, if `user` is a member.
    fn may_join(&self, conv: &str, user: &str) -> bool {
        self.conversations.lock().unwrap().get(conv).is_some_and(|c| c.members.contains(user))
    }

    /// Names `user` (its `displayName` in `GET /api/im/users/{id}`).
    pub fn set_user_name(&self, user: &str, display: &str) {
        self.names.lock().unwrap().insert(user.to_owned(), display.to_owned());
    }

    /// `GET /api/im/users/{id}`'s `data`, as the real server answers it.
    pub(crate) fn user_json(&self, user: &str) -> Option<Value> {
        let names = self.names.lock().unwrap();
        let display = names.get(user)?;
        Some(json!({"id": user, "username": display.to_lowercase().replace(' ', "_"), "displayName": display,
                    "role": "human", "agentType": null, "avatarUrl": null}))
    }

    /// `GET /api/im/conversations/{id}`'s `data` for a participant, else `None`.
    pub(crate) fn conversation_json(&self, id: &str, user: &str) -> Option<Value> {
        let conversations = self.conversations.lock().unwrap();
        let c = conversations.get(id).filter(|c| c.members.contains(user))?;
        let names = self.names.lock().unwrap();
        let participants: Vec<Value> = c
            .members
            .iter()
            .map(|m| json!({"role": "member", "user": {"id": m, "displayName": names.get(m).cloned().unwrap_or_else(|| m.clone())}}))
            .collect();
        Some(json!({"id": id, "type": c.kind, "title": c.title, "status": "active", "metadata": "{}", "participants": participants}))
    }

    /// Makes WebSocket upgrades fail (503) or succeed again.
    pub fn set_ws_disabled(&self, disabled: bool) {
        self.ws_disabled.store(disabled, Ordering::SeqCst);
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
        self.hub.accepts(Some(token)).then(|| Self::user_id(token))
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
    let mut rooms: HashSet<String> = HashSet::new();
    let mut pending: HashMap<String, Value> = HashMap::new();
    let deadline = tokio::time::sleep(state.auth_timeout);
    tokio::pin!(deadline);

    // Query-token auth happens at once; a bad query token is answered like a bad frame.
    if let Some(t) = token.as_deref() {
        match state.user_for(Some(t)) {
            Some(u) => {
                rooms = state.rooms_of(&u);
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
                Ok(Outbound::Frame(f)) if !state.reaches(&f, user.as_deref().unwrap_or(""), &rooms) => Ok(()),
                Ok(Outbound::Frame(f)) => {
                    let mut frame = (*f).clone();
                    if let Some(o) = frame.as_object_mut() {
                        o.remove(VIA_REST);
                    }
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
                // Silenced while waiting here: half-open from now on (no pong, no answer).
                Some(Ok(Message::Text(_))) if state.hub.silent() => Ok(()),
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
                                    rooms = state.rooms_of(&u);
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
                            let mut ack = envelope("reconnect.ack", json!({"userId": u, "undeliveredCount": redelivered, "syncAdvised": true}));
                            if let Some(r) = request_id { ack["requestId"] = r; }
                            socket.send(text(&ack)).await
                        }
                        "conversation.join" => {
                            let u = user.clone().unwrap_or_default();
                            if let Some(c) = frame.pointer("/payload/conversationId").and_then(Value::as_str) {
                                if state.may_join(c, &u) {
                                    rooms.insert(c.to_owned());
                                }
                            }
                            Ok(())
                        }
                        "conversation.leave" => {
                            if let Some(c) = frame.pointer("/payload/conversationId").and_then(Value::as_str) {
                                rooms.remove(c);
                            }
                            Ok(())
                        }
                        "typing.start" | "typing.stop" | "presence.update"
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
                if !state.reaches(&f, &u, &rooms) {
                    continue;
                }
                let mut frame = (*f).clone();
                if let Some(o) = frame.as_object_mut() {
                    o.remove(VIA_REST);
                }
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

/// An (unsigned) JWT for `sub` expiring at `exp_secs`, shaped like the server's.
pub fn jwt(sub: &str, exp_secs: i64, nonce: u64) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
    let claims = b64(&json!({"sub": sub, "username": sub, "role": "agent", "iat": now_ms() / 1000, "exp": exp_secs, "n": nonce}));
    format!("{header}.{claims}.emulator")
}

fn jwt_claims(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A `message.new` envelope in `conversation` from `sender`.
pub fn message_new(id: &str, conversation: &str, sender: &str, content: &str) -> Value {
    json!({"type": "message.new", "timestamp": now_ms(),
           "payload": {"id": id, "conversationId": conversation, "senderId": sender, "type": "text",
                       "content": content, "metadata": {}, "createdAt": "2026-03-16T10:30:45.000Z"}})
}

impl crate::hub::Scenarios for PrismerState {
    fn publish_raw(&self, text: &str) {
        self.hub.publish_raw(text)
    }
    fn drop_connections(&self) {
        self.hub.drop_connections()
    }
    fn set_silent(&self, silent: bool) {
        self.hub.set_silent(silent)
    }
    fn set_delay(&self, delay: Duration) {
        self.hub.set_delay(delay)
    }
    fn hostile(&self, h: crate::hostile::Hostile) {
        self.hub.hostile(h)
    }
    fn restart(&self) {
        PrismerState::restart(self)
    }
}
