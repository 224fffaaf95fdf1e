//! Where Tocsin keeps its files: XDG on Linux (`~/.config/tocsin`,
//! `~/.local/share/tocsin`), the platform's equivalents elsewhere, overridden by
//! `--config-dir`/`--data-dir` or `TOCSIN_CONFIG_DIR`/`TOCSIN_DATA_DIR`.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::GlobalArgs;

fn project() -> anyhow::Result<directories::ProjectDirs> {
    directories::ProjectDirs::from("app", "tocsin", "tocsin")
        .context("cannot find the home directory; set --config-dir and --data-dir")
}

pub fn config_dir(args: &GlobalArgs) -> anyhow::Result<PathBuf> {
    match &args.config_dir {
        Some(d) => Ok(d.clone()),
        None => Ok(project()?.config_dir().to_path_buf()),
    }
}

pub fn data_dir(args: &GlobalArgs) -> anyhow::Result<PathBuf> {
    match &args.data_dir {
        Some(d) => Ok(d.clone()),
        None => Ok(project()?.data_dir().to_path_buf()),
    }
}
