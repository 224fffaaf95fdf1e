//! The floor baseline: the least a client can do with an AgentMail stream. It
//! connects with tokio-tungstenite (Bearer key), subscribes, and only receives
//! frames: no decoding, no storage, no notification. For each frame carrying a send
//! time (`t=<ns>` in its subject, CLOCK_MONOTONIC of the harness) it notes the
//! receive latency on the same clock.
//!
//!     floor URL KEY [--notify]
//!
//! With `--notify` it is the floor of an alerting client instead: for each frame
//! whose subject carries `[URGENT]` it also sends one `Notify` (summary = the
//! subject) over one session-bus connection opened at start, and waits for the
//! reply; the harness's notification server records the arrival. The difference
//! to the plain floor is what one D-Bus notification costs.
//!
//! stdout, one line each: `subscribed`, `progress <frames>` every 1000 frames, and,
//! when a frame with `bench-end` in it arrives, `done {"frames":..,"latency_ns":[..]}`
//! (latencies since the previous `done`). It runs until killed or the socket closes.

use std::io::Write;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or_else(|| anyhow::anyhow!("usage: floor URL KEY"))?;
    let key = args.next().ok_or_else(|| anyhow::anyhow!("usage: floor URL KEY [--notify]"))?;
    let notify = args.next().is_some_and(|a| a == "--notify");
    // One thread, as a minimal client would have.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(url, key, notify))
}

/// One `Notify` with `subject` as the summary, on `bus`.
async fn notify(bus: &zbus::Connection, subject: &str) -> anyhow::Result<()> {
    let hints: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> = std::collections::HashMap::new();
    bus.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.Notifications"),
        "Notify",
        &("floor", 0u32, "", subject, "", Vec::<&str>::new(), hints, -1i32),
    )
    .await?;
    Ok(())
}

async fn run(url: String, key: String, notifies: bool) -> anyhow::Result<()> {
    let bus = if notifies { Some(zbus::Connection::session().await?) } else { None };
    let mut request = url.as_str().into_client_request()?;
    request.headers_mut().insert("Authorization", format!("Bearer {key}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
    socket.send(Message::text(r#"{"type":"subscribe"}"#)).await?;
    let stdout = std::io::stdout();
    let mut frames: u64 = 0;
    let mut latencies: Vec<u64> = Vec::with_capacity(1 << 16);
    while let Some(msg) = socket.next().await {
        let text = match msg? {
            Message::Text(t) => t,
            Message::Close(_) => break,
            _ => continue,
        };
        let now = tocsin_bench::mono_ns();
        if text.contains("\"subscribed\"") {
            writeln!(stdout.lock(), "subscribed")?;
            continue;
        }
        frames += 1;
        if let Some(sent) = tocsin_bench::recorder::sent_ns(&text) {
            latencies.push(now.saturating_sub(sent));
        }
        if let (Some(bus), true) = (&bus, text.contains("[URGENT]")) {
            let frame: serde_json::Value = serde_json::from_str(&text)?;
            notify(bus, frame["message"]["subject"].as_str().unwrap_or_default()).await?;
        }
        if text.contains("bench-end") {
            let line = serde_json::json!({"frames": frames, "latency_ns": latencies});
            writeln!(stdout.lock(), "done {line}")?;
            latencies.clear();
        } else if frames.is_multiple_of(1000) {
            writeln!(stdout.lock(), "progress {frames}")?;
        }
    }
    Ok(())
}
