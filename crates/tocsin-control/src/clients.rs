//! The registry of connected clients, for pushes to one client.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;

use crate::wire::{Push, Role, ServerLine};

/// The clients [`serve`](crate::serve) has admitted, by client id, so the resident
/// can push to one of them ([`Clients::send_to`]; focus goes to the window only).
///
/// Make one with [`Clients::new`], keep a clone in the handler and give one to
/// [`serve`](crate::serve), which adds each client once its welcome is sent and
/// removes it before calling [`Handler::gone`](crate::Handler::gone). It is cheap to
/// clone; all clones see the same clients.
///
/// A client is added after [`Handler::admit`](crate::Handler::admit) returned, so
/// `admit` must not rely on [`Clients::window`] to refuse a second window (two may
/// be admitted at once): count windows in `admit` and `gone`.
#[derive(Clone, Default)]
pub struct Clients {
    inner: Arc<Mutex<BTreeMap<u64, Entry>>>,
}

struct Entry {
    role: Role,
    subscribed: bool,
    out: mpsc::Sender<ServerLine>,
}

impl Clients {
    pub fn new() -> Clients {
        Clients::default()
    }

    /// Queue `push` for client `id` without waiting. False when that client is
    /// gone, has not subscribed (pushes only ever go to subscribed clients) or is
    /// so far behind that its queue is full.
    pub fn send_to(&self, id: u64, push: Push) -> bool {
        let map = self.lock();
        let Some(entry) = map.get(&id).filter(|e| e.subscribed) else {
            return false;
        };
        entry.out.try_send(ServerLine::Push(push)).is_ok()
    }

    /// The connected window that has subscribed (so [`send_to`](Self::send_to)
    /// reaches it), if any; the oldest if there are several.
    pub fn window(&self) -> Option<u64> {
        self.lock()
            .iter()
            .find(|(_, e)| e.role == Role::Window && e.subscribed)
            .map(|(id, _)| *id)
    }

    /// The connected clients, oldest first.
    pub fn list(&self) -> Vec<(u64, Role)> {
        self.lock().iter().map(|(id, e)| (*id, e.role)).collect()
    }

    pub(crate) fn insert(&self, id: u64, role: Role, out: mpsc::Sender<ServerLine>) {
        self.lock().insert(
            id,
            Entry {
                role,
                subscribed: false,
                out,
            },
        );
    }

    pub(crate) fn subscribed(&self, id: u64) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.subscribed = true;
        }
    }

    pub(crate) fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.lock()
                    .iter()
                    .map(|(id, e)| (id, (e.role, e.subscribed))),
            )
            .finish()
    }
}
