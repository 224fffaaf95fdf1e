//! Unit tests for every condition and every validation error, and property tests for
//! evaluation, the defaults and the TOML round trip.

use super::*;
use proptest::prelude::*;

// ------------------------------------------------------------------ helpers

fn ev() -> Event {
    Event {
        dedupe_key: "k".into(),
        provider: Provider::Daimon,
        account: "work".into(),
        kind: EventKind::MessageReceived,
        provider_type: "message.received".into(),
        provider_event_id: None,
        occurred_at_ms: None,
        received_at_ms: 0,
        inbox: None,
        thread: None,
        message_id: None,
        sender: None,
        subject: None,
        text: None,
        html: None,
        labels: vec![],
        attachments: vec![],
        replayed: false,
        ack: None,
        priority: None,
        topic: None,
        raw: serde_json::Value::Null,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn rule(name: &str, when: Conditions, tier: Tier) -> Rule {
    Rule { name: name.into(), enabled: true, when, then: Outcome::tier(tier) }
}

fn set(rules: Vec<Rule>) -> RuleSet {
    RuleSet { rules }
}

/// Does a one-rule set with these conditions match `event`?
fn hit(when: Conditions, event: &Event) -> bool {
    let compiled = set(vec![rule("r", when, Tier::High)]).compile().unwrap();
    compiled.evaluate(event).rule.is_some()
}

/// The single problem of a one-rule set with these conditions.
fn problem(when: Conditions) -> RuleError {
    let rs = set(vec![rule("r", when, Tier::High)]);
    let mut p = rs.problems();
    assert_eq!(p.len(), 1, "expected exactly one problem, got {p:?}");
    assert_eq!(rs.validate(), Err(p[0].clone()));
    assert!(rs.compile().is_err());
    p.remove(0)
}

fn field_of(e: &RuleError) -> &'static str {
    match e {
        RuleError::Invalid { field, .. } => field,
        other => panic!("not a rule error: {other:?}"),
    }
}

fn c() -> Conditions {
    Conditions::default()
}

/// `default_tier` as it was written by hand before the rule set existed; the
/// built-in rules must agree with it on every event.
fn reference_default_tier(event: &Event) -> Tier {
    let has_label = |l: &str| event.labels.iter().any(|x| x.eq_ignore_ascii_case(l));
    let subject_urgent = event.subject.as_deref().is_some_and(|s| s.to_ascii_lowercase().contains("[urgent]"));
    if subject_urgent || has_label("priority") {
        return Tier::Urgent;
    }
    match event.priority.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("urgent") => return Tier::Urgent,
        Some("high") => return Tier::High,
        _ => {}
    }
    if (has_label("mention") || has_label("direct")) && matches!(event.kind, EventKind::MessageReceived | EventKind::StreamEnd) {
        return Tier::High;
    }
    match event.kind {
        EventKind::MessageBounced | EventKind::MessageComplained | EventKind::MessageRejected => return Tier::High,
        EventKind::Typing | EventKind::Presence | EventKind::StreamChunk => return Tier::Low,
        _ => {}
    }
    let pt = event.provider_type.as_str();
    if pt.ends_with(".spam")
        || pt.ends_with(".blocked")
        || pt.ends_with(".unauthenticated")
        || has_label("spam")
        || has_label("blocked")
        || has_label("trash")
    {
        return Tier::Low;
    }
    Tier::Normal
}

// ------------------------------------------------------------------ defaults

#[test]
fn defaults_are_valid_and_documented() {
    let d = RuleSet::defaults();
    d.validate().unwrap();
    let mut e = ev();
    e.subject = Some("re: [Urgent] db down".into());
    let decision = CompiledRuleSet::defaults().evaluate(&e);
    assert_eq!(
        decision,
        Decision { tier: Tier::Urgent, notify: true, sound: None, rule: Some("Urgent in the subject".into()) }
    );
    let mut e = ev();
    e.kind = EventKind::MessageComplained;
    e.provider_type = "message.complaint".into();
    let decision = CompiledRuleSet::defaults().evaluate(&e);
    assert_eq!((decision.tier, decision.notify), (Tier::High, false));
    let mut e = ev();
    e.provider_type = "message.received.unauthenticated".into();
    assert_eq!(default_tier(&e), Tier::Low);
    assert_eq!(CompiledRuleSet::defaults().evaluate(&ev()), Decision::unmatched());
}

#[test]
fn default_tier_keeps_its_old_answers() {
    let m = EventKind::MessageReceived;
    let e = |kind, pt: &str, subject: Option<&str>, labels: &[&str]| Event {
        kind,
        provider_type: pt.into(),
        subject: subject.map(Into::into),
        labels: strings(labels),
        ..ev()
    };
    assert_eq!(default_tier(&e(m, "message.received", Some("[URGENT] db down"), &[])), Tier::Urgent);
    assert_eq!(default_tier(&e(m, "message.received", Some("re: [urgent] x"), &[])), Tier::Urgent);
    assert_eq!(default_tier(&e(m, "message.received", Some("hello"), &["priority"])), Tier::Urgent);
    assert_eq!(default_tier(&e(m, "message.received", Some("urgent-ish"), &[])), Tier::Normal);
    assert_eq!(default_tier(&e(EventKind::MessageBounced, "message.bounced", None, &[])), Tier::High);
    assert_eq!(default_tier(&e(EventKind::MessageComplained, "message.complaint", None, &[])), Tier::High);
    assert_eq!(default_tier(&e(m, "message.received.spam", Some("win"), &[])), Tier::Low);
    assert_eq!(default_tier(&e(EventKind::Other, "x.y", None, &["trash"])), Tier::Low);
    assert_eq!(default_tier(&e(EventKind::Other, "x.y", None, &[])), Tier::Normal);
    // Chat habits: a mention or a direct message notifies; typing is not a message.
    assert_eq!(default_tier(&e(EventKind::Typing, "typing", None, &["mention"])), Tier::Low);
    assert_eq!(default_tier(&e(m, "message.new", None, &["mention"])), Tier::High);
    assert_eq!(default_tier(&e(m, "message.new", None, &["direct"])), Tier::High);
    assert_eq!(default_tier(&e(EventKind::MessageSent, "message.new", None, &["direct"])), Tier::Normal);
    assert_eq!(default_tier(&e(m, "message.new", None, &[])), Tier::Normal, "group chatter");
    let d = CompiledRuleSet::defaults();
    assert!(d.evaluate(&e(m, "message.new", None, &["direct"])).notify, "a direct message notifies");
    assert!(d.evaluate(&e(m, "message.new", None, &["mention"])).notify, "a mention notifies");
    assert!(!d.evaluate(&e(m, "message.new", None, &[])).notify, "group chatter does not");
    assert_eq!(default_tier(&e(EventKind::Typing, "typing", None, &[])), Tier::Low);
    // A look-alike (Kelvin sign) is not the ASCII label `blocked`.
    assert_eq!(default_tier(&e(m, "x", None, &["bloc\u{212A}ed"])), Tier::Normal);
    assert_eq!(default_tier(&e(m, "x", None, &["BLOCKED"])), Tier::Low);
}

// ------------------------------------------------------------------ conditions

#[test]
fn provider_condition() {
    let when = Conditions { provider: vec![Provider::AgentMail, Provider::Prismer], ..c() };
    assert!(hit(when.clone(), &Event { provider: Provider::Prismer, ..ev() }));
    assert!(!hit(when, &Event { provider: Provider::Daimon, ..ev() }));
}

#[test]
fn account_condition_is_exact() {
    let when = Conditions { account: strings(&["work", "ops"]), ..c() };
    assert!(hit(when.clone(), &Event { account: "ops".into(), ..ev() }));
    assert!(!hit(when.clone(), &Event { account: "Ops".into(), ..ev() }));
    assert!(!hit(when, &Event { account: "home".into(), ..ev() }));
}

#[test]
fn inbox_condition_ignores_case() {
    let when = Conditions { inbox: strings(&["Support@Example.com"]), ..c() };
    assert!(hit(when.clone(), &Event { inbox: Some("support@example.COM".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { inbox: Some("sales@example.com".into()), ..ev() }));
    assert!(!hit(when, &ev()), "no inbox, no match");
}

#[test]
fn topic_condition_uses_nats_wildcards() {
    let t = |topic: &str| Event { topic: Some(topic.into()), ..ev() };
    let when = Conditions { topic: strings(&["ci.*.failed"]), ..c() };
    assert!(hit(when.clone(), &t("ci.main.failed")));
    assert!(!hit(when.clone(), &t("ci.main.x.failed")));
    assert!(!hit(when.clone(), &t("ci.failed")));
    assert!(!hit(when.clone(), &t("CI.main.failed")), "subjects are case-sensitive");
    assert!(!hit(when, &ev()), "no topic, no match");
    let when = Conditions { topic: strings(&["deploy.>"]), ..c() };
    assert!(hit(when.clone(), &t("deploy.prod")));
    assert!(hit(when.clone(), &t("deploy.prod.eu.1")));
    assert!(!hit(when.clone(), &t("deploy")), "`>` needs at least one token");
    assert!(!hit(when, &t("deployment.prod")));
    let when = Conditions { topic: strings(&["a.b", ">"]), ..c() };
    assert!(hit(when.clone(), &t("a.b")));
    assert!(hit(when.clone(), &t("anything")));
    assert!(!hit(when, &t("")), "an empty topic is no topic");
    let when = Conditions { topic: strings(&["*"]), ..c() };
    assert!(hit(when.clone(), &t("one")));
    assert!(!hit(when, &t("one.two")));
}

#[test]
fn kind_condition() {
    let when = Conditions { kind: vec![EventKind::MessageBounced, EventKind::Gap], ..c() };
    assert!(hit(when.clone(), &Event { kind: EventKind::Gap, ..ev() }));
    assert!(!hit(when, &ev()));
}

#[test]
fn sender_condition_exact_domain_and_glob() {
    let s = |sender: &str| Event { sender: Some(sender.into()), ..ev() };
    // Exact address, case-insensitive, display name and angle brackets stripped.
    let when = Conditions { sender: strings(&["Ada@Example.com"]), ..c() };
    assert!(hit(when.clone(), &s("ada@example.com")));
    assert!(hit(when.clone(), &s("Ada Lovelace <ADA@example.com>")));
    assert!(hit(when.clone(), &s("\"Lovelace, Ada\" <ada@example.com>")));
    assert!(hit(when.clone(), &s("<mailto:ada@example.com>")));
    assert!(hit(when.clone(), &s("  ada@example.com ")));
    assert!(!hit(when.clone(), &s("ada@example.org")));
    assert!(!hit(when.clone(), &s("bada@example.com")));
    assert!(!hit(when, &ev()), "no sender, no match");
    // Domain: the domain itself and its subdomains, not look-alike suffixes.
    let when = Conditions { sender: strings(&["@example.com"]), ..c() };
    assert!(hit(when.clone(), &s("bob@example.com")));
    assert!(hit(when.clone(), &s("Bob <bob@mail.EXAMPLE.com>")));
    assert!(!hit(when.clone(), &s("bob@notexample.com")));
    assert!(!hit(when.clone(), &s("bob@example.com.evil.io")));
    assert!(!hit(when, &s("example.com")));
    // Glob.
    let when = Conditions { sender: strings(&["alerts-?@*.pagerduty.com"]), ..c() };
    assert!(hit(when.clone(), &s("Alerts-1@eu.PagerDuty.com")));
    assert!(!hit(when.clone(), &s("alerts-12@eu.pagerduty.com")));
    assert!(!hit(when, &s("alerts-1@pagerduty.com")));
    // A chat user id (no `@`) is an exact entry too.
    let when = Conditions { sender: strings(&["user_42"]), ..c() };
    assert!(hit(when.clone(), &s("USER_42")));
    assert!(!hit(when, &s("user_420")));
}

#[test]
fn subject_and_text_contains_ignore_case() {
    let when = Conditions { subject_contains: strings(&["outage", "ÉCHEC"]), ..c() };
    assert!(hit(when.clone(), &Event { subject: Some("Major OUTAGE in eu".into()), ..ev() }));
    assert!(hit(when.clone(), &Event { subject: Some("échec du build".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { subject: Some("all good".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { text: Some("outage".into()), ..ev() }), "text is not the subject");
    assert!(!hit(when, &ev()));
    let when = Conditions { text_contains: strings(&["Disk Full"]), ..c() };
    assert!(hit(when.clone(), &Event { text: Some("warning: disk full on db1".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { subject: Some("disk full".into()), ..ev() }));
    assert!(!hit(when, &ev()));
}

#[test]
fn subject_and_text_regex() {
    let when = Conditions { subject_regex: Some(r"^\[P[12]\]".into()), ..c() };
    assert!(hit(when.clone(), &Event { subject: Some("[P1] api down".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { subject: Some("re: [P1] api down".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { subject: Some("[p1] api down".into()), ..ev() }), "case-sensitive");
    assert!(!hit(when, &ev()));
    let when = Conditions { subject_regex: Some(r"(?i)^\[p1\]".into()), ..c() };
    assert!(hit(when, &Event { subject: Some("[p1] x".into()), ..ev() }));
    let when = Conditions { text_regex: Some(r"\b5\d\d\b".into()), ..c() };
    assert!(hit(when.clone(), &Event { text: Some("got 503 from upstream".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { text: Some("got 404".into()), ..ev() }));
    assert!(!hit(when, &Event { subject: Some("503".into()), ..ev() }));
}

#[test]
fn labels_condition_any_of_ignoring_case() {
    let when = Conditions { labels: strings(&["VIP", "escalated"]), ..c() };
    assert!(hit(when.clone(), &Event { labels: strings(&["inbox", "vip"]), ..ev() }));
    assert!(hit(when.clone(), &Event { labels: strings(&["Escalated"]), ..ev() }));
    assert!(!hit(when.clone(), &Event { labels: strings(&["vips"]), ..ev() }));
    assert!(!hit(when, &ev()));
}

#[test]
fn priority_condition() {
    let when = Conditions { priority: strings(&["urgent", "critical"]), ..c() };
    assert!(hit(when.clone(), &Event { priority: Some("CRITICAL".into()), ..ev() }));
    assert!(!hit(when.clone(), &Event { priority: Some("high".into()), ..ev() }));
    assert!(!hit(when, &ev()));
}

#[test]
fn provider_type_condition_exact_or_glob() {
    let p = |pt: &str| Event { provider_type: pt.into(), ..ev() };
    let when = Conditions { provider_type: strings(&["message.received.*"]), ..c() };
    assert!(hit(when.clone(), &p("message.received.spam")));
    assert!(hit(when.clone(), &p("message.received.a.b")));
    assert!(!hit(when.clone(), &p("message.received")));
    let when = Conditions { provider_type: strings(&["message.bounced"]), ..c() };
    assert!(hit(when.clone(), &p("message.bounced")));
    assert!(!hit(when.clone(), &p("message.bounced.soft")));
    assert!(!hit(when, &p("Message.Bounced")), "provider types are case-sensitive");
    let when = Conditions { provider_type: strings(&["*.spam", "task.?"]), ..c() };
    assert!(hit(when.clone(), &p("x.spam")));
    assert!(hit(when.clone(), &p("task.1")));
    assert!(!hit(when, &p("task.12")));
}

#[test]
fn always_matches_everything() {
    assert!(hit(Conditions::always(), &ev()));
    assert!(hit(Conditions::always(), &Event { kind: EventKind::Gap, provider: Provider::Bivariant, ..ev() }));
}

#[test]
fn conditions_combine_with_and_lists_with_or() {
    let when = Conditions {
        provider: vec![Provider::Daimon],
        sender: strings(&["@example.com", "boss@corp.io"]),
        subject_contains: strings(&["invoice"]),
        ..c()
    };
    let base = Event { sender: Some("boss@corp.io".into()), subject: Some("Invoice 42".into()), ..ev() };
    assert!(hit(when.clone(), &base));
    assert!(hit(when.clone(), &Event { sender: Some("x@example.com".into()), ..base.clone() }));
    assert!(!hit(when.clone(), &Event { provider: Provider::AgentMail, ..base.clone() }));
    assert!(!hit(when.clone(), &Event { subject: Some("hello".into()), ..base.clone() }));
    assert!(!hit(when, &Event { sender: Some("x@other.com".into()), ..base }));
}

// ------------------------------------------------------------------ evaluation

#[test]
fn first_enabled_match_wins_and_outcome_is_applied() {
    let mut rs = set(vec![
        Rule {
            name: "off".into(),
            enabled: false,
            when: Conditions::always(),
            then: Outcome { tier: Tier::Low, notify: Some(true), sound: Some("x".into()) },
        },
        Rule {
            name: "VIP".into(),
            enabled: true,
            when: Conditions { sender: strings(&["@vip.io"]), ..c() },
            then: Outcome { tier: Tier::High, notify: Some(true), sound: Some("bell".into()) },
        },
        Rule {
            name: "quiet urgent".into(),
            enabled: true,
            when: Conditions { subject_contains: strings(&["deploy"]), ..c() },
            then: Outcome { tier: Tier::Urgent, notify: Some(false), sound: None },
        },
        rule("rest", Conditions::always(), Tier::Low),
    ]);
    let compiled = rs.compile().unwrap();
    let vip = Event { sender: Some("a@vip.io".into()), subject: Some("deploy".into()), ..ev() };
    assert_eq!(
        compiled.evaluate(&vip),
        Decision { tier: Tier::High, notify: true, sound: Some("bell".into()), rule: Some("VIP".into()) }
    );
    assert_eq!(compiled.matching_rule(&vip), Some("VIP"));
    let deploy = Event { subject: Some("Deploy done".into()), ..ev() };
    assert_eq!(
        compiled.evaluate(&deploy),
        Decision { tier: Tier::Urgent, notify: false, sound: None, rule: Some("quiet urgent".into()) }
    );
    assert_eq!(
        compiled.evaluate(&ev()),
        Decision { tier: Tier::Low, notify: false, sound: None, rule: Some("rest".into()) }
    );
    assert_eq!(compiled.rule_set(), &rs);
    rs.rules.pop();
    assert_eq!(rs.compile().unwrap().evaluate(&ev()), Decision::unmatched());
    assert_eq!(RuleSet::default().compile().unwrap().evaluate(&ev()), Decision::unmatched());
}

#[test]
fn notify_defaults_to_urgent_only() {
    for (tier, notifies) in [(Tier::Low, false), (Tier::Normal, false), (Tier::High, false), (Tier::Urgent, true)] {
        assert_eq!(Outcome::tier(tier).notifies(), notifies);
        let d = set(vec![rule("r", Conditions::always(), tier)]).compile().unwrap().evaluate(&ev());
        assert_eq!(d.notify, notifies);
    }
    assert!(!Outcome { tier: Tier::Urgent, notify: Some(false), sound: None }.notifies());
    assert!(Outcome { tier: Tier::Low, notify: Some(true), sound: None }.notifies());
}

// ------------------------------------------------------------------ validation

#[test]
fn error_message_names_rule_and_field() {
    let rs = set(vec![
        rule("a", Conditions::always(), Tier::Low),
        rule("b", Conditions::always(), Tier::Low),
        rule("VIP senders", Conditions { subject_regex: Some("(re".into()), ..c() }, Tier::Urgent),
    ]);
    let err = rs.validate().unwrap_err();
    assert_eq!(err.to_string(), r#"rule 3 "VIP senders": subject_regex: unclosed group in "(re""#);
    assert!(matches!(err, RuleError::Invalid { index: 3, field: "subject_regex", .. }));
}

#[test]
fn refuses_blank_and_duplicate_names() {
    let rs = set(vec![rule("  ", Conditions::always(), Tier::Low)]);
    let e = rs.validate().unwrap_err();
    assert_eq!(field_of(&e), "name");
    assert!(e.to_string().contains("needs a name"), "{e}");
    let rs = set(vec![
        rule("VIP", Conditions::always(), Tier::Low),
        rule("other", Conditions::always(), Tier::Low),
        rule(" vip ", Conditions::always(), Tier::Low),
    ]);
    let e = rs.validate().unwrap_err();
    assert_eq!(e.to_string(), r#"rule 3 " vip ": name: the name is already used by rule 1"#);
}

#[test]
fn refuses_rules_without_conditions_unless_always() {
    let e = problem(c());
    assert_eq!(field_of(&e), "when");
    assert!(e.to_string().contains("always = true"), "{e}");
    let e = problem(Conditions { always: true, kind: vec![EventKind::Gap], ..c() });
    assert_eq!(field_of(&e), "always");
    // Disabled rules are checked too.
    let rs = set(vec![Rule { enabled: false, ..rule("r", c(), Tier::Low) }]);
    assert_eq!(field_of(&rs.validate().unwrap_err()), "when");
}

#[test]
fn refuses_bad_regexes() {
    let e = problem(Conditions { subject_regex: Some("[a-".into()), ..c() });
    assert_eq!(field_of(&e), "subject_regex");
    assert!(!e.to_string().contains('\n'), "one line: {e}");
    let e = problem(Conditions { text_regex: Some("a{2,1}".into()), ..c() });
    assert_eq!(field_of(&e), "text_regex");
    let e = problem(Conditions { text_regex: Some(String::new()), ..c() });
    assert_eq!(field_of(&e), "text_regex");
    assert!(e.to_string().contains("empty regular expression"), "{e}");
}

#[test]
fn refuses_bad_topic_patterns() {
    for (pattern, says) in [
        ("a..b", "empty token"),
        (".a", "empty token"),
        ("a.", "empty token"),
        ("a.>.b", "last token"),
        ("orders*", "whole token"),
        ("a.b>", "whole token"),
        ("a b", "space"),
        ("", "empty topic pattern"),
    ] {
        let e = problem(Conditions { topic: strings(&[pattern]), ..c() });
        assert_eq!(field_of(&e), "topic");
        assert!(e.to_string().contains(says), "{pattern:?}: {e}");
    }
}

#[test]
fn refuses_bad_sender_patterns() {
    for (entry, says) in [
        ("", "empty sender"),
        ("Ada <ada@x.io>", "not a single address"),
        ("a@x.io, b@x.io", "not a single address"),
        ("@", "no domain"),
        ("@*.x.io", "no `@` or wildcards"),
        ("@x@y.io", "no `@` or wildcards"),
        ("@x..io", "not a domain"),
        ("a@b@c.io", "more than one `@`"),
        ("ada@", "not a complete address"),
        ("@@", "no `@` or wildcards"),
    ] {
        let e = problem(Conditions { sender: strings(&[entry]), ..c() });
        assert_eq!(field_of(&e), "sender");
        assert!(e.to_string().contains(says), "{entry:?}: {e}");
    }
}

#[test]
fn refuses_blank_list_entries() {
    let cases: Vec<(Conditions, &str)> = vec![
        (Conditions { account: strings(&[""]), ..c() }, "account"),
        (Conditions { inbox: strings(&[" "]), ..c() }, "inbox"),
        (Conditions { subject_contains: strings(&["x", ""]), ..c() }, "subject_contains"),
        (Conditions { text_contains: strings(&["\t"]), ..c() }, "text_contains"),
        (Conditions { labels: strings(&[""]), ..c() }, "labels"),
        (Conditions { priority: strings(&[""]), ..c() }, "priority"),
        (Conditions { provider_type: strings(&[""]), ..c() }, "provider_type"),
    ];
    for (when, field) in cases {
        let e = problem(when);
        assert_eq!(field_of(&e), field);
        assert!(e.to_string().contains("empty"), "{e}");
    }
    let e = problem(Conditions { provider_type: strings(&["message received"]), ..c() });
    assert_eq!(field_of(&e), "provider_type");
}

#[test]
fn refuses_bad_sounds() {
    let with = |then: Outcome| set(vec![Rule { then, ..rule("r", Conditions::always(), Tier::Low) }]);
    let e = with(Outcome { tier: Tier::Urgent, notify: None, sound: Some(" ".into()) }).validate().unwrap_err();
    assert_eq!(field_of(&e), "sound");
    let e = with(Outcome { tier: Tier::Urgent, notify: Some(false), sound: Some("bell".into()) })
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("notify = false"), "{e}");
    let e = with(Outcome { tier: Tier::High, notify: None, sound: Some("bell".into()) }).validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"rule 1 "r": sound: a silent rule cannot play a sound: a high rule does not notify unless it says `notify = true`"#
    );
    with(Outcome { tier: Tier::High, notify: Some(true), sound: Some("bell".into()) }).validate().unwrap();
    with(Outcome { tier: Tier::Urgent, notify: None, sound: Some("bell".into()) }).validate().unwrap();
}

#[test]
fn problems_lists_everything() {
    let rs = set(vec![
        rule("", Conditions { subject_regex: Some("(".into()), sender: strings(&["@"]), ..c() }, Tier::Low),
        rule("ok", Conditions::always(), Tier::Low),
        rule("ok", c(), Tier::Low),
    ]);
    let fields: Vec<_> = rs.problems().iter().map(|e| field_of(e)).collect();
    assert_eq!(fields, ["name", "sender", "subject_regex", "name", "when"]);
}

// ------------------------------------------------------------------ TOML

#[test]
fn toml_example_from_the_docs_loads() {
    let text = r#"
        [[rules]]
        name = "VIP senders"
        when = { sender = ["@bigcustomer.com", "ceo@example.com"], kind = ["message_received"] }
        then = { tier = "urgent", sound = "bell" }

        [[rules]]
        name = "Build bots"
        enabled = false
        when = { provider = ["bivariant"], topic = ["ci.*.failed", "deploy.>"] }
        then = { tier = "high", notify = true }

        [[rules]]
        name = "Everything else"
        when = { always = true }
        then = { tier = "normal" }
    "#;
    let rs = RuleSet::from_toml(text).unwrap();
    assert_eq!(rs.rules.len(), 3);
    assert!(rs.rules[0].enabled && !rs.rules[1].enabled);
    assert_eq!(rs.rules[0].then, Outcome { tier: Tier::Urgent, notify: None, sound: Some("bell".into()) });
    assert_eq!(rs.rules[1].when.provider, vec![Provider::Bivariant]);
    let compiled = rs.compile().unwrap();
    let e = Event { sender: Some("CFO <cfo@eu.bigcustomer.com>".into()), ..ev() };
    assert_eq!(compiled.evaluate(&e).rule.as_deref(), Some("VIP senders"));
    let e = Event { provider: Provider::Bivariant, topic: Some("ci.main.failed".into()), ..ev() };
    assert_eq!(compiled.evaluate(&e).rule.as_deref(), Some("Everything else"), "disabled rule skipped");
    assert_eq!(RuleSet::from_toml("").unwrap(), RuleSet::default());
}

#[test]
fn defaults_round_trip_through_toml() {
    let text = RuleSet::defaults().to_toml().unwrap();
    assert!(text.starts_with("# Tocsin urgency rules."), "{text}");
    assert!(text.contains("[[rules]]"), "{text}");
    assert_eq!(RuleSet::from_toml(&text).unwrap(), RuleSet::defaults());
}

#[test]
fn from_toml_refuses_bad_input_with_a_message() {
    let e = RuleSet::from_toml("[[rules]]\nname = \"x\"\nwhen = { subjet_contains = [\"a\"] }\nthen = { tier = \"high\" }")
        .unwrap_err();
    assert!(matches!(e, RuleError::Toml(_)));
    assert!(e.to_string().contains("subjet_contains"), "{e}");
    let e = RuleSet::from_toml("[[rules]]\nname = \"x\"\nwhen = { always = true }\nthen = { tier = \"URGENT\" }")
        .unwrap_err();
    assert!(e.to_string().contains("URGENT"), "{e}");
    let e = RuleSet::from_toml("[[rules]]\nname = \"x\"\nwhen = { always = true }\n").unwrap_err();
    assert!(e.to_string().contains("then"), "{e}");
    let e = RuleSet::from_toml("[[rules]]\nname = \"x\"\nthen = { tier = \"low\" }").unwrap_err();
    assert_eq!(e.to_string(), r#"rule 1 "x": when: the rule has no conditions; add one, or set `always = true` to match every event"#);
    let e = RuleSet::from_toml("rules = 3").unwrap_err();
    assert!(matches!(e, RuleError::Toml(_)));
    let e = RuleSet::from_toml("[[rules]]\nname = \"x\"\nwhen = { kind = [\"no_such_kind\"] }\nthen = { tier = \"low\" }")
        .unwrap_err();
    assert!(e.to_string().contains("no_such_kind"), "{e}");
}

// ------------------------------------------------------------------ matchers

#[test]
fn fold_keeps_look_alikes_apart() {
    assert_eq!(fold("ÉCHEC Ünï"), "échec ünï");
    assert_eq!(fold("\u{212A}"), "\u{212A}");
    assert_eq!(fold("İ"), "İ");
    assert_eq!(fold("ABC-xyz"), "abc-xyz");
}

#[test]
fn sender_address_extraction() {
    assert_eq!(sender_address("Ada <ada@x.io>"), "ada@x.io");
    assert_eq!(sender_address(" ada@x.io "), "ada@x.io");
    assert_eq!(sender_address("<mailto:a@b.c>"), "a@b.c");
    assert_eq!(sender_address("Weird <>"), "Weird <>");
    assert_eq!(sender_address("user_1"), "user_1");
}

// ------------------------------------------------------------------ property tests

const KINDS: [EventKind; 23] = [
    EventKind::MessageReceived,
    EventKind::MessageSent,
    EventKind::MessageDelivered,
    EventKind::MessageBounced,
    EventKind::MessageComplained,
    EventKind::MessageRejected,
    EventKind::MessageOpened,
    EventKind::MessageRead,
    EventKind::MessageUpdated,
    EventKind::MessageDeleted,
    EventKind::StreamChunk,
    EventKind::StreamEnd,
    EventKind::Typing,
    EventKind::Presence,
    EventKind::ConversationChanged,
    EventKind::TaskUpdated,
    EventKind::Notification,
    EventKind::AccountChanged,
    EventKind::Calendar,
    EventKind::SecurityVerdict,
    EventKind::TranscriptUpdated,
    EventKind::Gap,
    EventKind::Other,
];

const PROVIDERS: [Provider; 5] =
    [Provider::Daimon, Provider::AgentMail, Provider::Divinci, Provider::Prismer, Provider::Bivariant];
const TIERS: [Tier; 4] = [Tier::Low, Tier::Normal, Tier::High, Tier::Urgent];

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(items).prop_map(str::to_string)
}

/// A string mixing words the rules look for, case variants, look-alikes and noise.
fn words(vocab: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(pick(vocab), 0..4).prop_map(|w| w.concat()),
        1 => any::<String>(),
    ]
}

const SUBJECT_WORDS: &[&str] = &[
    "[URGENT]", "[urgent]", "[Urgent]", "[URGEN", "T]", "urgent", " ", "re: ", "[uRgEnT]", "\u{212A}", "İ", "é", "Ü",
    "invoice", "Outage", "x",
];
const LABELS: &[&str] = &[
    "priority", "PRIORITY", "Priority", "prİority", "mention", "MENTION", "spam", "Spam", "blocked", "bloc\u{212A}ed",
    "trash", "TRASH", "vip", "inbox", "", " spam",
];
const PRIORITIES: &[&str] = &["urgent", "URGENT", "Urgent", "high", "HIGH", "normal", "low", " urgent", "ürgent", ""];
const PROVIDER_TYPES: &[&str] = &[
    "message.received", "message.received.spam", "message.received.blocked", "message.received.unauthenticated",
    "message.received.SPAM", "x.spam", ".spam", "spam", "blocked", "message.bounced", "message.complaint",
    "typing", "presence", "task.1", "message.received.spam.x", "",
];
const SENDERS: &[&str] = &[
    "ada@example.com", "Ada <ADA@mail.example.com>", "bob@other.org", "user_1", "alerts-1@eu.pagerduty.com", "",
];
const TOPICS: &[&str] = &["ci.main.failed", "deploy.prod", "deploy", "a.b", "orders.eu.new", ""];
const TEXTS: &[&str] = &["disk full", "Disk FULL on db1", "got 503", "hello", ""];
const INBOXES: &[&str] = &["support@example.com", "SUPPORT@example.com", "sales@example.com"];
const ACCOUNTS: &[&str] = &["work", "home", "ops"];

fn arb_event() -> impl Strategy<Value = Event> {
    (
        (prop::sample::select(&PROVIDERS[..]), pick(ACCOUNTS), prop::sample::select(&KINDS[..])),
        prop_oneof![3 => pick(PROVIDER_TYPES), 1 => any::<String>()],
        prop::option::of(words(SUBJECT_WORDS)),
        prop::collection::vec(prop_oneof![4 => pick(LABELS), 1 => any::<String>()], 0..4),
        prop::option::of(prop_oneof![4 => pick(PRIORITIES), 1 => any::<String>()]),
        prop::option::of(pick(SENDERS)),
        prop::option::of(pick(TOPICS)),
        prop::option::of(words(TEXTS)),
        prop::option::of(pick(INBOXES)),
    )
        .prop_map(|((provider, account, kind), provider_type, subject, labels, priority, sender, topic, text, inbox)| {
            Event {
                provider,
                account,
                kind,
                provider_type,
                subject,
                labels,
                priority,
                sender,
                topic,
                text,
                inbox,
                ..ev()
            }
        })
}

fn some_of<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = Vec<T>> {
    prop_oneof![7 => Just(Vec::new()), 1 => prop::collection::vec(prop::sample::select(items), 1..3)]
}

fn some_strings(items: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    some_of(items).prop_map(|v| v.into_iter().map(str::to_string).collect())
}

const RULE_SENDERS: &[&str] = &["ada@example.com", "@example.com", "*@*.pagerduty.com", "user_1", "BOB@other.org"];
const RULE_TOPICS: &[&str] = &["ci.*.failed", "deploy.>", "a.b", ">", "*"];
const RULE_TYPES: &[&str] = &["message.received", "*.spam", "message.received.*", "task.?", "typing"];
const RULE_REGEXES: &[&str] = &[r"^\[", r"(?i)outage", r"\d{3}", "full$", "é"];
const RULE_WORDS: &[&str] = &["[urgent]", "invoice", "disk", "503", "É"];
const RULE_LABELS: &[&str] = &["priority", "VIP", "spam", "mention"];
const RULE_PRIORITIES: &[&str] = &["urgent", "High", "low"];

/// Arbitrary valid conditions (an empty draw becomes the catch-all).
fn arb_conditions() -> impl Strategy<Value = Conditions> {
    (
        (some_of(&PROVIDERS[..]), some_strings(ACCOUNTS), some_strings(INBOXES), some_strings(RULE_TOPICS)),
        (some_of(&KINDS[..]), some_strings(RULE_SENDERS), some_strings(RULE_WORDS), some_strings(RULE_WORDS)),
        (
            prop::option::weighted(0.1, pick(RULE_REGEXES)),
            prop::option::weighted(0.1, pick(RULE_REGEXES)),
            some_strings(RULE_LABELS),
            some_strings(RULE_PRIORITIES),
            some_strings(RULE_TYPES),
        ),
    )
        .prop_map(
            |(
                (provider, account, inbox, topic),
                (kind, sender, subject_contains, text_contains),
                (subject_regex, text_regex, labels, priority, provider_type),
            )| {
                let mut c = Conditions {
                    always: false,
                    provider,
                    account,
                    inbox,
                    topic,
                    kind,
                    sender,
                    subject_contains,
                    subject_regex,
                    text_contains,
                    text_regex,
                    labels,
                    priority,
                    provider_type,
                };
                if c.is_empty() {
                    c.always = true;
                }
                c
            },
        )
}

fn arb_outcome() -> impl Strategy<Value = Outcome> {
    (prop::sample::select(&TIERS[..]), prop::option::of(any::<bool>()), prop::option::of("[a-z]{1,6}")).prop_map(
        |(tier, notify, sound)| {
            let mut o = Outcome { tier, notify, sound };
            if !o.notifies() {
                o.sound = None;
            }
            o
        },
    )
}

/// A rule named `r{index} …` (so names in a set are unique).
fn arb_rule(index: usize) -> impl Strategy<Value = Rule> {
    ("[A-Za-z ]{0,8}", prop::bool::weighted(0.8), arb_conditions(), arb_outcome()).prop_map(
        move |(suffix, enabled, when, then)| Rule { name: format!("r{index} {suffix}"), enabled, when, then },
    )
}

fn arb_rule_set() -> impl Strategy<Value = RuleSet> {
    (0usize..8)
        .prop_flat_map(|n| (0..n).map(arb_rule).collect::<Vec<_>>())
        .prop_map(|rules| RuleSet { rules })
}

/// Translates a glob to an anchored regex: the oracle for the glob matcher.
fn glob_regex(p: &str) -> Regex {
    let mut re = String::from("(?s)^");
    for ch in p.chars() {
        match ch {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn defaults_agree_with_the_hand_written_default_tier(event in arb_event()) {
        prop_assert_eq!(default_tier(&event), reference_default_tier(&event));
        let d = CompiledRuleSet::defaults().evaluate(&event);
        let chat = matches!(d.rule.as_deref(), Some("Mentions" | "Direct messages"));
        prop_assert_eq!(d.notify, d.tier == Tier::Urgent || chat);
        prop_assert_eq!(d.sound, None);
    }

    #[test]
    fn generated_rule_sets_are_valid(rs in arb_rule_set()) {
        prop_assert_eq!(rs.problems(), vec![]);
    }

    #[test]
    fn evaluation_is_deterministic(rs in arb_rule_set(), event in arb_event()) {
        let a = rs.compile().unwrap();
        let b = rs.compile().unwrap();
        let first = a.evaluate(&event);
        prop_assert_eq!(&first, &a.evaluate(&event));
        prop_assert_eq!(&first, &b.evaluate(&event));
        prop_assert_eq!(first.rule.as_deref(), a.matching_rule(&event));
    }

    #[test]
    fn the_decision_is_the_outcome_of_the_named_enabled_rule(rs in arb_rule_set(), event in arb_event()) {
        let d = rs.compile().unwrap().evaluate(&event);
        match &d.rule {
            None => prop_assert_eq!(&d, &Decision::unmatched()),
            Some(name) => {
                let rule = rs.rules.iter().find(|r| &r.name == name).unwrap();
                prop_assert!(rule.enabled);
                prop_assert_eq!(d.tier, rule.then.tier);
                prop_assert_eq!(d.notify, rule.then.notifies());
                prop_assert_eq!(&d.sound, &rule.then.sound);
                prop_assert!(d.sound.is_none() || d.notify);
            }
        }
    }

    #[test]
    fn disabled_rules_never_decide(rs in arb_rule_set(), event in arb_event()) {
        let d = rs.compile().unwrap().evaluate(&event);
        let disabled: Vec<&str> = rs.rules.iter().filter(|r| !r.enabled).map(|r| r.name.as_str()).collect();
        prop_assert!(d.rule.as_deref().is_none_or(|n| !disabled.contains(&n)));
        // Removing the disabled rules changes nothing.
        let enabled_only = RuleSet { rules: rs.rules.iter().filter(|r| r.enabled).cloned().collect() };
        prop_assert_eq!(&d, &enabled_only.compile().unwrap().evaluate(&event));
        // Disabling every rule leaves nothing to decide.
        let mut off = rs.clone();
        off.rules.iter_mut().for_each(|r| r.enabled = false);
        prop_assert_eq!(off.compile().unwrap().evaluate(&event), Decision::unmatched());
    }

    #[test]
    fn appending_a_rule_keeps_earlier_decisions(
        rs in arb_rule_set(),
        extra in arb_rule(100),
        event in arb_event(),
    ) {
        let before = rs.compile().unwrap().evaluate(&event);
        let mut longer = rs.clone();
        longer.rules.push(extra.clone());
        let after = longer.compile().unwrap().evaluate(&event);
        if before.rule.is_some() {
            prop_assert_eq!(after, before);
        } else {
            prop_assert!(after.rule.is_none() || after.rule == Some(extra.name));
        }
    }

    #[test]
    fn a_final_catch_all_always_decides(rs in arb_rule_set(), then in arb_outcome(), event in arb_event()) {
        let mut rs = rs;
        rs.rules.push(Rule { name: "catch-all".into(), enabled: true, when: Conditions::always(), then });
        let d = rs.compile().unwrap().evaluate(&event);
        prop_assert!(d.rule.is_some());
    }

    #[test]
    fn toml_and_json_round_trips_preserve_the_rule_set(rs in arb_rule_set()) {
        let text = rs.to_toml().unwrap();
        prop_assert_eq!(&RuleSet::from_toml(&text).unwrap(), &rs, "TOML:\n{}", text);
        let json = serde_json::to_string(&rs).unwrap();
        prop_assert_eq!(&serde_json::from_str::<RuleSet>(&json).unwrap(), &rs);
    }

    #[test]
    fn glob_matches_like_its_regex(p in "[ab*?.]{0,8}", t in "[ab.]{0,10}") {
        prop_assert_eq!(Glob::new(&p).matches(&t), glob_regex(&p).is_match(&t), "pattern {:?} text {:?}", p, t);
    }

    #[test]
    fn topic_patterns_made_from_a_topic_match_it(
        tokens in prop::collection::vec("[a-z0-9_-]{1,4}", 1..6),
        wild in prop::collection::vec(any::<bool>(), 6),
        rest in any::<bool>(),
        cut in 0usize..6,
    ) {
        let topic = tokens.join(".");
        let mut pattern: Vec<String> = tokens
            .iter()
            .zip(&wild)
            .map(|(t, &w)| if w { "*".to_string() } else { t.clone() })
            .collect();
        if rest {
            pattern.truncate(cut.min(tokens.len() - 1));
            pattern.push(">".into());
        }
        let p = TopicPattern::parse(&pattern.join(".")).unwrap();
        prop_assert!(p.matches(&topic), "{} should match {}", pattern.join("."), topic);
        // A literal pattern matches its own topic and nothing longer or shorter.
        let literal = TopicPattern::parse(&topic).unwrap();
        prop_assert!(literal.matches(&topic));
        let longer = format!("{topic}.x");
        prop_assert!(!literal.matches(&longer));
        if tokens.len() > 1 {
            prop_assert!(!literal.matches(&tokens[..tokens.len() - 1].join(".")));
        }
    }

    #[test]
    fn fold_agrees_with_ascii_lowercase_on_ascii_needles(s in any::<String>(), n in "[A-Za-z\\[\\]]{1,8}") {
        prop_assert_eq!(
            fold(&s).contains(&fold(&n)),
            s.to_ascii_lowercase().contains(&n.to_ascii_lowercase())
        );
    }
}
