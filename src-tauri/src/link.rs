//! The window's connection to the resident `tocsin` process: the control socket
//! for calls and the live stream, and the history database read-only.
//!
//! [`run`] keeps the connection: it connects as a window, opens the history the
//! resident names, subscribes, and forwards new rows, status snapshots and
//! "show this event" to the page. When the resident goes away (restarted,
//! crashed) the page is told, and the link reconnects when a resident is back.
//! A resident of another protocol version, or a window already open elsewhere,
//! ends the attempt with the resident's own error.

use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};
use tocsin_control::{Client, Push, Request, Role};
use tocsin_engine::reader::Reader;
use tocsin_engine::{ErrorCode, IpcError};

/// The connection as the page shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LinkState {
    /// Connected to a running Tocsin.
    pub connected: bool,
    /// Why not, in words, and whether it will try again.
    #[ts(optional = nullable)]
    pub error: Option<IpcError>,
    pub retrying: bool,
}

/// The connection and the history reader, shared with the commands.
#[derive(Default)]
pub struct Link {
    client: tokio::sync::RwLock<Option<Client>>,
    reader: tokio::sync::RwLock<Option<Reader>>,
    state: std::sync::Mutex<Option<LinkState>>,
}

fn not_running() -> IpcError {
    IpcError::new(ErrorCode::NotRunning, "Tocsin is not running: start it from your applications or with `tocsin`; this window reconnects by itself")
}

impl Link {
    /// Sends `request` to the resident and returns its typed answer.
    pub async fn call<T: serde::de::DeserializeOwned>(&self, request: Request) -> Result<T, IpcError> {
        let client = self.client.read().await.clone().ok_or_else(not_running)?;
        client.call(request).await
    }

    /// The history, read-only.
    pub async fn reader(&self) -> Result<Reader, IpcError> {
        self.reader.read().await.clone().ok_or_else(not_running)
    }

    pub fn state(&self) -> LinkState {
        self.state.lock().unwrap().clone().unwrap_or(LinkState { connected: false, error: None, retrying: true })
    }

    fn set_state<R: Runtime>(&self, app: &AppHandle<R>, state: LinkState) {
        *self.state.lock().unwrap() = Some(state.clone());
        let _ = app.emit(crate::EVENT_LINK, state);
    }
}

/// Keeps the link to the resident until the window closes.
pub async fn run<R: Runtime>(app: AppHandle<R>, link: std::sync::Arc<Link>) {
    let mut delay = Duration::from_millis(200);
    loop {
        let path = match tocsin_control::socket_path() {
            Ok(p) => p,
            Err(e) => {
                link.set_state(&app, LinkState { connected: false, error: Some(e), retrying: false });
                return;
            }
        };
        match Client::connect(&path, Role::Window).await {
            Ok((client, welcome)) => {
                delay = Duration::from_millis(200);
                if let Err(e) = session(&app, &link, client, &welcome.history).await {
                    tracing::warn!("the link to Tocsin failed: {e}");
                }
                *link.client.write().await = None;
                link.set_state(&app, LinkState { connected: false, error: Some(IpcError::new(ErrorCode::NotRunning, "Tocsin stopped; this window reconnects when it is back")), retrying: true });
            }
            Err(e) if e.code == ErrorCode::WindowOpen => {
                tracing::info!("{}", e.message);
                app.exit(0);
                return;
            }
            Err(e) if e.code == ErrorCode::NotRunning => {
                link.set_state(&app, LinkState { connected: false, error: Some(not_running()), retrying: true });
            }
            Err(e) => {
                // Another version, or refused: the resident's words, and try again slowly
                // (an upgrade may replace it).
                tracing::warn!("Tocsin refused this window: {}", e.message);
                link.set_state(&app, LinkState { connected: false, error: Some(e), retrying: true });
                delay = Duration::from_secs(5);
            }
        }
        tokio::time::sleep(delay).await;
        if delay < Duration::from_secs(2) {
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

/// One connected session: until the resident goes away.
async fn session<R: Runtime>(app: &AppHandle<R>, link: &Link, client: Client, history: &std::path::Path) -> Result<(), IpcError> {
    let reader = Reader::open(history).await?;
    if let Some(old) = link.reader.write().await.replace(reader) {
        old.close().await;
    }
    let mut pushes = client.subscribe().await?;
    *link.client.write().await = Some(client.clone());
    link.set_state(app, LinkState { connected: true, error: None, retrying: false });
    let snapshot: tocsin_engine::Snapshot = client.call(Request::Status).await?;
    let _ = app.emit_to(crate::window::MAIN, crate::EVENT_STATUS, &snapshot);
    while let Some(push) = pushes.recv().await {
        match push {
            Push::Stored(item) => {
                let _ = app.emit_to(crate::window::MAIN, crate::EVENT_HISTORY, &item);
            }
            Push::Status(snapshot) => {
                let _ = app.emit_to(crate::window::MAIN, crate::EVENT_STATUS, &snapshot);
            }
            Push::Focus { event } => crate::window::focus_event(app, event),
        }
    }
    Ok(())
}
