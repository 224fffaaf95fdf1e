//! IPC commands, one file per domain. Reads go to the history read-only; every
//! change goes to the resident through the control socket. Each returns
//! [`tocsin_engine::IpcError`] on failure, whose `code` and `field` the page matches on.

pub mod accounts;
pub mod history;
pub mod settings;
pub mod status;
pub mod window;

/// The link, as commands take it.
pub type LinkState<'a> = tauri::State<'a, std::sync::Arc<crate::link::Link>>;
