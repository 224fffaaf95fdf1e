//! The connection driver: the one loop every transport (WebSocket, its SSE
//! fallback, direct NATS) runs under, so that all of them fail, wait, retry, stop
//! and report the same way.
//!
//! Owns: the attempt loop ([`drive`]), the backoff between attempts (with the
//! server's minimum delay and the reset after a stable connection), giving up after
//! `max_attempts`, stopping on a fatal error until the user asks to reconnect
//! (never ending the task), the user's Reconnect and commands while no connection
//! is up, the account's [`ConnState`], its last error and its typed [`Cause`], where
//! the account resumes from ([`Away`]) and the gap entries written when what was
//! missed cannot be fetched ([`Link::note_gap`]).
//!
//! Must not: open sockets, speak a protocol or decode frames (a [`Transport`]
//! does); decide anything from an error's words (the [`Cause`] says what failed);
//! store, classify or notify (the engine does).

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tocsin_model::{now_ms, Event, Provider};
use ts_rs::TS;

use crate::catchup::Away;
use crate::{gap_event, AccountStatus, Backoff, ConnState, Outgoing};

/// What made a connection fail, for code to act on (the SSE fallback, the
/// backoff, the window's error chip); the words are in [`Failure::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum Cause {
    /// The server answered with this HTTP status (a refused upgrade or request).
    Http { status: u16 },
    /// The TLS handshake failed (an untrusted certificate, a protocol error).
    Tls,
    /// No answer in time, or an open connection fell silent (heartbeats).
    Timeout,
    /// The key or token was refused, is missing or has expired.
    Auth,
    /// The server closed the connection by policy (another client took over).
    Eviction,
    /// A limit was hit: a frame over the size limit, the server's connection limit,
    /// or the attempts allowed.
    Limit,
    /// The network: refused, unreachable, reset, or closed by the server.
    Network,
    /// The account's settings cannot work (its URL, topics or CA file).
    Config,
    /// The server broke the protocol (a frame that is not UTF-8, a refusal).
    Protocol,
    /// Nothing failed: a reconnect that was asked for or is due (the user's
    /// Reconnect, a wake from sleep, the WebSocket tried again after SSE).
    Asked,
}

/// A failure: its cause and the sentence the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub cause: Cause,
    pub reason: String,
}

impl Failure {
    pub fn new(cause: Cause, reason: impl Into<String>) -> Self {
        Failure { cause, reason: reason.into() }
    }
}

/// How one connection attempt ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The app is stopping.
    Shutdown,
    /// The engine is gone.
    SinkClosed,
    /// Stop until the user asks to reconnect (a refused key, a bad URL).
    Fatal(Failure),
    /// Connect again, after the backoff unless `immediate`.
    Retry(Retry),
}

/// A connection to make again.
#[derive(Debug)]
pub(crate) struct Retry {
    pub failure: Failure,
    /// The server asked for at least this long (closed by policy).
    pub min_delay: Option<Duration>,
    /// How long the connection had been up (a stable one resets the backoff).
    pub was_up_for: Duration,
    /// Connect again now, with no backoff (asked for, or woken from sleep).
    pub immediate: bool,
}

impl Ended {
    /// A retry of a connection that never came up.
    pub(crate) fn retry(cause: Cause, reason: impl Into<String>) -> Ended {
        Ended::Retry(Retry { failure: Failure::new(cause, reason), min_delay: None, was_up_for: Duration::ZERO, immediate: false })
    }

    /// A retry now, with the backoff reset.
    pub(crate) fn again_now(reason: impl Into<String>) -> Ended {
        Ended::Retry(Retry { failure: Failure::new(Cause::Asked, reason), min_delay: None, was_up_for: Duration::MAX, immediate: true })
    }

    pub(crate) fn fatal(cause: Cause, reason: impl Into<String>) -> Ended {
        Ended::Fatal(Failure::new(cause, reason))
    }

    fn map_reason(self, f: impl Fn(String) -> String) -> Ended {
        match self {
            Ended::Fatal(x) => Ended::Fatal(Failure { reason: f(x.reason), ..x }),
            Ended::Retry(r) => Ended::Retry(Retry { failure: Failure { reason: f(r.failure.reason), ..r.failure }, ..r }),
            other => other,
        }
    }
}

impl From<Failure> for Ended {
    /// A retry of a connection that never came up.
    fn from(failure: Failure) -> Ended {
        Ended::retry(failure.cause, failure.reason)
    }
}

/// A way to reach a provider. The driver calls [`Transport::attempt`] once per
/// connection and decides from its [`Ended`] what happens next.
pub(crate) trait Transport {
    /// Prepares what every attempt reuses (TLS, the HTTP client). An error stops
    /// the account until the user asks to reconnect; then it is called again.
    fn prepare(&mut self) -> Result<(), Failure>;

    /// One connection, from connecting until it ends. While it is up, the
    /// transport reads [`Link::outgoing`] (acks, commands, Reconnect).
    fn attempt(&mut self, link: &mut Link) -> impl Future<Output = Ended> + Send;

    /// Removes secrets (the key) from a failure's words before they are shown.
    fn scrub(&self, reason: String) -> String {
        reason
    }
}

/// One account as every transport sees it: where its events and state go, what
/// the user asks of it, and where it resumes from.
pub(crate) struct Link {
    pub account: String,
    pub provider: Provider,
    pub backoff: Backoff,
    pub sink: mpsc::Sender<Event>,
    pub status: watch::Sender<AccountStatus>,
    pub shutdown: CancellationToken,
    /// What the engine and the user ask: acks, commands, Reconnect.
    pub outgoing: mpsc::Receiver<Outgoing>,
    pub away: Away,
    /// When the server was last heard from on the current connection (a frame, a
    /// message, the confirmation of the subscriptions): what it sent after that may
    /// be lost when the connection ends, so a gap starts there, not when the end
    /// was noticed.
    pub heard_ms: Option<i64>,
}

/// The sink is closed: the engine is gone.
#[derive(Debug)]
pub(crate) struct SinkClosed;

impl Link {
    /// The server was heard from just now.
    pub(crate) fn heard(&mut self) {
        self.heard_ms = Some(now_ms());
    }

    pub(crate) fn set_state(&self, state: ConnState) {
        self.status.send_modify(|s| s.state = state);
    }

    /// The connection is up: the state, and no error any more.
    pub(crate) fn set_up(&self, state: ConnState) {
        self.status.send_modify(|s| {
            s.state = state;
            s.last_error = None;
            s.cause = None;
        });
    }

    /// Shows a problem that does not end the connection.
    pub(crate) fn note(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.status.send_modify(|s| s.last_error = Some(reason));
    }

    /// Clears the note `reason` if it is still the one shown.
    pub(crate) fn clear_note(&self, reason: &str) {
        self.status.send_modify(|s| {
            if s.last_error.as_deref() == Some(reason) {
                s.last_error = None;
            }
        });
    }

    /// Hands an event to the engine (waiting for room: backpressure) and counts it.
    pub(crate) async fn deliver(&self, event: Event) -> Result<(), SinkClosed> {
        self.sink.send(event).await.map_err(|_| SinkClosed)?;
        self.status.send_modify(|s| s.events_received += 1);
        Ok(())
    }

    /// Writes a gap entry for the time since the account was last connected, if
    /// anything may have been missed: `why` says why it cannot be fetched.
    pub(crate) async fn note_gap(&mut self, why: &str) -> Result<(), SinkClosed> {
        match self.away.since.take() {
            Some(from) => self.gap(Some(from), why).await,
            None => Ok(()),
        }
    }

    /// Writes a gap entry from `from` (unknown: `None`) until now.
    pub(crate) async fn gap(&self, from: Option<i64>, why: &str) -> Result<(), SinkClosed> {
        let gap = gap_event(&self.account, self.provider, from, now_ms(), why);
        self.sink.send(gap).await.map_err(|_| SinkClosed)
    }

    /// Shows the account as stopped by `failure` and waits for the user's
    /// Reconnect: `true` then; `false` (with the state "stopped") on shutdown.
    async fn stop_until_reconnect(&mut self, failure: Failure) -> bool {
        tracing::warn!(account = %self.account, cause = ?failure.cause, "connection stopped: {}", failure.reason);
        self.status.send_modify(|s| {
            s.last_error = Some(failure.reason.clone());
            s.cause = Some(failure.cause);
            s.state = ConnState::Closed { reason: failure.reason, fatal: true };
        });
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                out = self.outgoing.recv() => match out {
                    Some(Outgoing::Reconnect) => return true,
                    Some(Outgoing::Command { reply, .. }) => {
                        let _ = reply.send(Err("the account is stopped; fix what its status says, then reconnect".into()));
                    }
                    Some(Outgoing::Ack(_)) => {}
                    None => {
                        self.shutdown.cancelled().await;
                        break;
                    }
                },
            }
        }
        self.stopped();
        false
    }

    /// Waits `delay` before the next attempt: `Some(true)` when the user asked to
    /// reconnect now, `Some(false)` when the time is up, `None` on shutdown.
    async fn wait_before_retry(&mut self, delay: Duration) -> Option<bool> {
        let wait = tokio::time::sleep(delay);
        tokio::pin!(wait);
        let mut open = true;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = &mut wait => return Some(false),
                out = self.outgoing.recv(), if open => match out {
                    Some(Outgoing::Reconnect) => {
                        tracing::info!(account = %self.account, "reconnecting now, as asked");
                        return Some(true);
                    }
                    Some(Outgoing::Command { reply, .. }) => {
                        let _ = reply.send(Err("the account is not connected right now; try again when it is".into()));
                    }
                    // The provider redelivers what was not acknowledged.
                    Some(Outgoing::Ack(_)) => {}
                    None => open = false,
                },
            }
        }
    }

    fn stopped(&self) {
        self.set_state(ConnState::Closed { reason: "stopped".into(), fatal: false });
    }
}

/// Runs `transport` for `link`'s account until shutdown: connect, and when the
/// connection ends, wait and connect again, or stop until the user's Reconnect.
pub(crate) async fn drive<T: Transport>(mut transport: T, mut link: Link) {
    while let Err(failure) = transport.prepare() {
        if !link.stop_until_reconnect(failure).await {
            return;
        }
    }
    let mut attempt: u32 = 0;
    loop {
        link.set_state(ConnState::Connecting);
        link.heard_ms = None;
        // A server may echo the key in an error; it never reaches a log or the status.
        let ended = transport.attempt(&mut link).await.map_reason(|r| transport.scrub(r));
        let retry = match ended {
            Ended::Shutdown | Ended::SinkClosed => {
                link.stopped();
                return;
            }
            Ended::Fatal(failure) => {
                // Stopped until the user asks again (after fixing the key, say).
                if !link.stop_until_reconnect(failure).await {
                    return;
                }
                while let Err(failure) = transport.prepare() {
                    if !link.stop_until_reconnect(failure).await {
                        return;
                    }
                }
                attempt = 0;
                continue;
            }
            Ended::Retry(retry) => retry,
        };
        // Missed since the server was last heard from (or, if it never was on this
        // connection, since the end was noticed).
        let lost_from = link.heard_ms.take().unwrap_or_else(now_ms);
        link.away.since = Some(link.away.since.map_or(lost_from, |s| s.min(lost_from)));
        let Failure { cause, reason } = retry.failure;
        if retry.was_up_for >= link.backoff.stable_after {
            attempt = 0;
        }
        if retry.immediate {
            link.status.send_modify(|s| {
                s.last_error = Some(reason.clone());
                s.cause = Some(cause);
            });
            continue;
        }
        attempt += 1;
        if link.backoff.max_attempts != 0 && attempt > link.backoff.max_attempts {
            let failure = Failure::new(cause, format!("gave up after {} attempts: {reason}", link.backoff.max_attempts));
            if !link.stop_until_reconnect(failure).await {
                return;
            }
            attempt = 0;
            continue;
        }
        let delay = link.backoff.delay(attempt, rand::random::<f64>()).max(retry.min_delay.unwrap_or_default());
        tracing::info!(account = %link.account, attempt, delay_ms = delay.as_millis() as u64, ?cause, "reconnecting: {reason}");
        link.status.send_modify(|s| {
            s.last_error = Some(reason);
            s.cause = Some(cause);
            s.state = ConnState::Reconnecting { attempt, delay_ms: delay.as_millis() as u64 };
        });
        match link.wait_before_retry(delay).await {
            None => {
                link.stopped();
                return;
            }
            Some(true) => attempt = 0,
            Some(false) => {}
        }
    }
}

/// Sleep detection: suspend stops the monotonic clock but not the wall clock, so
/// a wall clock that moved far more than the monotonic one since the last look
/// means the machine was asleep (and its connections are almost surely dead).
pub(crate) struct Clocks {
    wall_ms: i64,
    mono: tokio::time::Instant,
}

impl Clocks {
    pub(crate) fn new() -> Self {
        Clocks { wall_ms: now_ms(), mono: tokio::time::Instant::now() }
    }

    /// Whether the machine slept since the last call (or since [`Clocks::new`]).
    pub(crate) fn slept(&mut self) -> bool {
        let (wall, mono) = (now_ms(), tokio::time::Instant::now());
        let asleep = crate::slept(wall - self.wall_ms, (mono - self.mono).as_millis() as i64);
        (self.wall_ms, self.mono) = (wall, mono);
        asleep
    }
}
