//! The CLI's side of the control socket: subcommands that act on a running
//! Tocsin at once (`status`, `pause`, `resume`, `reconnect`, `open`, `quit`) and
//! the helpers the offline subcommands use to hand a change to a running Tocsin
//! (rules and attention imports, account and key edits) instead of writing
//! behind its back.
//!
//! Must not: hold state. Every answer comes from the running resident; with none
//! running, the offline subcommands work on the files as before.

use anyhow::{bail, Context};
use tocsin_control::{Client, Request, Role};
use tocsin_engine::settings::PauseChoice;
use tocsin_engine::{ErrorCode, IpcError, Snapshot};

/// A connection to the running Tocsin, or `None` when none is running.
pub async fn connect() -> anyhow::Result<Option<Client>> {
    let path = tocsin_control::socket_path()?;
    match Client::connect(&path, Role::Cli).await {
        Ok((client, _welcome)) => Ok(Some(client)),
        Err(e) if e.code == ErrorCode::NotRunning => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Runs `f` with a connection to the running Tocsin, or fails with "not running".
fn with_running<T>(f: impl AsyncFnOnce(Client) -> anyhow::Result<T>) -> anyhow::Result<T> {
    runtime()?.block_on(async {
        match connect().await? {
            Some(client) => f(client).await,
            None => bail!("Tocsin is not running (start it with `tocsin`, or `tocsin run --headless`)"),
        }
    })
}

/// Runs `f` against the running Tocsin if there is one; `Ok(None)` when none runs.
pub fn if_running<T>(f: impl AsyncFnOnce(Client) -> anyhow::Result<T>) -> anyhow::Result<Option<T>> {
    runtime()?.block_on(async {
        match connect().await? {
            Some(client) => f(client).await.map(Some),
            None => Ok(None),
        }
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// `tocsin status`: accounts, their states, unread urgent, the pause. Exits with
/// an error when Tocsin is not running.
pub fn status(json: bool) -> anyhow::Result<()> {
    let snapshot: Snapshot = with_running(async |c| Ok(c.call(Request::Status).await?))?;
    print_status(&snapshot, json)
}

fn print_status(s: &Snapshot, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!("{}", s.summary());
    for a in &s.accounts {
        println!("  {:<18} {:<10} {}", a.account, a.provider.as_str(), a.state.describe());
    }
    for problem in [&s.store_error, &s.notifier_error, &s.keychain_error].into_iter().flatten() {
        println!("  problem: {problem}");
    }
    Ok(())
}

/// `tocsin pause 1h|tomorrow|forever` and `tocsin resume`.
pub fn pause(choice: PauseChoice) -> anyhow::Result<()> {
    let snapshot: Snapshot = with_running(async |c| Ok(c.call(Request::Pause { choice }).await?))?;
    println!("{}", snapshot.summary());
    Ok(())
}

/// `tocsin reconnect`: every account connects again now.
pub fn reconnect() -> anyhow::Result<()> {
    with_running(async |c| Ok(c.call::<()>(Request::Reconnect).await?))?;
    println!("every account is reconnecting");
    Ok(())
}

/// `tocsin open [EVENT]`: shows the window (at the event).
pub fn open(event: Option<i64>) -> anyhow::Result<()> {
    with_running(async |c| Ok(c.call::<()>(Request::OpenWindow { event }).await?))?;
    Ok(())
}

/// `tocsin quit`: the running Tocsin stops after committing what it received.
pub fn quit() -> anyhow::Result<()> {
    with_running(async |c| {
        c.call::<()>(Request::Quit).await?;
        tokio::time::timeout(std::time::Duration::from_secs(30), c.closed()).await.context("Tocsin did not stop within 30 s")?;
        Ok(())
    })?;
    println!("Tocsin stopped");
    Ok(())
}

/// The account file changed (`tocsin account add|edit|remove`): a running Tocsin
/// restarts on it. Returns what to tell the user.
pub fn config_changed() -> anyhow::Result<&'static str> {
    let done = if_running(async |c| Ok(c.call::<Snapshot>(Request::ConfigChanged).await?))?;
    Ok(match done {
        Some(_) => "the running Tocsin uses it now",
        None => "Tocsin uses it when it starts",
    })
}

/// An error from the running Tocsin, as the CLI says it (its field first).
pub fn describe(e: &IpcError) -> String {
    match &e.field {
        Some(f) if !e.message.starts_with(f.as_str()) => format!("{f}: {}", e.message),
        _ => e.message.clone(),
    }
}
