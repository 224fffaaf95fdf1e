#!/usr/bin/env bash
# Runs every benchmark on this machine and prints the figures BENCHMARKS.md reports.
#
#   scripts/bench.sh                 everything (about 15 to 20 minutes on 2 cores)
#   scripts/bench.sh --quick         smaller counts and a 10 s idle window (a smoke run)
#   scripts/bench.sh --no-criterion  only the end-to-end harness
#   scripts/bench.sh --parts latency,idle   only these end-to-end parts
#                                    (startup, latency, ingest, idle, gui)
#
# Steps:
#   1. .venv-bench: the Python baseline's packages (bench/baseline/requirements.txt)
#   2. cargo build --release: the tocsin and tocsin-window binaries and the bench crate's binaries
#   3. cargo bench -p tocsin-bench: criterion (decode, rules, store, search); the
#      search bench builds its 1 000 000-event history once into target/bench-data/
#   4. bench/baseline/sqlite_ceiling.py: SQLite alone with the history's schema and
#      statements (the ceiling for the ingest figure), when ingest is measured
#   5. the end-to-end harness (target/release/e2e) under Xvfb and a session bus
#      (the GUI part needs a display; the rest uses private buses of its own)
#   6. target/release/report: the table, also written to artifacts/bench/figures.md
#
# Results: artifacts/bench/*.json (TOCSIN_BENCH_OUT), criterion's in target/criterion.
# Benchmarks are not tests: nothing here fails on a slow figure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)

criterion=1
quick=0
parts=""
e2e_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) e2e_args+=(--quick); quick=1 ;;
        --no-criterion) criterion=0 ;;
        --parts) e2e_args+=(--parts "$2"); parts="$2"; shift ;;
        *) echo "usage: scripts/bench.sh [--quick] [--no-criterion] [--parts LIST]" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '==> %s\n' "$*"; }

[ -f ui/dist/index.html ] || { echo "ui/dist is missing: run scripts/setup.sh first (it builds the UI the binary embeds)" >&2; exit 1; }
for tool in xvfb-run dbus-run-session dbus-daemon python3; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/setup.sh --test" >&2; exit 1; }
done

venv="$ROOT/.venv-bench" req="$ROOT/bench/baseline/requirements.txt"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/requirements.installed"; then
    say ".venv-bench matches bench/baseline/requirements.txt"
else
    say "python3 -m venv .venv-bench; pip install -r bench/baseline/requirements.txt"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/requirements.installed"
fi

say "cargo build --release -p tocsin-resident -p tocsin-window -p tocsin-bench --bins"
cargo build --release -p tocsin-resident -p tocsin-window -p tocsin-bench --bins

export TOCSIN_BENCH_OUT="${TOCSIN_BENCH_OUT:-$ROOT/artifacts/bench}"
mkdir -p "$TOCSIN_BENCH_OUT"

if [ "$criterion" = 1 ]; then
    say "cargo bench -p tocsin-bench (criterion)"
    cargo bench -p tocsin-bench 2>&1 | tee "$TOCSIN_BENCH_OUT/criterion.log"
fi

if [ -z "$parts" ] || [[ ",$parts," == *,ingest,* ]]; then
    say "SQLite's own ceiling for the history schema (bench/baseline/sqlite_ceiling.py)"
    python3 bench/baseline/sqlite_ceiling.py "$TOCSIN_BENCH_OUT/sqlite-ceiling.json" "$([ "$quick" = 1 ] && echo 30000 || echo 100000)"
fi

say "end-to-end harness under xvfb-run + dbus-run-session"
export TOCSIN_BIN="$ROOT/target/release/tocsin"
export TOCSIN_BENCH_PYTHON="$venv/bin/python"
xvfb-run -a -s "-screen 0 1280x800x24" \
    dbus-run-session -- "$ROOT/target/release/e2e" ${e2e_args[@]+"${e2e_args[@]}"} </dev/null 2>&1 | tee "$TOCSIN_BENCH_OUT/e2e.log"

say "figures (artifacts/bench/figures.md)"
"$ROOT/target/release/report"
elapsed=$(( $(date +%s) - started ))
say "bench.sh finished in $((elapsed / 60))m$((elapsed % 60))s"
