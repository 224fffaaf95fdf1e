//! Logging to stderr with tracing. `TOCSIN_LOG` sets the filter (default `info`).
//! Message bodies are never logged at the default level, and keys never at all.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOCSIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tungstenite=warn,tokio_tungstenite=warn,zbus=warn,tao=warn,wry=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
