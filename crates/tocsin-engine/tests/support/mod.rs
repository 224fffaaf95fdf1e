//! What the engine's integration tests share: a notifier that records alerts in
//! memory, and waiting for a condition (never for a fixed time).

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Mutex;
use std::time::Duration;

use tocsin_engine::{Alert, Notifier, NotifyError};

/// Records every alert.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Alert>>);

impl Notifier for Recorder {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(alert.clone());
        Ok(())
    }
}

/// A session bus with no notification server.
pub struct NoServer;

impl Notifier for NoServer {
    fn notify(&self, _: &Alert) -> Result<(), NotifyError> {
        Err(NotifyError::NoServer)
    }
}

/// Polls `f` every 10 ms until it holds; panics after 10 s.
pub async fn wait_until(f: impl FnMut() -> bool) {
    wait_until_for(Duration::from_secs(10), f).await
}

/// Polls `f` every 10 ms until it holds; panics after `limit`.
pub async fn wait_until_for(limit: Duration, mut f: impl FnMut() -> bool) {
    tokio::time::timeout(limit, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("condition not met in {limit:?}"));
}
