//! `tocsin rules export|import|test` and `tocsin attention export|import`: the
//! urgency rules and the attention policy from the command line.

use std::io::Read;

use tocsin_model::rules::{CompiledRuleSet, RuleSet};
use tocsin_store::Store;

use crate::cli::{AttentionCommand, GlobalArgs, RulesCommand};
use tocsin_engine::attention::AttentionSettings;

/// The settings key the engine reads the rules from.
const RULES_KEY: &str = "rules";

pub fn run(args: &GlobalArgs, command: &RulesCommand) -> anyhow::Result<()> {
    let path = crate::paths::data_dir(args)?.join("history.db");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::open(&path).await?;
        let stored = store.setting(RULES_KEY).await?;
        let current = match &stored {
            Some(toml) => RuleSet::from_toml(toml)?,
            None => RuleSet::defaults(),
        };
        match command {
            RulesCommand::Export => print!("{}", current.to_toml()?),
            RulesCommand::Import { file } => {
                let text = if file.as_os_str() == "-" {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s
                } else {
                    std::fs::read_to_string(file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
                };
                let rules = RuleSet::from_toml(&text)?;
                rules.compile()?;
                store.set_setting(RULES_KEY, &rules.to_toml()?).await?;
                println!("imported {} rules; a running Tocsin uses them after a restart", rules.rules.len());
            }
            RulesCommand::Test { id } => {
                let event = store.event(*id).await?.ok_or_else(|| anyhow::anyhow!("event {id} is not in the history"))?;
                let decision = current.compile()?.evaluate(&event);
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
            }
        }
        store.close().await;
        anyhow::Ok(())
    })
}

/// The settings key the engine reads the attention policy from (JSON).
const ATTENTION_KEY: &str = "attention";

fn read_input(file: &std::path::Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))
    }
}

pub fn attention(args: &GlobalArgs, command: &AttentionCommand) -> anyhow::Result<()> {
    let path = crate::paths::data_dir(args)?.join("history.db");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::open(&path).await?;
        match command {
            AttentionCommand::Export => {
                let current: AttentionSettings = match store.setting(ATTENTION_KEY).await? {
                    Some(json) => serde_json::from_str(&json)?,
                    None => AttentionSettings::default(),
                };
                print!("{}", toml::to_string(&current)?);
            }
            AttentionCommand::Import { file } => {
                let settings: AttentionSettings =
                    toml::from_str(&read_input(file)?).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
                settings.validate()?;
                store.set_setting(ATTENTION_KEY, &serde_json::to_string(&settings)?).await?;
                println!("imported; a running Tocsin uses them after a restart");
            }
        }
        store.close().await;
        anyhow::Ok(())
    })
}
