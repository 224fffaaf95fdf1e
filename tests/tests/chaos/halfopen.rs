//! Half-open connections: the server keeps the TCP connection but stops answering
//! (no frames, no pongs). Each of the five providers' connections must be declared
//! dead within two heartbeat intervals, while one engine runs them all. The CI
//! version runs on tokio's paused clock (the supervisor's timers are tokio's, so
//! the figure is the same, in virtual seconds); the long one waits in real time.

use std::sync::Arc;
use std::time::Duration;

use tocsin_emulator::{Emulator, EmulatorConfig};
use tocsin_engine::{Config, ConnState, Engine, EngineOptions};

use crate::common::*;

pub async fn half_open() {
    let test = "half-open";
    let real_time = long();
    let key = "k_halfopen_key".to_owned();
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![key.clone()], ..Default::default() })
        .await
        .unwrap();
    let mut toml = String::new();
    for p in ALL {
        let account = format!("half_{}", p.name());
        set_key(&account, &key);
        toml.push_str(&p.account_toml(&emu, &account, 1000, 2000));
    }
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        config: Config::parse(&toml, "chaos").unwrap(),
        data_dir: dir.path().to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_secs(1),
    };
    let engine = Engine::start(options, Arc::new(Recorder::default())).await.unwrap();
    let all_subscribed = |e: &Engine| e.snapshot().accounts.iter().all(|a| a.state == ConnState::Subscribed);
    wait_until("every account subscribed", Duration::from_secs(30), || all_subscribed(&engine)).await;
    // Prismer's first sync (REST) is over once its "following" entry is stored:
    // only then may the clock be paused (a jump inside the sync's own timeout would
    // fail it for another reason).
    let settle = tokio::time::Instant::now();
    loop {
        let items = engine.history(100, None).await.unwrap();
        if items.iter().any(|i| i.account == "half_prismer" && i.provider_type == "tocsin.following") {
            break;
        }
        assert!(settle.elapsed() < Duration::from_secs(30), "the Prismer sync did not finish: {items:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for p in ALL {
        p.set_silent(&emu, true);
    }
    if !real_time {
        tokio::time::pause();
    }
    let silent_at = tokio::time::Instant::now();
    let mut detected: Vec<Option<(Duration, String)>> = vec![None; ALL.len()];
    let limit = Duration::from_secs(150);
    while detected.iter().any(Option::is_none) {
        assert!(silent_at.elapsed() < limit, "not every half-open connection was detected in {limit:?}: {detected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let snapshot = engine.snapshot();
        for (i, p) in ALL.iter().enumerate() {
            let status = snapshot.accounts.iter().find(|a| a.account == format!("half_{}", p.name())).unwrap();
            if detected[i].is_none() && status.state != ConnState::Subscribed {
                let why = format!("{:?}: {}", status.cause, status.last_error.clone().unwrap_or_default());
                detected[i] = Some((silent_at.elapsed(), why));
            }
        }
    }
    if !real_time {
        tokio::time::resume();
    }
    let clock = if real_time { "real time" } else { "tokio's paused clock" };
    for (p, d) in ALL.iter().zip(&detected) {
        let (took, why) = d.clone().unwrap();
        let limit = p.heartbeat_interval() * 2;
        figure(
            test,
            &format!("{}: detected after {:.1} s ({clock}; 2 heartbeats = {} s): {why}", p.name(), took.as_secs_f64(), limit.as_secs()),
        );
        assert!(why.contains("Timeout") && why.contains("presumed dead"), "{}: detected as {why}", p.name());
        // On the paused clock the seconds are the supervisor's own timers, not the
        // machine's speed: the bound is a property of the design, checked exactly.
        if !real_time {
            assert!(took <= limit, "{}: a half-open connection took {took:?}, over two heartbeats ({limit:?})", p.name());
        }
    }
    // The server answers again: every account comes back by itself.
    for p in ALL {
        p.set_silent(&emu, false);
        p.drop_connections(&emu);
    }
    wait_until("every account back", Duration::from_secs(60), || all_subscribed(&engine)).await;
    engine.shutdown().await;
    emu.shutdown().await;
}
