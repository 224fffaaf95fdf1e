//! IPC commands, one file per domain. Each returns [`tocsin_engine::IpcError`] on
//! failure, whose `code` the window matches on.

pub mod accounts;
pub mod history;
pub mod settings;
pub mod status;
pub mod window;
