#!/usr/bin/env bash
# The long chaos runs (issue 15, "Proof under fire"), then their figures:
#
#   scripts/chaos.sh                 # every case, long: about 30-40 min on 2 cores
#   scripts/chaos.sh sigkill drops   # only the tests whose names contain these words
#
# Long means: 1 000 forced disconnects per provider (TOCSIN_CHAOS_ROUNDS), 20 SIGKILLs
# during a 10 000-event burst per provider (TOCSIN_CHAOS_KILLS, TOCSIN_CHAOS_BURST),
# 5 000 events while the history is full or read-only (TOCSIN_CHAOS_FULL), half-open
# detection in real time, a 200 000-event flood beside a healthy account
# (TOCSIN_CHAOS_FLOOD). Any of these may be set to override. TOCSIN_CHAOS_SEED repeats
# a run's random moments (each test prints its seed).
#
# The short versions of the same tests run in CI: cargo test -p tocsin-e2e --test chaos.
# The tests run one at a time (each gets both cores), under nice. Figures go to
# artifacts/chaos/figures.txt (one "CHAOS <test>: ..." line each), logs next to it.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${TOCSIN_ARTIFACTS:-$ROOT/artifacts}/chaos"
mkdir -p "$OUT"
: >"$OUT/figures.txt"

echo "==> building tocsin and the chaos tests"
nice cargo build -p tocsin-resident --bin tocsin || exit 1
nice cargo test -p tocsin-e2e --test chaos --no-run || exit 1

export TOCSIN_CHAOS_LONG=1
export TOCSIN_CHAOS_REPORT="$OUT/figures.txt"
tests=(forced_disconnects_daimon forced_disconnects_agentmail forced_disconnects_prismer forced_disconnects_divinci
       forced_disconnects_bivariant forced_disconnects_direct_nats sigkill_during_a_burst a_full_disk_during_a_stream
       a_read_only_history_during_a_stream half_open_connections_are_detected_within_two_heartbeats
       a_wall_clock_jump_reconnects a_hostile_server_beside_a_healthy_account)
failed=0
for t in "${tests[@]}"; do
    if [ $# -gt 0 ]; then
        wanted=0
        for w in "$@"; do [[ "$t" == *"$w"* ]] && wanted=1; done
        [ "$wanted" = 1 ] || continue
    fi
    echo "==> $t (log: $OUT/$t.log)"
    started=$(date +%s)
    if nice cargo test -q -p tocsin-e2e --test chaos -- --exact "$t" --nocapture --test-threads 1 >"$OUT/$t.log" 2>&1; then
        status=passed
    else
        status=FAILED
        failed=$((failed + 1))
    fi
    echo "    $status in $(( $(date +%s) - started )) s"
    grep -E '^CHAOS ' "$OUT/$t.log" | sed 's/^/    /'
done
echo
echo "==> figures ($OUT/figures.txt), machine: $(. /etc/os-release; echo "$PRETTY_NAME"), $(nproc) cores, $(date -u +%Y-%m-%d)"
cat "$OUT/figures.txt"
exit "$failed"
