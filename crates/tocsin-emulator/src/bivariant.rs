//! The topic platform at `/v1/ws` (PROTOCOLS.md section 5, PROPOSED wire).
//!
//! Auth: `Authorization: Bearer` or `?token=`; otherwise HTTP 401
//! `{"code":"unauthenticated","message":"invalid API key"}`. On open the server sends
//! `connected` with the org. `subscribe` patterns are validated (grammar, and the
//! org segment must be the caller's org) and answered `subscribed` or `error`
//! (`forbidden`, `invalid_topic`). An event whose topic matches several patterns is
//! delivered once, naming the first. WebSocket pings every interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::hub::{bearer, Hub, Outbound};

/// The org every emulated key belongs to.
pub const ORG: &str = "org_123";

#[derive(Clone)]
pub(crate) struct BivariantState {
    pub hub: Arc<Hub>,
    pub ping_interval: Duration,
}

pub(crate) async fn upgrade(
    State(state): State<BivariantState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let key = bearer(&headers).or_else(|| query.get("token").cloned());
    if !state.hub.accepts(key.as_deref()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"code": "unauthenticated", "message": "invalid API key"})))
            .into_response();
    }
    ws.max_message_size(1 << 20).on_upgrade(move |socket| serve(state, socket))
}

/// NATS subject matching: `*` one token, `>` one or more trailing tokens.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    for (i, tok) in p.iter().enumerate() {
        if *tok == ">" {
            return s.len() > i;
        }
        match s.get(i) {
            Some(x) if *tok == "*" || tok == x => {}
            _ => return false,
        }
    }
    p.len() == s.len()
}

/// `Err((code, message))` when the pattern is refused.
fn check_pattern(pattern: &str) -> Result<(), (&'static str, String)> {
    let toks: Vec<&str> = pattern.split('.').collect();
    let valid = toks.first() == Some(&"events")
        && toks.iter().all(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        && toks.iter().all(|t| t.len() == 1 || !(t.contains('*') || t.contains('>')))
        && toks.iter().enumerate().all(|(i, t)| *t != ">" || i == toks.len() - 1)
        && (toks.len() >= 6 || toks.last() == Some(&">"));
    if !valid {
        return Err(("invalid_topic", format!("invalid topic pattern {pattern}")));
    }
    if toks.get(1) != Some(&ORG) {
        return Err(("forbidden", format!("topic outside org {ORG}")));
    }
    Ok(())
}

async fn serve(state: BivariantState, mut socket: WebSocket) {
    let _guard = state.hub.connection();
    let (mut live, mut kick) = state.hub.subscribe();
    let mut patterns: Vec<String> = Vec::new();
    let hello = json!({"type": "connected", "connectionId": format!("c_{}", state.hub.total_connections()),
                       "orgId": ORG, "heartbeatInterval": state.ping_interval.as_secs()});
    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
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
                Ok(Outbound::Frame(f)) => {
                    let topic = f.get("topic").or_else(|| f.get("notification").and_then(|n| n.get("topic")))
                        .and_then(Value::as_str).unwrap_or("");
                    match patterns.iter().find(|p| subject_matches(p, topic)) {
                        Some(p) => {
                    state.hub.pace().await;
                            let mut frame = (*f).clone();
                            if frame.get("type").and_then(Value::as_str) == Some("event") {
                                frame["subscription"] = json!(p);
                            }
                            socket.send(Message::Text(frame.to_string().into())).await
                        }
                        None => Ok(()),
                    }
                }
                Ok(Outbound::Raw(t)) => socket.send(Message::Text(t.to_string().into())).await,
                Ok(Outbound::Hostile(h)) => crate::hostile::play(&mut socket, &h).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                Err(_) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let frame: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    state.hub.record(frame.clone());
                    let id = frame.get("id").cloned().unwrap_or(Value::Null);
                    let topics: Vec<String> = frame.get("topics").and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default();
                    let reply = match frame.get("type").and_then(Value::as_str) {
                        Some("subscribe") => match topics.iter().map(|t| check_pattern(t).map_err(|e| (e, t.clone()))).find_map(Result::err) {
                            Some(((code, message), topic)) => json!({"type":"error","id":id,"code":code,"message":message,"topic":topic}),
                            None => {
                                for t in &topics { if !patterns.contains(t) { patterns.push(t.clone()); } }
                                json!({"type":"subscribed","id":id,"topics":topics})
                            }
                        },
                        Some("unsubscribe") => {
                            patterns.retain(|p| !topics.contains(p));
                            json!({"type":"unsubscribed","id":id,"topics":topics})
                        }
                        Some("ping") => json!({"type":"pong","id":id}),
                        _ => json!({"type":"error","id":id,"code":"invalid_frame","message":"unknown frame type"}),
                    };
                    socket.send(Message::Text(reply.to_string().into())).await
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

/// A `conversation.message_posted` event on `conv`, from the participant `acc_9`
/// (an id only, as the documented payload has it).
pub fn message_posted(id: &str, conv: &str, text: &str) -> Value {
    message_posted_by(id, conv, ("acc_9", None), text)
}

/// [`message_posted`] from `sender` (id, and the display name the PROPOSED
/// `senderName` field carries, if any).
pub fn message_posted_by(id: &str, conv: &str, sender: (&str, Option<&str>), text: &str) -> Value {
    let mut payload = json!({"roomId": "room_1", "conversationId": conv,
        "message": {"id": format!("msg_{id}"), "role": "user", "parts": [{"kind": "text", "text": text}]},
        "senderId": sender.0});
    if let Some(name) = sender.1 {
        payload["senderName"] = json!(name);
    }
    json!({
        "type": "event", "id": id,
        "topic": format!("events.{ORG}.conversations.conversation.message_posted.{conv}"),
        "event": "conversation.message_posted", "orgId": ORG, "source": "conversations",
        "resource": "conversation", "resourceId": conv, "timestamp": "2026-03-16T10:30:45.123Z",
        "payload": payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_matching() {
        let p = "events.org_123.conversations.conversation.message_posted.*";
        assert!(subject_matches(p, "events.org_123.conversations.conversation.message_posted.conv_1"));
        assert!(!subject_matches(p, "events.org_123.conversations.conversation.message_posted.conv_1.participant.p"));
        assert!(subject_matches("events.org_123.>", "events.org_123.a.b"));
        assert!(!subject_matches("events.org_123.>", "events.org_123"));
        assert!(check_pattern("events.org_999.a.b.c.d").is_err());
        assert!(check_pattern("events.org_123.a.b.c.d").is_ok());
        assert!(check_pattern("events.org_123.>.x").is_err());
    }
}
