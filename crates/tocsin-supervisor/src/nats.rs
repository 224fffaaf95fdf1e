//! A direct NATS source for the topic platform ("Bivariant", PROTOCOLS.md section
//! 5), for self-hosted deployments where the platform's NATS bus is reachable: the
//! same topics as the WebSocket adapter, without the gateway in between. It is a
//! transport under the [driver](crate::driver), like the WebSocket: the driver's
//! backoff, fatal stop-until-reconnect, Reconnect and gap entries apply to it.
//!
//! Owns: one NATS client per connection (async-nats, core pub/sub only;
//! `nats://`, or `tls://` through rustls with `ring`), topic validation before
//! anything is subscribed, one NATS subscription per pattern, delivering a message
//! that matches several patterns once (listing the first configured pattern that
//! matches, as the gateway does), and Subscribed only once the server has
//! confirmed the subscriptions (a round trip on a private inbox subject), so
//! nothing published after it is missed. async-nats's own reconnect loop is held to
//! a single immediate attempt (`max_reconnects(1)`); a lost connection ends the
//! attempt and the driver connects a fresh client, so a dropped client never keeps
//! a reconnect loop alive.
//!
//! Must not: decode events itself (each message becomes the WebSocket gateway's
//! `event` frame and goes through [`tocsin_providers::bivariant::decode`]), store,
//! classify or notify, publish on the platform's subjects, or log message content
//! or the token. Core NATS is at-most-once: events published while disconnected are
//! lost, so every reconnect leaves a gap entry, as for the WebSocket adapter. The
//! sink is awaited like the WebSocket's, but the bus cannot be slowed down: when
//! async-nats's per-subscription buffer (64 Ki messages) overflows it drops
//! messages, which is reported as a gap and in `last_error`. Order is kept per
//! subject, not across subjects that match different patterns. The bus is
//! read-only here: a reply is refused, and marking read stays local.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use async_nats::{Auth, AuthError, Client, ConnectErrorKind, ConnectOptions, Message, ServerError};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;
use tocsin_model::{now_ms, Event, Provider};
use tocsin_providers::{bivariant, fingerprint, topics, Inbound, Session};

use crate::driver::{Cause, Clocks, Ended, Failure, Link, Retry, Transport};
use crate::{catchup, AccountStatus, Backoff, ConnState, KeySource, Outgoing};

/// How long one connection attempt (TCP, TLS and the NATS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server has to confirm the subscriptions.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);
/// How often async-nats pings the server; two unanswered pings end the connection,
/// so a half-open one is found within a minute.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How often the connection looks for a wake from sleep.
const WAKE_CHECK: Duration = Duration::from_secs(30);
/// How many recent deliveries are remembered to drop the copies a message matching
/// several patterns arrives as (they arrive back to back).
const RECENT: usize = 1024;

/// One account's direct NATS connection.
pub struct NatsConnection {
    pub account: String,
    /// `nats://host:port` (or `tls://host:port`).
    pub url: String,
    /// The server's authorization token, asked again before every connection
    /// attempt (a rotated token is picked up).
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
    /// What the engine and the user ask of this account (Reconnect; commands are refused).
    pub outgoing: mpsc::Receiver<Outgoing>,
}

/// Something async-nats reported from its own tasks.
#[derive(Debug)]
enum Signal {
    Nats(async_nats::Event),
    /// The token could not be read for a connection.
    KeyError(String),
}

/// Runs `conn` until `shutdown` fires. Events go to `sink`; the state goes to
/// `status`. A fatal error stops the account until [`Outgoing::Reconnect`].
pub async fn run_nats(
    mut conn: NatsConnection,
    sink: mpsc::Sender<Event>,
    status: watch::Sender<AccountStatus>,
    shutdown: CancellationToken,
) {
    // TLS for tls:// (rustls has no process-wide provider by default), verified
    // like the WebSocket's: the platform's verifier, plus the account's CA file.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (_, closed) = mpsc::channel(1);
    let link = Link {
        account: conn.account.clone(),
        provider: Provider::Bivariant,
        backoff: conn.backoff,
        sink,
        status,
        shutdown,
        outgoing: std::mem::replace(&mut conn.outgoing, closed),
        away: catchup::Away { cursor: None, since: conn.resume_at_ms },
        heard_ms: None,
    };
    let log_url = redact_userinfo(&conn.url);
    crate::driver::drive(Nats { conn, log_url, tls: None }, link).await;
}

/// The NATS transport.
struct Nats {
    conn: NatsConnection,
    log_url: String,
    tls: Option<rustls::ClientConfig>,
}

impl Transport for Nats {
    fn prepare(&mut self) -> Result<(), Failure> {
        check(&self.conn).map_err(|r| Failure::new(Cause::Config, r))?;
        let tls = crate::tls::client_config(self.conn.ca_file.as_deref()).map_err(|r| Failure::new(Cause::Config, r))?;
        self.tls = Some(tls);
        Ok(())
    }

    async fn attempt(&mut self, link: &mut Link) -> Ended {
        let Some(tls) = self.tls.clone() else {
            return Ended::fatal(Cause::Config, "the connection was not set up");
        };
        self.client_life(&tls, link).await
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

fn auth_refused(has_token: bool) -> Ended {
    Ended::fatal(
        Cause::Auth,
        if has_token {
            "the NATS server rejected the token (authorization violation); set a valid token for this account"
        } else {
            "the NATS server requires authorization and no token is set for this account"
        },
    )
}

fn options(conn: &NatsConnection, tls: &rustls::ClientConfig, signals: &mpsc::UnboundedSender<Signal>) -> ConnectOptions {
    let options = match &conn.token {
        Some(key) => {
            let (key, signals) = (key.clone(), signals.clone());
            ConnectOptions::with_auth_callback(move |_nonce| {
                let read = key();
                let signals = signals.clone();
                async move {
                    match read {
                        Ok(token) => {
                            let mut auth = Auth::new();
                            auth.token = Some(token.expose().clone());
                            Ok(auth)
                        }
                        Err(e) => {
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
    options
        .tls_client_config(tls.clone())
        .name(format!("tocsin ({})", conn.account))
        .connection_timeout(CONNECT_TIMEOUT)
        .ping_interval(PING_EVERY)
        // The platform's cluster may advertise internal addresses.
        .ignore_discovered_servers()
        // One immediate try of its own, then the client gives up and the driver
        // (with the account's backoff) connects a fresh one.
        .max_reconnects(1)
        .reconnect_delay_callback(|_| Duration::ZERO)
        .event_callback(move |event| {
            let _ = events.send(Signal::Nats(event));
            async {}
        })
}

impl Nats {
    /// One async-nats client, from connect until the connection is lost or given up.
    async fn client_life(&self, tls: &rustls::ClientConfig, link: &mut Link) -> Ended {
        let conn = &self.conn;
        let log_url = self.log_url.as_str();
        let (signals_tx, mut signals) = mpsc::unbounded_channel();
        let options = options(conn, tls, &signals_tx);
        drop(signals_tx);
        let has_token = conn.token.is_some();
        let connected = tokio::select! {
            _ = link.shutdown.cancelled() => return Ended::Shutdown,
            r = options.connect(conn.url.as_str()) => r,
        };
        let client = match connected {
            Ok(client) => client,
            Err(e) => {
                while let Ok(signal) = signals.try_recv() {
                    if let Signal::KeyError(reason) = signal {
                        return Ended::fatal(Cause::Auth, reason);
                    }
                }
                let reason = format!("cannot reach the NATS server at {log_url}: {e}");
                return match e.kind() {
                    ConnectErrorKind::AuthorizationViolation => auth_refused(has_token),
                    ConnectErrorKind::Authentication => {
                        Ended::fatal(Cause::Auth, format!("signing in to the NATS server failed: {e}"))
                    }
                    ConnectErrorKind::ServerParse => {
                        Ended::fatal(Cause::Config, format!("the NATS URL {log_url} is not valid: {e}"))
                    }
                    ConnectErrorKind::TimedOut => Ended::retry(Cause::Timeout, reason),
                    ConnectErrorKind::Tls => Ended::retry(Cause::Tls, reason),
                    ConnectErrorKind::Dns | ConnectErrorKind::Io | ConnectErrorKind::MaxReconnects => {
                        Ended::retry(Cause::Network, reason)
                    }
                };
            }
        };
        let opened_at = Instant::now();
        tracing::info!(account = %conn.account, url = %log_url, "connected to NATS");
        link.set_up(ConnState::Open);
        let up = |cause: Cause, reason: String| {
            Ended::Retry(Retry { failure: Failure::new(cause, reason), min_delay: None, was_up_for: opened_at.elapsed(), immediate: false })
        };

        let mut subscribers = Vec::with_capacity(conn.topics.len());
        for (index, topic) in conn.topics.iter().enumerate() {
            match client.subscribe(topic.clone()).await {
                Ok(s) => subscribers.push(s.map(move |m| (index, m))),
                Err(e) => return up(Cause::Network, format!("cannot subscribe to {topic}: {e}")),
            }
        }
        let mut messages = futures_util::stream::select_all(subscribers);
        tokio::select! {
            _ = link.shutdown.cancelled() => return Ended::Shutdown,
            confirmed = confirm(&client) => if !confirmed {
                tracing::debug!(account = %conn.account, "the NATS server did not confirm the subscriptions in time");
            }
        }
        link.set_state(ConnState::Subscribed);
        link.heard();
        if link.note_gap("core NATS does not resend what was published while Tocsin was not connected").await.is_err() {
            return Ended::SinkClosed;
        }

        let session = Session::new(&conn.account);
        let mut recent = Recent::default();
        let mut clocks = Clocks::new();
        let mut wake_check_at = Instant::now() + WAKE_CHECK;
        // Set while messages are being dropped for want of buffer room (one gap entry each time).
        let mut dropping = false;
        loop {
            tokio::select! {
                biased;
                _ = link.shutdown.cancelled() => return Ended::Shutdown,
                Some(signal) = signals.recv() => match signal {
                    Signal::KeyError(reason) => return Ended::fatal(Cause::Auth, reason),
                    Signal::Nats(async_nats::Event::Disconnected) => {
                        tracing::info!(account = %conn.account, "lost the NATS connection");
                        return up(Cause::Network, format!("lost the connection to the NATS server at {log_url}"));
                    }
                    Signal::Nats(async_nats::Event::ServerError(ServerError::AuthorizationViolation)) => {
                        return auth_refused(has_token);
                    }
                    Signal::Nats(async_nats::Event::SlowConsumer(_) | async_nats::Event::ServerError(ServerError::SlowConsumer(_))) => {
                        if !dropping {
                            dropping = true;
                            tracing::warn!(account = %conn.account, "NATS messages were dropped: events arrive faster than they are stored");
                            link.note("some events were dropped: they arrived faster than Tocsin could store them");
                            if link.gap(None, "they arrived faster than Tocsin could store them and NATS dropped some").await.is_err() {
                                return Ended::SinkClosed;
                            }
                        }
                    }
                    Signal::Nats(async_nats::Event::ServerError(ServerError::Other(e))) => {
                        tracing::warn!(account = %conn.account, "NATS server error: {e}");
                        link.note(format!("the NATS server reported: {e}"));
                    }
                    Signal::Nats(async_nats::Event::LameDuckMode) => {
                        tracing::info!(account = %conn.account, "the NATS server is shutting down (lame duck mode)");
                    }
                    Signal::Nats(_) => {}
                },
                _ = sleep_until(wake_check_at) => {
                    wake_check_at = Instant::now() + WAKE_CHECK;
                    if clocks.slept() {
                        tracing::info!(account = %conn.account, "the computer woke from sleep: reconnecting now");
                        return Ended::again_now("the computer woke from sleep; reconnecting");
                    }
                }
                Some(out) = link.outgoing.recv() => match out {
                    Outgoing::Reconnect => {
                        tracing::info!(account = %conn.account, "reconnecting to NATS, as asked");
                        return Ended::again_now("reconnecting, as asked");
                    }
                    // The bus has no read state: marking read is Tocsin's own business.
                    Outgoing::Command { command: tocsin_providers::Command::MarkRead { .. }, reply } => {
                        let _ = reply.send(Ok(()));
                    }
                    Outgoing::Command { reply, .. } => {
                        let _ = reply.send(Err("this account reads the NATS bus directly, which is read-only here; \
                            reply in the platform itself".into()));
                    }
                    Outgoing::Ack(_) => {}
                },
                next = messages.next() => {
                    let Some((index, message)) = next else {
                        return up(Cause::Network, "the NATS client closed".into());
                    };
                    dropping = false;
                    link.heard();
                    let Some(event) = decode_message(&session, &conn.topics, index, &message, &mut recent, &conn.account) else {
                        continue;
                    };
                    if link.deliver(event).await.is_err() {
                        return Ended::SinkClosed;
                    }
                }
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
            outgoing: mpsc::channel(1).1,
        };
        assert!(check(&conn("nats://h:4222", "events.o.>")).is_ok());
        assert!(check(&conn("ws://h", "events.o.>")).unwrap_err().contains("nats://"));
        assert!(check(&conn("nats://h:4222", "events.o.>.x")).unwrap_err().contains("last segment"));
    }
}
