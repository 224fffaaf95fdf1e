//! Where the control socket lives, and the private directory around it.
//!
//! The directory is `$TOCSIN_RUNTIME_DIR` (tests), else `$XDG_RUNTIME_DIR/tocsin`,
//! else `/tmp/tocsin-<uid>`. It must be a real directory (not a symlink) owned by
//! the current user with no group or other access; [`prepare_dir`] creates it that
//! way, narrows a wider mode on a directory we own, and refuses anything else.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tocsin_engine::{ErrorCode, IpcError};

/// The socket's file name inside [`runtime_dir`].
pub const SOCKET_NAME: &str = "control.sock";
/// The mode of the runtime directory.
pub const DIR_MODE: u32 = 0o700;
/// The mode of the socket file (set right after bind).
pub const SOCKET_MODE: u32 = 0o600;

/// The current user's uid.
pub fn our_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The directory that holds the control socket (not created; see [`prepare_dir`]).
pub fn runtime_dir() -> Result<PathBuf, IpcError> {
    runtime_dir_from(
        std::env::var_os("TOCSIN_RUNTIME_DIR"),
        std::env::var_os("XDG_RUNTIME_DIR"),
        our_uid(),
    )
}

/// The control socket's path: [`runtime_dir`]`/control.sock`.
pub fn socket_path() -> Result<PathBuf, IpcError> {
    Ok(runtime_dir()?.join(SOCKET_NAME))
}

/// [`runtime_dir`] from these environment values. Empty values count as unset; a
/// relative `XDG_RUNTIME_DIR` is ignored (the XDG spec says so), a relative
/// `TOCSIN_RUNTIME_DIR` is refused.
pub fn runtime_dir_from(
    tocsin: Option<OsString>,
    xdg: Option<OsString>,
    uid: u32,
) -> Result<PathBuf, IpcError> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(tocsin) {
        if !dir.is_absolute() {
            return Err(IpcError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "TOCSIN_RUNTIME_DIR must be an absolute path, not {}",
                    dir.display()
                ),
            )
            .with_field("TOCSIN_RUNTIME_DIR"));
        }
        return Ok(dir);
    }
    if let Some(xdg) = set(xdg).filter(|d| d.is_absolute()) {
        return Ok(xdg.join("tocsin"));
    }
    Ok(PathBuf::from(format!("/tmp/tocsin-{uid}")))
}

/// Make sure `dir` exists, is a directory owned by us and is mode 0700: create it
/// (and missing parents) with mode 0700, or chmod an existing one we own that is
/// wider. Refuses (`forbidden`, naming the path) a symlink, a non-directory or a
/// directory owned by someone else.
pub fn prepare_dir(dir: &Path) -> Result<(), IpcError> {
    match DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(dir, "cannot create", &e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| io_error(dir, "cannot inspect", &e))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(forbidden(
            dir,
            "is not a directory (a symlink or a file is never trusted)",
        ));
    }
    let uid = our_uid();
    if meta.uid() != uid {
        return Err(forbidden(
            dir,
            &format!(
                "belongs to user {} but Tocsin runs as user {uid}",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o777 != DIR_MODE {
        fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
            .map_err(|e| io_error(dir, "cannot make private (chmod 0700)", &e))?;
        tracing::info!(dir = %dir.display(), was = format!("{:o}", meta.mode() & 0o777), "runtime directory narrowed to 0700");
    }
    Ok(())
}

/// Make the socket file at `path` readable and writable by us only.
pub fn restrict_socket(path: &Path) -> io::Result<()> {
    fs::set_permissions(path, Permissions::from_mode(SOCKET_MODE))
}

fn forbidden(dir: &Path, why: &str) -> IpcError {
    IpcError::new(
        ErrorCode::Forbidden,
        format!(
            "refusing to use {} for the control socket: it {why}",
            dir.display()
        ),
    )
}

fn io_error(dir: &Path, what: &str, e: &io::Error) -> IpcError {
    let code = if e.kind() == io::ErrorKind::PermissionDenied {
        ErrorCode::Forbidden
    } else {
        ErrorCode::Internal
    };
    IpcError::new(
        code,
        format!("{what} the control socket directory {}: {e}", dir.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn tocsin_runtime_dir_wins() {
        let d = runtime_dir_from(os("/x/t"), os("/run/user/7"), 7).unwrap();
        assert_eq!(d, PathBuf::from("/x/t"));
    }

    #[test]
    fn xdg_then_tmp() {
        assert_eq!(
            runtime_dir_from(None, os("/run/user/7"), 7).unwrap(),
            PathBuf::from("/run/user/7/tocsin")
        );
        assert_eq!(
            runtime_dir_from(os(""), os(""), 7).unwrap(),
            PathBuf::from("/tmp/tocsin-7")
        );
        assert_eq!(
            runtime_dir_from(None, os("relative"), 7).unwrap(),
            PathBuf::from("/tmp/tocsin-7")
        );
    }

    #[test]
    fn relative_tocsin_runtime_dir_is_refused() {
        let e = runtime_dir_from(os("rel"), None, 7).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.field.as_deref(), Some("TOCSIN_RUNTIME_DIR"));
    }

    #[test]
    fn creates_private_dir_and_narrows_a_wide_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        prepare_dir(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );

        fs::set_permissions(&dir, Permissions::from_mode(0o777)).unwrap();
        prepare_dir(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn refuses_a_symlink_or_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = prepare_dir(&link).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(
            e.message.contains(&link.display().to_string()),
            "{}",
            e.message
        );

        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        assert_eq!(prepare_dir(&file).unwrap_err().code, ErrorCode::Forbidden);
    }
}
