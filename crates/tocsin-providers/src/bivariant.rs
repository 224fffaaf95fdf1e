//! The NATS-backed topic platform, "Bivariant" (PROTOCOLS.md section 5; the wire
//! is PROPOSED there, and the emulator implements the same proposal).
//!
//! - URL `wss://eu1.api.bivariant.com/v1/ws`; `Authorization: Bearer <key>` or `?token=`.
//! - After `connected`, the client subscribes to topic patterns with NATS wildcard
//!   semantics (`*` one token, `>` the rest), validated before they are sent; the
//!   server answers `subscribed`. Subscriptions die with the connection and are
//!   re-sent on every open.
//! - Server frames: `event` (dedupe by `id`), `notification` (with a priority),
//!   `error` (`code`, `message`, `topic`), `pong`.
//! - The server pings every 30 s; no replay.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_model::{Event, EventKind, Provider};
use tocsin_secrets::Sensitive;

use crate::json::{str_at, string_at};
use crate::time::parse_rfc3339_ms;
use crate::{
    fingerprint, with_query, Adapter, AuthMode, ConnectPlan, Control, DecodeError, Heartbeat, Inbound, Session,
    Subscriptions,
};

/// The topic-platform adapter for one account.
#[derive(Debug, Clone)]
pub struct Bivariant {
    url: String,
    auth: AuthMode,
    subscriptions: Subscriptions,
}

impl Bivariant {
    /// Fails when a topic pattern is invalid (see [`crate::topics::validate`]).
    pub fn new(url: &str, auth: AuthMode, subscriptions: Subscriptions) -> Result<Self, String> {
        if subscriptions.topics.is_empty() {
            return Err("the topic platform needs at least one topic pattern in `topics`".into());
        }
        for t in &subscriptions.topics {
            crate::topics::validate(t, None).map_err(|e| e.to_string())?;
        }
        Ok(Bivariant { url: url.to_owned(), auth, subscriptions })
    }
}

/// `{"type":"subscribe","id":..,"topics":[..]}`.
pub fn encode_subscribe(id: &str, topics: &[String]) -> String {
    json!({"type": "subscribe", "id": id, "topics": topics}).to_string()
}

impl Adapter for Bivariant {
    fn provider(&self) -> Provider {
        Provider::Bivariant
    }

    fn connect_plan(&self, key: &Sensitive<String>, _resume: Option<&str>) -> ConnectPlan {
        let mut url = self.url.clone();
        let mut headers = Vec::new();
        match self.auth {
            AuthMode::Query => url = with_query(&url, "token", key.expose()),
            _ => headers.push(("Authorization".to_owned(), Sensitive::new(format!("Bearer {}", key.expose())))),
        }
        ConnectPlan { log_url: tocsin_secrets::redact_url(&url), url: Sensitive::new(url), headers }
    }

    fn on_open(&self, _resume: Option<&str>) -> Vec<String> {
        vec![encode_subscribe("sub-1", &self.subscriptions.topics)]
    }

    fn expects_subscribe_ack(&self) -> bool {
        true
    }

    fn decode_in(&self, session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
        decode(session, text, received_at_ms)
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat { ping_every: Duration::from_secs(30), dead_after: Duration::from_secs(45) }
    }
}

/// The text of a message's parts (`[{"kind":"text","text":..}]`).
fn parts_text(message: &Value) -> Option<String> {
    let parts = message.get("parts")?.as_array()?;
    let text: Vec<&str> = parts
        .iter()
        .filter(|p| str_at(p, "kind") == Some("text"))
        .filter_map(|p| str_at(p, "text"))
        .collect();
    (!text.is_empty()).then(|| text.join("\n"))
}

/// Decodes one frame.
pub fn decode(session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
    let frame: Value =
        serde_json::from_str(text).map_err(|e| DecodeError(format!("topic platform frame is not JSON ({e})")))?;
    let Some(ty) = str_at(&frame, "type") else {
        return Err(DecodeError("topic platform frame has no \"type\"".into()));
    };
    match ty {
        "connected" => Ok(Inbound::Control(Control::Connected)),
        "subscribed" => Ok(Inbound::Control(Control::Subscribed)),
        "unsubscribed" | "pong" => Ok(Inbound::Control(Control::Pong)),
        "error" => {
            let code = string_at(&frame, &["code"]);
            let mut message = string_at(&frame, &["message"]).unwrap_or_else(|| "unknown error".into());
            if let Some(topic) = str_at(&frame, "topic") {
                message = format!("{message} ({topic})");
            }
            let fatal = matches!(code.as_deref(), Some("unauthenticated"));
            Ok(Inbound::Control(Control::ServerError { code, message, fatal }))
        }
        "event" => Ok(Inbound::Event(Box::new(decode_event(session, &frame, text, received_at_ms)))),
        "notification" => {
            let n = frame.get("notification").cloned().unwrap_or(Value::Null);
            let id = string_at(&n, &["id"]).unwrap_or_else(|| format!("fp:{}", fingerprint(text)));
            Ok(Inbound::Event(Box::new(Event {
                dedupe_key: format!("bivariant:notification:{id}"),
                provider: Provider::Bivariant,
                account: session.account.clone(),
                kind: EventKind::Notification,
                provider_type: "notification".into(),
                provider_event_id: None,
                occurred_at_ms: str_at(&n, "createdAt").and_then(parse_rfc3339_ms),
                received_at_ms,
                inbox: None,
                thread: None,
                message_id: None,
                sender: None,
                subject: string_at(&n, &["title"]),
                text: string_at(&n, &["body"]),
                html: None,
                labels: Vec::new(),
                attachments: Vec::new(),
                replayed: false,
                ack: None,
                priority: string_at(&n, &["priority"]),
                topic: string_at(&n, &["topic"]),
                raw: frame.clone(),
            })))
        }
        other => Err(DecodeError(format!("unhandled topic platform frame type \"{other}\""))),
    }
}

fn decode_event(session: &Session, frame: &Value, text: &str, received_at_ms: i64) -> Event {
    let name = string_at(frame, &["event"]).unwrap_or_else(|| "unknown".into());
    let payload = frame.get("payload").cloned().unwrap_or(Value::Null);
    let message = payload.get("message").cloned().unwrap_or(Value::Null);
    let done = payload.get("done").and_then(Value::as_bool).unwrap_or(false);
    let kind = match name.as_str() {
        "conversation.message_posted" => EventKind::MessageReceived,
        "conversation.message_stream" if done => EventKind::StreamEnd,
        "conversation.message_stream" => EventKind::StreamChunk,
        "conversation.created" => EventKind::ConversationChanged,
        "task.completed" | "task.failed" | "flow.run" => EventKind::TaskUpdated,
        _ => EventKind::Other,
    };
    let topic = string_at(frame, &["topic"]);
    let dedupe_key = match (string_at(frame, &["id"]), &kind) {
        (Some(id), _) => format!("bivariant:{id}"),
        (None, EventKind::StreamChunk | EventKind::StreamEnd) => format!(
            "bivariant:stream:{}:{}",
            string_at(&payload, &["messageId"]).unwrap_or_default(),
            payload.get("index").map(Value::to_string).unwrap_or_default()
        ),
        (None, _) => match (&topic, string_at(&message, &["id"])) {
            (Some(t), Some(m)) => format!("bivariant:{t}:{m}"),
            _ => format!("bivariant:fp:{}", fingerprint(text)),
        },
    };
    let text_body = match kind {
        EventKind::StreamChunk | EventKind::StreamEnd => string_at(&payload, &["delta"]),
        EventKind::TaskUpdated => string_at(&payload, &["status", "error"]).or_else(|| Some(name.clone())),
        _ => parts_text(&message),
    };
    Event {
        dedupe_key,
        provider: Provider::Bivariant,
        account: session.account.clone(),
        kind,
        provider_type: name,
        provider_event_id: string_at(frame, &["id"]),
        occurred_at_ms: str_at(frame, "timestamp").and_then(parse_rfc3339_ms),
        received_at_ms,
        inbox: string_at(&payload, &["roomId"]),
        thread: string_at(&payload, &["conversationId"]).or_else(|| string_at(frame, &["resourceId"])),
        message_id: string_at(&message, &["id"]).or_else(|| string_at(&payload, &["messageId"])),
        // `senderName` is PROPOSED (the documented payload names the sender by id
        // only); a name when the server sends one, else the id.
        sender: string_at(&payload, &["senderName", "senderId"]),
        subject: None,
        text: text_body,
        html: None,
        labels: Vec::new(),
        attachments: Vec::new(),
        replayed: false,
        ack: None,
        priority: None,
        topic,
        raw: frame.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new("org")
    }

    fn event(text: &str) -> Event {
        match decode(&session(), text, 1).unwrap() {
            Inbound::Event(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_posted_messages_streams_and_notifications() {
        let posted = event(
            r#"{"type":"event","id":"evt_01J","topic":"events.org_123.conversations.conversation.message_posted.conv_456",
            "subscription":"events.org_123.conversations.conversation.message_posted.*","event":"conversation.message_posted",
            "orgId":"org_123","resourceId":"conv_456","timestamp":"2026-03-16T10:30:45.123Z",
            "payload":{"roomId":"room_1","conversationId":"conv_456","message":{"id":"msg_1","role":"user",
            "parts":[{"kind":"text","text":"Hi"},{"kind":"thinking","thinking":"..."},{"kind":"text","text":"there"}]},"senderId":"acc_9"}}"#,
        );
        assert_eq!(posted.dedupe_key, "bivariant:evt_01J");
        assert_eq!(posted.kind, EventKind::MessageReceived);
        assert_eq!(posted.text.as_deref(), Some("Hi\nthere"));
        assert_eq!(posted.thread.as_deref(), Some("conv_456"));
        assert_eq!(posted.inbox.as_deref(), Some("room_1"));
        assert_eq!(posted.sender.as_deref(), Some("acc_9"));
        // A display name, when the server sends one, is shown instead of the id.
        let named = event(&(r#"{"type":"event","id":"e2","topic":"t.c","event":"conversation.message_posted",
            "payload":{"message":{"id":"m2","role":"user","parts":[{"kind":"text","text":"Hi"}]},"senderId":"acc_9","senderName":"Ana Lima"}}"#));
        assert_eq!(named.sender.as_deref(), Some("Ana Lima"));
        assert_eq!(posted.topic.as_deref(), Some("events.org_123.conversations.conversation.message_posted.conv_456"));

        let chunk = event(
            r#"{"type":"event","topic":"t.c","event":"conversation.message_stream","resourceId":"conv_456",
            "payload":{"conversationId":"conv_456","messageId":"msg_2","index":17,"delta":"lo","done":false}}"#,
        );
        assert_eq!(chunk.kind, EventKind::StreamChunk);
        assert_eq!(chunk.dedupe_key, "bivariant:stream:msg_2:17");
        let end = event(
            r#"{"type":"event","event":"conversation.message_stream","payload":{"messageId":"msg_2","index":18,"delta":"","done":true}}"#,
        );
        assert_eq!(end.kind, EventKind::StreamEnd);

        let n = event(
            r#"{"type":"notification","notification":{"id":"ntf_1","event":"conversation.message_posted",
            "topic":"events.org_123.x","priority":"urgent","title":"New message from Ada","body":"Hi","createdAt":"2026-03-16T10:30:45Z"}}"#,
        );
        assert_eq!(n.kind, EventKind::Notification);
        assert_eq!(n.priority.as_deref(), Some("urgent"));
        assert_eq!(tocsin_model::rules::default_tier(&n), tocsin_model::Tier::Urgent);
        assert_eq!(n.subject.as_deref(), Some("New message from Ada"));

        for (name, kind) in [("task.completed", EventKind::TaskUpdated), ("flow.run", EventKind::TaskUpdated),
                             ("conversation.created", EventKind::ConversationChanged), ("app.event_received", EventKind::Other)] {
            let e = event(&format!(r#"{{"type":"event","id":"e-{name}","event":"{name}","payload":{{}}}}"#));
            assert_eq!(e.kind, kind, "{name}");
        }
    }

    #[test]
    fn control_frames() {
        let c = |t: &str| match decode(&session(), t, 0).unwrap() {
            Inbound::Control(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(c(r#"{"type":"connected","connectionId":"c_1","orgId":"org_123","heartbeatInterval":30}"#), Control::Connected);
        assert_eq!(c(r#"{"type":"subscribed","id":"1","topics":["a"]}"#), Control::Subscribed);
        let e = c(r#"{"type":"error","id":"1","code":"forbidden","message":"topic outside org org_123","topic":"events.org_999.x"}"#);
        assert_eq!(
            e,
            Control::ServerError {
                code: Some("forbidden".into()),
                message: "topic outside org org_123 (events.org_999.x)".into(),
                fatal: false
            }
        );
        assert!(decode(&session(), r#"{"type":"weird"}"#, 0).is_err());
    }

    #[test]
    fn invalid_topics_are_refused_before_sending() {
        let subs = |t: &str| Subscriptions { topics: vec![t.into()], ..Default::default() };
        assert!(Bivariant::new("ws://h", AuthMode::Bearer, subs("events.org_1.>")).is_ok());
        let err = Bivariant::new("ws://h", AuthMode::Bearer, subs("events.org_1.>.x")).unwrap_err();
        assert!(err.contains("last segment"), "{err}");
        assert!(Bivariant::new("ws://h", AuthMode::Bearer, Subscriptions::default()).is_err());
        let b = Bivariant::new("ws://h", AuthMode::Query, subs("events.org_1.>")).unwrap();
        let frame: Value = serde_json::from_str(&b.on_open(None)[0]).unwrap();
        assert_eq!(frame, json!({"type":"subscribe","id":"sub-1","topics":["events.org_1.>"]}));
        assert_eq!(b.connect_plan(&Sensitive::from("k"), None).url.expose(), "ws://h?token=k");
    }
}
