//! Hardening, over real loopback sockets: TLS verified against the platform roots
//! plus a per-account CA file (a CA made at test time, a real rustls server), the
//! per-connection rate limit, and a hostile server (huge frames, floods, invalid
//! UTF-8, deep nesting, binary noise).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tocsin_emulator::{Emulator, EmulatorConfig};
use tocsin_model::{Event, Provider};
use tocsin_providers::{AuthMode, Endpoint, Subscriptions};
use tocsin_secrets::Sensitive;
use tocsin_supervisor::{AccountStatus, Backoff, ConnState, Connection, KeySource, RateLimit, DEFAULT_MAX_FRAME};

const KEY: &str = "dm_live_hardening_key";

async fn emulator() -> Emulator {
    let config = EmulatorConfig { keys: vec![KEY.into()], ..EmulatorConfig::default() };
    Emulator::bind(([127, 0, 0, 1], 0).into(), config).await.unwrap()
}

struct Running {
    events: mpsc::Receiver<Event>,
    status: watch::Receiver<AccountStatus>,
    cancel: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct Opts {
    auth: AuthMode,
    token_url: Option<String>,
    ca_file: Option<PathBuf>,
    rate: RateLimit,
}

impl Default for Opts {
    fn default() -> Self {
        Opts { auth: AuthMode::Bearer, token_url: None, ca_file: None, rate: RateLimit::default() }
    }
}

fn start(url: &str, opts: Opts) -> Running {
    let endpoint = Endpoint { token_url: opts.token_url.clone(), ..Endpoint::new(url, opts.auth) };
    let adapter = tocsin_providers::adapter_for(Provider::Daimon, &endpoint, &Subscriptions::default()).unwrap();
    let key = Sensitive::from(KEY);
    let key: KeySource = Arc::new(move || Ok(key.clone()));
    let conn = Connection {
        account: "ops".into(),
        adapter: Arc::from(adapter),
        key,
        backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(200), ..Backoff::default() },
        max_frame_bytes: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(5),
        resume: None,
        resume_at_ms: None,
        outgoing: mpsc::channel(16).1,
        rest_base: endpoint.rest_base(),
        ca_file: opts.ca_file,
        rate_limit: opts.rate,
        names: Default::default(),
        save_key: None,
    };
    // A small queue, as in the app: backpressure reaches the socket.
    let (tx, events) = mpsc::channel(1024);
    let (status_tx, status) = watch::channel(AccountStatus::new("ops", Provider::Daimon));
    let cancel = CancellationToken::new();
    tokio::spawn(tocsin_supervisor::run(conn, tx, status_tx, cancel.clone()));
    Running { events, status, cancel }
}

/// Waits until the status satisfies `pred`; returns it.
async fn wait_status(r: &mut Running, what: &str, pred: impl Fn(&AccountStatus) -> bool) -> AccountStatus {
    let fut = async {
        loop {
            let s = r.status.borrow_and_update().clone();
            if pred(&s) {
                return s;
            }
            r.status.changed().await.unwrap();
        }
    };
    match tokio::time::timeout(Duration::from_secs(15), fut).await {
        Ok(s) => s,
        Err(_) => panic!("no status {what} within 15 s; last: {:?}", r.status.borrow()),
    }
}

async fn subscribed(r: &mut Running) {
    wait_status(r, "subscribed", |s| s.state == ConnState::Subscribed).await;
}

async fn next_event(r: &mut Running) -> Event {
    tokio::time::timeout(Duration::from_secs(15), r.events.recv()).await.expect("no event in 15 s").expect("open")
}

fn mail(id: &str, subject: &str) -> serde_json::Value {
    json!({"event_id": id, "type":"message.received","inbox_id":"inbox_ops",
           "payload":{"message":{"id":format!("msg_{id}"),"inbox_id":"inbox_ops","from":"a@b.c","subject":subject}}})
}

async fn hostile(emu: &Emulator, body: serde_json::Value) {
    let addr = emu.local_addr();
    let body = body.to_string();
    // A minimal HTTP/1.1 client: the control API is on the same loopback server.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /_emulator/daimon/hostile HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

// ---- TLS ------------------------------------------------------------------------

struct Tls {
    _dir: tempfile_dir::Dir,
    ca_file: PathBuf,
    port: u16,
}

/// Minimal temp dir (no extra dev-dependency).
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A CA and a server certificate for 127.0.0.1 made now, and a rustls server on
/// loopback that forwards every connection to the emulator.
async fn tls_front(emu: &Emulator) -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Tocsin test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_cert = params.signed_by(&server_key, &issuer).unwrap();

    let dir = std::env::temp_dir().join(format!("tocsin-hardening-{}-{}", std::process::id(), rand_u32()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend = emu.local_addr();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the CA aborts the handshake here.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Tls { _dir: tempfile_dir::Dir(dir), ca_file, port }
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

#[tokio::test]
async fn tls_without_the_ca_file_fails_on_the_certificate_and_says_so() {
    let emu = emulator().await;
    let tls = tls_front(&emu).await;
    let mut r = start(&format!("wss://127.0.0.1:{}/v1/stream", tls.port), Opts::default());
    let s = wait_status(&mut r, "a certificate error", |s| {
        s.last_error.as_deref().is_some_and(|e| e.contains("certificate"))
    })
    .await;
    let e = s.last_error.unwrap();
    assert!(e.contains("is not trusted") && e.contains("ca_file"), "{e}");
    assert!(matches!(s.state, ConnState::Reconnecting { .. }), "{:?}", s.state);
    assert_eq!(emu.daimon().total_connections(), 0, "nothing got through");
    eprintln!("status without ca_file: {e}");
}

#[tokio::test]
async fn tls_with_the_ca_file_connects_and_receives_for_socket_and_https_token() {
    let emu = emulator().await;
    let tls = tls_front(&emu).await;
    let url = format!("wss://127.0.0.1:{}/v1/stream", tls.port);
    // Bearer: the WebSocket over TLS.
    let mut r = start(&url, Opts { ca_file: Some(tls.ca_file.clone()), ..Opts::default() });
    subscribed(&mut r).await;
    emu.daimon().publish(mail("tls1", "over TLS"));
    assert_eq!(next_event(&mut r).await.subject.as_deref(), Some("over TLS"));
    drop(r);
    // Token: an HTTPS POST for the token first (reqwest with the same CA), then the socket.
    let token_url = format!("https://127.0.0.1:{}/v1/websocket/token", tls.port);
    let mut r = start(&url, Opts { auth: AuthMode::Token, token_url: Some(token_url), ca_file: Some(tls.ca_file.clone()), ..Opts::default() });
    subscribed(&mut r).await;
    emu.daimon().publish(mail("tls2", "token over HTTPS"));
    loop {
        // The replay of tls1 may come first.
        if next_event(&mut r).await.subject.as_deref() == Some("token over HTTPS") {
            break;
        }
    }
    assert!(emu.daimon().commands().iter().any(|c| c["rest"] == "POST /v1/websocket/token"));
}

#[tokio::test]
async fn https_token_without_the_ca_file_fails_on_the_certificate() {
    let emu = emulator().await;
    let tls = tls_front(&emu).await;
    let url = format!("wss://127.0.0.1:{}/v1/stream", tls.port);
    let token_url = format!("https://127.0.0.1:{}/v1/websocket/token", tls.port);
    let mut r = start(&url, Opts { auth: AuthMode::Token, token_url: Some(token_url), ..Opts::default() });
    let s = wait_status(&mut r, "a certificate error", |s| {
        s.last_error.as_deref().is_some_and(|e| e.contains("certificate"))
    })
    .await;
    eprintln!("token status without ca_file: {:?}", s.last_error);
    assert!(s.last_error.unwrap().contains("is not trusted"));
}

#[tokio::test]
async fn an_unreadable_ca_file_stops_the_account_with_the_path_and_reason() {
    let emu = emulator().await;
    let mut r = start(&emu.daimon_url(), Opts { ca_file: Some("/nonexistent/tocsin/ca.pem".into()), ..Opts::default() });
    let s = wait_status(&mut r, "closed", |s| matches!(s.state, ConnState::Closed { .. })).await;
    let ConnState::Closed { reason, fatal } = s.state else { unreachable!() };
    assert!(fatal);
    assert!(reason.starts_with("ca_file /nonexistent/tocsin/ca.pem: cannot read: "), "{reason}");
    assert_eq!(emu.daimon().total_connections(), 0, "no connection without the CA the user asked for");
}

// ---- Rate limit -----------------------------------------------------------------

#[tokio::test]
async fn a_flood_is_slowed_to_the_rate_and_nothing_is_lost() {
    let emu = emulator().await;
    let rate = RateLimit { per_sec: 1_000, burst: 500 };
    let mut r = start(&emu.daimon_url(), Opts { rate, ..Opts::default() });
    subscribed(&mut r).await;
    let started = Instant::now();
    hostile(&emu, json!({"kind": "flood", "count": 3_000})).await;
    let mut saw_note = false;
    let mut ids = std::collections::HashSet::new();
    while ids.len() < 3_000 {
        let e = next_event(&mut r).await;
        ids.insert(e.provider_event_id.clone().unwrap());
        saw_note |= r.status.borrow().last_error.as_deref() == Some(rate.flooding_note().as_str());
    }
    let took = started.elapsed();
    let rate_seen = 3_000.0 / took.as_secs_f64();
    eprintln!("3 000 flood frames took {took:?} ({rate_seen:.0} frames/s; limit 1 000/s after a burst of 500)");
    // 500 at once, then 2 500 at 1 000/s: at least 2.5 s.
    assert!(took >= Duration::from_millis(2_300), "the flood was not slowed: {took:?}");
    assert!(took <= Duration::from_secs(6), "the pacing is too slow: {took:?}");
    assert!(saw_note, "the status said the server is flooding");
    // Still the same connection: throttling is not a disconnect.
    assert_eq!(emu.daimon().total_connections(), 1);
    // The note goes once the flood is over.
    wait_status(&mut r, "the flooding note cleared", |s| s.last_error.is_none()).await;
    emu.daimon().publish(mail("after", "after the flood"));
    assert_eq!(next_event(&mut r).await.subject.as_deref(), Some("after the flood"));
}

// ---- Hostile server -------------------------------------------------------------

#[tokio::test]
async fn a_huge_frame_is_refused_unread_then_the_connection_recovers() {
    let emu = emulator().await;
    let mut r = start(&emu.daimon_url(), Opts::default());
    subscribed(&mut r).await;
    hostile(&emu, json!({"kind": "huge"})).await;
    let s = wait_status(&mut r, "the oversized frame reported", |s| {
        s.last_error.as_deref().is_some_and(|e| e.contains("over the 1024 KiB limit"))
    })
    .await;
    eprintln!("status after a 4 MiB frame: {:?}", s.last_error);
    subscribed(&mut r).await;
    emu.daimon().publish(mail("h1", "after the huge frame"));
    // No event had come before, so there was no cursor to replay from: a gap entry says so.
    let gap = next_event(&mut r).await;
    assert_eq!(gap.kind, tocsin_model::EventKind::Gap, "{gap:?}");
    assert_eq!(next_event(&mut r).await.subject.as_deref(), Some("after the huge frame"));
}

#[tokio::test]
async fn deep_nesting_invalid_utf8_and_binary_noise_are_ignored_without_a_disconnect() {
    let emu = emulator().await;
    let mut r = start(&emu.daimon_url(), Opts::default());
    subscribed(&mut r).await;
    hostile(&emu, json!({"kind": "nested", "count": 4})).await;
    hostile(&emu, json!({"kind": "invalid_utf8", "count": 5})).await;
    hostile(&emu, json!({"kind": "binary", "count": 50})).await;
    emu.daimon().publish(mail("n1", "after the noise"));
    assert_eq!(next_event(&mut r).await.subject.as_deref(), Some("after the noise"));
    assert_eq!(emu.daimon().total_connections(), 1, "noise is ignored, not a reason to reconnect");
    assert_eq!(r.status.borrow().state, ConnState::Subscribed);
}

/// A text frame whose payload is not UTF-8 (axum cannot send one; tungstenite can).
#[tokio::test]
async fn a_text_frame_with_invalid_utf8_closes_the_connection_with_a_clear_reason() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
                let _ = ws.send(Message::text(r#"{"type":"connected","connection_id":"c1"}"#)).await;
                let bad: &[u8] = b"{\"type\":\"message.received\",\"x\":\"\xff\xfe\xc3\x28\"}";
                let _ = ws.send(Message::Frame(Frame::message(bad.to_vec(), OpCode::Data(Data::Text), true))).await;
                while ws.next().await.is_some() {}
            });
        }
    });
    let mut r = start(&format!("ws://127.0.0.1:{port}/v1/stream"), Opts::default());
    let s = wait_status(&mut r, "the UTF-8 error", |s| {
        s.last_error.as_deref().is_some_and(|e| e.contains("not valid UTF-8"))
    })
    .await;
    eprintln!("status after invalid UTF-8 in a text frame: {:?}", s.last_error);
}
