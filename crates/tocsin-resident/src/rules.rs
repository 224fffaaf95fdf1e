//! `tocsin rules export|import|test` and `tocsin attention export|import`: the
//! urgency rules and the attention policy from the command line. With Tocsin
//! running, they go through it (and apply at once); otherwise through the
//! engine's settings module on the history file.

use std::io::Read;

use tocsin_control::Request;
use tocsin_engine::attention::AttentionSettings;
use tocsin_engine::settings;
use tocsin_model::rules::CompiledRuleSet;
use tocsin_store::Store;

use crate::cli::{AttentionCommand, GlobalArgs, RulesCommand};

fn read_input(file: &std::path::Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))
    }
}

async fn with_store<T>(args: &GlobalArgs, f: impl AsyncFnOnce(&Store) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let path = crate::paths::data_dir(args)?.join("history.db");
    let store = Store::open(&path).await?;
    let result = f(&store).await;
    store.close().await;
    result
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

pub fn run(args: &GlobalArgs, command: &RulesCommand) -> anyhow::Result<()> {
    match command {
        RulesCommand::Import { file } => {
            let text = read_input(file)?;
            let count = settings::compile_rules(&text).map_err(|e| anyhow::anyhow!(crate::live::describe(&e)))?.rule_set().rules.len();
            let live = crate::live::if_running(async |c| Ok(c.call::<()>(Request::RulesSet { toml: text.clone() }).await?))?;
            if live.is_some() {
                println!("imported {count} rules; the running Tocsin uses them now");
            } else {
                runtime()?.block_on(with_store(args, async |store| Ok(settings::save_rules(store, &text).await?)))?;
                println!("imported {count} rules; Tocsin uses them when it starts");
            }
            Ok(())
        }
        RulesCommand::Export => runtime()?.block_on(with_store(args, async |store| {
            print!("{}", settings::rules(store).await.rule_set().to_toml()?);
            Ok(())
        })),
        RulesCommand::Test { id } => runtime()?.block_on(with_store(args, async |store| {
            let event = store.event(*id).await?.ok_or_else(|| anyhow::anyhow!("event {id} is not in the history"))?;
            let decision = settings::rules(store).await.evaluate(&event);
            println!(
                "{}",
                serde_json::json!({
                    "rule": decision.rule,
                    "tier": decision.tier,
                    "notify": decision.notify,
                    "sound": decision.sound,
                    "default": CompiledRuleSet::defaults().evaluate(&event).tier,
                })
            );
            Ok(())
        })),
    }
}

pub fn attention(args: &GlobalArgs, command: &AttentionCommand) -> anyhow::Result<()> {
    match command {
        AttentionCommand::Export => runtime()?.block_on(with_store(args, async |store| {
            print!("{}", toml::to_string(&settings::attention(store).await)?);
            Ok(())
        })),
        AttentionCommand::Import { file } => {
            let settings: AttentionSettings =
                toml::from_str(&read_input(file)?).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            settings.validate()?;
            let live = crate::live::if_running(async |c| {
                Ok(c.call::<()>(Request::AttentionSet { settings: settings.clone() }).await?)
            })?;
            if live.is_some() {
                println!("imported; the running Tocsin uses them now");
            } else {
                runtime()?.block_on(with_store(args, async |store| Ok(settings::save_attention(store, &settings).await?)))?;
                println!("imported; Tocsin uses them when it starts");
            }
            Ok(())
        }
    }
}
