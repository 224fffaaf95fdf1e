//! The state of one account's connection, as the tray and the window show it.

use serde::{Deserialize, Serialize};
use tocsin_model::Provider;

use crate::driver::Cause;
use ts_rs::TS;

/// The connection state machine of PROTOCOLS.md section 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum ConnState {
    Connecting,
    Authenticating,
    Open,
    Subscribed,
    #[serde(rename_all = "camelCase")]
    Reconnecting {
        attempt: u32,
        #[ts(type = "number")]
        delay_ms: u64,
    },
    /// Stopped. `fatal` means it will not retry by itself (bad key, refused).
    Closed { reason: String, fatal: bool },
}

impl ConnState {
    /// A short phrase for the tray and logs.
    pub fn describe(&self) -> String {
        match self {
            ConnState::Connecting => "connecting".into(),
            ConnState::Authenticating => "authenticating".into(),
            ConnState::Open => "connected".into(),
            ConnState::Subscribed => "connected".into(),
            ConnState::Reconnecting { attempt, delay_ms } => {
                format!("reconnecting (attempt {attempt}, in {:.0} s)", (*delay_ms as f64 / 1000.0).ceil())
            }
            ConnState::Closed { reason, .. } => format!("stopped: {reason}"),
        }
    }
}

/// One account's connection, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AccountStatus {
    pub account: String,
    pub provider: Provider,
    pub state: ConnState,
    pub last_error: Option<String>,
    /// What the last error was, for code (the words are in `last_error`).
    #[serde(default)]
    pub cause: Option<Cause>,
    #[ts(type = "number")]
    pub events_received: u64,
    /// `websocket`, or `sse` while on a provider's SSE fallback.
    pub transport: String,
    /// When reconnecting: when the next attempt is due (ms since the epoch). Filled
    /// in by the engine from the state's delay.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub next_retry_at_ms: Option<i64>,
}

impl AccountStatus {
    pub fn new(account: &str, provider: Provider) -> Self {
        AccountStatus {
            account: account.to_owned(),
            provider,
            state: ConnState::Connecting,
            last_error: None,
            cause: None,
            next_retry_at_ms: None,
            events_received: 0,
            transport: "websocket".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialise_as_the_ui_expects() {
        let r = serde_json::to_value(ConnState::Reconnecting { attempt: 3, delay_ms: 4000 }).unwrap();
        assert_eq!(r, serde_json::json!({"state":"reconnecting","attempt":3,"delayMs":4000}));
        let c = serde_json::to_value(ConnState::Closed { reason: "bad key".into(), fatal: true }).unwrap();
        assert_eq!(c, serde_json::json!({"state":"closed","reason":"bad key","fatal":true}));
        assert_eq!(ConnState::Reconnecting { attempt: 2, delay_ms: 1500 }.describe(), "reconnecting (attempt 2, in 2 s)");
    }
}
