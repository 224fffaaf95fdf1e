//! The freedesktop.org notification protocol over one session-bus connection
//! (zbus): `GetCapabilities` and `GetServerInformation` once per server, `Notify`,
//! `CloseNotification`, the `ActionInvoked` / `NotificationClosed` signals (dunst
//! sends them to the `Notify` caller only, so calls and listener share the
//! connection), and whether a server is there at all (`NameHasOwner`, activatable
//! names, `NameOwnerChanged`), published as the notifier's health.
//!
//! Failures are classified by their D-Bus error type, never by text: the connection
//! cannot be opened → no session bus; `ServiceUnknown`, `NameHasNoOwner` or a failed
//! activation (`Spawn.*`) → no server; any other error → the server failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tocsin_engine::{AlertAction, NotifyError};
use zbus6::fdo::Error as Fdo;
use zbus6::Variant as Value;

use super::message::{Caps, Message, ACTION_MARK_READ, ACTION_OPEN};
use super::Showing;

const DEST: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// The connection (opened on first use, dropped when found broken) and what is
/// known of the server on it.
#[derive(Debug)]
pub(super) struct Shared {
    conn: Mutex<Option<zbus6::Connection>>,
    /// The current server's capabilities; cleared when the server changes.
    caps: Mutex<Option<Caps>>,
    health: watch::Sender<Option<NotifyError>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared { conn: Mutex::default(), caps: Mutex::default(), health: watch::channel(None).0 }
    }
}

/// What a failed call means, by its type: `Some` when the server (or the bus
/// daemon for it) answered with an error, `None` for a connection-level failure
/// (worth one more try on a new connection). zbus reports the bus's own error
/// names (`ServiceUnknown`, `NameHasNoOwner`, the `Spawn.*` activation failures)
/// as [`zbus6::Error::FDO`], other error replies as `MethodError`.
fn classify(e: zbus6::Error) -> Option<NotifyError> {
    match e {
        zbus6::Error::FDO(fdo) => Some(match *fdo {
            Fdo::ServiceUnknown(_)
            | Fdo::NameHasNoOwner(_)
            | Fdo::SpawnExecFailed(_)
            | Fdo::SpawnForkFailed(_)
            | Fdo::SpawnChildExited(_)
            | Fdo::SpawnChildSignaled(_)
            | Fdo::SpawnFailed(_)
            | Fdo::SpawnServiceNotFound(_)
            | Fdo::SpawnServiceNotValid(_) => NotifyError::NoServer,
            other => NotifyError::Failed(other.to_string()),
        }),
        e @ zbus6::Error::MethodError(..) => Some(NotifyError::Failed(e.to_string())),
        _ => None,
    }
}

impl Shared {
    pub(super) fn health(&self) -> watch::Receiver<Option<NotifyError>> {
        self.health.subscribe()
    }

    fn set_health(&self, now: Option<NotifyError>) {
        self.health.send_if_modified(|h| {
            let changed = *h != now;
            *h = now;
            changed
        });
    }

    async fn connection(&self) -> Result<zbus6::Connection, NotifyError> {
        if let Some(c) = self.conn.lock().unwrap().clone() {
            return Ok(c);
        }
        let fresh = zbus6::Connection::session().await.map_err(|e| {
            tracing::debug!("no session bus: {e}");
            NotifyError::NoSessionBus
        })?;
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

    /// Shows `message` on the current server (its capabilities read first, once)
    /// from a blocking thread of a tokio runtime; a connection-level failure drops
    /// the connection and tries once more on a new one.
    pub(super) fn notify(&self, message: impl Fn(&Caps) -> Message, icon: &str) -> Result<u32, NotifyError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| NotifyError::Failed("no async runtime for the session bus".into()))?;
        handle.block_on(async {
            let mut last = NotifyError::NoSessionBus;
            for _ in 0..2 {
                let conn = self.connection().await?;
                let result = async {
                    let caps = self.caps(&conn).await?;
                    notify_call(&conn, &message(&caps), icon).await
                }
                .await;
                match result {
                    Ok(id) => return Ok(id),
                    Err(e) => {
                        let text = e.to_string();
                        match classify(e) {
                            Some(answered) => {
                                if answered == NotifyError::NoServer {
                                    *self.caps.lock().unwrap() = None;
                                }
                                return Err(answered);
                            }
                            None => {
                                tracing::debug!("notification call failed on the bus connection: {text}");
                                last = NotifyError::Failed(text);
                                self.broken(&conn);
                            }
                        }
                    }
                }
            }
            Err(last)
        })
    }

    /// The server's capabilities, asked once per server (and logged with its name).
    async fn caps(&self, conn: &zbus6::Connection) -> zbus6::Result<Caps> {
        if let Some(c) = self.caps.lock().unwrap().clone() {
            return Ok(c);
        }
        let reply = conn.call_method(Some(DEST), PATH, Some(DEST), "GetCapabilities", &()).await?;
        let caps = Caps::from_list(reply.body().deserialize()?);
        let info = match conn.call_method(Some(DEST), PATH, Some(DEST), "GetServerInformation", &()).await {
            Ok(r) => r.body().deserialize::<(String, String, String, String)>().map(|(n, v, ver, _)| format!("{n} {ver} ({v})")),
            Err(e) => Err(e),
        }
        .unwrap_or_else(|_| "a notification server".into());
        tracing::info!("notifications go to {info}; capabilities: {}", caps.all.join(", "));
        *self.caps.lock().unwrap() = Some(caps.clone());
        Ok(caps)
    }
}

async fn notify_call(conn: &zbus6::Connection, m: &Message, icon: &str) -> zbus6::Result<u32> {
    let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
    hints.insert("urgency", Value::U8(m.urgency));
    hints.insert("desktop-entry", Value::from("tocsin"));
    hints.insert("category", Value::from("email.arrived"));
    if let Some(sound) = &m.sound {
        hints.insert("sound-name", Value::from(sound.as_str()));
    }
    let reply = conn
        .call_method(
            Some(DEST),
            PATH,
            Some(DEST),
            "Notify",
            &("Tocsin", 0u32, icon, m.summary.as_str(), m.body.as_str(), &m.actions[..], hints, m.timeout),
        )
        .await?;
    reply.body().deserialize()
}

/// Listens for our notifications' signals, closes withdrawn ones and watches the
/// server come and go, on the shared connection; re-subscribes on a new one when it
/// breaks, and keeps trying (every 30 s) while there is no session bus.
pub(super) async fn listen(
    shared: Arc<Shared>,
    showing: Arc<Mutex<Showing>>,
    actions: mpsc::UnboundedSender<AlertAction>,
    mut closes: mpsc::UnboundedReceiver<u32>,
) {
    loop {
        let conn = match shared.connection().await {
            Ok(c) => c,
            Err(e) => {
                shared.set_health(Some(e));
                // No bus now; try again later (a desktop session may start one).
                tokio::time::sleep(Duration::from_secs(30)).await;
                continue;
            }
        };
        match serve(&conn, &shared, &showing, &actions, &mut closes).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => tracing::debug!("notification signals: {e}"),
        }
        shared.broken(&conn);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether a notification server runs, or can be started, on the bus.
async fn server_present(dbus: &zbus6::fdo::DBusProxy<'_>) -> zbus6::Result<bool> {
    let name = zbus6::names::BusName::try_from(DEST)?;
    if dbus.name_has_owner(name).await? {
        return Ok(true);
    }
    Ok(dbus.list_activatable_names().await?.iter().any(|n| n.as_str() == DEST))
}

/// Serves one connection: `Ok(true)` when the notifier is gone, `Ok(false)` or an
/// error when the connection is.
async fn serve(
    conn: &zbus6::Connection,
    shared: &Shared,
    showing: &Mutex<Showing>,
    actions: &mpsc::UnboundedSender<AlertAction>,
    closes: &mut mpsc::UnboundedReceiver<u32>,
) -> zbus6::Result<bool> {
    let rule = zbus6::MatchRule::builder().msg_type(zbus6::message::Type::Signal).interface(DEST).path(PATH).build()?;
    let mut stream = zbus6::MessageStream::for_match_rule(rule, conn, None).await?;
    let dbus = zbus6::fdo::DBusProxy::new(conn).await?;
    let mut owners = dbus.receive_name_owner_changed_with_args(&[(0, DEST)]).await?;
    let present = server_present(&dbus).await?;
    shared.set_health((!present).then_some(NotifyError::NoServer));
    loop {
        let msg = tokio::select! {
            id = closes.recv() => {
                let Some(id) = id else { return Ok(true) };
                if let Err(e) = conn.call_method(Some(DEST), PATH, Some(DEST), "CloseNotification", &(id,)).await {
                    tracing::debug!("could not close notification {id}: {e}");
                }
                continue;
            }
            change = owners.next() => {
                let Some(change) = change else { return Ok(false) };
                // Another server (or none): its capabilities are asked again.
                *shared.caps.lock().unwrap() = None;
                let gained = change.args().map(|a| a.new_owner().is_some()).unwrap_or(false);
                let present = gained || server_present(&dbus).await?;
                shared.set_health((!present).then_some(NotifyError::NoServer));
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
                    // "open": the key of Tocsin before 0.1's two-action set.
                    ACTION_OPEN | "open" => AlertAction::Open(event),
                    ACTION_MARK_READ => AlertAction::MarkRead(event),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_type() {
        let unknown = zbus6::Error::FDO(Box::new(Fdo::ServiceUnknown("not provided by any .service files".into())));
        assert_eq!(classify(unknown), Some(NotifyError::NoServer));
        let spawn = zbus6::Error::FDO(Box::new(Fdo::SpawnChildExited("exited 1".into())));
        assert_eq!(classify(spawn), Some(NotifyError::NoServer));
        let refused = zbus6::Error::FDO(Box::new(Fdo::AccessDenied("no".into())));
        assert!(matches!(classify(refused), Some(NotifyError::Failed(_))));
        let io = zbus6::Error::InputOutput(Arc::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe)));
        assert_eq!(classify(io), None, "a broken connection is retried, not reported as the server's answer");
    }
}
