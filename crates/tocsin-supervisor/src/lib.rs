//! The connection supervisor: one long-lived task per account that keeps it
//! connected to its provider, whatever the network does.
//!
//! Owns: the [driver](driver) every transport runs under (backoff with jitter,
//! stop-until-reconnect on a fatal error, the state machine [`ConnState`]:
//! connecting → authenticating → open → subscribed → reconnecting(attempt, delay) →
//! closed(reason, fatal), typed failure causes, gap entries), and the transports:
//! the WebSocket (tokio-tungstenite, TLS verified against the platform roots,
//! heartbeats, re-subscribing after every reconnect, replay cursors, the frame size
//! limit), its SSE fallback, and direct NATS.
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
//! Layout: `lib.rs` (an account's settings, [`run`], [`run_nats`]), `driver.rs`
//! (the attempt loop and [`Cause`]), `ws.rs`, `sse.rs` and `nats.rs` (the
//! transports), `catchup.rs`, `names.rs`, `token.rs`, `rest.rs` (what the
//! transports fetch over REST), `backoff.rs`, `status.rs`, `tls.rs`, `throttle.rs`.

mod backoff;
mod catchup;
pub mod driver;
mod names;
pub mod nats;
mod rest;
mod sse;
mod status;
mod throttle;
pub mod tls;
mod token;
mod ws;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tocsin_model::{Event, EventKind};
use tocsin_providers::{Adapter, Command};
use tocsin_secrets::Sensitive;

pub use backoff::Backoff;
pub use driver::{Cause, Failure};
pub use nats::{run_nats, NatsConnection};
pub use status::{AccountStatus, ConnState};
pub use throttle::RateLimit;

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

/// Runs `conn` over its WebSocket (and SSE fallback) until `shutdown` fires. Events
/// go to `sink`; the state goes to `status`. A fatal error stops the account until
/// [`Outgoing::Reconnect`]; the task itself only ends on shutdown.
pub async fn run(
    mut conn: Connection,
    sink: mpsc::Sender<Event>,
    status: watch::Sender<AccountStatus>,
    shutdown: CancellationToken,
) {
    // TLS for wss:// and https:// (rustls has no process-wide provider by default).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (_, closed) = mpsc::channel(1);
    let link = driver::Link {
        account: conn.account.clone(),
        provider: conn.adapter.provider(),
        backoff: conn.backoff,
        sink,
        status,
        shutdown,
        outgoing: std::mem::replace(&mut conn.outgoing, closed),
        away: catchup::Away { cursor: conn.resume.clone(), since: conn.resume_at_ms },
        heard_ms: None,
    };
    driver::drive(ws::WebSocket::new(conn), link).await;
}

/// Whether the wall clock moved `wall_ms` while the monotonic clock moved only
/// `mono_ms`: the machine was asleep (suspend stops the monotonic clock).
pub fn slept(wall_ms: i64, mono_ms: i64) -> bool {
    wall_ms - mono_ms > 10_000
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
