//! The control socket end to end: a real server and real clients on a Unix socket.

mod common;

use std::sync::atomic::Ordering;

use common::{next_line, snapshot, start, start_with, within, Raw};
use serde_json::{json, Value};
use tocsin_control::{Client, Push, Request, Role, PROTOCOL};
use tocsin_engine::{ErrorCode, Snapshot};

#[tokio::test]
async fn handshake_welcomes_and_answers() {
    let h = start().await;
    let (client, welcome) = within(Client::connect(&h.path, Role::Cli)).await.unwrap();
    assert_eq!(welcome.protocol, PROTOCOL);
    assert_eq!(welcome.pid, std::process::id());
    assert_eq!(welcome.history, h.dir.path().join("history.db"));
    let status: Snapshot = within(client.call(Request::Status)).await.unwrap();
    assert_eq!(status, snapshot(99));
    let err = within(client.call::<Value>(Request::Quit))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert_eq!(h.clients.list(), vec![(1, Role::Cli)]);
}

#[tokio::test]
async fn another_protocol_is_a_version_mismatch() {
    let h = start().await;
    let err = within(Client::connect_with_protocol(&h.path, Role::Window, 2))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::VersionMismatch);
    assert_eq!(err.field.as_deref(), Some("protocol"));
    assert!(
        err.message
            .contains("this window speaks control protocol 2"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("the running Tocsin speaks 1"),
        "{}",
        err.message
    );
    assert_eq!(h.handler.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn missing_socket_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let err = within(Client::connect(&dir.path().join("control.sock"), Role::Cli))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotRunning);
    assert_eq!(err.message, "Tocsin is not running");
}

#[tokio::test]
async fn a_slow_call_does_not_hold_up_a_fast_one() {
    let h = start().await;
    let (client, _) = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap();
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.call::<String>(Request::RulesGet).await }
    });
    within(h.handler.slow_started.notified()).await;
    let fast: bool = within(client.call(Request::AutostartGet)).await.unwrap();
    assert!(fast);
    assert!(
        !slow.is_finished(),
        "the slow call answered before it was released"
    );
    h.handler.release.notify_one();
    assert_eq!(within(slow).await.unwrap().unwrap(), "slow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_get_their_own_replies() {
    let h = start().await;
    let (client, _) = within(Client::connect(&h.path, Role::Cli)).await.unwrap();
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { (i, client.call::<i64>(Request::MarkRead { id: i }).await) })
        })
        .collect();
    for call in calls {
        let (i, answer) = within(call).await.unwrap();
        assert_eq!(answer.unwrap(), i);
    }
}

#[tokio::test]
async fn pushes_reach_subscribed_clients_only() {
    let h = start().await;
    let (window, _) = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap();
    let mut pushes = within(window.subscribe()).await.unwrap();
    let (mut cli, _) = Raw::hello(&h.path, "cli").await;
    assert_eq!(h.clients.window(), Some(1));

    h.handler.pushes.send(Push::Status(snapshot(3))).unwrap();
    assert_eq!(within(pushes.recv()).await, Some(Push::Status(snapshot(3))));

    // Directed: to the subscribed window yes, to the unsubscribed CLI no.
    assert!(h.clients.send_to(1, Push::Focus { event: Some(42) }));
    assert!(!h.clients.send_to(2, Push::Focus { event: Some(42) }));
    assert_eq!(
        within(pushes.recv()).await,
        Some(Push::Focus { event: Some(42) })
    );

    // The CLI's next line is the answer to its call: no push came before it.
    cli.send(r#"{"id":9,"op":"autostart_get"}"#).await;
    assert_eq!(
        cli.next().await,
        Some(json!({"reply": {"id": 9, "ok": true}}))
    );
}

#[tokio::test]
async fn a_lagging_subscriber_gets_a_fresh_status() {
    // Capacity 4, and the test's single thread sends 50 pushes without yielding:
    // the forwarder can only find itself lagging.
    let h = start_with(4).await;
    let (window, _) = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap();
    let mut pushes = within(window.subscribe()).await.unwrap();
    for n in 0..50 {
        h.handler.pushes.send(Push::Status(snapshot(n))).unwrap();
    }
    // First the fresh status (the handler's answers 99), then the last ones kept.
    assert_eq!(
        within(pushes.recv()).await,
        Some(Push::Status(snapshot(99)))
    );
    let mut kept = vec![];
    while kept.last() != Some(&49) {
        match within(pushes.recv()).await {
            Some(Push::Status(s)) => kept.push(s.unread_urgent),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kept, vec![46, 47, 48, 49]);
    let ok: bool = within(window.call(Request::AutostartGet)).await.unwrap();
    assert!(ok, "the connection still works");
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_connection_stays() {
    let h = start().await;
    let (client, _) = within(Client::connect(&h.path, Role::Cli)).await.unwrap();
    let err = within(client.call::<Value>(Request::Reconnect))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(err.message.contains("reconnect"), "{}", err.message);
    assert!(within(client.call::<bool>(Request::AutostartGet))
        .await
        .unwrap());
}

#[tokio::test]
async fn a_bad_line_is_answered_and_the_connection_stays() {
    let h = start().await;
    let (mut raw, _) = Raw::hello(&h.path, "cli").await;
    raw.send("this is not json").await;
    let reply = raw.next().await.unwrap();
    assert_eq!(reply["reply"]["id"], 0);
    assert_eq!(reply["reply"]["err"]["code"], "invalid_argument");
    assert_eq!(reply["reply"]["err"]["field"], "op");

    raw.send(r#"{"id":5,"op":"frobnicate"}"#).await;
    let reply = raw.next().await.unwrap();
    assert_eq!(
        (&reply["reply"]["id"], &reply["reply"]["err"]["field"]),
        (&json!(5), &json!("op"))
    );

    raw.send(r#"{"id":6,"op":"reply","event":1}"#).await;
    let reply = raw.next().await.unwrap();
    assert_eq!(
        (&reply["reply"]["id"], &reply["reply"]["err"]["field"]),
        (&json!(6), &json!("text"))
    );

    raw.send(r#"{"id":7,"op":"autostart_get"}"#).await;
    assert_eq!(
        raw.next().await,
        Some(json!({"reply": {"id": 7, "ok": true}}))
    );
}

#[tokio::test]
async fn an_over_long_line_is_refused_and_closes() {
    let mut h = start().await;
    let (raw, _) = Raw::hello(&h.path, "cli").await;
    let Raw {
        mut lines,
        mut write,
    } = raw;
    // Written from another task: the server stops reading part way.
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let long = vec![b'a'; tocsin_control::MAX_LINE + 1024];
        let _ = write.write_all(&long).await;
        let _ = write.write_all(b"\n").await;
    });
    let reply = next_line(&mut lines).await.expect("an error reply");
    assert_eq!(reply["reply"]["id"], 0);
    assert_eq!(reply["reply"]["err"]["code"], "invalid_argument");
    assert_eq!(next_line(&mut lines).await, None, "the server closes");
    within(writer).await.unwrap();
    let gone = within(async { h.gone.recv().await }).await;
    assert_eq!(gone.map(|c| c.id), Some(1));
}

#[tokio::test]
async fn a_second_window_is_refused_until_the_first_is_gone() {
    let mut h = start().await;
    let (first, _) = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap();
    let err = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::WindowOpen);
    // A CLI is still welcome.
    let (_cli, _) = within(Client::connect(&h.path, Role::Cli)).await.unwrap();

    drop(first);
    let gone = within(h.gone.recv()).await.unwrap();
    assert_eq!((gone.id, gone.role), (1, Role::Window));
    let (_second, _) = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap();
}

#[tokio::test]
async fn shutdown_closes_clients_and_removes_the_socket() {
    let h = start().await;
    let (client, _) = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap();
    let mut pushes = within(client.subscribe()).await.unwrap();
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.call::<String>(Request::RulesGet).await }
    });
    within(h.handler.slow_started.notified()).await;

    h.shutdown.cancel();
    within(h.task).await.unwrap();
    assert!(!h.path.exists(), "the socket file is removed");
    within(client.closed()).await;
    assert!(client.is_closed());
    assert_eq!(within(pushes.recv()).await, None, "the pushes end");
    let err = within(slow).await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::NotRunning);
    let err = within(client.call::<bool>(Request::AutostartGet))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotRunning);
    let err = within(Client::connect(&h.path, Role::Cli))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotRunning);
}

#[tokio::test]
async fn a_silent_peer_is_closed_after_the_handshake_timeout() {
    let h = start().await;
    let mut raw = Raw::connect(&h.path).await;
    let started = std::time::Instant::now();
    let line = raw.next().await.expect("an error line");
    assert_eq!(line["error"]["code"], "invalid_argument");
    assert_eq!(raw.next().await, None);
    assert!(
        started.elapsed()
            >= tocsin_control::HANDSHAKE_TIMEOUT - std::time::Duration::from_millis(100)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_holds_up_neither_others_nor_shutdown() {
    let h = start_with(16).await;
    let (mut stuck, _) = Raw::hello(&h.path, "cli").await;
    stuck.send(r#"{"id":1,"op":"subscribe"}"#).await; // and never reads again
    let (window, _) = within(Client::connect(&h.path, Role::Window))
        .await
        .unwrap();
    let mut pushes = within(window.subscribe()).await.unwrap();
    within(async {
        while !h.clients.send_to(1, Push::Focus { event: None }) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;

    // 32 MiB of pushes: far more than the stuck client's socket and queue hold.
    let big = "x".repeat(64 * 1024);
    for n in 0..500 {
        let mut status = snapshot(n);
        status.store_error = Some(big.clone());
        h.handler.pushes.send(Push::Status(status)).unwrap();
        tokio::task::yield_now().await;
    }
    loop {
        match within(pushes.recv()).await {
            Some(Push::Status(s)) if s.unread_urgent == 499 => break,
            Some(_) => {}
            None => panic!("the window's pushes ended"),
        }
    }
    h.shutdown.cancel();
    within(h.task).await.unwrap();
    drop(stuck);
}
