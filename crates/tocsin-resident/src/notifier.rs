//! Desktop notifications. On Linux and the BSDs they are `Notify` calls to
//! `org.freedesktop.Notifications` over **one long-lived session-bus connection**
//! (zbus, `notifier/bus.rs`), the same connection that listens for the server's
//! `ActionInvoked` and `NotificationClosed` signals; elsewhere notify-rust shows
//! them. Works without GTK, so the headless mode uses it too.
//!
//! Why not notify-rust's `show()` on Linux: it opens, authenticates and closes a
//! new bus connection for every notification, which was most of Tocsin's
//! send-to-notification latency (BENCHMARKS.md).
//!
//! What an alert carries depends on the server's capabilities, read with
//! `GetCapabilities` once per server (`notifier/message.rs` says what each one
//! changes): the body escaped for `body-markup` servers and plain otherwise; the
//! actions "Open" (the default action, a click where the server has one) and
//! "Mark read" where the server has `actions`, and otherwise a line saying to open
//! it from the tray or with `tocsin open`; always the urgency hint of its tier
//! (critical for urgent, which never expires) and the `desktop-entry` hint.
//!
//! The listener turns `ActionInvoked` and `NotificationClosed` for our
//! notifications into [`AlertAction`]s; alerts read elsewhere are withdrawn with
//! `CloseNotification`. It also watches the server come and go
//! ([`Notifier::health`]): with none, the tray and the window say alerts cannot be
//! shown (a typed [`NotifyError`]), and the next server that appears is used. When
//! the bus connection breaks, the next call opens a new one and the listener
//! re-subscribes on it.

#[cfg(all(unix, not(target_os = "macos")))]
mod bus;
pub mod message;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::mpsc;
use tocsin_engine::{Alert, AlertAction, Notifier, NotifyError};

/// Open notifications: notification id ⇄ event id.
#[derive(Debug, Default)]
struct Showing {
    by_notification: HashMap<u32, i64>,
    by_event: HashMap<i64, u32>,
}

impl Showing {
    fn remember(&mut self, notification: u32, event: i64) {
        if self.by_notification.len() >= SHOWING_CAP {
            self.by_notification.clear();
            self.by_event.clear();
        }
        self.by_notification.insert(notification, event);
        self.by_event.insert(event, notification);
    }
}

/// At most this many notifications are remembered for actions.
const SHOWING_CAP: usize = 4096;

/// The desktop notifier.
#[derive(Debug)]
pub struct DesktopNotifier {
    showing: Arc<Mutex<Showing>>,
    actions: mpsc::UnboundedSender<AlertAction>,
    /// The session-bus connection shared by calls and the listener, and what is
    /// known of the server on it.
    #[cfg(all(unix, not(target_os = "macos")))]
    bus: Arc<bus::Shared>,
    /// Notification ids to close, handled by the listener.
    close_tx: mpsc::UnboundedSender<u32>,
    close_rx: Mutex<Option<mpsc::UnboundedReceiver<u32>>>,
}

impl DesktopNotifier {
    /// A notifier and the stream of what the user does with its alerts. Call
    /// [`DesktopNotifier::listen`] from a tokio runtime to receive actions.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<AlertAction>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (close_tx, close_rx) = mpsc::unbounded_channel();
        let notifier = DesktopNotifier {
            showing: Arc::default(),
            actions: tx,
            #[cfg(all(unix, not(target_os = "macos")))]
            bus: Arc::default(),
            close_tx,
            close_rx: Mutex::new(Some(close_rx)),
        };
        (notifier, rx)
    }

    /// Listens on the session bus for actions on our notifications and for the
    /// server coming and going, reconnecting when the bus connection breaks (and
    /// every 30 s while there is no session bus).
    pub fn listen(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let showing = self.showing.clone();
        let actions = self.actions.clone();
        let closes = self.close_rx.lock().unwrap().take();
        #[cfg(all(unix, not(target_os = "macos")))]
        let shared = self.bus.clone();
        async move {
            let Some(closes) = closes else { return };
            #[cfg(all(unix, not(target_os = "macos")))]
            bus::listen(shared, showing, actions, closes).await;
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            let _ = (showing, actions, closes);
        }
    }
}

/// Tocsin's own icon as a file the notification server can read (written once to
/// the temp directory); the themed `mail-message-new` when that fails.
fn app_icon() -> &'static str {
    static ICON: OnceLock<String> = OnceLock::new();
    ICON.get_or_init(|| {
        let path = std::env::temp_dir().join("tocsin-icon-128.png");
        let bytes: &[u8] = include_bytes!("../../../icons/128x128.png");
        let ok = std::fs::read(&path).map(|b| b == bytes).unwrap_or(false) || std::fs::write(&path, bytes).is_ok();
        if ok {
            path.display().to_string()
        } else {
            "mail-message-new".into()
        }
    })
}

impl Notifier for DesktopNotifier {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        #[cfg(all(unix, not(target_os = "macos")))]
        let id = self.bus.notify(|caps| message::Message::new(alert, caps), app_icon())?;
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let id = {
            use notify_rust::{Notification, Timeout};
            use tocsin_model::Tier;
            let mut n = Notification::new();
            n.appname("Tocsin").summary(&alert.summary).body(&alert.body).icon(app_icon());
            n.action(message::ACTION_OPEN, "Open").action(message::ACTION_MARK_READ, "Mark read");
            n.timeout(if alert.tier == Tier::Urgent { Timeout::Never } else { Timeout::Default });
            if let Some(sound) = &alert.sound {
                n.sound_name(sound);
            }
            n.show().map_err(|e| NotifyError::Failed(e.to_string()))?.id()
        };
        self.showing.lock().unwrap().remember(id, alert.event_id);
        Ok(())
    }

    fn withdraw(&self, event_id: i64) {
        let id = {
            let mut s = self.showing.lock().unwrap();
            let id = s.by_event.remove(&event_id);
            if let Some(id) = id {
                s.by_notification.remove(&id);
            }
            id
        };
        if let Some(id) = id {
            let _ = self.close_tx.send(id);
        }
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    fn health(&self) -> Option<tokio::sync::watch::Receiver<Option<NotifyError>>> {
        Some(self.bus.health())
    }
}
