//! Accounts and keys, as the Accounts screen edits them. Saving or removing an
//! account rewrites `config.toml` (validated first) and restarts the engine on it;
//! keys go to the OS keychain and only their last four characters come back.

use tauri::{AppHandle, Runtime, State};
use tocsin_engine::accounts::{self, AccountInput, AccountView, EditError, KeyTest};
use tocsin_engine::{ErrorCode, IpcError};
use tocsin_secrets::{KeyInfo, Sensitive};

use crate::gui::AppState;

fn edit_error(e: EditError) -> IpcError {
    match e {
        EditError::Invalid { .. } => IpcError::new(ErrorCode::InvalidArgument, e.to_string()),
        EditError::NotFound(_) => IpcError::new(ErrorCode::NotFound, e.to_string()),
        EditError::Config(_) | EditError::Write { .. } => IpcError::new(ErrorCode::Internal, e.to_string()),
    }
}

/// Every account with its key state.
#[tauri::command]
pub fn accounts_list(state: State<'_, AppState>) -> Result<Vec<AccountView>, IpcError> {
    Ok(state.engine().accounts())
}

/// Adds (`original_name` null) or replaces an account, then restarts on the new
/// configuration.
#[tauri::command]
pub async fn account_save<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    account: AccountInput,
    original_name: Option<String>,
) -> Result<Vec<AccountView>, IpcError> {
    if original_name.is_none() && state.engine().snapshot().demo && state.forced_demo() {
        return Err(IpcError::new(ErrorCode::InvalidArgument, "demo: Tocsin runs the demo profile (--demo); start it without --demo to use accounts"));
    }
    accounts::save_account(&state.config_dir, &account, original_name.as_deref()).map_err(edit_error)?;
    if let Some(old) = original_name.filter(|old| *old != account.name) {
        // A renamed account keeps its key under the new name.
        let keys = state.engine().keys().clone();
        if let Ok(key) = keys.keychain_get(&old) {
            let _ = keys.set(account.name.trim(), &key);
            let _ = keys.remove(&old);
        }
    }
    crate::gui::restart_engine(&app).await?;
    Ok(state.engine().accounts())
}

/// Removes an account and its key.
#[tauri::command]
pub async fn account_remove<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, name: String) -> Result<Vec<AccountView>, IpcError> {
    accounts::remove_account(&state.config_dir, &name).map_err(edit_error)?;
    let _ = state.engine().keys().remove(&name);
    crate::gui::restart_engine(&app).await?;
    Ok(state.engine().accounts())
}

/// Stores a key in the keychain. The key is never returned or kept.
#[tauri::command]
pub fn key_set(state: State<'_, AppState>, account: String, key: String) -> Result<KeyInfo, IpcError> {
    state.engine().set_key(&account, Sensitive::new(key))
}

/// Removes an account's key from the keychain.
#[tauri::command]
pub fn key_remove(state: State<'_, AppState>, account: String) -> Result<KeyInfo, IpcError> {
    state.engine().remove_key(&account)
}

/// Connects once with the stored key and reports what the server said.
#[tauri::command]
pub async fn key_test(state: State<'_, AppState>, account: String) -> Result<KeyTest, IpcError> {
    state.engine().test_key(&account).await
}
