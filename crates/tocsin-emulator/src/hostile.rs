//! A hostile server, for robustness tests: `POST /_emulator/{provider}/hostile`
//! with `{"kind": ..., "count": N}` plays one of these on every open connection of
//! that provider, right away, as fast as the socket takes it:
//!
//! - `huge`: text frames of `bytes` (default 4 MiB, over the client's 1 MiB limit).
//! - `flood`: `count` (default 200 000) small, valid event frames of the provider,
//!   each with its own id.
//! - `invalid_utf8`: frames whose payload is not UTF-8. axum's WebSocket only sends
//!   text frames it has checked to be UTF-8 (and the workspace forbids `unsafe`), so
//!   these go out as *binary* frames; a client that treats them as text would see
//!   the same bytes. (Text frames with invalid UTF-8 are covered by the supervisor's
//!   own tests, with a raw tungstenite server.)
//! - `nested`: JSON nested `bytes` levels deep (default 100 000), alternating arrays
//!   `[[[[…` and objects `{"a":{"a":…`.
//! - `binary`: random binary frames of up to `bytes` (default 64 KiB).
//!
//! The scenario runs inside each connection's task, so a client that reads slowly
//! slows it down (TCP flow control), as a real server would be.

use std::fmt;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use rand::Rng;
use serde::Deserialize;

/// One of the hostile behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostileKind {
    Huge,
    Flood,
    InvalidUtf8,
    Nested,
    Binary,
}

/// The body of `POST /_emulator/{provider}/hostile`.
#[derive(Debug, Clone, Deserialize)]
pub struct HostileRequest {
    pub kind: HostileKind,
    /// How many frames (defaults: huge 1, flood 200 000, invalid_utf8 10, nested 10, binary 100).
    #[serde(default)]
    pub count: Option<u64>,
    /// Size: bytes of a huge or binary frame, levels of a nested one.
    #[serde(default)]
    pub bytes: Option<usize>,
}

/// Builds flood frame number `i` (a provider's event frame, as text).
pub type FloodFrame = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// A hostile scenario, ready to play on every connection.
#[derive(Clone)]
pub struct Hostile {
    pub kind: HostileKind,
    pub count: u64,
    pub bytes: usize,
    pub flood: FloodFrame,
}

impl fmt::Debug for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hostile").field("kind", &self.kind).field("count", &self.count).field("bytes", &self.bytes).finish()
    }
}

impl HostileRequest {
    /// The kind as the control API spells it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            HostileKind::Huge => "huge",
            HostileKind::Flood => "flood",
            HostileKind::InvalidUtf8 => "invalid_utf8",
            HostileKind::Nested => "nested",
            HostileKind::Binary => "binary",
        }
    }
}

impl Hostile {
    /// The scenario `request` asks for, with defaults filled in.
    pub fn new(request: &HostileRequest, flood: FloodFrame) -> Hostile {
        let (count, bytes) = match request.kind {
            HostileKind::Huge => (1, 4 << 20),
            HostileKind::Flood => (200_000, 0),
            HostileKind::InvalidUtf8 => (10, 0),
            HostileKind::Nested => (10, 100_000),
            HostileKind::Binary => (100, 64 << 10),
        };
        Hostile {
            kind: request.kind,
            count: request.count.unwrap_or(count).min(10_000_000),
            bytes: request.bytes.unwrap_or(bytes).min(256 << 20),
            flood,
        }
    }
}

/// Plays `h` on `socket`. Frames are queued and flushed in batches, so a flood is
/// as fast as the connection allows.
pub async fn play(socket: &mut WebSocket, h: &Hostile) -> Result<(), axum::Error> {
    for i in 0..h.count {
        let frame = match h.kind {
            HostileKind::Huge => {
                let head = r#"{"type":"message.received","padding":""#;
                let mut s = String::with_capacity(h.bytes.max(head.len() + 2));
                s.push_str(head);
                s.extend(std::iter::repeat_n('x', h.bytes.saturating_sub(head.len() + 2)));
                s.push_str("\"}");
                Message::Text(s.into())
            }
            HostileKind::Flood => Message::Text((h.flood)(i).into()),
            HostileKind::InvalidUtf8 => {
                // A JSON-looking frame with bytes that are never valid UTF-8.
                let mut b = br#"{"type":"message.received","text":""#.to_vec();
                b.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
                b.extend_from_slice(br#""}"#);
                Message::Binary(b.into())
            }
            HostileKind::Nested => {
                let depth = h.bytes.max(1);
                let s = if i % 2 == 0 { "[".repeat(depth) } else { r#"{"a":"#.repeat(depth) };
                Message::Text(s.into())
            }
            HostileKind::Binary => {
                let mut rng = rand::rng();
                let len = rng.random_range(1..=h.bytes.max(1));
                let mut b = vec![0u8; len];
                rng.fill(&mut b[..]);
                Message::Binary(b.into())
            }
        };
        socket.feed(frame).await?;
    }
    socket.flush().await
}
