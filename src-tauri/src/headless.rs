//! `tocsin run --headless`: the engine with no window, tray or GTK. Notifications go
//! over D-Bus when a notification server is on the session bus; every stored event
//! is logged at debug level. SIGINT or SIGTERM stops it after every received event is committed.

use std::sync::Arc;

use tocsin_engine::{Engine, Update};

use crate::cli::GlobalArgs;
use crate::notifier::DesktopNotifier;

pub fn run(args: &GlobalArgs) -> anyhow::Result<()> {
    let options = args.engine_options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        // Before anything else: a SIGTERM during start-up still shuts down in order.
        let terminated = crate::signals::terminated();
        let (notifier, mut alert_actions) = DesktopNotifier::new();
        tokio::spawn(notifier.listen());
        let engine = Arc::new(Engine::start(options, Arc::new(notifier)).await?);
        let actions_engine = engine.clone();
        tokio::spawn(async move {
            while let Some(action) = alert_actions.recv().await {
                tracing::info!(?action, "notification action");
                if let Err(e) = actions_engine.on_alert_action(action).await {
                    tracing::warn!("{e}");
                }
            }
        });
        let snapshot = engine.snapshot();
        if let Some(problem) = &snapshot.keychain_error {
            tracing::error!("keychain: {problem}");
        }
        tracing::info!(
            accounts = snapshot.accounts.len(),
            demo = snapshot.demo,
            "tocsin running headless; stop with Ctrl-C or SIGTERM"
        );
        let mut updates = engine.subscribe();
        let log = tokio::spawn(async move {
            loop {
                match updates.recv().await {
                    // Per event: debug, so a burst does not turn into a burst of log writes.
                    Ok(Update::Stored(item)) => tracing::debug!(
                        id = item.id,
                        account = %item.account,
                        kind = item.kind.as_str(),
                        tier = item.tier.as_str(),
                        "stored event"
                    ),
                    Ok(Update::Status(s)) => tracing::debug!("status: {}", s.summary()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!("log skipped {n} updates")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        terminated.await;
        engine.shutdown().await;
        log.abort();
        anyhow::Ok(())
    })
}
