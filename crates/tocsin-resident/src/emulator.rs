//! `tocsin emulator`: the provider emulator on 127.0.0.1, until Ctrl-C.

use std::time::Duration;

use tocsin_emulator::{DemoConfig, Emulator, EmulatorConfig};

use crate::cli::EmulatorArgs;

pub fn run(args: &EmulatorArgs) -> anyhow::Result<()> {
    let keys = if args.keys.is_empty() { vec!["dm_live_emulator".to_owned()] } else { args.keys.clone() };
    let config = EmulatorConfig {
        keys,
        demo: args.demo_traffic.then(|| DemoConfig {
            interval: Duration::from_millis(args.interval_ms.max(1)),
            ..DemoConfig::default()
        }),
        ..EmulatorConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let emulator = Emulator::bind(([127, 0, 0, 1], args.port).into(), config).await?;
        println!("tocsin emulator listening on {}", emulator.local_addr());
        println!("daimon.email: {}", emulator.daimon_url());
        println!("control: POST http://{}/_emulator/daimon/publish", emulator.local_addr());
        crate::signals::terminated().await;
        emulator.shutdown().await;
        anyhow::Ok(())
    })
}
