//! The event pipeline after the sockets: batch → classify → commit → publish →
//! notify. An event is committed to the history before anything else sees it, and
//! only events that were new (not duplicates) are published and notified, so an
//! event never raises two notifications.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tocsin_model::rules::default_tier;
use tocsin_model::{Event, HistoryItem, Tier};
use tocsin_store::{NewEvent, Store};

use std::collections::HashMap;

use tocsin_supervisor::Outgoing;

use crate::notifier::{Alert, Notifier, NotifyError};
use crate::{Shared, Update};

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 1024;

pub(crate) fn spawn(
    store: Store,
    shared: Arc<Shared>,
    events: mpsc::Receiver<Event>,
    notifier: Arc<dyn Notifier>,
    ackers: HashMap<String, mpsc::Sender<Outgoing>>,
) -> Vec<JoinHandle<()>> {
    let (alert_tx, alert_rx) = mpsc::channel::<Alert>(1024);
    vec![
        tokio::spawn(writer(store, shared.clone(), events, alert_tx, ackers)),
        tokio::spawn(notify_loop(shared, alert_rx, notifier)),
    ]
}

async fn writer(
    store: Store,
    shared: Arc<Shared>,
    mut events: mpsc::Receiver<Event>,
    alerts: mpsc::Sender<Alert>,
    ackers: HashMap<String, mpsc::Sender<Outgoing>>,
) {
    let mut buf = Vec::with_capacity(MAX_BATCH);
    while events.recv_many(&mut buf, MAX_BATCH).await > 0 {
        let batch: Vec<NewEvent> = buf
            .drain(..)
            .map(|event| {
                let tier = default_tier(&event);
                NewEvent { event, tier }
            })
            .collect();
        let stored = commit(&store, &shared, &batch).await;
        // Committed (new or duplicate): now the provider may forget them.
        for e in &batch {
            if let (Some(token), Some(tx)) = (&e.event.ack, ackers.get(&e.event.account)) {
                // A closed socket drops the ack; the provider redelivers and we dedupe.
                let _ = tx.try_send(Outgoing::Ack(token.clone()));
            }
        }
        for item in stored.into_iter().flatten() {
            let urgent = item.tier == Tier::Urgent;
            if urgent {
                shared.unread_urgent.fetch_add(1, Ordering::SeqCst);
                shared.touch();
            }
            let alert = urgent.then(|| alert_for(&item));
            let _ = shared.updates.send(Update::Stored(item));
            if let Some(alert) = alert {
                if !shared.paused.load(Ordering::SeqCst) {
                    let _ = alerts.send(alert).await;
                }
            }
        }
    }
}

/// Commits `batch`, retrying until it succeeds: a full or read-only disk holds the
/// events in memory (and the queue pushes back on the sockets) rather than losing them.
async fn commit(store: &Store, shared: &Shared, batch: &[NewEvent]) -> Vec<Option<HistoryItem>> {
    let mut delay = Duration::from_millis(100);
    loop {
        match store.insert_batch(batch).await {
            Ok(out) => {
                if shared.store_error.lock().unwrap().take().is_some() {
                    tracing::info!("the history is writable again");
                    shared.touch();
                }
                return out;
            }
            Err(e) => {
                let message = e.to_string();
                let changed = {
                    let mut current = shared.store_error.lock().unwrap();
                    let changed = current.as_deref() != Some(message.as_str());
                    *current = Some(message.clone());
                    changed
                };
                if changed {
                    tracing::error!("{} events wait to be saved: {message}", batch.len());
                    shared.touch();
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn alert_for(item: &HistoryItem) -> Alert {
    let summary = item.subject.clone().unwrap_or_else(|| item.provider_type.clone());
    let mut body = String::new();
    if let Some(sender) = &item.sender {
        body.push_str(&format!("From {sender}"));
    }
    if let Some(inbox) = &item.inbox {
        body.push_str(&format!("{}{inbox}", if body.is_empty() { "" } else { " · " }));
    }
    if let Some(excerpt) = &item.excerpt {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(excerpt);
    }
    Alert { event_id: item.id, account: item.account.clone(), tier: item.tier, summary, body }
}

async fn notify_loop(shared: Arc<Shared>, mut alerts: mpsc::Receiver<Alert>, notifier: Arc<dyn Notifier>) {
    while let Some(alert) = alerts.recv().await {
        let n = notifier.clone();
        let result = tokio::task::spawn_blocking(move || n.notify(&alert)).await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(join) => Some(NotifyError::Failed(join.to_string())),
        };
        let mut current = shared.notifier_error.lock().unwrap();
        match error {
            None => {
                if current.take().is_some() {
                    tracing::info!("notifications work again");
                    shared.touch();
                }
            }
            Some(e) => {
                let message = e.to_string();
                if current.as_deref() != Some(message.as_str()) {
                    tracing::warn!("{message}");
                    *current = Some(message);
                    shared.touch();
                }
            }
        }
    }
}
