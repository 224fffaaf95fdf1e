//! Binding the control socket: one resident per socket, stale sockets replaced,
//! nothing that is not a socket ever removed.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use tokio::net::{UnixListener, UnixStream};

use crate::path::{prepare_dir, restrict_socket};

/// Why [`bind`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another resident is live: a connect to its socket succeeded.
    #[error("Tocsin is already running (its control socket {} answers)", path.display())]
    AlreadyRunning { path: PathBuf },
    #[error("cannot bind the control socket {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The directory is not private, or the path is taken by something that is
    /// not a socket.
    #[error("refusing the control socket {}: {reason}", path.display())]
    Unsafe { path: PathBuf, reason: String },
}

/// Bind the control socket at `path`: prepare its directory (0700, ours; see
/// [`prepare_dir`]), bind, chmod the socket 0600.
///
/// An existing socket that accepts a connection means another resident is live
/// ([`BindError::AlreadyRunning`]); one that refuses (left by a killed process) is
/// removed and replaced. A path that is not a socket is never removed
/// ([`BindError::Unsafe`]). Binders of the same path take turns on an advisory lock
/// (`control.lock` next to it), so two residents starting at once cannot both
/// decide the socket is stale: the second finds the first listening.
pub async fn bind(path: &Path) -> Result<UnixListener, BindError> {
    let unsafe_ = |reason: String| BindError::Unsafe {
        path: path.to_owned(),
        reason,
    };
    let io = |source: io::Error| BindError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| unsafe_("it has no directory".into()))?;
    prepare_dir(dir).map_err(|e| unsafe_(e.message))?;
    let _turn = take_turn(&path.with_extension("lock")).await.map_err(io)?;

    // A few rounds, in case the path disappears between the checks.
    for _ in 0..3 {
        match UnixListener::bind(path) {
            Ok(listener) => {
                restrict_socket(path).map_err(io)?;
                return Ok(listener);
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
            Err(e) => return Err(io(e)),
        }
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {}
            Ok(_) => {
                return Err(unsafe_(
                    "the path exists and is not a socket; Tocsin never removes it".into(),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        }
        match UnixStream::connect(path).await {
            Ok(_) => {
                return Err(BindError::AlreadyRunning {
                    path: path.to_owned(),
                })
            }
            // A full backlog: someone is listening.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(BindError::AlreadyRunning {
                    path: path.to_owned(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "replacing a stale control socket");
                match fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(e)),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(io::Error::other(
        "the socket path kept changing while binding",
    )))
}

/// Wait for the binders' lock on `lock_path` (held until the returned value drops).
async fn take_turn(lock_path: &Path) -> io::Result<Flock<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(lock_path)?;
    tokio::task::spawn_blocking(move || {
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| io::Error::from(errno))
    })
    .await
    .map_err(io::Error::other)?
}
