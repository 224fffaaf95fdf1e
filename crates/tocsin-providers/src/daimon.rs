//! daimon.email (PROTOCOLS.md section 1).
//!
//! - URL `wss://ws.daimon.email/v1/stream`; auth by `Authorization: Bearer <key>` or
//!   `?key=<key>`. A 401 at the upgrade means the key is wrong (fatal).
//! - Client frames carry an `action`: `subscribe` (with `inbox_ids`, optional
//!   `last_event_id`), `mark_as_read`, `send_email` (with a client-chosen `request_id`).
//! - Server event frames: `type` is the dotted event name, `event_id` the dedupe key,
//!   `payload.message` the message (either the webhook or the REST field names).
//!   Types without a dot (`connected`, `subscribed`, `replay_complete`, `replay_gap`,
//!   `result`, `error`) are control frames; any frame with a `request_id` is the
//!   answer to a command.
//! - Replay: reconnect with `?last_event_id=` and the server replays (marked
//!   `"replayed": true`) what the account missed in the last 5 minutes.
//! - Heartbeat: the server pings every 30 s; the client pings every 30 s too and
//!   treats 45 s of silence as a dead connection.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_model::{Attachment, Event, EventKind, Provider};
use tocsin_secrets::Sensitive;

use crate::json::{str_at, string_at, strings_at};
use crate::time::parse_rfc3339_ms;
use crate::{
    fingerprint, with_query, Adapter, AuthMode, ConnectPlan, Control, DecodeError, Heartbeat, Inbound,
    Session, Subscriptions,
};

/// The daimon.email adapter for one account.
#[derive(Debug, Clone)]
pub struct Daimon {
    url: String,
    auth: AuthMode,
    token_url: Option<String>,
    subscriptions: Subscriptions,
}

impl Daimon {
    /// `token_url` (`POST /v1/websocket/token`) is required for [`AuthMode::Token`].
    pub fn new(url: &str, auth: AuthMode, token_url: Option<&str>, subscriptions: Subscriptions) -> Result<Self, String> {
        if auth == AuthMode::Token && token_url.is_none() {
            return Err("token authentication needs token_url (e.g. https://api.daimon.email/v1/websocket/token)".into());
        }
        Ok(Daimon { url: url.to_owned(), auth, token_url: token_url.map(str::to_owned), subscriptions })
    }
}

/// `{"action":"subscribe","inbox_ids":[..],"last_event_id":..}`.
pub fn encode_subscribe(inbox_ids: &[String], last_event_id: Option<&str>) -> String {
    let mut frame = json!({"action": "subscribe", "inbox_ids": inbox_ids});
    if let Some(id) = last_event_id {
        frame["last_event_id"] = json!(id);
    }
    frame.to_string()
}

/// `{"action":"mark_as_read","message_id":..,"inbox_id":..,"request_id":..}`.
pub fn encode_mark_as_read(message_id: &str, inbox_id: Option<&str>, request_id: &str) -> String {
    let mut frame = json!({"action": "mark_as_read", "message_id": message_id, "request_id": request_id});
    if let Some(inbox) = inbox_id {
        frame["inbox_id"] = json!(inbox);
    }
    frame.to_string()
}

impl Adapter for Daimon {
    fn provider(&self) -> Provider {
        Provider::Daimon
    }

    fn connect_plan(&self, key: &Sensitive<String>, resume: Option<&str>) -> ConnectPlan {
        let mut url = self.url.clone();
        if let Some(id) = resume {
            url = with_query(&url, "last_event_id", id);
        }
        let mut headers = Vec::new();
        match self.auth {
            // A connection token travels like a key (`Bearer wst_...`).
            AuthMode::Bearer | AuthMode::Frame | AuthMode::Token => {
                headers.push(("Authorization".to_owned(), Sensitive::new(format!("Bearer {}", key.expose()))))
            }
            AuthMode::Query => url = with_query(&url, "key", key.expose()),
        }
        ConnectPlan { log_url: tocsin_secrets::redact_url(&url), url: Sensitive::new(url), headers }
    }

    fn token_request(&self) -> Option<crate::TokenRequest> {
        (self.auth == AuthMode::Token).then(|| crate::TokenRequest {
            url: self.token_url.clone().unwrap_or_default(),
            body: json!({}),
        })
    }

    fn parse_token(&self, status: u16, body: &[u8]) -> Result<Sensitive<String>, crate::TokenError> {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = string_at(&v, &["error"]);
        match status {
            200..=299 => v
                .get("result")
                .and_then(|r| string_at(r, &["token"]))
                .map(Sensitive::new)
                .ok_or_else(|| crate::TokenError::Retry("the token endpoint answered without a token".into())),
            401 | 403 => Err(crate::TokenError::Fatal(format!(
                "the server rejected the API key when asked for a connection token (HTTP {status}{})",
                error.map(|e| format!(": {e}")).unwrap_or_default()
            ))),
            _ => Err(crate::TokenError::Retry(format!(
                "the token endpoint answered HTTP {status}{}",
                error.map(|e| format!(": {e}")).unwrap_or_default()
            ))),
        }
    }

    fn on_open(&self, _resume: Option<&str>) -> Vec<String> {
        // The replay cursor travels in the URL; subscriptions are per connection and
        // must be re-sent on every open. No inboxes = the key's whole scope, which
        // needs no subscribe frame.
        if self.subscriptions.inboxes.is_empty() {
            Vec::new()
        } else {
            vec![encode_subscribe(&self.subscriptions.inboxes, None)]
        }
    }

    fn expects_subscribe_ack(&self) -> bool {
        !self.subscriptions.inboxes.is_empty()
    }

    fn decode_in(&self, session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
        decode(&session.account, text, received_at_ms)
    }

    fn command(&self, command: &crate::Command, request_id: &str) -> Result<crate::CommandPlan, String> {
        let plan = |frame: String| crate::CommandPlan::Socket { frame, request_id: Some(request_id.to_owned()) };
        match command {
            crate::Command::MarkRead { message_id: Some(m), inbox, .. } => {
                Ok(plan(encode_mark_as_read(m, inbox.as_deref(), request_id)))
            }
            crate::Command::Reply { message_id: Some(m), inbox: Some(inbox), text, .. } => Ok(plan(
                json!({"action": "send_email", "inbox_id": inbox, "request_id": request_id,
                       "params": {"in_reply_to": m, "body": text}})
                .to_string(),
            )),
            _ => Err("this event has no message to act on".into()),
        }
    }

    fn catch_up(&self) -> crate::CatchUp {
        crate::CatchUp::Replay
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat { ping_every: Duration::from_secs(30), dead_after: Duration::from_secs(45) }
    }
}

/// Decodes one daimon server frame.
pub fn decode(account: &str, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
    let frame: Value =
        serde_json::from_str(text).map_err(|e| DecodeError(format!("daimon frame is not JSON ({e})")))?;
    if !frame.is_object() {
        return Err(DecodeError("daimon frame is not a JSON object".into()));
    }
    let Some(ty) = str_at(&frame, "type") else {
        return Err(DecodeError("daimon frame has no \"type\"".into()));
    };
    if let Some(request_id) = str_at(&frame, "request_id") {
        let ok = frame.get("ok").and_then(Value::as_bool).unwrap_or(ty == "result");
        return Ok(Inbound::Control(Control::CommandResult {
            request_id: request_id.to_owned(),
            ok,
            error: string_at(&frame, &["error"]),
            message: string_at(&frame, &["message"]),
        }));
    }
    if !ty.contains('.') {
        let control = match ty {
            "connected" => Control::Connected,
            "subscribed" => Control::Subscribed,
            "replay_complete" => {
                Control::ReplayComplete { count: frame.get("count").and_then(Value::as_u64).unwrap_or(0) }
            }
            "replay_gap" => Control::ReplayGap { oldest_event_id: string_at(&frame, &["oldest_event_id"]) },
            "error" => {
                let code = string_at(&frame, &["error"]);
                let fatal = matches!(
                    code.as_deref(),
                    Some("invalid_api_key" | "token_expired" | "connection_limit_exceeded")
                );
                Control::ServerError {
                    message: string_at(&frame, &["message"]).or(code.clone()).unwrap_or_default(),
                    code,
                    fatal,
                }
            }
            // `unsubscribed`, `result` without request id, and future control types.
            _ => return Err(DecodeError(format!("unhandled daimon control frame \"{ty}\""))),
        };
        return Ok(Inbound::Control(control));
    }
    Ok(Inbound::Event(Box::new(decode_event(account, ty, &frame, text, received_at_ms))))
}

fn decode_event(account: &str, ty: &str, frame: &Value, text: &str, received_at_ms: i64) -> Event {
    let kind = match ty {
        "message.received" => EventKind::MessageReceived,
        "message.sent" => EventKind::MessageSent,
        "message.delivered" => EventKind::MessageDelivered,
        "message.bounced" => EventKind::MessageBounced,
        "message.complaint" | "message.complained" => EventKind::MessageComplained,
        "account.upgraded" => EventKind::AccountChanged,
        _ => EventKind::Other,
    };
    let event_id = string_at(frame, &["event_id"]);
    let dedupe_key = match &event_id {
        Some(id) => format!("daimon:{id}"),
        None => format!("daimon:fp:{}", fingerprint(text)),
    };
    let payload = frame.get("payload").cloned().unwrap_or(Value::Null);
    let mut event = Event {
        dedupe_key,
        provider: Provider::Daimon,
        account: account.to_owned(),
        kind,
        provider_type: ty.to_owned(),
        provider_event_id: event_id,
        occurred_at_ms: str_at(frame, "timestamp").and_then(parse_rfc3339_ms),
        received_at_ms,
        inbox: string_at(frame, &["inbox_id"]).or_else(|| string_at(&payload, &["inbox_id"])),
        thread: None,
        message_id: None,
        sender: None,
        subject: None,
        text: None,
        html: None,
        labels: Vec::new(),
        attachments: Vec::new(),
        replayed: frame.get("replayed").and_then(Value::as_bool).unwrap_or(false),
        ack: None,
        priority: None,
        topic: None,
        raw: frame.clone(),
    };
    if let Some(msg) = payload.get("message").filter(|m| m.is_object()) {
        event.message_id = string_at(msg, &["message_id", "id"]);
        event.thread = string_at(msg, &["thread_id"]);
        event.inbox = event.inbox.or_else(|| string_at(msg, &["inbox_id"]));
        event.sender = string_at(msg, &["from", "from_address"]);
        event.subject = string_at(msg, &["subject"]);
        event.text = string_at(msg, &["body", "plain_body", "body_text", "reply_body"]);
        event.html = string_at(msg, &["html_body", "body_html"]);
        event.labels = strings_at(msg, "labels");
        event.attachments = msg
            .get("attachments")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|a| Attachment {
                        id: string_at(a, &["id", "attachment_id"]),
                        filename: string_at(a, &["filename"]),
                        content_type: string_at(a, &["content_type"]),
                        size: a.get("size").and_then(Value::as_u64),
                    })
                    .collect()
            })
            .unwrap_or_default();
    } else {
        event.message_id = string_at(&payload, &["message_id"]);
        let recipient = string_at(&payload, &["recipient"])
            .or_else(|| strings_at(&payload, "recipients").first().cloned());
        let reason = string_at(&payload, &["reason", "feedback_type"]);
        event.text = match kind {
            EventKind::MessageBounced => Some(format!(
                "Delivery to {} failed{}{}",
                recipient.as_deref().unwrap_or("a recipient"),
                string_at(&payload, &["bounce_type"]).map(|t| format!(" ({t})")).unwrap_or_default(),
                reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
            )),
            EventKind::MessageComplained => Some(format!(
                "{} reported a message as unwanted{}",
                recipient.as_deref().unwrap_or("A recipient"),
                reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            )),
            EventKind::MessageDelivered => {
                Some(format!("Delivered to {}", strings_at(&payload, "recipients").join(", ")))
            }
            EventKind::AccountChanged => {
                string_at(&payload, &["tier"]).map(|t| format!("Account upgraded to the {t} tier"))
            }
            _ => None,
        };
        event.sender = recipient;
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED: &str = r#"{"type":"message.received","event_id":"evt_abc123xyz789",
      "timestamp":"2026-03-16T10:30:45.123Z","account_id":"acc_xyz789","inbox_id":"inbox_abc123","replayed":false,
      "payload":{"message":{"id":"msg_def456","message_id":"msg_def456","inbox_id":"inbox_abc123",
        "thread_id":"thread_ghi789","from":"user@example.com","to":["agent@daimon.email"],"cc":[],"bcc":[],
        "subject":"Request for analysis","body":"Hi Agent,\n\nPlease analyze the attached data.",
        "html_body":"<p>Hi Agent,</p>","labels":["priority"],
        "attachments":[{"id":"att_jkl012","filename":"data.csv","content_type":"text/csv","size":2048}]}}}"#;

    fn event(text: &str) -> Event {
        match decode("ops", text, 7).unwrap() {
            Inbound::Event(e) => *e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn decodes_message_received() {
        let e = event(RECEIVED);
        assert_eq!(e.dedupe_key, "daimon:evt_abc123xyz789");
        assert_eq!(e.kind, EventKind::MessageReceived);
        assert_eq!(e.provider_type, "message.received");
        assert_eq!(e.account, "ops");
        assert_eq!(e.inbox.as_deref(), Some("inbox_abc123"));
        assert_eq!(e.thread.as_deref(), Some("thread_ghi789"));
        assert_eq!(e.message_id.as_deref(), Some("msg_def456"));
        assert_eq!(e.sender.as_deref(), Some("user@example.com"));
        assert_eq!(e.subject.as_deref(), Some("Request for analysis"));
        assert_eq!(e.html.as_deref(), Some("<p>Hi Agent,</p>"));
        assert_eq!(e.labels, vec!["priority"]);
        assert_eq!(e.attachments[0].filename.as_deref(), Some("data.csv"));
        assert_eq!(e.attachments[0].size, Some(2048));
        assert_eq!(e.occurred_at_ms, Some(1_773_657_045_123));
        assert_eq!(e.received_at_ms, 7);
        assert!(!e.replayed);
        assert_eq!(e.raw["account_id"], "acc_xyz789");
    }

    #[test]
    fn accepts_rest_field_names() {
        let e = event(
            r#"{"type":"message.received","event_id":"e1","replayed":true,"payload":{"message":{"id":"m1",
            "from_address":"a@b.c","body_text":"plain","body_html":"<b>x</b>","subject":"s"}}}"#,
        );
        assert_eq!(e.sender.as_deref(), Some("a@b.c"));
        assert_eq!(e.text.as_deref(), Some("plain"));
        assert_eq!(e.html.as_deref(), Some("<b>x</b>"));
        assert_eq!(e.message_id.as_deref(), Some("m1"));
        assert!(e.replayed);
    }

    #[test]
    fn decodes_bounce_and_both_complaint_spellings() {
        let b = event(
            r#"{"type":"message.bounced","event_id":"e2","inbox_id":"i","payload":{"message_id":"m",
            "recipient":"gone@example.com","bounce_type":"hard","reason":"mailbox does not exist"}}"#,
        );
        assert_eq!(b.kind, EventKind::MessageBounced);
        assert_eq!(b.text.as_deref(), Some("Delivery to gone@example.com failed (hard): mailbox does not exist"));
        for ty in ["message.complaint", "message.complained"] {
            let c = event(&format!(r#"{{"type":"{ty}","event_id":"e3","payload":{{"recipient":"x@y.z"}}}}"#));
            assert_eq!(c.kind, EventKind::MessageComplained);
            assert_eq!(c.provider_type, ty);
        }
    }

    #[test]
    fn unknown_types_are_other_and_keep_raw() {
        let e = event(r#"{"type":"inbox.archived","event_id":"e9","payload":{"x":1}}"#);
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!(e.raw["payload"]["x"], 1);
    }

    #[test]
    fn events_without_id_get_a_stable_fingerprint() {
        let t = r#"{"type":"message.received","payload":{}}"#;
        assert_eq!(event(t).dedupe_key, event(t).dedupe_key);
        assert!(event(t).dedupe_key.starts_with("daimon:fp:"));
    }

    #[test]
    fn control_frames() {
        let c = |t: &str| match decode("a", t, 0).unwrap() {
            Inbound::Control(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(c(r#"{"type":"connected","connection_id":"wsc_01"}"#), Control::Connected);
        assert_eq!(c(r#"{"type":"subscribed","inbox_ids":["i"]}"#), Control::Subscribed);
        assert_eq!(c(r#"{"type":"replay_complete","count":3}"#), Control::ReplayComplete { count: 3 });
        assert_eq!(
            c(r#"{"type":"replay_gap","oldest_event_id":"evt_9"}"#),
            Control::ReplayGap { oldest_event_id: Some("evt_9".into()) }
        );
        assert_eq!(
            c(r#"{"type":"result","action":"mark_as_read","request_id":"r-17","ok":true}"#),
            Control::CommandResult { request_id: "r-17".into(), ok: true, error: None, message: None }
        );
        assert!(matches!(
            c(r#"{"type":"error","request_id":"r1","ok":false,"error":"SEND_REQUIRES_PAID","message":"paid"}"#),
            Control::CommandResult { ok: false, .. }
        ));
        assert!(matches!(
            c(r#"{"type":"error","ok":false,"error":"invalid_frame","message":"missing 'action'"}"#),
            Control::ServerError { fatal: false, .. }
        ));
    }

    #[test]
    fn malformed_frames_are_errors_without_content() {
        for bad in ["", "not json", "[1,2]", r#"{"no_type":1}"#, "\"str\"", r#"{"type":"weird_control"}"#] {
            let err = decode("a", bad, 0).unwrap_err();
            assert!(!err.0.contains("not json") || bad != "not json");
        }
        let secret = r#"{"type": 5, "key": "dm_live_secret"}"#;
        assert!(!decode("a", secret, 0).unwrap_err().0.contains("dm_live_secret"));
    }

    #[test]
    fn connect_plans_per_auth_mode() {
        let key = Sensitive::from("dm_live_k&y");
        let bearer = Daimon::new("ws://h/v1/stream", AuthMode::Bearer, None, Subscriptions::default()).unwrap();
        let p = bearer.connect_plan(&key, Some("evt_1"));
        assert_eq!(p.url.expose(), "ws://h/v1/stream?last_event_id=evt_1");
        assert_eq!(p.headers[0].0, "Authorization");
        assert_eq!(p.headers[0].1.expose(), "Bearer dm_live_k&y");
        let query = Daimon::new("ws://h/v1/stream", AuthMode::Query, None, Subscriptions::default()).unwrap();
        let p = query.connect_plan(&key, None);
        assert_eq!(p.url.expose(), "ws://h/v1/stream?key=dm_live_k%26y");
        assert_eq!(p.log_url, "ws://h/v1/stream?key=<redacted>");
        assert!(p.headers.is_empty());
    }

    #[test]
    fn connection_tokens() {
        assert!(Daimon::new("ws://h", AuthMode::Token, None, Subscriptions::default()).is_err());
        let d = Daimon::new("ws://h/v1/stream", AuthMode::Token, Some("http://h/v1/websocket/token"), Subscriptions::default()).unwrap();
        assert_eq!(d.token_request().unwrap().url, "http://h/v1/websocket/token");
        let t = d.parse_token(200, br#"{"result":{"token":"wst_abc","expires_at":"2026-03-16T11:00:00Z"},"next_steps":[]}"#).unwrap();
        assert_eq!(d.connect_plan(&t, None).headers[0].1.expose(), "Bearer wst_abc");
        assert!(matches!(d.parse_token(401, br#"{"error":"invalid_api_key"}"#), Err(crate::TokenError::Fatal(m)) if m.contains("invalid_api_key")));
        assert!(matches!(d.parse_token(500, b""), Err(crate::TokenError::Retry(_))));
    }

    #[test]
    fn subscribe_frames() {
        let subs = Subscriptions { inboxes: vec!["inbox_a".into()], ..Default::default() };
        let d = Daimon::new("ws://h", AuthMode::Bearer, None, subs).unwrap();
        let frames = d.on_open(None);
        let v: Value = serde_json::from_str(&frames[0]).unwrap();
        assert_eq!(v, json!({"action":"subscribe","inbox_ids":["inbox_a"]}));
        assert!(d.expects_subscribe_ack());
        let all = Daimon::new("ws://h", AuthMode::Bearer, None, Subscriptions::default()).unwrap();
        assert!(all.on_open(None).is_empty());
        let m: Value = serde_json::from_str(&encode_mark_as_read("m1", Some("i1"), "r-1")).unwrap();
        assert_eq!(m, json!({"action":"mark_as_read","message_id":"m1","inbox_id":"i1","request_id":"r-1"}));
    }
}
