//! A notification server for latency: owns `org.freedesktop.Notifications` on a
//! private bus (as `tocsin_e2e::notifications` does) and, for every `Notify`, takes
//! the CLOCK_MONOTONIC arrival time the moment the call is dispatched, next to the
//! send time the harness wrote into the event's subject (`... t=<ns>`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use zbus::zvariant::OwnedValue;

use crate::mono_ns;

pub const NAME: &str = "org.freedesktop.Notifications";
pub const PATH: &str = "/org/freedesktop/Notifications";

/// One `Notify` call: arrival time and the send time parsed from its summary.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub arrived_ns: u64,
    /// `t=<ns>` from the summary, when present.
    pub sent_ns: Option<u64>,
    pub summary: String,
}

#[derive(Default)]
struct Inner {
    arrivals: Mutex<Vec<Arrival>>,
    next_id: AtomicU32,
    count: AtomicU64,
}

struct Server {
    inner: Arc<Inner>,
}

/// The send time written as `t=<digits>` in `summary`.
pub fn sent_ns(summary: &str) -> Option<u64> {
    let start = summary.find("t=")? + 2;
    let digits: String = summary[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        _app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        _body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let arrived_ns = mono_ns();
        let sent = sent_ns(&summary);
        self.inner.arrivals.lock().unwrap().push(Arrival { arrived_ns, sent_ns: sent, summary });
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        if replaces_id != 0 {
            replaces_id
        } else {
            self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1
        }
    }

    async fn close_notification(&self, _id: u32) {}

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        ("tocsin-bench-recorder".into(), "tocsin-bench".into(), env!("CARGO_PKG_VERSION").into(), "1.2".into())
    }
}

/// The running server; releases the name when dropped.
pub struct LatencyRecorder {
    inner: Arc<Inner>,
    _conn: zbus::Connection,
}

impl LatencyRecorder {
    pub async fn start(address: &str) -> anyhow::Result<LatencyRecorder> {
        let inner = Arc::new(Inner::default());
        let conn = zbus::connection::Builder::address(address)?.serve_at(PATH, Server { inner: inner.clone() })?.build().await?;
        let reply = conn.request_name_with_flags(NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into()).await?;
        anyhow::ensure!(reply == zbus::fdo::RequestNameReply::PrimaryOwner, "{NAME} is already owned on this bus");
        Ok(LatencyRecorder { inner, _conn: conn })
    }

    /// How many `Notify` calls arrived so far.
    pub fn count(&self) -> u64 {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// Takes every arrival recorded so far.
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.inner.arrivals.lock().unwrap())
    }
}
