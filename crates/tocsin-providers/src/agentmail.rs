//! AgentMail (PROTOCOLS.md section 2, verified from the SDK source).
//!
//! - URL `wss://ws.agentmail.to/v0`; auth by `Authorization: Bearer <key>`, or the
//!   key in the query as `api_key` (the SDKs) or `auth_token` (the Fern definition).
//!   A 401 at the upgrade means the key is wrong.
//! - One client frame: `{"type":"subscribe","inbox_ids":[..],"pod_ids":[..],"event_types":[..]}`;
//!   lists are omitted when empty (an empty list matches nothing). Re-sent on every open.
//! - Server frames: `subscribed`, `error` (`name`, `message`), and `event` with the
//!   dotted `event_type`; the payload sits under a key per type (`message`, `send`,
//!   `delivery`, `bounce`, `complaint`, `reject`, `open`, `domain`, `calendar_event`).
//!   The seed's Fern channel ids (`message_received`, ...) are accepted as `type` too.
//! - No app-level ping and no replay: the client pings every 30 s; what was missed
//!   (while disconnected, or while Tocsin was stopped) is fetched over REST from a
//!   minute before the last time the account was known connected, every page
//!   (`next_page_token`), for every configured inbox or, with none configured, every
//!   inbox the key lists (`GET /v0/inboxes`).

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_model::{Attachment, Event, EventKind, Provider};
use tocsin_secrets::Sensitive;

use crate::json::{str_at, string_at, strings_at};
use crate::time::parse_rfc3339_ms;
use crate::{
    fingerprint, with_query, Adapter, AuthMode, CatchUp, CatchUpError, CatchUpFrom, CatchUpPage, ConnectPlan, Control,
    DecodeError, Heartbeat, Inbound, Session, Subscriptions,
};

/// The AgentMail adapter for one account.
#[derive(Debug, Clone)]
pub struct AgentMail {
    url: String,
    auth: AuthMode,
    query_param: String,
    subscriptions: Subscriptions,
}

impl AgentMail {
    /// `query_param` is `api_key` (default) or `auth_token`.
    pub fn new(url: &str, auth: AuthMode, query_param: Option<&str>, subscriptions: Subscriptions) -> Self {
        AgentMail {
            url: url.to_owned(),
            auth,
            query_param: query_param.unwrap_or("api_key").to_owned(),
            subscriptions,
        }
    }
}

/// The subscribe frame; empty lists are left out (an empty list would match nothing).
pub fn encode_subscribe(s: &Subscriptions) -> String {
    let mut frame = json!({"type": "subscribe"});
    if !s.inboxes.is_empty() {
        frame["inbox_ids"] = json!(s.inboxes);
    }
    if !s.pods.is_empty() {
        frame["pod_ids"] = json!(s.pods);
    }
    if !s.event_types.is_empty() {
        frame["event_types"] = json!(s.event_types);
    }
    frame.to_string()
}

impl Adapter for AgentMail {
    fn provider(&self) -> Provider {
        Provider::AgentMail
    }

    fn connect_plan(&self, key: &Sensitive<String>, _resume: Option<&str>) -> ConnectPlan {
        let mut url = self.url.clone();
        let mut headers = Vec::new();
        // The parameter name comes from the config (`auth_param`), so the log URL is
        // built with the key left out rather than by redacting names known to be
        // secret: a name outside that list must not put the key in the logs.
        let mut log_url = tocsin_secrets::redact_url(&url);
        match self.auth {
            AuthMode::Query => {
                url = with_query(&url, &self.query_param, key.expose());
                let sep = if log_url.contains('?') { '&' } else { '?' };
                log_url = format!("{log_url}{sep}{}=<redacted>", self.query_param);
            }
            _ => headers.push(("Authorization".to_owned(), Sensitive::new(format!("Bearer {}", key.expose())))),
        }
        ConnectPlan { log_url, url: Sensitive::new(url), headers }
    }

    fn on_open(&self, _resume: Option<&str>) -> Vec<String> {
        vec![encode_subscribe(&self.subscriptions)]
    }

    fn expects_subscribe_ack(&self) -> bool {
        true
    }

    fn decode_in(&self, session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
        decode(&session.account, text, received_at_ms)
    }

    fn command(&self, command: &crate::Command, _request_id: &str) -> Result<crate::CommandPlan, String> {
        let enc = |s: &str| crate::percent_encode(s);
        match command {
            crate::Command::MarkRead { message_id: Some(m), inbox: Some(i), .. } => Ok(crate::CommandPlan::Rest {
                method: "PATCH",
                path: format!("/v0/inboxes/{}/messages/{}", enc(i), enc(m)),
                body: json!({"add_labels": ["read"], "remove_labels": ["unread"]}),
            }),
            crate::Command::Reply { message_id: Some(m), inbox: Some(i), text, .. } => Ok(crate::CommandPlan::Rest {
                method: "POST",
                path: format!("/v0/inboxes/{}/messages/{}/reply", enc(i), enc(m)),
                body: json!({"text": text}),
            }),
            _ => Err("this event has no message to act on".into()),
        }
    }

    fn catch_up(&self) -> CatchUp {
        CatchUp::Fetch
    }

    fn catch_up_start(&self, from: &CatchUpFrom) -> Vec<String> {
        // A new account has nothing to catch up on.
        let Some(since) = from.since_ms else { return Vec::new() };
        if self.subscriptions.inboxes.is_empty() {
            // Every inbox the key can see.
            return vec![format!("{INBOXES}?limit={PAGE}")];
        }
        self.subscriptions.inboxes.iter().map(|i| messages_path(i, since)).collect()
    }

    fn decode_catch_up(
        &self,
        session: &Session,
        from: &CatchUpFrom,
        path: &str,
        body: &[u8],
        received_at_ms: i64,
    ) -> Result<CatchUpPage, CatchUpError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| DecodeError(format!("the AgentMail listing is not JSON ({e})")))?;
        let token = string_at(&v, &["next_page_token"]).filter(|t| !t.is_empty());
        let with_token = |t: &str| {
            let base = path.split("&page_token=").next().unwrap_or(path);
            format!("{base}&page_token={}", crate::percent_encode(t))
        };
        if path.starts_with(INBOXES) && !path.contains("/messages") {
            let inboxes = v.get("inboxes").and_then(Value::as_array).ok_or_else(|| DecodeError("no \"inboxes\" in the inbox list".into()))?;
            let since = from.since_ms.unwrap_or(0);
            let mut next: Vec<String> =
                inboxes.iter().filter_map(|i| string_at(i, &["inbox_id"])).map(|i| messages_path(&i, since)).collect();
            next.extend(token.as_deref().map(with_token));
            return Ok(CatchUpPage { events: Vec::new(), next, cursor: None });
        }
        let messages = v.get("messages").and_then(Value::as_array).ok_or_else(|| DecodeError("no \"messages\" in the list".into()))?;
        let events = messages
            .iter()
            .map(|m| {
                let frame = json!({"type": "event", "event_type": "message.received", "message": m, "source": "rest_backfill"});
                let mut e = decode_event(&session.account, "message.received", &frame, &frame.to_string(), received_at_ms);
                e.replayed = true;
                e
            })
            .collect();
        Ok(CatchUpPage { events, next: token.as_deref().map(with_token).into_iter().collect(), cursor: None })
    }

    fn heartbeat(&self) -> Heartbeat {
        // The server's ping interval is unknown: ping every 30 s, and a missing pong
        // within the next 30 s means the connection is dead.
        Heartbeat { ping_every: Duration::from_secs(30), dead_after: Duration::from_secs(60) }
    }
}

/// The inbox list (`{"inboxes":[{"inbox_id"..}],"next_page_token"}`).
const INBOXES: &str = "/v0/inboxes";
/// Items per listing page (the API's maximum is not documented; 100 is accepted).
const PAGE: u32 = 100;

/// An inbox's messages after `since_ms`, oldest first.
fn messages_path(inbox: &str, since_ms: i64) -> String {
    let after = crate::percent_encode(&crate::time::format_rfc3339_ms(since_ms));
    format!("{INBOXES}/{}/messages?after={after}&ascending=true&limit={PAGE}", crate::percent_encode(inbox))
}

/// Maps a Fern channel id (`message_received`) to its wire event type (`message.received`).
fn fern_alias(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "message_received" => "message.received",
        "message_sent" => "message.sent",
        "message_delivered" => "message.delivered",
        "message_bounced" => "message.bounced",
        "message_complained" => "message.complained",
        "message_rejected" => "message.rejected",
        "message_opened" => "message.opened",
        "domain_verified" => "domain.verified",
        _ => return None,
    })
}

/// Decodes one AgentMail server frame.
pub fn decode(account: &str, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError> {
    let frame: Value =
        serde_json::from_str(text).map_err(|e| DecodeError(format!("AgentMail frame is not JSON ({e})")))?;
    let Some(ty) = str_at(&frame, "type") else {
        return Err(DecodeError("AgentMail frame has no \"type\"".into()));
    };
    let event_type = match ty {
        "subscribed" => return Ok(Inbound::Control(Control::Subscribed)),
        "error" => {
            let name = string_at(&frame, &["name"]);
            let message = string_at(&frame, &["message"]).unwrap_or_else(|| "unknown error".into());
            let fatal = matches!(name.as_deref(), Some("UnauthorizedError" | "ForbiddenError"));
            return Ok(Inbound::Control(Control::ServerError { code: name, message, fatal }));
        }
        "event" => str_at(&frame, "event_type")
            .ok_or_else(|| DecodeError("AgentMail event frame has no \"event_type\"".into()))?
            .to_owned(),
        other => match fern_alias(other) {
            Some(t) => t.to_owned(),
            None if other.contains('.') => other.to_owned(),
            None => return Err(DecodeError(format!("unhandled AgentMail frame type \"{other}\""))),
        },
    };
    Ok(Inbound::Event(Box::new(decode_event(account, &event_type, &frame, text, received_at_ms))))
}

fn kind_of(event_type: &str) -> EventKind {
    match event_type {
        "message.received" | "message.received.spam" | "message.received.blocked" | "message.received.unauthenticated" => {
            EventKind::MessageReceived
        }
        "message.sent" => EventKind::MessageSent,
        "message.delivered" => EventKind::MessageDelivered,
        "message.bounced" => EventKind::MessageBounced,
        "message.complained" => EventKind::MessageComplained,
        "message.rejected" => EventKind::MessageRejected,
        "message.opened" => EventKind::MessageOpened,
        "domain.verified" => EventKind::AccountChanged,
        t if t.starts_with("message.security.") => EventKind::SecurityVerdict,
        t if t.starts_with("calendar.event.") => EventKind::Calendar,
        _ => EventKind::Other,
    }
}

fn decode_event(account: &str, event_type: &str, frame: &Value, text: &str, received_at_ms: i64) -> Event {
    let kind = kind_of(event_type);
    let event_id = string_at(frame, &["event_id"]);
    // Received mail dedupes on (inbox, message id), which the WebSocket event and a
    // REST backfill of the same message share; everything else on the event id.
    let received_message = kind == EventKind::MessageReceived;
    let msg_key = frame.get("message").and_then(|m| Some((string_at(m, &["inbox_id"])?, string_at(m, &["message_id"])?)));
    let dedupe_key = match (&event_id, msg_key) {
        (_, Some((inbox, message))) if received_message => format!("agentmail:msg:{inbox}:{message}"),
        (Some(id), _) => format!("agentmail:{id}"),
        (None, _) => format!("agentmail:fp:{}", fingerprint(text)),
    };
    let payload_key = ["message", "send", "delivery", "bounce", "complaint", "reject", "open", "domain", "calendar_event"]
        .into_iter()
        .find(|k| frame.get(*k).is_some_and(Value::is_object));
    let payload = payload_key.and_then(|k| frame.get(k)).cloned().unwrap_or(Value::Null);
    let mut labels = strings_at(&payload, "labels");
    for variant in ["spam", "blocked", "unauthenticated"] {
        if event_type.ends_with(&format!(".{variant}")) && !labels.iter().any(|l| l == variant) {
            labels.push(variant.to_owned());
        }
    }
    let recipients: Vec<String> = match payload.get("recipients") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned).or_else(|| string_at(r, &["address"])))
            .collect(),
        _ => Vec::new(),
    };
    let mut event = Event {
        dedupe_key,
        provider: Provider::AgentMail,
        account: account.to_owned(),
        kind,
        provider_type: event_type.to_owned(),
        provider_event_id: event_id,
        occurred_at_ms: string_at(&payload, &["timestamp", "created_at", "updated_at"])
            .as_deref()
            .and_then(parse_rfc3339_ms),
        received_at_ms,
        inbox: string_at(&payload, &["inbox_id"]).or_else(|| string_at(frame, &["inbox_id"])),
        thread: string_at(&payload, &["thread_id"]),
        message_id: string_at(&payload, &["message_id"]),
        sender: None,
        subject: None,
        text: None,
        html: None,
        labels,
        attachments: Vec::new(),
        replayed: false,
        ack: None,
        priority: None,
        topic: None,
        raw: frame.clone(),
    };
    match payload_key {
        Some("message") if kind == EventKind::MessageReceived || kind == EventKind::Other => {
            event.sender = string_at(&payload, &["from"]);
            event.subject = string_at(&payload, &["subject"]);
            event.text = string_at(&payload, &["text", "extracted_text", "preview"]);
            event.html = string_at(&payload, &["html", "extracted_html"]);
            event.attachments = payload
                .get("attachments")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| Attachment {
                            id: string_at(x, &["attachment_id", "id"]),
                            filename: string_at(x, &["filename"]),
                            content_type: string_at(x, &["content_type"]),
                            size: x.get("size").and_then(Value::as_u64),
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        Some("message") => {
            // message.security.*: a verdict about a message.
            let verdict = payload.get("agent_armor").or_else(|| payload.get("manual_override"));
            event.text = Some(match event_type {
                "message.security.review" => "A message is held for security review".to_owned(),
                "message.security.override" => "A security verdict was overridden".to_owned(),
                _ => "Security check completed".to_owned(),
            });
            if let Some(v) = verdict {
                event.subject = string_at(v, &["verdict", "status", "decision"]).map(|v| format!("Security: {v}"));
            }
        }
        Some("bounce") => {
            event.sender = recipients.first().cloned();
            event.text = Some(format!(
                "Delivery to {} failed{}",
                if recipients.is_empty() { "a recipient".into() } else { recipients.join(", ") },
                string_at(&payload, &["type"]).map(|t| format!(" ({t})")).unwrap_or_default()
            ));
        }
        Some("complaint") => {
            event.sender = recipients.first().cloned();
            event.text = Some(format!(
                "{} reported a message as spam",
                if recipients.is_empty() { "A recipient".into() } else { recipients.join(", ") }
            ));
        }
        Some("reject") => {
            event.text = Some(format!(
                "The message was rejected{}",
                string_at(&payload, &["reason"]).map(|r| format!(": {r}")).unwrap_or_default()
            ))
        }
        Some("send") => event.text = Some(format!("Sent to {}", recipients.join(", "))),
        Some("delivery") => event.text = Some(format!("Delivered to {}", recipients.join(", "))),
        Some("open") => event.text = Some("The message was opened".to_owned()),
        Some("domain") => {
            event.subject = string_at(&payload, &["domain"]).map(|d| format!("Domain {d}"));
            event.text = string_at(&payload, &["status"]).map(|s| format!("Verification status: {s}"));
        }
        Some("calendar_event") => {
            event.subject = string_at(&payload, &["title", "summary"]);
            event.text = string_at(&payload, &["description"]);
        }
        _ => {}
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> Event {
        match decode("mail", text, 1).unwrap() {
            Inbound::Event(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    const RECEIVED: &str = r#"{"type":"event","event_type":"message.received","event_id":"evt_2f9c",
      "message":{"inbox_id":"agent@agentmail.to","thread_id":"thr_1","message_id":"<CAF@mail.gmail.com>",
        "labels":["received","unread"],"timestamp":"2026-03-16T10:30:45Z","from":"Jane Doe <jane@example.com>",
        "to":["agent@agentmail.to"],"subject":"Hello","preview":"Hi there…","text":"Hi there,\nbody",
        "html":"<p>Hi there,</p>","attachments":[{"attachment_id":"att_1","filename":"a.pdf","size":12345,
        "content_type":"application/pdf"}],"size":23456,"updated_at":"2026-03-16T10:30:46Z","created_at":"2026-03-16T10:30:45Z"},
      "thread":{"thread_id":"thr_1","message_count":1}}"#;

    #[test]
    fn decodes_message_received() {
        let e = event(RECEIVED);
        assert_eq!(e.dedupe_key, "agentmail:msg:agent@agentmail.to:<CAF@mail.gmail.com>");
        assert_eq!(e.kind, EventKind::MessageReceived);
        assert_eq!(e.provider_type, "message.received");
        assert_eq!(e.inbox.as_deref(), Some("agent@agentmail.to"));
        assert_eq!(e.thread.as_deref(), Some("thr_1"));
        assert_eq!(e.message_id.as_deref(), Some("<CAF@mail.gmail.com>"));
        assert_eq!(e.sender.as_deref(), Some("Jane Doe <jane@example.com>"));
        assert_eq!(e.subject.as_deref(), Some("Hello"));
        assert_eq!(e.text.as_deref(), Some("Hi there,\nbody"));
        assert_eq!(e.html.as_deref(), Some("<p>Hi there,</p>"));
        assert_eq!(e.labels, ["received", "unread"]);
        assert_eq!(e.attachments[0].id.as_deref(), Some("att_1"));
        assert_eq!(e.occurred_at_ms, Some(1_773_657_045_000));
    }

    #[test]
    fn filtered_variants_carry_their_label() {
        for v in ["spam", "blocked", "unauthenticated"] {
            let t = RECEIVED.replace("\"message.received\"", &format!("\"message.received.{v}\""));
            let e = event(&t);
            assert_eq!(e.kind, EventKind::MessageReceived);
            assert!(e.labels.iter().any(|l| l == v), "{:?}", e.labels);
            assert_eq!(tocsin_model::rules::default_tier(&e), tocsin_model::Tier::Low);
        }
    }

    #[test]
    fn every_documented_event_type_decodes() {
        let cases = [
            (r#"{"type":"event","event_type":"message.sent","event_id":"e","send":{"inbox_id":"i","thread_id":"t","message_id":"m","timestamp":"2026-03-16T10:30:45Z","recipients":["a@b.c"]}}"#, EventKind::MessageSent),
            (r#"{"type":"event","event_type":"message.delivered","event_id":"e","delivery":{"inbox_id":"i","message_id":"m","recipients":["a@b.c"]}}"#, EventKind::MessageDelivered),
            (r#"{"type":"event","event_type":"message.bounced","event_id":"e","bounce":{"inbox_id":"i","message_id":"m","type":"Permanent","sub_type":"General","recipients":[{"address":"x@y.z","status":"5.1.1"}]}}"#, EventKind::MessageBounced),
            (r#"{"type":"event","event_type":"message.complained","event_id":"e","complaint":{"inbox_id":"i","message_id":"m","type":"abuse","recipients":["x@y.z"]}}"#, EventKind::MessageComplained),
            (r#"{"type":"event","event_type":"message.rejected","event_id":"e","reject":{"inbox_id":"i","message_id":"m","reason":"invalid recipient"}}"#, EventKind::MessageRejected),
            (r#"{"type":"event","event_type":"message.opened","event_id":"e","open":{"inbox_id":"i","message_id":"m"}}"#, EventKind::MessageOpened),
            (r#"{"type":"event","event_type":"domain.verified","event_id":"e","domain":{"domain_id":"d","domain":"x.com","status":"verified"}}"#, EventKind::AccountChanged),
            (r#"{"type":"event","event_type":"message.security.review","event_id":"e","message":{"organization_id":"o","inbox_id":"i","message_id":"m","agent_armor":{"verdict":"suspicious"}}}"#, EventKind::SecurityVerdict),
            (r#"{"type":"event","event_type":"calendar.event.created","event_id":"e","inbox_id":"i","calendar_event":{"title":"Standup"}}"#, EventKind::Calendar),
            (r#"{"type":"event","event_type":"brand.new.thing","event_id":"e","x":{}}"#, EventKind::Other),
        ];
        for (text, kind) in cases {
            let e = event(text);
            assert_eq!(e.kind, kind, "{text}");
            assert_eq!(e.raw, serde_json::from_str::<Value>(text).unwrap());
        }
        let b = event(cases[2].0);
        assert_eq!(b.text.as_deref(), Some("Delivery to x@y.z failed (Permanent)"));
        assert_eq!(event(cases[8].0).inbox.as_deref(), Some("i"));
    }

    #[test]
    fn accepts_the_seed_fern_names() {
        let t = RECEIVED.replace(r#""type":"event","event_type":"message.received","#, r#""type":"message_received","#);
        let e = event(&t);
        assert_eq!(e.kind, EventKind::MessageReceived);
        assert_eq!(e.provider_type, "message.received");
    }

    #[test]
    fn control_frames_and_errors() {
        assert_eq!(
            decode("a", r#"{"type":"subscribed","inbox_ids":["x"],"pod_ids":null}"#, 0).unwrap(),
            Inbound::Control(Control::Subscribed)
        );
        let err = decode("a", r#"{"type":"error","name":"ValidationError","message":"inbox not found: foo"}"#, 0).unwrap();
        assert_eq!(
            err,
            Inbound::Control(Control::ServerError {
                code: Some("ValidationError".into()),
                message: "inbox not found: foo".into(),
                fatal: false
            })
        );
        assert!(decode("a", "{}", 0).is_err());
        assert!(decode("a", r#"{"type":"event"}"#, 0).is_err());
        assert!(decode("a", "nope", 0).is_err());
    }

    #[test]
    fn catch_up_lists_each_inbox_follows_pages_and_dedupes_with_live_events() {
        let subs = Subscriptions { inboxes: vec!["agent@agentmail.to".into()], ..Default::default() };
        let a = AgentMail::new("ws://h/v0", AuthMode::Bearer, None, subs);
        assert_eq!(a.catch_up(), CatchUp::Fetch);
        assert!(a.catch_up_start(&CatchUpFrom::default()).is_empty(), "a new account has nothing to catch up");
        let from = CatchUpFrom { cursor: None, since_ms: Some(1_773_657_045_123) };
        let first = a.catch_up_start(&from);
        assert_eq!(first, ["/v0/inboxes/agent%40agentmail.to/messages?after=2026-03-16T10%3A30%3A45.123Z&ascending=true&limit=100"]);
        let live = event(RECEIVED);
        let msg: Value = serde_json::from_str::<Value>(RECEIVED).unwrap()["message"].clone();
        let session = Session::new("mail");
        let body = json!({"count": 1, "messages": [msg], "next_page_token": "tok/2"}).to_string();
        let page = a.decode_catch_up(&session, &from, &first[0], body.as_bytes(), 2).unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].dedupe_key, live.dedupe_key);
        assert!(page.events[0].replayed);
        assert_eq!(page.next, [format!("{}&page_token=tok%2F2", first[0])]);
        // The next page's own token replaces the previous one.
        let last = json!({"count": 0, "messages": [], "next_page_token": "tok3"}).to_string();
        let page = a.decode_catch_up(&session, &from, &page.next[0], last.as_bytes(), 2).unwrap();
        assert_eq!(page.next, [format!("{}&page_token=tok3", first[0])]);
        assert!(a.decode_catch_up(&session, &from, &first[0], b"nope", 0).is_err());
    }

    #[test]
    fn with_no_inbox_configured_every_listed_inbox_is_caught_up() {
        let a = AgentMail::new("ws://h/v0", AuthMode::Bearer, None, Subscriptions::default());
        let from = CatchUpFrom { cursor: Some("evt_1"), since_ms: Some(0) };
        let start = a.catch_up_start(&from);
        assert_eq!(start, ["/v0/inboxes?limit=100"]);
        let body = json!({"count": 2, "inboxes": [{"inbox_id": "a@x.to"}, {"inbox_id": "b@x.to"}], "next_page_token": "p2"});
        let page = a.decode_catch_up(&Session::new("mail"), &from, &start[0], body.to_string().as_bytes(), 0).unwrap();
        assert_eq!(page.next.len(), 3);
        assert!(page.next[0].starts_with("/v0/inboxes/a%40x.to/messages?after=1970-01-01T00%3A00%3A00.000Z"));
        assert!(page.next[1].starts_with("/v0/inboxes/b%40x.to/messages?"));
        assert_eq!(page.next[2], "/v0/inboxes?limit=100&page_token=p2");
    }

    #[test]
    fn subscribe_omits_empty_lists() {
        assert_eq!(encode_subscribe(&Subscriptions::default()), r#"{"type":"subscribe"}"#);
        let s = Subscriptions {
            inboxes: vec!["agent@agentmail.to".into()],
            event_types: vec!["message.received".into()],
            ..Default::default()
        };
        let v: Value = serde_json::from_str(&encode_subscribe(&s)).unwrap();
        assert_eq!(v, json!({"type":"subscribe","inbox_ids":["agent@agentmail.to"],"event_types":["message.received"]}));
    }

    #[test]
    fn auth_modes() {
        let key = Sensitive::from("am_k");
        let a = AgentMail::new("ws://h/v0", AuthMode::Bearer, None, Subscriptions::default());
        assert_eq!(a.connect_plan(&key, None).headers[0].1.expose(), "Bearer am_k");
        let q = AgentMail::new("ws://h/v0", AuthMode::Query, None, Subscriptions::default());
        assert_eq!(q.connect_plan(&key, None).url.expose(), "ws://h/v0?api_key=am_k");
        let t = AgentMail::new("ws://h/v0", AuthMode::Query, Some("auth_token"), Subscriptions::default());
        let p = t.connect_plan(&key, None);
        assert_eq!(p.url.expose(), "ws://h/v0?auth_token=am_k");
        assert_eq!(p.log_url, "ws://h/v0?auth_token=<redacted>");
    }

    #[test]
    fn the_log_url_never_holds_the_key_whatever_the_parameter_is_called() {
        // Found by the config_toml fuzz target: `auth_param = "autg[umman"` logged the key.
        let key = Sensitive::from("am_secret");
        for (url, param) in [("ws://h/v0", "autg[umman"), ("ws://h/v0?x=1", "passwd"), ("ws://h/v0?api_key=", "k")] {
            let p = AgentMail::new(url, AuthMode::Query, Some(param), Subscriptions::default()).connect_plan(&key, None);
            assert!(p.url.expose().contains("am_secret"));
            assert!(!p.log_url.contains("am_secret"), "{}", p.log_url);
            assert!(p.log_url.ends_with(&format!("{param}=<redacted>")), "{}", p.log_url);
        }
    }
}
