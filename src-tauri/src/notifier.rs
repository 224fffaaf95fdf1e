//! Desktop notifications through notify-rust (D-Bus `org.freedesktop.Notifications`
//! on Linux). Works without GTK, so the headless mode uses it too.
//!
//! Each alert carries the actions "Open" (also the default action, a click) and
//! "Mark read", the urgency hint of its tier and the `desktop-entry` hint. A
//! listener on the session bus turns `ActionInvoked` and `NotificationClosed` for
//! our notifications into [`AlertAction`]s; alerts read elsewhere are withdrawn
//! with `CloseNotification`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use notify_rust::{Hint, Notification, Timeout, Urgency};
use tokio::sync::mpsc;
use tocsin_engine::{Alert, AlertAction, Notifier, NotifyError};
use tocsin_model::Tier;

/// Open notifications: notification id ⇄ event id.
#[derive(Debug, Default)]
struct Showing {
    by_notification: HashMap<u32, i64>,
    by_event: HashMap<i64, u32>,
}

/// At most this many notifications are remembered for actions.
const SHOWING_CAP: usize = 4096;

/// The notify-rust notifier.
#[derive(Debug)]
pub struct DesktopNotifier {
    markup: OnceLock<bool>,
    showing: Arc<Mutex<Showing>>,
    actions: mpsc::UnboundedSender<AlertAction>,
    /// Notification ids to close, handled by the listener's bus connection.
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
            markup: OnceLock::new(),
            showing: Arc::default(),
            actions: tx,
            close_tx,
            close_rx: Mutex::new(Some(close_rx)),
        };
        (notifier, rx)
    }

    /// Listens on the session bus for actions on our notifications. Returns when the
    /// bus goes away; without a session bus it logs once and returns.
    pub fn listen(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let showing = self.showing.clone();
        let actions = self.actions.clone();
        let closes = self.close_rx.lock().unwrap().take();
        async move {
            let Some(closes) = closes else { return };
            if let Err(e) = listen(showing, actions, closes).await {
                tracing::warn!("notification actions are unavailable: {e}");
            }
        }
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

async fn listen(
    showing: Arc<Mutex<Showing>>,
    actions: mpsc::UnboundedSender<AlertAction>,
    mut closes: mpsc::UnboundedReceiver<u32>,
) -> zbus6::Result<()> {
    use futures_util::StreamExt;
    let conn = zbus6::Connection::session().await?;
    let rule = zbus6::MatchRule::builder()
        .msg_type(zbus6::message::Type::Signal)
        .interface("org.freedesktop.Notifications")
        .path("/org/freedesktop/Notifications")
        .build()?;
    let mut stream = zbus6::MessageStream::for_match_rule(rule, &conn, None).await?;
    loop {
        let msg = tokio::select! {
            id = closes.recv() => {
                let Some(id) = id else { return Ok(()) };
                let closed = conn
                    .call_method(
                        Some("org.freedesktop.Notifications"),
                        "/org/freedesktop/Notifications",
                        Some("org.freedesktop.Notifications"),
                        "CloseNotification",
                        &(id,),
                    )
                    .await;
                if let Err(e) = closed {
                    tracing::debug!("could not close notification {id}: {e}");
                }
                continue;
            }
            msg = stream.next() => msg,
        };
        let Some(msg) = msg else { return Ok(()) };
        let Ok(msg) = msg else { continue };
        let header = msg.header();
        let member = header.member().map(|m| m.as_str().to_owned());
        let action = match member.as_deref() {
            Some("ActionInvoked") => {
                let Ok((id, key)) = msg.body().deserialize::<(u32, String)>() else { continue };
                let Some(event) = showing.lock().unwrap().by_notification.get(&id).copied() else { continue };
                match key.as_str() {
                    "default" | "open" => AlertAction::Open(event),
                    "mark_read" => AlertAction::MarkRead(event),
                    _ => continue,
                }
            }
            Some("NotificationClosed") => {
                let Ok((id, reason)) = msg.body().deserialize::<(u32, u32)>() else { continue };
                let mut s = showing.lock().unwrap();
                let Some(event) = s.by_notification.remove(&id) else { continue };
                s.by_event.remove(&event);
                // 2 = dismissed by the user; 1 expired, 3 closed by us: not an action.
                if reason != 2 {
                    continue;
                }
                AlertAction::Dismissed(event)
            }
            _ => continue,
        };
        if actions.send(action).is_err() {
            return Ok(());
        }
    }
}

/// Tocsin's own icon as a file the notification server can read (written once to
/// the temp directory); the themed `mail-message-new` when that fails.
fn app_icon() -> &'static str {
    static ICON: OnceLock<String> = OnceLock::new();
    ICON.get_or_init(|| {
        let path = std::env::temp_dir().join("tocsin-icon-128.png");
        let bytes: &[u8] = include_bytes!("../../icons/128x128.png");
        let ok = std::fs::read(&path).map(|b| b == bytes).unwrap_or(false) || std::fs::write(&path, bytes).is_ok();
        if ok {
            path.display().to_string()
        } else {
            "mail-message-new".into()
        }
    })
}

fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Notifier for DesktopNotifier {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        let body = if self.body_markup() { escape_markup(&alert.body) } else { alert.body.clone() };
        let mut n = Notification::new();
        n.appname("Tocsin").summary(&alert.summary).body(&body).icon(app_icon());
        n.action("default", "Open").action("open", "Open").action("mark_read", "Mark read");
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
        if let Some(sound) = &alert.sound {
            n.sound_name(sound);
        }
        let handle = n.show().map_err(|e| {
            let text = e.to_string();
            if ["ServiceUnknown", "NameHasNoOwner", "No such file", "Connection refused", "DBUS_SESSION_BUS_ADDRESS", "session bus"]
                .iter()
                .any(|m| text.contains(m))
            {
                NotifyError::NoServer
            } else {
                NotifyError::Failed(text)
            }
        })?;
        let mut s = self.showing.lock().unwrap();
        if s.by_notification.len() >= SHOWING_CAP {
            s.by_notification.clear();
            s.by_event.clear();
        }
        s.by_notification.insert(handle.id(), alert.event_id);
        s.by_event.insert(alert.event_id, handle.id());
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
}
