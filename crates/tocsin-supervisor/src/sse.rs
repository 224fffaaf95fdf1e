//! The SSE fallback: when a provider's WebSocket upgrade is refused with an HTTP
//! status but it offers a Server-Sent Events stream of the same envelopes (Prismer
//! `/sse`), events keep flowing over SSE for [`SSE_STAY`](crate::SSE_STAY); then
//! the driver tries the WebSocket again.
//!
//! Owns: the HTTP stream, the event stream's limits (one event, or what is
//! buffered towards one, over `max_frame_bytes` ends the stream instead of growing
//! a buffer), liveness on any bytes (heartbeat comments included), the same pacing and
//! nesting limits as the WebSocket, the user's Reconnect while on SSE, and the
//! commands the provider takes over REST (socket ones are refused in words).
//! Parsing is `eventsource-stream`'s (the WHATWG rules: `event:`, `id:`, `retry:`,
//! multi-line `data:`, CR/LF/CRLF, UTF-8 split across chunks), not ours.
//!
//! Must not: decode frames itself (the adapter does) or acknowledge (SSE is
//! read-only; the provider redelivers, and the history dedupes).

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::{Event as SseEvent, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use tokio::time::{sleep_until, Instant};
use tocsin_model::now_ms;
use tocsin_providers::{Adapter, CommandPlan, ConnectPlan, Control, Inbound, Session};

use crate::driver::{Cause, Ended, Link};
use crate::throttle::{clip, nests_deeper_than, Bucket, LogLimiter, RateLimit};
use crate::{catchup, Connection, ConnState, Outgoing, MAX_NESTING, SSE_STAY, WARN_EVERY};

/// The WebSocket's limits, applied to the stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The largest event (or what is buffered towards one) the stream may send.
    pub max_event_bytes: usize,
    pub rate: RateLimit,
}

/// Why the byte stream under the event parser stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    Http(reqwest::Error),
    /// More than the limit arrived without completing an event.
    TooLarge,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Http(e) => write!(f, "{e}"),
            ReadError::TooLarge => f.write_str("an event over the size limit"),
        }
    }
}

/// Bytes read since the last complete event, and in all (for liveness).
#[derive(Default)]
pub(crate) struct Meter {
    pending: AtomicUsize,
    total: AtomicUsize,
}

type Events = Pin<Box<dyn Stream<Item = Result<SseEvent, EventStreamError<ReadError>>> + Send>>;

/// SSE events from a byte stream, refusing more than `max` bytes towards one event.
pub(crate) fn events<S, B, E>(bytes: S, max: usize, meter: Arc<Meter>) -> Events
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: Into<ReadError> + 'static,
{
    let counting = meter.clone();
    let guarded = bytes.map(move |chunk| {
        let chunk = chunk.map_err(Into::into)?;
        let n = chunk.as_ref().len();
        counting.total.fetch_add(n, Ordering::Relaxed);
        if counting.pending.fetch_add(n, Ordering::Relaxed) + n > max {
            return Err(ReadError::TooLarge);
        }
        Ok(chunk)
    });
    Box::pin(guarded.eventsource().inspect(move |e| {
        if e.is_ok() {
            meter.pending.store(0, Ordering::Relaxed);
        }
    }))
}

impl From<reqwest::Error> for ReadError {
    fn from(e: reqwest::Error) -> Self {
        // Without the URL: it may carry the key (`?token=`).
        ReadError::Http(e.without_url())
    }
}

/// Receives over the provider's SSE stream after the WebSocket upgrade was refused
/// (`why`), catching up first (the stream does not), until it is time to try the
/// WebSocket again.
pub(crate) async fn fallback(
    conn: &Connection,
    http: &reqwest::Client,
    plan: ConnectPlan,
    why: &str,
    link: &mut Link,
) -> Ended {
    link.note(format!("{why}; using the SSE stream instead"));
    let mut session = Session::new(&conn.account);
    if catchup::after_connect(conn, http, &mut session, &mut link.away, &link.sink).await.is_err() {
        return Ended::SinkClosed;
    }
    let limits = Limits { max_event_bytes: conn.max_frame_bytes, rate: conn.rate_limit };
    let sse = Sse { conn, http, adapter: conn.adapter.as_ref(), plan, stay_for: SSE_STAY, limits };
    let ended = sse.run(link).await;
    link.status.send_modify(|s| s.transport = "websocket".into());
    ended
}

/// One SSE session.
pub(crate) struct Sse<'a> {
    /// The account (its REST base and key, for commands).
    pub conn: &'a Connection,
    pub http: &'a reqwest::Client,
    pub adapter: &'a dyn Adapter,
    pub plan: ConnectPlan,
    /// How long before the WebSocket is tried again.
    pub stay_for: Duration,
    pub limits: Limits,
}

enum Next {
    Shutdown,
    Silent,
    Stay,
    Out(Outgoing),
    Event(Option<Result<SseEvent, EventStreamError<ReadError>>>),
}

impl Sse<'_> {
    pub(crate) async fn run(&self, link: &mut Link) -> Ended {
        let account = link.account.clone();
        let request =
            self.http.get(self.plan.url.expose()).header("accept", "text/event-stream").timeout(Duration::from_secs(3600 * 24));
        let response = tokio::select! {
            _ = link.shutdown.cancelled() => return Ended::Shutdown,
            r = request.send() => r,
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => return crate::tls::http_failure(e, &self.plan.log_url).into(),
        };
        match response.status().as_u16() {
            200..=299 => {}
            status @ (401 | 403) => {
                let body = response.text().await.unwrap_or_default();
                return Ended::fatal(
                    Cause::Auth,
                    format!("the server rejected the key on the SSE stream too (HTTP {status}: {})", clip(body.trim(), 200)),
                );
            }
            status => return Ended::retry(Cause::Http { status }, format!("the SSE stream answered HTTP {status}")),
        }
        link.status.send_modify(|s| {
            s.state = ConnState::Open;
            s.transport = "sse".into();
        });
        tracing::info!(account, url = %self.plan.log_url, "WebSocket unavailable: receiving over SSE");
        let dead_after = self.adapter.heartbeat().dead_after.max(Duration::from_secs(45));
        let until = Instant::now() + self.stay_for;
        let mut deadline = Instant::now() + dead_after;
        let meter = Arc::new(Meter::default());
        let mut seen = 0;
        let mut stream = events(response.bytes_stream(), self.limits.max_event_bytes, meter.clone());
        let mut bucket = Bucket::new(self.limits.rate, Instant::now());
        let flooding = self.limits.rate.flooding_note();
        let mut decode_warnings = LogLimiter::new(WARN_EVERY);
        let mut session = Session::new(&account);
        let mut next_request: u64 = 0;
        loop {
            let next = tokio::select! {
                biased;
                _ = link.shutdown.cancelled() => Next::Shutdown,
                _ = sleep_until(deadline) => Next::Silent,
                _ = sleep_until(until) => Next::Stay,
                Some(out) = link.outgoing.recv() => Next::Out(out),
                e = stream.next() => Next::Event(e),
            };
            let event = match next {
                Next::Shutdown => return Ended::Shutdown,
                Next::Silent => {
                    // Bytes that completed no event yet (a heartbeat comment) are life too.
                    let total = meter.total.load(Ordering::Relaxed);
                    if total != seen {
                        seen = total;
                        deadline = Instant::now() + dead_after;
                        continue;
                    }
                    return Ended::retry(Cause::Timeout, format!("no data on the SSE stream for {} s", dead_after.as_secs()));
                }
                Next::Stay => return Ended::again_now("trying the WebSocket again"),
                Next::Out(Outgoing::Reconnect) => return Ended::again_now("reconnecting, as asked"),
                Next::Out(Outgoing::Command { command, reply }) => {
                    // The stream is read-only; commands the provider takes over REST
                    // still work (Prismer's mark read and sends), socket ones wait for the
                    // WebSocket.
                    next_request += 1;
                    match self.adapter.command(&command, &format!("tocsin-sse-{next_request}")) {
                        Ok(CommandPlan::Rest { method, path, body }) => {
                            crate::rest::spawn_command(self.conn, self.http, (method, path, body), reply);
                        }
                        Ok(CommandPlan::Socket { .. }) => {
                            let _ = reply.send(Err("the account is on its SSE fallback, which is read-only; \
                                try again when the WebSocket is back".into()));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                    continue;
                }
                Next::Out(Outgoing::Ack(_)) => continue,
                Next::Event(None) => return Ended::retry(Cause::Network, "the server closed the SSE stream"),
                Next::Event(Some(Err(EventStreamError::Transport(ReadError::TooLarge)))) => {
                    tracing::warn!(account, "refused an oversized SSE event");
                    return Ended::retry(
                        Cause::Limit,
                        format!(
                            "the server sent an SSE event over the {} KiB limit; it was refused",
                            self.limits.max_event_bytes / 1024
                        ),
                    );
                }
                Next::Event(Some(Err(e))) => return Ended::retry(Cause::Network, format!("the SSE stream broke: {e}")),
                Next::Event(Some(Ok(event))) => event,
            };
            seen = meter.total.load(Ordering::Relaxed);
            deadline = Instant::now() + dead_after;
            link.heard();
            // Pacing: the stream is not read while the bucket is empty.
            if let Some(at) = bucket.wait(Instant::now()) {
                if bucket.became_throttled(Instant::now()) {
                    tracing::warn!(account, per_sec = self.limits.rate.per_sec, "{flooding}");
                    link.note(flooding.clone());
                }
                tokio::select! {
                    _ = link.shutdown.cancelled() => return Ended::Shutdown,
                    _ = sleep_until(at) => {}
                }
                while let Some(at) = bucket.wait(Instant::now()) {
                    sleep_until(at).await;
                }
            }
            bucket.take(Instant::now());
            if bucket.recovered(Instant::now()) {
                link.clear_note(&flooding);
            }
            let data = event.data;
            if nests_deeper_than(&data, MAX_NESTING) {
                if let Some(skipped) = decode_warnings.allow(Instant::now()) {
                    tracing::warn!(account, skipped, "ignored an SSE event nested deeper than {MAX_NESTING} levels");
                }
                continue;
            }
            match self.adapter.decode_in(&session, &data, now_ms()) {
                Ok(Inbound::Event(e)) => {
                    if link.deliver(*e).await.is_err() {
                        return Ended::SinkClosed;
                    }
                }
                Ok(Inbound::Control(Control::Authenticated { user_id })) => {
                    session.user_id = user_id;
                    link.set_state(ConnState::Subscribed);
                }
                Ok(Inbound::Control(Control::ServerError { fatal: true, message, .. })) => {
                    return Ended::fatal(Cause::Protocol, message)
                }
                Ok(Inbound::Control(_)) => {}
                Ok(Inbound::Ephemeral(e)) => session.absorb(&e),
                Err(e) => {
                    if let Some(skipped) = decode_warnings.allow(Instant::now()) {
                        tracing::warn!(account, skipped, "ignored an SSE event that could not be decoded: {}", clip(&e.to_string(), 200));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event (or the error that ended the stream) for these chunks.
    async fn parse(chunks: &[&[u8]], max: usize) -> Vec<Result<SseEvent, String>> {
        let chunks: Vec<Result<Vec<u8>, ReadError>> = chunks.iter().map(|c| Ok(c.to_vec())).collect();
        let mut out = Vec::new();
        let mut stream = events(futures_util::stream::iter(chunks), max, Arc::new(Meter::default()));
        while let Some(e) = stream.next().await {
            let end = e.is_err();
            out.push(e.map_err(|e| e.to_string()));
            if end {
                break;
            }
        }
        out
    }

    fn data(events: &[Result<SseEvent, String>]) -> Vec<&str> {
        events.iter().map(|e| e.as_ref().unwrap().data.as_str()).collect()
    }

    #[tokio::test]
    async fn parses_events_across_chunks_and_skips_comments() {
        let events = parse(&[b"data: {\"a\"", b":1}\n", b"\n: heartbeat\n\ndata:x\r\ndata: y\n\n"], 1 << 20).await;
        assert_eq!(data(&events), ["{\"a\":1}", "x\ny"]);
    }

    #[tokio::test]
    async fn event_names_and_ids_are_kept() {
        let events = parse(&[b"event: sync\nid: 3\ndata: {}\n\ndata: plain\n\n"], 1 << 20).await;
        let first = events[0].as_ref().unwrap();
        assert_eq!((first.event.as_str(), first.id.as_str(), first.data.as_str()), ("sync", "3", "{}"));
        let second = events[1].as_ref().unwrap();
        assert_eq!((second.event.as_str(), second.id.as_str()), ("message", "3"), "the last id carries over");
    }

    #[tokio::test]
    async fn a_character_split_across_chunks_survives() {
        let bytes = "data: caf\u{e9}\n\n".as_bytes();
        let (a, b) = bytes.split_at(9); // inside the two bytes of é
        assert_eq!(data(&parse(&[a, b], 1 << 20).await), ["caf\u{e9}"]);
    }

    #[tokio::test]
    async fn an_endless_line_or_event_is_refused_not_buffered() {
        let endless = parse(&[&[b'x'; 600], &[b'x'; 600]], 1024).await;
        assert_eq!(endless.len(), 1);
        assert!(matches!(endless[0], Err(ref e) if e.contains("size limit")), "{endless:?}");
        let line = format!("data: {}\n", "y".repeat(600));
        let two_lines = parse(&[line.as_bytes(), line.as_bytes()], 1024).await;
        assert!(matches!(two_lines[..], [Err(_)]), "two 600-byte data lines make one 1.2 KB event: {two_lines:?}");
        let small = format!("data: {}\n\n", "z".repeat(600));
        let fine = parse(&[small.as_bytes(), small.as_bytes()], 1024).await;
        assert_eq!(fine.len(), 2, "the limit is per event, not per stream: {fine:?}");
    }
}
