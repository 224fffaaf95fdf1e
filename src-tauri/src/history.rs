//! `tocsin history list`: the stored events, newest first, as a table or JSON.

use tocsin_store::Store;

use crate::cli::GlobalArgs;

pub fn list(args: &GlobalArgs, json: bool, limit: u32) -> anyhow::Result<()> {
    let path = crate::paths::data_dir(args)?.join("history.db");
    if !path.exists() {
        anyhow::bail!("no history yet at {} (start Tocsin first)", path.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let items = runtime.block_on(async {
        let store = Store::open(&path).await?;
        let items = store.list(limit.max(1), None).await;
        store.close().await;
        items
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(());
    }
    for item in items {
        println!(
            "{:>8}  {:<7} {:<10} {:<18} {}",
            item.id,
            item.tier.as_str(),
            item.account,
            item.kind.as_str(),
            item.subject.as_deref().unwrap_or(&item.provider_type)
        );
    }
    Ok(())
}
