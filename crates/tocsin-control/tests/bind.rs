//! Binding the control socket: permissions, stale sockets, one resident at a time.

mod common;

use std::fs::{self, Permissions};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use common::{start, within};
use tocsin_control::{bind, BindError, Client, Role};
use tocsin_engine::ErrorCode;

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn creates_a_private_directory_and_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run/tocsin");
    let path = dir.join("control.sock");
    let _listener = bind(&path).await.unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test]
async fn a_wide_directory_of_ours_is_narrowed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, Permissions::from_mode(0o777)).unwrap();
    let _listener = bind(&dir.join("control.sock")).await.unwrap();
    assert_eq!(mode(&dir), 0o700);
}

#[tokio::test]
async fn a_stale_socket_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("run/control.sock");
    drop(bind(&path).await.unwrap());
    // Dropping a listener leaves its file, as a killed resident does.
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    let err = within(Client::connect(&path, Role::Cli)).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::NotRunning, "Tocsin is not running")
    );

    let _listener = bind(&path).await.unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test]
async fn a_live_resident_is_already_running() {
    let h = start().await;
    match bind(&h.path).await {
        Err(BindError::AlreadyRunning { path }) => assert_eq!(path, h.path),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    // Untouched: the first resident still answers.
    let (_client, _) = within(Client::connect(&h.path, Role::Cli)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_residents_starting_at_once_over_a_stale_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("run/control.sock");
    drop(bind(&path).await.unwrap());
    let (a, b) = tokio::join!(
        tokio::spawn({
            let path = path.clone();
            async move { bind(&path).await }
        }),
        tokio::spawn({
            let path = path.clone();
            async move { bind(&path).await }
        })
    );
    let results = [a.unwrap(), b.unwrap()];
    let bound = results.iter().filter(|r| r.is_ok()).count();
    let running = results
        .iter()
        .filter(|r| matches!(r, Err(BindError::AlreadyRunning { .. })))
        .count();
    assert_eq!((bound, running), (1, 1), "{results:?}");
}

#[tokio::test]
async fn a_path_that_is_not_a_socket_is_never_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    fs::create_dir(&dir).unwrap();
    let path = dir.join("control.sock");
    fs::write(&path, b"precious").unwrap();
    match bind(&path).await {
        Err(BindError::Unsafe { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Unsafe, got {other:?}"),
    }
    assert_eq!(fs::read(&path).unwrap(), b"precious");
}

#[tokio::test]
async fn a_symlinked_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = bind(&link.join("control.sock")).await.unwrap_err();
    assert!(matches!(err, BindError::Unsafe { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&link.display().to_string()),
        "{err}"
    );
}
