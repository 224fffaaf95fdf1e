//! The aggregate state shown by the tray and the window, and the task that
//! publishes it when it changes (at most every 100 ms).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tocsin_supervisor::{AccountStatus, ConnState};
use ts_rs::TS;

use crate::{Shared, Update};

/// Everything the tray and the window header show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Snapshot {
    pub accounts: Vec<AccountStatus>,
    pub unread_urgent: u32,
    pub paused: bool,
    /// When a timed pause ends (ms since the epoch); null when not paused or paused until resumed.
    #[ts(type = "number | null")]
    pub paused_until_ms: Option<i64>,
    pub demo: bool,
    /// Why new events cannot be saved right now, if they cannot.
    pub store_error: Option<String>,
    /// Why alerts cannot be shown right now, in words, if they cannot.
    pub notifier_error: Option<String>,
    /// Why alerts cannot be shown, as a type (null when they can).
    pub notifier_cause: Option<crate::NotifierCause>,
    /// Why account keys cannot be read (keychain locked or missing), if they cannot.
    pub keychain_error: Option<String>,
}

/// The state the tray icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    Connected,
    Reconnecting,
    Offline,
    Error,
    Paused,
    UnreadUrgent,
}

impl Snapshot {
    /// The single state that best sums up this snapshot for the tray icon.
    pub fn tray_state(&self) -> TrayState {
        let any = |f: &dyn Fn(&ConnState) -> bool| self.accounts.iter().any(|a| f(&a.state));
        if any(&|s| matches!(s, ConnState::Closed { fatal: true, .. })) || self.store_error.is_some() || self.keychain_error.is_some() {
            TrayState::Error
        } else if self.paused {
            TrayState::Paused
        } else if self.unread_urgent > 0 {
            TrayState::UnreadUrgent
        } else if any(&|s| matches!(s, ConnState::Reconnecting { .. } | ConnState::Connecting | ConnState::Authenticating)) {
            TrayState::Reconnecting
        } else if self.accounts.is_empty() || any(&|s| matches!(s, ConnState::Closed { .. })) {
            TrayState::Offline
        } else {
            TrayState::Connected
        }
    }

    /// One line for the tray menu and tooltip: "Connected · 2 unread urgent".
    pub fn summary(&self) -> String {
        let connected = self.accounts.iter().filter(|a| matches!(a.state, ConnState::Subscribed | ConnState::Open)).count();
        let mut s = if self.keychain_error.is_some() {
            "Keychain unavailable: keys cannot be read".to_owned()
        } else if self.accounts.is_empty() {
            "No accounts".to_owned()
        } else if connected == self.accounts.len() {
            "Connected".to_owned()
        } else {
            format!("{connected} of {} connected", self.accounts.len())
        };
        if let Some(until) = self.paused_until_ms {
            s.push_str(&format!(" · paused until {}", local_hh_mm(until)));
        } else if self.paused {
            s.push_str(" · notifications paused");
        }
        s.push_str(&format!(" · {} unread urgent", self.unread_urgent));
        if let Some(cause) = self.notifier_cause {
            s.push_str(" · alerts cannot be shown: ");
            s.push_str(match cause {
                crate::NotifierCause::NoServer => "no notification service",
                crate::NotifierCause::NoSessionBus => "no session bus",
                crate::NotifierCause::Failed => "the notification service failed",
            });
        }
        s
    }
}

fn local_hh_mm(ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) => t.format("%H:%M").to_string(),
        _ => "later".into(),
    }
}

pub(crate) async fn publish_loop(shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.dirty.notified() => {}
        }
        let _ = shared.updates.send(Update::Status(shared.snapshot()));
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_model::Provider;

    fn snap(states: Vec<ConnState>, unread: u32, paused: bool) -> Snapshot {
        Snapshot {
            accounts: states
                .into_iter()
                .enumerate()
                .map(|(i, s)| AccountStatus { state: s, ..AccountStatus::new(&format!("a{i}"), Provider::Daimon) })
                .collect(),
            unread_urgent: unread,
            paused,
            paused_until_ms: None,
            demo: false,
            store_error: None,
            notifier_error: None,
            notifier_cause: None,
            keychain_error: None,
        }
    }

    #[test]
    fn tray_state_priorities() {
        let sub = ConnState::Subscribed;
        let rec = ConnState::Reconnecting { attempt: 1, delay_ms: 1000 };
        let fatal = ConnState::Closed { reason: "401".into(), fatal: true };
        assert_eq!(snap(vec![sub.clone()], 0, false).tray_state(), TrayState::Connected);
        assert_eq!(snap(vec![sub.clone(), rec.clone()], 0, false).tray_state(), TrayState::Reconnecting);
        assert_eq!(snap(vec![sub.clone()], 2, false).tray_state(), TrayState::UnreadUrgent);
        assert_eq!(snap(vec![sub.clone()], 2, true).tray_state(), TrayState::Paused);
        assert_eq!(snap(vec![sub.clone(), fatal], 2, true).tray_state(), TrayState::Error);
        assert_eq!(snap(vec![], 0, false).tray_state(), TrayState::Offline);
        assert_eq!(snap(vec![sub.clone(), rec], 3, false).summary(), "1 of 2 connected · 3 unread urgent");
        let no_server = Snapshot { notifier_cause: Some(crate::NotifierCause::NoServer), ..snap(vec![sub], 0, false) };
        assert_eq!(no_server.summary(), "Connected · 0 unread urgent · alerts cannot be shown: no notification service");
        assert_eq!(no_server.tray_state(), TrayState::Connected, "a warning, not an error of the accounts");
    }
}
