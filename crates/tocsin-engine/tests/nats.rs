//! A direct NATS account in the engine, against a real `nats-server`: it is driven
//! like every other account (Reconnect all reaches it; a refused token stops it
//! until the user reconnects, instead of ending its task).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tocsin_emulator::nats_server::NatsServer;
use tocsin_engine::{Config, ConnState, Engine, EngineOptions};
use tocsin_model::EventKind;
use tocsin_supervisor::Cause;

mod support;
use support::{wait_until_for, Recorder};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_account_answers_reconnect_all_and_waits_for_it_after_a_refused_token() {
    let mut server = NatsServer::start(Some("token-a"));
    let account = "bus";
    std::env::set_var(tocsin_secrets::env_var_name(account), "token-a");
    let text = format!(
        "[[accounts]]\nname = \"{account}\"\nprovider = \"bivariant\"\nurl = \"{}\"\ntopics = [\"events.org_1.>\"]\n",
        server.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        config: Config::parse(&text, "test").unwrap(),
        data_dir: dir.path().to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_secs(1),
    };
    let engine = Engine::start(options, Arc::new(Recorder::default())).await.unwrap();
    let state = || engine.snapshot().accounts[0].clone();
    wait_until_for(WAIT, || state().state == ConnState::Subscribed).await;

    // Reconnect all: one new connection, and a gap entry (core NATS cannot resend).
    let before = server.varz("total_connections");
    engine.reconnect_all();
    wait_until_for(WAIT, || server.varz("total_connections") == before + 1 && state().state == ConnState::Subscribed).await;
    wait_until_for(WAIT, || {
        history_now(&engine).iter().any(|i| i.kind == EventKind::Gap && i.account == account)
    })
    .await;

    // The server now wants another token: the account stops, says why, and waits.
    server.stop();
    server.token = Some("token-b".into());
    server.restart();
    wait_until_for(WAIT, || matches!(state().state, ConnState::Closed { fatal: true, .. })).await;
    assert_eq!(state().cause, Some(Cause::Auth), "{:?}", state());
    // Fixed, then Reconnect all: connected again, and events flow.
    std::env::set_var(tocsin_secrets::env_var_name(account), "token-b");
    engine.reconnect_all();
    wait_until_for(WAIT, || state().state == ConnState::Subscribed).await;
    let publisher = server.publisher().await;
    let envelope = json!({"id": "evt_after", "event": "task.completed", "orgId": "org_1", "source": "tasks",
        "resource": "task", "timestamp": "2026-03-16T10:30:45.123Z", "payload": {"status": "done"}});
    publisher.publish("events.org_1.tasks.task.completed.t1", envelope.to_string().into()).await.unwrap();
    publisher.flush().await.unwrap();
    wait_until_for(WAIT, || history_now(&engine).iter().any(|i| i.account == account && i.kind != EventKind::Gap)).await;
    engine.shutdown().await;
}

/// The newest 50 history rows, read synchronously for a polled condition.
fn history_now(engine: &Engine) -> Vec<tocsin_model::HistoryItem> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(engine.history(50, None))).unwrap()
}
