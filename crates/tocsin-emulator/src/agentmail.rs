//! AgentMail at `/v0` (PROTOCOLS.md section 2), as the official SDKs expect it.
//!
//! Auth: `Authorization: Bearer`, `?api_key=` or `?auth_token=`; otherwise HTTP 401
//! `{"name":"UnauthorizedError","message":"Invalid API key"}`. The one client frame
//! is `subscribe` (optional `inbox_ids`, `pod_ids`, `event_types`; a new one
//! replaces the filter), answered `subscribed` echoing the filter. Events are
//! `{"type":"event","event_type":..,"event_id":..,<payload key>:{..}}`. Mark-read goes
//! through REST: `PATCH /v0/inboxes/{inbox}/messages/{id}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::hub::{bearer, Hub, Outbound};

#[derive(Clone)]
pub(crate) struct AgentMailState {
    pub hub: Arc<Hub>,
    pub ping_interval: Duration,
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"name": "UnauthorizedError", "message": "Invalid API key"}))).into_response()
}

pub(crate) async fn upgrade(
    State(state): State<AgentMailState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let key = bearer(&headers).or_else(|| query.get("api_key").cloned()).or_else(|| query.get("auth_token").cloned());
    if !state.hub.accepts(key.as_deref()) {
        return unauthorized();
    }
    ws.max_message_size(1 << 20).on_upgrade(move |socket| serve(state, socket))
}

/// `PATCH /v0/inboxes/{inbox_id}/messages/{message_id}`: label changes (mark read).
pub(crate) async fn patch_message(
    State(state): State<AgentMailState>,
    headers: HeaderMap,
    Path((inbox_id, message_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if !state.hub.accepts(bearer(&headers).as_deref()) {
        return unauthorized();
    }
    state.hub.record(json!({"rest": "PATCH message", "inbox_id": inbox_id, "message_id": message_id, "body": body}));
    let mut labels: Vec<String> = vec!["received".into(), "unread".into()];
    if let Some(remove) = body.get("remove_labels").and_then(Value::as_array) {
        labels.retain(|l| !remove.iter().any(|r| r.as_str() == Some(l)));
    }
    if let Some(add) = body.get("add_labels").and_then(Value::as_array) {
        labels.extend(add.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    Json(json!({"inbox_id": inbox_id, "message_id": message_id, "labels": labels})).into_response()
}

#[derive(Default)]
struct Filter {
    inboxes: Option<Vec<String>>,
    pods: Option<Vec<String>>,
    types: Option<Vec<String>>,
}

impl Filter {
    fn matches(&self, frame: &Value) -> bool {
        let event_type = frame.get("event_type").and_then(Value::as_str).unwrap_or("");
        if let Some(types) = &self.types {
            if !types.iter().any(|t| t == event_type) {
                return false;
            }
        }
        let inbox = ["message", "send", "delivery", "bounce", "complaint", "reject", "open"]
            .iter()
            .find_map(|k| frame.get(*k).and_then(|p| p.get("inbox_id")).and_then(Value::as_str))
            .or_else(|| frame.get("inbox_id").and_then(Value::as_str));
        let pod = frame.get("pod_id").and_then(Value::as_str);
        match (&self.inboxes, &self.pods) {
            (None, None) => true,
            (inboxes, pods) => {
                inboxes.as_ref().is_some_and(|l| inbox.is_some_and(|i| l.iter().any(|x| x == i)))
                    || pods.as_ref().is_some_and(|l| pod.is_some_and(|p| l.iter().any(|x| x == p)))
            }
        }
    }
}

fn list(frame: &Value, key: &str) -> Option<Vec<String>> {
    frame.get(key)?.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
}

async fn serve(state: AgentMailState, mut socket: WebSocket) {
    let _guard = state.hub.connection();
    let (mut live, mut kick) = state.hub.subscribe();
    let mut filter: Option<Filter> = None; // nothing is sent before the first subscribe
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + state.ping_interval, state.ping_interval);
    loop {
        if state.hub.silent() {
            tokio::select! {
                _ = kick.recv() => return,
                _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
            }
        }
        let sent = tokio::select! {
            _ = kick.recv() => return,
            // Silenced while waiting here: the half-open connection starts now, not after one more ping.
            _ = ping.tick() => if state.hub.silent() { Ok(()) } else { socket.send(Message::Ping(Vec::new().into())).await },
            item = live.recv() => match item {
                Ok(Outbound::Frame(f)) if filter.as_ref().is_some_and(|fl| fl.matches(&f)) => {
                    state.hub.pace().await;
                    socket.send(Message::Text(f.to_string().into())).await
                }
                Ok(Outbound::Frame(_)) => Ok(()),
                Ok(Outbound::Raw(t)) => socket.send(Message::Text(t.to_string().into())).await,
                Ok(Outbound::Hostile(h)) => crate::hostile::play(&mut socket, &h).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame { code: 1008, reason: "slow consumer".into() }))).await;
                    return;
                }
                Err(_) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Ok(frame) = serde_json::from_str::<Value>(t.as_str()) else {
                        let _ = socket.send(Message::Text(json!({"type":"error","name":"ValidationError","message":"invalid JSON"}).to_string().into())).await;
                        continue;
                    };
                    state.hub.record(frame.clone());
                    if frame.get("type").and_then(Value::as_str) == Some("subscribe") {
                        let f = Filter { inboxes: list(&frame, "inbox_ids"), pods: list(&frame, "pod_ids"), types: list(&frame, "event_types") };
                        let reply = json!({"type": "subscribed", "inbox_ids": f.inboxes, "pod_ids": f.pods, "event_types": f.types});
                        filter = Some(f);
                        socket.send(Message::Text(reply.to_string().into())).await
                    } else {
                        socket.send(Message::Text(json!({"type":"error","name":"ValidationError","message":"unknown message type"}).to_string().into())).await
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

/// One page of `items` from `query`'s `page_token` (an offset here) and `limit`
/// (default 100), with `next_page_token` when more follow, as the SDK's list
/// responses have it (`{"count","limit","next_page_token",<key>:[..]}`).
fn page(items: Vec<Value>, query: &HashMap<String, String>, key: &str) -> Value {
    let start: usize = query.get("page_token").and_then(|t| t.parse().ok()).unwrap_or(0);
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).clamp(1, 1000);
    let total = items.len();
    let chunk: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut out = json!({"count": chunk.len(), "limit": limit, key: chunk});
    if start + limit < total {
        out["next_page_token"] = json!((start + limit).to_string());
    }
    out
}

/// `GET /v0/inboxes`: every inbox that received mail, paged.
pub(crate) async fn list_inboxes(
    State(state): State<AgentMailState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !state.hub.accepts(bearer(&headers).as_deref()) {
        return unauthorized();
    }
    state.hub.record(json!({"rest": "GET inboxes", "query": query}));
    let mut ids: Vec<String> = Vec::new();
    for f in state.hub.history() {
        if let Some(i) = f.pointer("/message/inbox_id").and_then(Value::as_str) {
            if !ids.iter().any(|x| x == i) {
                ids.push(i.to_owned());
            }
        }
    }
    let inboxes = ids.into_iter().map(|i| json!({"inbox_id": i, "display_name": i})).collect();
    Json(page(inboxes, &query, "inboxes")).into_response()
}

/// `GET /v0/inboxes/{inbox_id}/messages?after=<ISO>&ascending=true&limit=&page_token=`:
/// the inbox's received messages after a time, paged, as the REST API lists them.
pub(crate) async fn list_messages(
    State(state): State<AgentMailState>,
    headers: HeaderMap,
    Path(inbox_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !state.hub.accepts(bearer(&headers).as_deref()) {
        return unauthorized();
    }
    state.hub.record(json!({"rest": "GET messages", "inbox_id": inbox_id, "query": query}));
    let after = query.get("after").cloned().unwrap_or_default();
    let mut messages: Vec<Value> = state
        .hub
        .history()
        .into_iter()
        .filter(|f| f.get("event_type").and_then(Value::as_str).is_some_and(|t| t.starts_with("message.received")))
        .filter_map(|f| f.get("message").cloned())
        .filter(|m| m.get("inbox_id").and_then(Value::as_str) == Some(inbox_id.as_str()))
        // RFC 3339 UTC strings of one format compare in time order.
        .filter(|m| m.get("timestamp").and_then(Value::as_str).is_some_and(|t| t > after.as_str()))
        .collect();
    if query.get("ascending").map(String::as_str) != Some("true") {
        messages.reverse();
    }
    Json(page(messages, &query, "messages")).into_response()
}

/// A `message.received` event frame, shaped as the SDK's `MessageReceivedEvent`.
pub fn message_received(event_id: &str, inbox: &str, from: &str, subject: &str, text: &str, labels: &[&str]) -> Value {
    let now = crate::demo::format_ms(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0),
    );
    let message_id = format!("<{event_id}@agentmail.emulator>");
    json!({
        "type": "event", "event_type": "message.received", "event_id": event_id,
        "message": {
            "inbox_id": inbox, "thread_id": format!("thr_{event_id}"), "message_id": message_id,
            "labels": labels, "timestamp": now, "from": from, "to": [inbox], "subject": subject,
            "preview": text.chars().take(60).collect::<String>(), "text": text,
            "size": text.len(), "updated_at": now, "created_at": now
        },
        "thread": {
            "inbox_id": inbox, "thread_id": format!("thr_{event_id}"), "labels": labels, "timestamp": now,
            "senders": [from], "recipients": [inbox], "subject": subject, "last_message_id": message_id,
            "message_count": 1, "size": text.len(), "updated_at": now, "created_at": now
        }
    })
}
