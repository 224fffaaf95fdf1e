//! What the chaos tests share: the mode (short for CI, long for the harness), a
//! seeded random source, the figures they print, a notifier that records alerts,
//! the five providers through the emulator, and counting what reached the history.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tocsin_emulator::Emulator;
use tocsin_engine::attention::AttentionSettings;
use tocsin_engine::{Alert, Engine, Notifier, NotifyError};
use tocsin_model::{now_ms, EventKind};

/// An engine on `toml`'s one account with its history in `data_dir`, the chaos
/// rules and attention settings, and the alerts it raises recorded; returned once
/// the account is subscribed.
pub async fn chaos_engine(toml: &str, data_dir: &std::path::Path) -> (Engine, Arc<Recorder>) {
    let options = tocsin_engine::EngineOptions {
        config: tocsin_engine::Config::parse(toml, "chaos").unwrap(),
        data_dir: data_dir.to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_secs(1),
    };
    if std::env::var_os("TOCSIN_CHAOS_DEBUG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info,tocsin_engine=debug,tocsin_store=debug").try_init();
    }
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::start(options, recorder.clone()).await.unwrap();
    engine.set_rules_toml(RULES).await.unwrap();
    engine.set_attention_settings(attention()).await.unwrap();
    wait_until("subscribed", Duration::from_secs(20), || {
        engine.snapshot().accounts[0].state == tocsin_engine::ConnState::Subscribed
    })
    .await;
    (engine, recorder)
}

/// The long versions (the harness, `scripts/chaos.sh`): `TOCSIN_CHAOS_LONG=1`.
pub fn long() -> bool {
    std::env::var("TOCSIN_CHAOS_LONG").is_ok_and(|v| v == "1")
}

/// `name` from the environment, else `short` (CI) or `long` (the harness).
pub fn knob(name: &str, short: u64, long_value: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(if long() { long_value } else { short })
}

/// The seed of this run: `TOCSIN_CHAOS_SEED`, else from the clock. Printed, so a
/// run can be repeated.
pub fn seed(what: &str) -> u64 {
    let seed = std::env::var("TOCSIN_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| now_ms() as u64 ^ u64::from(std::process::id()) << 32);
    eprintln!("{what}: seed {seed} (repeat with TOCSIN_CHAOS_SEED={seed})");
    seed
}

/// SplitMix64: small, seeded, good enough to pick moments.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Waits for events on the engine's (single) account's current connection, then a
/// random moment (up to 11 ms): where a forced drop lands in the stream.
pub async fn events_then_a_random_moment(engine: &Engine, round: u64, rng: &mut Rng) {
    let received = engine.snapshot().accounts[0].events_received;
    wait_until(&format!("events on connection {round}"), Duration::from_secs(30), || {
        engine.snapshot().accounts[0].events_received > received
    })
    .await;
    tokio::time::sleep(Duration::from_millis(rng.below(12))).await;
}

/// Prints one figure line (`CHAOS <test>: ...`) and appends it to
/// `TOCSIN_CHAOS_REPORT` when set (the harness collects them there).
pub fn figure(test: &str, line: &str) {
    let text = format!("CHAOS {test}: {line}");
    eprintln!("{text}");
    if let Some(path) = std::env::var_os("TOCSIN_CHAOS_REPORT") {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{text}");
        }
    }
}

/// Prints why a case did not run (never a silent pass) and records it as a figure.
pub fn skipped(test: &str, why: &str) {
    figure(test, &format!("SKIPPED: {why}"));
}

/// Polls `f` every 20 ms until it holds; panics with `what` after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Records every alert the engine raises (the D-Bus path is covered elsewhere; the
/// SIGKILL case uses the real one on a private bus).
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Alert>>);

impl Notifier for Recorder {
    fn notify(&self, alert: &Alert) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(alert.clone());
        Ok(())
    }
}

impl Recorder {
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Alerts per sequence number, and how many alerts carried none (summaries).
    pub fn by_seq(&self) -> (HashMap<u64, usize>, usize) {
        let mut per = HashMap::new();
        let mut other = 0;
        for a in self.0.lock().unwrap().iter() {
            match seq_of(&a.summary).or_else(|| seq_of(&a.body)) {
                Some(s) => *per.entry(s).or_default() += 1,
                None => other += 1,
            }
        }
        (per, other)
    }

    /// The sequence numbers alerted more than once.
    pub fn notified_twice(&self) -> Vec<u64> {
        self.by_seq().0.into_iter().filter(|(_, n)| *n > 1).map(|(s, _)| s).collect()
    }

    /// How many alerts the summaries stand for: a summary's text starts with its
    /// count ("50 urgent emails in 1 inbox"); reminders ("Still unread: …") repeat
    /// alerts already counted and are left out.
    pub fn summarised(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|a| seq_of(&a.summary).is_none() && seq_of(&a.body).is_none())
            .filter_map(|a| a.summary.split(' ').next()?.parse::<usize>().ok())
            .sum()
    }
}

/// Every 20th event is urgent: these rules make exactly the `[URGENT]` ones notify,
/// whatever the provider puts the text in.
pub const RULES: &str = r#"
[[rules]]
name = "chaos urgent subject"
when = { subject_contains = ["[URGENT]"] }
then = { tier = "urgent" }

[[rules]]
name = "chaos urgent text"
when = { text_contains = ["[URGENT]"] }
then = { tier = "urgent" }
"#;

/// As little coalescing as the settings allow (100 a second), so each urgent event
/// gets its own notification and can be counted (a catch-up of more than 2 000
/// events at once would still be summarised; the counts say so).
pub fn attention() -> AttentionSettings {
    AttentionSettings { coalesce_max: 100, coalesce_window_secs: 1, ..AttentionSettings::default() }
}

pub fn is_urgent(seq: u64) -> bool {
    seq % 20 == 0
}

/// An urgent sequence number past `n`: the sentinel sent after a run.
pub fn sentinel_after(n: u64) -> u64 {
    (n / 20 + 2) * 20
}

/// For a report: the gap entry nearest to a publish at `at` ms, relative to it.
pub fn nearest_gap(c: &Counted, at: i64) -> String {
    match c.gaps.iter().min_by_key(|(f, t)| (at - f).abs().min((at - t).abs())) {
        Some((f, t)) => format!("nearest gap from {:+} ms to {:+} ms", f - at, t - at),
        None => "no gap entry".into(),
    }
}

/// The text every chaos event carries: `chaos#<seq>#`, then `[URGENT]` for urgent ones.
pub fn text_of(seq: u64) -> String {
    format!("chaos#{seq}# {}", if is_urgent(seq) { "[URGENT] pager" } else { "routine" })
}

/// The sequence number in a subject, text or excerpt.
pub fn seq_of(text: &str) -> Option<u64> {
    let rest = &text[text.find("chaos#")? + 6..];
    rest[..rest.find('#')?].parse().ok()
}

/// The five providers, through the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P {
    Daimon,
    AgentMail,
    Prismer,
    Divinci,
    Bivariant,
}

pub const ALL: [P; 5] = [P::Daimon, P::AgentMail, P::Prismer, P::Divinci, P::Bivariant];

impl P {
    pub fn name(self) -> &'static str {
        match self {
            P::Daimon => "daimon",
            P::AgentMail => "agentmail",
            P::Prismer => "prismer",
            P::Divinci => "divinci",
            P::Bivariant => "bivariant",
        }
    }

    /// Whether the provider can resend what was missed (replay or REST); the others
    /// leave a gap entry (`CatchUp::Nothing`).
    pub fn catches_up(self) -> bool {
        matches!(self, P::Daimon | P::AgentMail | P::Prismer)
    }

    /// One `[[accounts]]` entry for `account`, with a fast backoff.
    pub fn account_toml(self, emu: &Emulator, account: &str, base_ms: u64, cap_ms: u64) -> String {
        let (url, extra) = match self {
            P::Daimon => (emu.daimon_url(), ""),
            P::AgentMail => (emu.agentmail_url(), "auth = \"query\"\n"),
            P::Prismer => (emu.prismer_url(), "auth = \"query\"\n"),
            P::Divinci => (emu.divinci_chat_url("thr_5"), "auth = \"token\"\n"),
            P::Bivariant => (emu.bivariant_url(), "topics = [\"events.org_123.>\"]\n"),
        };
        format!(
            "[[accounts]]\nname = \"{account}\"\nprovider = \"{}\"\nurl = \"{url}\"\nmax_events_per_sec = 0\n{extra}\
             [accounts.backoff]\nbase_ms = {base_ms}\ncap_ms = {cap_ms}\n",
            self.name()
        )
    }

    /// Publishes event number `seq` (its provider id is `<provider>_<tag>_<seq>`).
    pub fn publish(self, emu: &Emulator, tag: &str, seq: u64) {
        let id = format!("{}_{tag}_{seq}", self.name());
        let text = text_of(seq);
        match self {
            P::Daimon => {
                emu.daimon().publish(json!({"event_id": id, "type": "message.received", "inbox_id": "inbox_ops",
                    "payload": {"message": {"id": id, "from": "a@b.c", "subject": text, "body": text, "labels": []}}}));
            }
            P::AgentMail => emu.agentmail().publish(tocsin_emulator::agentmail::message_received(
                &id, "ops@agentmail.to", "a@b.c", &text, &text, &["received"],
            )),
            P::Prismer => emu.prismer().publish(tocsin_emulator::prismer::message_new(&id, "conv", "usr_other", &text)),
            P::Divinci => emu.divinci().publish(tocsin_emulator::divinci::message_created(&id, "thr_5", &text)),
            P::Bivariant => emu.bivariant().publish(tocsin_emulator::bivariant::message_posted(&id, "conv_5", &text)),
        }
    }

    pub fn drop_connections(self, emu: &Emulator) {
        emu.scenarios(self.name()).expect("a provider the emulator knows").drop_connections();
    }

    pub fn set_silent(self, emu: &Emulator, silent: bool) {
        emu.scenarios(self.name()).expect("a provider the emulator knows").set_silent(silent);
    }

    /// Connections the emulator accepted for this provider so far.
    pub fn total_connections(self, emu: &Emulator) -> u64 {
        match self {
            P::Daimon => emu.daimon().total_connections(),
            P::AgentMail => emu.agentmail().total_connections(),
            P::Prismer => emu.prismer().hub.total_connections(),
            P::Divinci => emu.divinci().total_connections(),
            P::Bivariant => emu.bivariant().total_connections(),
        }
    }

    /// The heartbeat interval (ping period) the adapter uses.
    pub fn heartbeat_interval(self) -> Duration {
        Duration::from_secs(match self {
            P::Divinci | P::Prismer => 25,
            _ => 30,
        })
    }
}

/// Sets the key variable the engine reads for `account` (headless servers only).
pub fn set_key(account: &str, key: &str) {
    let mut var = String::from("TOCSIN_KEY_");
    var.extend(account.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }));
    std::env::set_var(var, key);
}

/// What the history holds for one account: rows per sequence number, and the gap
/// entries (from, to) in ms.
#[derive(Debug, Default)]
pub struct Counted {
    pub rows: u64,
    pub per_seq: HashMap<u64, usize>,
    pub gaps: Vec<(i64, i64)>,
    /// (when it was received in ms, its number) for each stored numbered event.
    pub received: Vec<(i64, u64)>,
}

impl Counted {
    pub fn stored(&self, seq: u64) -> bool {
        self.per_seq.contains_key(&seq)
    }

    pub fn stored_twice(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.per_seq.iter().filter(|(_, n)| **n > 1).map(|(s, _)| *s).collect();
        v.sort_unstable();
        v
    }

    /// Whether a publish between `before` and `after` (ms) falls in a gap entry.
    pub fn in_gap(&self, before: i64, after: i64) -> bool {
        self.gaps.iter().any(|(from, to)| after >= *from && before <= *to)
    }

    /// For each gap entry (from, to, the number of the last event received before
    /// it started). A lost publish numbered above that and sent before the entry
    /// ended, or sent less than [`IN_FLIGHT_MS`] before the entry starts, was in
    /// flight when the connection died (queued at the server, or in the kernel's
    /// buffers): the entry starts when the server was last heard from, and a server
    /// may have accepted an event before that and never written it.
    fn gap_starts(&self) -> Vec<(i64, i64, u64)> {
        let mut received = self.received.clone();
        received.sort_unstable();
        let mut max_so_far = Vec::with_capacity(received.len());
        let mut m = 0;
        for (_, seq) in &received {
            m = m.max(*seq);
            max_so_far.push(m);
        }
        self.gaps
            .iter()
            .map(|(from, to)| {
                let i = received.partition_point(|(r, _)| r <= from);
                (*from, *to, if i == 0 { 0 } else { max_so_far[i - 1] })
            })
            .collect()
    }

    /// Lost publishes: (inside a gap entry, lost in flight just before one, neither).
    pub fn classify<'a>(&self, lost: impl Iterator<Item = &'a Sent>) -> (usize, Vec<&'a Sent>, Vec<&'a Sent>) {
        let (mut inside, mut flight, mut neither) = (0, Vec::new(), Vec::new());
        let starts = self.gap_starts();
        for s in lost {
            if self.in_gap(s.before_ms, s.after_ms) {
                inside += 1;
            } else if starts
                .iter()
                .any(|(from, to, last)| s.before_ms <= *to && (s.seq > *last || s.after_ms >= from - IN_FLIGHT_MS))
            {
                flight.push(s);
            } else {
                neither.push(s);
            }
        }
        (inside, flight, neither)
    }
}

/// How long before a gap entry's start a lost event still counts as in flight.
pub const IN_FLIGHT_MS: i64 = 100;

/// Reads the whole history of `account` from the engine (pages of 1 000).
pub async fn count(engine: &Engine, account: &str) -> Counted {
    let mut out = Counted::default();
    let mut before = None;
    loop {
        let page = engine.history(1000, before).await.expect("read the history");
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for item in page.iter().filter(|i| i.account == account) {
            out.rows += 1;
            if item.kind == EventKind::Gap {
                let event = engine.store().event(item.id).await.expect("read a gap entry").expect("the gap entry");
                let from = event.raw["from_ms"].as_i64().unwrap_or(i64::MIN);
                let to = event.raw["to_ms"].as_i64().unwrap_or(i64::MAX);
                out.gaps.push((from, to));
                continue;
            }
            let text = [item.subject.as_deref(), item.excerpt.as_deref()].into_iter().flatten().find_map(seq_of);
            if let Some(seq) = text {
                out.received.push((item.received_at_ms, seq));
                *out.per_seq.entry(seq).or_default() += 1;
            }
        }
    }
    out
}

/// One publish: its number and the wall clock just before and after.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    pub seq: u64,
    pub before_ms: i64,
    pub after_ms: i64,
}

/// Publishes numbered events of `p` every `every` until stopped.
pub struct Stream {
    pub sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream {
    pub fn start(emu: Arc<Emulator>, p: P, tag: &'static str, every: Duration) -> Stream {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (sent.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seq = 0;
            while !st.load(Ordering::SeqCst) {
                tick.tick().await;
                seq += 1;
                let before_ms = now_ms();
                p.publish(&emu, tag, seq);
                s.lock().unwrap().push(Sent { seq, before_ms, after_ms: now_ms() });
            }
        });
        Stream { sent, stop, task }
    }

    /// Stops publishing and returns everything sent.
    pub async fn stop(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        let sent = self.sent.lock().unwrap().clone();
        sent
    }
}

/// KiB as MiB, for reports.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
