//! Tocsin's local control API: the Unix socket between the resident process
//! (engine, tray, notifier) and its clients (the history window, a separate
//! process, and the `tocsin` command line).
//!
//! Owns: the socket's path and permissions ([`path`]), binding it with stale-socket
//! replacement and single-instance detection ([`bind`]), the peer check (same uid
//! only, [`check_peer`]), the handshake, the wire format ([`wire`]), the server loop
//! that dispatches calls to a [`Handler`] and forwards pushes ([`serve`],
//! [`Clients`]), and the [`Client`].
//!
//! Must not: contain app logic (the resident implements [`Handler`]); accept a peer
//! running as another user; remove a path that is not a socket; log a request's
//! arguments (a [`Request::KeySet`] carries a key; its `Debug` prints `<redacted>`).
//!
//! # Wire format
//!
//! One JSON object per line (`\n`), at most [`MAX_LINE`] (4 MiB) per line, both
//! ways. The socket is `$TOCSIN_RUNTIME_DIR/control.sock`, else
//! `$XDG_RUNTIME_DIR/tocsin/control.sock`, else `/tmp/tocsin-<uid>/control.sock`;
//! the directory is 0700 and the socket 0600, both owned by the user.
//!
//! ## Handshake
//!
//! Before reading anything the server checks the peer's uid (`SO_PEERCRED`); another
//! user gets a `forbidden` error line and the connection closes. Then the client
//! sends its hello within 5 s ([`HANDSHAKE_TIMEOUT`]); `role` is `window` or `cli`:
//!
//! ```text
//! {"protocol":1,"role":"window","version":"0.1.0"}
//! ```
//!
//! The server answers with a welcome (`history` is the database the window reads):
//!
//! ```text
//! {"welcome":{"protocol":1,"version":"0.1.0","pid":4242,"history":"/home/ada/.local/share/tocsin/history.db"}}
//! ```
//!
//! or with an error, then closes. A different [`PROTOCOL`] (the hello's `protocol`
//! is read first, so any future hello gets this), another user, a second window:
//!
//! ```text
//! {"error":{"code":"version_mismatch","field":"protocol","message":"this window speaks control protocol 2 but the running Tocsin speaks 1: restart Tocsin so both are the same version"}}
//! {"error":{"code":"forbidden","field":null,"message":"this Tocsin runs as user 1000 and does not take commands from user 1001"}}
//! {"error":{"code":"window_open","field":null,"message":"the history window is already open"}}
//! ```
//!
//! ## Calls
//!
//! Each call is `{"id":<u64>,"op":"<op>",<arguments>}` ([`Call`], [`Request`]). The
//! client picks `id` (the [`Client`] counts from 1) and the reply echoes it. Calls run
//! concurrently, so replies can come in any order. Event ids are passed as
//! `"event"` (`"id"` is the call's). The answer (`ok`) each op gets, by convention
//! between the resident and its clients, is after each line:
//!
//! - `{"id":1,"op":"status"}`\
//!   → The [`Snapshot`](tocsin_engine::Snapshot).
//! - `{"id":2,"op":"subscribe"}`\
//!   → `null`; from now on this connection also gets pushes (they may come before the reply).
//! - `{"id":3,"op":"pause","choice":"hour"}`\
//!   → The [`Snapshot`](tocsin_engine::Snapshot) after the change. `choice`: `hour`, `tomorrow`, `forever`, `resume`.
//! - `{"id":4,"op":"reconnect"}`\
//!   → `null`.
//! - `{"id":5,"op":"open_window","event":42}`\
//!   → `null`. `event` may be `null`.
//! - `{"id":6,"op":"mark_read","event":42}`\
//!   → `null`.
//! - `{"id":7,"op":"set_read","event":42,"read":false}`\
//!   → `null`.
//! - `{"id":8,"op":"reply","event":42,"text":"On it."}`\
//!   → `null`.
//! - `{"id":9,"op":"rules_get"}`\
//!   → The rules as a TOML string.
//! - `{"id":10,"op":"rules_set","toml":"[[rules]]\nname = \"pager\"\ntier = \"urgent\"\n"}`\
//!   → `null`.
//! - `{"id":11,"op":"rules_test","event":42,"toml":null}`\
//!   → The [`Decision`](tocsin_model::rules::Decision) of `toml` (or, `null`, the stored rules) for stored event 42.
//! - `{"id":12,"op":"attention_get"}`\
//!   → The [`AttentionSettings`](tocsin_engine::attention::AttentionSettings).
//! - `{"id":13,"op":"attention_set","settings":{"quiet_hours":[{"days":["Mon","Tue"],"start":"22:00","end":"07:00"}],"quiet_min_tier":"urgent","coalesce_max":5,"coalesce_window_secs":30,"repeat_urgent_secs":null,"notifications_enabled":true,"sound":true}}`\
//!   → `null`.
//! - `{"id":14,"op":"retention_get"}`\
//!   → The [`Retention`](tocsin_store::Retention).
//! - `{"id":15,"op":"retention_set","retention":{"maxAgeDays":365,"maxEvents":null}}`\
//!   → `null`.
//! - `{"id":16,"op":"accounts_list"}`\
//!   → An array of [`AccountView`](tocsin_engine::accounts::AccountView).
//! - `{"id":17,"op":"account_save","account":{"name":"work","provider":"daimon","url":"wss://api.daimon.email/v1/events","auth":"bearer","authParam":null,"tokenUrl":null,"restUrl":null,"caFile":null,"inboxes":[],"pods":[],"eventTypes":[],"conversations":[],"topics":[],"backoff":{"baseMs":1000,"capMs":30000,"maxAttempts":0,"stableAfterMs":60000}},"original_name":null}`\
//!   → `null`. `original_name` is the account's name before a rename (`null` for a new one).
//! - `{"id":18,"op":"account_remove","name":"work"}`\
//!   → `null`.
//! - `{"id":19,"op":"config_changed"}`\
//!   → `null`; the resident reloads `config.toml`.
//! - `{"id":20,"op":"key_set","account":"work","key":"dm_live_0123456789abcdef"}`\
//!   → The key's [`KeyInfo`](tocsin_secrets::KeyInfo). The only message that carries a secret.
//! - `{"id":21,"op":"key_remove","account":"work"}`\
//!   → The key's [`KeyInfo`](tocsin_secrets::KeyInfo).
//! - `{"id":22,"op":"key_test","account":"work"}`\
//!   → A [`KeyTest`](tocsin_engine::accounts::KeyTest).
//! - `{"id":23,"op":"autostart_get"}`\
//!   → `true` or `false`.
//! - `{"id":24,"op":"autostart_set","enabled":true}`\
//!   → `null`.
//! - `{"id":25,"op":"quit"}`\
//!   → `null`; then the resident shuts down.
//!
//! ## Replies
//!
//! ([`ServerLine::Reply`], [`Reply`]):
//!
//! ```text
//! {"reply":{"id":23,"ok":true}}
//! {"reply":{"id":6,"err":{"code":"not_found","field":"event","message":"there is no event 42"}}}
//! ```
//!
//! Errors are [`IpcError`](tocsin_engine::IpcError)s: a `code` to match on, the
//! input `field` it is about (or `null`), a `message` for people. A line that does
//! not parse is answered with its `id` (0 if unreadable) and `invalid_argument`,
//! naming the field serde names (else `op`); the connection stays open:
//!
//! ```text
//! {"reply":{"id":0,"err":{"code":"invalid_argument","field":"op","message":"the request does not parse: expected value at line 1 column 1"}}}
//! ```
//!
//! A line longer than 4 MiB gets `{"reply":{"id":0,"err":{"code":"invalid_argument",..}}}`
//! and the connection closes.
//!
//! ## Pushes
//!
//! Only to connections that sent `subscribe` ([`ServerLine::Push`], [`Push`]): a
//! stored event (a [`HistoryItem`](tocsin_model::HistoryItem)), a new status, and,
//! to the window only, a request to come to the front:
//!
//! ```text
//! {"push":{"stored":{"id":42,"account":"work","provider":"daimon","kind":"message_received","providerType":"message.received","providerEventId":"evt_42","messageId":"msg_42","tier":"urgent","subject":"db-1 is down","sender":"ops@example.com","excerpt":"db-1 stopped answering at 03:12","inbox":"ops","receivedAtMs":1767225600000,"occurredAtMs":1767225599000,"read":false,"replayed":false}}}
//! {"push":{"status":{"accounts":[{"account":"work","provider":"daimon","state":{"state":"open"},"lastError":null,"cause":null,"eventsReceived":12,"transport":"websocket","nextRetryAtMs":null}],"unreadUrgent":2,"paused":false,"pausedUntilMs":null,"demo":false,"storeError":null,"notifierError":null,"notifierCause":null,"keychainError":null}}}
//! {"push":{"focus":{"event":42}}}
//! ```
//!
//! A client whose pushes fall too far behind misses some and is sent a fresh
//! status instead; it never holds up other clients.
//!
//! # Layout
//!
//! - `path.rs`: the runtime directory and socket path; creating and checking the
//!   directory (0700, ours), chmod 0600 of the socket.
//! - `bind.rs`: [`bind`] and [`BindError`]: stale sockets, single instance, the
//!   binders' lock.
//! - `wire.rs` (+ `wire_tests.rs`): every message type, [`wire::check_hello`],
//!   [`wire::parse_call`]; the tests check every example line above.
//! - `handler.rs`: [`Handler`] (what the resident implements), [`ClientInfo`],
//!   [`check_peer`].
//! - `server.rs`: [`serve`] and the per-connection tasks (reader, writer, push
//!   forwarder).
//! - `clients.rs`: [`Clients`], the registry for pushes to one client.
//! - `client.rs`: [`Client`].

mod bind;
mod client;
mod clients;
mod handler;
pub mod path;
mod server;
pub mod wire;

pub use bind::{bind, BindError};
pub use client::Client;
pub use clients::Clients;
pub use handler::{check_peer, ClientInfo, Handler};
pub use path::{runtime_dir, socket_path};
pub use server::{serve, CLOSE_GRACE, HANDSHAKE_TIMEOUT};
pub use wire::{
    Call, Hello, HelloReply, Outcome, Push, Reply, Request, Role, ServerLine, Welcome, MAX_LINE,
    PROTOCOL, VERSION,
};
