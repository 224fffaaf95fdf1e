//! The event pipeline after the sockets, in two tasks so that no alert waits for
//! the disk:
//!
//! - **front**: batch → classify (rules) → dedupe → number → alert. An event is new
//!   unless its key is in flight (handed to the writer, not committed yet), earlier
//!   in the batch, or already stored (a read, [`Store::known`], which never waits
//!   for the writer). New events get their history ids here, from a counter that
//!   starts after the highest stored id (the engine holds the history's
//!   [`tocsin_store::WriterLock`], so no other process numbers rows), and their
//!   alerts go to the attention policy at once.
//! - **writer**: insert with those ids → commit → publish → ack. The window, the
//!   tray and the provider's acks see an event only once it is committed. A
//!   trickle is gathered for [`GROUP_WINDOW`] into one transaction; when the writer
//!   has fallen behind, what piled up goes in one transaction.
//!
//! So a commit stuck on a slow disk (a checkpoint's fsync takes tens of ms on some
//! disks; BENCHMARKS.md) or failing (a full, read-only or locked database) delays
//! what the window shows, not the alerts; the events wait in memory (up to
//! [`MAX_UNCOMMITTED`]; then the front waits, and the sockets' queue pushes back on
//! the providers) and the commit is retried with
//! the same ids, so an alert's actions find its event once it is stored. If the
//! dedupe read itself fails, the front cannot tell new from duplicate: that batch
//! alerts from the writer, after its insert says which events are new. Either way
//! an event raises one notification at most.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tocsin_model::{Event, HistoryItem, Tier};
use tocsin_store::{NewEvent, Store};
use tocsin_supervisor::Outgoing;

use crate::attention::{Moment, Outgoing as AttentionOut};
use crate::notifier::{Alert, Notifier, NotifyError};
use crate::{Shared, Update};

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 1024;

/// Events numbered and alerted but not committed yet, at most: how much a stalled
/// disk may fall behind before the front (and then the sockets) wait. Counted in
/// events, not batches: at a steady trickle every batch is one event, and a short
/// queue of batches would make the front wait on a commit after all.
const MAX_UNCOMMITTED: usize = 1_024;

/// Batches the writer takes from its queue at once (the events in them are bounded
/// by [`MAX_UNCOMMITTED`]).
const MERGE_BATCHES: usize = 64;

/// How long the writer lets a trickle gather before it writes: one transaction per
/// window instead of one per event. Each transaction costs several round trips to
/// SQLite's thread and a dozen WAL pages, CPU the alert path shares on a small
/// machine. The window, the tray and the acks see events this much later; alerts
/// do not wait for it.
const GROUP_WINDOW: Duration = Duration::from_millis(10);

/// An alert with the inbox it came to (the attention policy coalesces per inbox).
type Pending = (Alert, Option<String>);

/// Keys handed to the writer and not committed yet.
type InFlight = Arc<Mutex<HashSet<String>>>;

/// One batch from the front to the writer.
struct Numbered {
    batch: Vec<NewEvent>,
    /// Per event: its id if new, `None` if a duplicate.
    ids: Vec<Option<i64>>,
    /// What the writer alerts, by key, once its insert says the event is new: the
    /// events of batches the front could not dedupe (empty when it did, and alerted).
    writer_alerts: HashMap<String, (bool, Option<String>)>,
    /// The batch's room in the writer's queue, given back once committed.
    room: tokio::sync::OwnedSemaphorePermit,
}

impl Numbered {
    /// Appends `next` (a later batch) to this one, for one transaction.
    fn absorb(&mut self, next: Numbered) {
        self.batch.extend(next.batch);
        self.ids.extend(next.ids);
        self.writer_alerts.extend(next.writer_alerts);
        self.room.merge(next.room);
    }
}

pub(crate) fn spawn(
    store: Store,
    shared: Arc<Shared>,
    events: mpsc::Receiver<Event>,
    notifier: Arc<dyn Notifier>,
    ackers: HashMap<String, mpsc::Sender<Outgoing>>,
    first_id: i64,
) -> Vec<JoinHandle<()>> {
    let (alert_tx, alert_rx) = mpsc::channel::<Pending>(1024);
    // Bounded by `room` (events), not by the channel (batches).
    let (batch_tx, batch_rx) = mpsc::unbounded_channel::<Numbered>();
    let in_flight = InFlight::default();
    vec![
        tokio::spawn(front(store.clone(), shared.clone(), events, alert_tx.clone(), batch_tx, in_flight.clone(), first_id)),
        tokio::spawn(writer(store, shared.clone(), batch_rx, alert_tx, ackers, in_flight)),
        tokio::spawn(notify_loop(shared, alert_rx, notifier)),
    ]
}

async fn front(
    store: Store,
    shared: Arc<Shared>,
    mut events: mpsc::Receiver<Event>,
    alerts: mpsc::Sender<Pending>,
    writer: mpsc::UnboundedSender<Numbered>,
    in_flight: InFlight,
    mut next_id: i64,
) {
    let room = Arc::new(tokio::sync::Semaphore::new(MAX_UNCOMMITTED));
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
        // Candidates: not in flight, not earlier in the batch.
        let mut seen: HashSet<&str> = HashSet::with_capacity(batch.len());
        let candidate: Vec<bool> = {
            let flying = in_flight.lock().unwrap();
            batch
                .iter()
                .map(|n| {
                    let key = n.event.dedupe_key.as_str();
                    !flying.contains(key) && seen.insert(key)
                })
                .collect()
        };
        let keys: Vec<&str> = batch.iter().zip(&candidate).filter(|(_, c)| **c).map(|(n, _)| n.event.dedupe_key.as_str()).collect();
        let (stored, decided) = match store.known(&keys).await {
            Ok(stored) => (stored, true),
            Err(e) => {
                tracing::warn!("cannot check the history for duplicates ({e}); these events alert once written");
                (HashSet::new(), false)
            }
        };
        let mut ids = Vec::with_capacity(batch.len());
        {
            let mut flying = in_flight.lock().unwrap();
            for (n, c) in batch.iter().zip(&candidate) {
                let key = &n.event.dedupe_key;
                if *c && !stored.contains(key) {
                    flying.insert(key.clone());
                    ids.push(Some(next_id));
                    next_id += 1;
                } else {
                    ids.push(None);
                }
            }
        }
        if decided {
            for (n, id) in batch.iter().zip(&ids) {
                let Some(id) = id else { continue };
                let (wanted, sound) = notify.get(&n.event.dedupe_key).cloned().unwrap_or((false, None));
                if wanted {
                    let item = n.item(*id);
                    // Quiet hours, pause and bursts are the attention policy's call.
                    let _ = alerts.send((Alert { sound, ..alert_for(&item) }, item.inbox.clone())).await;
                }
            }
        }
        // Waits only when the writer is MAX_UNCOMMITTED events behind.
        let Ok(room) = room.clone().acquire_many_owned(batch.len() as u32).await else { return };
        let writer_alerts = if decided { HashMap::new() } else { notify };
        if writer.send(Numbered { batch, ids, writer_alerts, room }).is_err() {
            return;
        }
    }
}

async fn writer(
    store: Store,
    shared: Arc<Shared>,
    mut batches: mpsc::UnboundedReceiver<Numbered>,
    alerts: mpsc::Sender<Pending>,
    ackers: HashMap<String, mpsc::Sender<Outgoing>>,
    in_flight: InFlight,
) {
    let mut queued = Vec::with_capacity(MERGE_BATCHES);
    while batches.recv_many(&mut queued, MERGE_BATCHES).await > 0 {
        // A trickle: gather for a moment. Behind (a slow commit, a flood): what
        // piled up goes in one transaction at once.
        if queued.iter().map(|n| n.batch.len()).sum::<usize>() < MAX_BATCH {
            tokio::time::sleep(GROUP_WINDOW).await;
            while queued.len() < MERGE_BATCHES {
                let Ok(next) = batches.try_recv() else { break };
                queued.push(next);
            }
        }
        let mut drained = queued.drain(..);
        let Some(mut numbered) = drained.next() else { continue };
        drained.for_each(|next| numbered.absorb(next));
        let stored = commit(&store, &shared, &numbered, &alerts).await;
        {
            let mut flying = in_flight.lock().unwrap();
            for (n, id) in numbered.batch.iter().zip(&numbered.ids) {
                if id.is_some() {
                    flying.remove(&n.event.dedupe_key);
                }
            }
        }
        // Committed (new or duplicate): now the provider may forget them.
        for e in &numbered.batch {
            if let (Some(token), Some(tx)) = (&e.event.ack, ackers.get(&e.event.account)) {
                // A closed socket drops the ack; the provider redelivers and we dedupe.
                let _ = tx.try_send(Outgoing::Ack(token.clone()));
            }
        }
        let items: Vec<HistoryItem> = stored.into_iter().flatten().collect();
        if items.iter().any(|i| i.tier == Tier::Urgent && !i.read) {
            shared.recount_unread(&store).await;
        }
        for item in items {
            let _ = shared.updates.send(Update::Stored(item));
        }
    }
}

/// Inserts and commits one batch with the ids the front gave, retrying until the
/// commit succeeds: a full, read-only or locked history holds the events in memory
/// (and the queue pushes back on the sockets) rather than losing them. For a batch
/// the front could not dedupe, alerts the events the insert finds new, once.
async fn commit(store: &Store, shared: &Shared, numbered: &Numbered, alerts: &mpsc::Sender<Pending>) -> Vec<Option<HistoryItem>> {
    let Numbered { batch, ids, writer_alerts, .. } = numbered;
    let mut alerted: HashSet<&str> = HashSet::new();
    let mut delay = Duration::from_millis(100);
    loop {
        // Alerts the policy's queue has no room for yet wait for the commit, so the
        // write transaction is never held open on a full queue.
        let mut later = Vec::new();
        let result = async {
            let staged = store.stage_with_ids(batch, ids).await?;
            for (item, new) in staged.items().iter().zip(batch) {
                let Some(item) = item else { continue };
                let Some((wanted, sound)) = writer_alerts.get(&new.event.dedupe_key).cloned() else { continue };
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
            let _ = alerts.send(alert).await;
        }
        match result {
            Ok(out) => {
                if shared.store_error.lock().unwrap().take().is_some() {
                    tracing::info!("the history is writable again");
                    shared.touch();
                }
                let lost = (batch.iter().zip(ids).zip(&out))
                    .filter(|((n, id), item)| id.is_some() && item.is_none() && !writer_alerts.contains_key(&n.event.dedupe_key))
                    .count();
                if lost > 0 {
                    // Only another writer on the same file could do this (the lock forbids it).
                    tracing::warn!("{lost} events were stored by someone else meanwhile");
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
    crate::notify_health::record(shared, error);
}
