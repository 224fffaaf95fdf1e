//! Provider adapters: pure translation between each platform's wire frames and the
//! unified event model.
//!
//! Owns: the [`Adapter`] trait, one module per provider (`daimon`, ...), how each
//! provider authenticates a connection ([`ConnectPlan`]), what it sends after the
//! socket opens (subscriptions), and how each server frame decodes into an
//! [`Event`] or a [`Control`] frame that drives the connection state machine.
//!
//! Must not: open sockets, sleep, read clocks other than through arguments, or log
//! secrets. Every function here is deterministic, so the adapters are tested with
//! plain frames and no runtime.

pub mod agentmail;
pub mod bivariant;
pub mod daimon;
pub mod divinci;
pub mod prismer;
mod json;
pub mod time;
pub mod topics;

use std::time::Duration;

use tocsin_model::{Event, Provider};
use tocsin_secrets::Sensitive;

/// How a connection presents its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// `Authorization: Bearer <key>` on the upgrade request (preferred).
    Bearer,
    /// The key in the URL query, under the provider's parameter name.
    Query,
    /// The key in an authentication frame sent after the socket opens (Prismer).
    Frame,
    /// A short-lived connection token or ticket fetched over HTTP with the key
    /// before every connect (daimon connection tokens, Chat SDK tickets).
    Token,
}

/// Where and how an account connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The WebSocket URL.
    pub url: String,
    pub auth: AuthMode,
    /// Overrides the provider's query parameter name for [`AuthMode::Query`]
    /// (AgentMail: `api_key` or `auth_token`).
    pub query_param: Option<String>,
    /// The HTTP endpoint for [`AuthMode::Token`] (daimon `/v1/websocket/token`,
    /// Chat SDK `/ws/ticket`).
    pub token_url: Option<String>,
    /// The REST base for commands; derived from `url` when absent.
    pub rest_url: Option<String>,
}

impl Endpoint {
    pub fn new(url: &str, auth: AuthMode) -> Self {
        Endpoint { url: url.to_owned(), auth, query_param: None, token_url: None, rest_url: None }
    }

    /// The REST base: `rest_url`, else the socket URL with `ws(s)` → `http(s)`, a
    /// leading `ws.` host label → `api.`, and no path (`wss://ws.agentmail.to/v0` →
    /// `https://api.agentmail.to`).
    pub fn rest_base(&self) -> String {
        if let Some(r) = &self.rest_url {
            return r.trim_end_matches('/').to_owned();
        }
        let (scheme, rest) = match self.url.split_once("://") {
            Some(("wss", r)) => ("https", r),
            Some((_, r)) => ("http", r),
            None => ("https", self.url.as_str()),
        };
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = host.strip_prefix("ws.").map(|h| format!("api.{h}")).unwrap_or_else(|| host.to_owned());
        format!("{scheme}://{host}")
    }
}

/// Something the user asks of a provider about one stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Mark the message read at the provider.
    MarkRead { message_id: Option<String>, inbox: Option<String>, thread: Option<String> },
    /// Reply to the message with plain text.
    Reply { message_id: Option<String>, inbox: Option<String>, thread: Option<String>, text: String },
}

/// How a command travels.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandPlan {
    /// A frame on the socket; the answer is the [`Control::CommandResult`] with
    /// this request id (or, when `request_id` is `None`, no answer is sent).
    Socket { frame: String, request_id: Option<String> },
    /// A REST call with `Authorization: Bearer <key>`.
    Rest { method: &'static str, path: String, body: serde_json::Value },
}

/// What to subscribe to after the socket opens.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subscriptions {
    /// daimon / AgentMail inbox ids. Empty means "everything the key can see".
    #[serde(default)]
    pub inboxes: Vec<String>,
    /// AgentMail pod ids.
    #[serde(default)]
    pub pods: Vec<String>,
    /// AgentMail event types (`message.received`, ...). Empty = all.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Prismer conversation ids to join (the server also joins the user's own).
    #[serde(default)]
    pub conversations: Vec<String>,
    /// Topic patterns (the topic platform).
    #[serde(default)]
    pub topics: Vec<String>,
}

/// What a connection learned that decoding depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// The local account name.
    pub account: String,
    /// The provider's id for us, once authenticated (Prismer `userId`).
    pub user_id: Option<String>,
    /// The catch-up cursor reached so far (Prismer's sync `seq`): live events carry
    /// it as their cursor, so committing one never moves the stored cursor past
    /// something that was not fetched.
    pub cursor: Option<String>,
    /// Conversations this connection has asked to join (Prismer rooms).
    pub joined: std::collections::HashSet<String>,
    /// Open streams: stream id → sender, learnt from the chunks (the end carries no
    /// sender). Bounded by [`MAX_OPEN_STREAMS`].
    pub streams: std::collections::HashMap<String, String>,
}

impl Session {
    pub fn new(account: &str) -> Self {
        Session { account: account.to_owned(), ..Default::default() }
    }

    /// Applies what an ephemeral frame says to this connection's state.
    pub fn absorb(&mut self, ephemeral: &Ephemeral) {
        match ephemeral {
            Ephemeral::StreamChunk { stream_id, sender: Some(sender), .. } => {
                if self.streams.len() >= MAX_OPEN_STREAMS && !self.streams.contains_key(stream_id) {
                    // A stream whose end never came: forget the oldest-looking one.
                    if let Some(k) = self.streams.keys().next().cloned() {
                        self.streams.remove(&k);
                    }
                }
                self.streams.insert(stream_id.clone(), sender.clone());
            }
            Ephemeral::StreamChunk { .. } | Ephemeral::Typing { .. } | Ephemeral::Presence { .. } => {}
        }
    }
}

/// How many streams a connection tracks at once (senders of unfinished streams).
pub const MAX_OPEN_STREAMS: usize = 1024;

/// A frame that changes state but is not history: typing, presence, stream chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ephemeral {
    Typing { conversation: Option<String>, user: Option<String>, typing: bool },
    Presence { user: Option<String>, status: Option<String> },
    StreamChunk { stream_id: String, conversation: Option<String>, sender: Option<String> },
}

/// How a provider lets a client recover what was sent while it was away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// The server replays from the cursor given at connect (daimon `last_event_id`),
    /// then says [`Control::ReplayComplete`] or [`Control::ReplayGap`].
    Replay,
    /// The client fetches over REST ([`Adapter::catch_up_start`], paged): Prismer
    /// sync, AgentMail message listings.
    Fetch,
    /// Nothing: the time away becomes a gap entry in the history.
    Nothing,
}

/// Where a catch-up starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUpFrom<'a> {
    /// The last committed cursor (provider event id or sync `seq`), if any.
    pub cursor: Option<&'a str>,
    /// Since when events may have been missed (ms since the epoch): when the
    /// connection dropped, or when this account was last known connected before the
    /// app stopped. `None` for an account that never connected before.
    pub since_ms: Option<i64>,
}

/// One page of a catch-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatchUpPage {
    pub events: Vec<Event>,
    /// Further REST paths to fetch (the next page, each inbox's listing).
    pub next: Vec<String>,
    /// The cursor reached once this page is committed (Prismer `cursor`).
    pub cursor: Option<String>,
}

/// A human name for a provider id (a person, a conversation), from the provider's REST.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Name {
    pub display: String,
    /// A one-to-one conversation.
    #[serde(default)]
    pub direct: bool,
}

/// A name to look up: the cache key (`user:<id>`, `conversation:<id>`) and the REST
/// path (GET, Bearer key) that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub key: String,
    pub path: String,
}

/// Names already looked up, with when (ms since the epoch). Owned by the connection,
/// kept in the store between runs by the engine.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NameCache {
    pub entries: std::collections::HashMap<String, (Name, i64)>,
}

impl NameCache {
    /// How long a name is trusted before it is looked up again.
    pub const FRESH_MS: i64 = 24 * 3_600_000;
    /// The most names kept per account.
    pub const MAX: usize = 10_000;

    pub fn get(&self, key: &str) -> Option<&Name> {
        self.entries.get(key).map(|(n, _)| n)
    }

    /// Whether `key` needs a (new) lookup at `now_ms`.
    pub fn stale(&self, key: &str, now_ms: i64) -> bool {
        self.entries.get(key).is_none_or(|(_, at)| now_ms - at > Self::FRESH_MS)
    }

    pub fn put(&mut self, key: String, name: Name, now_ms: i64) {
        if self.entries.len() >= Self::MAX && !self.entries.contains_key(&key) {
            if let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone()) {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (name, now_ms));
    }
}

/// Why a catch-up could not be completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatchUpError {
    /// The server no longer accepts our cursor (expired, too old).
    #[error("the server no longer accepts the resume point ({0})")]
    CursorRefused(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Everything the supervisor needs to open one connection.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    /// The URL to connect to. May hold a key in its query: log [`ConnectPlan::log_url`] instead.
    pub url: Sensitive<String>,
    /// The URL with secrets redacted, safe to log and show.
    pub log_url: String,
    /// Extra headers for the upgrade request (values may be secret).
    pub headers: Vec<(String, Sensitive<String>)>,
}

/// Liveness parameters of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// How often the client sends a WebSocket ping.
    pub ping_every: Duration,
    /// A connection with no frame (data, ping or pong) for this long is dead.
    pub dead_after: Duration,
}

/// A control frame: drives the connection state machine; never stored as an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// The server accepted the connection (daimon `connected`).
    Connected,
    /// The server accepted our credentials (Prismer `authenticated`).
    Authenticated { user_id: Option<String> },
    /// The server confirmed the subscription.
    Subscribed,
    /// A replay after reconnect finished (`count` events were replayed).
    ReplayComplete { count: u64 },
    /// The server cannot replay from our cursor: events may have been missed.
    ReplayGap { oldest_event_id: Option<String> },
    /// The answer to a command we sent with `request_id`.
    CommandResult { request_id: String, ok: bool, error: Option<String>, message: Option<String> },
    /// An error frame not tied to a command.
    ServerError { code: Option<String>, message: String, fatal: bool },
    /// An application-level pong.
    Pong,
    /// The server advises a catch-up now (Prismer `reconnect.ack` with `syncAdvised`).
    CatchUpAdvised,
}

/// One decoded server frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Event(Box<Event>),
    Control(Control),
    /// State, not history.
    Ephemeral(Ephemeral),
}

/// A frame that could not be decoded. The message never contains the frame's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// A provider's protocol, as pure functions.
pub trait Adapter: Send + Sync {
    fn provider(&self) -> Provider;
    /// The URL and headers for the next connection attempt. `resume` is the last
    /// provider event id seen, for providers that replay.
    fn connect_plan(&self, key: &Sensitive<String>, resume: Option<&str>) -> ConnectPlan;
    /// Text frames to send once the socket is open (subscriptions).
    fn on_open(&self, resume: Option<&str>) -> Vec<String>;
    /// Whether the server confirms subscriptions with a frame; if not, the connection
    /// counts as subscribed as soon as `on_open` frames are sent.
    fn expects_subscribe_ack(&self) -> bool;
    /// Decodes one text frame received at `received_at_ms` on a connection.
    fn decode_in(&self, session: &Session, text: &str, received_at_ms: i64) -> Result<Inbound, DecodeError>;
    fn heartbeat(&self) -> Heartbeat;
    /// A frame carrying the key, sent first after the socket opens (frame auth).
    fn auth_frame(&self, _key: &Sensitive<String>, _now_ms: i64) -> Option<Sensitive<String>> {
        None
    }
    /// Whether the connection is authenticated only once the server says so
    /// ([`Control::Authenticated`]); subscriptions wait for it.
    fn expects_auth_ack(&self) -> bool {
        false
    }
    /// The `n`th application-level ping, for providers whose liveness is app-level.
    fn app_ping(&self, _n: u64, _now_ms: i64) -> Option<String> {
        None
    }
    /// The frame acknowledging a committed event that carried `token`.
    fn ack_frame(&self, _token: &str) -> Option<String> {
        None
    }
    /// An HTTP exchange to run before every connect (tickets, connection tokens): a
    /// `POST` of `body` with `Authorization: Bearer <key>`. Its result, from
    /// [`Adapter::parse_token`], replaces the key in [`Adapter::connect_plan`].
    fn token_request(&self) -> Option<TokenRequest> {
        None
    }
    /// How `command` is carried out, or why it cannot be.
    fn command(&self, command: &Command, request_id: &str) -> Result<CommandPlan, String> {
        let _ = (command, request_id);
        Err(format!("{} does not support this action", self.provider()))
    }
    /// How this provider recovers what was sent while the client was away.
    fn catch_up(&self) -> CatchUp {
        CatchUp::Nothing
    }
    /// For [`CatchUp::Fetch`]: the first REST paths (GET, Bearer key) of a
    /// catch-up from `from`. Empty: nothing to fetch (a new account, say).
    fn catch_up_start(&self, _from: &CatchUpFrom) -> Vec<String> {
        Vec::new()
    }
    /// Decodes the answer to one catch-up `path`.
    fn decode_catch_up(
        &self,
        _session: &Session,
        _from: &CatchUpFrom,
        _path: &str,
        _body: &[u8],
        _received_at_ms: i64,
    ) -> Result<CatchUpPage, CatchUpError> {
        Ok(CatchUpPage::default())
    }
    /// How often a connected client fetches again anyway, for what a live
    /// connection cannot see (Prismer: conversations created after sign-in).
    fn catch_up_every(&self) -> Option<Duration> {
        None
    }
    /// The SSE stream to fall back to when the WebSocket upgrade fails (Prismer).
    fn sse_plan(&self, _key: &Sensitive<String>) -> Option<ConnectPlan> {
        None
    }
    /// When `key` stops being accepted (ms since the epoch), for keys that say so
    /// (a JWT's `exp`).
    fn key_expires_at(&self, _key: &Sensitive<String>) -> Option<i64> {
        None
    }
    /// The REST path (POST, Bearer the current key, no body) that renews the key.
    fn refresh_path(&self) -> Option<&'static str> {
        None
    }
    /// Reads the renewed key from the answer to [`Adapter::refresh_path`].
    fn parse_refresh(&self, _body: &[u8]) -> Result<Sensitive<String>, DecodeError> {
        Err(DecodeError(format!("{} keys are not renewed", self.provider())))
    }
    /// The names `event` needs (its sender, its conversation), for providers whose
    /// frames carry ids only.
    fn lookups(&self, _session: &Session, _event: &Event) -> Vec<Lookup> {
        Vec::new()
    }
    /// Decodes the answer to the lookup `key`.
    fn decode_lookup(&self, _session: &Session, key: &str, _body: &[u8]) -> Result<Name, DecodeError> {
        Err(DecodeError(format!("{} has no lookup {key}", self.provider())))
    }
    /// Puts the names known in `names` into `event` (who, where, direct or not).
    fn apply_names(&self, _event: &mut Event, _names: &NameCache) {}
    /// Frames to send after an event arrived (join a conversation it names).
    fn after_event(&self, _session: &mut Session, _event: &Event) -> Vec<String> {
        Vec::new()
    }
    /// Reads the answer to [`Adapter::token_request`].
    fn parse_token(&self, status: u16, _body: &[u8]) -> Result<Sensitive<String>, TokenError> {
        Err(TokenError::Fatal(format!("unexpected token answer (HTTP {status})")))
    }
}

/// A ticket or token to fetch before connecting.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequest {
    pub url: String,
    pub body: serde_json::Value,
}

/// Why no ticket or token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Retrying will not help (the key is wrong).
    #[error("{0}")]
    Fatal(String),
    /// Try again later.
    #[error("{0}")]
    Retry(String),
}

/// Builds the adapter for `provider`, if this version speaks it.
pub fn adapter_for(
    provider: Provider,
    endpoint: &Endpoint,
    subscriptions: &Subscriptions,
) -> Result<Box<dyn Adapter>, String> {
    let (url, auth) = (endpoint.url.as_str(), endpoint.auth);
    let unsupported = |what: &str| Err(format!("{provider} does not support {what} authentication"));
    match (provider, auth) {
        (Provider::Daimon, AuthMode::Frame) => unsupported("frame"),
        (Provider::Daimon, _) => Ok(Box::new(daimon::Daimon::new(url, auth, endpoint.token_url.as_deref(), subscriptions.clone())?)),
        (Provider::AgentMail, AuthMode::Frame | AuthMode::Token) => unsupported("frame or token"),
        (Provider::AgentMail, _) => {
            Ok(Box::new(agentmail::AgentMail::new(url, auth, endpoint.query_param.as_deref(), subscriptions.clone())))
        }
        (Provider::Prismer, AuthMode::Token | AuthMode::Bearer) => {
            Err("Prismer accepts its JWT as ?token= (auth = \"query\") or in an authenticate frame (auth = \"frame\")".into())
        }
        (Provider::Prismer, _) => Ok(Box::new(prismer::Prismer::new(url, auth, subscriptions.clone()))),
        (Provider::Bivariant, AuthMode::Frame | AuthMode::Token) => unsupported("frame or token"),
        (Provider::Bivariant, _) => Ok(Box::new(bivariant::Bivariant::new(url, auth, subscriptions.clone())?)),
        (Provider::Divinci, AuthMode::Token) => Ok(Box::new(divinci::Divinci::new(url, endpoint.token_url.as_deref())?)),
        (Provider::Divinci, _) => Err("the Chat SDK socket authenticates with tickets only (auth = \"token\")".into()),
    }
}

/// FNV-1a, 64 bit: a stable fingerprint for frames that carry no id of their own.
pub fn fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Appends `k=v` to a URL's query, percent-encoding `v`.
pub fn with_query(url: &str, k: &str, v: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{k}={}", percent_encode(v))
}

/// Percent-encodes everything but unreserved characters.
pub fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(with_query("ws://h/p", "key", "a b&c"), "ws://h/p?key=a%20b%26c");
        assert_eq!(with_query("ws://h/p?x=1", "k", "v"), "ws://h/p?x=1&k=v");
    }

    #[test]
    fn rest_bases() {
        assert_eq!(Endpoint::new("wss://ws.agentmail.to/v0", AuthMode::Bearer).rest_base(), "https://api.agentmail.to");
        assert_eq!(Endpoint::new("wss://prismer.cloud/ws", AuthMode::Query).rest_base(), "https://prismer.cloud");
        assert_eq!(Endpoint::new("ws://127.0.0.1:9/v0?x=1", AuthMode::Bearer).rest_base(), "http://127.0.0.1:9");
        let e = Endpoint { rest_url: Some("https://eu/".into()), ..Endpoint::new("wss://x/ws", AuthMode::Bearer) };
        assert_eq!(e.rest_base(), "https://eu");
    }

    #[test]
    fn commands_per_provider() {
        let cmd = Command::MarkRead { message_id: Some("m/1".into()), inbox: Some("a@b.to".into()), thread: Some("conv_1".into()) };
        let d = adapter_for(Provider::Daimon, &Endpoint::new("ws://h/v1/stream", AuthMode::Bearer), &Subscriptions::default()).unwrap();
        let CommandPlan::Socket { frame, request_id } = d.command(&cmd, "r-1").unwrap() else { panic!() };
        assert_eq!(request_id.as_deref(), Some("r-1"));
        assert!(frame.contains("\"action\":\"mark_as_read\""));
        let a = adapter_for(Provider::AgentMail, &Endpoint::new("ws://h/v0", AuthMode::Bearer), &Subscriptions::default()).unwrap();
        assert_eq!(
            a.command(&cmd, "r").unwrap(),
            CommandPlan::Rest {
                method: "PATCH",
                path: "/v0/inboxes/a%40b.to/messages/m%2F1".into(),
                body: serde_json::json!({"add_labels":["read"],"remove_labels":["unread"]})
            }
        );
        let p = adapter_for(Provider::Prismer, &Endpoint::new("ws://h/ws", AuthMode::Query), &Subscriptions::default()).unwrap();
        assert!(matches!(p.command(&cmd, "r").unwrap(), CommandPlan::Rest { path, .. } if path == "/api/im/conversations/conv_1/read"));
        let b = adapter_for(Provider::Bivariant, &Endpoint::new("ws://h/v1/ws", AuthMode::Bearer),
            &Subscriptions { topics: vec!["events.o.>".into()], ..Default::default() }).unwrap();
        assert!(b.command(&cmd, "r").is_err(), "mark read is unknown for the topic platform");
    }

    #[test]
    fn fingerprint_is_stable() {
        assert_eq!(fingerprint("abc"), fingerprint("abc"));
        assert_ne!(fingerprint("abc"), fingerprint("abd"));
        assert_eq!(fingerprint(""), "cbf29ce484222325");
    }
}
