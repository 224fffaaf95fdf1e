//! The ticket-authenticated Chat SDK socket (PROTOCOLS.md section 3, PROPOSED wire).
//!
//! `POST /ws/ticket` with `Authorization: Bearer <key>` and a resource body returns
//! a single-use ticket valid for 30 s (`{"success":true,"data":{"ticket":..}}`), or
//! 401 `UNAUTHORIZED`. `GET /ws/chat/{thread}`, `/ws/workspaces/{w}/transcripts/{t}`
//! and `/ws/{kind}` upgrade with `?ticket=`; a missing, reused, expired or
//! mismatched ticket gets HTTP 401. The socket answers app `ping` with `pong` and
//! sends no protocol pings (the documented edge strips them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::hub::{bearer, Hub, Outbound};

const TICKET_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) struct DivinciState {
    pub hub: Arc<Hub>,
    tickets: Arc<Mutex<HashMap<String, (Value, Instant)>>>,
    next: Arc<AtomicU64>,
}

impl DivinciState {
    pub fn new(hub: Arc<Hub>) -> Self {
        DivinciState { hub, tickets: Arc::default(), next: Arc::default() }
    }
}

pub(crate) async fn ticket(State(state): State<DivinciState>, headers: HeaderMap, body: String) -> Response {
    if !state.hub.accepts(bearer(&headers).as_deref()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"success": false, "error": {"code": "UNAUTHORIZED", "message": "Invalid API key"}})),
        )
            .into_response();
    }
    let resource: Value = serde_json::from_str(&body).unwrap_or(json!({"type": "notifications"}));
    state.hub.record(json!({"rest": "POST /ws/ticket", "body": resource}));
    let n = state.next.fetch_add(1, Ordering::SeqCst);
    let ticket = format!("wst_{n:06}_{:08x}", rand::random::<u32>());
    state.tickets.lock().unwrap().insert(ticket.clone(), (resource, Instant::now()));
    Json(json!({"success": true, "data": {"ticket": ticket, "expiresAt": "", "expiresIn": TICKET_TTL.as_secs()}}))
        .into_response()
}

/// The resource a socket path names, in the ticket body's shape.
fn resource_of(path: &str) -> Option<Value> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match segs.as_slice() {
        ["chat", thread] => json!({"type": "chat", "threadId": thread}),
        ["workspaces", ws, "transcripts", tr] => json!({"type": "transcript", "workspaceId": ws, "transcriptId": tr}),
        [kind] => json!({"type": kind}),
        _ => return None,
    })
}

pub(crate) async fn upgrade(
    State(state): State<DivinciState>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let resource = resource_of(&path);
    let taken = query.get("ticket").and_then(|t| state.tickets.lock().unwrap().remove(t));
    let valid = match (&resource, taken) {
        (Some(r), Some((bound, issued))) => *r == bound && issued.elapsed() < TICKET_TTL,
        _ => false,
    };
    if !valid {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"success": false, "error": {"code": "TICKET_INVALID", "message": "missing, used, expired or mismatched ticket"}})),
        )
            .into_response();
    }
    let resource = resource.expect("checked");
    ws.max_message_size(1 << 20).on_upgrade(move |socket| serve(state, socket, resource))
}

fn for_resource(resource: &Value, frame: &Value) -> bool {
    match resource.get("type").and_then(Value::as_str) {
        Some("chat") => frame.get("threadId") == resource.get("threadId"),
        Some("transcript") => frame.get("transcriptId") == resource.get("transcriptId"),
        Some(kind) => frame.get("type").and_then(Value::as_str) == Some(if kind == "notifications" { "notification" } else { kind }),
        None => false,
    }
}

async fn serve(state: DivinciState, mut socket: WebSocket, resource: Value) {
    let _guard = state.hub.connection();
    let (mut live, mut kick) = state.hub.subscribe();
    let hello = json!({"type": "connected", "socketId": format!("s_{}", state.hub.total_connections()), "resource": resource});
    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    loop {
        if state.hub.silent() {
            tokio::select! {
                _ = kick.recv() => return,
                _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
            }
        }
        let sent = tokio::select! {
            _ = kick.recv() => return,
            item = live.recv() => match item {
                Ok(Outbound::Frame(f)) if for_resource(&resource, &f) => {
                    state.hub.pace().await;
                    socket.send(Message::Text(f.to_string().into())).await
                }
                Ok(Outbound::Frame(_)) => Ok(()),
                Ok(Outbound::Raw(t)) => socket.send(Message::Text(t.to_string().into())).await,
                Ok(Outbound::Hostile(h)) => crate::hostile::play(&mut socket, &h).await,
                Err(_) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let frame: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    state.hub.record(frame.clone());
                    if state.hub.silent() {
                        Ok(()) // silenced while waiting here: half-open from now on
                    } else if frame.get("type").and_then(Value::as_str) == Some("ping") {
                        socket.send(Message::Text(json!({"type":"pong","ts": frame.get("ts")}).to_string().into())).await
                    } else {
                        socket.send(Message::Text(json!({"type":"error","code":"UNSUPPORTED","message":"only ping is accepted on this socket"}).to_string().into())).await
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => Ok(()),
            },
        };
        if sent.is_err() {
            return;
        }
    }
}

/// A `message.created` frame from the assistant in `thread`.
pub fn message_created(id: &str, thread: &str, content: &str) -> Value {
    json!({"type": "message.created", "threadId": thread,
           "message": {"id": id, "threadId": thread, "role": "assistant", "contentType": "text",
                       "content": content, "createdAt": "2026-03-16T10:30:45Z", "metadata": {}}})
}
