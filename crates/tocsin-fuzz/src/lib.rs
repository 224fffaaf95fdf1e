//! The bodies of Tocsin's fuzz targets: one `pub fn <target>(data: &[u8])` per
//! parser that reads what an outsider controls, each run on the real code through
//! its public API, and checking an invariant where it is cheap.
//!
//! Owns: the target list ([`TARGETS`]), how a target turns raw bytes into the
//! parser's input (UTF-8 where the real caller only ever passes UTF-8, a selector
//! byte where one target covers several parsers), the fixed context each parser
//! runs in (a fresh [`Session`] per input, so a run is deterministic), and the
//! invariants checked after parsing (a decoded event round-trips through serde and
//! says which provider and account it came from, a saved rule set or `config.toml`
//! reads back equal, sanitised HTML carries no script, handler or `javascript:`
//! link, a translated search is accepted by SQLite's FTS5 `MATCH`, a connection
//! URL for logs never contains the key). A broken invariant panics, which the
//! fuzzer records as a crash.
//!
//! Must not: depend on AFL or any fuzzer (the AFL binaries live in the separate
//! `fuzz/` cargo project, outside the workspace, so the normal build and CI stay
//! free of it), touch the network, the clock, the disk or global state that
//! outlives one input (the SQLite handle is created once per process and only
//! read), or copy a parser's logic to test it against itself: invariants compare
//! with an independent statement of the rule (the `regex` crate, the emulator's
//! NATS matcher, a tag scan of the output).
//!
//! Entry points that are not reachable from here (private in a crate this crate
//! must not change): the supervisor's JSON nesting check
//! (`throttle::nests_deeper_than`) and its NATS payload framing (`nats::frame`). The
//! SSE stream is parsed by the `eventsource-stream` crate, and binary WebSocket
//! frames are dropped unread, so the only bytes-in parsers are the REST bodies
//! ([`rest_bodies`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::Weekday;
use serde_json::{json, Value};
use tocsin_engine::attention::{self, AttentionSettings, Decision};
use tocsin_engine::config::Config;
use tocsin_engine::detail;
use tocsin_model::rules::{CompiledRuleSet, RuleSet};
use tocsin_model::{Attachment, Event, EventKind, Provider, Tier};
use tocsin_providers::{
    adapter_for, prismer, topics, Adapter, AuthMode, CatchUpFrom, Endpoint, Inbound, Name, NameCache, Session,
    Subscriptions,
};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target: its name (the AFL binary, `fuzz/corpus/<name>/`) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("daimon_frame", daimon_frame),
    ("agentmail_frame", agentmail_frame),
    ("divinci_frame", divinci_frame),
    ("prismer_frame", prismer_frame),
    ("bivariant_frame", bivariant_frame),
    ("rest_bodies", rest_bodies),
    ("topic_patterns", topic_patterns),
    ("rules_toml", rules_toml),
    ("rule_conditions", rule_conditions),
    ("attention_toml", attention_toml),
    ("config_toml", config_toml),
    ("search_query", search_query),
    ("html_sanitiser", html_sanitiser),
];

/// Inputs that reach the lazily built state of every target (adapters, the default
/// rules' regexes, the SQLite table, html5ever's tables).
const WARM_UP: &[&[u8]] = &[
    br#"{"type":"message.received","event_id":"evt_1","inbox_id":"inbox_abc123","payload":{"message":{"id":"m1","from":"Ada <a@b.c>","subject":"[URGENT] hi","body":"x","html_body":"<p>x</p>","labels":["priority"]}}}"#,
    br#"{"type":"message.new","payload":{"id":"m1","conversationId":"conv_dm","senderId":"usr_other","content":"hello"}}"#,
    b"<p onclick=x>Hi <a href='https://e/x'>x</a><img src=https://e/i.png><script>x</script></p>",
    b"[[rules]]\nname = \"a\"\nwhen = { subject_regex = \"(?i)x\\\\w\" }\nthen = { tier = \"high\" }\n",
    b"[[accounts]]\nname = \"a\"\nprovider = \"daimon\"\nurl = \"wss://h/v1/stream\"\n",
    b"quiet_min_tier = \"high\"\n[[quiet_hours]]\ndays = [\"mon\"]\nstart = \"22:00\"\nend = \"07:00\"\n",
    b"deploy fail* \"x\"",
    b"events.org_1.>\nevents.org_1.a.b",
    b"\x02\x00{\"ok\":true,\"data\":{\"events\":[]}}",
];

/// Runs `target` on inputs that build the state it keeps between inputs, so that an
/// AFL binary can do it before AFL's fork server starts (what is built once per
/// process would otherwise show up as unstable edges in every new child). One target
/// at a time, so each binary links only its own target's code.
pub fn warm_up(target: Target) {
    for input in WARM_UP {
        target(input);
    }
}

/// The account every session belongs to.
const ACCOUNT: &str = "fuzz";
/// The receive time passed to every decoder.
const RECEIVED_AT_MS: i64 = 1_773_657_045_123;
/// Our own id at Prismer and the topic platform (so "is this from me" paths run).
const SELF_ID: &str = "usr_self";
/// A key that must never appear in a URL meant for logs.
const SECRET_KEY: &str = "FUZZ-KEY-7f3a9c";

// ---------------------------------------------------------------------------------
// Provider text frames

fn adapters() -> &'static HashMap<Provider, Box<dyn Adapter>> {
    static ADAPTERS: OnceLock<HashMap<Provider, Box<dyn Adapter>>> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let subs = Subscriptions {
            inboxes: vec!["inbox_abc123".into()],
            topics: vec!["events.org_1.>".into()],
            ..Default::default()
        };
        let make = |p: Provider, url: &str, auth: AuthMode| {
            let mut e = Endpoint::new(url, auth);
            e.token_url = Some("http://127.0.0.1:9/token".into());
            adapter_for(p, &e, &subs).expect("the fuzz endpoints are valid")
        };
        HashMap::from([
            (Provider::Daimon, make(Provider::Daimon, "ws://127.0.0.1:9/v1/stream", AuthMode::Bearer)),
            (Provider::AgentMail, make(Provider::AgentMail, "ws://127.0.0.1:9/v0", AuthMode::Bearer)),
            (Provider::Divinci, make(Provider::Divinci, "ws://127.0.0.1:9/ws/chat/thread_1", AuthMode::Token)),
            (Provider::Prismer, make(Provider::Prismer, "ws://127.0.0.1:9/ws", AuthMode::Query)),
            (Provider::Bivariant, make(Provider::Bivariant, "ws://127.0.0.1:9/v1/ws", AuthMode::Bearer)),
        ])
    })
}

fn adapter(p: Provider) -> &'static dyn Adapter {
    adapters()[&p].as_ref()
}

/// A connection's state as it is once connected: our id known, one stream open, one
/// conversation joined. New for every input, so every run is the same.
fn session() -> Session {
    let mut s = Session::new(ACCOUNT);
    s.user_id = Some(SELF_ID.into());
    s.cursor = Some("41".into());
    s.joined.insert("conv_joined".into());
    s.streams.insert("stream_open".into(), "usr_other".into());
    s
}

/// Names as a connection has cached them (Prismer applies them to events).
fn names() -> &'static NameCache {
    static NAMES: OnceLock<NameCache> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut n = NameCache::default();
        n.put("user:usr_other".into(), Name { display: "Ada Lovelace".into(), direct: false }, RECEIVED_AT_MS);
        n.put("conversation:conv_joined".into(), Name { display: "Support".into(), direct: false }, RECEIVED_AT_MS);
        n.put("conversation:conv_dm".into(), Name { display: "Ada".into(), direct: true }, RECEIVED_AT_MS);
        n
    })
}

/// One text frame through a provider's decoder, then through what the supervisor
/// and engine do next with the result.
fn provider_frame(provider: Provider, data: &[u8]) {
    // The socket only hands text frames over as checked UTF-8.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let a = adapter(provider);
    let mut session = session();
    match a.decode_in(&session, text, RECEIVED_AT_MS) {
        Ok(Inbound::Event(mut event)) => {
            check_event(provider, &event);
            for lookup in a.lookups(&session, &event) {
                assert!(lookup.path.starts_with('/'), "a lookup path is relative to the REST base: {:?}", lookup.path);
            }
            a.apply_names(&mut event, names());
            for frame in a.after_event(&mut session, &event) {
                serde_json::from_str::<Value>(&frame).expect("a frame we send is JSON");
            }
            if let Some(token) = &event.ack {
                if let Some(frame) = a.ack_frame(token) {
                    serde_json::from_str::<Value>(&frame).expect("an ack frame is JSON");
                }
            }
            after_decode(&event);
        }
        Ok(Inbound::Ephemeral(e)) => session.absorb(&e),
        Ok(Inbound::Control(_)) | Err(_) => {}
    }
}

/// What every decoded event must satisfy.
fn check_event(provider: Provider, event: &Event) {
    assert_eq!(event.provider, provider, "an event names the provider that decoded it");
    assert_eq!(event.account, ACCOUNT, "an event names the account it arrived on");
    assert_eq!(event.received_at_ms, RECEIVED_AT_MS, "an event keeps its receive time");
    assert!(!event.dedupe_key.is_empty(), "every event has a dedupe key");
    // The history stores events as JSON and reads them back.
    let text = serde_json::to_string(event).expect("an event serialises");
    let mut back: Event = serde_json::from_str(&text).expect("a serialised event reads back");
    assert!(same_json(&back.raw, &event.raw), "the raw frame survives a round trip");
    back.raw = event.raw.clone();
    assert_eq!(&back, event, "an event survives a serde round trip");
}

/// The engine's next steps with an event: the default rules, the detail pane.
fn after_decode(event: &Event) {
    let _ = CompiledRuleSet::defaults().evaluate(event);
    let _ = event.excerpt(120);
    let _ = detail::headers(event);
    if let Some(url) = detail::web_url(&event.raw) {
        assert!(url.starts_with("https://"), "a web link is https only: {url:?}");
    }
}

/// JSON equality, except that floats only need to agree to the last few bits:
/// serde_json's default float parser is not always correctly rounded, so a float
/// written and read back may move by one unit in the last place.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || ((x - y).abs() <= 1e-12 * x.abs().max(y.abs())),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// daimon.email text frames (`Adapter::decode_in`).
pub fn daimon_frame(data: &[u8]) {
    provider_frame(Provider::Daimon, data);
}

/// AgentMail text frames.
pub fn agentmail_frame(data: &[u8]) {
    provider_frame(Provider::AgentMail, data);
}

/// Chat SDK (Divinci) text frames.
pub fn divinci_frame(data: &[u8]) {
    provider_frame(Provider::Divinci, data);
}

/// Prismer text frames (also its SSE `data:` payloads, which go through the same decoder).
pub fn prismer_frame(data: &[u8]) {
    provider_frame(Provider::Prismer, data);
}

/// Topic platform (Bivariant) text frames (also its direct-NATS messages, which the
/// supervisor turns into the same `event` frame).
pub fn bivariant_frame(data: &[u8]) {
    provider_frame(Provider::Bivariant, data);
}

// ---------------------------------------------------------------------------------
// REST bodies (bytes, not necessarily UTF-8)

/// The HTTP answers the adapters read as raw bytes: catch-up pages, name lookups,
/// connection tokens and tickets, Prismer's token refresh and JWT expiry. The first
/// byte picks the parser, the second the HTTP status where one is read.
pub fn rest_bodies(data: &[u8]) {
    let [which, status, body @ ..] = data else { return };
    let status = [200u16, 201, 204, 400, 401, 403, 404, 429, 500, 503][usize::from(*status) % 10];
    let session = session();
    match which % 9 {
        0 | 1 => {
            let a = adapter(Provider::AgentMail);
            let from = CatchUpFrom { cursor: None, since_ms: Some(RECEIVED_AT_MS - 3_600_000) };
            let path = if which % 9 == 0 {
                "/v0/inboxes?limit=100".to_owned()
            } else {
                a.catch_up_start(&from).into_iter().next().expect("one inbox is configured")
            };
            if let Ok(page) = a.decode_catch_up(&session, &from, &path, body, RECEIVED_AT_MS) {
                for e in &page.events {
                    check_event(Provider::AgentMail, e);
                    after_decode(e);
                }
                for next in &page.next {
                    assert!(next.starts_with("/v0/inboxes"), "a next page stays in the listing: {next:?}");
                }
            }
        }
        2 => {
            let a = adapter(Provider::Prismer);
            let from = CatchUpFrom { cursor: Some("41"), since_ms: Some(RECEIVED_AT_MS - 60_000) };
            let path = a.catch_up_start(&from).into_iter().next().expect("a sync path");
            if let Ok(page) = a.decode_catch_up(&session, &from, &path, body, RECEIVED_AT_MS) {
                for e in &page.events {
                    check_event(Provider::Prismer, e);
                    after_decode(e);
                }
            }
        }
        3 | 4 => {
            let key = if which % 9 == 3 { "user:usr_other" } else { "conversation:conv_dm" };
            if let Ok(name) = adapter(Provider::Prismer).decode_lookup(&session, key, body) {
                assert!(!name.display.trim().is_empty(), "a looked-up name is not blank");
            }
        }
        5 => {
            if let Ok(token) = adapter(Provider::Prismer).parse_refresh(body) {
                assert!(prismer::jwt_expiry_ms(token.expose()).is_some(), "a renewed key says when it expires");
            }
        }
        6 => {
            let _ = adapter(Provider::Daimon).parse_token(status, body);
        }
        7 => {
            let _ = adapter(Provider::Divinci).parse_token(status, body);
        }
        _ => {
            let _ = prismer::jwt_expiry_ms(&String::from_utf8_lossy(body));
        }
    }
}

// ---------------------------------------------------------------------------------
// Topic patterns

/// A topic pattern and a subject, split at the first newline: validation (with and
/// without an organisation) and matching, compared with the emulator's own NATS
/// matcher for every pattern that validates.
pub fn topic_patterns(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, subject) = text.split_once('\n').unwrap_or((text, ""));
    let valid = topics::validate(pattern, None).is_ok();
    if topics::validate(pattern, Some("org_1")).is_ok() {
        assert!(valid, "a pattern valid for an organisation is valid");
    }
    let m = topics::matches(pattern, subject);
    if valid {
        assert_eq!(
            m,
            tocsin_emulator::bivariant::subject_matches(pattern, subject),
            "the client and the emulator agree on {pattern:?} against {subject:?}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Rules

/// Events of every shape the rules look at.
fn sample_events() -> &'static [Event] {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let base = |provider, kind, provider_type: &str| Event {
            dedupe_key: format!("fuzz:{provider_type}"),
            provider,
            account: ACCOUNT.into(),
            kind,
            provider_type: provider_type.into(),
            provider_event_id: None,
            occurred_at_ms: None,
            received_at_ms: RECEIVED_AT_MS,
            inbox: None,
            thread: None,
            message_id: None,
            sender: None,
            subject: None,
            text: None,
            html: None,
            labels: Vec::new(),
            attachments: Vec::new(),
            replayed: false,
            ack: None,
            priority: None,
            topic: None,
            raw: Value::Null,
        };
        vec![
            Event {
                inbox: Some("Inbox_ABC123".into()),
                sender: Some("Ada Lovelace <ada@Example.com>".into()),
                subject: Some("[URGENT] Straße: the build is red".into()),
                text: Some("Please look at the KELVIN sign \u{212A} and the deploy".into()),
                labels: vec!["priority".into(), "unread".into()],
                attachments: vec![Attachment { filename: Some("a.csv".into()), ..Default::default() }],
                ..base(Provider::Daimon, EventKind::MessageReceived, "message.received")
            },
            Event {
                sender: Some("bot-7@ci.example.io".into()),
                priority: Some("High".into()),
                ..base(Provider::AgentMail, EventKind::MessageBounced, "message.received.spam")
            },
            Event {
                thread: Some("conv_dm".into()),
                sender: Some("usr_other".into()),
                text: Some("@you can you check this?".into()),
                labels: vec!["mention".into(), "direct".into()],
                ..base(Provider::Prismer, EventKind::MessageReceived, "message.new")
            },
            Event {
                topic: Some("events.org_1.ci.pipeline.failed.run_9".into()),
                text: Some("deploy failed".into()),
                ..base(Provider::Bivariant, EventKind::Other, "event")
            },
            base(Provider::Divinci, EventKind::Typing, "typing"),
        ]
    })
}

/// A rules file (what the editor, `tocsin rules import` and the stored setting
/// give): compiled as every one of them does (`settings::compile_rules`: parse,
/// validate, compile); when it compiles, evaluated, exported and read back
/// unchanged; when it is refused, its problems listed (the editor's
/// `RuleSet::problems`).
///
/// Speed (issue 15): a valid set is not run through `problems()` again, and the
/// exported text is read back with `toml::from_str` rather than `RuleSet::from_toml`.
/// Both re-did work already done on the same value: `compile_rules` validates with
/// `RuleSet::validate`, which *is* `problems()` on the set parsed from the same text,
/// and a read-back set equal to a valid one validates by the same token. Each cost one
/// more compilation of every regex in the set (four per valid input, now two, both
/// in the product's own path). The invariants are unchanged.
pub fn rules_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tocsin_engine::settings::compile_rules(text) {
        Ok(compiled) => {
            for e in sample_events() {
                let d = compiled.evaluate(e);
                assert_eq!(d.rule.as_deref(), compiled.matching_rule(e), "evaluate and matching_rule agree");
                assert!(d.sound.is_none() || d.notify, "only a notifying rule plays a sound");
            }
            let exported = compiled.rule_set().to_toml().expect("a valid rule set exports");
            let back = toml::from_str::<RuleSet>(&exported).expect("exported rules import again");
            assert_eq!(&back, compiled.rule_set(), "rules survive export and import");
        }
        Err(_) => {
            let problems = toml::from_str::<RuleSet>(text).map(|r| r.problems());
            assert!(problems.is_err() || problems.is_ok_and(|p| !p.is_empty()), "a refused rule set has a problem")
        }
    }
}

/// The largest compiled regex (bytes) that [`rule_conditions`] checks against its own
/// compilation with the `regex` crate. The rules compile with the crate's default
/// limit (10 MiB), and a short pattern such as `\w{150}` compiles to several MiB:
/// checking it meant a second compilation of that size, for no new path in the rules
/// (the rule runs `is_match` on the subject whatever the size). 1 MiB is over 20
/// times `\w` (45 KB), so every ordinary rule regex is still checked.
const ORACLE_SIZE_LIMIT: usize = 1 << 20;

/// One condition per rule, from newline-separated fields (inputs up to 1 KiB): a
/// `subject_regex` against a subject (`text_regex` is the same code on another field), a sender pattern and address, a provider-type
/// glob and type, a topic pattern and topic, a `*_contains` needle. Regexes are
/// checked against the `regex` crate, and topic conditions against the provider's
/// NATS matcher.
pub fn rule_conditions(data: &[u8]) {
    // Regex compilation dominates; longer patterns add time, not paths.
    if data.len() > 1024 {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut f = text.split('\n');
    let mut next = || f.next().unwrap_or("");
    let (re, subject, sender_p, sender, type_p, ty, topic_p, topic, needle) =
        (next(), next(), next(), next(), next(), next(), next(), next(), next());
    let event = Event {
        subject: Some(subject.into()),
        text: Some(subject.into()),
        sender: Some(sender.into()),
        provider_type: ty.into(),
        topic: Some(topic.into()),
        ..sample_events()[0].clone()
    };
    let matched = |when: Value| -> Option<bool> {
        let set: RuleSet =
            serde_json::from_value(json!({"rules": [{"name": "r", "when": when, "then": {"tier": "urgent"}}]})).ok()?;
        let compiled = set.compile().ok()?;
        Some(compiled.matching_rule(&event).is_some())
    };
    if let Some(m) = matched(json!({"subject_regex": re})) {
        // The oracle compiles the pattern a second time; past ORACLE_SIZE_LIMIT it is
        // skipped (the rule's use of the regex is the same code for a large one), so
        // a near-limit pattern is not compiled twice. See ORACLE_SIZE_LIMIT.
        match regex::RegexBuilder::new(re).size_limit(ORACLE_SIZE_LIMIT).build() {
            Ok(r) => assert_eq!(m, r.is_match(subject), "subject_regex {re:?} against {subject:?}"),
            Err(regex::Error::CompiledTooBig(_)) => {}
            Err(e) => panic!("a regex the rules accept does not compile: {re:?}: {e}"),
        }
    }
    let _ = matched(json!({"sender": [sender_p]}));
    let _ = matched(json!({"provider_type": [type_p]}));
    if let Some(m) = matched(json!({"topic": [topic_p]})) {
        if topics::validate(topic_p, None).is_ok() {
            assert_eq!(m, topics::matches(topic_p, topic), "topic {topic_p:?} against {topic:?}");
        }
    }
    if let Some(m) = matched(json!({"subject_contains": [needle], "text_contains": [needle]})) {
        if m && needle.is_ascii() && subject.is_ascii() {
            let (s, n) = (subject.to_ascii_lowercase(), needle.to_ascii_lowercase());
            assert!(s.contains(n.as_str()), "subject_contains {needle:?} matched {subject:?}");
        }
    }
    let _ = matched(json!({"labels": [needle], "priority": [needle], "account": [needle], "inbox": [needle]}));
}

// ---------------------------------------------------------------------------------
// Attention settings

/// The attention TOML (`tocsin attention import`): parsed, validated, exported (TOML
/// for the CLI, JSON for the store and the window) and read back equal, and every
/// weekday and tier decided at the window edges.
pub fn attention_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(settings) = toml::from_str::<AttentionSettings>(text) else { return };
    let valid = settings.validate().is_ok();
    if let Ok(t) = toml::to_string(&settings) {
        assert_eq!(toml::from_str::<AttentionSettings>(&t).expect("exported settings import"), settings);
    }
    let json = serde_json::to_string(&settings).expect("settings serialise");
    assert_eq!(serde_json::from_str::<AttentionSettings>(&json).expect("stored settings read back"), settings);
    let mut minutes = vec![0u16, 1, 719, 1438, 1439];
    for w in &settings.quiet_hours {
        minutes.extend(attention::parse_time_of_day(&w.start));
        minutes.extend(attention::parse_time_of_day(&w.end));
        if let Some((s, e)) = w.minutes() {
            minutes.extend([s.saturating_sub(1), (e + 1439) % 1440]);
        }
    }
    for day in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun] {
        for &m in &minutes {
            let quiet = settings.quiet_at(day, m);
            for tier in [Tier::Low, Tier::Normal, Tier::High, Tier::Urgent] {
                let d = attention::decide_at(&settings, false, tier, day, m);
                assert_eq!(d == Decision::Deliver, !quiet || tier >= settings.quiet_min_tier);
                assert_ne!(attention::decide_at(&settings, true, tier, day, m), Decision::Deliver, "a pause holds");
            }
            if valid {
                assert_eq!(attention::decide_at(&settings, false, Tier::Urgent, day, m), Decision::Deliver);
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// config.toml

/// `config.toml`: parsed and validated; a valid file saves (as the Accounts window
/// writes it) and loads back equal, and every account gets an adapter, a connection
/// plan whose loggable URL does not contain the key, and finite reconnect delays.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = Config::parse(text, "config.toml") else { return };
    if let Ok(saved) = toml::to_string_pretty(&config) {
        let back = Config::parse(&saved, "saved config.toml").expect("a saved config loads");
        assert_eq!(back, config, "a config survives save and load");
    }
    let key = tocsin_secrets_key();
    for a in &config.accounts {
        let _ = a.rate_limit();
        let b = a.backoff.to_backoff();
        for attempt in [0, 1, 2, 31, u32::MAX] {
            let d = b.delay(attempt, 1.0);
            assert!(d.as_secs_f64() <= b.cap.max(b.base).as_secs_f64() * (1.0 + 1e-9), "a delay stays under the cap");
            let _ = b.delay(attempt, 0.0);
        }
        if a.is_direct_nats() {
            continue;
        }
        let adapter = adapter_for(a.provider(), &a.endpoint(), &a.subscriptions()).expect("a valid account has an adapter");
        let plan = adapter.connect_plan(&key, Some("evt_1"));
        assert!(!plan.log_url.contains(SECRET_KEY), "the loggable URL hides the key: {}", plan.log_url);
        if let Some(sse) = adapter.sse_plan(&key) {
            assert!(!sse.log_url.contains(SECRET_KEY), "the loggable SSE URL hides the key");
        }
        for frame in adapter.on_open(Some("evt_1")) {
            serde_json::from_str::<Value>(&frame).expect("a subscription frame is JSON");
        }
        let _ = a.endpoint().rest_base();
    }
}

fn tocsin_secrets_key() -> tocsin_secrets::Sensitive<String> {
    tocsin_secrets::Sensitive::new(SECRET_KEY.to_owned())
}

// ---------------------------------------------------------------------------------
// Search

thread_local! {
    /// An FTS5 table like the history's (same columns and tokenizer), in memory.
    static FTS: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

/// What the user types in the search box: translated by `tocsin_store::fts_query`,
/// whose promise is a query that "cannot be a syntax error"; checked with a real
/// SQLite FTS5 `MATCH` on a table like the history's.
pub fn search_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(q) = tocsin_store::fts_query(text) else {
        assert!(!text.chars().any(char::is_alphanumeric), "a query with a word in it is searched: {text:?}");
        return;
    };
    assert!(!q.is_empty());
    assert!(q.split(' ').count() <= 16, "at most 16 words: {q:?}");
    FTS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let conn = cell.get_or_insert_with(|| {
            let c = rusqlite::Connection::open_in_memory().expect("an in-memory SQLite");
            c.execute_batch(
                "CREATE VIRTUAL TABLE events_fts USING fts5(subject, sender, body_text, \
                     tokenize = 'unicode61 remove_diacritics 2');
                 INSERT INTO events_fts (subject, sender, body_text) VALUES
                     ('[URGENT] Déploiement raté', 'Ada <ada@example.com>', 'the deploy of build 42 failed'),
                     ('Straße 東京 invoice', 'bot-7@ci.example.io', 'AND OR NOT NEAR * \" : ^ -');",
            )
            .expect("the FTS table");
            c
        });
        let mut stmt = conn.prepare_cached("SELECT count(*) FROM events_fts WHERE events_fts MATCH ?1").expect("prepare");
        let r: Result<i64, _> = stmt.query_row([&q], |row| row.get(0));
        if let Err(e) = r {
            panic!("FTS5 refused the translation of {text:?}: {q:?}: {e}");
        }
    });
}

// ---------------------------------------------------------------------------------
// HTML

/// An email's HTML body on its way to the detail pane: the remote images found, then
/// the cleaned document (with the first remote image "fetched" as a data URI), whose
/// body is scanned: no script, style, frame, form or meta element, no comment, no
/// `on*`/`style`/`srcdoc` attribute, no `javascript:`/`vbscript:` URL, `data:` only
/// as a raster image source, and every link `rel="noopener noreferrer nofollow"`.
pub fn html_sanitiser(data: &[u8]) {
    let Ok(html) = std::str::from_utf8(data) else { return };
    if html.trim().is_empty() {
        return; // detail() shows no HTML pane for a blank body
    }
    let remote = detail::remote_images(html);
    assert!(remote.len() <= 24, "at most 24 remote images");
    let fetched: HashMap<String, String> =
        remote.first().map(|u| (u.clone(), "data:image/png;base64,iVBORw0KGgo=".to_owned())).into_iter().collect();
    let safe = detail::safe_html(html, &fetched, !fetched.is_empty());
    let doc = &safe.document;
    let start = doc.find("<body>").expect("the frame document has a body") + "<body>".len();
    let end = doc.rfind("</body>").expect("the body is closed");
    check_clean_body(&doc[start..end]);
}

fn check_clean_body(body: &str) {
    let lower = body.to_ascii_lowercase();
    assert!(!lower.contains("<!--"), "no comment survives");
    for tag in [
        "script", "style", "iframe", "frame", "object", "embed", "form", "input", "button", "textarea", "select",
        "base", "meta", "link", "svg", "math", "template", "noscript", "applet", "param",
    ] {
        let open = format!("<{tag}");
        for (i, _) in lower.match_indices(&open) {
            let after = lower[i + open.len()..].chars().next();
            assert!(
                !matches!(after, None | Some(' ' | '>' | '/' | '\t' | '\n')),
                "a <{tag}> element survived: {body:?}"
            );
        }
    }
    for tag in tags(body) {
        for (name, value) in &tag.attrs {
            let n = name.to_ascii_lowercase();
            assert!(!n.starts_with("on"), "an event handler survived: {n} in {body:?}");
            assert!(!["style", "srcdoc", "formaction", "xlink:href"].contains(&n.as_str()), "{n} survived: {body:?}");
            let v = decode_entities(value);
            let url: String = v.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
            let url = url.trim_start_matches(|c: char| c <= ' ').to_ascii_lowercase();
            assert!(!url.starts_with("javascript:") && !url.starts_with("vbscript:"), "a script URL survived: {body:?}");
            if url.starts_with("data:") {
                assert!(tag.name == "img" && n == "src", "data: outside an image source: {body:?}");
                assert!(
                    ["data:image/png", "data:image/gif", "data:image/jpeg", "data:image/webp"].iter().any(|p| url.starts_with(p)),
                    "a non-raster data: image: {body:?}"
                );
            }
        }
        if tag.name == "a" && tag.attrs.iter().any(|(n, _)| n == "href") {
            assert!(
                tag.attrs.iter().any(|(n, v)| n == "rel" && v == "noopener noreferrer nofollow"),
                "a link without rel=noopener: {body:?}"
            );
        }
    }
}

struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

/// The start tags of serialised HTML (as html5ever writes it: text `<` escaped,
/// attribute values double-quoted with `"` escaped).
fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' || i + 1 >= b.len() || !b[i + 1].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        i += 1;
        let s = i;
        while i < b.len() && !matches!(b[i], b' ' | b'>' | b'/') {
            i += 1;
        }
        let mut tag = Tag { name: html[s..i].to_ascii_lowercase(), attrs: Vec::new() };
        loop {
            while i < b.len() && matches!(b[i], b' ' | b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            let s = i;
            while i < b.len() && !matches!(b[i], b'=' | b' ' | b'>') {
                i += 1;
            }
            let name = html[s..i].to_owned();
            let mut value = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                    let s = i;
                    while i < b.len() && b[i] != b'"' {
                        i += 1;
                    }
                    value = html[s..i.min(b.len())].to_owned();
                    i += 1;
                }
            }
            tag.attrs.push((name, value));
        }
        out.push(tag);
    }
    out
}

/// The few entities html5ever writes in attribute values, plus numeric ones.
fn decode_entities(v: &str) -> String {
    if !v.contains('&') {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let c = match ent {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "nbsp" => Some('\u{a0}'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_runs() {
        for (_, f) in TARGETS {
            warm_up(*f);
        }
    }

    #[test]
    fn every_target_takes_empty_and_garbage_input() {
        for (name, f) in TARGETS {
            for input in [&b""[..], b"\0", b"\xff\xfe", b"{", b"[[[[", b"\n\n\n\n\n\n\n\n\n"] {
                f(input);
            }
            let _ = name;
        }
    }

    #[test]
    fn real_frames_decode_to_events() {
        daimon_frame(br#"{"type":"message.received","event_id":"evt_1","inbox_id":"inbox_abc123","payload":{"message":{"id":"m1","from":"a@b.c","subject":"hi","body":"x"}}}"#);
        prismer_frame(br#"{"type":"message.new","payload":{"id":"m1","conversationId":"conv_dm","senderId":"usr_other","content":"hello"}}"#);
    }

    #[test]
    fn the_html_check_sees_what_it_must_refuse() {
        assert!(std::panic::catch_unwind(|| check_clean_body("<p onclick=\"x()\">a</p>")).is_err());
        assert!(std::panic::catch_unwind(|| check_clean_body("<a href=\"java&#x9;script:x\">a</a>")).is_err());
        assert!(std::panic::catch_unwind(|| check_clean_body("<script>x</script>")).is_err());
        assert!(std::panic::catch_unwind(|| check_clean_body("<img src=\"data:image/svg+xml,x\">")).is_err());
        check_clean_body("<p>&lt;script&gt;</p><a href=\"https://x\" rel=\"noopener noreferrer nofollow\">x</a><span>s</span>");
        html_sanitiser(b"<a href='javascript:alert(1)' onclick=x>hi</a><script>alert(1)</script><img src=http://e/i.png>");
    }

    #[test]
    fn search_translations_pass_fts5() {
        search_query(br#"deploy AND "quoted" NOT -x : ^ near( a* b"#);
        search_query(b"***");
    }

    #[test]
    fn rules_and_config_round_trip() {
        rules_toml(b"[[rules]]\nname = \"VIP\"\nwhen = { sender = [\"@example.com\"], subject_regex = \"(?i)urgent\" }\nthen = { tier = \"urgent\", sound = \"bell\" }\n");
        config_toml(b"[[accounts]]\nname = \"work\"\nprovider = \"prismer\"\nurl = \"wss://prismer.cloud/ws\"\nauth = \"query\"\n");
        rule_conditions(b"^a+$\naaa\n@example.com\nx@example.com\n*.spam\nmessage.spam\nevents.*.>\nevents.org_1.x\nAAA");
        attention_toml(b"quiet_min_tier = \"high\"\n[[quiet_hours]]\ndays = [\"mon\"]\nstart = \"22:00\"\nend = \"07:00\"\n");
    }
}
