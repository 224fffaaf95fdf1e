//! What the resident implements ([`Handler`]) and what it learns about a client
//! ([`ClientInfo`]); the peer check.

use std::future::Future;

use serde_json::Value;
use tocsin_engine::{ErrorCode, IpcError};
use tokio::sync::broadcast;

use crate::wire::{Push, Request, Role, Welcome};

/// An admitted client, as the handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Unique within one [`serve`](crate::serve), from 1.
    pub id: u64,
    pub role: Role,
    pub pid: Option<i32>,
    pub uid: u32,
}

/// The resident's side of the control API: all app logic lives behind this.
pub trait Handler: Send + Sync + 'static {
    /// Accept or refuse a client after its hello passed the version and uid checks
    /// (e.g. a second window: `Err(window_open)`). The server fills in the
    /// welcome's `protocol`. Each admitted client is later passed to [`gone`](Self::gone)
    /// exactly once.
    fn admit(&self, client: &ClientInfo) -> Result<Welcome, IpcError>;

    /// Answer one call. Calls run concurrently (also with the client's pushes);
    /// `Status` must answer a [`Snapshot`](tocsin_engine::Snapshot) (a lagging client is sent one as a push).
    /// `Subscribe` reaches here after the server started the client's pushes.
    fn handle(
        &self,
        client: &ClientInfo,
        request: Request,
    ) -> impl Future<Output = Result<Value, IpcError>> + Send;

    /// Pushes for subscribed clients; the server forwards each to every subscribed
    /// client (a client that lags too far is sent a fresh status and keeps going,
    /// never blocks others). Called once per subscribing client.
    fn pushes(&self) -> broadcast::Receiver<Push>;

    /// An admitted client disconnected (it is already out of [`Clients`](crate::Clients)).
    fn gone(&self, client: &ClientInfo);
}

/// Refuse a peer running as another user (`forbidden`).
pub fn check_peer(peer_uid: u32, our_uid: u32) -> Result<(), IpcError> {
    if peer_uid == our_uid {
        return Ok(());
    }
    Err(IpcError::new(
        ErrorCode::Forbidden,
        format!(
            "this Tocsin runs as user {our_uid} and does not take commands from user {peer_uid}"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_of_another_user_is_forbidden() {
        assert!(check_peer(1000, 1000).is_ok());
        let e = check_peer(1001, 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(
            e.message.contains("1001") && e.message.contains("1000"),
            "{}",
            e.message
        );
    }
}
