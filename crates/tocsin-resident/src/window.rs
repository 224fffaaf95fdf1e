//! The history window as a process: `tocsin-window`, started on demand (the
//! tray, a notification's Open, a second launch, `tocsin open`), never two.
//!
//! Owns: finding the window's program, starting it with the event to show,
//! knowing whether a window is connected (it says so on the control socket), and
//! sending an open window the event to focus. A window that crashes is logged;
//! this process carries on. Must not: link or load WebKit.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tocsin_control::{ClientInfo, Clients, Push};
use tocsin_engine::{ErrorCode, IpcError};

/// How long a started window may take to connect before another Open starts a new one.
const START_GRACE: Duration = Duration::from_secs(20);

pub struct WindowLauncher {
    clients: Clients,
    state: Mutex<State>,
    /// The window processes this process started and that still run (to close
    /// them on Quit); each is removed when it exits, so a reused pid is never signalled.
    children: std::sync::Arc<Mutex<Vec<u32>>>,
}

#[derive(Default)]
struct State {
    /// The connected window client.
    connected: Option<u64>,
    /// A window this process started that has not connected yet, and when.
    starting: Option<(u32, Instant)>,
    /// An event to show once the starting window subscribes.
    pending: Option<i64>,
}

/// The window's program: `TOCSIN_WINDOW_BIN`, else `tocsin-window` beside this
/// program, else on the `PATH`.
pub fn window_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOCSIN_WINDOW_BIN") {
        return PathBuf::from(p);
    }
    if let Some(beside) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("tocsin-window"))) {
        if beside.exists() {
            return beside;
        }
    }
    PathBuf::from("tocsin-window")
}

impl WindowLauncher {
    pub fn new(clients: Clients) -> Self {
        WindowLauncher { clients, state: Mutex::default(), children: std::sync::Arc::default() }
    }

    /// Shows the window at `event` (or as it was): focuses the open one, or starts one.
    pub fn open(&self, event: Option<i64>) -> Result<(), IpcError> {
        let mut state = self.state.lock().unwrap();
        if let Some(id) = state.connected {
            if self.clients.send_to(id, Push::Focus { event }) {
                return Ok(());
            }
            state.connected = None;
        }
        if let Some((_, at)) = state.starting {
            if at.elapsed() < START_GRACE {
                if event.is_some() {
                    state.pending = event;
                }
                return Ok(());
            }
        }
        let bin = window_binary();
        let mut command = tokio::process::Command::new(&bin);
        if let Some(id) = event {
            command.arg("--focus").arg(id.to_string());
        }
        command.stdin(std::process::Stdio::null()).kill_on_drop(false);
        let mut child = command.spawn().map_err(|e| {
            IpcError::new(ErrorCode::NotFound, format!("cannot start the history window ({}): {e}", bin.display()))
        })?;
        let pid = child.id().unwrap_or(0);
        tracing::info!(pid, "started the history window");
        state.starting = Some((pid, Instant::now()));
        state.pending = None;
        drop(state);
        self.children.lock().unwrap().push(pid);
        let children = self.children.clone();
        tokio::spawn(async move {
            match child.wait().await {
                Ok(s) if s.success() => tracing::info!(pid, "the history window closed"),
                Ok(s) => tracing::warn!(pid, "the history window exited abnormally ({s}); Tocsin keeps running"),
                Err(e) => tracing::warn!(pid, "cannot wait for the history window: {e}"),
            }
            children.lock().unwrap().retain(|p| *p != pid);
        });
        Ok(())
    }

    /// A window said hello: refused when another is connected (which is brought
    /// to the front instead).
    pub fn admit(&self, client: &ClientInfo) -> Result<(), IpcError> {
        let mut state = self.state.lock().unwrap();
        if let Some(id) = state.connected {
            if id != client.id && self.clients.send_to(id, Push::Focus { event: None }) {
                return Err(IpcError::new(ErrorCode::WindowOpen, "the history window is already open; it was brought to the front"));
            }
        }
        state.connected = Some(client.id);
        state.starting = None;
        tracing::info!(pid = client.pid, "the history window connected");
        Ok(())
    }

    /// The window subscribed: it can be sent the event it was asked to show meanwhile.
    pub fn subscribed(&self, id: u64) {
        let pending = self.state.lock().unwrap().pending.take();
        if let Some(event) = pending {
            self.clients.send_to(id, Push::Focus { event: Some(event) });
        }
    }

    /// The window's connection closed (it was closed, crashed, or lost the socket).
    pub fn gone(&self, client: &ClientInfo) {
        let mut state = self.state.lock().unwrap();
        if state.connected == Some(client.id) {
            state.connected = None;
        }
    }

    /// Asks every window this process started to close (SIGTERM), on Quit.
    pub fn close(&self) {
        let children = std::mem::take(&mut *self.children.lock().unwrap());
        for pid in children.into_iter().filter(|p| *p != 0) {
            if let Ok(pid) = i32::try_from(pid) {
                // A window that already exited answers ESRCH: nothing to do.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
        }
    }
}
