//! What the engine asks of a desktop notifier, and why alerts cannot be shown. The
//! D-Bus implementation lives in the app crate; tests drive the real one over a
//! private D-Bus.
//!
//! Owns: [`Alert`], [`AlertAction`], [`NotifyError`] with its typed
//! [`NotifierCause`] (what the tray, the window and `tocsin status --json` show),
//! and [`Notifier::health`], a notifier's own view of whether alerts can be shown
//! (`notify_health.rs` copies it into the snapshot).

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tocsin_model::Tier;
use ts_rs::TS;

/// One alert to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The history id of the event.
    pub event_id: i64,
    pub account: String,
    pub tier: Tier,
    pub summary: String,
    pub body: String,
    /// A sound the user's rule asked for (a freedesktop sound name).
    pub sound: Option<String>,
}

/// Why an alert could not be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The session bus answers, but nothing owns (or can start)
    /// `org.freedesktop.Notifications`.
    #[error("alerts cannot be shown: no notification service is running on this desktop (events are still stored and shown in the tray and the window)")]
    NoServer,
    /// There is no session bus to reach a notification service on.
    #[error("alerts cannot be shown: there is no D-Bus session bus (events are still stored and shown in the window)")]
    NoSessionBus,
    /// The notification service answered with an error.
    #[error("alerts cannot be shown: the notification service failed: {0}")]
    Failed(String),
}

impl NotifyError {
    /// The cause, as the window and `tocsin status --json` receive it.
    pub fn cause(&self) -> NotifierCause {
        match self {
            NotifyError::NoServer => NotifierCause::NoServer,
            NotifyError::NoSessionBus => NotifierCause::NoSessionBus,
            NotifyError::Failed(_) => NotifierCause::Failed,
        }
    }
}

/// Why alerts cannot be shown, as a type (the words are in `notifierError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum NotifierCause {
    /// No notification server on the session bus.
    NoServer,
    /// No session bus at all.
    NoSessionBus,
    /// The server refused or failed the call.
    Failed,
}

/// Shows alerts. Called from a blocking thread, one alert at a time.
pub trait Notifier: Send + Sync + 'static {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError>;
    /// Takes down the alert of `event_id`, if one is showing (it was read elsewhere).
    fn withdraw(&self, _event_id: i64) {}
    /// The notifier's own view of whether alerts can be shown (`None` = they can),
    /// updated when a notification server appears or leaves; `None` here when the
    /// notifier cannot tell before it tries.
    fn health(&self) -> Option<watch::Receiver<Option<NotifyError>>> {
        None
    }
}

/// What the user did with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    /// Clicked it, or chose "Open": show the event.
    Open(i64),
    /// Chose "Mark read".
    MarkRead(i64),
    /// Dismissed it.
    Dismissed(i64),
}

/// A notifier that only logs (for runs where notifications are off).
#[derive(Debug, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        tracing::info!(event = alert.event_id, account = %alert.account, tier = alert.tier.as_str(), "alert");
        tracing::debug!(event = alert.event_id, "alert: {}", alert.summary);
        Ok(())
    }
}
