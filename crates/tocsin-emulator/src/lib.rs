//! The provider emulator: a local server that speaks each provider's protocol as
//! `PROTOCOLS.md` documents it, for the demo profile, the tests and the benchmarks.
//!
//! Owns: one loopback HTTP server with one path per protocol (daimon.email at
//! `/v1/stream`), its auth checks, replay buffers and the state tests inspect
//! (connections, commands received), a demo generator of realistic traffic, and a
//! small control API under `/_emulator/` to publish events and force failures.
//!
//! Must not: depend on Tocsin's client code. It implements the protocols from the
//! document independently, so a mismatch between client and document shows up as a
//! failing test rather than two identical mistakes.
//!
//! Layout: `lib.rs` (server, control API), `daimon.rs` (the daimon.email socket),
//! `demo.rs` (the demo traffic generator).

pub mod daimon;
pub mod demo;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use daimon::DaimonState;
pub use demo::DemoConfig;

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// API keys the daimon endpoint accepts.
    pub daimon_keys: Vec<String>,
    /// Generate demo traffic.
    pub demo: Option<DemoConfig>,
    /// How often the server sends WebSocket pings.
    pub ping_interval: Duration,
    /// How long published events stay available for replay.
    pub replay_window: Duration,
    /// Prefix of generated event ids (`evt_` + sequence number). Give each run its own
    /// prefix when ids must not repeat across emulator restarts (the demo profile).
    pub event_id_prefix: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            daimon_keys: Vec::new(),
            demo: None,
            ping_interval: Duration::from_secs(30),
            replay_window: Duration::from_secs(300),
            event_id_prefix: "evt_".into(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    daimon: Arc<DaimonState>,
}

/// A running emulator. Dropping it does not stop it: call [`Emulator::shutdown`].
pub struct Emulator {
    addr: SocketAddr,
    daimon: Arc<DaimonState>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `addr` (use `127.0.0.1:0` for a free port) and starts serving.
    pub async fn bind(addr: SocketAddr, config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(addr).await?;
        Emulator::run(listener, config)
    }

    /// Serves on `listener` until [`Emulator::shutdown`].
    pub fn run(listener: TcpListener, config: EmulatorConfig) -> std::io::Result<Emulator> {
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let daimon = Arc::new(DaimonState::new(&config, cancel.clone()));
        let state = AppState { daimon: daimon.clone() };
        let app = Router::new()
            .route("/v1/stream", get(daimon::upgrade))
            .with_state(daimon.clone())
            .merge(
                Router::new()
                    .route("/_emulator/stats", get(stats))
                    .route("/_emulator/daimon/publish", post(publish_daimon))
                    .route("/_emulator/daimon/drop", post(drop_daimon))
                    .with_state(state),
            );
        let mut tasks = Vec::new();
        let shutdown = cancel.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
            if let Err(e) = served {
                tracing::warn!("emulator server stopped: {e}");
            }
        }));
        if let Some(demo) = config.demo.clone() {
            tasks.push(tokio::spawn(demo::run(daimon.clone(), demo, cancel.clone())));
        }
        tracing::info!(%addr, "emulator listening");
        Ok(Emulator { addr, daimon, cancel, tasks })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT/v1/stream`.
    pub fn daimon_url(&self) -> String {
        format!("ws://{}/v1/stream", self.addr)
    }

    /// The daimon endpoint's state: publish events, inspect connections and commands.
    pub fn daimon(&self) -> &Arc<DaimonState> {
        &self.daimon
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn stats(State(s): State<AppState>) -> Json<Value> {
    Json(json!({"daimon": s.daimon.stats()}))
}

async fn publish_daimon(State(s): State<AppState>, Json(frame): Json<Value>) -> Json<Value> {
    let id = s.daimon.publish(frame);
    Json(json!({"event_id": id}))
}

async fn drop_daimon(State(s): State<AppState>) -> Json<Value> {
    s.daimon.drop_connections();
    Json(json!({"dropped": true}))
}
