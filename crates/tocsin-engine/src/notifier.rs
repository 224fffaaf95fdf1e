//! What the engine asks of a desktop notifier. The notify-rust implementation lives
//! in the app crate; tests drive the real one over a private D-Bus.

use tocsin_model::Tier;

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
    #[error("no notification service is running on this desktop; alerts show in the tray and the window only")]
    NoServer,
    #[error("the notification service failed: {0}")]
    Failed(String),
}

/// Shows alerts. Called from a blocking thread, one alert at a time.
pub trait Notifier: Send + Sync + 'static {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError>;
    /// Takes down the alert of `event_id`, if one is showing (it was read elsewhere).
    fn withdraw(&self, _event_id: i64) {}
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
