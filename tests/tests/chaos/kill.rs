//! SIGKILL at random moments of a burst: the real `tocsin run --headless` with
//! three accounts (daimon: the server replays from the stored cursor; AgentMail:
//! REST listings from the connected-until mark; the topic platform: cannot resend,
//! so a gap entry), notifying a recording server on a private session bus. The
//! burst goes on while the app is dead; each time it comes back. At the end:
//! lost, stored twice, lost outside every gap entry, and duplicate notifications,
//! each explained (alerted before its commit, the kill came in between, and the
//! event came again after the restart).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tocsin_model::now_ms;

use crate::common::*;
use crate::desk::{counted, Desk};

const PROVIDERS: [P; 3] = [P::Daimon, P::AgentMail, P::Bivariant];

fn account(p: P) -> String {
    format!("kill_{}", p.name())
}

pub async fn sigkill_during_a_burst() {
    let test = "sigkill";
    let kills = knob("TOCSIN_CHAOS_KILLS", 3, 20);
    let burst = knob("TOCSIN_CHAOS_BURST", 2000, 10_000);
    let mut rng = Rng::new(seed(test));
    let desk = Arc::new(
        Desk::start(|emu| PROVIDERS.iter().map(|p| (account(*p), p.account_toml(emu, &account(*p), 200, 1000))).collect())
            .await,
    );
    let mut app = desk.spawn(&[]);
    desk.wait_subscribed(&mut app).await;

    // The burst: `burst` events per provider, one of each every 2 ms, whatever the
    // app is doing.
    let published = Arc::new(AtomicU64::new(0));
    let sent: Arc<Mutex<HashMap<u64, (i64, i64)>>> = Arc::default();
    let publisher = {
        let (desk, published, sent) = (desk.clone(), published.clone(), sent.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            for seq in 1..=burst {
                tick.tick().await;
                let before = now_ms();
                for p in PROVIDERS {
                    p.publish(&desk.emu, "k", seq);
                }
                sent.lock().unwrap().insert(seq, (before, now_ms()));
                published.store(seq, Ordering::SeqCst);
            }
        })
    };
    let mut points: Vec<u64> = (0..kills).map(|_| 1 + rng.below(burst - 1)).collect();
    points.sort_unstable();
    let started = Instant::now();
    let mut killed_at = Vec::new();
    // Notifications recorded when each run ended: they split the record by run.
    let mut run_ends = Vec::new();
    let mut restart_ms = Vec::new();
    for point in &points {
        while published.load(Ordering::SeqCst) < *point && !publisher.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        killed_at.push(published.load(Ordering::SeqCst));
        app.signal("KILL");
        let status = app.wait_exit(Duration::from_secs(10)).await;
        assert!(!status.success(), "killed: {status:?}");
        run_ends.push(desk.notes.notifications().len());
        let restarting = Instant::now();
        app = desk.spawn(&[]);
        desk.wait_subscribed(&mut app).await;
        restart_ms.push(restarting.elapsed().as_millis());
    }
    publisher.await.unwrap();
    // A last urgent event on each account; once all three are notified, everything
    // before them on those connections has come.
    let sentinel = sentinel_after(burst);
    for p in PROVIDERS {
        p.publish(&desk.emu, "k", sentinel);
    }
    wait_until("the sentinels stored", Duration::from_secs(120), || {
        PROVIDERS.iter().all(|p| desk.newest(&account(*p)).is_some_and(|e| {
            [e["subject"].as_str(), e["excerpt"].as_str()].into_iter().flatten().find_map(seq_of) == Some(sentinel)
        }))
    })
    .await;
    // Their notifications (or, had a catch-up burst been summarised, the summary
    // after the coalescing window): up to 10 s.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(10) {
        if per_seq(&desk.notes.notifications()).get(&sentinel).is_some_and(|runs| runs.len() >= PROVIDERS.len()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = app.stop("TERM", Duration::from_secs(30)).await;
    assert!(status.success(), "a clean stop at the end: {status:?}");
    let took = started.elapsed();
    let rows = desk.export();
    let notes = desk.notes.notifications();
    let sent = sent.lock().unwrap().clone();

    // Notifications per (seq, account), with the run each came in.
    let mut per: HashMap<(u64, String), Vec<usize>> = HashMap::new();
    let mut summaries = 0;
    for (i, n) in notes.iter().enumerate() {
        let Some(seq) = seq_of(&n.summary).or_else(|| seq_of(&n.body)) else {
            summaries += 1;
            continue;
        };
        let run = run_ends.iter().filter(|end| **end <= i).count();
        per.entry((seq, provider_of(&n.summary, &n.body))).or_default().push(run);
    }
    let mut failures = Vec::new();
    for p in PROVIDERS {
        let c = counted(&rows, &account(p));
        let lost: Vec<u64> = (1..=burst).filter(|s| !c.stored(*s)).collect();
        let lost_sent: Vec<Sent> = lost.iter().map(|s| Sent { seq: *s, before_ms: sent[s].0, after_ms: sent[s].1 }).collect();
        let (_, in_flight, unexplained) = c.classify(lost_sent.iter());
        let outside: Vec<u64> = in_flight.iter().chain(&unexplained).map(|s| s.seq).collect();
        let twice = c.stored_twice();
        let mine: Vec<(&(u64, String), &Vec<usize>)> = per.iter().filter(|((_, who), _)| who == p.name()).collect();
        let dup: Vec<_> = mine.iter().filter(|(_, runs)| runs.len() > 1).collect();
        let within_a_run = dup.iter().filter(|(_, runs)| runs.windows(2).any(|w| w[0] == w[1])).count();
        let urgent_unnotified = (1..=burst).filter(|s| is_urgent(*s) && c.stored(*s) && !per.contains_key(&(*s, p.name().into()))).count();
        figure(
            test,
            &format!(
                "{}: kills={kills} burst={burst} lost={} lost_outside_gap={} (uncommitted at the kill, received before the gap's start: {}) stored_twice={} gaps={} notified_twice={} \
                 (across a kill: {}, within one run: {within_a_run}) urgent_not_notified={urgent_unnotified}",
                p.name(),
                lost.len(),
                outside.len(),
                in_flight.len(),
                twice.len(),
                c.gaps.len(),
                dup.len(),
                dup.len() - within_a_run,
            ),
        );
        for s in outside.iter().take(5) {
            let (b, a) = sent[s];
            let _ = a;
            eprintln!("  {}: #{s} lost outside every gap (published at {b} ms, {})", p.name(), nearest_gap(&c, b));
        }
        if p.catches_up() && !lost.is_empty() {
            failures.push(format!("{}: {} lost ({:?}...)", p.name(), lost.len(), &lost[..lost.len().min(10)]));
        }
        if !unexplained.is_empty() {
            failures.push(format!("{}: {} lost outside every gap entry, not in flight at a kill", p.name(), unexplained.len()));
        }
        if !twice.is_empty() {
            failures.push(format!("{}: stored twice {twice:?}", p.name()));
        }
        if within_a_run > 0 {
            failures.push(format!("{}: {within_a_run} notified twice within one run", p.name()));
        }
        // Not a failure here (the issue asks for duplicates to be counted and
        // explained): an urgent event committed while its alert still waited for the
        // notifier is never alerted after a SIGKILL. RELIABILITY.md reports it.
    }
    restart_ms.sort_unstable();
    figure(
        test,
        &format!(
            "killed after {killed_at:?} events published; {} notifications, {summaries} of them summaries; restart to subscribed p50 {} ms, max {} ms; took {:.1} s",
            notes.len(),
            restart_ms.get(restart_ms.len() / 2).copied().unwrap_or(0),
            restart_ms.last().copied().unwrap_or(0),
            took.as_secs_f64()
        ),
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The provider a notification is about: the text says it (ids carry the provider name
/// only in the history, so the subject's form tells): daimon and AgentMail carry a
/// subject; the topic platform's summary is its event type.
fn provider_of(summary: &str, body: &str) -> String {
    if summary.starts_with("chaos#") {
        // daimon's sender is a@b.c, AgentMail's body names its inbox.
        if body.contains("ops@agentmail.to") { "agentmail" } else { "daimon" }.into()
    } else {
        "bivariant".into()
    }
}

fn per_seq(notes: &[tocsin_e2e::notifications::Recorded]) -> HashMap<u64, Vec<String>> {
    let mut per: HashMap<u64, Vec<String>> = HashMap::new();
    for n in notes {
        if let Some(seq) = seq_of(&n.summary).or_else(|| seq_of(&n.body)) {
            per.entry(seq).or_default().push(provider_of(&n.summary, &n.body));
        }
    }
    per
}

