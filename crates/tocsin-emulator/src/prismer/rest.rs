//! Prismer's HTTP side: the SSE stream, the sync API (the only catch-up for what was
//! sent while a client was not connected, as the real server behaves), and marking
//! a conversation read.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{envelope, token_of, PrismerState};
use crate::hub::{bearer, Outbound};

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"ok": false, "error": "Invalid or expired token"}))).into_response()
}

/// `GET /api/im/sync?since=<seq>&limit=<n>` (limit 1..500, default 100):
/// `{"ok":true,"data":{"events":[..],"cursor":n,"hasMore":b}}`, the items of the
/// conversations the user is in (and the user's own), with `metadata` as a string.
pub(crate) async fn sync(
    State(state): State<Arc<PrismerState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = state.user_for(bearer(&headers).as_deref()) else { return unauthorized() };
    let since: u64 = query.get("since").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = query.get("limit").and_then(|s| s.parse().ok()).unwrap_or(100).clamp(1, 500);
    state.hub.record(json!({"rest": "GET sync", "since": since, "limit": limit}));
    let (events, has_more) = state.sync_after(&user, since, limit);
    let cursor = events.last().and_then(|e| e.get("seq")).and_then(Value::as_u64).unwrap_or(since);
    Json(json!({"ok": true, "data": {"events": events, "cursor": cursor, "hasMore": has_more}})).into_response()
}

/// `GET /sse?token=`: the same envelopes as unnamed SSE events.
pub(crate) async fn sse(
    State(state): State<Arc<PrismerState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(token) = token_of(&headers, &query) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"ok": false, "error": "Token required (?token=<JWT>)"}))).into_response();
    };
    let Some(user) = state.user_for(Some(&token)) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"ok": false, "error": "Invalid or expired token"}))).into_response();
    };
    let guard = state.hub.connection();
    let (mut live, mut kick) = state.hub.subscribe();
    let first = envelope("authenticated", json!({"userId": user}));
    let stream = async_stream(move |tx| async move {
        let _guard = guard;
        if tx.send(first.to_string()).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                _ = kick.recv() => return,
                item = live.recv() => match item {
                    Ok(Outbound::Frame(f)) => { if tx.send(f.to_string()).await.is_err() { return; } }
                    Ok(Outbound::Raw(t)) => { if tx.send(t.to_string()).await.is_err() { return; } }
                    // The hostile scenarios are WebSocket frames; the SSE stream ignores them.
                    Ok(Outbound::Hostile(_)) => {}
                    Err(_) => return,
                },
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(state.heartbeat).text("heartbeat"))
        .into_response()
}

/// A stream of SSE data events fed by `producer` through a channel.
fn async_stream<F, Fut>(producer: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<String>(256);
    tokio::spawn(producer(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|data| (Ok(SseEvent::default().data(data)), rx))
    })
}

/// `POST /api/im/conversations/{id}/read`.
pub(crate) async fn mark_read(
    State(state): State<Arc<PrismerState>>,
    headers: HeaderMap,
    Path(conversation): Path<String>,
) -> Response {
    if state.user_for(bearer(&headers).as_deref()).is_none() {
        return unauthorized();
    }
    state.hub.record(json!({"rest": "POST read", "conversationId": conversation}));
    Json(json!({"ok": true})).into_response()
}


/// `GET /api/im/users/{id}`: `{"ok":true,"data":{"id","username","displayName",..}}`.
pub(crate) async fn user(State(state): State<Arc<PrismerState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if state.user_for(bearer(&headers).as_deref()).is_none() {
        return unauthorized();
    }
    state.hub.record(json!({"rest": "GET user", "id": id}));
    match state.user_json(&id) {
        Some(data) => Json(json!({"ok": true, "data": data})).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"ok": false, "error": "User not found"}))).into_response(),
    }
}

/// `GET /api/im/conversations/{id}`: type, title and participants, for a participant.
pub(crate) async fn conversation(State(state): State<Arc<PrismerState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(user) = state.user_for(bearer(&headers).as_deref()) else { return unauthorized() };
    state.hub.record(json!({"rest": "GET conversation", "id": id}));
    match state.conversation_json(&id, &user) {
        Some(data) => Json(json!({"ok": true, "data": data})).into_response(),
        None => (StatusCode::FORBIDDEN, Json(json!({"ok": false, "error": "Not a participant"}))).into_response(),
    }
}

/// `POST /api/im/token/refresh` (Bearer the current token, no body):
/// `{"ok":true,"data":{"token","expiresIn":"7d"}}`.
pub(crate) async fn refresh(State(state): State<Arc<PrismerState>>, headers: HeaderMap) -> Response {
    match bearer(&headers).and_then(|t| state.refresh(&t)) {
        Some(token) => Json(json!({"ok": true, "data": {"token": token, "expiresIn": "7d"}})).into_response(),
        None => unauthorized(),
    }
}
