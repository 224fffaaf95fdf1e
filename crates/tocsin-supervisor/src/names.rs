//! Names for ids: before an event goes to the engine, the people and conversations
//! it names are looked up over the provider's REST (when the adapter asks for it),
//! cached per account ([`tocsin_providers::NameCache`], kept in the store between runs by the engine)
//! and looked up again once stale. A failed lookup leaves the ids in place and is
//! tried again at the next event; it never holds an event back for long.

use std::time::Duration;

use tocsin_model::{now_ms, Event};
use tocsin_providers::Session;

use crate::rest::rest_read;
use crate::Connection;

/// How long one lookup may take before the event goes on without it.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest lookup answer read.
const MAX_LOOKUP_BYTES: usize = 1 << 20;

/// Looks up what `event` needs and puts the names in.
pub(crate) async fn resolve(conn: &Connection, http: &reqwest::Client, session: &Session, event: &mut Event) {
    let lookups = conn.adapter.lookups(session, event);
    if lookups.is_empty() {
        return;
    }
    for lookup in lookups {
        if !conn.names.lock().unwrap().stale(&lookup.key, now_ms()) {
            continue;
        }
        let get = rest_read(conn, http, reqwest::Method::GET, &lookup.path, MAX_LOOKUP_BYTES);
        match tokio::time::timeout(LOOKUP_TIMEOUT, get).await {
            Ok(Ok(body)) => match conn.adapter.decode_lookup(session, &lookup.key, &body) {
                Ok(name) => conn.names.lock().unwrap().put(lookup.key, name, now_ms()),
                Err(e) => tracing::debug!(account = %conn.account, "no name for {}: {e}", lookup.key),
            },
            Ok(Err(e)) => tracing::debug!(account = %conn.account, "no name for {}: {e}", lookup.key),
            Err(_) => tracing::debug!(account = %conn.account, "no name for {}: no answer in time", lookup.key),
        }
    }
    let names = conn.names.lock().unwrap();
    conn.adapter.apply_names(event, &names);
}
