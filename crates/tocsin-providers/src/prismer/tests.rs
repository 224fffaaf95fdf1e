use super::*;

fn session() -> Session {
    Session { user_id: Some("usr_me".into()), ..Session::new("agents") }
}

fn event(text: &str) -> Event {
    match decode(&session(), text, 5).unwrap() {
        Inbound::Event(e) => *e,
        other => panic!("{other:?}"),
    }
}

const NEW: &str = r#"{"type":"message.new","payload":{"id":"msg_def456","conversationId":"conv_abc123",
  "senderId":"usr_xyz789","type":"text","content":"Hello, world!","metadata":{"routeTargets":["usr_me"],
  "routingMode":"mention"},"createdAt":"2024-01-01T12:00:00.000Z"},"timestamp":1699000000000,"ackId":"ack_42"}"#;

#[test]
fn decodes_message_new_with_ack_and_mention() {
    let e = event(NEW);
    assert_eq!(e.kind, EventKind::MessageReceived);
    assert_eq!(e.dedupe_key, "prismer:msg:msg_def456");
    assert_eq!(e.ack.as_deref(), Some("ack_42"));
    assert_eq!(e.thread.as_deref(), Some("conv_abc123"));
    assert_eq!(e.sender.as_deref(), Some("usr_xyz789"));
    assert_eq!(e.text.as_deref(), Some("Hello, world!"));
    assert_eq!(e.labels, ["mention"]);
    assert_eq!(e.occurred_at_ms, Some(1_704_110_400_000));
    assert!(!e.replayed);
    let retry = event(&NEW.replace(r#""ackId":"ack_42""#, r#""ackId":"ack_42","isRetry":true"#));
    assert!(retry.replayed);
    assert_eq!(retry.dedupe_key, e.dedupe_key, "a redelivery dedupes with the original");
}

#[test]
fn own_messages_are_sent_not_received() {
    let e = event(&NEW.replace("usr_xyz789", "usr_me"));
    assert_eq!(e.kind, EventKind::MessageSent);
}

#[test]
fn every_event_and_alias_maps() {
    let cases = [
        ("message.updated", r#"{"id":"m","conversationId":"c","content":"x"}"#, EventKind::MessageUpdated),
        ("message.edit", r#"{"id":"m","conversationId":"c","content":"x","editedBy":"u"}"#, EventKind::MessageUpdated),
        ("message.edited", r#"{"id":"m","conversationId":"c"}"#, EventKind::MessageUpdated),
        ("message.reaction", r#"{"messageId":"m","conversationId":"c","emoji":"+1"}"#, EventKind::MessageUpdated),
        ("message.delivered", r#"{"conversationId":"c","messageIds":["m"]}"#, EventKind::MessageDelivered),
        ("message.read", r#"{"conversationId":"c","readBy":"u"}"#, EventKind::MessageRead),
        ("message.deleted", r#"{"id":"m","conversationId":"c"}"#, EventKind::MessageDeleted),
            ("message.stream.end", r#"{"streamId":"s","messageId":"m","finalContent":"Hello"}"#, EventKind::StreamEnd),
                    ("conversation.updated", r#"{"id":"c","title":"T"}"#, EventKind::ConversationChanged),
        ("participant.joined", r#"{"conversationId":"c","userId":"u"}"#, EventKind::ConversationChanged),
        ("participant.left", r#"{"conversationId":"c","userId":"u"}"#, EventKind::ConversationChanged),
        ("conversation.created", r#"{"id":"c"}"#, EventKind::ConversationChanged),
        ("agent.registered", r#"{"agentId":"a","name":"n"}"#, EventKind::AccountChanged),
        ("agent.status", r#"{"agentId":"a","status":"busy"}"#, EventKind::AccountChanged),
        ("task.notification", r#"{"taskId":"t","title":"Build","status":"done"}"#, EventKind::TaskUpdated),
        ("task.updated", r#"{"taskId":"t","status":"done"}"#, EventKind::TaskUpdated),
        ("event.subscription", r#"{"source":"s","event":"e","data":{}}"#, EventKind::Notification),
        ("contact.request", r#"{"requestId":"r","fromUserId":"u"}"#, EventKind::Notification),
        ("contact.accepted", r#"{"fromUserId":"u","toUserId":"v"}"#, EventKind::Notification),
        ("contact.rejected", r#"{"fromUserId":"u","toUserId":"v"}"#, EventKind::Notification),
        ("contact.removed", r#"{"userId":"u"}"#, EventKind::Notification),
        ("contact.blocked", r#"{"userId":"u"}"#, EventKind::Notification),
        ("community.reply", r#"{"postId":"p","postTitle":"T","actorId":"a"}"#, EventKind::Notification),
        ("community.vote", r#"{"postId":"p","actorId":"a","value":1}"#, EventKind::Notification),
        ("community.answer.accepted", r#"{"postId":"p","actorId":"a"}"#, EventKind::Notification),
        ("community.mention", r#"{"actorId":"a","snippet":"@me"}"#, EventKind::Notification),
        ("evolution.signal", r#"{"x":1}"#, EventKind::Other),
    ];
    for (ty, payload, kind) in cases {
        let e = event(&format!(r#"{{"type":"{ty}","payload":{payload},"timestamp":1}}"#));
        assert_eq!(e.kind, kind, "{ty}");
        assert_eq!(e.provider_type, ty);
    }
        let a = event(r#"{"type":"contact.removed","payload":{"userId":"u","removedAt":1}}"#);
    let b = event(r#"{"type":"contact.removed","payload":{"userId":"u","removedAt":1}}"#);
    assert_eq!(a.dedupe_key, b.dedupe_key, "id-less payloads dedupe by content");
}

#[test]
fn auth_results() {
    let c = |t: &str| match decode(&session(), t, 0).unwrap() {
        Inbound::Control(c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        c(r#"{"type":"authenticated","payload":{"userId":"usr_01"},"timestamp":1}"#),
        Control::Authenticated { user_id: Some("usr_01".into()) }
    );
    assert_eq!(
        c(r#"{"type":"auth_success","payload":{"userId":"usr_02","name":"my-agent"}}"#),
        Control::Authenticated { user_id: Some("usr_02".into()) }
    );
    assert!(matches!(
        c(r#"{"type":"error","payload":{"message":"Invalid token","code":"AUTH_FAILED"},"timestamp":1}"#),
        Control::ServerError { fatal: true, .. }
    ));
    assert!(matches!(c(r#"{"type":"auth_error","payload":{"message":"bad"}}"#), Control::ServerError { fatal: true, .. }));
    assert!(matches!(
        c(r#"{"type":"error","data":{"message":"Connection replaced by newer client"}}"#),
        Control::ServerError { fatal: true, code: Some(ref code), .. } if code == "EVICTED"
    ));
    assert!(matches!(
        c(r#"{"type":"error","payload":{"message":"Unknown event type: x","code":"UNKNOWN_EVENT"}}"#),
        Control::ServerError { fatal: false, .. }
    ));
    assert_eq!(c(r#"{"type":"pong","payload":{},"requestId":"hb-1"}"#), Control::Pong);
}

#[test]
fn client_frames() {
    let p = Prismer::new("ws://h/ws", AuthMode::Frame, Subscriptions { conversations: vec!["conv_1".into()], ..Default::default() });
    let key = Sensitive::from("jwt.a.b");
    let plan = p.connect_plan(&key, None);
    assert_eq!(plan.url.expose(), "ws://h/ws");
    let auth: Value = serde_json::from_str(p.auth_frame(&key, 7).unwrap().expose()).unwrap();
    assert_eq!(auth, json!({"type":"authenticate","payload":{"token":"jwt.a.b"},"requestId":"auth-1","timestamp":7}));
    let q = Prismer::new("ws://h/ws", AuthMode::Query, Subscriptions::default());
    assert_eq!(q.connect_plan(&key, None).url.expose(), "ws://h/ws?token=jwt.a.b");
    assert!(q.auth_frame(&key, 0).is_none());
    let ping: Value = serde_json::from_str(&encode_ping(3, 9)).unwrap();
    assert_eq!(ping, json!({"type":"ping","payload":{"requestId":"hb-3"},"requestId":"hb-3","timestamp":9}));
    let ack: Value = serde_json::from_str(&encode_ack("ack_42")).unwrap();
    assert_eq!(ack, json!({"type":"ack","payload":{"ackId":"ack_42"}}));
    let join: Value = serde_json::from_str(&p.on_open(None)[0]).unwrap();
    assert_eq!(join, json!({"type":"conversation.join","payload":{"conversationId":"conv_1"}}));
    let frames = p.on_open(Some("1699000000000"));
    let reconnect: Value = serde_json::from_str(&frames[1]).unwrap();
    assert_eq!(reconnect["type"], "reconnect");
    assert_eq!(reconnect["payload"]["lastSyncCursor"], 1_699_000_000_000i64);
}

#[test]
fn typing_presence_and_chunks_are_state_not_history() {
    let d = |t: &str| decode(&session(), t, 0).unwrap();
    assert_eq!(
        d(r#"{"type":"typing.indicator","payload":{"conversationId":"c","userId":"u","isTyping":true}}"#),
        Inbound::Ephemeral(Ephemeral::Typing { conversation: Some("c".into()), user: Some("u".into()), typing: true })
    );
    assert!(matches!(d(r#"{"type":"presence.changed","payload":{"userId":"u","status":"online"}}"#), Inbound::Ephemeral(Ephemeral::Presence { .. })));
    let chunk = d(r#"{"type":"message.stream.chunk","payload":{"streamId":"s1","conversationId":"c","senderId":"usr_bot","chunk":"He","index":0}}"#);
    let Inbound::Ephemeral(chunk) = chunk else { panic!("{chunk:?}") };
    let mut s = session();
    s.absorb(&chunk);
    // The end carries no sender: it comes from the chunks, and the message dedupes with its sync twin.
    let Inbound::Event(end) = decode(&s, r#"{"type":"message.stream.end","payload":{"streamId":"s1","conversationId":"c","messageId":"m9","finalContent":"Hello"}}"#, 0).unwrap() else { panic!() };
    assert_eq!(end.sender.as_deref(), Some("usr_bot"));
    assert_eq!(end.text.as_deref(), Some("Hello"));
    assert_eq!(end.dedupe_key, "prismer:msg:m9");
    assert_eq!(end.message_id.as_deref(), Some("m9"));
}

#[test]
fn every_edit_and_reaction_is_its_own_event_and_a_redelivery_still_dedupes() {
    let edit = |text: &str, at: i64| {
        event(&format!(r#"{{"type":"message.edit","payload":{{"id":"m1","conversationId":"c","content":"{text}","type":"text","editedAt":"2026-12-03T10:00:0{at}.000Z","editedBy":"u"}},"timestamp":{at},"ackId":"ack_{at}"}}"#))
    };
    let (once, twice) = (edit("edited once", 1), edit("edited twice", 2));
    assert_ne!(once.dedupe_key, twice.dedupe_key);
    assert_eq!(once.labels, [tocsin_model::LABEL_EDIT]);
    assert_eq!(once.message_id.as_deref(), Some("m1"));
    let mut again = edit("edited twice", 2);
    again.replayed = true;
    assert_eq!(again.dedupe_key, twice.dedupe_key);
    let reaction = |emoji: &str, action: &str, ts: i64| {
        event(&format!(r#"{{"type":"message.reaction","payload":{{"messageId":"m1","conversationId":"c","emoji":"{emoji}","userId":"u","action":"{action}","reactions":{{}}}},"timestamp":{ts}}}"#))
    };
    let a = reaction("+1", "add", 1);
    assert_ne!(a.dedupe_key, reaction("eyes", "add", 2).dedupe_key);
    assert_ne!(a.dedupe_key, reaction("+1", "remove", 3).dedupe_key);
    assert_eq!(a.dedupe_key, reaction("+1", "add", 1).dedupe_key, "a redelivered reaction is the same");
    assert_eq!(a.text.as_deref(), Some("reacted +1"));
    assert!(a.labels.is_empty(), "a reaction is not an edit");
}

#[test]
fn sync_items_decode_like_their_live_twins() {
    let mut s = session();
    s.cursor = Some("17".into());
    let p = Prismer::new("ws://h/ws", AuthMode::Query, Subscriptions::default());
    assert_eq!(p.catch_up(), CatchUp::Fetch);
    let from = CatchUpFrom { cursor: Some("17"), since_ms: Some(1) };
    assert_eq!(p.catch_up_start(&from), ["/api/im/sync?since=17&limit=500"]);
    let body = json!({"ok": true, "data": {"events": [
        {"seq": 18, "type": "message.new", "conversationId": "conv_abc123", "at": "2024-01-01T12:00:00.000Z",
         "data": {"id": "msg_def456", "conversationId": "conv_abc123", "senderId": "usr_xyz789", "type": "text",
                  "content": "Hello, world!", "metadata": "{\"routeTargets\":[\"usr_me\"]}", "createdAt": "2024-01-01T12:00:00.000Z"}},
        {"seq": 19, "type": "message.edit", "conversationId": "conv_abc123", "at": "2024-01-01T12:00:01.000Z",
         "data": {"id": "msg_def456", "content": "edited twice", "type": "text"}},
        {"seq": 20, "type": "message.delete", "conversationId": "conv_abc123", "at": "2024-01-01T12:00:02.000Z", "data": {"id": "msg_def456"}},
        {"seq": 21, "type": "conversation.create", "conversationId": "conv_new", "at": "2024-01-01T12:00:03.000Z",
         "data": {"id": "conv_new", "type": "direct", "participants": []}}
    ], "cursor": 21, "hasMore": true}});
    let page = p.decode_catch_up(&s, &from, "", body.to_string().as_bytes(), 9).unwrap();
    assert_eq!(page.cursor.as_deref(), Some("21"));
    assert_eq!(page.next, ["/api/im/sync?since=21&limit=500"]);
    let live = event(NEW);
    let synced = &page.events[0];
    assert_eq!(synced.dedupe_key, live.dedupe_key);
    assert_eq!(synced.labels, ["mention"], "metadata is a JSON string in sync");
    assert_eq!(synced.provider_event_id.as_deref(), Some("18"));
    assert!(synced.replayed);
    let live_edit = event(r#"{"type":"message.edit","payload":{"id":"msg_def456","conversationId":"conv_abc123","content":"edited twice","type":"text","editedAt":"x","editedBy":"u"},"timestamp":5}"#);
    assert_eq!(page.events[1].dedupe_key, live_edit.dedupe_key, "an edit seen live and in sync is one");
    assert_eq!(page.events[1].thread.as_deref(), Some("conv_abc123"));
    assert_eq!(page.events[2].kind, EventKind::MessageDeleted);
    assert_eq!(page.events[3].kind, EventKind::ConversationChanged);
    assert_eq!(page.events[3].thread.as_deref(), Some("conv_new"));
    // Joining what we hear of, once.
    let mut s2 = session();
    let join = p.after_event(&mut s2, &page.events[3]);
    assert_eq!(serde_json::from_str::<Value>(&join[0]).unwrap(), json!({"type":"conversation.join","payload":{"conversationId":"conv_new"}}));
    assert!(p.after_event(&mut s2, &page.events[3]).is_empty());
    // A log that restarted below our cursor is refused, never skipped silently.
    let reset = json!({"ok": true, "data": {"events": [], "cursor": 3, "hasMore": false}});
    assert!(matches!(p.decode_catch_up(&s, &from, "", reset.to_string().as_bytes(), 9), Err(CatchUpError::CursorRefused(_))));
    assert!(p.decode_catch_up(&s, &from, "", br#"{"ok":false,"error":"Sync failed"}"#, 9).is_err());
}

#[test]
fn a_first_sync_walks_to_the_end_and_writes_one_following_entry() {
    let p = Prismer::new("ws://h/ws", AuthMode::Query, Subscriptions::default());
    let from = CatchUpFrom::default();
    assert_eq!(p.catch_up_start(&from), ["/api/im/sync?since=0&limit=500"]);
    let item = json!({"seq": 1, "type": "message.new", "conversationId": "c", "at": "2024-01-01T12:00:00.000Z", "data": {"id": "m", "content": "old"}});
    let more = json!({"ok": true, "data": {"events": [item], "cursor": 500, "hasMore": true}});
    let page = p.decode_catch_up(&session(), &from, "", more.to_string().as_bytes(), 9).unwrap();
    assert!(page.events.is_empty(), "the past is not imported");
    let end = json!({"ok": true, "data": {"events": [item], "cursor": 612, "hasMore": false}});
    let page = p.decode_catch_up(&session(), &from, "", end.to_string().as_bytes(), 9).unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].provider_event_id.as_deref(), Some("612"));
    assert_eq!(page.events[0].kind, EventKind::AccountChanged);
}

#[test]
fn sync_advised_asks_for_a_catch_up() {
    let c = decode(&session(), r#"{"type":"reconnect.ack","payload":{"userId":"u","undeliveredCount":0,"syncAdvised":true},"requestId":"r1"}"#, 0).unwrap();
    assert_eq!(c, Inbound::Control(Control::CatchUpAdvised));
    let c = decode(&session(), r#"{"type":"reconnect.ack","payload":{"userId":"u","undeliveredCount":0,"syncAdvised":false}}"#, 0).unwrap();
    assert_eq!(c, Inbound::Control(Control::Pong));
}
