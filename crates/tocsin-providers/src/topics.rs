//! Topic patterns with NATS wildcard semantics (PROTOCOLS.md section 5.2).
//!
//! Tokens are separated by `.`; `*` matches exactly one token; `>` matches one or
//! more tokens and may only be the last token. Matching is case-sensitive.

/// Why a topic pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic \"{pattern}\" is not valid: {reason}")]
pub struct TopicError {
    pub pattern: String,
    pub reason: String,
}

/// Checks a subscription pattern: starts with `events.`, no empty tokens or
/// whitespace, `*` alone in its token, `>` only last, and 6 or more tokens unless it
/// ends with `>`. When `org` is given, the org token must be it (not a wildcard).
pub fn validate(pattern: &str, org: Option<&str>) -> Result<(), TopicError> {
    let err = |reason: &str| TopicError { pattern: pattern.to_owned(), reason: reason.to_owned() };
    let tokens: Vec<&str> = pattern.split('.').collect();
    if tokens.first() != Some(&"events") {
        return Err(err("it must start with \"events.\""));
    }
    for (i, t) in tokens.iter().enumerate() {
        if t.is_empty() {
            return Err(err("it has an empty segment (two dots in a row, or a dot at an end)"));
        }
        if t.chars().any(char::is_whitespace) {
            return Err(err("it contains whitespace"));
        }
        if t.len() > 1 && (t.contains('*') || t.contains('>')) {
            return Err(err("a wildcard (* or >) must be a whole segment"));
        }
        if *t == ">" && i != tokens.len() - 1 {
            return Err(err("\">\" may only be the last segment"));
        }
    }
    let ends_with_rest = tokens.last() == Some(&">");
    if tokens.len() < 6 && !ends_with_rest {
        return Err(err("it needs events.{org}.{source}.{resource}.{event}.{resourceId}, or must end with \">\""));
    }
    if let Some(org) = org {
        match tokens.get(1) {
            Some(&t) if t == org => {}
            Some(&"*") | Some(&">") => return Err(err("the organisation segment cannot be a wildcard")),
            _ => return Err(err(&format!("it is outside your organisation \"{org}\""))),
        }
    }
    Ok(())
}

/// Whether the concrete `subject` matches `pattern`.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTED: &str = "events.org_123.conversations.conversation.message_posted";

    #[test]
    fn star_matches_exactly_one_token() {
        let p = format!("{POSTED}.*");
        assert!(matches(&p, &format!("{POSTED}.conv_456")));
        assert!(!matches(&p, &format!("{POSTED}.conv_456.participant.part_789")));
        assert!(!matches(&p, POSTED));
        assert!(matches("events.*.apps.app.event_received.app_456", "events.org_1.apps.app.event_received.app_456"));
    }

    #[test]
    fn rest_matches_one_or_more() {
        assert!(matches("events.org_123.>", &format!("{POSTED}.conv_456.participant.part_789")));
        assert!(matches("events.org_123.>", "events.org_123.x"));
        assert!(!matches("events.org_123.>", "events.org_123"));
        assert!(!matches("events.org_123.>", "events.org_999.x"));
    }

    #[test]
    fn exact_and_case_sensitive() {
        assert!(matches(&format!("{POSTED}.conv_456"), &format!("{POSTED}.conv_456")));
        assert!(!matches(&format!("{POSTED}.conv_456"), &format!("{POSTED}.CONV_456")));
    }

    #[test]
    fn validation() {
        assert!(validate(&format!("{POSTED}.*"), Some("org_123")).is_ok());
        assert!(validate("events.org_123.>", Some("org_123")).is_ok());
        let bad = |p: &str| validate(p, Some("org_123")).unwrap_err().reason;
        assert!(bad("foo.org_123.a.b.c.d").contains("events."));
        assert!(bad("events.org_123..b.c.d").contains("empty"));
        assert!(bad("events.org_123.a b.c.d.e").contains("whitespace"));
        assert!(bad("events.org_123.a*.b.c.d").contains("whole segment"));
        assert!(bad("events.org_123.>.b").contains("last"));
        assert!(bad("events.org_123.a").contains("needs"));
        assert!(bad("events.*.apps.app.event_received.app_456").contains("wildcard"));
        assert!(bad("events.org_999.a.b.c.d").contains("outside"));
        assert!(validate("events.org_999.a.b.c.d", None).is_ok());
    }
}
