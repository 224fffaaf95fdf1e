//! People and conversations by name. Prismer frames carry ids only (`senderId`,
//! `conversationId`); the REST API names them (observed on the real server):
//! `GET /api/im/users/{id}` → `data.displayName` (or `username`), and
//! `GET /api/im/conversations/{id}` → `data.type` (`direct`, `group`), `data.title`
//! (null for a direct chat, which is named after the other participant's
//! `participants[].user.displayName`).

use serde_json::Value;
use tocsin_model::{Event, EventKind, LABEL_DIRECT};

use crate::json::string_at;
use crate::{percent_encode, DecodeError, Lookup, Name, NameCache, Session};

fn user_key(id: &str) -> String {
    format!("user:{id}")
}

fn conversation_key(id: &str) -> String {
    format!("conversation:{id}")
}

/// Whether `event` is something a person said (and so worth naming).
fn is_message(event: &Event) -> bool {
    matches!(
        event.kind,
        EventKind::MessageReceived | EventKind::MessageSent | EventKind::StreamEnd | EventKind::MessageUpdated
    )
}

pub(crate) fn lookups(session: &Session, event: &Event) -> Vec<Lookup> {
    if !is_message(event) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(sender) = event.sender.as_deref().filter(|s| Some(*s) != session.user_id.as_deref()) {
        out.push(Lookup { key: user_key(sender), path: format!("/api/im/users/{}", percent_encode(sender)) });
    }
    if let Some(c) = &event.thread {
        out.push(Lookup { key: conversation_key(c), path: format!("/api/im/conversations/{}", percent_encode(c)) });
    }
    out
}

pub(crate) fn decode(session: &Session, key: &str, body: &[u8]) -> Result<Name, DecodeError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| DecodeError(format!("the Prismer lookup is not JSON ({e})")))?;
    let data = v.get("data").ok_or_else(|| DecodeError(format!("the Prismer lookup {key} has no \"data\"")))?;
    if key.starts_with("user:") {
        let display = string_at(data, &["displayName", "username"])
            .filter(|d| !d.trim().is_empty())
            .ok_or_else(|| DecodeError(format!("the Prismer user {key} has no name")))?;
        return Ok(Name { display, direct: false });
    }
    let direct = data.get("type").and_then(Value::as_str) == Some("direct");
    let title = string_at(data, &["title"]).filter(|t| !t.trim().is_empty());
    let other = data.get("participants").and_then(Value::as_array).and_then(|ps| {
        ps.iter()
            .filter_map(|p| p.get("user"))
            .find(|u| string_at(u, &["id"]) != session.user_id)
            .and_then(|u| string_at(u, &["displayName", "username"]))
    });
    let display = title
        .or_else(|| other.map(|o| if direct { o } else { format!("a group with {o}") }))
        .ok_or_else(|| DecodeError(format!("the Prismer conversation {key} has no title or participants")))?;
    Ok(Name { display, direct })
}

/// Who and where: the sender's name replaces its id, the subject says who and where
/// (the notification title), direct conversations get [`LABEL_DIRECT`].
pub(crate) fn apply(event: &mut Event, names: &NameCache) {
    if !is_message(event) {
        return;
    }
    let sender = event.sender.as_deref().and_then(|s| names.get(&user_key(s))).map(|n| n.display.clone());
    let conversation = event.thread.as_deref().and_then(|c| names.get(&conversation_key(c))).cloned();
    if let Some(s) = &sender {
        event.sender = Some(s.clone());
    }
    if conversation.as_ref().is_some_and(|c| c.direct) && !event.labels.iter().any(|l| l == LABEL_DIRECT) {
        event.labels.push(LABEL_DIRECT.to_owned());
    }
    if event.subject.is_none() {
        let who = match event.kind {
            EventKind::MessageSent => "You".to_owned(),
            _ => event.sender.clone().unwrap_or_else(|| "Someone".into()),
        };
        event.subject = Some(match &conversation {
            Some(c) if c.direct => who,
            Some(c) => format!("{who} in {}", c.display),
            None => who,
        });
    }
}
