//! A direct NATS source for the topic platform ("Bivariant", PROTOCOLS.md section
//! 5), for self-hosted deployments where the platform's NATS bus is reachable: the
//! same topics as the WebSocket adapter, without the gateway in between.
//!
//! Owns: one NATS client per account (async-nats, core pub/sub only; `nats://`, or
//! `tls://` through rustls with `ring`), topic validation before anything is
//! subscribed, one NATS subscription per pattern, delivering a message that matches
//! several patterns once (listing the first configured pattern that matches, as the
//! gateway does), and the connection state machine: connecting → open → subscribed,
//! then reconnecting(attempt, delay) ↔ subscribed while async-nats reconnects and
//! re-subscribes by itself (paced by the account's [`Backoff`]), and closed(reason,
//! fatal) on a refused token, an invalid topic, or after `max_attempts`. Subscribed
//! is only reported once the server has confirmed the subscriptions (a round trip
//! on a private inbox subject), so nothing published after it is missed.
//!
//! Must not: decode events itself (each message becomes the WebSocket gateway's
//! `event` frame and goes through [`tocsin_providers::bivariant::decode`]), store,
//! classify or notify, publish on the platform's subjects, or log message content
//! or the token. Core NATS is at-most-once: events published while disconnected are
//! lost, so every reconnect leaves a gap entry, as for the WebSocket adapter. The
//! sink is awaited like the WebSocket supervisor's, but the bus cannot be slowed
//! down: when async-nats's per-subscription buffer (64 Ki messages) overflows it
//! drops messages, which is reported as a gap and in `last_error`. Order is kept
//! per subject, not across subjects that match different patterns. A client given
//! up while async-nats is reconnecting cannot be stopped from outside; its
//! reconnect loop is parked (no further connection attempts) instead.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Auth, AuthError, Client, ClientError, ConnectErrorKind, ConnectOptions, Message, ServerError};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tocsin_model::{now_ms, Event, Provider};
use tocsin_providers::{bivariant, fingerprint, topics, Inbound, Session};

use crate::{gap_event, AccountStatus, Backoff, ConnState, KeySource};

/// How long one connection attempt (TCP, TLS and the NATS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server has to confirm the subscriptions.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);
/// What async-nats is told to wait before its next reconnect attempt once this
/// client has been given up: async-nats cannot be stopped while it is reconnecting
/// (dropping the client does not reach its reconnect loop), so it is parked instead.
const PARKED: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// How many recent deliveries are remembered to drop the copies a message matching
/// several patterns arrives as (they arrive back to back).
const RECENT: usize = 1024;

/// One account's direct NATS connection.
pub struct NatsConnection {
    pub account: String,
    /// `nats://host:port` (or `tls://host:port`).
    pub url: String,
    /// The server's authorization token, asked again before every connection
    /// attempt, including async-nats's own reconnects (a rotated token is picked up).
    pub token: Option<KeySource>,
    /// Topic patterns, with NATS wildcards (`*` one token, `>` the rest).
    pub topics: Vec<String>,
    pub backoff: Backoff,
    /// A PEM file of CA certificates trusted for `tls://` (besides the platform
    /// roots). Unreadable or unparsable: the account stops with that error.
    pub ca_file: Option<std::path::PathBuf>,
    /// When this account was last known connected (the app stopped since): what was
    /// published meanwhile is missed, and the first connection writes a gap entry.
    pub resume_at_ms: Option<i64>,
}

/// Something async-nats reported from its own tasks.
#[derive(Debug)]
enum Signal {
    Nats(async_nats::Event),
    /// async-nats is about to wait `delay` before reconnect attempt `attempt`.
    Retrying { attempt: u32, delay: Duration },
    /// The token could not be read for a (re)connect.
    KeyError(String),
}

/// How one client's life ended.
#[derive(Debug)]
enum Ended {
    Shutdown,
    SinkClosed,
    Fatal(String),
    Retry { reason: String, was_up_for: Duration },
}

/// Runs `conn` until `shutdown` fires or a fatal error. Events go to `sink`; the
/// state goes to `status`.
pub async fn run_nats(
    conn: NatsConnection,
    sink: mpsc::Sender<Event>,
    status: watch::Sender<AccountStatus>,
    shutdown: CancellationToken,
) {
    if let Err(reason) = check(&conn) {
        close_fatal(&conn.account, &status, reason);
        return;
    }
    // TLS for tls:// (rustls has no process-wide provider by default), verified
    // like the WebSocket's: the platform's verifier, plus the account's CA file.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = match crate::tls::client_config(conn.ca_file.as_deref()) {
        Ok(config) => config,
        Err(reason) => {
            close_fatal(&conn.account, &status, reason);
            return;
        }
    };
    let log_url = redact_userinfo(&conn.url);
    let mut attempt: u32 = 0;
    let mut down_since: Option<i64> = conn.resume_at_ms;
    loop {
        set_state(&status, ConnState::Connecting);
        let ended = client_life(&conn, &tls, &log_url, &mut down_since, &sink, &status, &shutdown).await;
        let reason = match ended {
            Ended::Shutdown | Ended::SinkClosed => {
                set_state(&status, ConnState::Closed { reason: "stopped".into(), fatal: false });
                return;
            }
            Ended::Fatal(reason) => {
                close_fatal(&conn.account, &status, reason);
                return;
            }
            Ended::Retry { reason, was_up_for } => {
                if was_up_for >= conn.backoff.stable_after {
                    attempt = 0;
                }
                reason
            }
        };
        down_since.get_or_insert_with(now_ms);
        attempt += 1;
        if conn.backoff.max_attempts != 0 && attempt > conn.backoff.max_attempts {
            close_fatal(&conn.account, &status, format!("gave up after {} attempts: {reason}", conn.backoff.max_attempts));
            return;
        }
        let delay = conn.backoff.delay(attempt, rand::random::<f64>());
        tracing::info!(account = %conn.account, attempt, delay_ms = delay.as_millis() as u64, "reconnecting to NATS: {reason}");
        status.send_modify(|s| {
            s.last_error = Some(reason.clone());
            s.state = ConnState::Reconnecting { attempt, delay_ms: delay.as_millis() as u64 };
        });
        tokio::select! {
            _ = shutdown.cancelled() => {
                set_state(&status, ConnState::Closed { reason: "stopped".into(), fatal: false });
                return;
            }
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Refuses what no connection attempt can fix: a bad URL scheme or topic.
fn check(conn: &NatsConnection) -> Result<(), String> {
    if !(conn.url.starts_with("nats://") || conn.url.starts_with("tls://")) {
        return Err(format!(
            "the NATS URL {} must start with nats:// (or tls://)",
            redact_userinfo(&conn.url)
        ));
    }
    if conn.topics.is_empty() {
        return Err("the topic platform needs at least one topic pattern in `topics`".into());
    }
    for t in &conn.topics {
        topics::validate(t, None).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn set_state(status: &watch::Sender<AccountStatus>, state: ConnState) {
    status.send_modify(|s| s.state = state);
}

fn close_fatal(account: &str, status: &watch::Sender<AccountStatus>, reason: String) {
    tracing::warn!(account = %account, "NATS connection stopped: {reason}");
    status.send_modify(|s| {
        s.last_error = Some(reason.clone());
        s.state = ConnState::Closed { reason, fatal: true };
    });
}

/// `nats://user:pass@host:4222` → `nats://<redacted>@host:4222`.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>{}", &rest[at..]),
        None => url.to_owned(),
    }
}

fn auth_refused(has_token: bool) -> String {
    if has_token {
        "the NATS server rejected the token (authorization violation); set a valid token for this account".into()
    } else {
        "the NATS server requires authorization and no token is set for this account".into()
    }
}

/// Flags shared with async-nats's callbacks.
#[derive(Clone, Default)]
struct Flags {
    /// The first connect succeeded: later delay callbacks are reconnects.
    established: Arc<AtomicBool>,
    /// The client was given up (shutdown, fatal error): never connect again.
    stopped: Arc<AtomicBool>,
}

/// Sets [`Flags::stopped`] however [`client_life`] returns.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn options(
    conn: &NatsConnection,
    tls: &rustls::ClientConfig,
    signals: &mpsc::UnboundedSender<Signal>,
    flags: &Flags,
) -> ConnectOptions {
    let mut options = match &conn.token {
        Some(key) => {
            let (key, signals, stopped) = (key.clone(), signals.clone(), flags.stopped.clone());
            ConnectOptions::with_auth_callback(move |_nonce| {
                // Not even the key is read once the client has been given up.
                let read = (!stopped.load(Ordering::SeqCst)).then(|| key());
                let signals = signals.clone();
                async move {
                    match read {
                        None => Err(AuthError::new("stopped")),
                        Some(Ok(token)) => {
                            let mut auth = Auth::new();
                            auth.token = Some(token.expose().clone());
                            Ok(auth)
                        }
                        Some(Err(e)) => {
                            let _ = signals.send(Signal::KeyError(e.clone()));
                            Err(AuthError::new(e))
                        }
                    }
                }
            })
        }
        None => ConnectOptions::new(),
    };
    let events = signals.clone();
    let retrying = signals.clone();
    let flags = flags.clone();
    let backoff = conn.backoff;
    options = options
        .tls_client_config(tls.clone())
        .name(format!("tocsin ({})", conn.account))
        .connection_timeout(CONNECT_TIMEOUT)
        // The platform's cluster may advertise internal addresses.
        .ignore_discovered_servers()
        .max_reconnects(match backoff.max_attempts {
            0 => None,
            n => Some(n as usize),
        })
        .event_callback(move |event| {
            let _ = events.send(Signal::Nats(event));
            async {}
        })
        // async-nats counts attempts from 1 after every disconnect: the first is
        // immediate, the next ones follow the account's backoff.
        .reconnect_delay_callback(move |attempts| {
            if flags.stopped.load(Ordering::SeqCst) {
                return PARKED;
            }
            let attempt = u32::try_from(attempts).unwrap_or(u32::MAX);
            let delay = match attempt {
                0 | 1 => Duration::ZERO,
                n => backoff.delay(n - 1, rand::random::<f64>()),
            };
            // The first connect also asks (attempt 1); only reconnects are reported.
            if flags.established.load(Ordering::SeqCst) {
                let _ = retrying.send(Signal::Retrying { attempt, delay });
            }
            delay
        });
    options
}

/// One async-nats client, from connect until it is given up.
async fn client_life(
    conn: &NatsConnection,
    tls: &rustls::ClientConfig,
    log_url: &str,
    down_since: &mut Option<i64>,
    sink: &mpsc::Sender<Event>,
    status: &watch::Sender<AccountStatus>,
    shutdown: &CancellationToken,
) -> Ended {
    let (signals_tx, mut signals) = mpsc::unbounded_channel();
    let flags = Flags::default();
    let _stop = StopOnDrop(flags.stopped.clone());
    let options = options(conn, tls, &signals_tx, &flags);
    drop(signals_tx);
    let has_token = conn.token.is_some();
    let connected = tokio::select! {
        _ = shutdown.cancelled() => return Ended::Shutdown,
        r = options.connect(conn.url.as_str()) => r,
    };
    let client = match connected {
        Ok(client) => client,
        Err(e) => {
            while let Ok(signal) = signals.try_recv() {
                if let Signal::KeyError(reason) = signal {
                    return Ended::Fatal(reason);
                }
            }
            return match e.kind() {
                ConnectErrorKind::AuthorizationViolation => Ended::Fatal(auth_refused(has_token)),
                ConnectErrorKind::Authentication => Ended::Fatal(format!("signing in to the NATS server failed: {e}")),
                ConnectErrorKind::ServerParse => Ended::Fatal(format!("the NATS URL {log_url} is not valid: {e}")),
                _ => Ended::Retry { reason: format!("cannot reach the NATS server at {log_url}: {e}"), was_up_for: Duration::ZERO },
            };
        }
    };
    flags.established.store(true, Ordering::SeqCst);
    let opened_at = Instant::now();
    tracing::info!(account = %conn.account, url = %log_url, "connected to NATS");
    status.send_modify(|s| {
        s.state = ConnState::Open;
        s.last_error = None;
    });
    let up = |reason: String| Ended::Retry { reason, was_up_for: opened_at.elapsed() };

    let mut subscribers = Vec::with_capacity(conn.topics.len());
    for (index, topic) in conn.topics.iter().enumerate() {
        match client.subscribe(topic.clone()).await {
            Ok(s) => subscribers.push(s.map(move |m| (index, m))),
            Err(e) => return up(format!("cannot subscribe to {topic}: {e}")),
        }
    }
    let mut messages = futures_util::stream::select_all(subscribers);
    tokio::select! {
        _ = shutdown.cancelled() => return Ended::Shutdown,
        confirmed = confirm(&client) => if !confirmed {
            tracing::debug!(account = %conn.account, "the NATS server did not confirm the subscriptions in time");
        }
    }
    set_state(status, ConnState::Subscribed);
    if note_gap(&conn.account, down_since, sink).await.is_err() {
        return Ended::SinkClosed;
    }

    let session = Session::new(&conn.account);
    let mut recent = Recent::default();
    // Set while async-nats is reconnecting: its Connected event then means "back".
    let mut reconnecting = false;
    // Set while messages are being dropped for want of buffer room (one gap entry each time).
    let mut dropping = false;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ended::Shutdown,
            Some(signal) = signals.recv() => match signal {
                Signal::KeyError(reason) => return Ended::Fatal(reason),
                Signal::Retrying { attempt, delay } => {
                    reconnecting = true;
                    down_since.get_or_insert_with(now_ms);
                    tracing::info!(account = %conn.account, attempt, delay_ms = delay.as_millis() as u64, "reconnecting to NATS");
                    set_state(status, ConnState::Reconnecting { attempt, delay_ms: delay.as_millis() as u64 });
                }
                Signal::Nats(event) => match event {
                    async_nats::Event::Disconnected => {
                        reconnecting = true;
                        down_since.get_or_insert_with(now_ms);
                        tracing::info!(account = %conn.account, "lost the NATS connection");
                        status.send_modify(|s| {
                            s.last_error = Some(format!("lost the connection to the NATS server at {log_url}; reconnecting"));
                            if !matches!(s.state, ConnState::Reconnecting { .. }) {
                                s.state = ConnState::Reconnecting { attempt: 1, delay_ms: 0 };
                            }
                        });
                    }
                    async_nats::Event::Connected if reconnecting => {
                        // async-nats re-subscribes by itself; wait until the server has them.
                        let confirmed = tokio::select! {
                            _ = shutdown.cancelled() => return Ended::Shutdown,
                            c = confirm(&client) => c,
                        };
                        if confirmed || client.connection_state() == State::Connected {
                            reconnecting = false;
                            tracing::info!(account = %conn.account, "reconnected to NATS");
                            status.send_modify(|s| {
                                s.state = ConnState::Subscribed;
                                s.last_error = None;
                            });
                            if note_gap(&conn.account, down_since, sink).await.is_err() {
                                return Ended::SinkClosed;
                            }
                        }
                    }
                    async_nats::Event::ClientError(ClientError::MaxReconnects) => {
                        let last = status.borrow().last_error.clone().unwrap_or_else(|| "the server is unreachable".into());
                        return Ended::Fatal(format!("gave up after {} attempts: {last}", conn.backoff.max_attempts));
                    }
                    async_nats::Event::ClientError(ClientError::Other(e))
                        if e == ConnectErrorKind::AuthorizationViolation.to_string() =>
                    {
                        return Ended::Fatal(auth_refused(has_token));
                    }
                    async_nats::Event::ClientError(ClientError::Other(e)) => {
                        status.send_modify(|s| s.last_error = Some(format!("cannot reach the NATS server at {log_url}: {e}")));
                    }
                    async_nats::Event::ServerError(ServerError::AuthorizationViolation) => {
                        return Ended::Fatal(auth_refused(has_token));
                    }
                    async_nats::Event::SlowConsumer(_) | async_nats::Event::ServerError(ServerError::SlowConsumer(_)) => {
                        if !dropping {
                            dropping = true;
                            tracing::warn!(account = %conn.account, "NATS messages were dropped: events arrive faster than they are stored");
                            status.send_modify(|s| s.last_error = Some("some events were dropped: they arrived faster than Tocsin could store them".into()));
                            if sink.send(gap_event(&conn.account, Provider::Bivariant, None, now_ms(), "they arrived faster than Tocsin could store them and NATS dropped some")).await.is_err() {
                                return Ended::SinkClosed;
                            }
                        }
                    }
                    async_nats::Event::ServerError(ServerError::Other(e)) => {
                        tracing::warn!(account = %conn.account, "NATS server error: {e}");
                        status.send_modify(|s| s.last_error = Some(format!("the NATS server reported: {e}")));
                    }
                    async_nats::Event::LameDuckMode => {
                        tracing::info!(account = %conn.account, "the NATS server is shutting down (lame duck mode)");
                    }
                    async_nats::Event::Connected
                    | async_nats::Event::Draining
                    | async_nats::Event::Closed
                    | async_nats::Event::ClientError(_) => {}
                },
            },
            next = messages.next() => {
                let Some((index, message)) = next else {
                    return up("the NATS client closed".into());
                };
                dropping = false;
                let Some(event) = decode_message(&session, &conn.topics, index, &message, &mut recent, &conn.account) else {
                    continue;
                };
                if sink.send(event).await.is_err() {
                    return Ended::SinkClosed;
                }
                status.send_modify(|s| s.events_received += 1);
            }
        }
    }
}

/// Waits until the server has processed everything this client sent so far (its
/// subscriptions included): a message to a private inbox subject comes back.
async fn confirm(client: &Client) -> bool {
    let subject = client.new_inbox();
    let Ok(mut probe) = client.subscribe(subject.clone()).await else {
        return false;
    };
    if client.publish(subject, Default::default()).await.is_err() {
        return false;
    }
    let confirmed = matches!(timeout(CONFIRM_TIMEOUT, probe.next()).await, Ok(Some(_)));
    let _ = probe.unsubscribe().await;
    confirmed
}

/// After a reconnect, the history gets a gap entry covering the time the
/// connection was down (core NATS does not replay).
async fn note_gap(account: &str, down_since: &mut Option<i64>, sink: &mpsc::Sender<Event>) -> Result<(), ()> {
    if let Some(from) = down_since.take() {
        sink.send(gap_event(account, Provider::Bivariant, Some(from), now_ms(), "core NATS does not resend what was published while Tocsin was not connected")).await.map_err(|_| ())?;
    }
    Ok(())
}

/// Recently delivered (subject, event id) keys.
#[derive(Default)]
struct Recent {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl Recent {
    /// Records `key`; false when it was already there.
    fn insert(&mut self, key: String) -> bool {
        if !self.seen.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > RECENT {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// Decodes one NATS message, or explains (without its content) why it was skipped.
fn decode_message(
    session: &Session,
    patterns: &[String],
    index: usize,
    message: &Message,
    recent: &mut Recent,
    account: &str,
) -> Option<Event> {
    let subject = message.subject.as_str();
    // The first configured pattern that matches, whichever subscription it came in on,
    // so every copy of a message builds the same frame.
    let pattern = patterns
        .iter()
        .find(|p| topics::matches(p, subject))
        .unwrap_or(&patterns[index]);
    match frame(subject, pattern, &message.payload) {
        Ok((key, text)) => {
            if !recent.insert(key) {
                return None;
            }
            match bivariant::decode(session, &text, now_ms()) {
                Ok(Inbound::Event(event)) => Some(*event),
                Ok(Inbound::Control(_)) | Ok(Inbound::Ephemeral(_)) => None,
                Err(e) => {
                    tracing::warn!(account = %account, pattern = %pattern, "ignored a NATS message that could not be decoded: {}", crate::throttle::clip(&e.to_string(), 200));
                    None
                }
            }
        }
        Err(reason) => {
            tracing::warn!(account = %account, pattern = %pattern, "ignored a NATS message that could not be decoded: {}", crate::throttle::clip(&reason, 200));
            None
        }
    }
}

/// The WebSocket gateway's `event` frame for a bus message on `subject`, and the key
/// its copies share. The subject is the topic; the payload is the event envelope.
fn frame(subject: &str, pattern: &str, payload: &[u8]) -> Result<(String, String), String> {
    if crate::throttle::nests_deeper_than(payload, crate::MAX_NESTING) {
        return Err(format!("the payload nests deeper than {} levels", crate::MAX_NESTING));
    }
    let envelope: Value = serde_json::from_slice(payload).map_err(|e| format!("the payload is not JSON ({e})"))?;
    let Value::Object(envelope) = envelope else {
        return Err("the payload is not a JSON object".into());
    };
    let key = match envelope.get("id").and_then(Value::as_str) {
        Some(id) => format!("{subject}\n{id}"),
        None => format!("{subject}\nfp:{}", fingerprint(&String::from_utf8_lossy(payload))),
    };
    let mut frame = serde_json::Map::new();
    for (k, v) in envelope {
        if !matches!(k.as_str(), "type" | "topic" | "subscription") {
            frame.insert(k, v);
        }
    }
    frame.insert("type".into(), "event".into());
    frame.insert("topic".into(), subject.into());
    frame.insert("subscription".into(), pattern.into());
    Ok((key, Value::Object(frame).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_carry_the_subject_and_first_pattern() {
        let payload = br#"{"id":"evt_1","event":"task.completed","topic":"spoofed","payload":{"status":"done"}}"#;
        let (key, text) = frame("events.o.tasks.task.completed.t1", "events.o.>", payload).unwrap();
        assert_eq!(key, "events.o.tasks.task.completed.t1\nevt_1");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["topic"], "events.o.tasks.task.completed.t1");
        assert_eq!(v["subscription"], "events.o.>");
        assert_eq!(v["payload"], json!({"status":"done"}));
        assert!(frame("s", "p", b"not json").unwrap_err().contains("not JSON"));
        assert!(frame("s", "p", b"[1]").unwrap_err().contains("object"));
        let (a, _) = frame("s", "p", br#"{"event":"x"}"#).unwrap();
        let (b, _) = frame("s", "p", br#"{"event":"y"}"#).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn recent_forgets_the_oldest() {
        let mut r = Recent::default();
        assert!(r.insert("a".into()));
        assert!(!r.insert("a".into()));
        for i in 0..RECENT {
            assert!(r.insert(i.to_string()));
        }
        assert!(r.insert("a".into()));
    }

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(redact_userinfo("nats://u:p@h:4222"), "nats://<redacted>@h:4222");
        assert_eq!(redact_userinfo("nats://h:4222"), "nats://h:4222");
    }

    #[test]
    fn bad_urls_and_topics_are_refused() {
        let conn = |url: &str, topic: &str| NatsConnection {
            account: "a".into(),
            url: url.into(),
            token: None,
            topics: vec![topic.into()],
            backoff: Backoff::default(),
            ca_file: None,
            resume_at_ms: None,
        };
        assert!(check(&conn("nats://h:4222", "events.o.>")).is_ok());
        assert!(check(&conn("ws://h", "events.o.>")).unwrap_err().contains("nats://"));
        assert!(check(&conn("nats://h:4222", "events.o.>.x")).unwrap_err().contains("last segment"));
    }
}
