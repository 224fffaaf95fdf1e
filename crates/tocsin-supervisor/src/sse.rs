//! The SSE fallback: when a provider's WebSocket upgrade fails but it offers a
//! Server-Sent Events stream of the same envelopes (Prismer `/sse`), events keep
//! flowing over SSE; after a while the supervisor tries the WebSocket again.
//!
//! Owns: the HTTP stream, `data:` event parsing (bytes split at line ends before
//! UTF-8 decoding, so a character split across chunks survives), liveness on
//! heartbeat comments, the size limit of one event, and the same pacing and nesting
//! limits as the WebSocket.
//! Must not: decode frames itself (the adapter does) or acknowledge (SSE is
//! read-only; the provider redelivers, and the history dedupes).

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tocsin_model::{now_ms, Event};
use tocsin_providers::{Adapter, ConnectPlan, Control, Inbound, Session};

use crate::throttle::{clip, nests_deeper_than, Bucket, LogLimiter, RateLimit};
use crate::{AccountStatus, ConnState, MAX_NESTING, WARN_EVERY};

/// The WebSocket's limits, applied to the stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The largest event (or line) the stream may send.
    pub max_event_bytes: usize,
    pub rate: RateLimit,
}

/// How an SSE session ended.
pub(crate) enum SseEnded {
    Shutdown,
    SinkClosed,
    Fatal(String),
    /// Time to try the WebSocket again, or the stream broke.
    Retry(String),
}

/// Splits an SSE byte stream into the `data` of each event.
pub(crate) struct SseParser {
    buf: Vec<u8>,
    data: Vec<String>,
    data_bytes: usize,
    max: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::with_limit(crate::DEFAULT_MAX_FRAME)
    }
}

/// An event or line over the size limit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooLarge;

impl SseParser {
    pub(crate) fn with_limit(max: usize) -> Self {
        SseParser { buf: Vec::new(), data: Vec::new(), data_bytes: 0, max }
    }

    /// Feeds bytes; returns complete event payloads. Comment lines (`: ...`) count
    /// as liveness only. A line or an event over the limit is an error (the stream
    /// is then abandoned) rather than an ever-growing buffer.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<String>, TooLarge> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(i) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let raw = &self.buf[start..start + i];
            start += i + 1;
            let line = String::from_utf8_lossy(raw);
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(self.data.join("\n"));
                    self.data.clear();
                    self.data_bytes = 0;
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                let d = d.strip_prefix(' ').unwrap_or(d);
                self.data_bytes += d.len() + 1;
                if self.data_bytes > self.max {
                    return Err(TooLarge);
                }
                self.data.push(d.to_owned());
            }
        }
        self.buf.drain(..start);
        if self.buf.len() > self.max {
            return Err(TooLarge);
        }
        Ok(out)
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    http: &reqwest::Client,
    adapter: &dyn Adapter,
    account: &str,
    plan: ConnectPlan,
    stay_for: Duration,
    limits: Limits,
    sink: &mpsc::Sender<Event>,
    status: &watch::Sender<AccountStatus>,
    shutdown: &CancellationToken,
) -> SseEnded {
    let request = http.get(plan.url.expose()).header("accept", "text/event-stream").timeout(Duration::from_secs(3600 * 24));
    let response = tokio::select! {
        _ = shutdown.cancelled() => return SseEnded::Shutdown,
        r = request.send() => r,
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => return SseEnded::Retry(crate::tls::describe_http(e, &plan.log_url)),
    };
    match response.status().as_u16() {
        200..=299 => {}
        401 | 403 => {
            let body = response.text().await.unwrap_or_default();
            return SseEnded::Fatal(format!("the server rejected the key on the SSE stream too ({})", body.trim()));
        }
        s => return SseEnded::Retry(format!("the SSE stream answered HTTP {s}")),
    }
    status.send_modify(|s| {
        s.state = ConnState::Open;
        s.transport = "sse".into();
    });
    tracing::info!(account, url = %plan.log_url, "WebSocket unavailable: receiving over SSE");
    let heartbeat = adapter.heartbeat();
    let dead_after = heartbeat.dead_after.max(Duration::from_secs(45));
    let until = Instant::now() + stay_for;
    let mut deadline = Instant::now() + dead_after;
    let mut parser = SseParser::with_limit(limits.max_event_bytes);
    let mut bucket = Bucket::new(limits.rate, Instant::now());
    let flooding = limits.rate.flooding_note();
    let mut decode_warnings = LogLimiter::new(WARN_EVERY);
    let mut stream = response.bytes_stream();
    let mut session = Session::new(account);
    loop {
        let chunk = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return SseEnded::Shutdown,
            _ = sleep_until(deadline) => return SseEnded::Retry(format!("no data on the SSE stream for {} s", dead_after.as_secs())),
            _ = sleep_until(until) => return SseEnded::Retry("trying the WebSocket again".into()),
            c = stream.next() => c,
        };
        let bytes = match chunk {
            None => return SseEnded::Retry("the server closed the SSE stream".into()),
            Some(Err(e)) => return SseEnded::Retry(format!("the SSE stream broke: {}", e.without_url())),
            Some(Ok(b)) => b,
        };
        deadline = Instant::now() + dead_after;
        let events = match parser.feed(&bytes) {
            Ok(events) => events,
            Err(TooLarge) => {
                tracing::warn!(account, "refused an oversized SSE event");
                return SseEnded::Retry(format!(
                    "the server sent an SSE event over the {} KiB limit; it was refused",
                    limits.max_event_bytes / 1024
                ));
            }
        };
        for data in events {
            // Pacing: the stream is not read while the bucket is empty.
            if let Some(at) = bucket.wait(Instant::now()) {
                if bucket.became_throttled(Instant::now()) {
                    tracing::warn!(account, per_sec = limits.rate.per_sec, "{flooding}");
                    status.send_modify(|s| s.last_error = Some(flooding.clone()));
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return SseEnded::Shutdown,
                    _ = sleep_until(at) => {}
                }
                while let Some(at) = bucket.wait(Instant::now()) {
                    sleep_until(at).await;
                }
            }
            bucket.take(Instant::now());
            if bucket.recovered(Instant::now()) {
                status.send_modify(|s| {
                    if s.last_error.as_deref() == Some(flooding.as_str()) {
                        s.last_error = None;
                    }
                });
            }
            if nests_deeper_than(&data, MAX_NESTING) {
                if let Some(skipped) = decode_warnings.allow(Instant::now()) {
                    tracing::warn!(account, skipped, "ignored an SSE event nested deeper than {MAX_NESTING} levels");
                }
                continue;
            }
            match adapter.decode_in(&session, &data, now_ms()) {
                Ok(Inbound::Event(e)) => {
                    if sink.send(*e).await.is_err() {
                        return SseEnded::SinkClosed;
                    }
                    status.send_modify(|s| s.events_received += 1);
                }
                Ok(Inbound::Control(Control::Authenticated { user_id })) => {
                    session.user_id = user_id;
                    status.send_modify(|s| s.state = ConnState::Subscribed);
                }
                Ok(Inbound::Control(Control::ServerError { fatal: true, message, .. })) => return SseEnded::Fatal(message),
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

    #[test]
    fn parses_events_across_chunks_and_skips_comments() {
        let mut p = SseParser::default();
        assert!(p.feed(b"data: {\"a\"").unwrap().is_empty());
        assert!(p.feed(b":1}\n").unwrap().is_empty());
        assert_eq!(p.feed(b"\n: heartbeat\n\ndata:x\r\ndata: y\n\n").unwrap(), vec!["{\"a\":1}".to_owned(), "x\ny".to_owned()]);
        assert!(p.feed(b"event: sync\nid: 3\n").unwrap().is_empty());
    }

    #[test]
    fn a_character_split_across_chunks_survives() {
        let mut p = SseParser::default();
        let bytes = "data: caf\u{e9}\n\n".as_bytes();
        let (a, b) = bytes.split_at(9); // inside the two bytes of é
        assert!(p.feed(a).unwrap().is_empty());
        assert_eq!(p.feed(b).unwrap(), vec!["caf\u{e9}".to_owned()]);
    }

    #[test]
    fn an_endless_line_or_event_is_refused_not_buffered() {
        let mut p = SseParser::with_limit(1024);
        assert_eq!(p.feed(&[b'x'; 2000]), Err(TooLarge));
        let mut p = SseParser::with_limit(1024);
        let line = format!("data: {}\n", "y".repeat(600));
        assert!(p.feed(line.as_bytes()).unwrap().is_empty());
        assert_eq!(p.feed(line.as_bytes()), Err(TooLarge), "two 600-byte data lines make one 1.2 KB event");
    }
}
