//! A hostile server at volume, beside a healthy account: one daimon account gets a
//! 100 MB frame, 10 000-deep JSON, invalid UTF-8, binary noise and a flood; two
//! more point at servers that misbehave before any WebSocket exists (a slowloris
//! upgrade answered one byte at a time, and a server that accepts and never
//! answers); an AgentMail account streams normal events all along. Figures: the
//! process's peak RSS and PSS, the control socket's (the window's link) slowest
//! answer, and the healthy account's events: all stored, during every phase.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tocsin_emulator::hostile::{Hostile, HostileKind, HostileRequest};

use crate::common::*;
use crate::desk::{counted, Desk};

/// Accepts, reads the upgrade request, then answers it one byte every 500 ms, never finishing.
async fn slowloris() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                for b in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Padding: ".iter().chain(std::iter::repeat(&b'a')) {
                    if s.write_all(&[*b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
    });
    port
}

/// Accepts and never answers (nor reads).
async fn mute() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    port
}

fn rollup_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

pub async fn hostile_beside_healthy() {
    let test = "hostile";
    let flood = knob("TOCSIN_CHAOS_FLOOD", 20_000, 200_000);
    let (slow_port, mute_port) = (slowloris().await, mute().await);
    let desk = Arc::new(
        Desk::start(|emu| {
            let daimon_at = |port: u16| format!("ws://127.0.0.1:{port}/v1/stream");
            vec![
                ("h_ops".into(), P::Daimon.account_toml(emu, "h_ops", 200, 2000).replace("max_events_per_sec = 0", "max_events_per_sec = 2000")),
                ("h_mail".into(), P::AgentMail.account_toml(emu, "h_mail", 200, 2000)),
                (
                    "h_slow".into(),
                    format!("[[accounts]]\nname = \"h_slow\"\nprovider = \"daimon\"\nurl = \"{}\"\n[accounts.backoff]\nbase_ms = 500\ncap_ms = 2000\n", daimon_at(slow_port)),
                ),
                (
                    "h_mute".into(),
                    format!("[[accounts]]\nname = \"h_mute\"\nprovider = \"daimon\"\nurl = \"{}\"\n[accounts.backoff]\nbase_ms = 500\ncap_ms = 2000\n", daimon_at(mute_port)),
                ),
            ]
        })
        .await,
    );
    let mut app = desk.spawn(&[]);
    let pid = app.pid();
    // The two healthy-server accounts subscribe; the other two never can.
    let up = Instant::now();
    loop {
        assert!(app.running(), "{}", app.log_tail(30));
        let ok = desk.status().is_some_and(|s| {
            s["accounts"].as_array().unwrap().iter().filter(|a| a["state"]["state"] == "subscribed").count() == 2
        });
        if ok {
            break;
        }
        assert!(up.elapsed() < Duration::from_secs(60), "{:?}", desk.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let baseline = (rollup_kib(pid, "Rss:").unwrap_or(0), rollup_kib(pid, "Pss:").unwrap_or(0));

    // Memory, sampled every 100 ms.
    let peak = Arc::new(Mutex::new((0u64, 0u64)));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                if let (Some(rss), Some(pss)) = (rollup_kib(pid, "Rss:"), rollup_kib(pid, "Pss:")) {
                    let mut p = peak.lock().unwrap();
                    *p = (p.0.max(rss), p.1.max(pss));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // The healthy account: one event every 20 ms all along.
    let healthy = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (desk, healthy, stop) = (desk.clone(), healthy.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let seq = healthy.load(Ordering::SeqCst) + 1;
                P::AgentMail.publish(&desk.emu, "h", seq);
                healthy.store(seq, Ordering::SeqCst);
            }
        })
    };
    let newest_seq = |account: &str| -> u64 {
        desk.newest(account).and_then(|e| [e["subject"].as_str(), e["excerpt"].as_str()].into_iter().flatten().find_map(seq_of)).unwrap_or(0)
    };
    let mut slowest_status = Duration::ZERO;
    let mut phases = Vec::new();
    let mut ops_seq = 0;
    let plays: [(&str, HostileKind, Option<u64>, Option<usize>); 5] = [
        ("100 MB frame", HostileKind::Huge, Some(1), Some(100 << 20)),
        ("10 000-deep JSON", HostileKind::Nested, Some(20), Some(10_000)),
        ("invalid UTF-8", HostileKind::InvalidUtf8, Some(1000), None),
        ("binary noise", HostileKind::Binary, Some(200), None),
        ("flood", HostileKind::Flood, Some(flood), None),
    ];
    for (name, kind, count, bytes) in plays {
        let started = Instant::now();
        let healthy_at_start = healthy.load(Ordering::SeqCst);
        let connections = desk.emu.daimon().total_connections();
        let request = HostileRequest { kind, count, bytes };
        desk.emu.daimon().hostile(Hostile::new(&request, tocsin_emulator::flood_frame("daimon").unwrap()));
        // The phase is over when an ordinary event sent after it is stored (after a
        // reconnect, for the huge frame).
        if kind == HostileKind::Huge {
            wait_until("the reconnect after the huge frame", Duration::from_secs(60), || {
                desk.emu.daimon().total_connections() > connections
            })
            .await;
        }
        // The emulator plays a scenario from its own queue, beside the live one: an
        // event published now may overtake it. After a flood, the marker waits for
        // the flood's last event.
        if kind == HostileKind::Flood {
            let last = format!("_{}", flood - 1);
            wait_until("the flood's last event stored", Duration::from_secs(900), || {
                desk.newest("h_ops").is_some_and(|e| e["providerEventId"].as_str().is_some_and(|id| id.ends_with(&last)))
            })
            .await;
        }
        ops_seq += 1;
        P::Daimon.publish(&desk.emu, "ops", ops_seq);
        let mut healthy_during = 0;
        loop {
            let asked = Instant::now();
            let answered = desk.status().is_some();
            slowest_status = slowest_status.max(asked.elapsed());
            assert!(answered && app.running(), "the control socket answers during {name}");
            let h = newest_seq("h_mail");
            if h > healthy_at_start {
                healthy_during = healthy_during.max(h - healthy_at_start);
            }
            if newest_seq("h_ops") == ops_seq && healthy_during > 0 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "{name} did not end in 3 min: newest ops event {:?} (marker #{ops_seq}), healthy events stored since the start {healthy_during}",
                desk.newest("h_ops"),
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (rss, pss) = *peak.lock().unwrap();
        phases.push(format!("{name}: {:.1} s, healthy events stored meanwhile {healthy_during}, peak so far RSS {} PSS {}", started.elapsed().as_secs_f64(), mib(rss), mib(pss)));
    }
    stop.store(true, Ordering::SeqCst);
    let _ = publisher.await;
    let _ = sampler.await;
    let sent = healthy.load(Ordering::SeqCst);
    wait_until("every healthy event stored", Duration::from_secs(60), || newest_seq("h_mail") == sent).await;
    let status = desk.status().unwrap();
    let state_of = |a: &str| {
        let acc = status["accounts"].as_array().unwrap().iter().find(|x| x["account"] == a).cloned().unwrap();
        format!("{} ({})", acc["state"]["state"], acc["lastError"].as_str().unwrap_or("-"))
    };
    let (slow, muted) = (state_of("h_slow"), state_of("h_mute"));
    assert!(app.stop("TERM", Duration::from_secs(30)).await.success());
    let rows = desk.export_args(&["--account", "h_mail"]);
    let c = counted(&rows, "h_mail");
    let lost = (1..=sent).filter(|s| !c.stored(*s)).count();
    let (rss, pss) = *peak.lock().unwrap();
    for p in &phases {
        figure(test, p);
    }
    figure(
        test,
        &format!(
            "flood={flood}: peak RSS {} PSS {} (baseline RSS {} PSS {}); slowest `tocsin status` {} ms; healthy account: \
             {sent} sent, {lost} lost, {} stored twice; slowloris account: {slow}; never-answering account: {muted}",
            mib(rss),
            mib(pss),
            mib(baseline.0),
            mib(baseline.1),
            slowest_status.as_millis(),
            c.stored_twice().len()
        ),
    );
    assert_eq!(lost, 0);
    assert!(c.stored_twice().is_empty());
    assert!(rss < 300 * 1024, "RSS peaked at {}", mib(rss));
}
