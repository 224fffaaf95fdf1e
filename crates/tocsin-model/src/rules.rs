//! The default urgency rules, as the platforms document them.
//!
//! - subject contains `[URGENT]` (any case), label `priority`, or provider priority `urgent` → [`Tier::Urgent`]
//! - provider priority `high`, or a mention of me → [`Tier::High`]
//! - bounces, complaints and rejections → [`Tier::High`]
//! - spam, blocked and unauthenticated mail, typing, presence and stream chunks → [`Tier::Low`]
//! - anything else → [`Tier::Normal`]
//!
//! Pure functions only. The user-editable rule set builds on this.

use crate::{Event, EventKind, Tier};

/// The tier the built-in rules give `event`.
pub fn default_tier(event: &Event) -> Tier {
    let has_label = |l: &str| event.labels.iter().any(|x| x.eq_ignore_ascii_case(l));
    let subject_urgent = event
        .subject
        .as_deref()
        .is_some_and(|s| s.to_ascii_lowercase().contains("[urgent]"));
    if subject_urgent || has_label("priority") {
        return Tier::Urgent;
    }
    match event.priority.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("urgent") => return Tier::Urgent,
        Some("high") => return Tier::High,
        _ => {}
    }
    if has_label("mention") {
        return Tier::High;
    }
    match event.kind {
        EventKind::MessageBounced | EventKind::MessageComplained | EventKind::MessageRejected => {
            return Tier::High
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Provider};

    fn ev(kind: EventKind, pt: &str, subject: Option<&str>, labels: &[&str]) -> Event {
        Event {
            dedupe_key: "k".into(),
            provider: Provider::Daimon,
            account: "a".into(),
            kind,
            provider_type: pt.into(),
            provider_event_id: None,
            occurred_at_ms: None,
            received_at_ms: 0,
            inbox: None,
            thread: None,
            message_id: None,
            sender: None,
            subject: subject.map(Into::into),
            text: None,
            html: None,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            attachments: vec![],
            replayed: false,
            ack: None,
            priority: None,
            topic: None,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn urgent_by_subject_or_priority_label() {
        let m = EventKind::MessageReceived;
        assert_eq!(default_tier(&ev(m, "message.received", Some("[URGENT] db down"), &[])), Tier::Urgent);
        assert_eq!(default_tier(&ev(m, "message.received", Some("re: [urgent] x"), &[])), Tier::Urgent);
        assert_eq!(default_tier(&ev(m, "message.received", Some("hello"), &["priority"])), Tier::Urgent);
        assert_eq!(default_tier(&ev(m, "message.received", Some("urgent-ish"), &[])), Tier::Normal);
    }

    #[test]
    fn bounces_high_spam_low() {
        assert_eq!(default_tier(&ev(EventKind::MessageBounced, "message.bounced", None, &[])), Tier::High);
        assert_eq!(default_tier(&ev(EventKind::MessageComplained, "message.complaint", None, &[])), Tier::High);
        assert_eq!(
            default_tier(&ev(EventKind::MessageReceived, "message.received.spam", Some("win"), &[])),
            Tier::Low
        );
        assert_eq!(default_tier(&ev(EventKind::Other, "x.y", None, &["trash"])), Tier::Low);
        assert_eq!(default_tier(&ev(EventKind::Other, "x.y", None, &[])), Tier::Normal);
    }
}
