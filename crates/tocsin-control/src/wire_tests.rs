use super::*;

/// Every `//! {...}` line of the crate docs is a real message: it parses as one of
/// the line types and serialises back to the same JSON.
#[test]
fn every_documented_line_is_a_real_message() {
    let mut seen = 0;
    for line in include_str!("lib.rs").lines() {
        // `//! {..}` in a text block, or `//! - `{..}`\` in the list of calls.
        let Some(rest) = line.strip_prefix("//! ") else {
            continue;
        };
        let json = match rest.strip_prefix("- `") {
            Some(item) if item.starts_with('{') => {
                item.trim_end_matches('\\').trim_end_matches('`')
            }
            _ if rest.starts_with('{') => rest,
            _ => continue,
        };
        let want: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let back = if let Ok(m) = serde_json::from_str::<Call>(json) {
            serde_json::to_value(m)
        } else if let Ok(m) = serde_json::from_str::<ServerLine>(json) {
            serde_json::to_value(m)
        } else if let Ok(m) = serde_json::from_str::<HelloReply>(json) {
            serde_json::to_value(m)
        } else if let Ok(m) = serde_json::from_str::<Hello>(json) {
            serde_json::to_value(m)
        } else {
            panic!("documented line is no message: {json}")
        };
        assert_eq!(
            back.unwrap(),
            want,
            "documented line does not round-trip: {json}"
        );
        seen += 1;
    }
    assert!(seen >= 30, "only {seen} documented lines");
}

/// Every op appears in the docs' examples.
#[test]
fn every_op_is_documented() {
    let docs = include_str!("lib.rs");
    let all = [
        Request::Status,
        Request::Subscribe,
        Request::Pause {
            choice: PauseChoice::Hour,
        },
        Request::Reconnect,
        Request::OpenWindow { event: None },
        Request::MarkRead { id: 1 },
        Request::SetRead { id: 1, read: true },
        Request::Reply {
            id: 1,
            text: String::new(),
        },
        Request::RulesGet,
        Request::RulesSet {
            toml: String::new(),
        },
        Request::RulesTest { id: 1, toml: None },
        Request::AttentionGet,
        Request::AttentionSet {
            settings: AttentionSettings::default(),
        },
        Request::RetentionGet,
        Request::RetentionSet {
            retention: Retention::default(),
        },
        Request::AccountsList,
        Request::AccountSave {
            account: AccountInput::new("a", "daimon", "wss://x"),
            original_name: None,
        },
        Request::AccountRemove {
            name: String::new(),
        },
        Request::ConfigChanged,
        Request::KeySet {
            account: String::new(),
            key: Sensitive::from("k"),
        },
        Request::KeyRemove {
            account: String::new(),
        },
        Request::KeyTest {
            account: String::new(),
        },
        Request::AutostartGet,
        Request::AutostartSet { enabled: true },
        Request::Quit,
    ];
    for r in all {
        let wire = serde_json::to_value(&r).unwrap();
        assert_eq!(wire["op"], r.op(), "op() disagrees with serde for {r:?}");
        let tag = format!("\"op\":\"{}\"", r.op());
        assert!(
            docs.contains(&tag),
            "{} has no example line in the docs",
            r.op()
        );
    }
}

#[test]
fn event_ids_do_not_collide_with_the_call_id() {
    let call: Call =
        serde_json::from_str(r#"{"id":7,"op":"set_read","event":42,"read":false}"#).unwrap();
    assert_eq!(
        call,
        Call {
            id: 7,
            request: Request::SetRead {
                id: 42,
                read: false
            }
        }
    );
}

#[test]
fn key_is_sent_but_never_debug_printed() {
    let call = Call {
        id: 1,
        request: Request::KeySet {
            account: "work".into(),
            key: Sensitive::from("dm_live_supersecret"),
        },
    };
    let debug = format!("{call:?}");
    assert!(!debug.contains("supersecret"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    let line = serde_json::to_string(&call).unwrap();
    let back: Call = serde_json::from_str(&line).unwrap();
    let Request::KeySet { key, .. } = back.request else {
        panic!()
    };
    assert_eq!(key.expose(), "dm_live_supersecret");
}

#[test]
fn null_ok_is_an_answer() {
    let line = r#"{"reply":{"id":3,"ok":null}}"#;
    let back: ServerLine = serde_json::from_str(line).unwrap();
    assert_eq!(
        back,
        ServerLine::Reply(Reply {
            id: 3,
            outcome: Outcome::Ok(Value::Null)
        })
    );
    assert_eq!(serde_json::to_string(&back).unwrap(), line);
}

#[test]
fn bad_lines_name_the_field() {
    let field = |line: &str| {
        let (id, e) = parse_call(line).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        (id, e.field.unwrap())
    };
    assert_eq!(field(r#"{"id":4,"op":"frobnicate"}"#), (4, "op".into()));
    assert_eq!(field(r#"{"id":5}"#), (5, "op".into()));
    assert_eq!(
        field(r#"{"id":6,"op":"reply","event":1}"#),
        (6, "text".into())
    );
    assert_eq!(field(r#"{"op":"status"}"#), (0, "id".into()));
    assert_eq!(field("not json"), (0, "op".into()));
    assert_eq!(field(r#"{"id":8,"op":"pause","choice":"never"}"#).0, 8);
}

#[test]
fn hello_checks_the_protocol_first() {
    let ok = check_hello(r#"{"protocol":1,"role":"cli","version":"0.1.0"}"#).unwrap();
    assert_eq!(ok.role, Role::Cli);

    let e = check_hello(r#"{"protocol":2,"role":"window","version":"9","new":{}}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::VersionMismatch);
    assert_eq!(e.field.as_deref(), Some("protocol"));
    assert_eq!(
        e.message,
        "this window speaks control protocol 2 but the running Tocsin speaks 1: \
         restart Tocsin so both are the same version"
    );
    let e = check_hello(r#"{"protocol":0,"role":"robot"}"#).unwrap_err();
    assert!(
        e.message
            .starts_with("this client speaks control protocol 0"),
        "{}",
        e.message
    );

    let e = check_hello(r#"{"protocol":1,"role":"robot","version":"1"}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert_eq!(
        check_hello("{}").unwrap_err().field.as_deref(),
        Some("protocol")
    );
}
