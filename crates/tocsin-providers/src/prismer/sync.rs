//! Prismer's sync API, the only way to recover what was sent while a client was not
//! connected: `GET /api/im/sync?since=<seq>&limit=<n>` answers
//! `{"ok":true,"data":{"events":[{seq,type,data,conversationId,at}],"cursor":n,"hasMore":b}}`.
//!
//! Differences from the WebSocket, observed on the real server: `data.metadata` is a
//! JSON *string*; the type names differ (`message.delete`, `conversation.create`,
//! `conversation.update`, `conversation.archive`, `participant.add`,
//! `participant.remove`); edits carry no `editedAt`; reactions, typing, presence and
//! stream chunks are not in it.
//!
//! A first sync (no stored cursor) does not import the account's whole past: it walks
//! to the end and writes one "now following" entry that carries the cursor.

use serde_json::{json, Value};
use tocsin_model::{Event, EventKind, Provider};

use crate::json::string_at;
use crate::time::parse_rfc3339_ms;
use crate::{CatchUpError, CatchUpFrom, CatchUpPage, DecodeError, Session};

/// Items per sync request (the server's maximum).
pub const PAGE: u32 = 500;

/// The sync path for everything after `since`.
pub fn path(since: i64) -> String {
    format!("/api/im/sync?since={since}&limit={PAGE}")
}

/// The WebSocket name of a sync type.
fn live_type(ty: &str) -> &str {
    match ty {
        "message.delete" => "message.deleted",
        "conversation.create" => "conversation.created",
        "conversation.update" => "conversation.updated",
        "conversation.archive" => "conversation.archived",
        "participant.add" => "participant.joined",
        "participant.remove" => "participant.left",
        other => other,
    }
}

/// Decodes one sync answer.
pub fn decode_page(
    session: &Session,
    from: &CatchUpFrom,
    body: &[u8],
    received_at_ms: i64,
) -> Result<CatchUpPage, CatchUpError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError(format!("the Prismer sync answer is not JSON ({e})")))?;
    if v.get("ok").and_then(Value::as_bool) == Some(false) {
        let error = string_at(&v, &["error"]).unwrap_or_else(|| "no reason given".into());
        return Err(DecodeError(format!("the Prismer sync failed: {error}")).into());
    }
    let data = v.get("data").unwrap_or(&v);
    let items = data
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| DecodeError("the Prismer sync answer has no \"events\" list".into()))?;
    let cursor = data
        .get("cursor")
        .and_then(Value::as_i64)
        .ok_or_else(|| DecodeError("the Prismer sync answer has no numeric \"cursor\"".into()))?;
    let since = from.cursor.and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
    if cursor < since {
        // The server's log restarted below our cursor (a reset database).
        return Err(CatchUpError::CursorRefused(format!("the server's sync log ends at {cursor}, before {since}")));
    }
    let has_more = data.get("hasMore").and_then(Value::as_bool).unwrap_or(false);
    let next = if has_more && cursor > since { vec![path(cursor)] } else { Vec::new() };
    let mut events = Vec::new();
    if from.cursor.is_some() {
        for item in items {
            events.extend(decode_item(session, item, received_at_ms)?);
        }
    } else if next.is_empty() {
        events.push(following(session, cursor, received_at_ms));
    }
    Ok(CatchUpPage { events, next, cursor: Some(cursor.to_string()) })
}

/// One sync item as an event, shaped as its WebSocket twin so both dedupe alike.
fn decode_item(session: &Session, item: &Value, received_at_ms: i64) -> Result<Option<Event>, DecodeError> {
    let seq = item.get("seq").and_then(Value::as_i64).ok_or_else(|| DecodeError("a sync item has no \"seq\"".into()))?;
    let Some(ty) = item.get("type").and_then(Value::as_str) else {
        return Err(DecodeError(format!("sync item {seq} has no \"type\"")));
    };
    let mut payload = item.get("data").cloned().unwrap_or(Value::Null);
    if !payload.is_object() {
        return Err(DecodeError(format!("sync item {seq} has no \"data\" object")));
    }
    if let Some(Value::String(m)) = payload.get("metadata") {
        // A string in sync, an object on the WebSocket.
        let parsed = serde_json::from_str::<Value>(m).unwrap_or(Value::Null);
        payload["metadata"] = parsed;
    }
    if payload.get("conversationId").is_none() {
        if let Some(c) = item.get("conversationId").filter(|c| c.is_string()) {
            payload["conversationId"] = c.clone();
        }
    }
    let at_ms = item.get("at").and_then(Value::as_str).and_then(parse_rfc3339_ms);
    let ty = live_type(ty);
    let frame = json!({"type": ty, "payload": payload, "timestamp": at_ms, "seq": seq, "source": "sync"});
    let session = Session { cursor: Some(seq.to_string()), ..session.clone() };
    let mut event = super::decode_event(&session, ty, &frame, &frame["payload"], received_at_ms);
    event.replayed = true;
    event.raw = item.clone();
    Ok(Some(event))
}

/// The entry a first sync writes: from here on this account is followed.
fn following(session: &Session, cursor: i64, received_at_ms: i64) -> Event {
    Event {
        dedupe_key: format!("prismer:following:{}:{cursor}", session.account),
        provider: Provider::Prismer,
        account: session.account.clone(),
        kind: EventKind::AccountChanged,
        provider_type: "tocsin.following".into(),
        provider_event_id: Some(cursor.to_string()),
        occurred_at_ms: Some(received_at_ms),
        received_at_ms,
        inbox: None,
        thread: None,
        message_id: None,
        sender: None,
        subject: Some("Now following this account".into()),
        text: Some(
            "Tocsin keeps everything sent from here on, also while it is stopped; earlier messages were not imported."
                .into(),
        ),
        html: None,
        labels: Vec::new(),
        attachments: Vec::new(),
        replayed: false,
        ack: None,
        priority: None,
        topic: None,
        raw: json!({"sync_cursor": cursor}),
    }
}
