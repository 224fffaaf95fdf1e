//! The event model: one shape for every provider's events, and the pure rules that
//! decide how urgent an event is.
//!
//! Owns: [`Event`] (what an adapter produces from a provider frame), [`HistoryItem`]
//! (what the window and the CLI list), [`Provider`], [`EventKind`], [`Tier`], and the
//! urgency rules in [`rules`]: the user's ordered [`rules::RuleSet`] (validated,
//! TOML import/export, compiled to a [`rules::CompiledRuleSet`] that evaluates an
//! event to a [`rules::Decision`]) and the built-in defaults behind
//! [`rules::default_tier`].
//!
//! Must not: do I/O, know about sockets, SQLite, D-Bus or Tauri. Everything here is
//! plain data and pure functions, so it is tested without any runtime.
//!
//! The model follows section 6 of `PROTOCOLS.md`: the provider's own type string and
//! the raw JSON are always kept, so an event whose type we do not know is still
//! stored and shown (as [`EventKind::Other`]).

pub mod rules;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The five platforms Tocsin speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Provider {
    /// daimon.email (seed 000).
    Daimon,
    /// AgentMail (seed 001).
    #[serde(rename = "agentmail")]
    AgentMail,
    /// The ticket-authenticated Chat SDK socket (seed 002).
    Divinci,
    /// Prismer Cloud (seed 003).
    Prismer,
    /// The NATS-backed topic platform (seed 004).
    Bivariant,
}

impl Provider {
    /// The lowercase name used in config files, the database and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Daimon => "daimon",
            Provider::AgentMail => "agentmail",
            Provider::Divinci => "divinci",
            Provider::Prismer => "prismer",
            Provider::Bivariant => "bivariant",
        }
    }

    /// Parses the name written by [`Provider::as_str`].
    pub fn parse(s: &str) -> Option<Provider> {
        Some(match s {
            "daimon" => Provider::Daimon,
            "agentmail" => Provider::AgentMail,
            "divinci" => Provider::Divinci,
            "prismer" => Provider::Prismer,
            "bivariant" => Provider::Bivariant,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, normalised across providers (PROTOCOLS.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum EventKind {
    MessageReceived,
    MessageSent,
    MessageDelivered,
    MessageBounced,
    MessageComplained,
    MessageRejected,
    MessageOpened,
    MessageRead,
    MessageUpdated,
    MessageDeleted,
    StreamChunk,
    StreamEnd,
    Typing,
    Presence,
    ConversationChanged,
    TaskUpdated,
    Notification,
    AccountChanged,
    Calendar,
    SecurityVerdict,
    TranscriptUpdated,
    /// A span of time in which events may have been missed (written by the engine).
    Gap,
    /// A type this version does not know. Still stored, with its raw JSON.
    Other,
}

impl EventKind {
    /// The snake_case name stored in the database.
    pub fn as_str(self) -> &'static str {
        use EventKind::*;
        match self {
            MessageReceived => "message_received",
            MessageSent => "message_sent",
            MessageDelivered => "message_delivered",
            MessageBounced => "message_bounced",
            MessageComplained => "message_complained",
            MessageRejected => "message_rejected",
            MessageOpened => "message_opened",
            MessageRead => "message_read",
            MessageUpdated => "message_updated",
            MessageDeleted => "message_deleted",
            StreamChunk => "stream_chunk",
            StreamEnd => "stream_end",
            Typing => "typing",
            Presence => "presence",
            ConversationChanged => "conversation_changed",
            TaskUpdated => "task_updated",
            Notification => "notification",
            AccountChanged => "account_changed",
            Calendar => "calendar",
            SecurityVerdict => "security_verdict",
            TranscriptUpdated => "transcript_updated",
            Gap => "gap",
            Other => "other",
        }
    }

    /// Parses a name written by [`EventKind::as_str`]; unknown names are [`EventKind::Other`].
    pub fn parse(s: &str) -> EventKind {
        use EventKind::*;
        const ALL: [EventKind; 23] = [
            MessageReceived,
            MessageSent,
            MessageDelivered,
            MessageBounced,
            MessageComplained,
            MessageRejected,
            MessageOpened,
            MessageRead,
            MessageUpdated,
            MessageDeleted,
            StreamChunk,
            StreamEnd,
            Typing,
            Presence,
            ConversationChanged,
            TaskUpdated,
            Notification,
            AccountChanged,
            Calendar,
            SecurityVerdict,
            TranscriptUpdated,
            Gap,
            Other,
        ];
        ALL.into_iter().find(|k| k.as_str() == s).unwrap_or(Other)
    }
}

/// The label of an event that mentions the user (`@me`, Prismer route targets).
pub const LABEL_MENTION: &str = "mention";
/// The label of an event in a direct (one-to-one) conversation.
pub const LABEL_DIRECT: &str = "direct";
/// The label of an edit event: its text replaces the edited message's text.
pub const LABEL_EDIT: &str = "edit";
/// The label a message gets once an edit replaced its text.
pub const LABEL_EDITED: &str = "edited";

/// How much attention an event deserves. Ordered: `Low < Normal < High < Urgent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Tier {
    Low,
    Normal,
    High,
    Urgent,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Normal => "normal",
            Tier::High => "high",
            Tier::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Some(match s {
            "low" => Tier::Low,
            "normal" => Tier::Normal,
            "high" => Tier::High,
            "urgent" => Tier::Urgent,
            _ => return None,
        })
    }
}

/// Metadata of an attachment (content is never inline; providers serve it over REST).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Attachment {
    pub id: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    #[ts(type = "number | null")]
    pub size: Option<u64>,
}

/// One provider event, normalised. Produced by a provider adapter from one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Dedupe key, unique across the whole history (`daimon:{event_id}`, ...).
    pub dedupe_key: String,
    pub provider: Provider,
    /// The local account the connection belongs to.
    pub account: String,
    pub kind: EventKind,
    /// The provider's own type string, verbatim.
    pub provider_type: String,
    /// The provider's event id, when it has one (used as the replay cursor).
    pub provider_event_id: Option<String>,
    pub occurred_at_ms: Option<i64>,
    pub received_at_ms: i64,
    pub inbox: Option<String>,
    pub thread: Option<String>,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    /// Plain text body (or chat content).
    pub text: Option<String>,
    /// Untrusted HTML body, never rendered unsanitised.
    pub html: Option<String>,
    pub labels: Vec<String>,
    pub attachments: Vec<Attachment>,
    /// The provider says this is a replay or redelivery of an earlier frame.
    pub replayed: bool,
    /// A per-delivery token to acknowledge once the event is committed (Prismer `ackId`).
    pub ack: Option<String>,
    /// The provider's own priority (`low`, `normal`, `high`, `urgent`), when it sends one.
    pub priority: Option<String>,
    /// The concrete topic (the topic platform).
    pub topic: Option<String>,
    /// The whole original frame.
    pub raw: serde_json::Value,
}

impl Event {
    /// A short one-line excerpt of the text, for lists and notifications.
    pub fn excerpt(&self, max_chars: usize) -> Option<String> {
        self.text.as_deref().map(|t| excerpt(t, max_chars))
    }
}

/// Collapses whitespace and cuts `text` to at most `max_chars` characters, adding `…`.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        if count > 0 {
            out.push(' ');
            count += 1;
        }
        for ch in word.chars() {
            if count >= max_chars {
                out.push('…');
                return out;
            }
            out.push(ch);
            count += 1;
        }
    }
    out
}

/// A stored event as the window and `tocsin history list` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryItem {
    #[ts(type = "number")]
    pub id: i64,
    pub account: String,
    pub provider: Provider,
    pub kind: EventKind,
    pub provider_type: String,
    /// The provider's id of the event (its replay cursor), to join with other data.
    pub provider_event_id: Option<String>,
    /// The provider's id of the message the event is about, if any.
    pub message_id: Option<String>,
    pub tier: Tier,
    pub subject: Option<String>,
    pub sender: Option<String>,
    pub excerpt: Option<String>,
    pub inbox: Option<String>,
    #[ts(type = "number")]
    pub received_at_ms: i64,
    #[ts(type = "number | null")]
    pub occurred_at_ms: Option<i64>,
    pub read: bool,
    pub replayed: bool,
    /// Where a full-text search matched; only set on search results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub matches: Option<SearchMatches>,
}

/// The start and end of a matched word in [`SearchMatches`] strings. Control
/// characters never occur in stored text shown to people, and the window renders them
/// as `<mark>` by splitting, never as HTML.
pub const MATCH_START: char = '\u{2}';
/// See [`MATCH_START`].
pub const MATCH_END: char = '\u{3}';

/// The matched words of a search result, each wrapped in [`MATCH_START`] and
/// [`MATCH_END`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SearchMatches {
    pub subject: Option<String>,
    pub sender: Option<String>,
    /// An excerpt of the body around the matches, `…` at cut ends.
    pub snippet: Option<String>,
}

/// What to list from the history: every field narrows it; empty lists and nulls
/// mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "camelCase", default)]
#[ts(export)]
pub struct HistoryQuery {
    /// Words to find in the subject, sender and text (every word must match; the
    /// last may be a prefix). Null or blank: no text search.
    pub text: Option<String>,
    pub accounts: Vec<String>,
    pub providers: Vec<Provider>,
    pub kinds: Vec<EventKind>,
    pub tiers: Vec<Tier>,
    /// `Some(false)`: unread only.
    pub read: Option<bool>,
    /// Received at or after (ms since the epoch).
    #[ts(type = "number | null")]
    pub since_ms: Option<i64>,
    /// Received before (ms since the epoch).
    #[ts(type = "number | null")]
    pub until_ms: Option<i64>,
    /// Paging: only events older than this id.
    #[ts(type = "number | null")]
    pub before_id: Option<i64>,
    /// Page size, 1 to 1000.
    pub limit: u32,
}

/// One page of a [`HistoryQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryPage {
    /// Newest first.
    pub items: Vec<HistoryItem>,
    /// How many events match in all; computed for the first page only.
    #[ts(type = "number | null")]
    pub total: Option<i64>,
    /// `total` is a lower bound (the count stopped at a cap).
    pub total_capped: bool,
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). Times beyond
/// chrono's range (±262 000 years) are clamped to it.
pub fn format_rfc3339_ms(ms: i64) -> String {
    use chrono::{DateTime, SecondsFormat, Utc};
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(if ms < 0 { DateTime::<Utc>::MIN_UTC } else { DateTime::<Utc>::MAX_UTC });
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_collapses_whitespace_and_cuts() {
        assert_eq!(excerpt("Hi  Agent,\n\nPlease   analyze", 100), "Hi Agent, Please analyze");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("", 3), "");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in [EventKind::MessageReceived, EventKind::Gap, EventKind::Other, EventKind::TranscriptUpdated] {
            assert_eq!(EventKind::parse(k.as_str()), k);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert_eq!(EventKind::parse("no.such.kind"), EventKind::Other);
    }

    #[test]
    fn providers_and_tiers_round_trip() {
        for p in [Provider::Daimon, Provider::AgentMail, Provider::Divinci, Provider::Prismer, Provider::Bivariant] {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.as_str()));
        }
        assert!(Tier::Low < Tier::Normal && Tier::High < Tier::Urgent);
        assert_eq!(Tier::parse("urgent"), Some(Tier::Urgent));
        assert_eq!(Tier::parse("URGENT"), None);
    }
}
