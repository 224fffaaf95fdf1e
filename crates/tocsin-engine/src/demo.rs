//! The demo profile: an in-process emulator on a random loopback port streaming
//! demo mail, and one daimon.email account connected to it over a real WebSocket
//! with Bearer auth and a fresh random key.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tocsin_emulator::{DemoConfig, Emulator, EmulatorConfig};
use tocsin_model::Provider;
use tocsin_providers::{AuthMode, Endpoint, Subscriptions};
use tocsin_secrets::Sensitive;
use tocsin_supervisor::{Backoff, Connection, KeySource, Outgoing, DEFAULT_MAX_FRAME};

/// The demo account's name.
pub const DEMO_ACCOUNT: &str = "demo";

pub(crate) async fn start(
    interval: Duration,
    outgoing: tokio::sync::mpsc::Receiver<Outgoing>,
) -> std::io::Result<(Emulator, Connection)> {
    let mut rng = rand::rng();
    let key = format!("dm_free_demo_{:016x}", rng.random::<u64>());
    let run_id: u32 = rng.random();
    let config = EmulatorConfig {
        keys: vec![key.clone()],
        demo: Some(DemoConfig { interval, seed: rng.random(), limit: None }),
        // Ids must not repeat across runs: the history dedupes on them.
        event_id_prefix: format!("evt_demo{run_id:08x}_"),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::bind(([127, 0, 0, 1], 0).into(), config).await?;
    let endpoint = Endpoint::new(&emulator.daimon_url(), AuthMode::Bearer);
    let adapter = tocsin_providers::adapter_for(Provider::Daimon, &endpoint, &Subscriptions::default())
        .expect("daimon is supported");
    let key = Sensitive::new(key);
    let key_source: KeySource = Arc::new(move || Ok(key.clone()));
    let conn = Connection {
        account: DEMO_ACCOUNT.to_owned(),
        adapter: Arc::from(adapter),
        key: key_source,
        backoff: Backoff { base: Duration::from_millis(250), cap: Duration::from_secs(5), ..Backoff::default() },
        max_frame_bytes: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(5),
        resume: None,
        outgoing,
        rest_base: endpoint.rest_base(),
    };
    Ok((emulator, conn))
}
