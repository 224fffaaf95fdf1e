//! A notification server that records every `Notify` call: it owns
//! `org.freedesktop.Notifications` on a private bus, as a desktop's would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;

use crate::bus::PrivateBus;

/// One recorded `Notify` call.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub id: u32,
    pub app_name: String,
    pub replaces_id: u32,
    pub app_icon: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    /// The `urgency` hint (0 low, 1 normal, 2 critical).
    pub urgency: Option<u8>,
    pub desktop_entry: Option<String>,
    pub hint_names: Vec<String>,
    pub expire_timeout: i32,
}

#[derive(Default)]
struct Inner {
    recorded: Mutex<Vec<Recorded>>,
    closed: Mutex<Vec<u32>>,
}

struct Server {
    inner: Arc<Inner>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let mut recorded = self.inner.recorded.lock().unwrap();
        let id = if replaces_id != 0 { replaces_id } else { recorded.len() as u32 + 1 };
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let desktop_entry = hints.get("desktop-entry").and_then(|v| String::try_from(v.try_clone().ok()?).ok());
        let mut hint_names: Vec<String> = hints.keys().cloned().collect();
        hint_names.sort();
        recorded.push(Recorded {
            id,
            app_name,
            replaces_id,
            app_icon,
            summary,
            body,
            actions,
            urgency,
            desktop_entry,
            hint_names,
            expire_timeout,
        });
        id
    }

    async fn close_notification(&self, id: u32) {
        self.inner.closed.lock().unwrap().push(id);
    }

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into(), "body-markup".into()]
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        ("tocsin-recorder".into(), "tocsin-tests".into(), "1.0".into(), "1.2".into())
    }

    #[zbus(signal)]
    async fn action_invoked(emitter: &SignalEmitter<'_>, id: u32, action_key: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(emitter: &SignalEmitter<'_>, id: u32, reason: u32) -> zbus::Result<()>;
}

/// The recording server. Stops when dropped (its connection closes).
pub struct RecordingNotificationServer {
    inner: Arc<Inner>,
    conn: zbus::Connection,
}

impl RecordingNotificationServer {
    pub async fn start(bus: &PrivateBus) -> RecordingNotificationServer {
        let inner = Arc::new(Inner::default());
        let conn = zbus::connection::Builder::address(bus.address())
            .expect("address")
            .name("org.freedesktop.Notifications")
            .expect("name")
            .serve_at("/org/freedesktop/Notifications", Server { inner: inner.clone() })
            .expect("serve")
            .build()
            .await
            .expect("own org.freedesktop.Notifications");
        RecordingNotificationServer { inner, conn }
    }

    /// Every notification so far.
    pub fn notifications(&self) -> Vec<Recorded> {
        self.inner.recorded.lock().unwrap().clone()
    }

    /// Ids the app asked to close.
    pub fn closed(&self) -> Vec<u32> {
        self.inner.closed.lock().unwrap().clone()
    }

    /// Waits until at least `n` notifications arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        crate::wait_for(&format!("{n} notifications"), timeout, || async {
            let all = self.notifications();
            (all.len() >= n).then_some(all)
        })
        .await
    }

    /// Emits `ActionInvoked(id, key)`, as a click on the action would.
    pub async fn invoke_action(&self, id: u32, key: &str) {
        let emitter = SignalEmitter::new(&self.conn, "/org/freedesktop/Notifications").expect("path");
        Server::action_invoked(&emitter, id, key).await.expect("emit ActionInvoked");
    }

    /// Emits `NotificationClosed(id, reason)`.
    pub async fn close(&self, id: u32, reason: u32) {
        let emitter = SignalEmitter::new(&self.conn, "/org/freedesktop/Notifications").expect("path");
        Server::notification_closed(&emitter, id, reason).await.expect("emit NotificationClosed");
    }
}
