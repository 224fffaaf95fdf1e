//! A notification server that records every `Notify` call, as a desktop's would be
//! called: it owns `org.freedesktop.Notifications` at `/org/freedesktop/Notifications`
//! on a [`PrivateBus`], answers `Notify`, `CloseNotification`, `GetCapabilities` and
//! `GetServerInformation`, and can emit `ActionInvoked` / `NotificationClosed` to
//! simulate a click on an action or the user dismissing a notification.
//!
//! Capabilities are reported honestly: `actions` (this server can invoke them, see
//! [`RecordingNotificationServer::invoke_action`]) and `body`. It does not claim
//! `body-markup`: it renders nothing, so an app must not rely on markup being
//! interpreted, and the recorded body is exactly what the app sent.
//! [`RecordingNotificationServer::start_with_capabilities`] reports others, to see
//! what the app sends a server that has fewer (no `actions`, say).
//!
//! notify-rust only listens for `ActionInvoked` while `wait_for_action` runs, which
//! may start after the `Notify` reply: use
//! [`RecordingNotificationServer::invoke_action_until`] to re-emit until the app
//! shows it received the click.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};

use crate::bus::PrivateBus;

/// The well-known name, object path and interface of the notification server.
pub const NAME: &str = "org.freedesktop.Notifications";
/// See [`NAME`].
pub const PATH: &str = "/org/freedesktop/Notifications";

/// One recorded `Notify` call.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The id this server returned (a fresh one, or `replaces_id` when non-zero).
    pub id: u32,
    pub app_name: String,
    pub replaces_id: u32,
    pub app_icon: String,
    pub summary: String,
    pub body: String,
    /// Flat `[key, label, key, label, ...]`, as on the wire.
    pub actions: Vec<String>,
    /// The `urgency` hint (0 low, 1 normal, 2 critical), when sent as a byte.
    pub urgency: Option<u8>,
    /// The `desktop-entry` hint.
    pub desktop_entry: Option<String>,
    /// The `category` hint.
    pub category: Option<String>,
    /// Every hint, rendered as text: strings verbatim, other values in GVariant-like
    /// notation (`byte 2`, `true`, `42`, ...).
    pub hints: BTreeMap<String, String>,
    /// Hint names, sorted.
    pub hint_names: Vec<String>,
    pub expire_timeout: i32,
    /// The sender's unique bus name.
    pub sender: String,
}

/// `Notify`'s arguments, in the specification's order: app name, replaces id, icon,
/// summary, body, actions, hints, expire timeout.
pub type NotifyArgs = (String, u32, String, String, String, Vec<String>, HashMap<String, OwnedValue>, i32);

impl Recorded {
    /// A `Notify` call's arguments as recorded (also by [`crate::monitor`]).
    pub fn new(id: u32, call: NotifyArgs, sender: String) -> Recorded {
        let (app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout) = call;
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let string_hint = |name: &str| hints.get(name).and_then(|v| <&str>::try_from(v).ok()).map(str::to_owned);
        let rendered: BTreeMap<String, String> = hints.iter().map(|(k, v)| (k.clone(), render(v))).collect();
        Recorded {
            id,
            app_name,
            replaces_id,
            app_icon,
            summary,
            body,
            actions,
            urgency,
            desktop_entry: string_hint("desktop-entry"),
            category: string_hint("category"),
            hint_names: rendered.keys().cloned().collect(),
            hints: rendered,
            expire_timeout,
            sender,
        }
    }

    /// The action keys (`actions[0]`, `actions[2]`, ...).
    pub fn action_keys(&self) -> Vec<&str> {
        self.actions.iter().step_by(2).map(String::as_str).collect()
    }

    /// The label of action `key`.
    pub fn action_label(&self, key: &str) -> Option<&str> {
        self.actions.chunks(2).find(|c| c[0] == key).and_then(|c| c.get(1)).map(String::as_str)
    }
}

#[derive(Default)]
struct Inner {
    capabilities: Vec<String>,
    recorded: Mutex<Vec<Recorded>>,
    closed_by_app: Mutex<Vec<u32>>,
    next_id: Mutex<u32>,
}

struct Server {
    inner: Arc<Inner>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            let mut next = self.inner.next_id.lock().unwrap();
            *next += 1;
            *next
        };
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let call = (app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout);
        let recorded = Recorded::new(id, call, sender);
        self.inner.recorded.lock().unwrap().push(recorded);
        id
    }

    async fn close_notification(&self, id: u32, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) {
        self.inner.closed_by_app.lock().unwrap().push(id);
        // As a real server does: reason 3 = closed by a call to CloseNotification.
        let _ = Self::notification_closed(&emitter, id, 3).await;
    }

    async fn get_capabilities(&self) -> Vec<String> {
        self.inner.capabilities.clone()
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        ("tocsin-recorder".into(), "tocsin-e2e".into(), env!("CARGO_PKG_VERSION").into(), "1.2".into())
    }

    #[zbus(signal)]
    async fn action_invoked(emitter: &SignalEmitter<'_>, id: u32, action_key: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(emitter: &SignalEmitter<'_>, id: u32, reason: u32) -> zbus::Result<()>;
}

fn render(v: &Value<'_>) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::U8(b) => format!("byte {b}"),
        Value::Value(inner) => render(inner),
        other => other.to_string(),
    }
}

/// The recording server. It stops (releases the name) when dropped.
pub struct RecordingNotificationServer {
    inner: Arc<Inner>,
    conn: zbus::Connection,
}

impl RecordingNotificationServer {
    /// Connects to `bus`, serves the interface and owns `org.freedesktop.Notifications`
    /// (panics if something else already owns it).
    pub async fn start(bus: &PrivateBus) -> RecordingNotificationServer {
        Self::start_with_capabilities(bus, &["actions", "body"]).await
    }

    /// [`start`](Self::start) with these capabilities in `GetCapabilities`.
    pub async fn start_with_capabilities(bus: &PrivateBus, capabilities: &[&str]) -> RecordingNotificationServer {
        let inner = Arc::new(Inner { capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(), ..Inner::default() });
        let conn = zbus::connection::Builder::address(bus.address())
            .expect("bus address")
            .serve_at(PATH, Server { inner: inner.clone() })
            .expect("serve the notifications interface")
            .build()
            .await
            .expect("connect the notification server to the private bus");
        // Request without queueing so a second owner is an error, not a silent wait.
        let reply = conn
            .request_name_with_flags(NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into())
            .await
            .unwrap_or_else(|e| panic!("cannot own {NAME}: {e}"));
        assert_eq!(reply, zbus::fdo::RequestNameReply::PrimaryOwner, "{NAME} is already owned on this bus");
        RecordingNotificationServer { inner, conn }
    }

    /// Every notification so far, in arrival order.
    pub fn notifications(&self) -> Vec<Recorded> {
        self.inner.recorded.lock().unwrap().clone()
    }

    /// Ids the app asked to close with `CloseNotification`.
    pub fn closed(&self) -> Vec<u32> {
        self.inner.closed_by_app.lock().unwrap().clone()
    }

    /// Forgets what was recorded so far (ids keep increasing).
    pub fn clear(&self) {
        self.inner.recorded.lock().unwrap().clear();
    }

    /// Waits until at least `n` notifications arrived and returns all of them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.notifications();
            if all.len() >= n {
                return all;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {n} notification(s); got {}: {all:#?}", all.len());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for a notification whose summary contains `needle`.
    pub async fn wait_for_summary(&self, needle: &str, timeout: Duration) -> Recorded {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.notifications();
            if let Some(r) = all.iter().find(|r| r.summary.contains(needle)) {
                return r.clone();
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for a notification with {needle:?} in its summary; got {all:#?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Emits `ActionInvoked(id, key)` once, as a click on the action would.
    pub async fn invoke_action(&self, id: u32, key: &str) {
        Server::action_invoked(&self.emitter(), id, key).await.expect("emit ActionInvoked");
    }

    /// Emits `ActionInvoked(id, key)` every 200 ms until `done()` is true (the app
    /// reacted), then returns. Panics after `timeout`. Needed because notify-rust
    /// subscribes only when `wait_for_action` starts.
    pub async fn invoke_action_until<F: FnMut() -> bool>(&self, id: u32, key: &str, mut done: F, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut sent = 0;
        loop {
            if done() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("the app did not react to ActionInvoked({id}, {key:?}) within {timeout:?} ({sent} emitted)");
            }
            self.invoke_action(id, key).await;
            sent += 1;
            // Check often, re-emit every 200 ms.
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_millis(25)).await;
                if done() {
                    return;
                }
            }
        }
    }

    /// Async-predicate variant of [`RecordingNotificationServer::invoke_action_until`].
    pub async fn invoke_action_until_async<F, Fut>(&self, id: u32, key: &str, mut done: F, timeout: Duration)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done().await {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("the app did not react to ActionInvoked({id}, {key:?}) within {timeout:?}");
            }
            self.invoke_action(id, key).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Emits `NotificationClosed(id, reason)` (1 expired, 2 dismissed by the user,
    /// 3 closed by CloseNotification, 4 undefined).
    pub async fn close(&self, id: u32, reason: u32) {
        Server::notification_closed(&self.emitter(), id, reason).await.expect("emit NotificationClosed");
    }

    /// The server's own connection (its unique name is the notifications owner).
    pub fn connection(&self) -> &zbus::Connection {
        &self.conn
    }

    fn emitter(&self) -> SignalEmitter<'static> {
        SignalEmitter::new(&self.conn, PATH).expect("object path").into_owned()
    }
}
