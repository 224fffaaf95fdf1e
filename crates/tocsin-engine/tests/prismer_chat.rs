//! Prismer chat as the real server behaves (PROTOCOLS.md 4.5 [RUN]), through the
//! real engine, emulator and SQLite file: every edit and reaction is kept and the
//! message shows its latest text; typing, presence and stream chunks are not
//! history; a streamed message is one row with its chunks' sender; a conversation
//! created after sign-in is joined as soon as Tocsin hears of it, and what was sent
//! there before is caught up.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tocsin_emulator::{Emulator, EmulatorConfig, PrismerState};
use tocsin_engine::{Config, ConnState, Engine, EngineOptions};
use tocsin_model::{Event, EventKind, LABEL_EDITED};

mod support;
use support::{wait_until, Recorder};

fn frame(ty: &str, payload: Value, ts: i64) -> Value {
    json!({"type": ty, "payload": payload, "timestamp": ts})
}

async fn events(engine: &Engine) -> Vec<Event> {
    let mut out = Vec::new();
    for item in engine.history(1000, None).await.unwrap().into_iter().rev() {
        out.extend(engine.store().event(item.id).await.unwrap());
    }
    out
}

async fn wait_text(engine: &Engine, text: &str) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let all = events(engine).await;
        if all.iter().any(|e| e.text.as_deref() == Some(text)) {
            return all;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text:?} never arrived; history: {:?}",
            all.iter().map(|e| (e.kind, e.text.clone())).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_reactions_streams_and_new_conversations() {
    let key = "k_prismer_chat_key";
    std::env::set_var(tocsin_secrets::env_var_name("chat"), key);
    let me = PrismerState::user_id(key);
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![key.into()], ..Default::default() })
        .await
        .unwrap();
    let p = emu.prismer();
    p.create_conversation("conv_dm", &[me.clone(), "usr_bob".into()], "direct", None);
    p.set_user_name("usr_bob", "Bob Brown");
    p.set_user_name(&me, "Tocsin Operator");
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[[accounts]]\nname = \"chat\"\nprovider = \"prismer\"\nurl = \"{}\"\nauth = \"query\"\n", emu.prismer_url());
    let options = EngineOptions {
        config: Config::parse(&toml, "test").unwrap(),
        data_dir: dir.path().to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_secs(1),
    };
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;

    p.publish(tocsin_emulator::prismer::message_new("m1", "conv_dm", "usr_bob", "hello"));
    let edit = |text: &str, ts: i64| {
        frame("message.edit", json!({"id": "m1", "conversationId": "conv_dm", "content": text, "type": "text",
            "editedAt": "2026-12-03T10:00:00.000Z", "editedBy": "usr_bob", "metadata": {}}), ts)
    };
    p.publish(edit("edited once", 1));
    p.publish(edit("edited twice", 2));
    // A redelivered copy of the same edit.
    let mut again = edit("edited twice", 2);
    again["isRetry"] = json!(true);
    p.hub.publish(again);
    let reaction = |emoji: &str, user: &str, ts: i64| {
        frame("message.reaction", json!({"messageId": "m1", "conversationId": "conv_dm", "emoji": emoji, "userId": user,
            "action": "add", "reactions": {}}), ts)
    };
    p.publish(reaction("+1", &me, 3));
    p.publish(reaction("heart", "usr_bob", 4));
    // State, not history.
    p.publish(frame("typing.indicator", json!({"conversationId": "conv_dm", "userId": "usr_bob", "isTyping": true}), 5));
    p.publish(frame("presence.changed", json!({"userId": "usr_carol", "status": "online", "lastSeen": 5}), 5));
    for (i, chunk) in ["Str", "eamed"].iter().enumerate() {
        p.publish(frame("message.stream.chunk", json!({"streamId": "s1", "conversationId": "conv_dm",
            "senderId": "usr_bot", "chunk": chunk, "index": i}), 6));
    }
    p.publish(frame("message.stream.end", json!({"streamId": "s1", "conversationId": "conv_dm", "messageId": "m2",
        "finalContent": "Streamed"}), 7));

    // A conversation created after sign-in: the socket is not in its room.
    p.create_conversation("conv_new", &[me.clone(), "usr_bob".into()], "group", Some("Falcon"));
    p.publish(tocsin_emulator::prismer::message_new("n1", "conv_new", "usr_bob", "ws before join"));
    // A REST send reaches members outside the room; Tocsin joins on hearing of it.
    p.publish_rest(tocsin_emulator::prismer::message_new("n2", "conv_new", "usr_bob", "rest hello"));
    wait_text(&engine, "rest hello").await;
    wait_until(|| p.hub.commands().iter().any(|c| c["type"] == "conversation.join" && c["payload"]["conversationId"] == "conv_new")).await;
    // The join frame and this publish race: wait until the emulator put us in the room.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut n = 0;
    let all = loop {
        n += 1;
        p.publish(tocsin_emulator::prismer::message_new(&format!("n3-{n}"), "conv_new", "usr_bob", &format!("ws after join {n}")));
        let all = events(&engine).await;
        if all.iter().any(|e| e.text.as_deref().is_some_and(|t| t.starts_with("ws after join"))) {
            break all;
        }
        assert!(tokio::time::Instant::now() < deadline, "no WebSocket send in the new conversation arrived after the join");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!all.iter().any(|e| e.text.as_deref() == Some("ws before join")), "it was never sent to our socket");
    // What was sent before the join is caught up through sync at the next connect.
    engine.reconnect_all();
    let all = wait_text(&engine, "ws before join").await;

    let texts: Vec<_> = all.iter().map(|e| (e.kind, e.provider_type.clone(), e.text.clone())).collect();
    // People, not ids: who and where, looked up over REST.
    let rest_hello = all.iter().find(|e| e.text.as_deref() == Some("rest hello")).unwrap();
    assert_eq!(rest_hello.sender.as_deref(), Some("Bob Brown"));
    assert_eq!(rest_hello.subject.as_deref(), Some("Bob Brown in Falcon"));
    let alerts = recorder.0.lock().unwrap().clone();
    // Chat habits: the direct message notifies (titled with who), group chatter does not.
    assert!(alerts.iter().any(|a| a.summary == "Bob Brown" && a.body.contains("hello")), "{alerts:?}");
    assert!(!alerts.iter().any(|a| a.body.contains("rest hello") || a.body.contains("ws after join")), "{alerts:?}");
    let m1 = all.iter().find(|e| e.message_id.as_deref() == Some("m1") && e.kind == EventKind::MessageReceived).unwrap();
    assert_eq!(m1.text.as_deref(), Some("edited twice"), "the message shows its latest text");
    assert!(m1.labels.iter().any(|l| l == tocsin_model::LABEL_DIRECT), "{:?}", m1.labels);
    assert!(m1.labels.iter().any(|l| l == LABEL_EDITED), "and that it was edited: {:?}", m1.labels);
    let edits = all.iter().filter(|e| e.provider_type == "message.edit").count();
    assert_eq!(edits, 2, "both edits kept, the redelivered copy deduped: {texts:?}");
    let reactions = all.iter().filter(|e| e.provider_type == "message.reaction").count();
    assert_eq!(reactions, 2, "{texts:?}");
    for kind in [EventKind::Typing, EventKind::Presence, EventKind::StreamChunk] {
        assert!(!all.iter().any(|e| e.kind == kind), "{kind:?} is not history: {texts:?}");
    }
    let streamed: Vec<_> = all.iter().filter(|e| e.text.as_deref() == Some("Streamed")).collect();
    assert_eq!(streamed.len(), 1, "one row per streamed message: {texts:?}");
    assert_eq!(streamed[0].sender.as_deref(), Some("usr_bot"), "the sender comes from the chunks");
    for text in ["rest hello", "ws before join"] {
        assert_eq!(all.iter().filter(|e| e.text.as_deref() == Some(text)).count(), 1, "{text:?}: {texts:?}");
    }
    engine.shutdown().await;
    // The names looked up are kept in the store for the next run.
    let store = tocsin_store::Store::open(&dir.path().join("history.db")).await.unwrap();
    let names = store.setting("names:chat").await.unwrap().expect("the name cache was kept");
    assert!(names.contains("Bob Brown") && names.contains("Falcon"), "{names}");
    store.close().await;
    emu.shutdown().await;
}
