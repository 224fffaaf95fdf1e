//! 1 000 forced disconnects per provider during a stream (50 in CI): every event
//! numbered, the connection dropped by the server (no close frame) again and again
//! while the stream goes on, then counted in the real SQLite history: lost, stored
//! twice, notified twice. Providers that cannot resend may lose events only inside
//! a gap entry's span.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tocsin_emulator::{Emulator, EmulatorConfig};
use tocsin_engine::{ConnState, Engine};

use crate::common::*;

pub async fn forced_disconnects(p: P) {
    let test = format!("drops/{}", p.name());
    let rounds = knob("TOCSIN_CHAOS_ROUNDS", 50, 1000);
    let mut rng = Rng::new(seed(&test));
    let account = format!("drops_{}", p.name());
    let key = format!("k_{account}_key");
    set_key(&account, &key);
    let emu = Arc::new(
        Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![key], ..Default::default() }).await.unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let (engine, recorder) = chaos_engine(&p.account_toml(&emu, &account, 10, 40), dir.path()).await;
    let subscribed = |e: &Engine| e.snapshot().accounts[0].state == ConnState::Subscribed;

    let started = Instant::now();
    // AgentMail's catch-up lists the last minute again after every reconnect (the
    // overlap, BACKFILL_OVERLAP_MS): a slower stream there keeps each re-read short.
    let every = if p == P::AgentMail { Duration::from_millis(20) } else { Duration::from_millis(4) };
    let stream = Stream::start(emu.clone(), p, "d", every);
    let mut reconnect_ms = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        // Some of the stream on this connection first, then a drop at a random moment.
        events_then_a_random_moment(&engine, round, &mut rng).await;
        let before = p.total_connections(&emu);
        let dropped = Instant::now();
        p.drop_connections(&emu);
        wait_until(&format!("reconnect {}/{rounds}", round + 1), Duration::from_secs(30), || {
            p.total_connections(&emu) > before && subscribed(&engine)
        })
        .await;
        reconnect_ms.push(dropped.elapsed().as_secs_f64() * 1000.0);
    }
    let sent = stream.stop().await;
    let last = sent.last().map_or(0, |s| s.seq);
    // A last event, urgent, after everything: once it is stored and notified, every
    // earlier one that is coming has come (one connection delivers in order).
    let sentinel = sentinel_after(last);
    p.publish(&emu, "d", sentinel);
    wait_until("the sentinel's alert", Duration::from_secs(60), || recorder.by_seq().0.contains_key(&sentinel)).await;
    let counted = loop {
        let c = count(&engine, &account).await;
        let done = c.stored(sentinel) && (!p.catches_up() || sent.iter().all(|s| c.stored(s.seq)));
        if done || started.elapsed() > Duration::from_secs(600) {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let elapsed = started.elapsed();

    let lost: Vec<&Sent> = sent.iter().filter(|s| !counted.stored(s.seq)).collect();
    let (_, in_flight, outside) = counted.classify(lost.iter().copied());
    let twice = counted.stored_twice();
    let (alerts, summaries) = recorder.by_seq();
    let notified_twice = recorder.notified_twice();
    let urgent_stored = sent.iter().filter(|s| is_urgent(s.seq) && counted.stored(s.seq)).count();
    let urgent_unnotified = sent.iter().filter(|s| is_urgent(s.seq) && counted.stored(s.seq) && !alerts.contains_key(&s.seq)).count();
    reconnect_ms.sort_by(f64::total_cmp);
    let pct = |q: f64| reconnect_ms.get(((reconnect_ms.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0.0);
    figure(
        &test,
        &format!(
            "drops={rounds} published={} stored={} lost={} lost_outside_gap={} (in flight before a gap: {}, unexplained: {}) stored_twice={} notified_twice={} \
             urgent_stored={urgent_stored} urgent_not_notified={urgent_unnotified} summaries={summaries} gaps={} \
             reconnect_ms_p50={:.0} p99={:.0} max={:.0} took={:.1}s",
            sent.len(),
            counted.per_seq.len(),
            lost.len(),
            in_flight.len() + outside.len(),
            in_flight.len(),
            outside.len(),
            twice.len(),
            notified_twice.len(),
            counted.gaps.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0),
            elapsed.as_secs_f64()
        ),
    );
    for s in in_flight.iter().chain(&outside).take(5) {
        eprintln!("  lost outside every gap: #{} published at {} ms, {}", s.seq, s.before_ms, nearest_gap(&counted, s.before_ms));
    }
    assert!(counted.stored(sentinel));
    if p.catches_up() {
        assert!(lost.is_empty(), "{} events lost: {:?}", lost.len(), lost.iter().take(10).map(|s| s.seq).collect::<Vec<_>>());
    } else {
        assert!(outside.is_empty(), "{} events lost outside every gap entry and not in flight at a drop", outside.len());
        assert!(!counted.gaps.is_empty() || lost.is_empty(), "losses with no gap entry");
    }
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    assert!(notified_twice.is_empty(), "notified twice: {notified_twice:?}");
    if summaries == 0 {
        assert_eq!(urgent_unnotified, 0, "every stored urgent event notified once");
    }
    engine.shutdown().await;
    if let Ok(emu) = Arc::try_unwrap(emu) {
        emu.shutdown().await;
    }
}
