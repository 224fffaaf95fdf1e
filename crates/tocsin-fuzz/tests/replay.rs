//! Replays every committed fuzz input through its target, without AFL: the
//! minimised corpora (`fuzz/corpus/<target>/`, what the fuzzer found interesting)
//! and every crash or hang ever found (`fuzz/regressions/<target>/`, kept as
//! regression tests). A target whose corpus is missing or empty fails, so the
//! replay cannot pass by finding nothing.
//!
//! A regression named `open-*` is a finding in code this crate does not own that is
//! not fixed yet: it must still fail (so it cannot be forgotten), and once it passes
//! the test says to rename it `crash-*` (or `hang-*`), from when on it must pass.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn is_open(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("open-"))
}

/// Runs `f` on every file, naming the file that panics (or, for an `open-*` finding,
/// the one that no longer does).
fn replay(target: &str, f: fn(&[u8]), inputs: &[PathBuf]) {
    for path in inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let failed = std::panic::catch_unwind(|| f(&data)).is_err();
        match (is_open(path), failed) {
            (false, true) => panic!("{target}: {} fails (replay with `cargo test -p tocsin-fuzz --test replay`)", path.display()),
            (true, false) => panic!(
                "{target}: {} passes now: the finding is fixed; rename it crash-<hash> so it stays fixed",
                path.display()
            ),
            _ => {}
        }
    }
}

#[test]
fn every_corpus_replays() {
    let started = Instant::now();
    let mut total = 0;
    for (target, f) in tocsin_fuzz::TARGETS {
        let inputs = files(&fuzz_dir().join("corpus").join(target));
        assert!(!inputs.is_empty(), "fuzz/corpus/{target}/ is missing or empty: run scripts/fuzz.sh {target}");
        replay(target, *f, &inputs);
        total += inputs.len();
    }
    eprintln!("replayed {total} corpus inputs of {} targets in {:?}", tocsin_fuzz::TARGETS.len(), started.elapsed());
}

#[test]
fn every_regression_replays() {
    let root = fuzz_dir().join("regressions");
    for (target, f) in tocsin_fuzz::TARGETS {
        replay(target, *f, &files(&root.join(target)));
    }
    // A regression directory must name a target, or its files would never run.
    for dir in std::fs::read_dir(&root).into_iter().flatten().filter_map(|e| e.ok()) {
        let name = dir.file_name().to_string_lossy().into_owned();
        if dir.path().is_dir() {
            assert!(tocsin_fuzz::TARGETS.iter().any(|(t, _)| *t == name), "fuzz/regressions/{name}/ is not a target");
        }
    }
}

#[test]
fn every_target_has_an_afl_binary() {
    for (target, _) in tocsin_fuzz::TARGETS {
        let bin = fuzz_dir().join("src/bin").join(format!("{target}.rs"));
        let text = std::fs::read_to_string(&bin).unwrap_or_else(|_| panic!("{} is missing", bin.display()));
        assert!(text.contains(&format!("tocsin_fuzz::{target}(")), "{} does not run {target}", bin.display());
    }
}
