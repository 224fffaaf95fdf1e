//! Tocsin's benchmarks: what `scripts/bench.sh` runs and `BENCHMARKS.md` reports.
//!
//! Owns: the criterion micro-benchmarks (`benches/`: frame decoding per provider,
//! rule evaluation with 100 rules, batched history inserts with the full-text index,
//! search over 1 000 000 stored events), the end-to-end harness (`bin/e2e.rs`: the
//! emulator → `tocsin run --headless` → a recording notification server on a private
//! session bus), the floor baseline (`bin/floor.rs`, a bare tokio-tungstenite client)
//! and the report (`bin/report.rs`, the figures table from `artifacts/bench/*.json`).
//! The Python baseline is `baseline/agentmail_notify.py`.
//!
//! Must not: be a test. Nothing here asserts a timing; figures are measured and
//! written down, and the targets are compared in the report only.
//!
//! This module holds what the benches and binaries share: frames and events per
//! provider, the 100-rule set, the synthetic history, percentiles, CLOCK_MONOTONIC
//! timestamps that agree across processes, and `/proc` readers (PSS, context
//! switches, CPU time).

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tocsin_model::{Event, Provider, Tier};
use tocsin_providers::{Adapter, AuthMode, Endpoint, Inbound, Session, Subscriptions};

pub mod procfs;
pub mod recorder;

/// The workspace root (`CARGO_MANIFEST_DIR/..`).
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ has a parent").to_path_buf()
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { workspace_dir().join(t) })
        .unwrap_or_else(|| workspace_dir().join("target"))
}

/// Where benchmark results go: `TOCSIN_BENCH_OUT`, else `<workspace>/artifacts/bench`.
pub fn out_dir() -> PathBuf {
    let dir = std::env::var_os("TOCSIN_BENCH_OUT")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("artifacts/bench"));
    std::fs::create_dir_all(&dir).expect("create the benchmark output directory");
    dir
}

/// Writes `value` as pretty JSON to `<out_dir>/<name>.json` and says where.
pub fn write_result(name: &str, value: &Value) -> PathBuf {
    let path = out_dir().join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(value).expect("JSON")).expect("write the result");
    eprintln!("wrote {}", path.display());
    path
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process on this machine, so
/// a send time taken in the harness and an arrival time taken in another process
/// compare directly.
pub fn mono_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Summary statistics of a set of samples (any unit).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentiles of `samples` (sorted in place).
pub fn stats(samples: &mut [f64]) -> Stats {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = samples.len();
    let pick = |q: f64| -> f64 {
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        samples[rank - 1]
    };
    Stats {
        n,
        min: samples.first().copied().unwrap_or(f64::NAN),
        p50: pick(0.50),
        p95: pick(0.95),
        p99: pick(0.99),
        max: samples.last().copied().unwrap_or(f64::NAN),
        mean: if n == 0 { f64::NAN } else { samples.iter().sum::<f64>() / n as f64 },
    }
}

// ---------------------------------------------------------------------------------
// Frames and events

/// Every provider, in the order the tables list them.
pub const PROVIDERS: [Provider; 5] = [Provider::Daimon, Provider::AgentMail, Provider::Prismer, Provider::Divinci, Provider::Bivariant];

/// An adapter for `provider` as the engine builds one (loopback URL, default auth).
pub fn adapter(provider: Provider) -> Box<dyn Adapter> {
    let (url, auth, subs) = match provider {
        Provider::Daimon => ("ws://127.0.0.1:9/v1/stream", AuthMode::Bearer, Subscriptions::default()),
        Provider::AgentMail => ("ws://127.0.0.1:9/v0", AuthMode::Bearer, Subscriptions::default()),
        Provider::Prismer => ("ws://127.0.0.1:9/ws", AuthMode::Query, Subscriptions::default()),
        Provider::Divinci => ("ws://127.0.0.1:9/ws/chat/thr_demo", AuthMode::Token, Subscriptions::default()),
        Provider::Bivariant => (
            "ws://127.0.0.1:9/v1/ws",
            AuthMode::Bearer,
            Subscriptions { topics: vec![format!("events.{}.>", tocsin_emulator::bivariant::ORG)], ..Default::default() },
        ),
    };
    tocsin_providers::adapter_for(provider, &Endpoint::new(url, auth), &subs).expect("a valid adapter")
}

/// One realistic message frame of `provider`, as its server sends it (built with the
/// emulator's own frame builders), number `n`, with this subject and body.
pub fn frame(provider: Provider, n: u64, subject: &str, body: &str, urgent: bool) -> Value {
    let labels: &[&str] = if urgent { &["received", "unread", "priority"] } else { &["received", "unread"] };
    match provider {
        Provider::Daimon => {
            let mut f = json!({"type": "message.received", "inbox_id": "inbox_ops", "account_id": "acc_bench",
                "payload": {"message": tocsin_emulator::demo::message(n, "inbox_ops", "Ops Bot <bot@example.com>", subject, body, labels)}});
            f["event_id"] = json!(format!("evt_{n:08}"));
            f["timestamp"] = json!("2026-03-16T10:30:45.123Z");
            f["replayed"] = json!(false);
            f
        }
        Provider::AgentMail => tocsin_emulator::agentmail::message_received(
            &format!("evt_{n:08}"),
            "agent@agentmail.to",
            "Ops Bot <bot@example.com>",
            subject,
            body,
            labels,
        ),
        Provider::Prismer => {
            let mut f = tocsin_emulator::prismer::message_new(&format!("msg_{n}"), "conv_ops", "usr_bot", &format!("{subject}\n\n{body}"));
            f["ackId"] = json!(format!("ack_{n}"));
            f
        }
        Provider::Divinci => tocsin_emulator::divinci::message_created(&format!("msg_{n}"), "thr_demo", &format!("{subject}\n\n{body}")),
        Provider::Bivariant => {
            let mut f = tocsin_emulator::bivariant::message_posted(&format!("evt_{n}"), "conv_ops", &format!("{subject}\n\n{body}"));
            f["subscription"] = json!(format!("events.{}.>", tocsin_emulator::bivariant::ORG));
            f
        }
    }
}

/// Decodes `text` with `adapter` into the event it carries (panics on a control frame).
pub fn decode(adapter: &dyn Adapter, session: &Session, text: &str) -> Event {
    match adapter.decode_in(session, text, 1_773_657_045_123).expect("a decodable frame") {
        Inbound::Event(e) => *e,
        Inbound::Control(c) => panic!("expected an event, got {c:?}"),
        Inbound::Ephemeral(e) => panic!("expected an event, got {e:?}"),
    }
}

/// The session the benches decode with.
pub fn session() -> Session {
    Session { user_id: Some("usr_me".into()), ..Session::new("bench") }
}

// ---------------------------------------------------------------------------------
// Synthetic mail

const WORDS: &[&str] = &[
    "invoice", "deploy", "database", "customer", "report", "meeting", "weekly", "password", "reset", "shipment",
    "payment", "failed", "succeeded", "review", "request", "approval", "contract", "renewal", "incident", "outage",
    "latency", "alert", "cluster", "backup", "restore", "migration", "schema", "release", "candidate", "rollback",
    "ticket", "support", "escalation", "refund", "order", "delivery", "tracking", "quarterly", "budget", "forecast",
    "hiring", "interview", "offer", "onboarding", "security", "audit", "compliance", "certificate", "expiry", "domain",
    "newsletter", "webinar", "invitation", "calendar", "agenda", "minutes", "draft", "proposal", "feedback", "survey",
    "agent", "pipeline", "webhook", "retry", "timeout", "quota", "limit", "usage", "billing", "subscription",
    "kubernetes", "postgres", "redis", "nginx", "terraform", "grafana", "prometheus", "sentry", "stripe", "github",
];
const NAMES: &[&str] = &["ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "alan", "radia"];
const DOMAINS: &[&str] = &["example.com", "bigcustomer.com", "vendor.io", "ops.example.org", "mail.agents.dev"];

/// A deterministic generator of plausible subjects, senders and bodies (word
/// frequencies skewed, so some terms are common and some rare, as in real mail).
pub struct MailGen {
    rng: rand::rngs::StdRng,
}

impl MailGen {
    pub fn new(seed: u64) -> Self {
        MailGen { rng: rand::rngs::StdRng::seed_from_u64(seed) }
    }

    fn word(&mut self) -> &'static str {
        // Skewed: squaring a uniform draw favours the first words.
        let u: f64 = self.rng.random();
        WORDS[((u * u) * WORDS.len() as f64) as usize % WORDS.len()]
    }

    fn words(&mut self, n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(self.word());
        }
        s
    }

    /// (subject, sender, body) of message `n`.
    pub fn mail(&mut self, n: u64) -> (String, String, String) {
        let subject_len = self.rng.random_range(3..8);
        let mut subject = self.words(subject_len);
        subject.push_str(&format!(" #{n}"));
        let name = NAMES[self.rng.random_range(0..NAMES.len())];
        let domain = DOMAINS[self.rng.random_range(0..DOMAINS.len())];
        let sender = format!("{name}@{domain}");
        let body_len = self.rng.random_range(20..60);
        let body = self.words(body_len);
        (subject, sender, body)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }
}

/// `n` decoded events of `provider` with generated content, deduplicated by `tag`.
pub fn events(provider: Provider, n: usize, tag: &str, seed: u64) -> Vec<Event> {
    let adapter = adapter(provider);
    let session = session();
    let mut gen = MailGen::new(seed);
    (0..n as u64)
        .map(|i| {
            let (subject, _, body) = gen.mail(i);
            let urgent = gen.chance(0.05);
            let mut e = decode(adapter.as_ref(), &session, &frame(provider, i, &subject, &body, urgent).to_string());
            e.dedupe_key = format!("{tag}:{i}");
            e
        })
        .collect()
}

/// An agentmail event for the history with generated content (what the 1M database holds).
pub fn history_event(gen: &mut MailGen, adapter: &dyn Adapter, session: &Session, n: u64) -> tocsin_store::NewEvent {
    let (subject, sender, body) = gen.mail(n);
    let urgent = gen.chance(0.03);
    let f = tocsin_emulator::agentmail::message_received(&format!("evt_{n:09}"), "agent@agentmail.to", &sender, &subject, &body, &[]);
    let mut event = decode(adapter, session, &f.to_string());
    event.received_at_ms = 1_700_000_000_000 + n as i64 * 1000;
    // Keep the stored frame small, as a real one is a few hundred bytes more at most.
    event.raw = json!({"event_id": format!("evt_{n:09}")});
    tocsin_store::NewEvent { event, tier: if urgent { Tier::Urgent } else { Tier::Normal } }
}

// ---------------------------------------------------------------------------------
// The 100-rule set

/// 100 enabled rules of every condition type, written as a user would (VIP senders,
/// keywords, regexes, labels, topics, provider types); most events fall through many
/// of them before one decides. The last rule is a catch-all.
pub fn hundred_rules_toml() -> String {
    let mut out = String::new();
    for i in 0..99 {
        let (when, tier) = match i % 9 {
            0 => (format!("sender = [\"vip{i}@bigcustomer{i}.com\", \"@partner{i}.example\"]"), "urgent"),
            1 => (format!("subject_contains = [\"outage zone {i}\", \"sev{i}\"]"), "urgent"),
            2 => (format!("subject_regex = \"(?i)^(re: )?incident #{i}[0-9]+\""), "high"),
            3 => (format!("labels = [\"team-{i}\", \"escalated-{i}\"]"), "high"),
            4 => (format!("provider = [\"bivariant\"], topic = [\"events.org_{i}.*.failed\", \"deploy.{i}.>\"]"), "high"),
            5 => (format!("provider_type = [\"message.custom{i}.*\", \"*.spam{i}\"]"), "low"),
            6 => (format!("text_contains = [\"unsubscribe from list {i}\"]"), "low"),
            7 => (format!("inbox = [\"inbox_team_{i}\"], kind = [\"message_received\"]"), "normal"),
            _ => (format!("sender = [\"*@*.noreply{i}.com\", \"bot-?@ci{i}.io\"]"), "low"),
        };
        out.push_str(&format!("[[rules]]\nname = \"rule {i}\"\nwhen = {{ {when} }}\nthen = {{ tier = \"{tier}\" }}\n\n"));
    }
    out.push_str("[[rules]]\nname = \"everything else\"\nwhen = { always = true }\nthen = { tier = \"normal\" }\n");
    out
}

// ---------------------------------------------------------------------------------
// The 1 000 000-event history for the search benchmark

/// Events in the search database.
pub const SEARCH_EVENTS: u64 = 1_000_000;

/// `target/bench-data/search-1m/history.db`, built once by [`ensure_search_db`].
pub fn search_db_path() -> PathBuf {
    target_dir().join("bench-data/search-1m/history.db")
}

/// Builds the 1 000 000-event history (batched inserts through [`tocsin_store::Store`],
/// 1024 a transaction as the engine writes them) unless a complete one is there.
/// Returns its path.
pub async fn ensure_search_db() -> anyhow::Result<PathBuf> {
    let path = search_db_path();
    let done = path.with_file_name("complete");
    if done.exists() {
        return Ok(path);
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    eprintln!("building {} events into {} (once; reused afterwards)", SEARCH_EVENTS, path.display());
    let started = std::time::Instant::now();
    let store = tocsin_store::Store::open(&path).await?;
    let adapter = adapter(Provider::AgentMail);
    let session = session();
    let mut gen = MailGen::new(1);
    let mut n = 0;
    while n < SEARCH_EVENTS {
        let batch: Vec<_> = (n..(n + 1024).min(SEARCH_EVENTS)).map(|i| history_event(&mut gen, adapter.as_ref(), &session, i)).collect();
        n += batch.len() as u64;
        store.insert_batch(&batch).await?;
        if n % 100_352 < 1024 {
            eprintln!("  {n} events, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    store.close().await;
    std::fs::write(&done, format!("{SEARCH_EVENTS}\n"))?;
    eprintln!("built in {:.0} s", started.elapsed().as_secs_f64());
    Ok(path)
}

/// The search terms the search benchmark asks for: a common word, a rare word, two
/// words, a prefix, a phrase, a sender and a word that never occurs.
pub const SEARCH_QUERIES: &[(&str, &str)] = &[
    ("common word", "invoice"),
    ("rare word", "prometheus"),
    ("two words", "payment failed"),
    ("prefix", "deplo"),
    ("phrase", "\"customer report\""),
    ("sender", "grace"),
    ("no match", "zyzzyva"),
];

/// Whether `path` exists (for messages).
pub fn exists(path: &Path) -> bool {
    path.exists()
}
