//! Errors the window and the CLI match on by code and field, with a message
//! written for people. The same error crosses the control socket unchanged.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What kind of failure a call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    StoreUnavailable,
    InvalidArgument,
    /// The event or account does not exist.
    NotFound,
    /// The account is not connected now; retrying later may work.
    NotConnected,
    /// The provider answered and said no.
    ProviderRefused,
    /// The running Tocsin speaks another version of the control protocol.
    VersionMismatch,
    /// Tocsin's resident process is not running (or stopped while asked).
    NotRunning,
    /// The control socket refused this peer (another user).
    Forbidden,
    /// A history window is already open (it was brought to the front instead).
    WindowOpen,
    Internal,
}

/// The error every IPC and control call returns. `field` names the input it is
/// about (`url`, `backoff.capMs`, `quiet_hours[0].start`, `rules[2].subject_regex`)
/// when there is one, so a form can show it next to that input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct IpcError {
    pub code: ErrorCode,
    #[serde(default)]
    #[ts(optional = nullable)]
    pub field: Option<String>,
    pub message: String,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        IpcError { code, field: None, message: message.into() }
    }

    /// The same error, about input `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl From<tocsin_store::StoreError> for IpcError {
    fn from(e: tocsin_store::StoreError) -> Self {
        IpcError::new(ErrorCode::StoreUnavailable, e.to_string())
    }
}
