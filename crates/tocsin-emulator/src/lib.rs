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
//! Paths: daimon.email `/v1/stream`; AgentMail `/v0` (+ REST under `/v0/inboxes`);
//! Prismer `/ws`, `/sse` (+ REST under `/api/im`); the Chat SDK `POST /ws/ticket` and
//! `/ws/chat/{thread}`, `/ws/workspaces/{w}/transcripts/{t}`, `/ws/notifications`;
//! the topic platform `/v1/ws`. Control: `/_emulator/...`.
//!
//! Layout: `lib.rs` (server, control API), `hub.rs` (what the providers share), one
//! module per provider, `demo.rs` (the demo traffic generator), `nats_server.rs` (a
//! real `nats-server` child process for the direct NATS source's tests).

pub mod agentmail;
pub mod bivariant;
pub mod daimon;
pub mod demo;
pub mod divinci;
pub mod hostile;
pub mod hub;
pub mod nats_server;
pub mod prismer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum::serve::ListenerExt;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use daimon::DaimonState;
pub use demo::DemoConfig;
pub use hub::Hub;
pub use prismer::PrismerState;

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// API keys (and Prismer JWTs) every provider endpoint accepts.
    pub keys: Vec<String>,
    /// Generate demo traffic.
    pub demo: Option<DemoConfig>,
    /// How often the server sends WebSocket pings.
    pub ping_interval: Duration,
    /// How long published events stay available for replay.
    pub replay_window: Duration,
    /// Prismer's authentication deadline (10 s on the real server).
    pub auth_timeout: Duration,
    /// Prefix of generated event ids (`evt_` + sequence number). Give each run its own
    /// prefix when ids must not repeat across emulator restarts (the demo profile).
    pub event_id_prefix: String,
    /// Frames each provider's live channel holds for a slow client before it lags.
    /// tokio fills every slot when the channel is made, so this is resident memory:
    /// 65 536 (the default, for floods and the ingest benchmark) is about 3 MiB per
    /// provider; the demo profile, a few events a second, uses 1 024.
    pub live_capacity: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            keys: Vec::new(),
            demo: None,
            ping_interval: Duration::from_secs(30),
            replay_window: Duration::from_secs(300),
            event_id_prefix: "evt_".into(),
            auth_timeout: Duration::from_secs(10),
            live_capacity: 1 << 16,
        }
    }
}

#[derive(Clone)]
struct AppState {
    daimon: Arc<DaimonState>,
    agentmail: Arc<Hub>,
    divinci: Arc<Hub>,
    bivariant: Arc<Hub>,
    prismer: Arc<PrismerState>,
}

impl AppState {
    /// The failure scenarios of `provider`, daimon included.
    fn scenarios(&self, provider: &str) -> Option<&dyn hub::Scenarios> {
        match provider {
            "daimon" => Some(self.daimon.as_ref()),
            "prismer" => Some(self.prismer.as_ref()),
            other => self.hub(other).map(|h| h.as_ref() as &dyn hub::Scenarios),
        }
    }

    fn hub(&self, provider: &str) -> Option<&Arc<Hub>> {
        match provider {
            "agentmail" => Some(&self.agentmail),
            "divinci" => Some(&self.divinci),
            "bivariant" => Some(&self.bivariant),
            "prismer" => Some(&self.prismer.hub),
            _ => None,
        }
    }
}

/// A running emulator. Dropping it does not stop it: call [`Emulator::shutdown`].
pub struct Emulator {
    addr: SocketAddr,
    state: AppState,
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
        let state = AppState {
            daimon: daimon.clone(),
            agentmail: Hub::with_capacity(&config.keys, config.live_capacity),
            divinci: Hub::with_capacity(&config.keys, config.live_capacity),
            bivariant: Hub::with_capacity(&config.keys, config.live_capacity),
            prismer: PrismerState::new(Hub::with_capacity(&config.keys, config.live_capacity), config.auth_timeout, config.ping_interval),
        };
        let agentmail_state = agentmail::AgentMailState { hub: state.agentmail.clone(), ping_interval: config.ping_interval };
        let bivariant_state = bivariant::BivariantState { hub: state.bivariant.clone(), ping_interval: config.ping_interval };
        let divinci_state = divinci::DivinciState::new(state.divinci.clone());
        let app = Router::new()
            .route("/v1/stream", get(daimon::upgrade))
            .route("/v1/websocket/token", post(daimon::token))
            .with_state(daimon.clone())
            .merge(
                Router::new()
                    .route("/v0", get(agentmail::upgrade))
                    .route("/v0/inboxes/{inbox}/messages/{message}", axum::routing::patch(agentmail::patch_message))
                    .route("/v0/inboxes/{inbox}/messages", get(agentmail::list_messages))
                    .route("/v0/inboxes", get(agentmail::list_inboxes))
                    .with_state(agentmail_state),
            )
            .merge(Router::new().route("/v1/ws", get(bivariant::upgrade)).with_state(bivariant_state))
            .merge(
                Router::new()
                    .route("/ws/ticket", post(divinci::ticket))
                    .route("/ws/{*path}", get(divinci::upgrade))
                    .with_state(divinci_state),
            )
            .merge(
                Router::new()
                    .route("/ws", get(prismer::upgrade))
                    .route("/sse", get(prismer::sse))
                    .route("/api/im/conversations/{id}/read", post(prismer::mark_read))
                    .route("/api/im/sync", get(prismer::sync))
                    .route("/api/im/token/refresh", post(prismer::refresh))
                    .route("/api/im/users/{id}", get(prismer::user))
                    .route("/api/im/conversations/{id}", get(prismer::conversation))
                    .with_state(state.prismer.clone()),
            )
            .merge(
                Router::new()
                    .route("/_emulator/stats", get(stats))
                    .route("/_emulator/daimon/publish", post(publish_daimon))
                    .route("/_emulator/{provider}/publish", post(publish))
                    .route("/_emulator/{provider}/raw", post(publish_raw))
                    .route("/_emulator/{provider}/drop", post(drop_provider))
                    .route("/_emulator/{provider}/restart", post(restart_provider))
                    .route("/_emulator/prismer/conversation", post(prismer_conversation))
                    .route("/_emulator/{provider}/silent", post(silent_provider))
                    .route("/_emulator/{provider}/slow", post(slow_provider))
                    .route("/_emulator/{provider}/burst", post(burst_provider))
                    .route("/_emulator/{provider}/hostile", post(hostile_provider))
                    .with_state(state.clone()),
            );
        let mut tasks = Vec::new();
        let shutdown = cancel.clone();
        tasks.push(tokio::spawn(async move {
            // Nagle off, as a real push service has it: each frame leaves at once instead
            // of waiting (up to the client's 40 ms delayed ACK) behind the previous one.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
            if let Err(e) = served {
                tracing::warn!("emulator server stopped: {e}");
            }
        }));
        if let Some(demo) = config.demo.clone() {
            let targets = demo::DemoTargets {
                daimon: daimon.clone(),
                agentmail: state.agentmail.clone(),
                prismer: state.prismer.clone(),
                divinci: state.divinci.clone(),
                bivariant: state.bivariant.clone(),
                id_prefix: config.event_id_prefix.clone(),
            };
            tasks.push(tokio::spawn(demo::run(targets, demo, cancel.clone())));
        }
        tracing::info!(%addr, "emulator listening");
        Ok(Emulator { addr, state, cancel, tasks })
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
        &self.state.daimon
    }

    /// `ws://127.0.0.1:PORT/v0`.
    pub fn agentmail_url(&self) -> String {
        format!("ws://{}/v0", self.addr)
    }

    pub fn agentmail(&self) -> &Arc<Hub> {
        &self.state.agentmail
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn prismer_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn prismer(&self) -> &Arc<PrismerState> {
        &self.state.prismer
    }

    /// `ws://127.0.0.1:PORT/ws/chat/{thread}`.
    pub fn divinci_chat_url(&self, thread: &str) -> String {
        format!("ws://{}/ws/chat/{thread}", self.addr)
    }

    pub fn divinci(&self) -> &Arc<Hub> {
        &self.state.divinci
    }

    /// `ws://127.0.0.1:PORT/v1/ws`.
    pub fn bivariant_url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    pub fn bivariant(&self) -> &Arc<Hub> {
        &self.state.bivariant
    }

    /// `http://127.0.0.1:PORT`.
    /// The failure scenarios of `provider` (`daimon`, `agentmail`, `prismer`, `divinci`, `bivariant`).
    pub fn scenarios(&self, provider: &str) -> Option<&dyn hub::Scenarios> {
        self.state.scenarios(provider)
    }

    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        // Upgraded sockets outlive the HTTP server's graceful shutdown: end them too.
        for hub in [&self.state.agentmail, &self.state.divinci, &self.state.bivariant, &self.state.prismer.hub] {
            hub.drop_connections();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn stats(State(s): State<AppState>) -> Json<Value> {
    Json(json!({"daimon": s.daimon.stats(), "agentmail": s.agentmail.stats(), "prismer": s.prismer.hub.stats(),
                "divinci": s.divinci.stats(), "bivariant": s.bivariant.stats()}))
}

#[derive(serde::Deserialize)]
struct PublishQuery {
    /// `rest`: a Prismer send over REST (reaches members outside the room too).
    via: Option<String>,
}

async fn publish(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<PublishQuery>,
    Json(frame): Json<Value>,
) -> Response {
    if provider == "prismer" {
        match q.via.as_deref() {
            Some("rest") => s.prismer.publish_rest(frame),
            _ => s.prismer.publish(frame),
        }
        return Json(json!({"published": true})).into_response();
    }
    match s.hub(&provider) {
        Some(h) => {
            h.publish(frame);
            Json(json!({"published": true})).into_response()
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"error": format!("unknown provider {provider}")}))).into_response(),
    }
}

async fn publish_raw(State(s): State<AppState>, Path(provider): Path<String>, body: String) -> Response {
    scenario(&s, &provider, |sc| {
        sc.publish_raw(&body);
        json!({"published": true})
    })
}

#[derive(serde::Deserialize)]
struct ScenarioQuery {
    on: Option<bool>,
    ms: Option<u64>,
    n: Option<u64>,
}

/// `POST /_emulator/{provider}/silent?on=true|false`: half-open connections.
async fn silent_provider(State(s): State<AppState>, Path(provider): Path<String>, Query(q): Query<ScenarioQuery>) -> Response {
    let on = q.on.unwrap_or(true);
    scenario(&s, &provider, |sc| {
        sc.set_silent(on);
        json!({"silent": on})
    })
}

/// `POST /_emulator/{provider}/slow?ms=N`: wait N ms before every frame (0 = off).
async fn slow_provider(State(s): State<AppState>, Path(provider): Path<String>, Query(q): Query<ScenarioQuery>) -> Response {
    let ms = q.ms.unwrap_or(0);
    scenario(&s, &provider, |sc| {
        sc.set_delay(Duration::from_millis(ms));
        json!({"delay_ms": ms})
    })
}

/// `POST /_emulator/{provider}/burst?n=N`: publish N realistic events at once.
async fn burst_provider(State(s): State<AppState>, Path(provider): Path<String>, Query(q): Query<ScenarioQuery>) -> Response {
    let n = q.n.unwrap_or(100).min(1_000_000);
    let burst_id: u32 = rand::random();
    for i in 0..n {
        let id = format!("burst{burst_id:08x}_{i}");
        match provider.as_str() {
            "daimon" => {
                let mut e = demo::demo_event(&mut rand::rng(), i);
                e["event_id"] = json!(id);
                s.daimon.publish(e);
            }
            "agentmail" => s.agentmail.publish(agentmail::message_received(&id, "agent@agentmail.to", "burst@example.com", &format!("Burst {i}"), "burst", &["received"])),
            "prismer" => s.prismer.publish(prismer::message_new(&id, "conv_burst", "usr_burst", &format!("burst {i}"))),
            "divinci" => s.divinci.publish(divinci::message_created(&id, demo::DEMO_THREAD, &format!("burst {i}"))),
            "bivariant" => s.bivariant.publish(bivariant::message_posted(&id, "conv_burst", &format!("burst {i}"))),
            other => return unknown(other),
        }
    }
    Json(json!({"published": n})).into_response()
}

/// `POST /_emulator/{provider}/hostile` with `{"kind": "huge"|"flood"|"invalid_utf8"|
/// "nested"|"binary", "count": N, "bytes": N}`: every open connection of `provider`
/// plays that hostile scenario (see [`hostile`]).
async fn hostile_provider(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    Json(request): Json<hostile::HostileRequest>,
) -> Response {
    let Some(flood) = flood_frame(&provider) else { return unknown(&provider) };
    let h = hostile::Hostile::new(&request, flood);
    let answer = json!({"kind": request.kind_name(), "count": h.count, "bytes": h.bytes});
    scenario(&s, &provider, |sc| {
        sc.hostile(h);
        answer
    })
}

/// Small, valid event frames of `provider` for a flood, each with its own id.
pub fn flood_frame(provider: &str) -> Option<hostile::FloodFrame> {
    let run: u32 = rand::random();
    let at = demo::format_ms(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64));
    let frame: hostile::FloodFrame = match provider {
        "daimon" => Arc::new(move |i| {
            let id = format!("flood{run:08x}_{i}");
            json!({"type": "message.received", "event_id": id, "timestamp": at, "replayed": false, "inbox_id": "inbox_flood",
                   "payload": {"message": {"id": format!("msg_{id}"), "inbox_id": "inbox_flood", "from": "flood@example.com",
                                           "subject": format!("flood {i}")}}})
            .to_string()
        }),
        "agentmail" => Arc::new(move |i| {
            let id = format!("flood{run:08x}_{i}");
            agentmail::message_received(&id, "agent@agentmail.to", "flood@example.com", &format!("Flood {i}"), "flood", &["received"]).to_string()
        }),
        "prismer" => Arc::new(move |i| prismer::message_new(&format!("flood{run:08x}_{i}"), "conv_flood", "usr_flood", &format!("flood {i}")).to_string()),
        "divinci" => Arc::new(move |i| divinci::message_created(&format!("flood{run:08x}_{i}"), demo::DEMO_THREAD, &format!("flood {i}")).to_string()),
        "bivariant" => Arc::new(move |i| bivariant::message_posted(&format!("flood{run:08x}_{i}"), "conv_flood", &format!("flood {i}")).to_string()),
        _ => return None,
    };
    Some(frame)
}

fn unknown(provider: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": format!("unknown provider {provider}")}))).into_response()
}

async fn drop_provider(State(s): State<AppState>, Path(provider): Path<String>) -> Response {
    scenario(&s, &provider, |sc| {
        sc.drop_connections();
        json!({"dropped": true})
    })
}

async fn restart_provider(State(s): State<AppState>, Path(provider): Path<String>) -> Response {
    scenario(&s, &provider, |sc| {
        sc.restart();
        json!({"restarted": true})
    })
}

#[derive(serde::Deserialize)]
struct NewConversation {
    id: String,
    members: Vec<String>,
    #[serde(default = "group")]
    kind: String,
    title: Option<String>,
}

fn group() -> String {
    "group".into()
}

/// `POST /_emulator/prismer/conversation {"id","members":[user ids],"kind","title"}`.
async fn prismer_conversation(State(s): State<AppState>, Json(c): Json<NewConversation>) -> Json<Value> {
    s.prismer.create_conversation(&c.id, &c.members, &c.kind, c.title.as_deref());
    Json(json!({"created": c.id}))
}

/// Runs a scenario on `provider`, or answers 404 for an unknown provider.
fn scenario(s: &AppState, provider: &str, run: impl FnOnce(&dyn hub::Scenarios) -> Value) -> Response {
    match s.scenarios(provider) {
        Some(sc) => Json(run(sc)).into_response(),
        None => unknown(provider),
    }
}

async fn publish_daimon(State(s): State<AppState>, Json(frame): Json<Value>) -> Json<Value> {
    let id = s.daimon.publish(frame);
    Json(json!({"event_id": id}))
}

