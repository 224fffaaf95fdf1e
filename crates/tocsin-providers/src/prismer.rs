//! Prismer Cloud (PROTOCOLS.md section 4, verified from the open-source server).
//!
//! - URL `wss://prismer.cloud/ws`; auth by `?token=<JWT>` or, after open, an
//!   `authenticate` frame (10 s deadline). Success is `authenticated` (server) or
//!   `auth_success` (cookbook); failure is `error` with `AUTH_FAILED` or
//!   `auth_error`, and the client gives up at once.
//! - Envelope `{type, payload, requestId?, timestamp, ackId?}`, camelCase.
//! - The server never pings: the client sends an app `ping` every 25 s and treats
//!   10 s without any frame after it as a dead connection.
//! - Tracked events carry `ackId`; the client acknowledges them with `ack` once
//!   they are committed. Unacknowledged events are redelivered with `isRetry`.
//! - Eviction by a newer client (`error` with `data.message`) is fatal: retrying
//!   would make two clients fight.
//! - Cookbook aliases accepted: `message.edited`, `presence.update`, `task.updated`.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_model::{Event, EventKind, Provider};
use tocsin_secrets::Sensitive;

use crate::json::{str_at, string_at, strings_at};
use crate::time::parse_rfc3339_ms;
use crate::{
    fingerprint, with_query, Adapter, AuthMode, ConnectPlan, Control, DecodeError, Heartbeat, Inbound, Session,
    Subscriptions,
};

/// The Prismer adapter for one account.
#[derive(Debug, Clone)]
pub struct Prismer {
    url: String,
    auth: AuthMode,
    subscriptions: Subscriptions,
}

impl Prismer {
    pub fn new(url: &str, auth: AuthMode, subscriptions: Subscriptions) -> Self {
        Prismer { url: url.to_owned(), auth, subscriptions }
    }
}

fn envelope(ty: &str, payload: Value, request_id: Option<&str>, now_ms: i64) -> String {
    let mut frame = json!({"type": ty, "payload": payload, "timestamp": now_ms});
    if let Some(r) = request_id {
        frame["requestId"] = json!(r);
    }
    frame.to_string()
}

/// `{"type":"ack","payload":{"ackId":..}}`.
pub fn encode_ack(ack_id: &str) -> String {
    json!({"type": "ack", "payload": {"ackId": ack_id}}).to_string()
}

/// The app-level heartbeat, with `requestId` both at the top and in the payload.
pub fn encode_ping(n: u64, now_ms: i64) -> String {
    let id = format!("hb-{n}");
    envelope("ping", json!({"requestId": id}), Some(&id), now_ms)
}

impl Adapter for Prismer {
    fn provider(&self) -> Provider {
        Provider::Prismer
    }

    fn connect_plan(&self, key: &Sensitive<String>, _resume: Option<&str>) -> ConnectPlan {
        let url = match self.auth {
            AuthMode::Frame => self.url.clone(),
            _ => with_query(&self.url, "token", key.expose()),
        };
        ConnectPlan { log_url: tocsin_secrets::redact_url(&url), url: Sensitive::new(url), headers: Vec::new() }
    }

    fn auth_frame(&self, key: &Sensitive<String>, now_ms: i64) -> Option<Sensitive<String>> {
        (self.auth == AuthMode::Frame)
            .then(|| Sensitive::new(envelope("authenticate", json!({"token": key.expose()}), Some("auth-1"), now_ms)))
    }

    fn expects_auth_ack(&self) -> bool {
        true
    }

    fn on_open(&self, resume: Option<&str>) -> Vec<String> {
        // The server joins every conversation of the user on auth; explicit joins
        // cover conversations configured by id. After a reconnect, `reconnect` asks
        // for what is still undelivered since the last event's time.
        let mut frames: Vec<String> = self
            .subscriptions
            .conversations
            .iter()
            .map(|c| json!({"type": "conversation.join", "payload": {"conversationId": c}}).to_string())
            .collect();
        if let Some(last) = resume.and_then(|r| r.parse::<i64>().ok()) {
            frames.push(envelope("reconnect", json!({"lastEventTime": last}), Some("reconnect-1"), 0));
        }
        frames
    }

    fn expects_subscribe_ack(&self) -> bool {
        false
    }

    fn decode_in(&self, session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
        decode(session, text, received_at_ms)
    }

    fn command(&self, command: &crate::Command, request_id: &str) -> Result<crate::CommandPlan, String> {
        match command {
            // Marks the whole conversation read, up to its latest message (the server's only form).
            crate::Command::MarkRead { thread: Some(c), .. } => Ok(crate::CommandPlan::Rest {
                method: "POST",
                path: format!("/api/im/conversations/{}/read", crate::percent_encode(c)),
                body: Value::Null,
            }),
            crate::Command::Reply { thread: Some(c), message_id, text, .. } => {
                let mut payload = json!({"conversationId": c, "content": text, "type": "text"});
                if let Some(m) = message_id {
                    payload["parentId"] = json!(m);
                }
                Ok(crate::CommandPlan::Socket { frame: envelope("message.send", payload, Some(request_id), 0), request_id: None })
            }
            _ => Err("this event is not in a conversation".into()),
        }
    }

    fn sse_plan(&self, key: &Sensitive<String>) -> Option<ConnectPlan> {
        let base = crate::Endpoint::new(&self.url, self.auth).rest_base();
        let url = with_query(&format!("{base}/sse"), "token", key.expose());
        Some(ConnectPlan { log_url: tocsin_secrets::redact_url(&url), url: Sensitive::new(url), headers: Vec::new() })
    }

    fn replays_missed_events(&self) -> bool {
        true
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat { ping_every: Duration::from_secs(25), dead_after: Duration::from_secs(35) }
    }

    fn app_ping(&self, n: u64, now_ms: i64) -> Option<String> {
        Some(encode_ping(n, now_ms))
    }

    fn ack_frame(&self, token: &str) -> Option<String> {
        Some(encode_ack(token))
    }
}

fn kind_of(ty: &str) -> EventKind {
    match ty {
        "message.new" => EventKind::MessageReceived,
        "message.updated" | "message.edit" | "message.edited" | "message.reaction" => EventKind::MessageUpdated,
        "message.delivered" => EventKind::MessageDelivered,
        "message.read" => EventKind::MessageRead,
        "message.deleted" => EventKind::MessageDeleted,
        "message.stream.chunk" => EventKind::StreamChunk,
        "message.stream.end" => EventKind::StreamEnd,
        "typing.indicator" => EventKind::Typing,
        "presence.changed" | "presence.update" => EventKind::Presence,
        "conversation.updated" | "conversation.created" | "participant.joined" | "participant.left" => {
            EventKind::ConversationChanged
        }
        "task.notification" | "task.updated" => EventKind::TaskUpdated,
        "agent.registered" | "agent.status" => EventKind::AccountChanged,
        t if t.starts_with("contact.") || t.starts_with("community.") || t == "event.subscription" => {
            EventKind::Notification
        }
        _ => EventKind::Other,
    }
}

/// Decodes one Prismer frame (WebSocket, or the `data:` of an SSE event).
pub fn decode(session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
    let frame: Value =
        serde_json::from_str(text).map_err(|e| DecodeError(format!("Prismer frame is not JSON ({e})")))?;
    let Some(ty) = str_at(&frame, "type") else {
        return Err(DecodeError("Prismer frame has no \"type\"".into()));
    };
    let payload = frame.get("payload").cloned().unwrap_or(Value::Null);
    match ty {
        "authenticated" | "auth_success" => {
            return Ok(Inbound::Control(Control::Authenticated { user_id: string_at(&payload, &["userId"]) }))
        }
        "auth_error" => {
            let message = string_at(&payload, &["message"]).unwrap_or_else(|| "authentication failed".into());
            return Ok(Inbound::Control(Control::ServerError { code: Some("AUTH_FAILED".into()), message, fatal: true }));
        }
        "pong" => return Ok(Inbound::Control(Control::Pong)),
        "reconnect.ack" => return Ok(Inbound::Control(Control::Pong)),
        "error" => {
            if let Some(data) = frame.get("data") {
                let message = string_at(data, &["message"]).unwrap_or_default();
                if message.contains("replaced by newer client") {
                    return Ok(Inbound::Control(Control::ServerError {
                        code: Some("EVICTED".into()),
                        message: "another Tocsin or client signed in with this account and replaced this connection"
                            .into(),
                        fatal: true,
                    }));
                }
            }
            let code = string_at(&payload, &["code"]);
            let message = string_at(&payload, &["message"]).unwrap_or_else(|| "unknown error".into());
            let fatal = matches!(code.as_deref(), Some("AUTH_FAILED")) || message == "Authentication timeout";
            return Ok(Inbound::Control(Control::ServerError { code, message, fatal }));
        }
        _ => {}
    }
    Ok(Inbound::Event(Box::new(decode_event(session, ty, &frame, &payload, received_at_ms))))
}

fn decode_event(session: &Session, ty: &str, frame: &Value, payload: &Value, received_at_ms: i64) -> Event {
    let mut kind = kind_of(ty);
    let id_part = string_at(payload, &["id"])
        .or_else(|| string_at(payload, &["messageId"]))
        .or_else(|| {
            let stream = string_at(payload, &["streamId"])?;
            Some(format!("{stream}:{}", payload.get("index").map(Value::to_string).unwrap_or_default()))
        })
        .unwrap_or_else(|| format!("fp:{}", fingerprint(&format!("{ty}{payload}"))));
    let sender = string_at(payload, &["senderId", "userId", "fromUserId", "actorId", "readBy", "editedBy"]);
    if ty == "message.new" && sender.is_some() && sender == session.user_id {
        kind = EventKind::MessageSent;
    }
    let mut labels = Vec::new();
    let route_targets = payload.get("metadata").map(|m| strings_at(m, "routeTargets")).unwrap_or_default();
    if session.user_id.as_ref().is_some_and(|me| route_targets.contains(me)) {
        labels.push("mention".to_owned());
    }
    let text = match kind {
        EventKind::StreamChunk => string_at(payload, &["chunk"]),
        EventKind::StreamEnd => string_at(payload, &["finalContent"]),
        EventKind::Notification => string_at(payload, &["snippet", "reason", "postTitle"]),
        EventKind::TaskUpdated => string_at(payload, &["status"]).map(|s| format!("Task {s}")),
        EventKind::Presence => string_at(payload, &["status"]),
        _ => string_at(payload, &["content"]),
    };
    Event {
        dedupe_key: format!("prismer:{ty}:{id_part}"),
        provider: Provider::Prismer,
        account: session.account.clone(),
        kind,
        provider_type: ty.to_owned(),
        // The envelope time: the cursor for `reconnect` (`lastEventTime`).
        provider_event_id: frame.get("timestamp").and_then(Value::as_i64).map(|t| t.to_string()),
        occurred_at_ms: string_at(payload, &["createdAt", "editedAt", "readAt", "deliveredAt", "acceptedAt"])
            .as_deref()
            .and_then(parse_rfc3339_ms)
            .or_else(|| frame.get("timestamp").and_then(Value::as_i64)),
        received_at_ms,
        inbox: None,
        thread: string_at(payload, &["conversationId"]),
        message_id: string_at(payload, &["id", "messageId"]),
        sender,
        subject: string_at(payload, &["title", "postTitle"]),
        text,
        html: None,
        labels,
        attachments: Vec::new(),
        replayed: frame.get("isRetry").and_then(Value::as_bool).unwrap_or(false),
        ack: string_at(frame, &["ackId"]),
        priority: None,
        topic: None,
        raw: frame.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session { account: "agents".into(), user_id: Some("usr_me".into()) }
    }

    fn event(text: &str) -> Event {
        match decode(&session(), text, 5).unwrap() {
            Inbound::Event(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    const NEW: &str = r#"{"type":"message.new","payload":{"id":"msg_def456","conversationId":"conv_abc123",
      "senderId":"usr_xyz789","type":"text","content":"Hello, world!","metadata":{"routeTargets":["usr_me"],
      "routingMode":"mention"},"createdAt":"2024-01-01T12:00:00.000Z"},"timestamp":1699000000000,"ackId":"ack_42"}"#;

    #[test]
    fn decodes_message_new_with_ack_and_mention() {
        let e = event(NEW);
        assert_eq!(e.kind, EventKind::MessageReceived);
        assert_eq!(e.dedupe_key, "prismer:message.new:msg_def456");
        assert_eq!(e.ack.as_deref(), Some("ack_42"));
        assert_eq!(e.thread.as_deref(), Some("conv_abc123"));
        assert_eq!(e.sender.as_deref(), Some("usr_xyz789"));
        assert_eq!(e.text.as_deref(), Some("Hello, world!"));
        assert_eq!(e.labels, ["mention"]);
        assert_eq!(e.occurred_at_ms, Some(1_704_110_400_000));
        assert!(!e.replayed);
        let retry = event(&NEW.replace(r#""ackId":"ack_42""#, r#""ackId":"ack_42","isRetry":true"#));
        assert!(retry.replayed);
        assert_eq!(retry.dedupe_key, e.dedupe_key, "a redelivery dedupes with the original");
    }

    #[test]
    fn own_messages_are_sent_not_received() {
        let e = event(&NEW.replace("usr_xyz789", "usr_me"));
        assert_eq!(e.kind, EventKind::MessageSent);
    }

    #[test]
    fn every_event_and_alias_maps() {
        let cases = [
            ("message.updated", r#"{"id":"m","conversationId":"c","content":"x"}"#, EventKind::MessageUpdated),
            ("message.edit", r#"{"id":"m","conversationId":"c","content":"x","editedBy":"u"}"#, EventKind::MessageUpdated),
            ("message.edited", r#"{"id":"m","conversationId":"c"}"#, EventKind::MessageUpdated),
            ("message.reaction", r#"{"messageId":"m","conversationId":"c","emoji":"+1"}"#, EventKind::MessageUpdated),
            ("message.delivered", r#"{"conversationId":"c","messageIds":["m"]}"#, EventKind::MessageDelivered),
            ("message.read", r#"{"conversationId":"c","readBy":"u"}"#, EventKind::MessageRead),
            ("message.deleted", r#"{"id":"m","conversationId":"c"}"#, EventKind::MessageDeleted),
            ("message.stream.chunk", r#"{"streamId":"s","conversationId":"c","chunk":"He","index":0}"#, EventKind::StreamChunk),
            ("message.stream.end", r#"{"streamId":"s","messageId":"m","finalContent":"Hello"}"#, EventKind::StreamEnd),
            ("typing.indicator", r#"{"conversationId":"c","userId":"u","isTyping":true}"#, EventKind::Typing),
            ("presence.changed", r#"{"userId":"u","status":"online"}"#, EventKind::Presence),
            ("presence.update", r#"{"userId":"u","status":"away"}"#, EventKind::Presence),
            ("conversation.updated", r#"{"id":"c","title":"T"}"#, EventKind::ConversationChanged),
            ("participant.joined", r#"{"conversationId":"c","userId":"u"}"#, EventKind::ConversationChanged),
            ("participant.left", r#"{"conversationId":"c","userId":"u"}"#, EventKind::ConversationChanged),
            ("conversation.created", r#"{"id":"c"}"#, EventKind::ConversationChanged),
            ("agent.registered", r#"{"agentId":"a","name":"n"}"#, EventKind::AccountChanged),
            ("agent.status", r#"{"agentId":"a","status":"busy"}"#, EventKind::AccountChanged),
            ("task.notification", r#"{"taskId":"t","title":"Build","status":"done"}"#, EventKind::TaskUpdated),
            ("task.updated", r#"{"taskId":"t","status":"done"}"#, EventKind::TaskUpdated),
            ("event.subscription", r#"{"source":"s","event":"e","data":{}}"#, EventKind::Notification),
            ("contact.request", r#"{"requestId":"r","fromUserId":"u"}"#, EventKind::Notification),
            ("contact.accepted", r#"{"fromUserId":"u","toUserId":"v"}"#, EventKind::Notification),
            ("contact.rejected", r#"{"fromUserId":"u","toUserId":"v"}"#, EventKind::Notification),
            ("contact.removed", r#"{"userId":"u"}"#, EventKind::Notification),
            ("contact.blocked", r#"{"userId":"u"}"#, EventKind::Notification),
            ("community.reply", r#"{"postId":"p","postTitle":"T","actorId":"a"}"#, EventKind::Notification),
            ("community.vote", r#"{"postId":"p","actorId":"a","value":1}"#, EventKind::Notification),
            ("community.answer.accepted", r#"{"postId":"p","actorId":"a"}"#, EventKind::Notification),
            ("community.mention", r#"{"actorId":"a","snippet":"@me"}"#, EventKind::Notification),
            ("evolution.signal", r#"{"x":1}"#, EventKind::Other),
        ];
        for (ty, payload, kind) in cases {
            let e = event(&format!(r#"{{"type":"{ty}","payload":{payload},"timestamp":1}}"#));
            assert_eq!(e.kind, kind, "{ty}");
            assert_eq!(e.provider_type, ty);
        }
        let chunk = event(r#"{"type":"message.stream.chunk","payload":{"streamId":"s","chunk":"He","index":3}}"#);
        assert_eq!(chunk.dedupe_key, "prismer:message.stream.chunk:s:3");
        let a = event(r#"{"type":"contact.removed","payload":{"userId":"u","removedAt":1}}"#);
        let b = event(r#"{"type":"contact.removed","payload":{"userId":"u","removedAt":1}}"#);
        assert_eq!(a.dedupe_key, b.dedupe_key, "id-less payloads dedupe by content");
    }

    #[test]
    fn auth_results() {
        let c = |t: &str| match decode(&session(), t, 0).unwrap() {
            Inbound::Control(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            c(r#"{"type":"authenticated","payload":{"userId":"usr_01"},"timestamp":1}"#),
            Control::Authenticated { user_id: Some("usr_01".into()) }
        );
        assert_eq!(
            c(r#"{"type":"auth_success","payload":{"userId":"usr_02","name":"my-agent"}}"#),
            Control::Authenticated { user_id: Some("usr_02".into()) }
        );
        assert!(matches!(
            c(r#"{"type":"error","payload":{"message":"Invalid token","code":"AUTH_FAILED"},"timestamp":1}"#),
            Control::ServerError { fatal: true, .. }
        ));
        assert!(matches!(c(r#"{"type":"auth_error","payload":{"message":"bad"}}"#), Control::ServerError { fatal: true, .. }));
        assert!(matches!(
            c(r#"{"type":"error","data":{"message":"Connection replaced by newer client"}}"#),
            Control::ServerError { fatal: true, code: Some(ref code), .. } if code == "EVICTED"
        ));
        assert!(matches!(
            c(r#"{"type":"error","payload":{"message":"Unknown event type: x","code":"UNKNOWN_EVENT"}}"#),
            Control::ServerError { fatal: false, .. }
        ));
        assert_eq!(c(r#"{"type":"pong","payload":{},"requestId":"hb-1"}"#), Control::Pong);
    }

    #[test]
    fn client_frames() {
        let p = Prismer::new("ws://h/ws", AuthMode::Frame, Subscriptions { conversations: vec!["conv_1".into()], ..Default::default() });
        let key = Sensitive::from("jwt.a.b");
        let plan = p.connect_plan(&key, None);
        assert_eq!(plan.url.expose(), "ws://h/ws");
        let auth: Value = serde_json::from_str(p.auth_frame(&key, 7).unwrap().expose()).unwrap();
        assert_eq!(auth, json!({"type":"authenticate","payload":{"token":"jwt.a.b"},"requestId":"auth-1","timestamp":7}));
        let q = Prismer::new("ws://h/ws", AuthMode::Query, Subscriptions::default());
        assert_eq!(q.connect_plan(&key, None).url.expose(), "ws://h/ws?token=jwt.a.b");
        assert!(q.auth_frame(&key, 0).is_none());
        let ping: Value = serde_json::from_str(&encode_ping(3, 9)).unwrap();
        assert_eq!(ping, json!({"type":"ping","payload":{"requestId":"hb-3"},"requestId":"hb-3","timestamp":9}));
        let ack: Value = serde_json::from_str(&encode_ack("ack_42")).unwrap();
        assert_eq!(ack, json!({"type":"ack","payload":{"ackId":"ack_42"}}));
        let join: Value = serde_json::from_str(&p.on_open(None)[0]).unwrap();
        assert_eq!(join, json!({"type":"conversation.join","payload":{"conversationId":"conv_1"}}));
        let frames = p.on_open(Some("1699000000000"));
        let reconnect: Value = serde_json::from_str(&frames[1]).unwrap();
        assert_eq!(reconnect["type"], "reconnect");
        assert_eq!(reconnect["payload"]["lastEventTime"], 1_699_000_000_000i64);
    }
}
