//! Catch-up: recovering what was sent while this account was not connected, at
//! start (the app was stopped) and after every reconnect, by the provider's own
//! means ([`CatchUp`]): the server's replay (daimon), a paged REST fetch (Prismer
//! sync, AgentMail listings), or, where the provider has neither, a gap entry in the
//! history that names the account and the time span.
//!
//! Owns: when a catch-up runs, the fetch loop (every page, every listing the
//! adapter names, each path once), what is written when it cannot be done.
//!
//! Must not: decode provider frames (the adapter does), store or dedupe (the
//! engine's pipeline does: a catch-up overlaps with live events on purpose).

use std::collections::{HashSet, VecDeque};

use tokio::sync::mpsc;
use tocsin_model::{now_ms, Event};
use tocsin_providers::{CatchUp, CatchUpError, CatchUpFrom, Session};

use crate::throttle::{clip, nests_deeper_than};
use crate::rest::rest_read;
use crate::{gap_event, Connection, MAX_NESTING};

/// How far before the moment the account was last known connected a REST listing
/// starts: the server may have stopped sending earlier than the client could tell.
pub const OVERLAP_MS: i64 = 60_000;

/// The most REST pages one catch-up reads (500 events a page at Prismer).
const MAX_PAGES: usize = 10_000;

/// The largest REST listing read.
const MAX_PAGE_BYTES: usize = 16 << 20;

/// Where a connection resumes from, kept across its attempts.
#[derive(Debug, Default)]
pub(crate) struct Away {
    /// The cursor of the last event received (the stored one at start).
    pub cursor: Option<String>,
    /// Since when events may have been missed: when the connection dropped, or at
    /// start when the account was last known connected. `None`: nothing missed.
    pub since: Option<i64>,
}

/// Why a fetch stopped.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The engine is gone.
    SinkClosed,
    /// The provider refused our resume point.
    CursorRefused(String),
    /// Anything else (HTTP, TLS, a body that does not decode).
    Failed(String),
}

/// What a fetch sent, and the frames the connection should send after it.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub events: usize,
    pub frames: Vec<String>,
}

/// Run once the connection is subscribed. Returns frames to send (conversation
/// joins); `Err` when the engine is gone.
pub(crate) async fn after_connect(
    conn: &Connection,
    http: &reqwest::Client,
    session: &mut Session,
    away: &mut Away,
    sink: &mpsc::Sender<Event>,
) -> Result<Vec<String>, ()> {
    match conn.adapter.catch_up() {
        CatchUp::Nothing => {
            if let Some(from) = away.since.take() {
                let why = format!("{} cannot resend what was sent while Tocsin was not connected", conn.adapter.provider());
                send_gap(conn, Some(from), &why, sink).await?;
            }
            Ok(Vec::new())
        }
        CatchUp::Replay => {
            // The server replays from the cursor in the URL and then says whether it
            // could; without a cursor it cannot know what we missed.
            if away.cursor.is_none() {
                if let Some(from) = away.since.take() {
                    send_gap(conn, Some(from), "there was no resume point to replay from", sink).await?;
                }
            }
            Ok(Vec::new())
        }
        CatchUp::Fetch => match fetch(conn, http, session, away, sink).await {
            Ok(fetched) => {
                if fetched.events > 0 {
                    tracing::info!(account = %conn.account, count = fetched.events, "caught up on what was missed");
                }
                away.since = None;
                Ok(fetched.frames)
            }
            Err(FetchError::SinkClosed) => Err(()),
            Err(e) => {
                let why = match e {
                    FetchError::CursorRefused(r) => format!("the server no longer accepts where Tocsin left off: {r}"),
                    FetchError::Failed(r) => format!("catching up failed: {r}"),
                    FetchError::SinkClosed => unreachable!(),
                };
                tracing::warn!(account = %conn.account, "{why}");
                if away.since.is_some() || away.cursor.is_some() {
                    let from = away.since.take();
                    send_gap(conn, from, &why, sink).await?;
                }
                Ok(Vec::new())
            }
        },
    }
}

/// A catch-up while connected (the periodic one, or one the server advised):
/// `why` names it in the warning when it fails; the next one tries again.
pub(crate) async fn again(
    conn: &Connection,
    http: &reqwest::Client,
    session: &mut Session,
    away: &mut Away,
    sink: &mpsc::Sender<Event>,
    why: &str,
) -> Result<Vec<String>, ()> {
    match fetch(conn, http, session, away, sink).await {
        Ok(fetched) => Ok(fetched.frames),
        Err(FetchError::SinkClosed) => Err(()),
        Err(e) => {
            tracing::warn!(account = %conn.account, "{why} failed: {e:?}");
            Ok(Vec::new())
        }
    }
}

/// Fetches every page of a catch-up from `away`, sending the events to `sink` in
/// order and moving `away.cursor` and the session's cursor as pages arrive.
async fn fetch(
    conn: &Connection,
    http: &reqwest::Client,
    session: &mut Session,
    away: &mut Away,
    sink: &mpsc::Sender<Event>,
) -> Result<Fetched, FetchError> {
    let start_cursor = away.cursor.clone();
    let from = CatchUpFrom { cursor: start_cursor.as_deref(), since_ms: away.since.map(|s| s - OVERLAP_MS) };
    let mut queue: VecDeque<String> = conn.adapter.catch_up_start(&from).into();
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Fetched::default();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue; // a server that hands out the same page again
        }
        if seen.len() > MAX_PAGES {
            return Err(FetchError::Failed(format!("the server offered more than {MAX_PAGES} pages")));
        }
        let body = get(conn, http, &path).await.map_err(FetchError::Failed)?;
        let page = conn.adapter.decode_catch_up(session, &from, &path, &body, now_ms()).map_err(|e| match e {
            CatchUpError::CursorRefused(r) => FetchError::CursorRefused(r),
            CatchUpError::Decode(d) => FetchError::Failed(clip(&d.to_string(), 200)),
        })?;
        for mut event in page.events {
            out.frames.extend(conn.adapter.after_event(session, &event));
            crate::names::resolve(conn, http, session, &mut event).await;
            if let Some(id) = &event.provider_event_id {
                away.cursor = Some(id.clone());
            }
            sink.send(event).await.map_err(|_| FetchError::SinkClosed)?;
            out.events += 1;
        }
        if let Some(c) = page.cursor {
            session.cursor = Some(c);
        }
        queue.extend(page.next);
    }
    Ok(out)
}

async fn send_gap(conn: &Connection, from: Option<i64>, why: &str, sink: &mpsc::Sender<Event>) -> Result<(), ()> {
    let gap = gap_event(&conn.account, conn.adapter.provider(), from, now_ms(), why);
    sink.send(gap).await.map_err(|_| ())
}

/// One REST GET with the account's key.
async fn get(conn: &Connection, http: &reqwest::Client, path: &str) -> Result<Vec<u8>, String> {
    let body = rest_read(conn, http, reqwest::Method::GET, path, MAX_PAGE_BYTES).await?;
    if nests_deeper_than(&body, MAX_NESTING) {
        return Err(format!("the listing {path} nests deeper than {MAX_NESTING} levels"));
    }
    Ok(body)
}
