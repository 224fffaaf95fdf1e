//! Desktop notifications through notify-rust (D-Bus `org.freedesktop.Notifications`
//! on Linux). Works without GTK, so the headless mode uses it too.

use std::sync::OnceLock;

use notify_rust::{Hint, Notification, Timeout, Urgency};
use tocsin_engine::{Alert, Notifier, NotifyError};
use tocsin_model::Tier;

/// The notify-rust notifier.
#[derive(Debug, Default)]
pub struct DesktopNotifier {
    markup: OnceLock<bool>,
}

impl DesktopNotifier {
    pub fn new() -> Self {
        DesktopNotifier::default()
    }

    /// Whether the server interprets markup in bodies (then untrusted text is escaped).
    fn body_markup(&self) -> bool {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            *self.markup.get_or_init(|| {
                notify_rust::get_capabilities().map(|c| c.iter().any(|x| x == "body-markup")).unwrap_or(true)
            })
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            let _ = &self.markup;
            false
        }
    }
}

fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Notifier for DesktopNotifier {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        let body = if self.body_markup() { escape_markup(&alert.body) } else { alert.body.clone() };
        let mut n = Notification::new();
        n.appname("Tocsin").summary(&alert.summary).body(&body).icon("mail-message-new");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.hint(Hint::DesktopEntry("tocsin".into()));
            n.hint(Hint::Category("email.arrived".into()));
            n.urgency(match alert.tier {
                Tier::Urgent => Urgency::Critical,
                Tier::High | Tier::Normal => Urgency::Normal,
                Tier::Low => Urgency::Low,
            });
        }
        n.timeout(if alert.tier == Tier::Urgent { Timeout::Never } else { Timeout::Default });
        n.show().map(|_| ()).map_err(|e| {
            let text = e.to_string();
            if ["ServiceUnknown", "NameHasNoOwner", "No such file", "Connection refused", "DBUS_SESSION_BUS_ADDRESS", "session bus"]
                .iter()
                .any(|m| text.contains(m))
            {
                NotifyError::NoServer
            } else {
                NotifyError::Failed(text)
            }
        })
    }
}
