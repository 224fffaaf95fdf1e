//! Start at login: the desktop's login item, which starts `tocsin --minimized`
//! (in the tray) when the user logs in.
//!
//! Owns: reading and changing that item. The item on disk is the only record of
//! the setting (no copy in config.toml that could drift): the window (through
//! the resident's control socket) and `tocsin autostart` both read it every time.
//! Must not: start anything itself.
//!
//! On Linux and the other XDG desktops it is the XDG autostart entry
//! `$XDG_CONFIG_HOME/autostart/tocsin.desktop`:
//! - made from the installed desktop entry (`applications/tocsin.desktop` in
//!   `$XDG_DATA_HOME` or `$XDG_DATA_DIRS`, /usr/share for the Debian package) when
//!   there is one: the same name, icon and translations, its `Exec` program made
//!   absolute through `PATH` (`/usr/bin/tocsin --minimized` for the package) and
//!   `X-GNOME-Autostart-enabled=true`;
//! - when Tocsin is not installed (run from a build), a small entry of its own
//!   whose `Exec` is this very program, as before packaging.
//!
//! The entry counts as on unless it says `Hidden=true` or
//! `X-GNOME-Autostart-enabled=false` (how desktops' own settings switch one
//! off). `Tocsin.desktop`, the name used before (by the auto-launch crate), is
//! read as on too and removed by either change. On macOS and Windows the
//! auto-launch crate keeps the platform's login item.

use tocsin_engine::{ErrorCode, IpcError};

/// What the login item is, as read from disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub enabled: bool,
    /// The file that holds it (Linux; also when it is off, where it would be).
    pub path: Option<std::path::PathBuf>,
    /// Its `Exec` line, when on.
    pub exec: Option<String>,
    /// The installed desktop entry it was or would be made from (none: not installed).
    pub installed_entry: Option<std::path::PathBuf>,
}

#[cfg(not(any(target_os = "macos", windows)))]
mod xdg;
#[cfg(not(any(target_os = "macos", windows)))]
pub use xdg::{AutostartError, Places};

/// The login item's state.
pub fn status() -> Result<Status, IpcError> {
    #[cfg(not(any(target_os = "macos", windows)))]
    {
        Ok(Places::from_env().map_err(to_ipc)?.status())
    }
    #[cfg(any(target_os = "macos", windows))]
    {
        Ok(Status { enabled: other::enabled()?, path: None, exec: None, installed_entry: None })
    }
}

/// Whether Tocsin starts (in the tray) when the user logs in.
pub fn enabled() -> Result<bool, IpcError> {
    Ok(status()?.enabled)
}

/// Turns start-at-login on or off; returns the state afterwards, read back from disk.
pub fn set(enabled: bool) -> Result<bool, IpcError> {
    #[cfg(not(any(target_os = "macos", windows)))]
    {
        let places = Places::from_env().map_err(to_ipc)?;
        if enabled { places.enable() } else { places.disable() }.map_err(to_ipc)?;
        Ok(places.status().enabled)
    }
    #[cfg(any(target_os = "macos", windows))]
    {
        other::set(enabled)
    }
}

#[cfg(not(any(target_os = "macos", windows)))]
fn to_ipc(e: AutostartError) -> IpcError {
    IpcError::new(ErrorCode::Internal, e.to_string())
}

#[cfg(any(target_os = "macos", windows))]
mod other {
    use super::*;

    fn launcher() -> Result<auto_launch::AutoLaunch, IpcError> {
        let exe = std::env::current_exe().map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot find Tocsin's program file: {e}")))?;
        auto_launch::AutoLaunchBuilder::new()
            .set_app_name("Tocsin")
            .set_app_path(&exe.display().to_string())
            .set_args(&["--minimized"])
            .build()
            .map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot set up the login item: {e}")))
    }

    pub fn enabled() -> Result<bool, IpcError> {
        launcher()?.is_enabled().map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot read the login item: {e}")))
    }

    pub fn set(enabled: bool) -> Result<bool, IpcError> {
        let l = launcher()?;
        let result = if enabled { l.enable() } else { l.disable() };
        result.map_err(|e| IpcError::new(ErrorCode::Internal, format!("cannot change the login item: {e}")))?;
        self::enabled()
    }
}

/// `tocsin autostart on|off|status [--json]`: changes or shows the item on disk
/// (no running Tocsin needed: the file is the setting).
pub fn cli(command: &crate::cli::AutostartCommand) -> anyhow::Result<()> {
    use crate::cli::AutostartCommand as C;
    let (st, json) = match command {
        C::Status { json } => (status()?, *json),
        C::On | C::Off => {
            set(matches!(command, C::On))?;
            (status()?, false)
        }
    };
    use std::fmt::Write as _;
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(&st)? + "\n";
    } else {
        let path = st.path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default();
        if st.enabled {
            let _ = writeln!(out, "on: Tocsin starts in the tray at login{path}");
            if let Some(exec) = &st.exec {
                let _ = writeln!(out, "runs: {exec}");
            }
        } else {
            let _ = writeln!(out, "off: Tocsin does not start at login");
        }
        if st.path.is_some() && st.installed_entry.is_none() {
            let _ = writeln!(out, "note: Tocsin is not installed (no applications/tocsin.desktop in XDG_DATA_DIRS): the login item runs this program");
        }
    }
    // A reader that closes the pipe early (`| grep -q`) ends the command quietly.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(())
}
