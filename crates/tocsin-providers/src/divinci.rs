//! The ticket-authenticated Chat SDK socket, "Divinci" (PROTOCOLS.md section 3; the
//! wire is PROPOSED there, and the emulator implements the same proposal).
//!
//! - Before every connect and reconnect, a single-use ticket is fetched:
//!   `POST {api}/ws/ticket` with `Authorization: Bearer <key>` and a body naming the
//!   resource (`{"type":"chat","threadId":..}`, `{"type":"transcript",..}` or
//!   `{"type":"notifications"}`), answered `{"success":true,"data":{"ticket":..}}`.
//!   A 401 there means the key is wrong (fatal).
//! - The socket URL is resource-scoped (`/ws/chat/{threadId}`,
//!   `/ws/workspaces/{w}/transcripts/{t}`, `/ws/notifications`) with `?ticket=`.
//! - The edge strips protocol pings: liveness is an app `ping` every 25 s, and 10 s
//!   without `pong` or any frame means the connection is dead.
//! - Frames (camelCase): `connected`, `message.created`, `message.updated`,
//!   `message.delta`, `message.status`, `transcript.updated`, `notification`,
//!   `pong`, `error` (`TICKET_INVALID` → fetch a new ticket and retry).

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_model::{Event, EventKind, Provider};
use tocsin_secrets::Sensitive;

use crate::json::{str_at, string_at};
use crate::time::parse_rfc3339_ms;
use crate::{
    fingerprint, with_query, Adapter, ConnectPlan, Control, DecodeError, Heartbeat, Inbound, Session, TokenError,
    TokenRequest,
};

/// The Chat SDK adapter for one socket.
#[derive(Debug, Clone)]
pub struct Divinci {
    url: String,
    ticket_url: String,
    ticket_body: Value,
}

impl Divinci {
    /// `url` is the socket URL (its path names the resource); `ticket_url` defaults
    /// to `/ws/ticket` on the same host, over http(s).
    pub fn new(url: &str, ticket_url: Option<&str>) -> Result<Self, String> {
        let (origin, path) = split_url(url).ok_or_else(|| format!("\"{url}\" is not a ws:// or wss:// URL"))?;
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let ticket_body = match segments.as_slice() {
            ["ws", "chat", thread] => json!({"type": "chat", "threadId": thread}),
            ["ws", "workspaces", ws, "transcripts", tr] => {
                json!({"type": "transcript", "workspaceId": ws, "transcriptId": tr})
            }
            ["ws", kind] => json!({"type": kind}),
            _ => return Err(format!("\"{path}\" is not a Chat SDK socket path (/ws/chat/<thread>, /ws/notifications, ...)")),
        };
        let http_origin = origin.replacen("ws", "http", 1);
        Ok(Divinci {
            url: url.to_owned(),
            ticket_url: ticket_url.map(str::to_owned).unwrap_or_else(|| format!("{http_origin}/ws/ticket")),
            ticket_body,
        })
    }
}

/// (`ws://host:port`, `/path`) of a WebSocket URL, without its query.
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("ws://").map(|r| ("ws://", r)).or_else(|| url.strip_prefix("wss://").map(|r| ("wss://", r)))?;
    let (scheme, rest) = rest;
    let rest = rest.split('?').next().unwrap_or("");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((format!("{scheme}{host}"), path.to_owned()))
}

impl Adapter for Divinci {
    fn provider(&self) -> Provider {
        Provider::Divinci
    }

    /// `key` is the ticket here (see [`Adapter::token_request`]).
    fn connect_plan(&self, ticket: &Sensitive<String>, _resume: Option<&str>) -> ConnectPlan {
        let url = with_query(&self.url, "ticket", ticket.expose());
        ConnectPlan { log_url: tocsin_secrets::redact_url(&url), url: Sensitive::new(url), headers: Vec::new() }
    }

    fn token_request(&self) -> Option<TokenRequest> {
        Some(TokenRequest { url: self.ticket_url.clone(), body: self.ticket_body.clone() })
    }

    fn parse_token(&self, status: u16, body: &[u8]) -> Result<Sensitive<String>, TokenError> {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = v.get("error").and_then(|e| string_at(e, &["message"]).or_else(|| string_at(e, &["code"])));
        match status {
            200..=299 => v
                .get("data")
                .and_then(|d| string_at(d, &["ticket"]))
                .map(Sensitive::new)
                .ok_or_else(|| TokenError::Retry("the ticket endpoint answered without a ticket".into())),
            401 | 403 => Err(TokenError::Fatal(format!(
                "the ticket endpoint rejected the API key (HTTP {status}{})",
                error.map(|e| format!(": {e}")).unwrap_or_default()
            ))),
            _ => Err(TokenError::Retry(format!(
                "the ticket endpoint answered HTTP {status}{}",
                error.map(|e| format!(": {e}")).unwrap_or_default()
            ))),
        }
    }

    fn on_open(&self, _resume: Option<&str>) -> Vec<String> {
        Vec::new()
    }

    fn expects_subscribe_ack(&self) -> bool {
        false
    }

    fn decode_in(&self, session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
        decode(session, text, received_at_ms)
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat { ping_every: Duration::from_secs(25), dead_after: Duration::from_secs(35) }
    }

    fn app_ping(&self, _n: u64, now_ms: i64) -> Option<String> {
        Some(json!({"type": "ping", "ts": now_ms}).to_string())
    }
}

/// Decodes one frame.
pub fn decode(session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
    let frame: Value =
        serde_json::from_str(text).map_err(|e| DecodeError(format!("Chat SDK frame is not JSON ({e})")))?;
    let Some(ty) = str_at(&frame, "type") else {
        return Err(DecodeError("Chat SDK frame has no \"type\"".into()));
    };
    match ty {
        "connected" => return Ok(Inbound::Control(Control::Connected)),
        "pong" => return Ok(Inbound::Control(Control::Pong)),
        "error" => {
            let code = string_at(&frame, &["code"]);
            let message = string_at(&frame, &["message"]).unwrap_or_else(|| "unknown error".into());
            return Ok(Inbound::Control(Control::ServerError { code, message, fatal: false }));
        }
        _ => {}
    }
    let message = frame.get("message").cloned().unwrap_or(Value::Null);
    let notification = frame.get("notification").cloned().unwrap_or(Value::Null);
    let role = string_at(&message, &["role"]);
    let status = string_at(&frame, &["status"]);
    let kind = match ty {
        "message.created" if role.as_deref() == Some("user") => EventKind::MessageSent,
        "message.created" => EventKind::MessageReceived,
        "message.updated" => EventKind::MessageUpdated,
        "message.delta" => EventKind::StreamChunk,
        "message.status" if status.as_deref() == Some("complete") => EventKind::StreamEnd,
        "message.status" => EventKind::MessageUpdated,
        "transcript.updated" => EventKind::TranscriptUpdated,
        "notification" => EventKind::Notification,
        _ => EventKind::Other,
    };
    let id = match kind {
        EventKind::StreamChunk => string_at(&frame, &["messageId"])
            .map(|m| format!("{m}:{}", frame.get("index").map(Value::to_string).unwrap_or_default())),
        EventKind::Notification => string_at(&notification, &["id"]),
        EventKind::MessageUpdated | EventKind::StreamEnd if ty == "message.status" => {
            string_at(&frame, &["messageId"]).map(|m| format!("{m}:{}", status.clone().unwrap_or_default()))
        }
        EventKind::MessageUpdated => string_at(&message, &["id"])
            .map(|m| format!("{m}:{}", string_at(&message, &["updatedAt"]).unwrap_or_default())),
        _ => string_at(&message, &["id"]),
    }
    .unwrap_or_else(|| format!("fp:{}", fingerprint(text)));
    Ok(Inbound::Event(Box::new(Event {
        dedupe_key: format!("divinci:{ty}:{id}"),
        provider: Provider::Divinci,
        account: session.account.clone(),
        kind,
        provider_type: ty.to_owned(),
        provider_event_id: None,
        occurred_at_ms: string_at(&message, &["createdAt", "updatedAt"])
            .or_else(|| string_at(&notification, &["createdAt"]))
            .as_deref()
            .and_then(parse_rfc3339_ms),
        received_at_ms,
        inbox: string_at(&frame, &["workspaceId"]),
        thread: string_at(&frame, &["threadId", "transcriptId"]).or_else(|| string_at(&message, &["threadId"])),
        message_id: string_at(&message, &["id"]).or_else(|| string_at(&frame, &["messageId"])),
        sender: role,
        subject: string_at(&notification, &["title"]),
        text: match kind {
            EventKind::StreamChunk => string_at(&frame, &["delta"]),
            EventKind::Notification => string_at(&notification, &["body"]),
            _ => string_at(&message, &["content"]).or(status),
        },
        html: None,
        labels: Vec::new(),
        attachments: Vec::new(),
        replayed: false,
        ack: None,
        priority: string_at(&notification, &["priority"]),
        topic: None,
        raw: frame.clone(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new("chat")
    }

    fn event(text: &str) -> Event {
        match decode(&session(), text, 1).unwrap() {
            Inbound::Event(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ticket_bodies_follow_the_socket_path() {
        let chat = Divinci::new("wss://api.example.com/ws/chat/thr_123", None).unwrap();
        let req = chat.token_request().unwrap();
        assert_eq!(req.url, "https://api.example.com/ws/ticket");
        assert_eq!(req.body, json!({"type":"chat","threadId":"thr_123"}));
        let tr = Divinci::new("ws://127.0.0.1:9/ws/workspaces/ws_1/transcripts/tr_9", None).unwrap();
        assert_eq!(tr.token_request().unwrap().url, "http://127.0.0.1:9/ws/ticket");
        assert_eq!(tr.token_request().unwrap().body, json!({"type":"transcript","workspaceId":"ws_1","transcriptId":"tr_9"}));
        let n = Divinci::new("ws://h/ws/notifications", Some("http://h/custom/ticket")).unwrap();
        assert_eq!(n.token_request().unwrap().body, json!({"type":"notifications"}));
        assert_eq!(n.token_request().unwrap().url, "http://h/custom/ticket");
        assert!(Divinci::new("ws://h/other", None).is_err());
        let plan = chat.connect_plan(&Sensitive::from("wst_9b2"), None);
        assert_eq!(plan.url.expose(), "wss://api.example.com/ws/chat/thr_123?ticket=wst_9b2");
        assert_eq!(plan.log_url, "wss://api.example.com/ws/chat/thr_123?ticket=<redacted>");
    }

    #[test]
    fn ticket_responses() {
        let d = Divinci::new("ws://h/ws/notifications", None).unwrap();
        let ok = d.parse_token(200, br#"{"success":true,"data":{"ticket":"wst_1","expiresIn":30}}"#).unwrap();
        assert_eq!(ok.expose(), "wst_1");
        let bad = d.parse_token(401, br#"{"success":false,"error":{"code":"UNAUTHORIZED","message":"Invalid API key"}}"#);
        assert!(matches!(bad, Err(TokenError::Fatal(ref m)) if m.contains("HTTP 401: Invalid API key")));
        assert!(matches!(d.parse_token(503, b"busy"), Err(TokenError::Retry(_))));
    }

    #[test]
    fn frames() {
        let created = event(
            r#"{"type":"message.created","threadId":"thr_123","message":{"id":"m_1","threadId":"thr_123","role":"assistant",
            "contentType":"text","content":"Hello!","createdAt":"2026-03-16T10:30:45Z","metadata":{}}}"#,
        );
        assert_eq!(created.kind, EventKind::MessageReceived);
        assert_eq!(created.dedupe_key, "divinci:message.created:m_1");
        assert_eq!(created.text.as_deref(), Some("Hello!"));
        assert_eq!(created.thread.as_deref(), Some("thr_123"));
        let mine = event(r#"{"type":"message.created","message":{"id":"m_2","role":"user","content":"hi"}}"#);
        assert_eq!(mine.kind, EventKind::MessageSent);
        let delta = event(r#"{"type":"message.delta","threadId":"t","messageId":"m_2","delta":"Hel","index":0}"#);
        assert_eq!((delta.kind, delta.dedupe_key.as_str()), (EventKind::StreamChunk, "divinci:message.delta:m_2:0"));
        let done = event(r#"{"type":"message.status","threadId":"t","messageId":"m_2","status":"complete"}"#);
        assert_eq!(done.kind, EventKind::StreamEnd);
        let upd = event(r#"{"type":"message.updated","threadId":"t","message":{"id":"m_1","content":"x","updatedAt":"2026-03-16T10:31:00Z"}}"#);
        assert_eq!(upd.kind, EventKind::MessageUpdated);
        let tr = event(r#"{"type":"transcript.updated","workspaceId":"ws_1","transcriptId":"tr_9","transcript":{}}"#);
        assert_eq!(tr.kind, EventKind::TranscriptUpdated);
        let n = event(r#"{"type":"notification","notification":{"id":"n_1","title":"Build failed","body":"main is red","priority":"urgent","createdAt":"2026-03-16T10:30:45Z"}}"#);
        assert_eq!(n.kind, EventKind::Notification);
        assert_eq!(tocsin_model::rules::default_tier(&n), tocsin_model::Tier::Urgent);
        assert_eq!(event(r#"{"type":"brand.new","x":1}"#).kind, EventKind::Other);
        assert_eq!(decode(&session(), r#"{"type":"pong","ts":1}"#, 0).unwrap(), Inbound::Control(Control::Pong));
        assert!(matches!(
            decode(&session(), r#"{"type":"error","code":"TICKET_INVALID","message":"expired"}"#, 0).unwrap(),
            Inbound::Control(Control::ServerError { fatal: false, .. })
        ));
        let ping: Value = serde_json::from_str(&Divinci::new("ws://h/ws/notifications", None).unwrap().app_ping(1, 42).unwrap()).unwrap();
        assert_eq!(ping, json!({"type":"ping","ts":42}));
    }
}
