//! Desktop notifications. On Linux and the BSDs they are `Notify` calls to
//! `org.freedesktop.Notifications` over **one long-lived session-bus connection**
//! (zbus), the same connection that listens for the server's `ActionInvoked` and
//! `NotificationClosed` signals; elsewhere notify-rust shows them. Works without
//! GTK, so the headless mode uses it too.
//!
//! Why not notify-rust's `show()` on Linux: it opens, authenticates and closes a
//! new bus connection for every notification, which was most of Tocsin's
//! send-to-notification latency (BENCHMARKS.md). The calls and hints are the
//! ones notify-rust sends.
//!
//! Each alert carries the actions "Open" (also the default action, a click) and
//! "Mark read", the urgency hint of its tier and the `desktop-entry` hint. The
//! listener turns `ActionInvoked` and `NotificationClosed` for our notifications
//! into [`AlertAction`]s; alerts read elsewhere are withdrawn with
//! `CloseNotification`. When the bus connection breaks, the next call opens a new
//! one and the listener re-subscribes on it.

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
    markup: OnceLock<bool>,
    showing: Arc<Mutex<Showing>>,
    actions: mpsc::UnboundedSender<AlertAction>,
    /// The session-bus connection shared by calls and the listener (`None` until
    /// first used, and again after it broke).
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
            markup: OnceLock::new(),
            showing: Arc::default(),
            actions: tx,
            #[cfg(all(unix, not(target_os = "macos")))]
            bus: Arc::default(),
            close_tx,
            close_rx: Mutex::new(Some(close_rx)),
        };
        (notifier, rx)
    }

    /// Listens on the session bus for actions on our notifications, reconnecting
    /// when the bus connection breaks. Without a session bus it logs once and
    /// returns.
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

fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// What a failed call means: no notification server (or bus), or something else.
fn classify(text: String) -> NotifyError {
    if ["ServiceUnknown", "NameHasNoOwner", "No such file", "Connection refused", "DBUS_SESSION_BUS_ADDRESS", "session bus"]
        .iter()
        .any(|m| text.contains(m))
    {
        NotifyError::NoServer
    } else {
        NotifyError::Failed(text)
    }
}

impl Notifier for DesktopNotifier {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        #[cfg(all(unix, not(target_os = "macos")))]
        let id = {
            let markup = *self.markup.get_or_init(|| self.bus.capabilities().map(|c| c.iter().any(|x| x == "body-markup")).unwrap_or(true));
            let body = if markup { escape_markup(&alert.body) } else { alert.body.clone() };
            self.bus.notify(alert, &body, app_icon()).map_err(classify)?
        };
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let id = {
            use notify_rust::{Notification, Timeout};
            use tocsin_model::Tier;
            let _ = (&self.markup, escape_markup);
            let mut n = Notification::new();
            n.appname("Tocsin").summary(&alert.summary).body(&alert.body).icon(app_icon());
            n.action("default", "Open").action("open", "Open").action("mark_read", "Mark read");
            n.timeout(if alert.tier == Tier::Urgent { Timeout::Never } else { Timeout::Default });
            if let Some(sound) = &alert.sound {
                n.sound_name(sound);
            }
            n.show().map_err(|e| classify(e.to_string()))?.id()
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
}

/// The freedesktop.org notification protocol over one session-bus connection.
#[cfg(all(unix, not(target_os = "macos")))]
mod bus {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::mpsc;
    use tocsin_engine::{Alert, AlertAction};
    use tocsin_model::Tier;
    use zbus6::Variant as Value;

    use super::Showing;

    const DEST: &str = "org.freedesktop.Notifications";
    const PATH: &str = "/org/freedesktop/Notifications";

    /// The connection, opened on first use and dropped when a call finds it broken.
    #[derive(Debug, Default)]
    pub(super) struct Shared {
        conn: Mutex<Option<zbus6::Connection>>,
    }

    impl Shared {
        async fn connection(&self) -> zbus6::Result<zbus6::Connection> {
            if let Some(c) = self.conn.lock().unwrap().clone() {
                return Ok(c);
            }
            let fresh = zbus6::Connection::session().await?;
            let mut slot = self.conn.lock().unwrap();
            // Another caller may have connected meanwhile: keep one.
            Ok(slot.get_or_insert(fresh).clone())
        }

        /// Forgets `conn` if it is still the shared one, so the next call reconnects.
        fn broken(&self, conn: &zbus6::Connection) {
            let mut slot = self.conn.lock().unwrap();
            if slot.as_ref().is_some_and(|c| c.unique_name() == conn.unique_name()) {
                *slot = None;
            }
        }

        /// Runs `f` on the connection from a blocking thread of a tokio runtime; a
        /// connection-level failure drops the connection and tries once more.
        fn call<T>(&self, f: impl AsyncCall<T>) -> Result<T, String> {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| "no async runtime for the session bus".to_owned())?;
            handle.block_on(async {
                let mut last = String::new();
                for _ in 0..2 {
                    let conn = self.connection().await.map_err(|e| e.to_string())?;
                    match f.call(&conn).await {
                        Ok(v) => return Ok(v),
                        Err(zbus6::Error::MethodError(name, text, _)) => {
                            return Err(format!("{name}: {}", text.unwrap_or_default()));
                        }
                        Err(e) => {
                            last = e.to_string();
                            self.broken(&conn);
                        }
                    }
                }
                Err(last)
            })
        }

        pub(super) fn capabilities(&self) -> Result<Vec<String>, String> {
            self.call(Capabilities)
        }

        pub(super) fn notify(&self, alert: &Alert, body: &str, icon: &str) -> Result<u32, String> {
            self.call(Notify { alert, body, icon })
        }
    }

    /// One method call on a connection (a trait, so `call` can retry it).
    pub(super) trait AsyncCall<T> {
        async fn call(&self, conn: &zbus6::Connection) -> zbus6::Result<T>;
    }

    struct Capabilities;

    impl AsyncCall<Vec<String>> for Capabilities {
        async fn call(&self, conn: &zbus6::Connection) -> zbus6::Result<Vec<String>> {
            let reply = conn.call_method(Some(DEST), PATH, Some(DEST), "GetCapabilities", &()).await?;
            reply.body().deserialize()
        }
    }

    struct Notify<'a> {
        alert: &'a Alert,
        body: &'a str,
        icon: &'a str,
    }

    impl AsyncCall<u32> for Notify<'_> {
        async fn call(&self, conn: &zbus6::Connection) -> zbus6::Result<u32> {
            let alert = self.alert;
            let urgency: u8 = match alert.tier {
                Tier::Urgent => 2,
                Tier::High | Tier::Normal => 1,
                Tier::Low => 0,
            };
            let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
            hints.insert("urgency", Value::U8(urgency));
            hints.insert("desktop-entry", Value::from("tocsin"));
            hints.insert("category", Value::from("email.arrived"));
            if let Some(sound) = &alert.sound {
                hints.insert("sound-name", Value::from(sound.as_str()));
            }
            let actions = ["default", "Open", "open", "Open", "mark_read", "Mark read"];
            // 0 = never expires (urgent alerts stay until acted on); -1 = the server's default.
            let timeout: i32 = if alert.tier == Tier::Urgent { 0 } else { -1 };
            let reply = conn
                .call_method(
                    Some(DEST),
                    PATH,
                    Some(DEST),
                    "Notify",
                    &("Tocsin", 0u32, self.icon, alert.summary.as_str(), self.body, &actions[..], hints, timeout),
                )
                .await?;
            reply.body().deserialize()
        }
    }

    /// Listens for our notifications' signals and closes withdrawn ones, on the
    /// shared connection; re-subscribes on a new one when it breaks.
    pub(super) async fn listen(
        shared: Arc<Shared>,
        showing: Arc<Mutex<Showing>>,
        actions: mpsc::UnboundedSender<AlertAction>,
        mut closes: mpsc::UnboundedReceiver<u32>,
    ) {
        let mut warned = false;
        loop {
            let conn = match shared.connection().await {
                Ok(c) => c,
                Err(e) => {
                    if !warned {
                        tracing::warn!("notification actions are unavailable: {e}");
                        warned = true;
                    }
                    // No bus now; try again later (a desktop session may start one).
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    continue;
                }
            };
            match serve(&conn, &showing, &actions, &mut closes).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::debug!("notification signals: {e}"),
            }
            shared.broken(&conn);
            warned = false;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Serves one connection: `Ok(true)` when the notifier is gone, `Ok(false)` or
    /// an error when the connection is.
    async fn serve(
        conn: &zbus6::Connection,
        showing: &Mutex<Showing>,
        actions: &mpsc::UnboundedSender<AlertAction>,
        closes: &mut mpsc::UnboundedReceiver<u32>,
    ) -> zbus6::Result<bool> {
        use futures_util::StreamExt;
        let rule = zbus6::MatchRule::builder().msg_type(zbus6::message::Type::Signal).interface(DEST).path(PATH).build()?;
        let mut stream = zbus6::MessageStream::for_match_rule(rule, conn, None).await?;
        loop {
            let msg = tokio::select! {
                id = closes.recv() => {
                    let Some(id) = id else { return Ok(true) };
                    if let Err(e) = conn.call_method(Some(DEST), PATH, Some(DEST), "CloseNotification", &(id,)).await {
                        tracing::debug!("could not close notification {id}: {e}");
                    }
                    continue;
                }
                msg = stream.next() => msg,
            };
            let Some(msg) = msg else { return Ok(false) };
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
                return Ok(true);
            }
        }
    }
}
