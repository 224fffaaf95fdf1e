//! The WebSocket transport: one connection of a [`Connection`] from the key to the
//! socket's end, under the [driver](crate::driver).
//!
//! Owns: signing in (the key's expiry, the provider's ticket or token exchange),
//! the upgrade (TLS verified, Nagle off, the frame size limit), the switch to the
//! provider's SSE stream when the upgrade is refused with an HTTP status, and, on
//! the open socket ([`Open`]): authentication and subscription frames, catch-ups,
//! heartbeats (pings out, silence detection), sleep detection, pacing, acks and
//! commands, and the failure [`Cause`] of every way the socket can end.
//!
//! Must not: retry, wait or set the account stopped (the driver does), or decode
//! frames itself (the adapter does).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::oneshot;
use tokio::time::{sleep_until, timeout, Instant, Interval};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::Connector;
use tocsin_model::now_ms;
use tocsin_providers::{CommandPlan, ConnectPlan, Control, Heartbeat, Inbound, Session};
use tocsin_secrets::Sensitive;

use crate::driver::{Cause, Clocks, Ended, Failure, Link, Retry, Transport};
use crate::rest::{self, fetch_token};
use crate::throttle::{clip, nests_deeper_than, Bucket, LogLimiter};
use crate::{catchup, names, sse, token, tls, Connection, Outgoing, COMMAND_TIMEOUT, MAX_NESTING, WARN_EVERY};

/// How often an idle connection checks for a wake from sleep.
const IDLE_WAKE_CHECK: Duration = Duration::from_secs(30);
/// How often it checks while commands wait for answers (their timeout is 10 s).
const BUSY_WAKE_CHECK: Duration = Duration::from_secs(5);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A provider reached over WebSocket (with its SSE stream as the fallback).
pub(crate) struct WebSocket {
    conn: Connection,
    /// The HTTP client and the socket's TLS configuration, once prepared.
    tls: Option<(reqwest::Client, Arc<rustls::ClientConfig>)>,
}

impl WebSocket {
    pub(crate) fn new(conn: Connection) -> Self {
        WebSocket { conn, tls: None }
    }
}

impl Transport for WebSocket {
    /// One TLS configuration for the socket and the HTTP client; a bad CA file stops
    /// the account until the user fixes it and asks to reconnect.
    fn prepare(&mut self) -> Result<(), Failure> {
        let config = tls::client_config(self.conn.ca_file.as_deref()).map_err(|r| Failure::new(Cause::Config, r))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config.clone())
            .connect_timeout(self.conn.connect_timeout)
            .timeout(self.conn.connect_timeout)
            .build()
            .map_err(|e| Failure::new(Cause::Config, format!("cannot set up HTTPS: {e}")))?;
        self.tls = Some((http, Arc::new(config)));
        Ok(())
    }

    async fn attempt(&mut self, link: &mut Link) -> Ended {
        let Some((http, tls)) = self.tls.clone() else {
            return Ended::fatal(Cause::Config, "the connection was not set up");
        };
        attempt(&self.conn, &http, &tls, link).await
    }

    fn scrub(&self, reason: String) -> String {
        match (self.conn.key)() {
            Ok(key) if key.expose().len() >= 4 && reason.contains(key.expose().as_str()) => {
                reason.replace(key.expose().as_str(), "<redacted>")
            }
            _ => reason,
        }
    }
}

/// The key to connect with: the stored one, renewed if it expires soon, exchanged
/// for a ticket or token where the provider wants one.
async fn sign_in(conn: &Connection, http: &reqwest::Client, link: &Link) -> Result<Sensitive<String>, Ended> {
    let key = (conn.key)().map_err(|e| Ended::fatal(Cause::Auth, e))?;
    let key = match token::check(conn, http, key).await {
        token::KeyState::Usable(k) => k,
        token::KeyState::Expired(reason) => return Err(Ended::fatal(Cause::Auth, reason)),
    };
    let Some(request) = conn.adapter.token_request() else { return Ok(key) };
    link.set_state(crate::ConnState::Authenticating);
    let fetched = tokio::select! {
        _ = link.shutdown.cancelled() => return Err(Ended::Shutdown),
        r = fetch_token(http, conn.adapter.as_ref(), &request, &key) => r,
    };
    fetched
}

/// The upgrade request of `plan`, its headers set.
fn upgrade_request(
    plan: &ConnectPlan,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, Ended> {
    let mut request = plan
        .url
        .expose()
        .as_str()
        .into_client_request()
        .map_err(|e| Ended::fatal(Cause::Config, format!("the account URL {} is not valid: {e}", plan.log_url)))?;
    for (name, value) in &plan.headers {
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value.expose())) else {
            return Err(Ended::fatal(Cause::Config, format!("the key cannot be sent in the {name} header (invalid characters)")));
        };
        request.headers_mut().insert(n, v);
    }
    Ok(request)
}

async fn attempt(conn: &Connection, http: &reqwest::Client, tls: &Arc<rustls::ClientConfig>, link: &mut Link) -> Ended {
    let key = match sign_in(conn, http, link).await {
        Ok(key) => key,
        Err(ended) => return ended,
    };
    let plan = conn.adapter.connect_plan(&key, link.away.cursor.as_deref());
    let request = match upgrade_request(&plan) {
        Ok(r) => r,
        Err(ended) => return ended,
    };
    link.set_state(crate::ConnState::Authenticating);
    let config = WebSocketConfig::default()
        .max_message_size(Some(conn.max_frame_bytes))
        .max_frame_size(Some(conn.max_frame_bytes));
    let connector = Connector::Rustls(tls.clone());
    // Nagle off: a frame is small and the next one may not come for a while, so
    // holding it back for an ACK (up to the peer's 40 ms delayed ACK) is pure delay.
    let connecting = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, Some(connector));
    let connected = tokio::select! {
        _ = link.shutdown.cancelled() => return Ended::Shutdown,
        r = timeout(conn.connect_timeout, connecting) => r,
    };
    let ws = match connected {
        Err(_) => {
            let reason = format!("no answer from {} within {} s", plan.log_url, conn.connect_timeout.as_secs());
            return Ended::retry(Cause::Timeout, reason);
        }
        Ok(Err(e)) => {
            let ended = classify_connect_error(e, &plan.log_url);
            // A refused upgrade that is not about the key: use the SSE stream if the
            // provider has one, for a while, then try the WebSocket again.
            if let (Ended::Retry(Retry { failure: Failure { cause: Cause::Http { .. }, reason }, .. }), Some(sse_plan)) =
                (&ended, conn.adapter.sse_plan(&key))
            {
                return sse::fallback(conn, http, sse_plan, reason, link).await;
            }
            return ended;
        }
        Ok(Ok((ws, _response))) => ws,
    };
    tracing::info!(account = %conn.account, url = %plan.log_url, "connected");
    let mut open = Open::new(conn, http.clone(), ws, link);
    if let Err(ended) = open.start(key).await {
        return ended;
    }
    open.run().await
}

/// What woke the open connection.
enum Next {
    Shutdown,
    Silent,
    CatchUp,
    Ping,
    WakeCheck,
    Out(Outgoing),
    Throttled,
    Frame(Option<Result<Message, WsError>>),
}

/// An open socket and everything it keeps while it is open.
struct Open<'a> {
    conn: &'a Connection,
    http: reqwest::Client,
    ws: Socket,
    link: &'a mut Link,
    session: Session,
    opened_at: Instant,
    heartbeat: Heartbeat,
    /// When the connection is presumed dead unless something arrives.
    deadline: Instant,
    ping: Interval,
    pings_sent: u64,
    /// Catching up again now and then while connected (what the socket cannot see).
    catch_up_tick: Option<Interval>,
    /// Sleep detection (the wall clock against the monotonic one) and command expiry.
    wake_check_at: Instant,
    clocks: Clocks,
    /// Commands sent on the socket, waiting for the server's answer.
    pending: HashMap<String, (oneshot::Sender<Result<(), String>>, Instant)>,
    next_request: u64,
    /// Pacing: when the bucket is empty the socket is not read until it refills.
    bucket: Bucket,
    flooding: String,
    flood_noted: bool,
    binary_warnings: LogLimiter,
    decode_warnings: LogLimiter,
}

impl<'a> Open<'a> {
    fn new(conn: &'a Connection, http: reqwest::Client, ws: Socket, link: &'a mut Link) -> Self {
        let now = Instant::now();
        let heartbeat = conn.adapter.heartbeat();
        let catch_up_tick = conn.adapter.catch_up_every().map(|every| {
            let mut i = tokio::time::interval_at(now + every, every);
            // After a long catch-up or a sleep: one more, not a burst.
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        Open {
            session: Session { cursor: link.away.cursor.clone(), ..Session::new(&conn.account) },
            conn,
            http,
            ws,
            link,
            opened_at: now,
            deadline: now + heartbeat.dead_after,
            ping: tokio::time::interval_at(now + heartbeat.ping_every, heartbeat.ping_every),
            heartbeat,
            pings_sent: 0,
            catch_up_tick,
            wake_check_at: now + IDLE_WAKE_CHECK,
            clocks: Clocks::new(),
            pending: HashMap::new(),
            next_request: 0,
            bucket: Bucket::new(conn.rate_limit, now),
            flooding: conn.rate_limit.flooding_note(),
            flood_noted: false,
            binary_warnings: LogLimiter::new(WARN_EVERY),
            decode_warnings: LogLimiter::new(WARN_EVERY),
        }
    }

    /// The socket ended after it had been open.
    fn up(&self, cause: Cause, reason: String, min_delay: Option<Duration>) -> Ended {
        Ended::Retry(Retry { failure: Failure::new(cause, reason), min_delay, was_up_for: self.opened_at.elapsed(), immediate: false })
    }

    fn broke(&self, e: impl std::fmt::Display) -> Ended {
        self.up(Cause::Network, format!("the connection broke: {e}"), None)
    }

    /// Signs in with a frame if the provider wants one, then subscribes and
    /// catches up, unless the server's acknowledgement is awaited first.
    async fn start(&mut self, key: Sensitive<String>) -> Result<(), Ended> {
        if let Some(frame) = self.conn.adapter.auth_frame(&key, now_ms()) {
            if let Err(e) = self.ws.send(Message::text(frame.expose().as_str())).await {
                return Err(Ended::retry(Cause::Network, format!("the connection broke while signing in: {e}")));
            }
        }
        drop(key);
        if self.conn.adapter.expects_auth_ack() {
            self.link.set_state(crate::ConnState::Authenticating);
            return Ok(());
        }
        self.subscribe().await?;
        if !self.conn.adapter.expects_subscribe_ack() {
            self.catch_up_after_connect().await?;
        }
        Ok(())
    }

    /// The connection is open and authenticated: subscribe.
    async fn subscribe(&mut self) -> Result<(), Ended> {
        self.link.set_up(crate::ConnState::Open);
        for frame in self.conn.adapter.on_open(self.link.away.cursor.as_deref()) {
            if let Err(e) = self.ws.send(Message::text(frame)).await {
                return Err(self.up(Cause::Network, format!("the connection broke while subscribing: {e}"), None));
            }
        }
        if !self.conn.adapter.expects_subscribe_ack() {
            self.link.set_state(crate::ConnState::Subscribed);
        }
        Ok(())
    }

    async fn catch_up_after_connect(&mut self) -> Result<(), Ended> {
        let link = &mut *self.link;
        let caught = catchup::after_connect(self.conn, &self.http, &mut self.session, &mut link.away, &link.sink).await;
        self.send_caught(caught).await
    }

    async fn catch_up_again(&mut self, why: &str) -> Result<(), Ended> {
        let link = &mut *self.link;
        let caught = catchup::again(self.conn, &self.http, &mut self.session, &mut link.away, &link.sink, why).await;
        self.send_caught(caught).await
    }

    /// Sends the frames a catch-up asked for (conversation joins).
    async fn send_caught(&mut self, caught: Result<Vec<String>, ()>) -> Result<(), Ended> {
        let frames = caught.map_err(|()| Ended::SinkClosed)?;
        self.send_all(frames).await
    }

    async fn send_all(&mut self, frames: Vec<String>) -> Result<(), Ended> {
        for frame in frames {
            if let Err(e) = self.ws.send(Message::text(frame)).await {
                return Err(self.broke(e));
            }
        }
        Ok(())
    }

    /// Reads and answers until the connection ends.
    async fn run(mut self) -> Ended {
        loop {
            if let Err(ended) = self.step().await {
                return ended;
            }
        }
    }

    async fn step(&mut self) -> Result<(), Ended> {
        let now = Instant::now();
        if self.flood_noted {
            // Look again soon, so the note clears when the flood is over.
            self.wake_check_at = self.wake_check_at.min(now + BUSY_WAKE_CHECK);
        }
        if self.bucket.recovered(now) {
            self.flood_noted = false;
            tracing::info!(account = %self.conn.account, "the flood is over: reading at full speed again");
            self.link.clear_note(&self.flooding);
        }
        let read_at = self.bucket.wait(now);
        if read_at.is_some() && self.bucket.became_throttled(now) {
            self.flood_noted = true;
            tracing::warn!(account = %self.conn.account, per_sec = self.conn.rate_limit.per_sec, "{}", self.flooding);
            self.link.note(self.flooding.clone());
        }
        let next = tokio::select! {
            biased;
            _ = self.link.shutdown.cancelled() => Next::Shutdown,
            _ = sleep_until(self.deadline) => Next::Silent,
            _ = tick(&mut self.catch_up_tick) => Next::CatchUp,
            _ = self.ping.tick() => Next::Ping,
            _ = sleep_until(self.wake_check_at) => Next::WakeCheck,
            Some(out) = self.link.outgoing.recv() => Next::Out(out),
            // Throttled: wait for a token instead of reading.
            _ = sleep_until(read_at.unwrap_or(now)), if read_at.is_some() => Next::Throttled,
            msg = self.ws.next(), if read_at.is_none() => Next::Frame(msg),
        };
        match next {
            Next::Shutdown => {
                let _ = timeout(Duration::from_secs(1), self.ws.close(None)).await;
                Err(Ended::Shutdown)
            }
            Next::Silent => {
                let reason = format!("no data for {} s; the connection is presumed dead", self.heartbeat.dead_after.as_secs());
                Err(self.up(Cause::Timeout, reason, None))
            }
            Next::CatchUp => {
                let started = Instant::now();
                // Renew a key that expires soon while connected, too.
                if let Ok(key) = (self.conn.key)() {
                    let _ = token::check(self.conn, &self.http, key).await;
                }
                self.catch_up_again("a periodic catch-up").await?;
                // The time spent over REST is not the socket's silence, but the silence
                // before it still counts: a REST answer is no sign the socket is alive
                // (a half-open Prismer socket went unnoticed for 95 s when this reset).
                self.deadline += started.elapsed();
                Ok(())
            }
            Next::Ping => {
                self.pings_sent += 1;
                let frame = match self.conn.adapter.app_ping(self.pings_sent, now_ms()) {
                    Some(text) => Message::text(text),
                    None => Message::Ping(Vec::new().into()),
                };
                self.ws.send(frame).await.map_err(|e| self.broke(e))
            }
            Next::WakeCheck => self.wake_check(),
            Next::Out(out) => self.outgoing(out).await,
            Next::Throttled => Ok(()),
            Next::Frame(msg) => {
                self.deadline = Instant::now() + self.heartbeat.dead_after;
                if matches!(msg, Some(Ok(_))) {
                    self.link.heard();
                }
                self.bucket.take(Instant::now());
                self.frame(msg).await?;
                // Time spent here (a catch-up, a name lookup) is not the server's silence.
                self.deadline = Instant::now() + self.heartbeat.dead_after;
                Ok(())
            }
        }
    }

    /// Expires commands the server never answered, and reconnects at once after a
    /// sleep (the socket is almost certainly dead, and the server may have more).
    fn wake_check(&mut self) -> Result<(), Ended> {
        self.wake_check_at = Instant::now() + if self.pending.is_empty() { IDLE_WAKE_CHECK } else { BUSY_WAKE_CHECK };
        let asleep = self.clocks.slept();
        let expired: Vec<String> =
            self.pending.iter().filter(|(_, (_, at))| at.elapsed() > COMMAND_TIMEOUT).map(|(k, _)| k.clone()).collect();
        for k in expired {
            if let Some((reply, _)) = self.pending.remove(&k) {
                let _ = reply.send(Err(format!("the server did not answer within {} s", COMMAND_TIMEOUT.as_secs())));
            }
        }
        if asleep {
            tracing::info!(account = %self.conn.account, "the computer woke from sleep: reconnecting now");
            return Err(Ended::again_now("the computer woke from sleep; reconnecting"));
        }
        Ok(())
    }

    async fn outgoing(&mut self, out: Outgoing) -> Result<(), Ended> {
        match out {
            Outgoing::Ack(token) => match self.conn.adapter.ack_frame(&token) {
                Some(frame) => self.ws.send(Message::text(frame)).await.map_err(|e| self.broke(e)),
                None => Ok(()),
            },
            Outgoing::Reconnect => {
                let _ = timeout(Duration::from_secs(1), self.ws.close(None)).await;
                Err(Ended::again_now("reconnecting, as asked"))
            }
            Outgoing::Command { command, reply } => {
                self.next_request += 1;
                let request_id = format!("tocsin-{}", self.next_request);
                match self.conn.adapter.command(&command, &request_id) {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Ok(CommandPlan::Socket { frame, request_id }) => {
                        if let Err(e) = self.ws.send(Message::text(frame)).await {
                            let _ = reply.send(Err(format!("the connection broke while sending: {e}")));
                            return Err(self.broke(e));
                        }
                        match request_id {
                            Some(r) => {
                                self.pending.insert(r, (reply, Instant::now()));
                                self.wake_check_at = self.wake_check_at.min(Instant::now() + BUSY_WAKE_CHECK);
                            }
                            None => {
                                let _ = reply.send(Ok(()));
                            }
                        }
                    }
                    Ok(CommandPlan::Rest { method, path, body }) => {
                        rest::spawn_command(self.conn, &self.http, (method, path, body), reply);
                    }
                }
                Ok(())
            }
        }
    }

    /// One read from the socket: a text frame is decoded; the end of the socket,
    /// an oversized frame or invalid text ends the connection.
    async fn frame(&mut self, msg: Option<Result<Message, WsError>>) -> Result<(), Ended> {
        let text = match msg {
            None => return Err(self.up(Cause::Network, "the server closed the connection".into(), None)),
            Some(Err(WsError::Capacity(e))) => {
                tracing::warn!(account = %self.conn.account, "refused an oversized frame: {e}");
                let reason = format!(
                    "the server sent a frame over the {} KiB limit; it was refused unread",
                    self.conn.max_frame_bytes / 1024
                );
                return Err(self.up(Cause::Limit, reason, None));
            }
            Some(Err(WsError::Utf8(_))) => {
                tracing::warn!(account = %self.conn.account, "the server sent a text frame that is not UTF-8");
                return Err(self.up(Cause::Protocol, "the server sent a text frame that is not valid UTF-8".into(), None));
            }
            Some(Err(e)) => return Err(self.broke(e)),
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) =
                    frame.map(|f| (f.code, f.reason.to_string())).unwrap_or((CloseCode::Status, String::new()));
                return Err(match code {
                    CloseCode::Policy => self.up(
                        Cause::Eviction,
                        format!("the server closed the connection by policy ({reason})"),
                        Some(Duration::from_secs(60)),
                    ),
                    _ => self.up(
                        Cause::Network,
                        format!(
                            "the server closed the connection ({}{})",
                            u16::from(code),
                            if reason.is_empty() { String::new() } else { format!(": {reason}") }
                        ),
                        None,
                    ),
                });
            }
            Some(Ok(Message::Binary(b))) => {
                if let Some(skipped) = self.binary_warnings.allow(Instant::now()) {
                    tracing::warn!(account = %self.conn.account, bytes = b.len(), skipped,
                        "ignored a binary frame (the protocol uses text)");
                }
                return Ok(());
            }
            Some(Ok(_)) => return Ok(()), // ping (answered by tungstenite), pong, raw frame
        };
        if nests_deeper_than(text.as_str(), MAX_NESTING) {
            if let Some(skipped) = self.decode_warnings.allow(Instant::now()) {
                tracing::warn!(account = %self.conn.account, bytes = text.len(), skipped,
                    "ignored a frame nested deeper than {MAX_NESTING} levels");
            }
            return Ok(());
        }
        match self.conn.adapter.decode_in(&self.session, text.as_str(), now_ms()) {
            Ok(Inbound::Event(mut event)) => {
                if let Some(id) = &event.provider_event_id {
                    self.link.away.cursor = Some(id.clone());
                }
                names::resolve(self.conn, &self.http, &self.session, &mut event).await;
                let frames = self.conn.adapter.after_event(&mut self.session, &event);
                self.link.deliver(*event).await.map_err(|_| Ended::SinkClosed)?;
                self.send_all(frames).await
            }
            Ok(Inbound::Ephemeral(ephemeral)) => {
                tracing::trace!(account = %self.conn.account, ?ephemeral, "state update");
                self.session.absorb(&ephemeral);
                Ok(())
            }
            Ok(Inbound::Control(control)) => self.control(control).await,
            Err(e) => {
                if let Some(skipped) = self.decode_warnings.allow(Instant::now()) {
                    tracing::warn!(account = %self.conn.account, skipped,
                        "ignored a frame that could not be decoded: {}", clip(&e.to_string(), 200));
                }
                Ok(())
            }
        }
    }

    async fn control(&mut self, control: Control) -> Result<(), Ended> {
        match control {
            Control::Authenticated { user_id } => {
                self.session.user_id = user_id;
                self.subscribe().await?;
                if !self.conn.adapter.expects_subscribe_ack() {
                    self.catch_up_after_connect().await?;
                }
            }
            Control::Subscribed => {
                self.link.set_state(crate::ConnState::Subscribed);
                self.catch_up_after_connect().await?;
            }
            Control::CatchUpAdvised => self.catch_up_again("the catch-up the server advised").await?,
            Control::ReplayComplete { count } => {
                tracing::info!(account = %self.conn.account, count, "replay complete");
                self.link.away.since = None;
            }
            Control::ReplayGap { .. } => {
                self.link.note_gap("the server no longer had them to replay").await.map_err(|_| Ended::SinkClosed)?;
            }
            Control::ServerError { fatal: true, message, code } => {
                return Err(match code.as_deref() {
                    Some("AUTH_FAILED") => Ended::fatal(
                        Cause::Auth,
                        format!(
                            "the server rejected the key ({message}): it is wrong, expired or revoked; store a new one \
                             with `tocsin key set {}` (or in the Accounts window), then reconnect",
                            self.conn.account
                        ),
                    ),
                    Some("EVICTED") => Ended::fatal(Cause::Eviction, message),
                    _ => Ended::fatal(Cause::Protocol, format!("the server refused the connection: {message}")),
                })
            }
            Control::ServerError { code, message, .. } => {
                tracing::warn!(account = %self.conn.account, code = ?code, "server error: {message}");
                self.link.note(format!("the server reported: {message}"));
            }
            Control::CommandResult { request_id, ok, error, message } => {
                if let Some((reply, _)) = self.pending.remove(&request_id) {
                    let _ = reply.send(if ok {
                        Ok(())
                    } else {
                        Err(format!("the server refused: {}", message.or(error).unwrap_or_else(|| "no reason given".into())))
                    });
                }
            }
            Control::Connected | Control::Pong => {}
        }
        Ok(())
    }
}

/// Waits for the next tick of `interval`, or forever when there is none.
async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// What a failed upgrade means: which [`Cause`], and whether retrying can help.
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
                401 | 403 => Ended::fatal(
                    Cause::Auth,
                    format!("the server rejected the API key (HTTP {status}{detail}); set a valid key for this account"),
                ),
                429 => Ended::fatal(
                    Cause::Limit,
                    format!(
                        "the server refused another connection for this key (HTTP 429{detail}: connection limit); \
                         close other clients using it, or raise the plan's limit, then reconnect"
                    ),
                ),
                404 => Ended::fatal(
                    Cause::Http { status },
                    format!("{log_url} does not exist on the server (HTTP 404); check the account URL"),
                ),
                _ => Ended::retry(Cause::Http { status }, format!("the server answered HTTP {status}{detail}")),
            }
        }
        // Not the error's own text: it may quote the URL, key and all.
        WsError::Url(tokio_tungstenite::tungstenite::error::UrlError::UnableToConnect(_)) => {
            Ended::retry(Cause::Network, format!("cannot connect to {log_url}"))
        }
        WsError::Url(e) => Ended::fatal(Cause::Config, format!("the account URL {log_url} is not valid: {e}")),
        WsError::Tls(tokio_tungstenite::tungstenite::error::TlsError::Rustls(e)) => {
            Ended::retry(Cause::Tls, tls::describe(&e, log_url))
        }
        WsError::Tls(e) => Ended::retry(Cause::Tls, format!("the TLS handshake with {log_url} failed: {e}")),
        WsError::Io(e) => match tls::rustls_cause(&e) {
            Some(r) => Ended::retry(Cause::Tls, tls::describe(r, log_url)),
            None if e.kind() == std::io::ErrorKind::TimedOut => {
                Ended::retry(Cause::Timeout, format!("cannot reach {log_url}: {e}"))
            }
            None => Ended::retry(Cause::Network, format!("cannot reach {log_url}: {e}")),
        },
        other => Ended::retry(Cause::Network, format!("cannot connect to {log_url}: {other}")),
    }
}
