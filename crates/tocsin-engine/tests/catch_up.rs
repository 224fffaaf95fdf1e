//! Nothing sent while Tocsin was away is lost: for each of the five providers,
//! events sent while the app is stopped, while its connection is cut, and around a
//! server restart reach the history exactly once where the provider can catch up,
//! and are covered by a gap entry (naming the account and the span) where it
//! cannot. Real emulator on loopback (which behaves as the real servers were
//! observed to), real SQLite file, the real engine stopped and started again.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tocsin_emulator::{Emulator, EmulatorConfig};
use tocsin_engine::{Config, ConnState, Engine, EngineOptions};
use tocsin_model::{Event, EventKind};

mod support;
use support::{wait_until, Recorder};

#[derive(Debug, Clone, Copy, PartialEq)]
enum P {
    Daimon,
    AgentMail,
    Prismer,
    Divinci,
    Bivariant,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Away {
    /// The app is shut down, then started again on the same history.
    Stopped,
    /// The connection drops; the app reconnects after its backoff.
    Cut,
    /// The server restarts (what it kept in memory is gone).
    Restart,
}

/// What must happen to events sent while away.
#[derive(Debug, PartialEq)]
enum Expect {
    ExactlyOnce,
    /// A gap entry covers them (they may or may not arrive, never twice).
    Gap,
}

impl P {
    fn name(self) -> &'static str {
        match self {
            P::Daimon => "daimon",
            P::AgentMail => "agentmail",
            P::Prismer => "prismer",
            P::Divinci => "divinci",
            P::Bivariant => "bivariant",
        }
    }

    fn expect(self, away: Away) -> Expect {
        match (self, away) {
            (P::AgentMail | P::Prismer, _) => Expect::ExactlyOnce,
            // The replay buffer is memory: a restart loses it, and the server says so.
            (P::Daimon, Away::Restart) => Expect::Gap,
            (P::Daimon, _) => Expect::ExactlyOnce,
            (P::Divinci | P::Bivariant, _) => Expect::Gap,
        }
    }

    fn account_toml(self, emu: &Emulator, account: &str) -> String {
        let (url, extra) = match self {
            P::Daimon => (emu.daimon_url(), ""),
            // No inbox configured: every inbox the key lists is caught up.
            P::AgentMail => (emu.agentmail_url(), "auth = \"query\"\n"),
            P::Prismer => (emu.prismer_url(), "auth = \"query\"\n"),
            P::Divinci => (emu.divinci_chat_url("thr_5"), "auth = \"token\"\n"),
            P::Bivariant => (emu.bivariant_url(), "topics = [\"events.org_123.>\"]\n"),
        };
        format!(
            "[[accounts]]\nname = \"{account}\"\nprovider = \"{}\"\nurl = \"{url}\"\n{extra}\
             [accounts.backoff]\nbase_ms = 2000\ncap_ms = 2000\n",
            self.name()
        )
    }

    /// Publishes one message whose text (or subject) is `text`.
    fn publish(self, emu: &Emulator, id: &str, text: &str) {
        match self {
            P::Daimon => {
                emu.daimon().publish(json!({"event_id": id, "type": "message.received", "inbox_id": "inbox_ops",
                    "payload": {"message": {"id": id, "from": "a@b.c", "subject": text, "body": text, "labels": []}}}));
            }
            P::AgentMail => emu.agentmail().publish(tocsin_emulator::agentmail::message_received(
                id, "ops@agentmail.to", "a@b.c", text, text, &["received"],
            )),
            P::Prismer => emu.prismer().publish(tocsin_emulator::prismer::message_new(id, "conv", "usr_other", text)),
            P::Divinci => emu.divinci().publish(tocsin_emulator::divinci::message_created(id, "thr_5", text)),
            P::Bivariant => emu.bivariant().publish(tocsin_emulator::bivariant::message_posted(id, "conv_5", text)),
        }
    }
}

struct Setup {
    emu: Emulator,
    options: EngineOptions,
    account: String,
    _dir: tempfile::TempDir,
}

async fn setup(p: P, away: Away) -> Setup {
    let account = format!("{}_{:?}", p.name(), away).to_lowercase();
    let key = format!("k_{account}_key");
    std::env::set_var(tocsin_secrets::env_var_name(&account), &key);
    let emu = Emulator::bind(([127, 0, 0, 1], 0).into(), EmulatorConfig { keys: vec![key], ..Default::default() })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        config: Config::parse(&p.account_toml(&emu, &account), "test").unwrap(),
        data_dir: dir.path().to_path_buf(),
        force_demo: false,
        demo_interval: Duration::from_secs(1),
    };
    Setup { emu, options, account, _dir: dir }
}

async fn start(options: &EngineOptions) -> Engine {
    let engine = Engine::start(options.clone(), Arc::new(Recorder::default())).await.unwrap();
    wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    engine
}

/// Every stored event, oldest first.
async fn events(engine: &Engine) -> Vec<Event> {
    let mut out = Vec::new();
    for item in engine.history(1000, None).await.unwrap().into_iter().rev() {
        out.extend(engine.store().event(item.id).await.unwrap());
    }
    out
}

fn has_text(e: &Event, text: &str) -> bool {
    e.text.as_deref() == Some(text) || e.subject.as_deref() == Some(text)
}

/// Polls the history until `f` holds (10 s at most).
async fn wait_history(engine: &Engine, what: &str, f: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let all = events(engine).await;
        if f(&all) {
            return all;
        }
        if tokio::time::Instant::now() > deadline {
            let texts: Vec<_> = all.iter().map(|e| (e.kind, e.text.clone())).collect();
            panic!("timed out waiting for {what}; history: {texts:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn scenario(p: P, away: Away) {
    let s = setup(p, away).await;
    let emu = &s.emu;
    let tag = format!("{}-{:?}", p.name(), away);
    let mut engine = start(&s.options).await;
    p.publish(emu, &format!("{tag}-before"), &format!("{tag} before"));
    wait_history(&engine, "the first message", |all| all.iter().any(|e| has_text(e, &format!("{tag} before")))).await;

    match away {
        Away::Stopped => engine.shutdown().await,
        Away::Cut | Away::Restart => {
            let scenarios = emu.scenarios(p.name()).expect("a provider the emulator knows");
            if away == Away::Cut {
                scenarios.drop_connections();
            } else {
                scenarios.restart();
            }
            // Down for the backoff's 1-2 s: publish while it waits.
            wait_until(|| matches!(engine.snapshot().accounts[0].state, ConnState::Reconnecting { .. })).await;
        }
    }
    let missed: Vec<String> = (1..=3).map(|n| format!("{tag} missed {n}")).collect();
    let went_away = tocsin_model::now_ms();
    for (n, text) in missed.iter().enumerate() {
        p.publish(emu, &format!("{tag}-missed-{n}"), text);
    }
    let published = tocsin_model::now_ms();
    if away == Away::Stopped {
        engine = start(&s.options).await;
    } else {
        wait_until(|| engine.snapshot().accounts[0].state == ConnState::Subscribed).await;
    }

    match p.expect(away) {
        Expect::ExactlyOnce => {
            wait_history(&engine, "every missed message", |all| missed.iter().all(|m| all.iter().any(|e| has_text(e, m)))).await;
        }
        Expect::Gap => {
            let all = wait_history(&engine, "a gap entry covering the time away", |all| {
                all.iter().any(|e| {
                    e.kind == EventKind::Gap
                        && e.account == s.account
                        && e.raw["from_ms"].as_i64().is_some_and(|f| f <= went_away)
                        && e.raw["to_ms"].as_i64().is_some_and(|t| t >= published)
                })
            })
            .await;
            let gap = all.iter().find(|e| e.kind == EventKind::Gap).unwrap();
            let text = gap.text.as_deref().unwrap();
            assert!(text.contains(&s.account) && text.contains(" from ") && text.contains(" to "), "{text}");
        }
    }
    // A live message after the catch-up: anything that would arrive twice has by now.
    p.publish(emu, &format!("{tag}-after"), &format!("{tag} after"));
    let all = wait_history(&engine, "the message after", |all| all.iter().any(|e| has_text(e, &format!("{tag} after")))).await;
    for text in missed.iter().chain([&format!("{tag} before")]) {
        let n = all.iter().filter(|e| has_text(e, text)).count();
        assert!(n <= 1, "{text:?} stored {n} times");
        if p.expect(away) == Expect::ExactlyOnce {
            assert_eq!(n, 1, "{text:?}");
        }
    }
    let gaps = all.iter().filter(|e| e.kind == EventKind::Gap).count();
    if p.expect(away) == Expect::ExactlyOnce {
        assert_eq!(gaps, 0, "nothing was lost, so no gap entry");
    }
    engine.shutdown().await;
    s.emu.shutdown().await;
}

macro_rules! scenarios {
    ($($name:ident: $p:expr, $away:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            scenario($p, $away).await;
        }
    )*};
}

scenarios! {
    daimon_while_stopped: P::Daimon, Away::Stopped;
    daimon_while_cut: P::Daimon, Away::Cut;
    daimon_around_a_server_restart: P::Daimon, Away::Restart;
    agentmail_while_stopped: P::AgentMail, Away::Stopped;
    agentmail_while_cut: P::AgentMail, Away::Cut;
    agentmail_around_a_server_restart: P::AgentMail, Away::Restart;
    prismer_while_stopped: P::Prismer, Away::Stopped;
    prismer_while_cut: P::Prismer, Away::Cut;
    prismer_around_a_server_restart: P::Prismer, Away::Restart;
    divinci_while_stopped: P::Divinci, Away::Stopped;
    divinci_while_cut: P::Divinci, Away::Cut;
    divinci_around_a_server_restart: P::Divinci, Away::Restart;
    bivariant_while_stopped: P::Bivariant, Away::Stopped;
    bivariant_while_cut: P::Bivariant, Away::Cut;
    bivariant_around_a_server_restart: P::Bivariant, Away::Restart;
}

/// A long outage: more missed mail than one listing page holds (100) is fetched page
/// by page (`next_page_token`), for the inbox the key lists, all of it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agentmail_a_long_outage_is_caught_up_page_by_page() {
    let s = setup(P::AgentMail, Away::Stopped).await;
    let engine = start(&s.options).await;
    P::AgentMail.publish(&s.emu, "long-0", "long before");
    wait_history(&engine, "the first message", |all| all.iter().any(|e| has_text(e, "long before"))).await;
    engine.shutdown().await;
    const MISSED: usize = 250;
    for n in 0..MISSED {
        P::AgentMail.publish(&s.emu, &format!("long-{}", n + 1), &format!("long missed {n}"));
    }
    let engine = start(&s.options).await;
    let all = wait_history(&engine, "every missed message", |all| {
        all.iter().filter(|e| e.text.as_deref().is_some_and(|t| t.starts_with("long missed"))).count() >= MISSED
    })
    .await;
    for n in 0..MISSED {
        let text = format!("long missed {n}");
        assert_eq!(all.iter().filter(|e| has_text(e, &text)).count(), 1, "{text}");
    }
    let pages = s.emu.agentmail().commands().iter().filter(|c| c["rest"] == "GET messages").count();
    assert!(pages >= 3, "250 messages take three pages of 100: {pages}");
    engine.shutdown().await;
    s.emu.shutdown().await;
}
