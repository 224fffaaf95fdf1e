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
//!
//! Catch-up (observed on the real server, PROTOCOLS.md 4.5 [RUN]): the server
//! redelivers only what it sent to an *open* connection, so everything sent while
//! Tocsin was away is recovered through `GET /api/im/sync?since=<seq>` ([`sync`]),
//! at every connect, when `reconnect.ack` says `syncAdvised`, and every
//! [`SYNC_EVERY`] while connected (a conversation created after sign-in is silent on
//! the socket until joined). Live events carry the sync cursor reached so far, so a
//! committed live event never moves the stored cursor past what was fetched.
//! Dedupe: a message by its id (live, redelivered, synced or streamed); an edit by
//! message id and new text; a reaction by message, user, emoji, action and time.
//! Typing, presence and stream chunks are [`Ephemeral`], never history.

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_model::{Event, EventKind, Provider};
use tocsin_secrets::Sensitive;

use crate::json::{str_at, string_at, strings_at};
use crate::time::parse_rfc3339_ms;
use crate::{
    fingerprint, with_query, Adapter, AuthMode, CatchUp, CatchUpError, CatchUpFrom, CatchUpPage, ConnectPlan, Control,
    DecodeError, Ephemeral, Heartbeat, Inbound, Session, Subscriptions,
};

pub mod names;
pub mod sync;

/// How often a connected client syncs anyway.
pub const SYNC_EVERY: Duration = Duration::from_secs(60);

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
        if let Some(cursor) = resume.and_then(|r| r.parse::<i64>().ok()) {
            frames.push(envelope("reconnect", json!({"lastSyncCursor": cursor}), Some("reconnect-1"), 0));
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

    fn catch_up(&self) -> CatchUp {
        CatchUp::Fetch
    }

    fn catch_up_start(&self, from: &CatchUpFrom) -> Vec<String> {
        vec![sync::path(from.cursor.and_then(|c| c.parse().ok()).unwrap_or(0))]
    }

    fn decode_catch_up(
        &self,
        session: &Session,
        from: &CatchUpFrom,
        _path: &str,
        body: &[u8],
        received_at_ms: i64,
    ) -> Result<CatchUpPage, CatchUpError> {
        sync::decode_page(session, from, body, received_at_ms)
    }

    fn catch_up_every(&self) -> Option<Duration> {
        Some(SYNC_EVERY)
    }

    fn key_expires_at(&self, key: &Sensitive<String>) -> Option<i64> {
        jwt_expiry_ms(key.expose())
    }

    fn refresh_path(&self) -> Option<&'static str> {
        Some("/api/im/token/refresh")
    }

    fn parse_refresh(&self, body: &[u8]) -> Result<Sensitive<String>, DecodeError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| DecodeError(format!("the token refresh answer is not JSON ({e})")))?;
        v.pointer("/data/token")
            .and_then(Value::as_str)
            .filter(|t| jwt_expiry_ms(t).is_some())
            .map(|t| Sensitive::new(t.to_owned()))
            .ok_or_else(|| DecodeError("the token refresh answer has no token".into()))
    }

    fn lookups(&self, session: &Session, event: &Event) -> Vec<crate::Lookup> {
        names::lookups(session, event)
    }

    fn decode_lookup(&self, session: &Session, key: &str, body: &[u8]) -> Result<crate::Name, DecodeError> {
        names::decode(session, key, body)
    }

    fn apply_names(&self, event: &mut Event, names: &crate::NameCache) {
        names::apply(event, names)
    }

    fn after_event(&self, session: &mut Session, event: &Event) -> Vec<String> {
        // The server joins rooms at sign-in only: join any conversation we hear of.
        let Some(c) = event.thread.as_ref() else { return Vec::new() };
        if session.joined.len() >= MAX_JOINED || !session.joined.insert(c.clone()) {
            return Vec::new();
        }
        vec![json!({"type": "conversation.join", "payload": {"conversationId": c}}).to_string()]
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
        "conversation.updated" | "conversation.created" | "participant.joined" | "participant.left"
        | "conversation.archived" => {
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
        "reconnect.ack" => {
            let advised = payload.get("syncAdvised").and_then(Value::as_bool).unwrap_or(false);
            return Ok(Inbound::Control(if advised { Control::CatchUpAdvised } else { Control::Pong }));
        }
        "typing.indicator" => {
            return Ok(Inbound::Ephemeral(Ephemeral::Typing {
                conversation: string_at(&payload, &["conversationId"]),
                user: string_at(&payload, &["userId"]),
                typing: payload.get("isTyping").and_then(Value::as_bool).unwrap_or(false),
            }))
        }
        "presence.changed" | "presence.update" => {
            return Ok(Inbound::Ephemeral(Ephemeral::Presence {
                user: string_at(&payload, &["userId"]),
                status: string_at(&payload, &["status"]),
            }))
        }
        "message.stream.chunk" => {
            let Some(stream_id) = string_at(&payload, &["streamId"]) else {
                return Err(DecodeError("Prismer stream chunk has no \"streamId\"".into()));
            };
            return Ok(Inbound::Ephemeral(Ephemeral::StreamChunk {
                stream_id,
                conversation: string_at(&payload, &["conversationId"]),
                sender: string_at(&payload, &["senderId"]),
            }));
        }
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

/// The dedupe key of a Prismer event: one per message whichever way it came (live,
/// redelivered, synced, streamed), one per distinct edit and per reaction change.
fn dedupe_key(ty: &str, frame: &Value, payload: &Value) -> String {
    let id = |keys: &[&str]| string_at(payload, keys).unwrap_or_default();
    match ty {
        "message.new" => format!("prismer:msg:{}", id(&["id"])),
        "message.stream.end" => format!("prismer:msg:{}", id(&["messageId", "streamId"])),
        "message.edit" | "message.edited" | "message.updated" => {
            let what = payload.get("content").map(Value::to_string).unwrap_or_else(|| payload.to_string());
            format!("prismer:edit:{}:{}", id(&["id", "messageId"]), fingerprint(&what))
        }
        "message.reaction" => format!(
            "prismer:reaction:{}:{}:{}:{}:{}",
            id(&["messageId", "id"]),
            id(&["userId"]),
            id(&["emoji"]),
            id(&["action"]),
            frame.get("timestamp").map(Value::to_string).unwrap_or_default()
        ),
        "message.deleted" => format!("prismer:deleted:{}", id(&["id", "messageId"])),
        _ => {
            let part = string_at(payload, &["id"])
                .or_else(|| string_at(payload, &["messageId"]))
                .unwrap_or_else(|| format!("fp:{}", fingerprint(&format!("{ty}{payload}"))));
            format!("prismer:{ty}:{part}")
        }
    }
}

/// A JWT's `exp` claim in ms (Prismer tokens last 7 days). The signature is the
/// server's business; only the expiry is read, to renew in time.
pub fn jwt_expiry_ms(token: &str) -> Option<i64> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()?.checked_mul(1000)
}

/// How many conversations one connection joins at most (a flood of made-up
/// conversation ids must not make us flood the server).
const MAX_JOINED: usize = 10_000;

pub(crate) fn decode_event(session: &Session, ty: &str, frame: &Value, payload: &Value, received_at_ms: i64) -> Event {
    let mut kind = kind_of(ty);
    let mut sender = string_at(payload, &["senderId", "userId", "fromUserId", "actorId", "readBy", "editedBy"]);
    if ty == "message.stream.end" {
        // The end carries no sender; its chunks did.
        sender = sender.or_else(|| string_at(payload, &["streamId"]).and_then(|s| session.streams.get(&s).cloned()));
    }
    if matches!(ty, "message.new" | "message.stream.end") && sender.is_some() && sender == session.user_id {
        kind = EventKind::MessageSent;
    }
    let mut labels = Vec::new();
    let metadata = payload.get("metadata").cloned().unwrap_or(Value::Null);
    let route_targets = strings_at(&metadata, "routeTargets");
    let mentioned = metadata
        .get("mentions")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|m| session.user_id.is_some() && string_at(m, &["userId"]) == session.user_id));
    if session.user_id.as_ref().is_some_and(|me| route_targets.contains(me)) || mentioned {
        labels.push(tocsin_model::LABEL_MENTION.to_owned());
    }
    if kind == EventKind::MessageUpdated && ty != "message.reaction" && payload.get("content").is_some() {
        labels.push(tocsin_model::LABEL_EDIT.to_owned());
    }
    let text = match kind {
        EventKind::StreamEnd | EventKind::MessageSent if ty == "message.stream.end" => {
            string_at(payload, &["finalContent"])
        }
        EventKind::Notification => string_at(payload, &["snippet", "reason", "postTitle"]),
        EventKind::TaskUpdated => string_at(payload, &["status"]).map(|s| format!("Task {s}")),
        _ if ty == "message.reaction" => {
            let emoji = string_at(payload, &["emoji"]).unwrap_or_default();
            Some(match str_at(payload, "action") {
                Some("remove") => format!("removed {emoji}"),
                _ => format!("reacted {emoji}"),
            })
        }
        _ => string_at(payload, &["content"]),
    };
    let thread = string_at(payload, &["conversationId"]).or_else(|| {
        matches!(kind, EventKind::ConversationChanged).then(|| string_at(payload, &["id"])).flatten()
    });
    let message_id = match kind {
        EventKind::ConversationChanged => None,
        _ => string_at(payload, &["messageId", "id"]),
    };
    Event {
        dedupe_key: dedupe_key(ty, frame, payload),
        provider: Provider::Prismer,
        account: session.account.clone(),
        kind,
        provider_type: ty.to_owned(),
        // The sync cursor reached so far (see the module doc).
        provider_event_id: session.cursor.clone(),
        occurred_at_ms: string_at(payload, &["createdAt", "editedAt", "readAt", "deliveredAt", "acceptedAt"])
            .as_deref()
            .and_then(parse_rfc3339_ms)
            .or_else(|| frame.get("timestamp").and_then(Value::as_i64)),
        received_at_ms,
        inbox: None,
        thread,
        message_id,
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
mod tests;
