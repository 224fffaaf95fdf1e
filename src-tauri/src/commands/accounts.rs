//! Accounts and keys, as the Accounts screen edits them, all through the
//! resident: it rewrites `config.toml` (validated first) and restarts on it; keys
//! go to the OS keychain and only their last four characters come back.

use tocsin_control::Request;
use tocsin_engine::accounts::{AccountInput, AccountView, KeyTest};
use tocsin_engine::IpcError;
use tocsin_secrets::{KeyInfo, Sensitive};

use super::LinkState;

/// Every account with its key state.
#[tauri::command]
pub async fn accounts_list(link: LinkState<'_>) -> Result<Vec<AccountView>, IpcError> {
    link.call(Request::AccountsList).await
}

/// Adds (`original_name` null) or replaces an account; Tocsin restarts on it.
#[tauri::command]
pub async fn account_save(link: LinkState<'_>, account: AccountInput, original_name: Option<String>) -> Result<Vec<AccountView>, IpcError> {
    link.call(Request::AccountSave { account, original_name }).await
}

/// Removes an account and its key.
#[tauri::command]
pub async fn account_remove(link: LinkState<'_>, name: String) -> Result<Vec<AccountView>, IpcError> {
    link.call(Request::AccountRemove { name }).await
}

/// Stores a key in the keychain. The key is never returned or kept here.
#[tauri::command]
pub async fn key_set(link: LinkState<'_>, account: String, key: String) -> Result<KeyInfo, IpcError> {
    link.call(Request::KeySet { account, key: Sensitive::new(key) }).await
}

/// Removes an account's key from the keychain.
#[tauri::command]
pub async fn key_remove(link: LinkState<'_>, account: String) -> Result<KeyInfo, IpcError> {
    link.call(Request::KeyRemove { account }).await
}

/// Connects once with the stored key and reports what the server said.
#[tauri::command]
pub async fn key_test(link: LinkState<'_>, account: String) -> Result<KeyTest, IpcError> {
    link.call(Request::KeyTest { account }).await
}
