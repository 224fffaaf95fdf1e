//! The one owner of Tocsin's stored settings: the urgency rules, the attention
//! policy (quiet hours, coalescing, repeats), the pause and history retention.
//!
//! Owns: the settings keys in the history database, how each value is encoded
//! (rules as normalised TOML, the others as JSON), validation on the way in (with
//! the refused input's field named in the [`IpcError`]), and the pause menu's
//! choices ([`PauseChoice`]). The running engine, the window (through the control
//! socket) and the CLI with no Tocsin running all read and write through here.
//!
//! Must not: keep a copy of a value. The engine holds the live value it uses; this
//! module only reads and writes the stored one.

use chrono::{DateTime, TimeZone};
use tocsin_model::rules::{CompiledRuleSet, RuleError, RuleSet};
use tocsin_store::{Retention, Store};

use crate::attention::{self, AttentionError, AttentionSettings, Pause};
use crate::{ErrorCode, IpcError};

const RULES: &str = "rules";
const ATTENTION: &str = "attention";
const PAUSE: &str = "pause";
const RETENTION: &str = "retention";

/// The pause menu's choices (the tray, the window and `tocsin pause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum PauseChoice {
    Hour,
    Tomorrow,
    Forever,
    Resume,
}

impl PauseChoice {
    /// The pause this choice means at `now`.
    pub fn at<Tz: TimeZone>(self, now: &DateTime<Tz>) -> Pause {
        match self {
            PauseChoice::Hour => attention::pause_for_hour(now),
            PauseChoice::Tomorrow => attention::pause_until_tomorrow(now),
            PauseChoice::Forever => Pause::Forever,
            PauseChoice::Resume => attention::resume(),
        }
    }

    /// `1h`, `tomorrow`, `forever`, `off`/`resume`, as `tocsin pause` takes them.
    pub fn parse(s: &str) -> Option<PauseChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "1h" | "hour" | "an-hour" => Some(PauseChoice::Hour),
            "tomorrow" => Some(PauseChoice::Tomorrow),
            "forever" | "until-resumed" => Some(PauseChoice::Forever),
            "off" | "resume" => Some(PauseChoice::Resume),
            _ => None,
        }
    }
}

/// A refused rule set, with the rule's field (`rules[2].subject_regex`) when one is named.
pub fn rule_error(e: RuleError) -> IpcError {
    let field = match &e {
        RuleError::Invalid { index, field, .. } => Some(format!("rules[{index}].{field}")),
        _ => None,
    };
    let error = IpcError::new(ErrorCode::InvalidArgument, e.to_string());
    match field {
        Some(f) => error.with_field(f),
        None => error,
    }
}

/// Refused attention settings, with the field (`quiet_hours[1].start`).
pub fn attention_error(e: AttentionError) -> IpcError {
    IpcError::new(ErrorCode::InvalidArgument, e.to_string()).with_field(e.field)
}

fn internal(e: impl std::fmt::Display) -> IpcError {
    IpcError::new(ErrorCode::Internal, e.to_string())
}

/// Checks rules given as TOML; returns them compiled.
pub fn compile_rules(toml: &str) -> Result<CompiledRuleSet, IpcError> {
    RuleSet::from_toml(toml).and_then(|r| r.compile()).map_err(rule_error)
}

/// The stored rule set, or the defaults. A stored set that no longer validates is
/// reported and replaced by the defaults for this run (it stays stored).
pub async fn rules(store: &Store) -> CompiledRuleSet {
    match store.setting(RULES).await {
        Ok(Some(toml)) => match RuleSet::from_toml(&toml).and_then(|r| r.compile()) {
            Ok(c) => return c,
            Err(e) => tracing::error!("the saved rules are not valid ({e}); using the default rules"),
        },
        Ok(None) => {}
        Err(e) => tracing::error!("the saved rules could not be read ({e}); using the default rules"),
    }
    CompiledRuleSet::defaults().clone()
}

/// Validates `toml` and stores it (normalised). Nothing is stored when it is refused.
pub async fn save_rules(store: &Store, toml: &str) -> Result<CompiledRuleSet, IpcError> {
    let compiled = compile_rules(toml)?;
    let normalized = compiled.rule_set().to_toml().map_err(internal)?;
    store.set_setting(RULES, &normalized).await?;
    Ok(compiled)
}

/// The stored attention settings, or the defaults.
pub async fn attention(store: &Store) -> AttentionSettings {
    load_json(store, ATTENTION).await.unwrap_or_default()
}

/// Validates and stores the attention settings.
pub async fn save_attention(store: &Store, settings: &AttentionSettings) -> Result<(), IpcError> {
    settings.validate().map_err(attention_error)?;
    store.set_setting(ATTENTION, &serde_json::to_string(settings).map_err(internal)?).await?;
    Ok(())
}

/// The stored pause (off when none is stored).
pub async fn pause(store: &Store) -> Pause {
    load_json(store, PAUSE).await.unwrap_or(Pause::Off)
}

pub async fn save_pause(store: &Store, pause: Pause) -> Result<(), IpcError> {
    store.set_setting(PAUSE, &serde_json::to_string(&pause).map_err(internal)?).await?;
    Ok(())
}

/// How much history is kept.
pub async fn retention(store: &Store) -> Retention {
    load_json(store, RETENTION).await.unwrap_or_default()
}

pub async fn save_retention(store: &Store, retention: &Retention) -> Result<(), IpcError> {
    store.set_setting(RETENTION, &serde_json::to_string(retention).map_err(internal)?).await?;
    Ok(())
}

async fn load_json<T: serde::de::DeserializeOwned>(store: &Store, key: &str) -> Option<T> {
    let text = store.setting(key).await.ok().flatten()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!("the saved {key} setting is not valid ({e}); using the default");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_words_parse() {
        assert_eq!(PauseChoice::parse("1h"), Some(PauseChoice::Hour));
        assert_eq!(PauseChoice::parse("Tomorrow"), Some(PauseChoice::Tomorrow));
        assert_eq!(PauseChoice::parse("forever"), Some(PauseChoice::Forever));
        assert_eq!(PauseChoice::parse("resume"), Some(PauseChoice::Resume));
        assert_eq!(PauseChoice::parse("2h"), None);
    }

    #[test]
    fn a_refused_rule_names_its_field() {
        let e = compile_rules("[[rules]]\nname = \"x\"\nwhen = { subject_regex = \"(open\" }\nthen = { tier = \"urgent\" }\n").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.field.as_deref(), Some("rules[1].subject_regex"));
    }
}
