//! The man pages and the shell completions, made from the clap definitions in
//! `cli.rs`, so the command line has one owner. The build tool `tocsin-generate
//! man|completions DIR` (`src/bin/tocsin-generate.rs`, not packaged) runs it for
//! `scripts/package.sh`; a tool of its own rather than a hidden `tocsin` subcommand,
//! because clap_complete lists hidden subcommands in every shell's completions.
//!
//! Owns: which files are written and their names. `man` writes `tocsin.1` and one
//! page per subcommand (`tocsin-history-list.1`, ...); `completions` writes
//! `tocsin.bash`, `_tocsin` (zsh) and `tocsin.fish`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    /// Man pages (section 1).
    Man,
    /// Shell completions for bash, zsh and fish.
    Completions,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the {what} into {}: {source}", dir.display())]
pub struct GenerateError {
    what: &'static str,
    dir: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Writes `what` into `dir` (created if missing); returns the files written.
pub fn generate(what: What, dir: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    let name = match what {
        What::Man => "man pages",
        What::Completions => "shell completions",
    };
    let err = |source| GenerateError { what: name, dir: dir.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut cmd = crate::cli::Cli::command();
    match what {
        What::Man => {
            let before = list(dir);
            clap_mangen::generate_to(cmd, dir).map_err(err)?;
            Ok(list(dir).into_iter().filter(|p| !before.contains(p)).chain(before.iter().filter(|p| p.extension().is_some_and(|e| e == "1")).cloned()).collect())
        }
        What::Completions => {
            use clap_complete::Shell;
            [Shell::Bash, Shell::Zsh, Shell::Fish].into_iter().map(|shell| clap_complete::generate_to(shell, &mut cmd, "tocsin", dir).map_err(err)).collect()
        }
    }
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    v
}

/// `tocsin-generate man|completions DIR`.
#[derive(Debug, clap::Parser)]
#[command(name = "tocsin-generate", version, about = "Write tocsin's man pages or shell completions into DIR (for packaging)")]
pub struct GenerateCli {
    pub what: What,
    pub dir: PathBuf,
}

/// The build tool's entry point: writes the files and prints their paths.
pub fn main() -> std::process::ExitCode {
    let args = <GenerateCli as clap::Parser>::parse();
    match generate(args.what, &args.dir) {
        Ok(files) => {
            for p in files {
                println!("{}", p.display());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tocsin-generate: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        crate::cli::Cli::command().debug_assert();
    }

    #[test]
    fn man_pages_cover_the_commands_and_leave_out_generate() {
        let dir = tempfile::tempdir().unwrap();
        generate(What::Man, dir.path()).unwrap();
        let main = std::fs::read_to_string(dir.path().join("tocsin.1")).unwrap();
        assert!(main.starts_with(".ie") || main.contains(".TH tocsin 1"), "{main}");
        for sub in ["history", "autostart", "account", "status"] {
            assert!(main.contains(sub), "tocsin.1 names {sub}");
        }
        assert!(dir.path().join("tocsin-history-list.1").is_file());
        assert!(dir.path().join("tocsin-autostart-on.1").is_file());
        assert!(!main.contains("generate"), "the build tool is not part of tocsin");
    }

    #[test]
    fn completions_for_three_shells_name_the_subcommands() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate(What::Completions, dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["tocsin.bash", "_tocsin", "tocsin.fish"]);
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(text.contains("autostart") && text.contains("history"), "{}", f.display());
            assert!(!text.contains("generate"), "{}: the build tool is not part of tocsin", f.display());
        }
    }
}
