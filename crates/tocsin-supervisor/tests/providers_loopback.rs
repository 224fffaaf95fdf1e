//! Every provider's adapter through the supervisor against the emulator, over real
//! loopback sockets: auth modes succeeding and failing, subscriptions, decoding,
//! acks and redelivery, tickets, topics, bad frames, and silent connections.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tocsin_emulator::{Emulator, EmulatorConfig};
use tocsin_model::{Event, EventKind, Provider};
use tocsin_providers::{AuthMode, Endpoint, Subscriptions};
use tocsin_secrets::Sensitive;
use tocsin_supervisor::{AccountStatus, Backoff, ConnState, Connection, KeySource, Outgoing, DEFAULT_MAX_FRAME};

const KEY: &str = "key_loopback_1";

async fn emulator() -> Emulator {
    let config = EmulatorConfig { keys: vec![KEY.into()], auth_timeout: Duration::from_secs(2), ..EmulatorConfig::default() };
    Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap()
}

struct Running {
    events: mpsc::Receiver<Event>,
    status: watch::Receiver<AccountStatus>,
    acks: mpsc::Sender<Outgoing>,
    cancel: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn start(provider: Provider, endpoint: Endpoint, key: &str, subs: Subscriptions) -> Running {
    let key = Sensitive::from(key);
    start_keyed(provider, endpoint, Arc::new(move || Ok(key.clone())), None, subs)
}

fn start_keyed(
    provider: Provider,
    endpoint: Endpoint,
    key: KeySource,
    save_key: Option<tocsin_supervisor::KeySaver>,
    subs: Subscriptions,
) -> Running {
    let adapter = tocsin_providers::adapter_for(provider, &endpoint, &subs).unwrap();
    let endpoint_rest = endpoint.rest_base();
    let (acks, outgoing) = mpsc::channel(1024);
    let conn = Connection {
        account: "acct".into(),
        adapter: Arc::from(adapter),
        key,
        backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(100), ..Backoff::default() },
        max_frame_bytes: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(5),
        resume: None,
        resume_at_ms: None,
        outgoing,
        rest_base: endpoint_rest,
        ca_file: None,
        rate_limit: tocsin_supervisor::RateLimit::default(),
        names: Default::default(),
        save_key,
    };
    let (tx, events) = mpsc::channel(4096);
    let (status_tx, status) = watch::channel(AccountStatus::new("acct", provider));
    let cancel = CancellationToken::new();
    tokio::spawn(tocsin_supervisor::run(conn, tx, status_tx, cancel.clone()));
    Running { events, status, acks, cancel }
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

/// The next event that is not the "now following" entry a new Prismer account writes.
async fn next_message(r: &mut Running) -> Event {
    loop {
        let e = next(r).await;
        if e.provider_type != "tocsin.following" {
            return e;
        }
    }
}

async fn fatal(r: &mut Running) -> String {
    match wait_state(r, |s| matches!(s, ConnState::Closed { .. })).await {
        ConnState::Closed { reason, fatal: true } => reason,
        other => panic!("expected a fatal close, got {other:?}"),
    }
}

async fn next(r: &mut Running) -> Event {
    tokio::time::timeout(Duration::from_secs(10), r.events.recv()).await.expect("no event in 10 s").expect("open")
}

// ---------------------------------------------------------------- AgentMail

#[tokio::test]
async fn agentmail_auth_modes_subscribe_and_receive() {
    let emu = emulator().await;
    let modes = [
        (AuthMode::Bearer, None),
        (AuthMode::Query, None),
        (AuthMode::Query, Some("auth_token".to_owned())),
    ];
    for (auth, query_param) in modes {
        let endpoint = Endpoint { query_param, ..Endpoint::new(&emu.agentmail_url(), auth) };
        let subs = Subscriptions { inboxes: vec!["agent@agentmail.to".into()], ..Default::default() };
        let mut r = start(Provider::AgentMail, endpoint, KEY, subs);
        subscribed(&mut r).await;
        emu.agentmail().publish(tocsin_emulator::agentmail::message_received("evt_other", "other@agentmail.to", "x", "not mine", "", &[]));
        emu.agentmail().publish(tocsin_emulator::agentmail::message_received("evt_1", "agent@agentmail.to", "Jane <j@x.io>", "Hello", "Hi there", &["received"]));
        let e = next(&mut r).await;
        assert_eq!(e.dedupe_key, "agentmail:msg:agent@agentmail.to:<evt_1@agentmail.emulator>");
        assert_eq!(e.kind, EventKind::MessageReceived);
        assert_eq!(e.subject.as_deref(), Some("Hello"));
    }
    let subscribes: Vec<_> = emu.agentmail().commands().into_iter().filter(|c| c["type"] == "subscribe").collect();
    assert_eq!(subscribes[0], json!({"type":"subscribe","inbox_ids":["agent@agentmail.to"]}));
}

#[tokio::test]
async fn agentmail_bad_key_is_fatal() {
    let emu = emulator().await;
    let mut r = start(Provider::AgentMail, Endpoint::new(&emu.agentmail_url(), AuthMode::Bearer), "wrong", Subscriptions::default());
    let reason = fatal(&mut r).await;
    assert!(reason.contains("HTTP 401"), "{reason}");
}

#[tokio::test]
async fn agentmail_backfills_over_rest_what_it_missed_while_down() {
    let emu = emulator().await;
    let subs = Subscriptions { inboxes: vec!["agent@agentmail.to".into()], ..Default::default() };
    let mut r = start(Provider::AgentMail, Endpoint::new(&emu.agentmail_url(), AuthMode::Bearer), KEY, subs);
    subscribed(&mut r).await;
    emu.agentmail().publish(tocsin_emulator::agentmail::message_received("evt_b1", "agent@agentmail.to", "a@b.c", "before", "", &[]));
    let _first = next(&mut r).await;
    emu.agentmail().drop_connections();
    // Published once the client has seen the drop: no connection streams them.
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    emu.agentmail().publish(tocsin_emulator::agentmail::message_received("evt_b2", "agent@agentmail.to", "a@b.c", "missed 1", "", &[]));
    emu.agentmail().publish(tocsin_emulator::agentmail::message_received("evt_b3", "agent@agentmail.to", "a@b.c", "missed 2", "", &[]));
    // Everything arrives (the overlap may list "before" again: same dedupe key, and
    // the history keeps one), and no gap is reported.
    let mut keys = std::collections::HashMap::new();
    while keys.len() < 3 {
        let e = next(&mut r).await;
        assert_ne!(e.kind, EventKind::Gap, "a successful backfill leaves no gap");
        keys.insert(e.dedupe_key.clone(), e.subject.clone().unwrap());
    }
    let mut subjects: Vec<_> = keys.into_values().collect();
    subjects.sort();
    assert_eq!(subjects, ["before", "missed 1", "missed 2"]);
    assert!(emu.agentmail().commands().iter().any(|c| c["rest"] == "GET messages"));
}

#[tokio::test]
async fn agentmail_resubscribes_after_the_server_drops_it() {
    let emu = emulator().await;
    let mut r = start(Provider::AgentMail, Endpoint::new(&emu.agentmail_url(), AuthMode::Bearer), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    emu.agentmail().drop_connections();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    subscribed(&mut r).await;
    let n = emu.agentmail().commands().iter().filter(|c| c["type"] == "subscribe").count();
    assert_eq!(n, 2);
    // No inbox configured: the catch-up lists every inbox the key sees (none had
    // mail), so nothing is missing and no gap entry is written.
    tocsin_e2e_wait(|| emu.agentmail().commands().iter().any(|c| c["rest"] == "GET inboxes")).await;
    emu.agentmail().publish(tocsin_emulator::agentmail::message_received("evt_9", "a@agentmail.to", "x", "after", "", &[]));
    assert_eq!(next(&mut r).await.subject.as_deref(), Some("after"));
}

// ---------------------------------------------------------------- Prismer

#[tokio::test]
async fn prismer_query_and_frame_auth() {
    let emu = emulator().await;
    for auth in [AuthMode::Query, AuthMode::Frame] {
        let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), auth), KEY, Subscriptions::default());
        subscribed(&mut r).await;
        emu.prismer().hub.publish(tocsin_emulator::prismer::message_new(&format!("msg_{auth:?}"), "conv_1", "usr_other", "hello"));
        let e = next_message(&mut r).await;
        assert_eq!(e.kind, EventKind::MessageReceived);
        assert!(e.ack.is_some(), "tracked events carry an ackId");
    }
}

#[tokio::test]
async fn prismer_bad_token_fails_at_once_either_way() {
    let emu = emulator().await;
    for auth in [AuthMode::Query, AuthMode::Frame] {
        let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), auth), "bad.jwt", Subscriptions::default());
        let started = std::time::Instant::now();
        let reason = fatal(&mut r).await;
        assert!(reason.contains("Invalid token"), "{reason}");
        assert!(started.elapsed() < Duration::from_secs(2), "no waiting for the server's 10 s deadline");
    }
}

#[tokio::test]
async fn prismer_acked_events_are_not_redelivered_and_unacked_ones_are() {
    let emu = emulator().await;
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    emu.prismer().hub.publish(tocsin_emulator::prismer::message_new("m1", "c", "usr_x", "acked"));
    emu.prismer().hub.publish(tocsin_emulator::prismer::message_new("m2", "c", "usr_x", "not acked"));
    let first = next_message(&mut r).await;
    let _second = next_message(&mut r).await;
    r.acks.send(Outgoing::Ack(first.ack.clone().unwrap())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    emu.prismer().hub.drop_connections();
    let again = next_message(&mut r).await;
    assert_eq!(again.dedupe_key, "prismer:msg:m2", "only the unacknowledged event comes back");
    assert!(again.replayed, "isRetry marks the redelivery");
    let acks = emu.prismer().hub.commands().iter().filter(|c| c["type"] == "ack").count();
    assert_eq!(acks, 1);
    tocsin_e2e_wait(|| emu.prismer().hub.commands().iter().any(|c| c["type"] == "reconnect")).await;
}

#[tokio::test]
async fn prismer_eviction_by_a_newer_client_is_fatal() {
    let emu = emulator().await;
    let mut first = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
    subscribed(&mut first).await;
    let mut others = Vec::new();
    for _ in 0..5 {
        let mut o = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
        subscribed(&mut o).await;
        others.push(o);
    }
    let reason = fatal(&mut first).await;
    assert!(reason.contains("replaced this connection"), "{reason}");
    assert_eq!(first.status.borrow().cause, Some(tocsin_supervisor::Cause::Eviction));
}

#[tokio::test]
async fn prismer_app_pings_are_answered() {
    let emu = emulator().await;
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    // Pause time only once the first sync (real HTTP) is over.
    assert_eq!(next(&mut r).await.provider_type, "tocsin.following");
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(26)).await;
    tokio::time::resume();
    tocsin_e2e_wait(|| emu.prismer().hub.commands().iter().any(|c| c["type"] == "ping")).await;
    let ping = emu.prismer().hub.commands().into_iter().find(|c| c["type"] == "ping").unwrap();
    assert_eq!(ping["requestId"], "hb-1");
    assert_eq!(ping["payload"]["requestId"], "hb-1");
    assert_eq!(r.status.borrow().state, ConnState::Subscribed);
}

async fn tocsin_e2e_wait(mut f: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition not met in 10 s");
}

// ---------------------------------------------------------------- Chat SDK (tickets)

#[tokio::test]
async fn divinci_fetches_a_fresh_ticket_for_every_connect() {
    let emu = emulator().await;
    let url = emu.divinci_chat_url("thr_123");
    let mut r = start(Provider::Divinci, Endpoint::new(&url, AuthMode::Token), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    emu.divinci().publish(tocsin_emulator::divinci::message_created("m_other", "thr_999", "other thread"));
    emu.divinci().publish(tocsin_emulator::divinci::message_created("m_1", "thr_123", "Hello!"));
    let e = next(&mut r).await;
    assert_eq!(e.dedupe_key, "divinci:message.created:m_1");
    assert_eq!(e.text.as_deref(), Some("Hello!"));
    emu.divinci().drop_connections();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    subscribed(&mut r).await;
    let tickets: Vec<_> = emu.divinci().commands().into_iter().filter(|c| c["rest"] == "POST /ws/ticket").collect();
    assert_eq!(tickets.len(), 2, "single-use tickets: one per connect");
    assert_eq!(tickets[0]["body"], json!({"type":"chat","threadId":"thr_123"}));
}

#[tokio::test]
async fn divinci_bad_key_fails_at_the_ticket_endpoint() {
    let emu = emulator().await;
    let mut r = start(Provider::Divinci, Endpoint::new(&emu.divinci_chat_url("t"), AuthMode::Token), "wrong", Subscriptions::default());
    let reason = fatal(&mut r).await;
    assert!(reason.contains("ticket endpoint rejected the API key (HTTP 401: Invalid API key)"), "{reason}");
}

// ---------------------------------------------------------------- Topic platform

#[tokio::test]
async fn bivariant_topics_with_wildcards() {
    let emu = emulator().await;
    let subs = Subscriptions {
        topics: vec![
            "events.org_123.conversations.conversation.message_posted.*".into(),
            "events.org_123.>".into(),
        ],
        ..Default::default()
    };
    for auth in [AuthMode::Bearer, AuthMode::Query] {
        let mut r = start(Provider::Bivariant, Endpoint::new(&emu.bivariant_url(), auth), KEY, subs.clone());
        subscribed(&mut r).await;
        let id = format!("evt_{auth:?}");
        emu.bivariant().publish(tocsin_emulator::bivariant::message_posted(&id, "conv_456", "Hi"));
        let e = next(&mut r).await;
        assert_eq!(e.dedupe_key, format!("bivariant:{id}"));
        assert_eq!(
            e.raw["subscription"], "events.org_123.conversations.conversation.message_posted.*",
            "delivered once, naming the first matching pattern"
        );
        assert!(tokio::time::timeout(Duration::from_millis(200), r.events.recv()).await.is_err(), "not twice");
    }
}

#[tokio::test]
async fn bivariant_refused_topic_is_shown_and_bad_key_is_fatal() {
    let emu = emulator().await;
    let subs = Subscriptions { topics: vec!["events.org_999.conversations.conversation.message_posted.*".into()], ..Default::default() };
    let r = start(Provider::Bivariant, Endpoint::new(&emu.bivariant_url(), AuthMode::Bearer), KEY, subs.clone());
    tocsin_e2e_wait(|| r.status.borrow().last_error.is_some()).await;
    let err = r.status.borrow().last_error.clone().unwrap();
    assert!(err.contains("topic outside org"), "{err}");
    let mut bad = start(Provider::Bivariant, Endpoint::new(&emu.bivariant_url(), AuthMode::Bearer), "nope", subs);
    assert!(fatal(&mut bad).await.contains("HTTP 401"));
}

// ---------------------------------------------------------------- bad input and silence

#[tokio::test]
async fn malformed_unknown_and_oversized_frames_do_not_break_the_account() {
    let emu = emulator().await;
    let subs = Subscriptions { topics: vec!["events.org_123.>".into()], ..Default::default() };
    let mut r = start(Provider::Bivariant, Endpoint::new(&emu.bivariant_url(), AuthMode::Bearer), KEY, subs);
    subscribed(&mut r).await;
    emu.bivariant().publish_raw("this is not json");
    emu.bivariant().publish_raw("{\"type\":\"from.the.future\"}");
    emu.bivariant().publish_raw("\u{0}\u{1}binaryish");
    emu.bivariant().publish(tocsin_emulator::bivariant::message_posted("after_junk", "c1", "still fine"));
    assert_eq!(next(&mut r).await.dedupe_key, "bivariant:after_junk");
    // 2 MiB: over the 1 MiB limit. The connection is refused and re-established.
    emu.bivariant().publish_raw(&format!("{{\"type\":\"event\",\"pad\":\"{}\"}}", "x".repeat(2 << 20)));
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    assert!(r.status.borrow().last_error.as_deref().unwrap_or("").contains("over the 1024 KiB limit"));
    subscribed(&mut r).await;
    assert_eq!(next(&mut r).await.kind, EventKind::Gap);
    emu.bivariant().publish(tocsin_emulator::bivariant::message_posted("after_big", "c1", "fine again"));
    assert_eq!(next(&mut r).await.dedupe_key, "bivariant:after_big");
}

#[tokio::test]
async fn a_silent_connection_is_declared_dead_and_replaced() {
    let emu = emulator().await;
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    // The first sync (real HTTP) is over once its "following" entry arrives: only then
    // may time be paused, or the jump would land inside the sync's own timeout.
    assert_eq!(next(&mut r).await.provider_type, "tocsin.following");
    emu.prismer().hub.set_silent(true);
    let before = emu.prismer().hub.total_connections();
    tokio::time::pause();
    // No pong and no frame for 35 s: dead.
    tokio::time::advance(Duration::from_secs(40)).await;
    tokio::time::resume();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    let err = r.status.borrow().last_error.clone().unwrap();
    assert!(err.contains("presumed dead"), "{err}");
    emu.prismer().hub.set_silent(false);
    emu.prismer().hub.drop_connections();
    subscribed(&mut r).await;
    assert!(emu.prismer().hub.total_connections() > before);
}

// ---------------------------------------------------------------- commands

async fn run_command(r: &Running, command: tocsin_providers::Command) -> Result<(), String> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    r.acks.send(Outgoing::Command { command, reply }).await.unwrap();
    tokio::time::timeout(Duration::from_secs(15), answer).await.expect("an answer within 15 s").expect("answered")
}

fn mark(message: &str, inbox: &str, thread: &str) -> tocsin_providers::Command {
    tocsin_providers::Command::MarkRead {
        message_id: Some(message.into()),
        inbox: Some(inbox.into()),
        thread: Some(thread.into()),
    }
}

#[tokio::test]
async fn daimon_mark_read_and_reply_over_the_socket_with_request_ids() {
    let emu = emulator().await;
    let r = start(Provider::Daimon, Endpoint::new(&emu.daimon_url(), AuthMode::Bearer), KEY, Subscriptions::default());
    let mut r = r;
    subscribed(&mut r).await;
    run_command(&r, mark("msg_1", "inbox_ops", "t")).await.unwrap();
    let reply = tocsin_providers::Command::Reply {
        message_id: Some("msg_1".into()),
        inbox: Some("inbox_ops".into()),
        thread: None,
        text: "On it.".into(),
    };
    run_command(&r, reply).await.unwrap();
    let cmds = emu.daimon().commands();
    let m = cmds.iter().find(|c| c["action"] == "mark_as_read").unwrap();
    assert_eq!(m["message_id"], "msg_1");
    assert!(m["request_id"].as_str().unwrap().starts_with("tocsin-"));
    let s = cmds.iter().find(|c| c["action"] == "send_email").unwrap();
    assert_eq!(s["params"]["in_reply_to"], "msg_1");
    assert_eq!(s["params"]["body"], "On it.");
    let no_message = tocsin_providers::Command::MarkRead { message_id: None, inbox: None, thread: None };
    assert!(run_command(&r, no_message).await.unwrap_err().contains("no message"));
}

#[tokio::test]
async fn agentmail_mark_read_over_rest_and_a_refusal_in_words() {
    let emu = emulator().await;
    let mut r = start(Provider::AgentMail, Endpoint::new(&emu.agentmail_url(), AuthMode::Bearer), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    run_command(&r, mark("<m1@x>", "agent@agentmail.to", "t")).await.unwrap();
    let patch = emu.agentmail().commands().into_iter().find(|c| c["rest"] == "PATCH message").unwrap();
    assert_eq!(patch["inbox_id"], "agent@agentmail.to");
    assert_eq!(patch["message_id"], "<m1@x>");
    assert_eq!(patch["body"], json!({"add_labels":["read"],"remove_labels":["unread"]}));
}

#[tokio::test]
async fn prismer_mark_read_over_rest_and_reply_over_the_socket() {
    let emu = emulator().await;
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    run_command(&r, mark("msg_1", "", "conv_42")).await.unwrap();
    let read = emu.prismer().hub.commands().into_iter().find(|c| c["rest"] == "POST read").unwrap();
    assert_eq!(read["conversationId"], "conv_42");
    let reply = tocsin_providers::Command::Reply {
        message_id: Some("msg_1".into()),
        inbox: None,
        thread: Some("conv_42".into()),
        text: "Thanks".into(),
    };
    run_command(&r, reply).await.unwrap();
    tocsin_e2e_wait(|| emu.prismer().hub.commands().iter().any(|c| c["type"] == "message.send")).await;
    let sent = emu.prismer().hub.commands().into_iter().find(|c| c["type"] == "message.send").unwrap();
    assert_eq!(sent["payload"]["conversationId"], "conv_42");
    assert_eq!(sent["payload"]["parentId"], "msg_1");
}

#[tokio::test]
async fn prismer_falls_back_to_sse_and_returns_to_the_websocket() {
    let emu = emulator().await;
    emu.prismer().set_ws_disabled(true);
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    assert_eq!(r.status.borrow().transport, "sse");
    assert!(r.status.borrow().last_error.as_deref().unwrap().contains("HTTP 503"));
    emu.prismer().hub.publish(tocsin_emulator::prismer::message_new("sse_1", "conv_1", "usr_x", "over SSE"));
    let e = next_message(&mut r).await;
    assert_eq!(e.dedupe_key, "prismer:msg:sse_1");
    assert_eq!(e.text.as_deref(), Some("over SSE"));
    // The stream is read-only, but Prismer takes mark read over REST: it still works.
    run_command(&r, mark("sse_1", "conv_1", "conv_1")).await.unwrap();
    tocsin_e2e_wait(|| emu.prismer().hub.commands().iter().any(|c| c["rest"] == "POST read" && c["conversationId"] == "conv_1")).await;

    // Later, the WebSocket works again: the supervisor goes back to it.
    emu.prismer().set_ws_disabled(false);
    tokio::time::pause();
    tokio::time::advance(tocsin_supervisor::SSE_STAY + Duration::from_secs(1)).await;
    tokio::time::resume();
    tocsin_e2e_wait(|| r.status.borrow().transport == "websocket" && r.status.borrow().state == ConnState::Subscribed).await;
    emu.prismer().hub.publish(tocsin_emulator::prismer::message_new("ws_1", "conv_1", "usr_x", "over WS"));
    let e = next(&mut r).await;
    assert_eq!(e.dedupe_key, "prismer:msg:ws_1");
    assert!(e.ack.is_some());
}

#[tokio::test]
async fn prismer_sse_with_a_bad_token_is_fatal() {
    let emu = emulator().await;
    emu.prismer().set_ws_disabled(true);
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), "bad", Subscriptions::default());
    let reason = fatal(&mut r).await;
    assert!(reason.contains("Invalid or expired token"), "{reason}");
}

#[tokio::test]
async fn prismer_a_hundred_drops_with_acks_lose_nothing() {
    let emu = emulator().await;
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    const TOTAL: usize = 2_000;
    let prismer = emu.prismer().clone();
    let publisher = tokio::spawn(async move {
        for n in 0..TOTAL {
            prismer.publish(tocsin_emulator::prismer::message_new(&format!("m{n}"), "conv", "usr_x", &format!("n{n}")));
            if n % 20 == 10 {
                while prismer.hub.connections() == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                // Let the new connection deliver its redeliveries before breaking it:
                // the server keeps at most 100 undelivered events per user.
                tokio::time::sleep(Duration::from_millis(10)).await;
                prismer.hub.drop_connections();
            }
            // About one event per millisecond: a reconnect window holds fewer than
            // the 100 events the server keeps for a user.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    // Act as the engine: commit (here: remember) then acknowledge.
    let mut seen = std::collections::HashSet::new();
    let mut redeliveries = 0;
    while seen.len() < TOTAL {
        let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(10), r.events.recv()).await else {
            let missing: Vec<usize> = (0..TOTAL).filter(|n| !seen.contains(&format!("prismer:msg:m{n}"))).collect();
            panic!("{} of {TOTAL} arrived ({redeliveries} redelivered twice); missing {:?}…; {} undelivered at the server; {} acks sent",
                seen.len(), &missing[..missing.len().min(20)], emu.prismer().undelivered_total(),
                emu.prismer().hub.commands().iter().filter(|c| c["type"] == "ack").count());
        };
        assert_ne!(e.kind, EventKind::Gap, "Prismer catches up: nothing may be missing");
        if e.provider_type == "tocsin.following" {
            continue;
        }
        // A second copy (a redelivery, or a live event the sync also returned) has
        // the same key: the engine stores it once.
        if !seen.insert(e.dedupe_key.clone()) {
            redeliveries += 1;
        }
        if let Some(token) = e.ack {
            r.acks.send(Outgoing::Ack(token)).await.unwrap();
        }
    }
    publisher.await.unwrap();
    assert!(emu.prismer().hub.total_connections() > 100, "100 drops, each followed by a reconnect");
    eprintln!("{redeliveries} redeliveries deduplicated");
}


#[tokio::test]
async fn scripted_scenarios_over_the_control_api_burst_and_slow_delivery() {
    let emu = emulator().await;
    let subs = Subscriptions { topics: vec!["events.org_123.>".into()], ..Default::default() };
    let mut r = start(Provider::Bivariant, Endpoint::new(&emu.bivariant_url(), AuthMode::Bearer), KEY, subs);
    subscribed(&mut r).await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/_emulator/bivariant/{path}", emu.http_base());
    assert!(http.post(control("slow?ms=5")).send().await.unwrap().status().is_success());
    let reply: serde_json::Value =
        serde_json::from_slice(&http.post(control("burst?n=50")).send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(reply["published"], 50);
    let started = std::time::Instant::now();
    let mut texts = Vec::new();
    for _ in 0..50 {
        texts.push(next(&mut r).await.text.unwrap());
    }
    assert_eq!(texts, (0..50).map(|i| format!("burst {i}")).collect::<Vec<_>>(), "in order, none lost");
    assert!(started.elapsed() >= Duration::from_millis(200), "slow delivery really paced the frames");
    assert_eq!(http.post(format!("{}/_emulator/nope/burst", emu.http_base())).send().await.unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn every_provider_reconnects_after_the_server_is_killed_and_restarted() {
    let emu = emulator().await;
    let addr = emu.local_addr();
    let topics = Subscriptions { topics: vec!["events.org_123.>".into()], ..Default::default() };
    let mut clients = vec![
        start(Provider::Daimon, Endpoint::new(&emu.daimon_url(), AuthMode::Bearer), KEY, Subscriptions::default()),
        start(Provider::AgentMail, Endpoint::new(&emu.agentmail_url(), AuthMode::Bearer), KEY, Subscriptions::default()),
        start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Frame), KEY, Subscriptions::default()),
        start(Provider::Divinci, Endpoint::new(&emu.divinci_chat_url("thr_k"), AuthMode::Token), KEY, Subscriptions::default()),
        start(Provider::Bivariant, Endpoint::new(&emu.bivariant_url(), AuthMode::Bearer), KEY, topics),
    ];
    for c in clients.iter_mut() {
        subscribed(c).await;
    }
    emu.shutdown().await;
    for c in clients.iter_mut() {
        wait_state(c, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    }
    // A new server process on the same port.
    let config = EmulatorConfig { keys: vec![KEY.into()], ..EmulatorConfig::default() };
    let emu = Emulator::bind(addr, config).await.unwrap();
    for c in clients.iter_mut() {
        subscribed(c).await;
    }
    emu.bivariant().publish(tocsin_emulator::bivariant::message_posted("after_restart", "c", "back"));
    let b = clients.last_mut().unwrap();
    loop {
        let e = next(b).await;
        if e.kind != EventKind::Gap {
            assert_eq!(e.dedupe_key, "bivariant:after_restart");
            break;
        }
    }
}

#[tokio::test]
async fn daimon_connection_tokens_are_fetched_for_every_connect() {
    let emu = emulator().await;
    let endpoint = Endpoint {
        token_url: Some(format!("{}/v1/websocket/token", emu.http_base())),
        ..Endpoint::new(&emu.daimon_url(), AuthMode::Token)
    };
    let mut r = start(Provider::Daimon, endpoint.clone(), KEY, Subscriptions::default());
    subscribed(&mut r).await;
    emu.daimon().drop_connections();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    subscribed(&mut r).await;
    let tokens = emu.daimon().commands().iter().filter(|c| c["rest"] == "POST /v1/websocket/token").count();
    assert_eq!(tokens, 2);
    let mut bad = start(Provider::Daimon, endpoint, "dm_live_wrong", Subscriptions::default());
    let reason = fatal(&mut bad).await;
    assert!(reason.contains("connection token (HTTP 401: invalid_api_key)"), "{reason}");
}

#[tokio::test]
async fn prismer_renews_a_token_that_expires_within_a_day_and_saves_it() {
    let soon = tocsin_emulator::prismer::jwt("usr_agent", tocsin_model::now_ms() / 1000 + 3600, 0);
    let config = EmulatorConfig { keys: vec![soon.clone()], ..EmulatorConfig::default() };
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    let keychain = Arc::new(std::sync::Mutex::new(Sensitive::from(soon.as_str())));
    let (read, write) = (keychain.clone(), keychain.clone());
    let key: KeySource = Arc::new(move || Ok(read.lock().unwrap().clone()));
    let save: tocsin_supervisor::KeySaver = Arc::new(move |k| {
        *write.lock().unwrap() = k.clone();
        Ok(())
    });
    let mut r = start_keyed(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), key, Some(save), Subscriptions::default());
    subscribed(&mut r).await;
    let saved = keychain.lock().unwrap().expose().clone();
    assert_ne!(saved, soon, "the renewed token went to the keychain");
    let exp = tocsin_providers::prismer::jwt_expiry_ms(&saved).unwrap();
    assert!(exp > tocsin_model::now_ms() + 6 * 24 * 3_600_000, "a fresh 7-day token");
    assert!(emu.prismer().hub.commands().iter().any(|c| c["rest"] == "POST token/refresh"));
}

#[tokio::test]
async fn prismer_expired_token_stops_the_account_and_says_what_to_do() {
    let old = tocsin_emulator::prismer::jwt("usr_agent", tocsin_model::now_ms() / 1000 - 60, 0);
    let config = EmulatorConfig { keys: vec![old.clone()], ..EmulatorConfig::default() };
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap();
    let mut r = start(Provider::Prismer, Endpoint::new(&emu.prismer_url(), AuthMode::Query), &old, Subscriptions::default());
    let reason = fatal(&mut r).await;
    assert!(reason.contains("expired") && reason.contains("tocsin key set acct"), "{reason}");
    assert_eq!(emu.prismer().hub.total_connections(), 0, "an expired token is not even tried");
}
