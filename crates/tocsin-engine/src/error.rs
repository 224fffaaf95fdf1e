//! Errors the window can match on by code, with a message written for people.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What kind of failure an IPC call had.
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
    Internal,
}

/// The error every IPC command returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export)]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        IpcError { code, message: message.into() }
    }
}

impl From<tocsin_store::StoreError> for IpcError {
    fn from(e: tocsin_store::StoreError) -> Self {
        IpcError::new(ErrorCode::StoreUnavailable, e.to_string())
    }
}
