//! Waiting for SIGINT or SIGTERM (Ctrl-C on other platforms).

use std::future::Future;

/// Installs the handlers now (inside a tokio runtime) and returns a future that
/// completes on the first SIGTERM or SIGINT. Installing early matters: a signal
/// that arrives before the handlers exist would kill the process before it commits
/// what it received.
pub fn terminated() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::terminate()).expect("SIGTERM handler"), signal(SignalKind::interrupt()).expect("SIGINT handler"))
    };
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = handlers;
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
