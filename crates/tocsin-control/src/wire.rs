//! The messages on the control socket, one JSON object per line (see the crate
//! docs for an example of each), and the pure checks on them: [`check_hello`],
//! [`parse_call`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tocsin_engine::accounts::AccountInput;
use tocsin_engine::attention::AttentionSettings;
use tocsin_engine::settings::PauseChoice;
use tocsin_engine::{ErrorCode, IpcError, Snapshot};
use tocsin_model::HistoryItem;
use tocsin_secrets::Sensitive;
use tocsin_store::Retention;

/// The control protocol's version. A client and a server with different versions
/// refuse each other at the hello (`version_mismatch`).
pub const PROTOCOL: u32 = 1;

/// The longest line either side reads: 4 MiB.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// This crate's version, sent in [`Hello`] and (by convention) [`Welcome`].
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Who is connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The history window (a separate process).
    Window,
    /// The `tocsin` command line.
    Cli,
}

impl Role {
    /// "this window" / "this command", for messages.
    fn this(self) -> &'static str {
        match self {
            Role::Window => "this window",
            Role::Cli => "this command",
        }
    }
}

/// The client's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub role: Role,
    /// The client's Tocsin version (for messages and logs only).
    pub version: String,
}

/// The server's answer to a good hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    /// The resident's Tocsin version.
    pub version: String,
    /// The resident's process id.
    pub pid: u32,
    /// The history database the resident writes (the window reads it directly).
    pub history: PathBuf,
}

impl Welcome {
    /// A welcome from this process: [`PROTOCOL`], [`VERSION`], our pid.
    pub fn new(history: PathBuf) -> Welcome {
        Welcome {
            protocol: PROTOCOL,
            version: VERSION.to_owned(),
            pid: std::process::id(),
            history,
        }
    }
}

/// The server's line after a hello: `{"welcome":{..}}` or `{"error":{..}}` (then
/// the server closes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelloReply {
    Welcome(Welcome),
    Error(IpcError),
}

/// One request line: `{"id":7,"op":"status"}`. `id` is the caller's, echoed in the
/// [`Reply`]; the arguments sit next to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// What a client asks. Event ids travel as `"event"` on the wire (`id` is the
/// call's). The answer each op gets is in the crate docs' table.
// Boxing the account form would only make handlers' matches clumsier: a request
// is built once per call and moved, never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Status,
    /// Start the pushes on this connection.
    Subscribe,
    Pause {
        choice: PauseChoice,
    },
    Reconnect,
    /// Show the window, focused on `event` if given.
    OpenWindow {
        event: Option<i64>,
    },
    MarkRead {
        #[serde(rename = "event")]
        id: i64,
    },
    SetRead {
        #[serde(rename = "event")]
        id: i64,
        read: bool,
    },
    Reply {
        #[serde(rename = "event")]
        id: i64,
        text: String,
    },
    RulesGet,
    RulesSet {
        toml: String,
    },
    /// Evaluate the rules (`toml`, or the stored ones) against stored event `id`.
    RulesTest {
        #[serde(rename = "event")]
        id: i64,
        toml: Option<String>,
    },
    AttentionGet,
    AttentionSet {
        settings: AttentionSettings,
    },
    RetentionGet,
    RetentionSet {
        retention: Retention,
    },
    AccountsList,
    AccountSave {
        account: AccountInput,
        original_name: Option<String>,
    },
    AccountRemove {
        name: String,
    },
    /// `config.toml` was edited by someone else: reload it.
    ConfigChanged,
    /// Store an account's key. `key` is secret: `Debug` prints `<redacted>`.
    KeySet {
        account: String,
        #[serde(with = "secret")]
        key: Sensitive<String>,
    },
    KeyRemove {
        account: String,
    },
    KeyTest {
        account: String,
    },
    AutostartGet,
    AutostartSet {
        enabled: bool,
    },
    Quit,
}

impl Request {
    /// The op's wire name (`"mark_read"`), for logs; never shows arguments.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Subscribe => "subscribe",
            Request::Pause { .. } => "pause",
            Request::Reconnect => "reconnect",
            Request::OpenWindow { .. } => "open_window",
            Request::MarkRead { .. } => "mark_read",
            Request::SetRead { .. } => "set_read",
            Request::Reply { .. } => "reply",
            Request::RulesGet => "rules_get",
            Request::RulesSet { .. } => "rules_set",
            Request::RulesTest { .. } => "rules_test",
            Request::AttentionGet => "attention_get",
            Request::AttentionSet { .. } => "attention_set",
            Request::RetentionGet => "retention_get",
            Request::RetentionSet { .. } => "retention_set",
            Request::AccountsList => "accounts_list",
            Request::AccountSave { .. } => "account_save",
            Request::AccountRemove { .. } => "account_remove",
            Request::ConfigChanged => "config_changed",
            Request::KeySet { .. } => "key_set",
            Request::KeyRemove { .. } => "key_remove",
            Request::KeyTest { .. } => "key_test",
            Request::AutostartGet => "autostart_get",
            Request::AutostartSet { .. } => "autostart_set",
            Request::Quit => "quit",
        }
    }
}

/// Sensitive keys cross the wire as plain strings (the socket is private).
mod secret {
    use serde::{Deserialize, Deserializer, Serializer};
    use tocsin_secrets::Sensitive;

    pub fn serialize<S: Serializer>(key: &Sensitive<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(key.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sensitive<String>, D::Error> {
        String::deserialize(d).map(Sensitive::new)
    }
}

/// A server line: a reply to a call, or a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerLine {
    Reply(Reply),
    Push(Push),
}

/// The answer to the call with this `id`: `{"id":7,"ok":..}` or `{"id":7,"err":..}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A reply's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok(Value),
    Err(IpcError),
}

impl From<Result<Value, IpcError>> for Outcome {
    fn from(r: Result<Value, IpcError>) -> Self {
        match r {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Err(e),
        }
    }
}

impl From<Outcome> for Result<Value, IpcError> {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok(v) => Ok(v),
            Outcome::Err(e) => Err(e),
        }
    }
}

/// What the server sends unasked to subscribed clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Push {
    /// A new event was stored.
    Stored(HistoryItem),
    /// The tray's and the window header's state changed.
    Status(Snapshot),
    /// Bring the window to the front, on `event` if given (sent to the window only).
    Focus { event: Option<i64> },
}

/// The refusal for a hello speaking `theirs` when we speak [`PROTOCOL`].
pub fn version_mismatch(role: Option<Role>, theirs: u64) -> IpcError {
    let who = role.map_or("this client", Role::this);
    IpcError::new(
        ErrorCode::VersionMismatch,
        format!(
            "{who} speaks control protocol {theirs} but the running Tocsin speaks {PROTOCOL}: \
             restart Tocsin so both are the same version"
        ),
    )
    .with_field("protocol")
}

/// Read a hello line: its protocol first (so any future hello gets a clear
/// `version_mismatch`), then the rest.
pub fn check_hello(line: &str) -> Result<Hello, IpcError> {
    let invalid = |why: String| IpcError::new(ErrorCode::InvalidArgument, why);
    let value: Value = serde_json::from_str(line)
        .map_err(|e| invalid(format!("the first line must be a JSON hello: {e}")))?;
    let protocol = value
        .get("protocol")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("the hello has no protocol number".into()).with_field("protocol"))?;
    if protocol != u64::from(PROTOCOL) {
        let role = value
            .get("role")
            .cloned()
            .and_then(|r| serde_json::from_value(r).ok());
        return Err(version_mismatch(role, protocol));
    }
    serde_json::from_value(value).map_err(|e| {
        let error = invalid(format!("the hello does not parse: {e}"));
        match serde_field(&e.to_string()) {
            Some(f) => error.with_field(f),
            None => error,
        }
    })
}

/// Read a request line. A line that does not parse gives the id to answer (the
/// line's `id` if readable, else 0) and an `invalid_argument` naming the field.
pub fn parse_call(line: &str) -> Result<Call, (u64, IpcError)> {
    let e = match serde_json::from_str::<Call>(line) {
        Ok(call) => return Ok(call),
        Err(e) => e,
    };
    let value = serde_json::from_str::<Value>(line).ok();
    let id = value
        .as_ref()
        .and_then(|v| v.get("id"))
        .and_then(Value::as_u64);
    let message = e.to_string();
    let field = serde_field(&message)
        .or_else(|| (value.is_some() && id.is_none()).then(|| "id".to_owned()))
        .unwrap_or_else(|| "op".to_owned());
    let error = IpcError::new(
        ErrorCode::InvalidArgument,
        format!("the request does not parse: {message}"),
    );
    Err((id.unwrap_or(0), error.with_field(field)))
}

/// The reply to a line longer than [`MAX_LINE`] (the server closes after it).
pub fn line_too_long() -> IpcError {
    IpcError::new(
        ErrorCode::InvalidArgument,
        format!(
            "a line is longer than {} MiB; closing the connection",
            MAX_LINE >> 20
        ),
    )
}

/// The field a serde message names (`missing field `text``), or `op` for an
/// unknown op.
fn serde_field(message: &str) -> Option<String> {
    if message.contains("unknown variant") || message.contains("missing field `op`") {
        return Some("op".to_owned());
    }
    for lead in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = message.split(lead).nth(1) {
            let name = rest.split('`').next().unwrap_or_default();
            return Some(name.to_owned());
        }
    }
    None
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
