//! Start at login: the desktop's login item (an XDG autostart entry on Linux)
//! that starts `tocsin --minimized`, in the tray.
//!
//! Owns: reading and changing that entry. Must not: start anything itself.

use tocsin_engine::{ErrorCode, IpcError};

fn launcher() -> Result<auto_launch::AutoLaunch, IpcError> {
    let exe = std::env::current_exe().map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot find Tocsin's program file: {e}")))?;
    auto_launch::AutoLaunchBuilder::new()
        .set_app_name("Tocsin")
        .set_app_path(&exe.display().to_string())
        .set_args(&["--minimized"])
        .build()
        .map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot set up the login item: {e}")))
}

/// Whether Tocsin starts (in the tray) when the user logs in.
pub fn enabled() -> Result<bool, IpcError> {
    launcher()?
        .is_enabled()
        .map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot read the login item: {e}")))
}

/// Turns start-at-login on or off; returns the state afterwards.
pub fn set(enabled: bool) -> Result<bool, IpcError> {
    let l = launcher()?;
    let result = if enabled { l.enable() } else { l.disable() };
    result.map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot change the login item: {e}")))?;
    self::enabled()
}
