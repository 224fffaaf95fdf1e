//! A D-Bus monitor on a [`PrivateBus`] (`org.freedesktop.DBus.Monitoring.BecomeMonitor`,
//! what `dbus-monitor` does), recording the notification traffic between the app
//! and whatever server owns `org.freedesktop.Notifications`: every `Notify` call
//! with the id the server answered (a call the server refused is recorded with its
//! error), `CloseNotification` calls, and the server's `ActionInvoked` and
//! `NotificationClosed` signals. It is the witness of what a real server (dunst,
//! xfce4-notifyd, notification-daemon) received; it sends nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use zbus::message::Type;

use crate::bus::PrivateBus;
use crate::notifications::{NotifyArgs, Recorded, NAME};

/// A signal the notification server emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSignal {
    ActionInvoked { id: u32, key: String },
    NotificationClosed { id: u32, reason: u32 },
}

#[derive(Default)]
struct Seen {
    /// `Notify` calls waiting for their reply: (sender, serial) → call.
    pending: HashMap<(String, u32), Recorded>,
    answered: Vec<Recorded>,
    refused: Vec<(Recorded, String)>,
    closes: Vec<u32>,
    signals: Vec<ServerSignal>,
}

/// The running monitor; stops when dropped.
pub struct BusMonitor {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl BusMonitor {
    /// Becomes a monitor of every message on `bus` (the private bus allows it).
    pub async fn start(bus: &PrivateBus) -> BusMonitor {
        let conn = bus.connection().await;
        let proxy = zbus::fdo::MonitoringProxy::new(&conn).await.expect("Monitoring proxy");
        proxy.become_monitor(&[], 0).await.expect("BecomeMonitor on the private bus");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            let mut stream = zbus::MessageStream::from(&conn);
            while let Some(Ok(msg)) = stream.next().await {
                let header = msg.header();
                let member = header.member().map(|m| m.to_string()).unwrap_or_default();
                let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
                let iface = header.interface().map(|i| i.to_string()).unwrap_or_default();
                let mut seen = record.lock().unwrap();
                match msg.message_type() {
                    Type::MethodCall if iface == NAME && member == "Notify" => {
                        if let Ok(call) = msg.body().deserialize::<NotifyArgs>() {
                            let r = Recorded::new(0, call, sender.clone());
                            seen.pending.insert((sender, header.primary().serial_num().get()), r);
                        }
                    }
                    Type::MethodCall if iface == NAME && member == "CloseNotification" => {
                        if let Ok(id) = msg.body().deserialize::<u32>() {
                            seen.closes.push(id);
                        }
                    }
                    Type::MethodReturn | Type::Error => {
                        let (Some(dest), Some(serial)) = (header.destination(), header.reply_serial()) else { continue };
                        let Some(mut call) = seen.pending.remove(&(dest.to_string(), serial.get())) else { continue };
                        if msg.message_type() == Type::Error {
                            let name = header.error_name().map(|e| e.to_string()).unwrap_or_default();
                            seen.refused.push((call, name));
                        } else if let Ok(id) = msg.body().deserialize::<u32>() {
                            call.id = id;
                            seen.answered.push(call);
                        }
                    }
                    Type::Signal if iface == NAME && member == "ActionInvoked" => {
                        if let Ok((id, key)) = msg.body().deserialize::<(u32, String)>() {
                            seen.signals.push(ServerSignal::ActionInvoked { id, key });
                        }
                    }
                    Type::Signal if iface == NAME && member == "NotificationClosed" => {
                        if let Ok((id, reason)) = msg.body().deserialize::<(u32, u32)>() {
                            seen.signals.push(ServerSignal::NotificationClosed { id, reason });
                        }
                    }
                    _ => {}
                }
            }
        });
        BusMonitor { seen, task }
    }

    /// `Notify` calls the server answered (with the id it returned), in order.
    pub fn answered(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().answered.clone()
    }

    /// `Notify` calls answered with an error, and the error's name.
    pub fn refused(&self) -> Vec<(Recorded, String)> {
        self.seen.lock().unwrap().refused.clone()
    }

    /// Ids the app closed with `CloseNotification`.
    pub fn closes(&self) -> Vec<u32> {
        self.seen.lock().unwrap().closes.clone()
    }

    /// The server's signals, in order.
    pub fn signals(&self) -> Vec<ServerSignal> {
        self.seen.lock().unwrap().signals.clone()
    }

    /// Waits for an answered `Notify` whose summary contains `needle`.
    pub async fn wait_for_summary(&self, needle: &str, timeout: Duration) -> Recorded {
        crate::wait_for(&format!("a Notify with {needle:?} answered by the server"), timeout, || async {
            self.answered().into_iter().find(|r| r.summary.contains(needle))
        })
        .await
    }

    /// Waits until the server emitted `signal`.
    pub async fn wait_for_signal(&self, signal: &ServerSignal, timeout: Duration) {
        crate::wait_for(&format!("the server to emit {signal:?}"), timeout, || async {
            self.signals().contains(signal).then_some(())
        })
        .await
    }
}

impl Drop for BusMonitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}
