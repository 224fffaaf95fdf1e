//! The user's urgency rules: an ordered list of "when these conditions hold, give
//! the event this tier, notify or stay silent, play this sound".
//!
//! # Model
//!
//! A [`RuleSet`] is an ordered list of [`Rule`]s. Each rule has a unique name, can be
//! switched off, and pairs [`Conditions`] with an [`Outcome`]. The **first enabled
//! rule whose conditions all hold decides**; when no rule matches, the event is
//! [`Tier::Normal`] and raises no notification ([`Decision::unmatched`]).
//!
//! Conditions (every one is optional; all that are given must hold; a list means
//! "any of these"):
//!
//! | field              | matches                                                                   |
//! |--------------------|---------------------------------------------------------------------------|
//! | `provider`         | the platform (`daimon`, `agentmail`, `divinci`, `prismer`, `bivariant`)   |
//! | `account`          | the local account name, exactly                                           |
//! | `inbox`            | the event's inbox, ignoring case                                          |
//! | `topic`            | the concrete topic, with NATS wildcards: `*` one token, `>` the rest      |
//! | `kind`             | the normalised [`EventKind`] (`message_received`, `message_bounced`, …)  |
//! | `sender`           | `ada@example.com` (exact), `@example.com` (that domain and its subdomains) or a glob (`*@*.example.com`, `bot-?@x.io`), ignoring case; a sender written `Ada <ada@example.com>` is matched by its address |
//! | `subject_contains` | the subject contains one of these texts, ignoring case                    |
//! | `text_contains`    | the plain text contains one of these texts, ignoring case                 |
//! | `subject_regex`    | the subject matches this regular expression (case-sensitive; use `(?i)`)  |
//! | `text_regex`       | the plain text matches this regular expression                            |
//! | `labels`           | the event carries one of these labels, ignoring case                      |
//! | `priority`         | the provider's own priority is one of these, ignoring case                |
//! | `provider_type`    | the provider's type string, exactly or as a glob (`message.received.*`, `*.spam`), case-sensitive |
//! | `always`           | `always = true` marks a catch-all: the rule matches every event           |
//!
//! A condition on a field the event does not have (no subject, no topic, …) does not
//! hold. "Ignoring case" lowercases both sides character by character, except that a
//! non-ASCII character never folds onto an ASCII one (the Kelvin sign `K` does not
//! become `k`), so a look-alike cannot pass for an ASCII keyword.
//!
//! Outcome: a [`Tier`] (`low`, `normal`, `high`, `urgent`), `notify` (when left out, a
//! rule notifies exactly when its tier is `urgent`), and an optional `sound` name,
//! which only a notifying rule may carry.
//!
//! # Validation
//!
//! [`RuleSet::validate`] (and so [`RuleSet::from_toml`] and [`RuleSet::compile`])
//! refuses a rule set with a message naming the rule (1-based position and name)
//! and the field, e.g. `rule 3 "VIP senders": subject_regex: unclosed group in "(re"`.
//! [`RuleSet::problems`] lists every problem at once, for the editor. A rule must
//! have a non-blank name, unique in the set (ignoring case and surrounding spaces).
//! A rule with no condition is refused unless it says `always = true`: an editor
//! whose fields were all cleared must not silently turn a rule into a catch-all.
//! `always = true` cannot be combined with other conditions. Disabled rules are
//! validated too (they are stored and can be switched back on). Rules after an
//! enabled catch-all are allowed; they never decide.
//!
//! # TOML
//!
//! ```toml
//! [[rules]]
//! name = "VIP senders"
//! when = { sender = ["@bigcustomer.com", "ceo@example.com"], kind = ["message_received"] }
//! then = { tier = "urgent", sound = "bell" }
//!
//! [[rules]]
//! name = "Build bots"
//! enabled = false
//! when = { provider = ["bivariant"], topic = ["ci.*.failed", "deploy.>"] }
//! then = { tier = "high", notify = true }
//!
//! [[rules]]
//! name = "Everything else"
//! when = { always = true }
//! then = { tier = "normal" }
//! ```
//!
//! Unknown keys are refused (a misspelt condition must not widen a rule).
//!
//! # Defaults
//!
//! [`RuleSet::defaults`] is what the platforms document, and what [`default_tier`]
//! evaluates:
//!
//! - subject contains `[URGENT]` (any case), label `priority`, or provider priority `urgent` → [`Tier::Urgent`]
//! - provider priority `high` → [`Tier::High`]
//! - a message with label `mention` (an @mention of the user) or `direct` (a
//!   one-to-one conversation) → [`Tier::High`], and it notifies; group chatter stays
//!   normal and silent
//! - bounces, complaints and rejections → [`Tier::High`]
//! - typing, presence and stream chunks → [`Tier::Low`]
//! - spam, blocked and unauthenticated mail (`*.spam`, `*.blocked`, `*.unauthenticated`
//!   provider types, or labels `spam`, `blocked`, `trash`) → [`Tier::Low`]
//! - anything else → [`Tier::Normal`]
//!
//! Pure code: no I/O, no clock, no randomness. Storing the rule set is the store's job.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Event, EventKind, Provider, Tier};

/// The tier the built-in rules ([`RuleSet::defaults`]) give `event`.
pub fn default_tier(event: &Event) -> Tier {
    CompiledRuleSet::defaults().evaluate(event).tier
}

// ---------------------------------------------------------------------------------
// The data: what is stored, edited in the window, imported and exported.
// ---------------------------------------------------------------------------------

/// An ordered list of rules; the first enabled matching rule decides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One rule: when every given condition holds, apply the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown in the window and in [`Decision::rule`]; unique in its set.
    pub name: String,
    /// A disabled rule is kept (and validated) but never decides.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub when: Conditions,
    pub then: Outcome,
}

fn enabled_by_default() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What an event must look like for a rule to apply. Every field is optional; all
/// fields that are given must hold (AND); the entries of one list are alternatives
/// (OR). See the [module documentation](self) for what each field matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// A catch-all: matches every event. Must be the only condition.
    #[serde(default, skip_serializing_if = "is_false")]
    pub always: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider: Vec<Provider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub account: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbox: Vec<String>,
    /// NATS subject patterns: `*` matches one token, a final `>` one or more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topic: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<EventKind>,
    /// `ada@example.com`, `@example.com` (domain and subdomains) or a `*`/`?` glob.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sender: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The provider's own priority string (`low`, `normal`, `high`, `urgent`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<String>,
    /// The provider's type string: exact, or a glob (`message.received.*`, `*.spam`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_type: Vec<String>,
}

impl Conditions {
    /// True when no condition is given (not even `always`).
    pub fn is_empty(&self) -> bool {
        !self.always && !self.has_conditions()
    }

    /// True when at least one real condition (other than `always`) is given.
    fn has_conditions(&self) -> bool {
        !(self.provider.is_empty()
            && self.account.is_empty()
            && self.inbox.is_empty()
            && self.topic.is_empty()
            && self.kind.is_empty()
            && self.sender.is_empty()
            && self.subject_contains.is_empty()
            && self.subject_regex.is_none()
            && self.text_contains.is_empty()
            && self.text_regex.is_none()
            && self.labels.is_empty()
            && self.priority.is_empty()
            && self.provider_type.is_empty())
    }

    /// The catch-all condition (`always = true`).
    pub fn always() -> Conditions {
        Conditions { always: true, ..Conditions::default() }
    }
}

/// What a matching rule does to the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub tier: Tier,
    /// Raise a desktop notification. Left out: notify exactly when the tier is urgent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
    /// The sound to play with the notification (only on a notifying rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
}

impl Outcome {
    /// An outcome with this tier and the default notification behaviour.
    pub fn tier(tier: Tier) -> Outcome {
        Outcome { tier, notify: None, sound: None }
    }

    /// Whether this outcome raises a notification (`notify`, or the tier's default).
    pub fn notifies(&self) -> bool {
        self.notify.unwrap_or(self.tier == Tier::Urgent)
    }
}

/// The result of evaluating a rule set against one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, rename = "RuleDecision")]
pub struct Decision {
    pub tier: Tier,
    pub notify: bool,
    /// The sound of the deciding rule (only ever set when `notify` is true).
    pub sound: Option<String>,
    /// The name of the deciding rule; `None` when no rule matched.
    pub rule: Option<String>,
}

impl Decision {
    /// The decision when no rule matches: normal tier, no notification.
    pub fn unmatched() -> Decision {
        Decision { tier: Tier::Normal, notify: false, sound: None, rule: None }
    }
}

impl Default for Decision {
    fn default() -> Self {
        Decision::unmatched()
    }
}

/// Why a rule set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// One rule is wrong. `index` is 1-based, as the window numbers the rules.
    #[error("rule {index} {name:?}: {field}: {message}")]
    Invalid { index: usize, name: String, field: &'static str, message: String },
    /// The TOML could not be read as a rule set (syntax, unknown key, bad value).
    #[error("the rules are not valid TOML: {0}")]
    Toml(String),
    /// The rule set could not be written as TOML.
    #[error("the rules could not be written as TOML: {0}")]
    Export(String),
}

// ---------------------------------------------------------------------------------
// RuleSet: defaults, validation, TOML, compilation.
// ---------------------------------------------------------------------------------

impl RuleSet {
    /// The built-in rules, as the platforms document them (see the module docs).
    /// [`default_tier`] evaluates exactly these.
    pub fn defaults() -> RuleSet {
        fn rule(name: &str, when: Conditions, tier: Tier) -> Rule {
            Rule { name: name.into(), enabled: true, when, then: Outcome::tier(tier) }
        }
        fn notifying(name: &str, when: Conditions, tier: Tier) -> Rule {
            Rule { name: name.into(), enabled: true, when, then: Outcome { tier, notify: Some(true), sound: None } }
        }
        fn strings(items: &[&str]) -> Vec<String> {
            items.iter().map(|s| s.to_string()).collect()
        }
        /// Something a person said to the user (not their own messages, not typing).
        fn messages() -> Vec<EventKind> {
            vec![EventKind::MessageReceived, EventKind::StreamEnd]
        }
        let c = Conditions::default;
        RuleSet {
            rules: vec![
                rule(
                    "Urgent in the subject",
                    Conditions { subject_contains: strings(&["[URGENT]"]), ..c() },
                    Tier::Urgent,
                ),
                rule("Priority label", Conditions { labels: strings(&["priority"]), ..c() }, Tier::Urgent),
                rule(
                    "Provider priority urgent",
                    Conditions { priority: strings(&["urgent"]), ..c() },
                    Tier::Urgent,
                ),
                rule("Provider priority high", Conditions { priority: strings(&["high"]), ..c() }, Tier::High),
                // Chat habits: what is said to you notifies, group chatter does not.
                notifying(
                    "Mentions",
                    Conditions { labels: strings(&[crate::LABEL_MENTION]), kind: messages(), ..c() },
                    Tier::High,
                ),
                notifying(
                    "Direct messages",
                    Conditions { labels: strings(&[crate::LABEL_DIRECT]), kind: messages(), ..c() },
                    Tier::High,
                ),
                rule(
                    "Bounces, complaints and rejections",
                    Conditions {
                        kind: vec![
                            EventKind::MessageBounced,
                            EventKind::MessageComplained,
                            EventKind::MessageRejected,
                        ],
                        ..c()
                    },
                    Tier::High,
                ),
                rule(
                    "Typing, presence and stream chunks",
                    Conditions {
                        kind: vec![EventKind::Typing, EventKind::Presence, EventKind::StreamChunk],
                        ..c()
                    },
                    Tier::Low,
                ),
                rule(
                    "Spam, blocked and unauthenticated mail",
                    Conditions { provider_type: strings(&["*.spam", "*.blocked", "*.unauthenticated"]), ..c() },
                    Tier::Low,
                ),
                rule(
                    "Spam, blocked and trash labels",
                    Conditions { labels: strings(&["spam", "blocked", "trash"]), ..c() },
                    Tier::Low,
                ),
            ],
        }
    }

    /// Checks every rule; the first problem found is returned.
    pub fn validate(&self) -> Result<(), RuleError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem in the set, in rule order (empty when the set is valid).
    pub fn problems(&self) -> Vec<RuleError> {
        let mut problems = Vec::new();
        self.compile_inner(&mut problems);
        problems
    }

    /// Validates and compiles the rule set for evaluation.
    pub fn compile(&self) -> Result<CompiledRuleSet, RuleError> {
        let mut problems = Vec::new();
        let compiled = self.compile_inner(&mut problems);
        match problems.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(compiled),
        }
    }

    /// Reads a rule set from TOML (as written by [`RuleSet::to_toml`]) and validates it.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        let set: RuleSet = toml::from_str(text).map_err(|e| RuleError::Toml(e.to_string().trim_end().to_string()))?;
        set.validate()?;
        Ok(set)
    }

    /// Writes the rule set as TOML, one `[[rules]]` table per rule.
    pub fn to_toml(&self) -> Result<String, RuleError> {
        let body = toml::to_string_pretty(self).map_err(|e| RuleError::Export(e.to_string()))?;
        Ok(format!(
            "# Tocsin urgency rules. The first enabled rule whose conditions all hold decides;\n\
             # an event no rule matches is \"normal\" and raises no notification.\n\n{body}"
        ))
    }

    fn compile_inner(&self, problems: &mut Vec<RuleError>) -> CompiledRuleSet {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut rules = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let mut check = Checker { index: i + 1, name: &rule.name, problems, failed: false };
            let key = rule.name.trim().to_lowercase();
            if key.is_empty() {
                check.fail("name", "a rule needs a name".into());
            } else if let Some(first) = seen.get(&key) {
                check.fail("name", format!("the name is already used by rule {first}"));
            } else {
                seen.insert(key, i + 1);
            }
            let compiled = compile_rule(rule, &mut check);
            if !check.failed && rule.enabled {
                rules.push(compiled);
            }
        }
        CompiledRuleSet { source: self.clone(), rules }
    }
}

/// Collects the problems of one rule.
struct Checker<'a> {
    index: usize,
    name: &'a str,
    problems: &'a mut Vec<RuleError>,
    failed: bool,
}

impl Checker<'_> {
    fn fail(&mut self, field: &'static str, message: String) {
        self.failed = true;
        self.problems.push(RuleError::Invalid { index: self.index, name: self.name.to_string(), field, message });
    }

    /// Refuses blank entries of a list; returns the entries to keep.
    fn non_blank<'s>(&mut self, field: &'static str, what: &str, items: &'s [String]) -> Vec<&'s str> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.trim().is_empty() {
                self.fail(field, format!("an empty {what} is not allowed; remove it or fill it in"));
            } else {
                out.push(item.as_str());
            }
        }
        out
    }

    fn regex(&mut self, field: &'static str, pattern: Option<&str>) -> Option<Regex> {
        let pattern = pattern?;
        if pattern.is_empty() {
            self.fail(field, "an empty regular expression would match everything; remove it instead".into());
            return None;
        }
        match Regex::new(pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                self.fail(field, format!("{} in {pattern:?}", regex_message(&e)));
                None
            }
        }
    }
}

/// One line out of the regex crate's (multi-line, caret-drawing) error.
fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text.lines().last().unwrap_or("invalid regular expression"))
            .trim()
            .to_string(),
        regex::Error::CompiledTooBig(limit) => {
            format!("the regular expression is too large once compiled (limit {limit} bytes)")
        }
        other => other.to_string(),
    }
}

fn compile_rule(rule: &Rule, check: &mut Checker<'_>) -> CompiledRule {
    let w = &rule.when;
    if w.always && w.has_conditions() {
        check.fail(
            "always",
            "`always = true` matches every event and cannot be combined with other conditions".into(),
        );
    } else if !w.always && !w.has_conditions() {
        check.fail(
            "when",
            "the rule has no conditions; add one, or set `always = true` to match every event".into(),
        );
    }

    let account = check.non_blank("account", "account", &w.account).into_iter().map(str::to_string).collect();
    let inbox = check.non_blank("inbox", "inbox", &w.inbox).into_iter().map(fold).collect();
    let mut topic = Vec::new();
    for p in check.non_blank("topic", "topic pattern", &w.topic) {
        match TopicPattern::parse(p) {
            Ok(t) => topic.push(t),
            Err(m) => check.fail("topic", m),
        }
    }
    let mut sender = Vec::new();
    for p in check.non_blank("sender", "sender", &w.sender) {
        match SenderPattern::parse(p) {
            Ok(s) => sender.push(s),
            Err(m) => check.fail("sender", m),
        }
    }
    let subject_contains =
        check.non_blank("subject_contains", "text", &w.subject_contains).into_iter().map(fold).collect();
    let text_contains = check.non_blank("text_contains", "text", &w.text_contains).into_iter().map(fold).collect();
    let subject_regex = check.regex("subject_regex", w.subject_regex.as_deref());
    let text_regex = check.regex("text_regex", w.text_regex.as_deref());
    let labels = check.non_blank("labels", "label", &w.labels).into_iter().map(fold).collect();
    let priority = check.non_blank("priority", "priority", &w.priority).into_iter().map(fold).collect();
    let mut provider_type = Vec::new();
    for p in check.non_blank("provider_type", "provider type", &w.provider_type) {
        if p.chars().any(char::is_whitespace) {
            check.fail("provider_type", format!("{p:?} contains a space; provider types have none"));
        } else {
            provider_type.push(Glob::new(p));
        }
    }

    let then = &rule.then;
    if let Some(sound) = &then.sound {
        if sound.trim().is_empty() {
            check.fail("sound", "an empty sound name; remove `sound` for the default sound".into());
        } else if !then.notifies() {
            let why = if then.notify == Some(false) {
                "the rule says `notify = false`".to_string()
            } else {
                format!("a {} rule does not notify unless it says `notify = true`", then.tier.as_str())
            };
            check.fail("sound", format!("a silent rule cannot play a sound: {why}"));
        }
    }

    CompiledRule {
        name: rule.name.clone(),
        decision: Decision {
            tier: then.tier,
            notify: then.notifies(),
            sound: then.sound.clone(),
            rule: Some(rule.name.clone()),
        },
        when: CompiledConditions {
            provider: w.provider.clone(),
            account,
            inbox,
            topic,
            kind: w.kind.clone(),
            sender,
            subject_contains,
            subject_regex,
            text_contains,
            text_regex,
            labels,
            priority,
            provider_type,
        },
    }
}

// ---------------------------------------------------------------------------------
// Evaluation.
// ---------------------------------------------------------------------------------

/// A validated rule set, ready to evaluate (patterns parsed, regexes compiled once).
#[derive(Debug, Clone)]
pub struct CompiledRuleSet {
    source: RuleSet,
    /// The enabled rules, in order.
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    name: String,
    decision: Decision,
    when: CompiledConditions,
}

/// Conditions with every text already case-folded and every pattern parsed.
#[derive(Debug, Clone)]
struct CompiledConditions {
    provider: Vec<Provider>,
    account: Vec<String>,
    inbox: Vec<String>,
    topic: Vec<TopicPattern>,
    kind: Vec<EventKind>,
    sender: Vec<SenderPattern>,
    subject_contains: Vec<String>,
    subject_regex: Option<Regex>,
    text_contains: Vec<String>,
    text_regex: Option<Regex>,
    labels: Vec<String>,
    priority: Vec<String>,
    provider_type: Vec<Glob>,
}

impl CompiledRuleSet {
    /// The built-in rules ([`RuleSet::defaults`]), compiled once.
    pub fn defaults() -> &'static CompiledRuleSet {
        static DEFAULTS: OnceLock<CompiledRuleSet> = OnceLock::new();
        DEFAULTS.get_or_init(|| RuleSet::defaults().compile().expect("the built-in rules are valid"))
    }

    /// The rule set this was compiled from.
    pub fn rule_set(&self) -> &RuleSet {
        &self.source
    }

    /// Decides `event`: the first enabled rule whose conditions all hold, or
    /// [`Decision::unmatched`].
    pub fn evaluate(&self, event: &Event) -> Decision {
        let view = View::new(event);
        self.rules
            .iter()
            .find(|r| r.when.matches(&view))
            .map(|r| r.decision.clone())
            .unwrap_or_else(Decision::unmatched)
    }

    /// The name of the first enabled rule matching `event`, if any.
    pub fn matching_rule(&self, event: &Event) -> Option<&str> {
        let view = View::new(event);
        self.rules.iter().find(|r| r.when.matches(&view)).map(|r| r.name.as_str())
    }
}

/// An event with its case-folded fields computed on first use, once per evaluation.
struct View<'a> {
    event: &'a Event,
    inbox: OnceCell<Option<String>>,
    sender: OnceCell<Option<String>>,
    subject: OnceCell<Option<String>>,
    text: OnceCell<Option<String>>,
    labels: OnceCell<Vec<String>>,
    priority: OnceCell<Option<String>>,
}

impl<'a> View<'a> {
    fn new(event: &'a Event) -> Self {
        View {
            event,
            inbox: OnceCell::new(),
            sender: OnceCell::new(),
            subject: OnceCell::new(),
            text: OnceCell::new(),
            labels: OnceCell::new(),
            priority: OnceCell::new(),
        }
    }
}

fn folded<'c>(cell: &'c OnceCell<Option<String>>, value: Option<&str>) -> Option<&'c str> {
    cell.get_or_init(|| value.map(fold)).as_deref()
}

impl CompiledConditions {
    fn matches(&self, v: &View<'_>) -> bool {
        let e = v.event;
        (self.provider.is_empty() || self.provider.contains(&e.provider))
            && (self.account.is_empty() || self.account.contains(&e.account))
            && (self.inbox.is_empty()
                || folded(&v.inbox, e.inbox.as_deref()).is_some_and(|i| self.inbox.iter().any(|x| x == i)))
            && (self.topic.is_empty()
                || e.topic.as_deref().is_some_and(|t| self.topic.iter().any(|p| p.matches(t))))
            && (self.kind.is_empty() || self.kind.contains(&e.kind))
            && (self.sender.is_empty()
                || folded(&v.sender, e.sender.as_deref().map(sender_address))
                    .is_some_and(|s| !s.is_empty() && self.sender.iter().any(|p| p.matches(s))))
            && (self.subject_contains.is_empty()
                || folded(&v.subject, e.subject.as_deref())
                    .is_some_and(|s| self.subject_contains.iter().any(|n| s.contains(n.as_str()))))
            && self.subject_regex.as_ref().is_none_or(|re| e.subject.as_deref().is_some_and(|s| re.is_match(s)))
            && (self.text_contains.is_empty()
                || folded(&v.text, e.text.as_deref())
                    .is_some_and(|s| self.text_contains.iter().any(|n| s.contains(n.as_str()))))
            && self.text_regex.as_ref().is_none_or(|re| e.text.as_deref().is_some_and(|s| re.is_match(s)))
            && (self.labels.is_empty() || {
                let labels = v.labels.get_or_init(|| e.labels.iter().map(|l| fold(l)).collect());
                labels.iter().any(|l| self.labels.contains(l))
            })
            && (self.priority.is_empty()
                || folded(&v.priority, e.priority.as_deref()).is_some_and(|p| self.priority.iter().any(|x| x == p)))
            && (self.provider_type.is_empty() || self.provider_type.iter().any(|g| g.matches(&e.provider_type)))
    }
}

// ---------------------------------------------------------------------------------
// Matchers: case folding, globs, NATS subjects, senders.
// ---------------------------------------------------------------------------------

/// Lowercases `s` for case-insensitive comparison. ASCII letters lowercase as ASCII;
/// other characters lowercase by Unicode, except that a non-ASCII character whose
/// lowercase contains ASCII (the Kelvin sign, dotted capital I) is kept as it is, so
/// that look-alikes never fold onto ASCII keywords.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            let start = out.len();
            out.extend(c.to_lowercase());
            if out.as_bytes()[start..].iter().any(u8::is_ascii) {
                out.truncate(start);
                out.push(c);
            }
        }
    }
    out
}

/// The address part of a sender: `Ada <ada@x.io>` → `ada@x.io`; otherwise the trimmed text.
fn sender_address(sender: &str) -> &str {
    let s = sender.trim();
    if let Some(open) = s.rfind('<') {
        if let Some(len) = s[open + 1..].find('>') {
            let inner = s[open + 1..open + 1 + len].trim();
            if !inner.is_empty() {
                return inner.strip_prefix("mailto:").unwrap_or(inner);
            }
        }
    }
    s.strip_prefix("mailto:").unwrap_or(s)
}

/// A glob over characters: `*` any run (also empty, also dots), `?` exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    pattern: Vec<char>,
    wild: bool,
}

impl Glob {
    fn new(pattern: &str) -> Glob {
        Glob { pattern: pattern.chars().collect(), wild: pattern.contains(['*', '?']) }
    }

    fn matches(&self, text: &str) -> bool {
        if !self.wild {
            return self.pattern.iter().copied().eq(text.chars());
        }
        glob_match(&self.pattern, &text.chars().collect::<Vec<_>>())
    }
}

/// Iterative glob matching with single-star backtracking (linear-ish, no recursion).
fn glob_match(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A NATS subject pattern: tokens split on `.`, `*` one token, a final `>` one or more.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TopicPattern {
    tokens: Vec<TopicToken>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TopicToken {
    Literal(String),
    One,
    Rest,
}

impl TopicPattern {
    fn parse(pattern: &str) -> Result<TopicPattern, String> {
        if pattern.chars().any(char::is_whitespace) {
            return Err(format!("{pattern:?} contains a space; topics have none"));
        }
        let parts: Vec<&str> = pattern.split('.').collect();
        let mut tokens = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            tokens.push(match *part {
                "" => return Err(format!("{pattern:?} has an empty token (two dots in a row, or a dot at an end)")),
                "*" => TopicToken::One,
                ">" if i + 1 == parts.len() => TopicToken::Rest,
                ">" => return Err(format!("{pattern:?}: `>` can only be the last token")),
                p if p.contains(['*', '>']) => {
                    return Err(format!(
                        "{pattern:?}: a wildcard must be a whole token (`orders.*`, not `orders*`)"
                    ))
                }
                p => TopicToken::Literal(p.to_string()),
            });
        }
        Ok(TopicPattern { tokens })
    }

    fn matches(&self, topic: &str) -> bool {
        if topic.is_empty() {
            return false;
        }
        let mut parts = topic.split('.');
        for token in &self.tokens {
            match token {
                TopicToken::Rest => return parts.next().is_some(),
                TopicToken::One => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                TopicToken::Literal(l) => {
                    if parts.next() != Some(l.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

/// One `sender` entry, case-folded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SenderPattern {
    /// `ada@example.com`, or a bare chat user id.
    Exact(String),
    /// `@example.com`: the domain and its subdomains (stored without the `@`).
    Domain(String),
    Glob(Glob),
}

impl SenderPattern {
    fn parse(entry: &str) -> Result<SenderPattern, String> {
        let e = entry.trim();
        let hint = "write an address (ada@example.com), a domain (@example.com) or a glob (*@*.example.com)";
        if e.chars().any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"')) {
            return Err(format!("{entry:?} is not a single address: {hint}, without names, quotes or brackets"));
        }
        if let Some(domain) = e.strip_prefix('@') {
            if domain.is_empty() {
                return Err(format!("{entry:?} has no domain after `@`: {hint}"));
            }
            if domain.contains(['@', '*', '?']) {
                return Err(format!(
                    "{entry:?}: a domain entry takes no `@` or wildcards after the first `@` \
                     (@example.com already covers its subdomains; for more, use a glob like *@*.example.com)"
                ));
            }
            if domain.split('.').any(str::is_empty) {
                return Err(format!("{entry:?}: {domain:?} is not a domain (empty part between dots)"));
            }
            return Ok(SenderPattern::Domain(fold(domain)));
        }
        if e.matches('@').count() > 1 {
            return Err(format!("{entry:?} has more than one `@`: {hint}"));
        }
        if e.contains(['*', '?']) {
            return Ok(SenderPattern::Glob(Glob::new(&fold(e))));
        }
        if let Some((local, domain)) = e.split_once('@') {
            if local.is_empty() || domain.is_empty() {
                return Err(format!("{entry:?} is not a complete address: {hint}"));
            }
        }
        Ok(SenderPattern::Exact(fold(e)))
    }

    /// `address` is already folded.
    fn matches(&self, address: &str) -> bool {
        match self {
            SenderPattern::Exact(a) => a == address,
            SenderPattern::Domain(d) => address.rsplit_once('@').is_some_and(|(_, host)| {
                host == d
                    || (host.len() > d.len()
                        && host.ends_with(d.as_str())
                        && host.as_bytes()[host.len() - d.len() - 1] == b'.')
            }),
            SenderPattern::Glob(g) => g.matches(address),
        }
    }
}

#[cfg(test)]
mod tests;
