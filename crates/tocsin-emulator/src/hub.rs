//! What every emulated provider shares: accepted keys, the live stream of
//! published frames, connection counters, the log of client frames, and the
//! failure scenarios tests and demos script.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// A frame on the live stream.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A JSON frame for matching subscribers.
    Frame(Arc<Value>),
    /// Raw text sent as is to every connection (malformed, oversized, unknown frames).
    Raw(Arc<str>),
    /// A hostile scenario each connection plays (huge frames, floods, ...).
    Hostile(Arc<crate::hostile::Hostile>),
}

/// Shared state of one emulated provider.
pub struct Hub {
    keys: Mutex<HashSet<String>>,
    live: broadcast::Sender<Outbound>,
    kick: broadcast::Sender<()>,
    connections: AtomicUsize,
    total_connections: AtomicU64,
    rejected_auth: AtomicU64,
    published: AtomicU64,
    commands: Mutex<Vec<Value>>,
    /// Half-open: stop reading client frames and answering pings, send nothing.
    silent: AtomicBool,
    /// Slow delivery: a pause before each frame sent to a client, in ms.
    delay_ms: AtomicU64,
    /// The last published frames, for REST listings (backfill).
    history: Mutex<std::collections::VecDeque<Arc<Value>>>,
}

/// Published frames kept for REST listings.
const HISTORY_CAP: usize = 10_000;

impl Hub {
    pub fn new(keys: &[String]) -> Arc<Hub> {
        Hub::with_capacity(keys, 1 << 16)
    }

    /// A hub whose live channel holds `capacity` frames for a slow client.
    pub fn with_capacity(keys: &[String], capacity: usize) -> Arc<Hub> {
        Arc::new(Hub {
            keys: Mutex::new(keys.iter().cloned().collect()),
            live: broadcast::channel(capacity.max(16)).0,
            kick: broadcast::channel(4).0,
            connections: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            rejected_auth: AtomicU64::new(0),
            published: AtomicU64::new(0),
            commands: Mutex::new(Vec::new()),
            silent: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            history: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    pub fn add_key(&self, key: &str) {
        self.keys.lock().unwrap().insert(key.to_owned());
    }

    pub fn accepts(&self, key: Option<&str>) -> bool {
        let ok = key.is_some_and(|k| self.keys.lock().unwrap().contains(k));
        if !ok {
            self.rejected_auth.fetch_add(1, Ordering::SeqCst);
        }
        ok
    }

    /// Sends `frame` to every connection whose subscription matches it.
    pub fn publish(&self, frame: Value) {
        self.published.fetch_add(1, Ordering::SeqCst);
        let frame = Arc::new(frame);
        {
            let mut h = self.history.lock().unwrap();
            h.push_back(frame.clone());
            while h.len() > HISTORY_CAP {
                h.pop_front();
            }
        }
        let _ = self.live.send(Outbound::Frame(frame));
    }

    /// Every frame published so far (the last 10 000), oldest first.
    pub fn history(&self) -> Vec<Arc<Value>> {
        self.history.lock().unwrap().iter().cloned().collect()
    }

    /// Sends `text` verbatim to every connection (for malformed or oversized frames).
    pub fn publish_raw(&self, text: &str) {
        let _ = self.live.send(Outbound::Raw(Arc::from(text)));
    }

    /// Plays a hostile scenario on every connection.
    pub fn hostile(&self, h: crate::hostile::Hostile) {
        let _ = self.live.send(Outbound::Hostile(Arc::new(h)));
    }

    pub fn subscribe(&self) -> (broadcast::Receiver<Outbound>, broadcast::Receiver<()>) {
        (self.live.subscribe(), self.kick.subscribe())
    }

    /// Closes every connection abruptly (no close frame).
    pub fn drop_connections(&self) {
        let _ = self.kick.send(());
    }

    /// Half-open connections: stop reading, stop answering pings, send nothing.
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    /// Slow delivery: wait `delay` before sending each frame (0 = off).
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Waits the configured slow-delivery delay, if any.
    pub async fn pace(&self) {
        let ms = self.delay_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }

    pub fn silent(&self) -> bool {
        self.silent.load(Ordering::SeqCst)
    }

    pub fn record(&self, frame: Value) {
        self.commands.lock().unwrap().push(frame);
    }

    pub fn commands(&self) -> Vec<Value> {
        self.commands.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn total_connections(&self) -> u64 {
        self.total_connections.load(Ordering::SeqCst)
    }

    /// Counts a connection for as long as the guard lives.
    pub fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::SeqCst);
        self.total_connections.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard(self.clone())
    }

    pub fn stats(&self) -> Value {
        json!({
            "connections": self.connections(),
            "total_connections": self.total_connections(),
            "rejected_auth": self.rejected_auth.load(Ordering::SeqCst),
            "published": self.published.load(Ordering::SeqCst),
            "commands": self.commands.lock().unwrap().len(),
        })
    }
}

/// The failure scenarios every emulated provider supports, so the control API
/// treats them alike.
pub trait Scenarios: Send + Sync {
    /// Sends `text` verbatim to every connection (malformed, oversized, unknown frames).
    fn publish_raw(&self, text: &str);
    /// Closes every connection abruptly (no close frame).
    fn drop_connections(&self);
    /// Half-open connections: stop reading, stop answering pings, send nothing.
    fn set_silent(&self, silent: bool);
    /// Slow delivery: wait `delay` before each frame (0 = off).
    fn set_delay(&self, delay: std::time::Duration);
    /// A hostile server: every connection plays `h` (see [`crate::hostile`]).
    fn hostile(&self, h: crate::hostile::Hostile);
    /// The server restarts: every connection drops, and what it kept only in memory
    /// (replay buffers, redelivery queues) is lost; what it stored (REST listings,
    /// the sync log) stays.
    fn restart(&self) {
        self.drop_connections()
    }
}

impl Scenarios for Hub {
    fn publish_raw(&self, text: &str) {
        Hub::publish_raw(self, text)
    }
    fn drop_connections(&self) {
        Hub::drop_connections(self)
    }
    fn set_silent(&self, silent: bool) {
        Hub::set_silent(self, silent)
    }
    fn set_delay(&self, delay: std::time::Duration) {
        Hub::set_delay(self, delay)
    }
    fn hostile(&self, h: crate::hostile::Hostile) {
        Hub::hostile(self, h)
    }
}

/// Decrements the connection count on drop.
pub struct ConnectionGuard(Arc<Hub>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}
