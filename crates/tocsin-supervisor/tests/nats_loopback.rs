//! The direct NATS source against a real `nats-server` on loopback: wildcard
//! semantics end to end, one delivery per message, topic validation before any
//! connection, token auth, reconnect after a server restart, malformed payloads,
//! and shutdown.
//!
//! Needs the `nats-server` binary (Debian package `nats-server`; `scripts/setup.sh
//! --test` installs it, or set `NATS_SERVER` to its path). Without it these tests
//! fail; they never pass silently.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tocsin_emulator::nats_server::{free_port, NatsServer};
use tocsin_model::{Event, EventKind, Provider};
use tocsin_secrets::Sensitive;
use tocsin_supervisor::{run_nats, AccountStatus, Backoff, Cause, ConnState, KeySource, NatsConnection, Outgoing};

const POSTED: &str = "events.org_1.conversations.conversation.message_posted";

// ---- the source under test

struct Running {
    events: mpsc::Receiver<Event>,
    status: watch::Receiver<AccountStatus>,
    cancel: CancellationToken,
    /// What the engine sends (Reconnect, commands).
    outgoing: mpsc::Sender<Outgoing>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn start(url: &str, token: Option<&str>, topics: &[&str]) -> Running {
    let token: Option<KeySource> = token.map(|t| {
        let t = Sensitive::from(t);
        Arc::new(move || Ok(t.clone())) as KeySource
    });
    start_with(url, token, topics)
}

fn start_with(url: &str, token: Option<KeySource>, topics: &[&str]) -> Running {
    start_conn(NatsConnection {
        account: "acct".into(),
        url: url.into(),
        token,
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(100), ..Backoff::default() },
        ca_file: None,
        resume_at_ms: None,
        outgoing: mpsc::channel(1).1,
    })
}

/// Runs `conn` (its `outgoing` replaced by one the test holds).
fn start_conn(mut conn: NatsConnection) -> Running {
    let (tx, events) = mpsc::channel(4096);
    let (status_tx, status) = watch::channel(AccountStatus::new("acct", Provider::Bivariant));
    let cancel = CancellationToken::new();
    let (outgoing, rx) = mpsc::channel(16);
    conn.outgoing = rx;
    tokio::spawn(run_nats(conn, tx, status_tx, cancel.clone()));
    Running { events, status, cancel, outgoing }
}

async fn wait_state(r: &mut Running, pred: impl Fn(&ConnState) -> bool) -> ConnState {
    let fut = async {
        loop {
            let s = r.status.borrow_and_update().state.clone();
            if pred(&s) {
                return s;
            }
            r.status.changed().await.unwrap();
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), fut).await {
        Ok(s) => s,
        Err(_) => panic!("state not reached; now {:?}", r.status.borrow()),
    }
}

async fn subscribed(r: &mut Running) {
    wait_state(r, |s| *s == ConnState::Subscribed).await;
}

async fn fatal(r: &mut Running) -> String {
    match wait_state(r, |s| matches!(s, ConnState::Closed { .. })).await {
        ConnState::Closed { reason, fatal: true } => reason,
        other => panic!("expected a fatal close, got {other:?}"),
    }
}

/// The next event that is not a gap entry.
async fn next_event(r: &mut Running) -> Event {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), r.events.recv())
            .await
            .expect("no event within 10 s")
            .expect("the source stopped");
        if e.kind != EventKind::Gap {
            return e;
        }
    }
}

/// Everything that arrives within `quiet` of the previous event.
async fn drain(r: &mut Running, quiet: Duration) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(quiet, r.events.recv()).await {
        out.push(e);
    }
    out
}

fn envelope(id: &str, subject: &str) -> Value {
    let tokens: Vec<&str> = subject.split('.').collect();
    let (resource, event) = (tokens.get(3).copied().unwrap_or("x"), tokens.get(4).copied().unwrap_or("x"));
    json!({
        "id": id,
        "event": format!("{resource}.{event}"),
        "orgId": tokens.get(1),
        "source": tokens.get(2),
        "resource": resource,
        "resourceId": tokens.get(5),
        "timestamp": "2026-03-16T10:30:45.123Z",
        "payload": {
            "roomId": "room_1",
            "conversationId": tokens.get(5),
            "message": {"id": format!("msg_{id}"), "role": "user", "parts": [{"kind": "text", "text": format!("text of {id}")}]},
            "senderId": "acc_9",
            "status": "done"
        }
    })
}

async fn publish(client: &async_nats::Client, subject: &str, payload: impl Into<Vec<u8>>) {
    client.publish(subject.to_owned(), payload.into().into()).await.unwrap();
    client.flush().await.unwrap();
}

async fn publish_event(client: &async_nats::Client, id: &str, subject: &str) {
    publish(client, subject, envelope(id, subject).to_string()).await;
}

fn ids(events: &[Event]) -> Vec<String> {
    let mut ids: Vec<String> = events.iter().filter_map(|e| e.provider_event_id.clone()).collect();
    ids.sort();
    ids
}

// ---- tests

#[tokio::test]
async fn star_matches_one_token_and_rest_matches_the_rest() {
    let server = NatsServer::start(None);
    let star = format!("{POSTED}.*");
    let mut r = start(&server.url(), None, &[&star, "events.org_2.>"]);
    subscribed(&mut r).await;
    let p = server.publisher().await;

    publish_event(&p, "star_one", &format!("{POSTED}.conv_1")).await;
    publish_event(&p, "star_two_tokens", &format!("{POSTED}.conv_1.participant.part_7")).await; // `*` is one token only
    publish_event(&p, "star_zero_tokens", POSTED).await; // `*` needs a token
    publish_event(&p, "other_org", "events.org_3.conversations.conversation.message_posted.conv_1").await;
    publish_event(&p, "rest_one", "events.org_2.tasks").await;
    publish_event(&p, "rest_many", "events.org_2.tasks.task.completed.task_1").await;
    publish_event(&p, "rest_filtered", "events.org_2.conversations.conversation.message_posted.c.participant.p").await;
    publish_event(&p, "rest_zero", "events.org_2").await; // `>` needs at least one token

    let got = drain(&mut r, Duration::from_millis(500)).await;
    assert_eq!(ids(&got), ["rest_filtered", "rest_many", "rest_one", "star_one"]);
    assert!(got.iter().all(|e| e.kind != EventKind::Gap));

    let by_id = |id: &str| got.iter().find(|e| e.provider_event_id.as_deref() == Some(id)).unwrap();
    let posted = by_id("star_one");
    assert_eq!(posted.kind, EventKind::MessageReceived);
    assert_eq!(posted.dedupe_key, "bivariant:star_one");
    assert_eq!(posted.account, "acct");
    assert_eq!(posted.text.as_deref(), Some("text of star_one"));
    assert_eq!(posted.thread.as_deref(), Some("conv_1"));
    assert_eq!(posted.topic.as_deref(), Some(format!("{POSTED}.conv_1").as_str()));
    assert_eq!(posted.raw["type"], "event");
    assert_eq!(posted.raw["subscription"], star.as_str());
    let task = by_id("rest_many");
    assert_eq!(task.kind, EventKind::TaskUpdated);
    assert_eq!(task.raw["subscription"], "events.org_2.>");
    assert_eq!(r.status.borrow().events_received, 4);
}

#[tokio::test]
async fn a_message_matching_two_patterns_arrives_once() {
    let server = NatsServer::start(None);
    let star = format!("{POSTED}.*");
    let mut r = start(&server.url(), None, &[&star, "events.org_1.>"]);
    subscribed(&mut r).await;
    let p = server.publisher().await;

    publish_event(&p, "both", &format!("{POSTED}.conv_1")).await;
    publish_event(&p, "rest_only", "events.org_1.tasks.task.completed.task_1").await;
    // The same event published again is still one event (same id on the same topic).
    publish_event(&p, "both", &format!("{POSTED}.conv_1")).await;

    let got = drain(&mut r, Duration::from_millis(500)).await;
    assert_eq!(ids(&got), ["both", "rest_only"], "{got:#?}");
    let both = got.iter().find(|e| e.provider_event_id.as_deref() == Some("both")).unwrap();
    // The first configured pattern that matches is listed, whichever copy came first.
    assert_eq!(both.raw["subscription"], star.as_str());
    let rest = got.iter().find(|e| e.provider_event_id.as_deref() == Some("rest_only")).unwrap();
    assert_eq!(rest.raw["subscription"], "events.org_1.>");
    assert_eq!(r.status.borrow().events_received, 2);
}

#[tokio::test]
async fn invalid_topics_are_refused_before_connecting() {
    let server = NatsServer::start(None);
    // (The readiness check in `start` counts as a connection.)
    let connections_before = server.varz("total_connections");
    let subscriptions_before = server.varz("subscriptions"); // the server's own
    let mut r = start(&server.url(), None, &["events.org_1.>", "events.org_1.>.x"]);
    let reason = fatal(&mut r).await;
    assert!(reason.contains("\">\" may only be the last segment"), "{reason}");
    assert!(reason.contains("events.org_1.>.x"), "{reason}");

    let mut r2 = start(&server.url(), None, &["orders.org_1.>"]);
    let reason = fatal(&mut r2).await;
    assert!(reason.contains("must start with \"events.\""), "{reason}");

    let mut r3 = start(&server.url(), None, &[]);
    assert!(fatal(&mut r3).await.contains("at least one topic"));

    // Neither ever connected, let alone subscribed.
    assert_eq!(server.varz("total_connections"), connections_before);
    assert_eq!(server.varz("subscriptions"), subscriptions_before);
}

#[tokio::test]
async fn token_auth_succeeds_and_a_wrong_token_is_fatal() {
    let server = NatsServer::start(Some("s3cret-token"));

    let mut good = start(&server.url(), Some("s3cret-token"), &["events.org_1.>"]);
    subscribed(&mut good).await;
    let p = server.publisher().await;
    publish_event(&p, "authed", "events.org_1.tasks.task.completed.t1").await;
    assert_eq!(next_event(&mut good).await.provider_event_id.as_deref(), Some("authed"));

    let mut wrong = start(&server.url(), Some("not-the-token"), &["events.org_1.>"]);
    let reason = fatal(&mut wrong).await;
    assert!(reason.contains("rejected the token"), "{reason}");
    assert!(!reason.contains("not-the-token"), "the token leaked into the reason: {reason}");
    assert_eq!(wrong.status.borrow().last_error.as_deref(), Some(reason.as_str()));

    let mut none = start(&server.url(), None, &["events.org_1.>"]);
    let reason = fatal(&mut none).await;
    assert!(reason.contains("no token is set"), "{reason}");

    // Fatal means no retrying: the server sees no further connection attempts.
    let attempts = server.varz("total_connections");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.varz("total_connections"), attempts);
    // The good connection is unaffected.
    assert_eq!(good.status.borrow().state, ConnState::Subscribed);
}

#[tokio::test]
async fn the_token_is_read_again_on_reconnect_and_a_refusal_then_is_fatal() {
    let mut server = NatsServer::start(Some("token-a"));
    let current = Arc::new(Mutex::new("token-a".to_owned()));
    let key = current.clone();
    let source: KeySource = Arc::new(move || Ok(Sensitive::new(key.lock().unwrap().clone())));
    let mut r = start_with(&server.url(), Some(source), &["events.org_1.>"]);
    subscribed(&mut r).await;

    // The server's token changes and so does the stored one: the next connection
    // picks the new one up.
    server.stop();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    *current.lock().unwrap() = "token-b".into();
    server.token = Some("token-b".into());
    server.restart();
    subscribed(&mut r).await;
    let p = server.publisher().await;
    publish_event(&p, "rotated", "events.org_1.tasks.task.completed.t1").await;
    assert_eq!(next_event(&mut r).await.provider_event_id.as_deref(), Some("rotated"));
    drop(p);

    // The server's token changes but the stored one does not: fatal, no retry loop.
    server.stop();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    server.token = Some("token-c".into());
    server.restart();
    let reason = fatal(&mut r).await;
    assert!(reason.contains("rejected the token"), "{reason}");
    assert_eq!(r.status.borrow().cause, Some(Cause::Auth));
    // Stopped, not ended: once the stored token is right, Reconnect connects again
    // (with exactly one new connection: nothing retried while it was stopped).
    let attempts = server.varz("total_connections");
    *current.lock().unwrap() = "token-c".into();
    r.outgoing.send(Outgoing::Reconnect).await.unwrap();
    subscribed(&mut r).await;
    assert_eq!(server.varz("total_connections"), attempts + 1);
}

#[tokio::test]
async fn a_token_that_cannot_be_read_is_fatal() {
    let server = NatsServer::start(Some("token-a"));
    let source: KeySource = Arc::new(|| Err("the keyring is locked".to_owned()));
    let mut r = start_with(&server.url(), Some(source), &["events.org_1.>"]);
    assert_eq!(fatal(&mut r).await, "the keyring is locked");
}

#[tokio::test]
async fn reconnects_after_a_server_restart_and_events_flow_again() {
    let mut server = NatsServer::start(None);
    let mut r = start(&server.url(), None, &["events.org_1.>"]);
    subscribed(&mut r).await;
    let p = server.publisher().await;
    publish_event(&p, "before", "events.org_1.tasks.task.completed.t1").await;
    assert_eq!(next_event(&mut r).await.provider_event_id.as_deref(), Some("before"));
    drop(p);

    server.stop();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    let last_error = r.status.borrow().last_error.clone().unwrap_or_default();
    assert!(last_error.contains("NATS server"), "{last_error}");
    // Let a few attempts fail against the closed port.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(r.status.borrow().state, ConnState::Reconnecting { .. }), "{:?}", r.status.borrow());

    server.restart();
    subscribed(&mut r).await;
    assert_eq!(r.status.borrow().last_error, None);
    let p = server.publisher().await;
    publish_event(&p, "after", "events.org_1.tasks.task.completed.t2").await;

    // A gap entry covers the outage, then the new event arrives.
    let gap = tokio::time::timeout(Duration::from_secs(10), r.events.recv()).await.unwrap().unwrap();
    assert_eq!(gap.kind, EventKind::Gap, "{gap:?}");
    assert_eq!(gap.provider, Provider::Bivariant);
    assert_eq!(next_event(&mut r).await.provider_event_id.as_deref(), Some("after"));
    assert_eq!(r.status.borrow().events_received, 2);
}

#[tokio::test]
async fn malformed_payloads_are_skipped() {
    let server = NatsServer::start(None);
    let mut r = start(&server.url(), None, &["events.org_1.>"]);
    subscribed(&mut r).await;
    let p = server.publisher().await;
    let subject = "events.org_1.tasks.task.completed.t1";
    publish(&p, subject, "not json at all").await;
    publish(&p, subject, "[1, 2, 3]").await;
    publish(&p, subject, r#"{"id":"cut"#).await;
    publish(&p, subject, vec![0xff, 0xfe, 0x00]).await;
    publish(&p, subject, "").await;
    publish_event(&p, "valid", subject).await;

    let got = drain(&mut r, Duration::from_millis(500)).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].provider_event_id.as_deref(), Some("valid"));
    let status = r.status.borrow().clone();
    assert_eq!(status.state, ConnState::Subscribed);
    assert_eq!(status.events_received, 1);
}

#[tokio::test]
async fn shutdown_closes_the_connection() {
    let server = NatsServer::start(None);
    let mut r = start(&server.url(), None, &["events.org_1.>"]);
    subscribed(&mut r).await;
    assert_eq!(server.varz("connections"), 1);
    r.cancel.cancel();
    let state = wait_state(&mut r, |s| matches!(s, ConnState::Closed { .. })).await;
    assert_eq!(state, ConnState::Closed { reason: "stopped".into(), fatal: false });
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.varz("connections") != 0 {
        assert!(Instant::now() < deadline, "the NATS connection stayed open after shutdown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_unreachable_server_is_retried_until_it_comes_up() {
    let port = free_port();
    let mut r = start(&format!("nats://127.0.0.1:{port}"), None, &["events.org_1.>"]);
    let state = wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    assert!(matches!(state, ConnState::Reconnecting { attempt: 1, .. }), "{state:?}");
    let last_error = r.status.borrow().last_error.clone().unwrap_or_default();
    assert!(last_error.contains("cannot reach the NATS server"), "{last_error}");

    let server = NatsServer::start_on(port, None);
    subscribed(&mut r).await;
    let p = server.publisher().await;
    publish_event(&p, "late", "events.org_1.tasks.task.completed.t1").await;
    assert_eq!(next_event(&mut r).await.provider_event_id.as_deref(), Some("late"));
}

#[tokio::test]
async fn reconnecting_gives_up_after_max_attempts() {
    let mut server = NatsServer::start(None);
    let mut r = start_conn(NatsConnection {
        account: "acct".into(),
        url: server.url(),
        token: None,
        topics: vec!["events.org_1.>".into()],
        backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(50), max_attempts: 3, ..Backoff::default() },
        ca_file: None,
        resume_at_ms: None,
        outgoing: mpsc::channel(1).1,
    });
    subscribed(&mut r).await;
    server.stop();
    let reason = fatal(&mut r).await;
    assert!(reason.starts_with("gave up after 3 attempts"), "{reason}");
    assert_eq!(r.status.borrow().cause, Some(Cause::Network));
    // Given up is not gone: the user's Reconnect tries again, like a WebSocket account.
    server.restart();
    r.outgoing.send(Outgoing::Reconnect).await.unwrap();
    subscribed(&mut r).await;
}

#[tokio::test]
async fn reconnect_all_reaches_a_nats_account_and_leaves_a_gap_entry() {
    let server = NatsServer::start(None);
    let mut r = start(&server.url(), None, &["events.org_1.>"]);
    subscribed(&mut r).await;
    let before = server.varz("total_connections");
    r.outgoing.send(Outgoing::Reconnect).await.unwrap();
    wait_state(&mut r, |s| *s != ConnState::Subscribed).await;
    subscribed(&mut r).await;
    assert_eq!(server.varz("total_connections"), before + 1, "one new connection");
    let gap = tokio::time::timeout(Duration::from_secs(10), r.events.recv()).await.unwrap().unwrap();
    assert_eq!(gap.kind, EventKind::Gap, "core NATS cannot resend what the reconnect missed");
    let p = server.publisher().await;
    publish_event(&p, "after", "events.org_1.tasks.task.completed.t1").await;
    assert_eq!(next_event(&mut r).await.provider_event_id.as_deref(), Some("after"));
    // Commands: a reply is refused in words, marking read is local.
    let (reply, answer) = tokio::sync::oneshot::channel();
    let command = tocsin_providers::Command::Reply { message_id: None, inbox: None, thread: None, text: "hi".into() };
    r.outgoing.send(Outgoing::Command { command, reply }).await.unwrap();
    assert!(answer.await.unwrap().unwrap_err().contains("read-only"));
}
