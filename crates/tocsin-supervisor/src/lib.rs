//! The connection supervisor: one long-lived task per account that keeps a
//! WebSocket open to its provider, whatever the network does.
//!
//! Owns: sockets (tokio-tungstenite, TLS verified against the platform roots), the
//! connection state machine ([`ConnState`]: connecting → authenticating → open →
//! subscribed → reconnecting(attempt, delay) → closed(reason, fatal)), exponential
//! backoff with jitter, heartbeats (pings out, silence detection), re-subscribing
//! after every reconnect, replay cursors, and the frame size limit.
//!
//! Must not: store, classify or notify. Decoded events go to a bounded channel and
//! the supervisor waits for room there (backpressure reaches the socket, nothing is
//! dropped); what happens next is the engine's business. Protocol details live in
//! the provider adapters; this crate only moves frames and keeps time.
//!
//! Hardening: TLS is always verified (the platform's verifier and roots, plus an
//! optional per-account CA file; there is no way to turn verification off); frames
//! and messages over `max_frame_bytes` close the connection before they are
//! buffered; a token bucket per connection ([`RateLimit`]) paces reading so a
//! flooding server is slowed down rather than starving the app (nothing received is
//! dropped); frames nested deeper than [`MAX_NESTING`] are refused before decoding;
//! repeated warnings about a server's frames are logged once per period, clipped.
//!
//! Layout: `lib.rs` (the run loop), `backoff.rs`, `status.rs`, `tls.rs`,
//! `throttle.rs`, `sse.rs`, `nats.rs` (the direct NATS source for the topic
//! platform, [`run_nats`]).

mod backoff;
mod catchup;
mod names;
mod token;
mod sse;
pub mod nats;
mod status;
mod throttle;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::Connector;
use tokio_util::sync::CancellationToken;
use tocsin_model::{now_ms, Event, EventKind};
use tocsin_providers::{Adapter, Command, CommandPlan, Control, Inbound, Session, TokenError, TokenRequest};
use tocsin_secrets::Sensitive;

pub use backoff::Backoff;
pub use nats::{run_nats, NatsConnection};
pub use status::{AccountStatus, ConnState};
pub use throttle::RateLimit;

use throttle::{clip, nests_deeper_than, Bucket, LogLimiter};

pub use catchup::OVERLAP_MS as BACKFILL_OVERLAP_MS;

/// How long an SSE fallback session lasts before the WebSocket is tried again.
pub const SSE_STAY: Duration = Duration::from_secs(300);

/// Default frame and message size limit: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// Frames nested deeper than this (brackets outside strings) are refused before
/// they are decoded; serde_json's own limit is 128 as well.
pub const MAX_NESTING: usize = 128;

/// How often a repeated warning about the server's frames is logged at most.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Where a connection gets its key, asked again before every attempt (so a rotated
/// key is picked up). Errors are shown to the user as they are.
pub type KeySource = Arc<dyn Fn() -> Result<Sensitive<String>, String> + Send + Sync>;

/// Where a renewed key is kept (the keychain).
pub type KeySaver = Arc<dyn Fn(&Sensitive<String>) -> Result<(), String> + Send + Sync>;

/// One account's connection settings.
pub struct Connection {
    pub account: String,
    pub adapter: Arc<dyn Adapter>,
    pub key: KeySource,
    pub backoff: Backoff,
    pub max_frame_bytes: usize,
    pub connect_timeout: Duration,
    /// The replay cursor to resume from (the last event id committed earlier).
    pub resume: Option<String>,
    /// When this account was last known connected before (the latest committed
    /// event or a clean stop): what was sent since may have been missed.
    pub resume_at_ms: Option<i64>,
    /// Frames the engine wants sent on this account's socket (acks after commit).
    pub outgoing: mpsc::Receiver<Outgoing>,
    /// The REST base for commands that go over HTTP.
    pub rest_base: String,
    /// A PEM file of CA certificates trusted for this account (besides the platform
    /// roots) on `wss://` and `https://`. Unreadable or unparsable: the account stops
    /// with that error; verification is never skipped.
    pub ca_file: Option<PathBuf>,
    /// How fast the server may send frames before reading is slowed.
    pub rate_limit: RateLimit,
    /// Names of the people and conversations this account's events mention.
    pub names: Arc<std::sync::Mutex<tocsin_providers::NameCache>>,
    /// Saves a key renewed before it expired; `None`: renewed keys live in memory.
    pub save_key: Option<KeySaver>,
}

/// Something to send on an account's socket.
#[derive(Debug)]
pub enum Outgoing {
    /// Acknowledge a committed event that carried this delivery token.
    Ack(String),
    /// Carry out a user action (mark read, reply); the answer goes to `reply`.
    Command { command: Command, reply: oneshot::Sender<Result<(), String>> },
    /// Drop the connection and connect again now (also skips a backoff wait).
    Reconnect,
}

/// How long a command waits for the server's answer.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How one connection attempt ended.
#[derive(Debug)]
enum Ended {
    Shutdown,
    Fatal(String),
    Retry { reason: String, min_delay: Option<Duration>, was_up_for: Duration, immediate: bool },
    SinkClosed,
}

/// Runs `conn` until `shutdown` fires or a fatal error. Events go to `sink`; the
/// state goes to `status`.
pub async fn run(
    mut conn: Connection,
    sink: mpsc::Sender<Event>,
    status: watch::Sender<AccountStatus>,
    shutdown: CancellationToken,
) {
    // TLS for wss:// and https:// (rustls has no process-wide provider by default).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // One TLS configuration for the socket and the HTTP client; a bad CA file stops
    // the account until the user fixes it and asks to reconnect.
    let (http, tls) = loop {
        match setup_tls(&conn) {
            Ok(set) => break set,
            Err(reason) => {
                tracing::warn!(account = %conn.account, "connection stopped: {reason}");
                if !stop_until_reconnect(&mut conn, &status, &shutdown, reason).await {
                    return;
                }
            }
        }
    };
    let mut away = catchup::Away { cursor: conn.resume.clone(), since: conn.resume_at_ms };
    let mut attempt: u32 = 0;
    loop {
        set_state(&status, ConnState::Connecting);
        let ended = attempt_once(&mut conn, &http, &tls, &mut away, &sink, &status, &shutdown).await;
        // A server may echo the key in an error; it never reaches a log or the status.
        let ended = scrub_key(ended, &conn);
        let (reason, min_delay) = match ended {
            Ended::Shutdown | Ended::SinkClosed => {
                set_state(&status, ConnState::Closed { reason: "stopped".into(), fatal: false });
                return;
            }
            Ended::Fatal(reason) => {
                tracing::warn!(account = %conn.account, "connection stopped: {reason}");
                // Stopped until the user asks again (after fixing the key, say).
                if !stop_until_reconnect(&mut conn, &status, &shutdown, reason).await {
                    return;
                }
                attempt = 0;
                continue;
            }
            Ended::Retry { reason, min_delay, was_up_for, immediate } => {
                if was_up_for >= conn.backoff.stable_after {
                    attempt = 0;
                }
                if immediate {
                    away.since.get_or_insert_with(now_ms);
                    status.send_modify(|s| s.last_error = Some(reason.clone()));
                    continue;
                }
                (reason, min_delay)
            }
        };
        away.since.get_or_insert_with(now_ms);
        attempt += 1;
        if conn.backoff.max_attempts != 0 && attempt > conn.backoff.max_attempts {
            let reason = format!("gave up after {} attempts: {reason}", conn.backoff.max_attempts);
            if !stop_until_reconnect(&mut conn, &status, &shutdown, reason).await {
                return;
            }
            attempt = 0;
            continue;
        }
        let delay = conn.backoff.delay(attempt, rand::random::<f64>()).max(min_delay.unwrap_or_default());
        tracing::info!(account = %conn.account, attempt, delay_ms = delay.as_millis() as u64, "reconnecting: {reason}");
        status.send_modify(|s| {
            s.last_error = Some(reason.clone());
            s.state = ConnState::Reconnecting { attempt, delay_ms: delay.as_millis() as u64 };
        });
        let wait = tokio::time::sleep(delay);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    set_state(&status, ConnState::Closed { reason: "stopped".into(), fatal: false });
                    return;
                }
                _ = &mut wait => break,
                out = conn.outgoing.recv() => match out {
                    Some(Outgoing::Reconnect) => {
                        tracing::info!(account = %conn.account, "reconnecting now, as asked");
                        attempt = 0;
                        break;
                    }
                    Some(Outgoing::Command { reply, .. }) => {
                        let _ = reply.send(Err("the account is not connected right now; try again when it is".into()));
                    }
                    // The provider redelivers what was not acknowledged.
                    Some(Outgoing::Ack(_)) => {}
                    None => {
                        tokio::select! {
                            _ = shutdown.cancelled() => {
                                set_state(&status, ConnState::Closed { reason: "stopped".into(), fatal: false });
                                return;
                            }
                            _ = &mut wait => break,
                        }
                    }
                },
            }
        }
    }
}

/// Waits, while stopped, for the user to ask for a reconnect; `false` on shutdown.
/// Shows the account as stopped for `reason` and waits for the user's Reconnect:
/// `true` then, `false` (with the state "stopped") when shutting down instead.
async fn stop_until_reconnect(
    conn: &mut Connection,
    status: &watch::Sender<AccountStatus>,
    shutdown: &CancellationToken,
    reason: String,
) -> bool {
    status.send_modify(|s| {
        s.last_error = Some(reason.clone());
        s.state = ConnState::Closed { reason, fatal: true };
    });
    if wait_for_reconnect(conn, shutdown).await {
        return true;
    }
    set_state(status, ConnState::Closed { reason: "stopped".into(), fatal: false });
    false
}

async fn wait_for_reconnect(conn: &mut Connection, shutdown: &CancellationToken) -> bool {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            out = conn.outgoing.recv() => match out {
                Some(Outgoing::Reconnect) => return true,
                Some(Outgoing::Command { reply, .. }) => {
                    let _ = reply.send(Err("the account is stopped; fix what its status says, then reconnect".into()));
                }
                Some(Outgoing::Ack(_)) => {}
                None => {
                    shutdown.cancelled().await;
                    return false;
                }
            },
        }
    }
}

fn set_state(status: &watch::Sender<AccountStatus>, state: ConnState) {
    status.send_modify(|s| s.state = state);
}

/// Replaces the account's key in a failure's reason with `<redacted>`.
fn scrub_key(ended: Ended, conn: &Connection) -> Ended {
    let scrub = |reason: String| -> String {
        match (conn.key)() {
            Ok(key) if key.expose().len() >= 4 && reason.contains(key.expose().as_str()) => {
                reason.replace(key.expose().as_str(), "<redacted>")
            }
            _ => reason,
        }
    };
    match ended {
        Ended::Fatal(reason) => Ended::Fatal(scrub(reason)),
        Ended::Retry { reason, min_delay, was_up_for, immediate } => {
            Ended::Retry { reason: scrub(reason), min_delay, was_up_for, immediate }
        }
        other => other,
    }
}

/// The HTTP client and the WebSocket TLS configuration of `conn`.
fn setup_tls(conn: &Connection) -> Result<(reqwest::Client, Arc<rustls::ClientConfig>), String> {
    let config = tls::client_config(conn.ca_file.as_deref())?;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(config.clone())
        .connect_timeout(conn.connect_timeout)
        .timeout(conn.connect_timeout)
        .build()
        .map_err(|e| format!("cannot set up HTTPS: {e}"))?;
    Ok((http, Arc::new(config)))
}

async fn attempt_once(
    conn: &mut Connection,
    http: &reqwest::Client,
    tls: &Arc<rustls::ClientConfig>,
    away: &mut catchup::Away,
    sink: &mpsc::Sender<Event>,
    status: &watch::Sender<AccountStatus>,
    shutdown: &CancellationToken,
) -> Ended {
    let mut key = match (conn.key)() {
        Ok(k) => k,
        Err(e) => return Ended::Fatal(e),
    };
    key = match token::check(conn, http, key).await {
        token::KeyState::Usable(k) => k,
        token::KeyState::Expired(reason) => return Ended::Fatal(reason),
    };
    if let Some(request) = conn.adapter.token_request() {
        set_state(status, ConnState::Authenticating);
        let fetched = tokio::select! {
            _ = shutdown.cancelled() => return Ended::Shutdown,
            r = fetch_token(http, conn.adapter.as_ref(), &request, &key) => r,
        };
        key = match fetched {
            Ok(token) => token,
            Err(TokenError::Fatal(reason)) => return Ended::Fatal(reason),
            Err(TokenError::Retry(reason)) => return retry(reason),
        };
    }
    let plan = conn.adapter.connect_plan(&key, away.cursor.as_deref());
    let mut request = match plan.url.expose().as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => return Ended::Fatal(format!("the account URL {} is not valid: {e}", plan.log_url)),
    };
    for (name, value) in &plan.headers {
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value.expose())) else {
            return Ended::Fatal(format!("the key cannot be sent in the {name} header (invalid characters)"));
        };
        request.headers_mut().insert(n, v);
    }
    set_state(status, ConnState::Authenticating);
    let config = WebSocketConfig::default()
        .max_message_size(Some(conn.max_frame_bytes))
        .max_frame_size(Some(conn.max_frame_bytes));
    let connector = Connector::Rustls(tls.clone());
    // Nagle off: a frame is small and the next one may not come for a while, so
    // holding it back for an ACK (up to the peer's 40 ms delayed ACK) is pure delay.
    let connecting = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, Some(connector));
    let connected = tokio::select! {
        _ = shutdown.cancelled() => return Ended::Shutdown,
        r = timeout(conn.connect_timeout, connecting) => r,
    };
    let mut ws = match connected {
        Err(_) => {
            return retry(format!("no answer from {} within {} s", plan.log_url, conn.connect_timeout.as_secs()))
        }
        Ok(Err(e)) => {
            let ended = classify_connect_error(e, &plan.log_url);
            // A refused upgrade that is not about the key: use the SSE stream if the
            // provider has one, for a while, then try the WebSocket again.
            if let (Ended::Retry { reason, .. }, Some(sse_plan)) = (&ended, conn.adapter.sse_plan(&key)) {
                if reason.contains("HTTP") {
                    status.send_modify(|s| s.last_error = Some(format!("{reason}; using the SSE stream instead")));
                    // The SSE stream does not catch up by itself: fetch first.
                    let mut session = Session::new(&conn.account);
                    if catchup::after_connect(conn, http, &mut session, away, sink).await.is_err() {
                        return Ended::SinkClosed;
                    }
                    let limits = sse::Limits { max_event_bytes: conn.max_frame_bytes, rate: conn.rate_limit };
                    let outcome =
                        sse::run(http, conn.adapter.as_ref(), &conn.account, sse_plan, SSE_STAY, limits, sink, status, shutdown).await;
                    status.send_modify(|s| s.transport = "websocket".into());
                    return match outcome {
                        sse::SseEnded::Shutdown => Ended::Shutdown,
                        sse::SseEnded::SinkClosed => Ended::SinkClosed,
                        sse::SseEnded::Fatal(r) => Ended::Fatal(r),
                        sse::SseEnded::Retry(r) => Ended::Retry { reason: r, min_delay: None, was_up_for: Duration::ZERO, immediate: false },
                    };
                }
            }
            return ended;
        }
        Ok(Ok((ws, _response))) => ws,
    };
    let opened_at = Instant::now();
    tracing::info!(account = %conn.account, url = %plan.log_url, "connected");
    let mut session = Session { cursor: away.cursor.clone(), ..Session::new(&conn.account) };
    if let Some(frame) = conn.adapter.auth_frame(&key, now_ms()) {
        if let Err(e) = ws.send(Message::text(frame.expose().as_str())).await {
            return retry(format!("the connection broke while signing in: {e}"));
        }
    }
    drop(key);
    if conn.adapter.expects_auth_ack() {
        set_state(status, ConnState::Authenticating);
    } else if let Err(reason) = opened(conn, &mut ws, away.cursor.as_deref(), status).await {
        return retry(reason);
    }
    if !conn.adapter.expects_subscribe_ack() && !conn.adapter.expects_auth_ack() {
        let caught = catchup::after_connect(conn, http, &mut session, away, sink).await;
        if let Err(stop) = send_caught(&mut ws, caught).await {
            return stop.map_or(Ended::SinkClosed, retry);
        }
    }
    // Catch up again now and then while connected (what the socket cannot see).
    let mut catch_up_tick = conn.adapter.catch_up_every().map(|every| {
        let mut i = tokio::time::interval_at(Instant::now() + every, every);
        // After a long catch-up or a sleep: one more, not a burst.
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let heartbeat = conn.adapter.heartbeat();
    let mut pings_sent: u64 = 0;
    // Sleep detection: compare the wall clock with the monotonic clock.
    // Sleep detection and command expiry: every 5 s while a command waits for its
    // answer, every 30 s otherwise (an idle connection wakes the CPU as little as it can).
    let mut wake_check_at = Instant::now() + IDLE_WAKE_CHECK;
    let mut wall_then = now_ms();
    let mut mono_then = Instant::now();
    let mut pending: std::collections::HashMap<String, (oneshot::Sender<Result<(), String>>, Instant)> =
        std::collections::HashMap::new();
    let mut next_request: u64 = 0;
    let mut ping = tokio::time::interval_at(Instant::now() + heartbeat.ping_every, heartbeat.ping_every);
    let mut deadline = Instant::now() + heartbeat.dead_after;
    let up = |reason: String, min_delay: Option<Duration>| Ended::Retry {
        reason,
        min_delay,
        was_up_for: opened_at.elapsed(),
        immediate: false,
    };
    // How a catch-up on the open socket ended the connection, if it did.
    let stopped = |stop: Option<String>| stop.map_or(Ended::SinkClosed, |reason| up(reason, None));
    // Pacing: when the bucket is empty the socket is not read until it refills.
    let mut bucket = Bucket::new(conn.rate_limit, Instant::now());
    let flooding = conn.rate_limit.flooding_note();
    let mut binary_warnings = LogLimiter::new(WARN_EVERY);
    let mut decode_warnings = LogLimiter::new(WARN_EVERY);
    let mut flood_noted = false;
    loop {
        let now = Instant::now();
        if flood_noted {
            // Look again soon, so the note clears when the flood is over.
            wake_check_at = wake_check_at.min(now + BUSY_WAKE_CHECK);
        }
        if bucket.recovered(now) {
            flood_noted = false;
            tracing::info!(account = %conn.account, "the flood is over: reading at full speed again");
            status.send_modify(|s| {
                if s.last_error.as_deref() == Some(flooding.as_str()) {
                    s.last_error = None;
                }
            });
        }
        let read_at = bucket.wait(now);
        if read_at.is_some() && bucket.became_throttled(now) {
            flood_noted = true;
            tracing::warn!(account = %conn.account, per_sec = conn.rate_limit.per_sec, "{flooding}");
            status.send_modify(|s| s.last_error = Some(flooding.clone()));
        }
        let msg = tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
                return Ended::Shutdown;
            }
            _ = sleep_until(deadline) => {
                return up(format!("no data for {} s; the connection is presumed dead", heartbeat.dead_after.as_secs()), None);
            }
            _ = tick(&mut catch_up_tick) => {
                // Renew a key that expires soon while connected, too.
                if let Ok(key) = (conn.key)() {
                    let _ = token::check(conn, http, key).await;
                }
                let caught = catchup::again(conn, http, &mut session, away, sink, "a periodic catch-up").await;
                if let Err(stop) = send_caught(&mut ws, caught).await {
                    return stopped(stop);
                }
                deadline = Instant::now() + heartbeat.dead_after;
                continue;
            }
            _ = ping.tick() => {
                pings_sent += 1;
                let frame = match conn.adapter.app_ping(pings_sent, now_ms()) {
                    Some(text) => Message::text(text),
                    None => Message::Ping(Vec::new().into()),
                };
                if let Err(e) = ws.send(frame).await {
                    return up(format!("the connection broke: {e}"), None);
                }
                continue;
            }
            _ = sleep_until(wake_check_at) => {
                wake_check_at = Instant::now() + if pending.is_empty() { IDLE_WAKE_CHECK } else { BUSY_WAKE_CHECK };
                let (wall_now, mono_now) = (now_ms(), Instant::now());
                let asleep = slept(wall_now - wall_then, (mono_now - mono_then).as_millis() as i64);
                (wall_then, mono_then) = (wall_now, mono_now);
                let expired: Vec<String> = pending.iter().filter(|(_, (_, at))| at.elapsed() > COMMAND_TIMEOUT).map(|(k, _)| k.clone()).collect();
                for k in expired {
                    if let Some((reply, _)) = pending.remove(&k) {
                        let _ = reply.send(Err(format!("the server did not answer within {} s", COMMAND_TIMEOUT.as_secs())));
                    }
                }
                if asleep {
                    tracing::info!(account = %conn.account, "the computer woke from sleep: reconnecting now");
                    return Ended::Retry {
                        reason: "the computer woke from sleep; reconnecting".into(),
                        min_delay: None,
                        was_up_for: Duration::MAX,
                        immediate: true,
                    };
                }
                continue;
            }
            Some(out) = conn.outgoing.recv() => {
                match out {
                    Outgoing::Ack(token) => {
                        if let Some(frame) = conn.adapter.ack_frame(&token) {
                            if let Err(e) = ws.send(Message::text(frame)).await {
                                return up(format!("the connection broke: {e}"), None);
                            }
                        }
                    }
                    Outgoing::Reconnect => {
                        let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
                        return Ended::Retry {
                            reason: "reconnecting, as asked".into(),
                            min_delay: None,
                            was_up_for: Duration::MAX,
                            immediate: true,
                        };
                    }
                    Outgoing::Command { command, reply } => {
                        next_request += 1;
                        let request_id = format!("tocsin-{next_request}");
                        match conn.adapter.command(&command, &request_id) {
                            Err(e) => { let _ = reply.send(Err(e)); }
                            Ok(CommandPlan::Socket { frame, request_id }) => {
                                if let Err(e) = ws.send(Message::text(frame)).await {
                                    let _ = reply.send(Err(format!("the connection broke while sending: {e}")));
                                    return up(format!("the connection broke: {e}"), None);
                                }
                                match request_id {
                                    Some(r) => {
                                        pending.insert(r, (reply, Instant::now()));
                                        wake_check_at = wake_check_at.min(Instant::now() + BUSY_WAKE_CHECK);
                                    }
                                    None => { let _ = reply.send(Ok(())); }
                                }
                            }
                            Ok(CommandPlan::Rest { method, path, body }) => {
                                let url = format!("{}{path}", conn.rest_base);
                                let key = (conn.key)();
                                let http = http.clone();
                                tokio::spawn(async move {
                                    let result = match key {
                                        Ok(key) => rest_call(&http, method, &url, &key, body).await,
                                        Err(e) => Err(e),
                                    };
                                    let _ = reply.send(result);
                                });
                            }
                        }
                    }
                }
                continue;
            }
            // Throttled: wait for a token instead of reading.
            _ = sleep_until(read_at.unwrap_or(now)), if read_at.is_some() => continue,
            msg = ws.next(), if read_at.is_none() => msg,
        };
        deadline = Instant::now() + heartbeat.dead_after;
        bucket.take(Instant::now());
        let text = match msg {
            None => return up("the server closed the connection".into(), None),
            Some(Err(WsError::Capacity(e))) => {
                tracing::warn!(account = %conn.account, "refused an oversized frame: {e}");
                return up(format!("the server sent a frame over the {} KiB limit; it was refused unread", conn.max_frame_bytes / 1024), None);
            }
            Some(Err(WsError::Utf8(_))) => {
                tracing::warn!(account = %conn.account, "the server sent a text frame that is not UTF-8");
                return up("the server sent a text frame that is not valid UTF-8".into(), None);
            }
            Some(Err(e)) => return up(format!("the connection broke: {e}"), None),
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map(|f| (f.code, f.reason.to_string())).unwrap_or((CloseCode::Status, String::new()));
                return match code {
                    CloseCode::Policy => up(format!("the server closed the connection by policy ({reason})"), Some(Duration::from_secs(60))),
                    _ => up(format!("the server closed the connection ({}{})", u16::from(code),
                        if reason.is_empty() { String::new() } else { format!(": {reason}") }), None),
                };
            }
            Some(Ok(Message::Binary(b))) => {
                if let Some(skipped) = binary_warnings.allow(Instant::now()) {
                    tracing::warn!(account = %conn.account, bytes = b.len(), skipped,
                        "ignored a binary frame (the protocol uses text)");
                }
                continue;
            }
            Some(Ok(_)) => continue, // ping (answered by tungstenite), pong, raw frame
        };
        if nests_deeper_than(text.as_str(), MAX_NESTING) {
            if let Some(skipped) = decode_warnings.allow(Instant::now()) {
                tracing::warn!(account = %conn.account, bytes = text.len(), skipped,
                    "ignored a frame nested deeper than {MAX_NESTING} levels");
            }
            continue;
        }
        match conn.adapter.decode_in(&session, text.as_str(), now_ms()) {
            Ok(Inbound::Event(mut event)) => {
                if let Some(id) = &event.provider_event_id {
                    away.cursor = Some(id.clone());
                }
                names::resolve(conn, http, &session, &mut event).await;
                let frames = conn.adapter.after_event(&mut session, &event);
                if sink.send(*event).await.is_err() {
                    return Ended::SinkClosed;
                }
                status.send_modify(|s| s.events_received += 1);
                if let Err(reason) = send_all(&mut ws, frames).await {
                    return up(reason, None);
                }
            }
            Ok(Inbound::Ephemeral(ephemeral)) => {
                tracing::trace!(account = %conn.account, ?ephemeral, "state update");
                session.absorb(&ephemeral);
            }
            Ok(Inbound::Control(control)) => match control {
                Control::Authenticated { user_id } => {
                    session.user_id = user_id;
                    if let Err(reason) = opened(conn, &mut ws, away.cursor.as_deref(), status).await {
                        return up(reason, None);
                    }
                    if !conn.adapter.expects_subscribe_ack() {
                        let caught = catchup::after_connect(conn, http, &mut session, away, sink).await;
                        if let Err(stop) = send_caught(&mut ws, caught).await {
                            return stopped(stop);
                        }
                    }
                }
                Control::Subscribed => {
                    set_state(status, ConnState::Subscribed);
                    let caught = catchup::after_connect(conn, http, &mut session, away, sink).await;
                    if let Err(stop) = send_caught(&mut ws, caught).await {
                        return stopped(stop);
                    }
                }
                Control::CatchUpAdvised => {
                    let caught = catchup::again(conn, http, &mut session, away, sink, "the catch-up the server advised").await;
                    if let Err(stop) = send_caught(&mut ws, caught).await {
                        return stopped(stop);
                    }
                }
                Control::ReplayComplete { count } => {
                    tracing::info!(account = %conn.account, count, "replay complete");
                    away.since = None;
                }
                Control::ReplayGap { .. } => {
                    let from = away.since.take();
                    let gap = gap_event(&conn.account, conn.adapter.provider(), from, now_ms(), "the server no longer had them to replay");
                    if sink.send(gap).await.is_err() {
                        return Ended::SinkClosed;
                    }
                }
                Control::ServerError { fatal: true, message, code } => {
                    return Ended::Fatal(match code.as_deref() {
                        Some("AUTH_FAILED") => format!(
                            "the server rejected the key ({message}): it is wrong, expired or revoked; store a new one \
                             with `tocsin key set {}` (or in the Accounts window), then reconnect",
                            conn.account
                        ),
                        _ => format!("the server refused the connection: {message}"),
                    })
                }
                Control::ServerError { code, message, .. } => {
                    tracing::warn!(account = %conn.account, code = ?code, "server error: {message}");
                    status.send_modify(|s| s.last_error = Some(format!("the server reported: {message}")));
                }
                Control::CommandResult { request_id, ok, error, message } => {
                    if let Some((reply, _)) = pending.remove(&request_id) {
                        let _ = reply.send(if ok {
                            Ok(())
                        } else {
                            Err(format!("the server refused: {}", message.or(error).unwrap_or_else(|| "no reason given".into())))
                        });
                    }
                }
                Control::Connected | Control::Pong => {}
            },
            Err(e) => {
                if let Some(skipped) = decode_warnings.allow(Instant::now()) {
                    tracing::warn!(account = %conn.account, skipped,
                        "ignored a frame that could not be decoded: {}", clip(&e.to_string(), 200));
                }
            }
        }
        // Time spent here (a catch-up, a name lookup) is not the server's silence.
        deadline = Instant::now() + heartbeat.dead_after;
    }
}

/// A REST command with the account's key.
async fn rest_call(
    http: &reqwest::Client,
    method: &'static str,
    url: &str,
    key: &Sensitive<String>,
    body: serde_json::Value,
) -> Result<(), String> {
    let log_url = tocsin_secrets::redact_url(url);
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = http.request(method, url).bearer_auth(key.expose());
    if !body.is_null() {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.map_err(|e| tls::describe_http(e, &log_url))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = read_capped(response, MAX_ANSWER_BYTES, &log_url).await.unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            ["message", "error", "name"].iter().find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned))
        })
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    Err(format!("the server refused the request (HTTP {}{detail})", status.as_u16()))
}

/// Runs the adapter's ticket or token exchange.
async fn fetch_token(
    http: &reqwest::Client,
    adapter: &dyn Adapter,
    request: &TokenRequest,
    key: &Sensitive<String>,
) -> Result<Sensitive<String>, TokenError> {
    let log_url = tocsin_secrets::redact_url(&request.url);
    let response = http
        .post(&request.url)
        .bearer_auth(key.expose())
        .header("content-type", "application/json")
        .body(request.body.to_string())
        .send()
        .await
        .map_err(|e| TokenError::Retry(tls::describe_http(e, &log_url)))?;
    let status = response.status().as_u16();
    let body = read_capped(response, MAX_ANSWER_BYTES, &log_url).await.map_err(TokenError::Retry)?;
    adapter.parse_token(status, &body)
}

/// A request with the account's key and no body (catch-up pages, name lookups,
/// token renewal): the body of a 2xx answer of at most `max` bytes, or why not.
pub(crate) async fn rest_read(
    conn: &Connection,
    http: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    max: usize,
) -> Result<Vec<u8>, String> {
    let key = (conn.key)()?;
    let url = format!("{}{path}", conn.rest_base);
    let log_url = tocsin_secrets::redact_url(&url);
    let response =
        http.request(method, &url).bearer_auth(key.expose()).send().await.map_err(|e| tls::describe_http(e, &log_url))?;
    match response.status().as_u16() {
        200..=299 => read_capped(response, max, &log_url).await,
        status @ (401 | 403) => Err(format!("{log_url} refused the key (HTTP {status})")),
        status => Err(format!("{log_url} answered HTTP {status}")),
    }
}

/// The largest token, ticket or error answer read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Reads an HTTP body of at most `max` bytes; a longer one is refused, not buffered.
pub(crate) async fn read_capped(mut response: reqwest::Response, max: usize, log_url: &str) -> Result<Vec<u8>, String> {
    let too_big = || format!("the answer from {log_url} is over the {} KiB limit; it was refused", max / 1024);
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| format!("the answer from {log_url} broke off: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The connection is open and authenticated: subscribe.
async fn opened(
    conn: &Connection,
    ws: &mut Socket,
    resume: Option<&str>,
    status: &watch::Sender<AccountStatus>,
) -> Result<(), String> {
    status.send_modify(|s| {
        s.state = ConnState::Open;
        s.last_error = None;
    });
    for frame in conn.adapter.on_open(resume) {
        ws.send(Message::text(frame)).await.map_err(|e| format!("the connection broke while subscribing: {e}"))?;
    }
    if !conn.adapter.expects_subscribe_ack() {
        set_state(status, ConnState::Subscribed);
    }
    Ok(())
}

/// Sends the frames a catch-up asked for (conversation joins). `Err(None)`: the
/// engine is gone; `Err(Some(reason))`: the socket broke.
async fn send_caught(ws: &mut Socket, caught: Result<Vec<String>, ()>) -> Result<(), Option<String>> {
    let frames = caught.map_err(|()| None)?;
    send_all(ws, frames).await.map_err(Some)
}

/// Sends `frames` in order.
async fn send_all(ws: &mut Socket, frames: Vec<String>) -> Result<(), String> {
    for frame in frames {
        ws.send(Message::text(frame)).await.map_err(|e| format!("the connection broke: {e}"))?;
    }
    Ok(())
}

/// Waits for the next tick of `interval`, or forever when there is none.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// How often an idle connection checks for a wake from sleep.
const IDLE_WAKE_CHECK: Duration = Duration::from_secs(30);
/// How often it checks while commands wait for answers (their timeout is 10 s).
const BUSY_WAKE_CHECK: Duration = Duration::from_secs(5);

/// Whether the wall clock moved `wall_ms` while the monotonic clock moved only
/// `mono_ms`: the machine was asleep (suspend stops the monotonic clock).
pub fn slept(wall_ms: i64, mono_ms: i64) -> bool {
    wall_ms - mono_ms > 10_000
}

fn retry(reason: String) -> Ended {
    Ended::Retry { reason, min_delay: None, was_up_for: Duration::ZERO, immediate: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_is_a_wall_clock_jump_beyond_the_monotonic_clock() {
        assert!(!slept(5_000, 5_000));
        assert!(!slept(14_000, 5_000), "scheduling jitter and small NTP steps are not sleep");
        assert!(slept(3_600_000, 5_000), "an hour of wall time in 5 s of monotonic time");
        assert!(!slept(-3_600_000, 5_000), "the clock set back is not sleep");
    }

    #[test]
    fn gap_entries_say_when() {
        let g = gap_event("ops", tocsin_model::Provider::AgentMail, Some(0), 60_000, "the server could not replay them");
        assert_eq!(g.kind, EventKind::Gap);
        assert_eq!(g.text.as_deref(), Some("Possible gap in ops: events from 1970-01-01T00:00:00.000Z to 1970-01-01T00:01:00.000Z may be missing (the server could not replay them)."));
    }
}

fn classify_connect_error(e: WsError, log_url: &str) -> Ended {
    match e {
        WsError::Http(response) => {
            let status = response.status().as_u16();
            let detail = response
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .and_then(|v| {
                    v.get("error")
                        .and_then(|e| e.as_str().map(str::to_owned).or_else(|| e.get("code").and_then(|c| c.as_str()).map(str::to_owned)))
                        .or_else(|| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                })
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            match status {
                401 | 403 => Ended::Fatal(format!(
                    "the server rejected the API key (HTTP {status}{detail}); set a valid key for this account"
                )),
                429 => Ended::Fatal(format!(
                    "the server refused another connection for this key (HTTP 429{detail}: connection limit); \
                     close other clients using it, or raise the plan's limit, then reconnect"
                )),
                404 => Ended::Fatal(format!("{log_url} does not exist on the server (HTTP 404); check the account URL")),
                _ => retry(format!("the server answered HTTP {status}{detail}")),
            }
        }
        // Not the error's own text: it may quote the URL, key and all.
        WsError::Url(tokio_tungstenite::tungstenite::error::UrlError::UnableToConnect(_)) => {
            retry(format!("cannot connect to {log_url}"))
        }
        WsError::Url(e) => Ended::Fatal(format!("the account URL {log_url} is not valid: {e}")),
        WsError::Tls(tokio_tungstenite::tungstenite::error::TlsError::Rustls(e)) => retry(tls::describe(&e, log_url)),
        WsError::Tls(e) => retry(format!("the TLS handshake with {log_url} failed: {e}")),
        WsError::Io(e) => match tls::rustls_cause(&e) {
            Some(r) => retry(tls::describe(r, log_url)),
            None => retry(format!("cannot reach {log_url}: {e}")),
        },
        other => retry(format!("cannot connect to {log_url}: {other}")),
    }
}

/// A history entry saying events of `account` between `from_ms` and `to_ms` may be
/// missing, and `why`.
pub fn gap_event(account: &str, provider: tocsin_model::Provider, from_ms: Option<i64>, to_ms: i64, why: &str) -> Event {
    let text = match from_ms {
        Some(f) => format!(
            "Possible gap in {account}: events from {} to {} may be missing ({why}).",
            tocsin_providers::time::format_rfc3339_ms(f),
            tocsin_providers::time::format_rfc3339_ms(to_ms)
        ),
        None => format!("Possible gap in {account}: events sent before this point may be missing ({why})."),
    };
    Event {
        dedupe_key: format!("gap:{account}:{to_ms}"),
        provider,
        account: account.to_owned(),
        kind: EventKind::Gap,
        provider_type: "tocsin.gap".into(),
        provider_event_id: None,
        occurred_at_ms: Some(to_ms),
        received_at_ms: to_ms,
        inbox: None,
        thread: None,
        message_id: None,
        sender: None,
        subject: Some("Possible gap in history".into()),
        text: Some(text),
        html: None,
        labels: Vec::new(),
        attachments: Vec::new(),
        replayed: false,
        ack: None,
        priority: None,
        topic: None,
        raw: serde_json::json!({"from_ms": from_ms, "to_ms": to_ms, "why": why}),
    }
}
