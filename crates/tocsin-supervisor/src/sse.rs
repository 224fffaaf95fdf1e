//! The SSE fallback: when a provider's WebSocket upgrade fails but it offers a
//! Server-Sent Events stream of the same envelopes (Prismer `/sse`), events keep
//! flowing over SSE; after a while the supervisor tries the WebSocket again.
//!
//! Owns: the HTTP stream, `data:` event parsing, liveness on heartbeat comments.
//! Must not: decode frames itself (the adapter does) or acknowledge (SSE is
//! read-only; the provider redelivers, and the history dedupes).

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tocsin_model::{now_ms, Event};
use tocsin_providers::{Adapter, ConnectPlan, Control, Inbound, Session};

use crate::{AccountStatus, ConnState};

/// How an SSE session ended.
pub(crate) enum SseEnded {
    Shutdown,
    SinkClosed,
    Fatal(String),
    /// Time to try the WebSocket again, or the stream broke.
    Retry(String),
}

/// Splits an SSE byte stream into the `data` of each event.
#[derive(Default)]
pub(crate) struct SseParser {
    buf: String,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds bytes; returns complete event payloads. Comment lines (`: ...`) count
    /// as liveness only.
    pub(crate) fn feed(&mut self, chunk: &str) -> Vec<String> {
        self.buf.push_str(chunk);
        let mut out = Vec::new();
        while let Some(i) = self.buf.find('\n') {
            let line: String = self.buf.drain(..=i).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(self.data.join("\n"));
                    self.data.clear();
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                self.data.push(d.strip_prefix(' ').unwrap_or(d).to_owned());
            }
        }
        out
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    http: &reqwest::Client,
    adapter: &dyn Adapter,
    account: &str,
    plan: ConnectPlan,
    stay_for: Duration,
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
        Err(e) => return SseEnded::Retry(format!("cannot reach {}: {}", plan.log_url, e.without_url())),
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
    let mut parser = SseParser::default();
    let mut stream = response.bytes_stream();
    let mut session = Session { account: account.to_owned(), user_id: None };
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
        for data in parser.feed(&String::from_utf8_lossy(&bytes)) {
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
                Err(e) => tracing::warn!(account, "ignored an SSE event that could not be decoded: {e}"),
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
        assert!(p.feed("data: {\"a\"").is_empty());
        assert!(p.feed(":1}\n").is_empty());
        assert_eq!(p.feed("\n: heartbeat\n\ndata:x\r\ndata: y\n\n"), vec!["{\"a\":1}".to_owned(), "x\ny".to_owned()]);
        assert!(p.feed("event: sync\nid: 3\n").is_empty());
    }
}
