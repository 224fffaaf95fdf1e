//! Forced disconnects on direct NATS (a topic-platform account with a `nats://`
//! URL) against a real `nats-server`: the connection goes through a TCP proxy in
//! this test that cuts every connection on demand. Core NATS keeps nothing for a
//! client that is away, so losses are expected, each inside a gap entry.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tocsin_engine::{ConnState, Engine};
use tocsin_model::now_ms;

use crate::common::*;

const SUBJECT: &str = "events.org_123.conversations.conversation.message_posted.conv_5";

fn nats_server_binary() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(Into::into))
        .map(|d: std::path::PathBuf| d.join("nats-server"))
        .find(|p| p.is_file())
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A TCP proxy to `upstream` that cuts every connection when kicked.
struct Proxy {
    port: u16,
    kick: broadcast::Sender<()>,
    accepted: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let kick = broadcast::channel(16).0;
        let accepted = Arc::new(AtomicU64::new(0));
        let (k, a) = (kick.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let mut kicked = k.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = kicked.recv() => {}
                    }
                });
            }
        });
        Proxy { port, kick, accepted }
    }
}

/// A bare NATS publisher (the protocol is text: CONNECT, then PUB).
async fn publisher(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut info = String::new();
    BufReader::new(&mut stream).read_line(&mut info).await.unwrap();
    assert!(info.starts_with("INFO"), "{info}");
    stream.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n").await.unwrap();
    stream
}

fn envelope(id: &str, text: &str) -> String {
    json!({"id": id, "event": "conversation.message_posted", "orgId": "org_123", "source": "conversations",
           "resource": "conversation", "resourceId": "conv_5", "timestamp": "2026-03-16T10:30:45.123Z",
           "payload": {"roomId": "room_1", "conversationId": "conv_5",
                       "message": {"id": format!("msg_{id}"), "role": "user", "parts": [{"kind": "text", "text": text}]},
                       "senderId": "acc_9", "status": "done"}})
    .to_string()
}

pub async fn forced_disconnects() {
    let test = "drops/nats";
    let Some(bin) = nats_server_binary() else {
        return skipped(test, "nats-server is not installed (scripts/setup.sh --test installs it)");
    };
    let rounds = knob("TOCSIN_CHAOS_ROUNDS", 50, 1000);
    let mut rng = Rng::new(seed(test));
    let port = free_port();
    let server = Server(
        Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server"),
    );
    let up = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(up.elapsed() < Duration::from_secs(10), "nats-server did not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let proxy = Proxy::start(port).await;
    let account = "drops_nats";
    set_key(account, "unused-token");
    let toml = format!(
        "[[accounts]]\nname = \"{account}\"\nprovider = \"bivariant\"\nurl = \"nats://127.0.0.1:{}\"\nauth = \"query\"\n\
         topics = [\"events.org_123.>\"]\n[accounts.backoff]\nbase_ms = 10\ncap_ms = 40\n",
        proxy.port
    );
    let dir = tempfile::tempdir().unwrap();
    let (engine, recorder) = chaos_engine(&toml, dir.path()).await;
    let subscribed = |e: &Engine| e.snapshot().accounts[0].state == ConnState::Subscribed;

    // The stream, on its own connection to the server (not through the proxy).
    let sent: Arc<std::sync::Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = {
        let (sent, stop) = (sent.clone(), stop.clone());
        let mut nats = publisher(port).await;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(4));
            let mut seq = 0;
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                seq += 1;
                let before_ms = now_ms();
                let body = envelope(&format!("nats_{seq}"), &text_of(seq));
                nats.write_all(format!("PUB {SUBJECT} {}\r\n{body}\r\n", body.len()).as_bytes()).await.unwrap();
                sent.lock().unwrap().push(Sent { seq, before_ms, after_ms: now_ms() });
            }
            nats
        })
    };
    let started = Instant::now();
    for round in 0..rounds {
        events_then_a_random_moment(&engine, round, &mut rng).await;
        let before = proxy.accepted.load(Ordering::SeqCst);
        let _ = proxy.kick.send(());
        wait_until(&format!("reconnect {}/{rounds}", round + 1), Duration::from_secs(30), || {
            proxy.accepted.load(Ordering::SeqCst) > before && subscribed(&engine)
        })
        .await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut nats = stream.await.unwrap();
    let sent = sent.lock().unwrap().clone();
    let sentinel = sentinel_after(sent.len() as u64);
    let body = envelope(&format!("nats_{sentinel}"), &text_of(sentinel));
    nats.write_all(format!("PUB {SUBJECT} {}\r\n{body}\r\n", body.len()).as_bytes()).await.unwrap();
    wait_until("the sentinel's alert", Duration::from_secs(60), || recorder.by_seq().0.contains_key(&sentinel)).await;
    let counted = loop {
        let c = count(&engine, account).await;
        if c.stored(sentinel) {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lost: Vec<&Sent> = sent.iter().filter(|s| !counted.stored(s.seq)).collect();
    let (_, in_flight, outside) = counted.classify(lost.iter().copied());
    let twice = counted.stored_twice();
    let summaries = recorder.by_seq().1;
    let notified_twice = recorder.notified_twice().len();
    figure(
        test,
        &format!(
            "drops={rounds} published={} stored={} lost={} lost_outside_gap={} (in flight before a gap: {}, unexplained: {}) stored_twice={} notified_twice={notified_twice} \
             summaries={summaries} gaps={} took={:.1}s",
            sent.len(),
            counted.per_seq.len(),
            lost.len(),
            in_flight.len() + outside.len(),
            in_flight.len(),
            outside.len(),
            twice.len(),
            counted.gaps.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    for s in in_flight.iter().chain(&outside).take(5) {
        eprintln!("  lost outside every gap: #{} published at {} ms, {}", s.seq, s.before_ms, nearest_gap(&counted, s.before_ms));
    }
    assert!(outside.is_empty(), "{} lost outside every gap entry and not in flight at a drop", outside.len());
    assert!(twice.is_empty(), "{twice:?}");
    assert_eq!(notified_twice, 0);
    engine.shutdown().await;
    drop(server);
}
