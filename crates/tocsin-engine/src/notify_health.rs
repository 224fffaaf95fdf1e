//! Whether alerts can be shown, in the snapshot: the last word of the notifier,
//! from a `Notify` call (the pipeline) or from its health watch
//! ([`Notifier::health`](crate::Notifier::health): a notification server appeared
//! on the bus or left it), so "alerts cannot be shown" is known before the first
//! alert and cleared as soon as a server appears. Each change is logged once.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{NotifyError, Shared};

/// Records what the notifier last said about alerts (from a `Notify` call or from
/// its health watch) in the snapshot; logs each change once.
pub(crate) fn record(shared: &Shared, error: Option<NotifyError>) {
    let mut current = shared.notifier_error.lock().unwrap();
    if *current == error {
        return;
    }
    match &error {
        None => tracing::info!("notifications work again"),
        Some(e) => tracing::warn!("{e}"),
    }
    *current = error;
    drop(current);
    shared.touch();
}

/// Copies the notifier's health into the snapshot until `cancel`.
pub(crate) async fn watch_health(shared: Arc<Shared>, mut health: watch::Receiver<Option<NotifyError>>, cancel: CancellationToken) {
    loop {
        let now = health.borrow_and_update().clone();
        record(&shared, now);
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = health.changed() => if changed.is_err() { return },
        }
    }
}
