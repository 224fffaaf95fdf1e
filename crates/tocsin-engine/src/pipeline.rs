//! The event pipeline after the sockets: batch → classify → insert → alert →
//! commit → publish. A batch's rows are inserted first, in a transaction (that
//! says which events are new and gives their ids, with no disk write); their alerts
//! go to the attention policy at once; then the transaction commits, and only then
//! do the window, the tray and the provider's acks see the events. So an alert
//! does not wait for its own commit (which can take tens of ms while a checkpoint
//! syncs; BENCHMARKS.md); it still waits for an earlier batch's commit, as the
//! history has one writer. Only new events (not duplicates) alert or publish, so
//! an event never raises two notifications.
//!
//! A commit that fails (a full or read-only disk) is retried with the events held
//! in memory; alerts already raised are not raised again. The retry gives the rows
//! the same ids (nothing else inserts events), so the alerts' actions still find
//! them once the commit succeeds.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tocsin_model::{Event, HistoryItem, Tier};
use tocsin_store::{NewEvent, Store};

use std::collections::{HashMap, HashSet};

use tocsin_supervisor::Outgoing;

use crate::attention::{Moment, Outgoing as AttentionOut};
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
    let (alert_tx, alert_rx) = mpsc::channel::<(Alert, Option<String>)>(1024);
    vec![
        tokio::spawn(writer(store, shared.clone(), events, alert_tx, ackers)),
        tokio::spawn(notify_loop(shared, alert_rx, notifier)),
    ]
}

async fn writer(
    store: Store,
    shared: Arc<Shared>,
    mut events: mpsc::Receiver<Event>,
    alerts: mpsc::Sender<(Alert, Option<String>)>,
    ackers: HashMap<String, mpsc::Sender<Outgoing>>,
) {
    let mut buf = Vec::with_capacity(MAX_BATCH);
    while events.recv_many(&mut buf, MAX_BATCH).await > 0 {
        let rules = shared.rules.read().unwrap().clone();
        let mut notify: HashMap<String, (bool, Option<String>)> = HashMap::new();
        let batch: Vec<NewEvent> = buf
            .drain(..)
            .map(|event| {
                let decision = rules.evaluate(&event);
                notify.insert(event.dedupe_key.clone(), (decision.notify, decision.sound.clone()));
                NewEvent { event, tier: decision.tier }
            })
            .collect();
        let stored = commit(&store, &shared, &batch, &notify, &alerts).await;
        // Committed (new or duplicate): now the provider may forget them.
        for e in &batch {
            if let (Some(token), Some(tx)) = (&e.event.ack, ackers.get(&e.event.account)) {
                // A closed socket drops the ack; the provider redelivers and we dedupe.
                let _ = tx.try_send(Outgoing::Ack(token.clone()));
            }
        }
        for item in stored.into_iter().flatten() {
            if item.tier == Tier::Urgent {
                shared.unread_urgent.fetch_add(1, Ordering::SeqCst);
                shared.touch();
            }
            let _ = shared.updates.send(Update::Stored(item));
        }
    }
}

/// Inserts `batch`, hands the alerts of its new events to the attention policy,
/// and commits, retrying until the commit succeeds: a full or read-only disk holds
/// the events in memory (and the queue pushes back on the sockets) rather than
/// losing them.
async fn commit(
    store: &Store,
    shared: &Shared,
    batch: &[NewEvent],
    notify: &HashMap<String, (bool, Option<String>)>,
    alerts: &mpsc::Sender<(Alert, Option<String>)>,
) -> Vec<Option<HistoryItem>> {
    let mut alerted: HashSet<&str> = HashSet::new();
    let mut delay = Duration::from_millis(100);
    loop {
        // Alerts the policy's queue has no room for yet wait for the commit, so the
        // write transaction is never held open on a full queue.
        let mut later = Vec::new();
        let result = async {
            let staged = store.stage(batch).await?;
            for (item, new) in staged.items().iter().zip(batch) {
                let Some(item) = item else { continue };
                let (wanted, sound) = notify.get(&new.event.dedupe_key).cloned().unwrap_or((false, None));
                if wanted && alerted.insert(new.event.dedupe_key.as_str()) {
                    let alert = (Alert { sound, ..alert_for(item) }, item.inbox.clone());
                    if let Err(mpsc::error::TrySendError::Full(alert)) = alerts.try_send(alert) {
                        later.push(alert);
                    }
                }
            }
            staged.commit().await
        }
        .await;
        for alert in later {
            // Quiet hours, pause and bursts are the attention policy's call.
            let _ = alerts.send(alert).await;
        }
        match result {
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
    Alert { event_id: item.id, account: item.account.clone(), tier: item.tier, summary, body, sound: None }
}

async fn notify_loop(shared: Arc<Shared>, mut alerts: mpsc::Receiver<(Alert, Option<String>)>, notifier: Arc<dyn Notifier>) {
    loop {
        let deadline = shared.attention.lock().unwrap().next_deadline();
        let out = tokio::select! {
            next = alerts.recv() => match next {
                Some((mut alert, inbox)) => {
                    let mut attention = shared.attention.lock().unwrap();
                    if !attention.settings().notifications_enabled {
                        continue;
                    }
                    if !attention.settings().sound {
                        alert.sound = None;
                    }
                    attention.offer_in(alert, inbox.as_deref(), &Moment::now())
                }
                None => return,
            },
            _ = sleep_until_opt(deadline) => shared.attention.lock().unwrap().tick(&Moment::now()),
            _ = shared.attention_changed.notified() => continue,
        };
        for o in out {
            let alert = match o {
                AttentionOut::Single(a) => a,
                AttentionOut::Repeat(a) => {
                    // A reminder replaces the earlier notification of the same event.
                    let n = notifier.clone();
                    let id = a.event_id;
                    let _ = tokio::task::spawn_blocking(move || n.withdraw(id)).await;
                    a
                }
                AttentionOut::Summary(s) => Alert {
                    event_id: s.event_ids.last().copied().unwrap_or(0),
                    account: String::new(),
                    tier: s.tier,
                    summary: s.text.clone(),
                    body: "Open Tocsin to see them all.".into(),
                    sound: None,
                },
            };
            show(&shared, &notifier, alert).await;
        }
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn show(shared: &Shared, notifier: &Arc<dyn Notifier>, alert: Alert) {
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
