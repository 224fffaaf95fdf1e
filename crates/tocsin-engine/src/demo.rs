//! The demo profile: an in-process emulator on a random loopback port streaming
//! demo traffic, and one account per provider connected to it over real
//! WebSockets (daimon Bearer, AgentMail Bearer, Prismer token, Chat SDK ticket,
//! topic platform Bearer) with a fresh random key.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tocsin_emulator::{DemoConfig, Emulator, EmulatorConfig};
use tocsin_model::Provider;
use tocsin_providers::{AuthMode, Endpoint, Subscriptions};
use tocsin_secrets::Sensitive;
use tocsin_supervisor::{Backoff, Connection, KeySource, Outgoing, DEFAULT_MAX_FRAME};

/// The demo accounts: (name, provider, auth).
const DEMO_ACCOUNTS: [(&str, Provider, AuthMode); 5] = [
    ("demo-mail", Provider::Daimon, AuthMode::Bearer),
    ("demo-agentmail", Provider::AgentMail, AuthMode::Bearer),
    ("demo-prismer", Provider::Prismer, AuthMode::Query),
    ("demo-chat", Provider::Divinci, AuthMode::Token),
    ("demo-topics", Provider::Bivariant, AuthMode::Bearer),
];

/// Starts the emulator and one connection per demo account, each with the sender
/// of its outgoing channel.
pub(crate) async fn start(interval: Duration) -> std::io::Result<(Emulator, Vec<(Connection, mpsc::Sender<Outgoing>)>)> {
    // The thread's generator is not Send: draw everything before the first await.
    let (key, run_id, seed) = {
        let mut rng = rand::rng();
        (format!("dm_free_demo_{:016x}", rng.random::<u64>()), rng.random::<u32>(), rng.random())
    };
    let config = EmulatorConfig {
        keys: vec![key.clone()],
        demo: Some(DemoConfig { interval, seed, ..DemoConfig::default() }),
        // Ids must not repeat across runs: the history dedupes on them.
        event_id_prefix: format!("evt_demo{run_id:08x}_"),
        // A few events a second: a small live buffer (the default's 65 536 slots
        // per provider were 14 MiB of the tray process, all resident).
        live_capacity: 1 << 10,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await?;
    let key = Sensitive::new(key);
    let mut out = Vec::new();
    for (name, provider, auth) in DEMO_ACCOUNTS {
        let (url, subscriptions) = match provider {
            Provider::Daimon => (emulator.daimon_url(), Subscriptions::default()),
            Provider::AgentMail => (emulator.agentmail_url(), Subscriptions::default()),
            Provider::Prismer => (emulator.prismer_url(), Subscriptions::default()),
            Provider::Divinci => (emulator.divinci_chat_url(tocsin_emulator::demo::DEMO_THREAD), Subscriptions::default()),
            Provider::Bivariant => (
                emulator.bivariant_url(),
                Subscriptions { topics: vec![format!("events.{}.>", tocsin_emulator::bivariant::ORG)], ..Default::default() },
            ),
        };
        let endpoint = Endpoint::new(&url, auth);
        let adapter = tocsin_providers::adapter_for(provider, &endpoint, &subscriptions).expect("demo accounts are valid");
        let key = key.clone();
        let key_source: KeySource = Arc::new(move || Ok(key.clone()));
        let (tx, outgoing) = mpsc::channel(8192);
        out.push((
            Connection {
                account: name.to_owned(),
                adapter: Arc::from(adapter),
                key: key_source,
                backoff: Backoff { base: Duration::from_millis(250), cap: Duration::from_secs(5), ..Backoff::default() },
                max_frame_bytes: DEFAULT_MAX_FRAME,
                connect_timeout: Duration::from_secs(5),
                resume: None,
                resume_at_ms: None,
                outgoing,
                rest_base: endpoint.rest_base(),
                ca_file: None,
                rate_limit: tocsin_supervisor::RateLimit::default(),
                names: Default::default(),
                save_key: None,
            },
            tx,
        ));
    }
    Ok((emulator, out))
}
