//! The supervisor against the emulator's daimon.email endpoint over real loopback
//! sockets: auth modes, subscription, reconnect with replay, and bad input.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tocsin_emulator::{Emulator, EmulatorConfig};
use tocsin_model::{Event, EventKind, Provider};
use tocsin_providers::{AuthMode, Endpoint, Subscriptions};
use tocsin_secrets::Sensitive;
use tocsin_supervisor::{AccountStatus, Backoff, ConnState, Connection, KeySource, RateLimit, DEFAULT_MAX_FRAME};

const KEY: &str = "dm_live_test_key";

async fn emulator() -> Emulator {
    let config = EmulatorConfig { keys: vec![KEY.into()], ..EmulatorConfig::default() };
    Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap()
}

struct Running {
    events: mpsc::Receiver<Event>,
    status: watch::Receiver<AccountStatus>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(url: &str, auth: AuthMode, key: &str, inboxes: &[&str]) -> Running {
    let subs = Subscriptions { inboxes: inboxes.iter().map(|s| s.to_string()).collect(), ..Default::default() };
    let adapter = tocsin_providers::adapter_for(Provider::Daimon, &Endpoint::new(url, auth), &subs).unwrap();
    let key = Sensitive::from(key);
    let key: KeySource = Arc::new(move || Ok(key.clone()));
    let conn = Connection {
        account: "ops".into(),
        adapter: Arc::from(adapter),
        key,
        backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(200), ..Backoff::default() },
        max_frame_bytes: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(5),
        resume: None,
        resume_at_ms: None,
        outgoing: mpsc::channel(16).1,
        rest_base: String::new(),
        ca_file: None,
        rate_limit: RateLimit::default(),
        names: Default::default(),
        save_key: None,
    };
    let (tx, events) = mpsc::channel(16_384);
    let (status_tx, status) = watch::channel(AccountStatus::new("ops", Provider::Daimon));
    let cancel = CancellationToken::new();
    let task = tokio::spawn(tocsin_supervisor::run(conn, tx, status_tx, cancel.clone()));
    Running { events, status, cancel, task }
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
    tokio::time::timeout(Duration::from_secs(10), fut).await.expect("state not reached in 10 s")
}

fn received(n: u32, inbox: &str, subject: &str) -> serde_json::Value {
    json!({"type":"message.received","inbox_id":inbox,
           "payload":{"message":{"id":format!("m{n}"),"inbox_id":inbox,"from":"a@b.c","subject":subject,"body":"x"}}})
}

async fn next_event(r: &mut Running) -> Event {
    tokio::time::timeout(Duration::from_secs(10), r.events.recv()).await.expect("no event in 10 s").expect("open")
}

#[tokio::test]
async fn bearer_and_query_auth_connect_and_receive() {
    let emu = emulator().await;
    for auth in [AuthMode::Bearer, AuthMode::Query] {
        let mut r = start(&emu.daimon_url(), auth, KEY, &[]);
        wait_state(&mut r, |s| *s == ConnState::Subscribed).await;
        while emu.daimon().connections() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let id = emu.daimon().publish(received(1, "inbox_a", "hello"));
        let e = next_event(&mut r).await;
        assert_eq!(e.provider_event_id.as_deref(), Some(id.as_str()));
        assert_eq!(e.kind, EventKind::MessageReceived);
        assert_eq!(e.subject.as_deref(), Some("hello"));
        r.cancel.cancel();
        r.task.await.unwrap();
        assert!(matches!(r.status.borrow().state, ConnState::Closed { fatal: false, .. }));
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_fatal_and_says_why() {
    let emu = emulator().await;
    for auth in [AuthMode::Bearer, AuthMode::Query] {
        let mut r = start(&emu.daimon_url(), auth, "dm_live_wrong", &[]);
        let state = wait_state(&mut r, |s| matches!(s, ConnState::Closed { .. })).await;
        let ConnState::Closed { reason, fatal } = state else { unreachable!() };
        assert!(fatal);
        assert!(reason.contains("HTTP 401") && reason.contains("invalid_api_key"), "{reason}");
        assert!(!reason.contains("dm_live_wrong"), "the key must not appear in the reason");
        r.cancel.cancel();
        r.task.await.unwrap();
    }
    assert_eq!(emu.daimon().total_connections(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn subscribes_to_inboxes_and_resubscribes_after_reconnect() {
    let emu = emulator().await;
    let mut r = start(&emu.daimon_url(), AuthMode::Bearer, KEY, &["inbox_a"]);
    wait_state(&mut r, |s| *s == ConnState::Subscribed).await;
    emu.daimon().publish(received(1, "inbox_b", "not mine"));
    emu.daimon().publish(received(2, "inbox_a", "mine"));
    assert_eq!(next_event(&mut r).await.subject.as_deref(), Some("mine"));

    emu.daimon().drop_connections();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    wait_state(&mut r, |s| *s == ConnState::Subscribed).await;
    let subscribes = emu.daimon().commands().iter().filter(|c| c["action"] == "subscribe").count();
    assert_eq!(subscribes, 2, "subscribe is re-sent after the reconnect");
    emu.daimon().publish(received(3, "inbox_b", "still not mine"));
    emu.daimon().publish(received(4, "inbox_a", "mine again"));
    assert_eq!(next_event(&mut r).await.subject.as_deref(), Some("mine again"));
    r.cancel.cancel();
    emu.shutdown().await;
}

#[tokio::test]
async fn a_hundred_drops_during_a_stream_lose_and_duplicate_nothing() {
    let emu = emulator().await;
    let mut r = start(&emu.daimon_url(), AuthMode::Bearer, KEY, &[]);
    wait_state(&mut r, |s| *s == ConnState::Subscribed).await;
    const TOTAL: u32 = 10_000;
    let daimon = emu.daimon().clone();
    let publisher = tokio::spawn(async move {
        for n in 0..TOTAL {
            daimon.publish(received(n, "inbox_a", &format!("s{n}")));
            if n % 100 == 50 {
                // Drop a live connection each time (wait for the client to be back).
                while daimon.connections() == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                daimon.drop_connections();
            }
            if n % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    let mut seen = std::collections::HashSet::new();
    let mut order = Vec::new();
    while seen.len() < TOTAL as usize {
        let e = next_event(&mut r).await;
        assert!(seen.insert(e.dedupe_key.clone()), "duplicate {}", e.dedupe_key);
        order.push(e.subject.unwrap());
    }
    publisher.await.unwrap();
    let expected: Vec<String> = (0..TOTAL).map(|n| format!("s{n}")).collect();
    assert_eq!(order, expected, "every event, once, in order");
    assert!(emu.daimon().total_connections() > 100, "100 drops, each followed by a reconnect");
    r.cancel.cancel();
    emu.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_server_is_retried_with_a_readable_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut r = start(&format!("ws://{addr}/v1/stream"), AuthMode::Bearer, KEY, &[]);
    let state = wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { attempt: 2, .. })).await;
    assert!(matches!(state, ConnState::Reconnecting { .. }));
    let err = r.status.borrow().last_error.clone().unwrap();
    assert!(err.starts_with("cannot reach ws://127.0.0.1:"), "{err}");
    r.cancel.cancel();
    r.task.await.unwrap();
}

#[tokio::test]
async fn daimon_scenarios_bad_frames_and_a_silent_server() {
    let emu = emulator().await;
    let mut r = start(&emu.daimon_url(), AuthMode::Bearer, KEY, &[]);
    wait_state(&mut r, |s| *s == ConnState::Subscribed).await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("http://{}/_emulator/daimon/{path}", emu.local_addr());
    for junk in ["not json", "{\"type\":\"from.the.future\"}", "[1,2,3]"] {
        assert!(http.post(control("raw")).body(junk).send().await.unwrap().status().is_success());
    }
    emu.daimon().publish(received(1, "inbox_a", "after junk"));
    let mut e = next_event(&mut r).await;
    if e.subject.is_none() {
        // The unknown dotted type is stored as "other", then the real event.
        assert_eq!(e.kind, EventKind::Other);
        e = next_event(&mut r).await;
    }
    assert_eq!(e.subject.as_deref(), Some("after junk"));
    // Half-open: the server stops answering; 45 s of silence is a dead connection.
    assert!(http.post(control("silent?on=true")).send().await.unwrap().status().is_success());
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(50)).await;
    tokio::time::resume();
    wait_state(&mut r, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    assert!(r.status.borrow().last_error.as_deref().unwrap().contains("presumed dead"));
    emu.daimon().set_silent(false);
    emu.daimon().drop_connections();
    wait_state(&mut r, |s| *s == ConnState::Subscribed).await;
    r.cancel.cancel();
    emu.shutdown().await;
}
