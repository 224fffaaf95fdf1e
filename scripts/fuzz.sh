#!/usr/bin/env bash
# Coverage-guided fuzzing of Tocsin's parsers with AFL++ (through cargo-afl, on the
# stable toolchain). Builds the AFL binaries of fuzz/ (one per target of
# crates/tocsin-fuzz), runs each target from its committed corpus, then minimises
# what it found back into fuzz/corpus/<target>/ (fuzz/cmin.py: every edge kept, files
# named by content hash, none over 64 KiB) and copies every crash or hang into
# fuzz/regressions/<target>/ (which the test suite replays, without AFL).
#
#   scripts/fuzz.sh [--execs N] [--time SECONDS] [--jobs J] [--no-build] [--no-cmin] [--cmin-only] [target...]
#
#   --execs N     stop a target after about N executions (default 10000000; 0 = no limit)
#   --time S      stop a target after S seconds of fuzzing (with --execs: whichever comes first)
#   --jobs J      targets fuzzed at once (default 1; each takes one core)
#   --no-build    use the binaries already in fuzz/target/release
#   --no-cmin     leave fuzz/corpus/ as it is (a quick look, nothing to commit)
#   --cmin-only   no fuzzing: minimise the queues of the last run (fuzz/out/) into fuzz/corpus/
#   target...     default: every target (fuzz/src/bin/*.rs)
#
# Prints one line per target from AFL's fuzzer_stats (execs_done, execs_per_sec,
# corpus_count, saved_crashes, saved_hangs, stability, bitmap_cvg, edges_found) and
# writes them to fuzz/out/summary.tsv. Exits non-zero when any target saved a crash
# or a hang. A hang is an input that runs longer than 1 s (-t 1000).
#
# Installs cargo-afl (`cargo install cargo-afl`) and builds AFL++ from the sources it
# ships (`cargo afl config --build`, gcc and make) when they are missing. Runs under
# `nice -n 10`. Needs no root, but AFL wants core dumps to go to a file
# (/proc/sys/kernel/core_pattern = core) and warns about CPU frequency scaling,
# which AFL_SKIP_CPUFREQ silences.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
EXECS=10000000
TIME=""
JOBS=1
BUILD=1
CMIN=1
FUZZ_RUN=1
TARGETS=()
MAX_BYTES=65536
# The dictionaries AFL++ ships, by target (merged with fuzz/dict/<target>.dict if present).
declare -A AFL_DICTS=(
    [daimon_frame]=json [agentmail_frame]=json [divinci_frame]=json [prismer_frame]=json
    [bivariant_frame]=json [rest_bodies]=json [rules_toml]=toml [attention_toml]=toml
    [config_toml]=toml [rule_conditions]=regexp [html_sanitiser]=html_tags
)

while [ $# -gt 0 ]; do
    case "$1" in
        --execs) EXECS="$2"; shift 2 ;;
        --time) TIME="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-cmin) CMIN=0; shift ;;
        --cmin-only) FUZZ_RUN=0; BUILD=0; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
if [ ${#TARGETS[@]} -eq 0 ]; then
    for f in "$FUZZ"/src/bin/*.rs; do TARGETS+=("$(basename "$f" .rs)"); done
fi
for t in "${TARGETS[@]}"; do
    [ -f "$FUZZ/src/bin/$t.rs" ] || { echo "fuzz.sh: no target $t (fuzz/src/bin/$t.rs)" >&2; exit 2; }
done

# ---- tooling: cargo-afl and AFL++ itself
if ! cargo afl --version >/dev/null 2>&1; then
    echo "==> installing cargo-afl"
    cargo install --locked cargo-afl --version '^0.18'
fi
if ! config_out="$(cargo afl config --build 2>&1)"; then
    grep -q "already built" <<<"$config_out" || { echo "$config_out" >&2; exit 1; }
fi

# afl-showmap (for fuzz/cmin.py: the Python afl-cmin that `cargo afl cmin` runs reads
# no coverage from these persistent-mode binaries), from cargo-afl's AFL++ build.
AFL_BIN="$(ls -d "$HOME"/.local/share/afl.rs/rustc-"$(rustc -vV | sed -n 's/^release: //p')"-*/afl.rs-*/afl/bin 2>/dev/null | tail -1)"
[ -x "$AFL_BIN/afl-showmap" ] || { echo "fuzz.sh: no afl-showmap under ~/.local/share/afl.rs" >&2; exit 1; }

if [ "$BUILD" = 1 ]; then
    echo "==> building the AFL binaries (fuzz/target/release)"
    (cd "$FUZZ" && nice -n 10 cargo afl build --release --bins)
fi

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
# A shared machine: do not pin to a core another process may need.
export AFL_NO_AFFINITY=1 AFL_FAST_CAL=1
DICT_DIR="$HOME/.local/share/afl.rs/AFLplusplus/dictionaries"
OUT="$FUZZ/out"
mkdir -p "$OUT"

stat_of() { # file key
    awk -F' *: *' -v k="$2" '$1 == k { print $2 }' "$1"
}

# Crashes and hangs become regressions (crash-<hash>, hang-<hash>); the replay test
# fails on them until they are fixed. One that waits for a fix in a crate the fixer
# does not own may be renamed open-<hash>: tracked, and the test then demands it
# still fails until the fix lands.
copy_findings() { # target
    local t="$1" s="$OUT/$1/default" f h
    for kind in crash hang; do
        local dir="$s/crashes"
        [ "$kind" = hang ] && dir="$s/hangs"
        for f in "$dir"/id:*; do
            [ -f "$f" ] || continue
            h="$(sha1sum "$f" | cut -c1-16)"
            [ -f "$FUZZ/regressions/$t/open-$h" ] && continue
            mkdir -p "$FUZZ/regressions/$t"
            cp "$f" "$FUZZ/regressions/$t/$kind-$h"
        done
    done
}

minimise() { # target: fuzz/out/<target>/default/queue -> fuzz/corpus/<target>/
    local t="$1" s="$OUT/$1/default" m="$OUT/$1.min" report
    [ -d "$s/queue" ] || { echo "fuzz.sh: $t: no queue in fuzz/out/$t (fuzz it first)" >&2; return 1; }
    report="$(nice -n 10 python3 "$FUZZ/cmin.py" "$AFL_BIN" "$FUZZ/target/release/$t" "$s/queue" "$m" "$MAX_BYTES" \
        2>"$OUT/$t.cmin.log")" || {
        echo "fuzz.sh: $t: minimising failed; see fuzz/out/$t.cmin.log" >&2
        return 1
    }
    echo "==> $t: minimised: $report"
    echo "$report" >"$OUT/$t.cmin"
    rm -rf "$FUZZ/corpus/$t"
    mv "$m" "$FUZZ/corpus/$t"
}

fuzz_one() { # target
    local t="$1" bin="$FUZZ/target/release/$1" o="$OUT/$1" in="$OUT/$1.in"
    if [ "$FUZZ_RUN" = 0 ]; then
        copy_findings "$t"
        minimise "$t"
        return
    fi
    rm -rf "$o" "$in"
    mkdir -p "$in"
    # Start from the committed corpus, the seeds (fuzz/make-seeds.py) and every fixed
    # regression (an open-* finding still crashes, and AFL refuses crashing seeds).
    for d in "$FUZZ/corpus/$t" "$FUZZ/seeds/$t" "$FUZZ/regressions/$t"; do
        [ -d "$d" ] && find "$d" -maxdepth 1 -type f ! -name 'open-*' -size -$((MAX_BYTES + 1))c -exec cp -t "$in" {} +
    done
    if [ -z "$(ls -A "$in")" ]; then
        printf 'seed\n' >"$in/seed"
    fi
    local args=(-i "$in" -o "$o" -t 1000 -G "$MAX_BYTES" -T "$t")
    [ "$EXECS" != 0 ] && args+=(-E "$EXECS")
    [ -n "$TIME" ] && args+=(-V "$TIME")
    [ -f "$FUZZ/dict/$t.dict" ] && args+=(-x "$FUZZ/dict/$t.dict")
    if [ -n "${AFL_DICTS[$t]:-}" ] && [ -f "$DICT_DIR/${AFL_DICTS[$t]}.dict" ]; then
        args+=(-x "$DICT_DIR/${AFL_DICTS[$t]}.dict")
    fi
    echo "==> $t: cargo afl fuzz ${args[*]}"
    nice -n 10 cargo afl fuzz "${args[@]}" -- "$bin" >"$OUT/$t.log" 2>&1 || {
        echo "fuzz.sh: $t: afl-fuzz failed; see fuzz/out/$t.log" >&2
        tail -20 "$OUT/$t.log" >&2
        return 1
    }
    copy_findings "$t"
    if [ "$CMIN" = 1 ]; then
        minimise "$t"
    fi
    rm -rf "$in"
}

summary() {
    local tsv="$OUT/summary.tsv"
    printf 'target\texecs_done\texecs_per_sec\trun_time_s\tcorpus_count\tcommitted\tcommitted_edges\tsaved_crashes\tsaved_hangs\tstability\tbitmap_cvg\tedges_found\ttotal_edges\n' >"$tsv"
    local bad=0 t f
    for t in "${TARGETS[@]}"; do
        f="$OUT/$t/default/fuzzer_stats"
        if [ ! -f "$f" ]; then
            printf '%s\t(no fuzzer_stats)\n' "$t" >>"$tsv"
            bad=1
            continue
        fi
        local committed edges=""
        committed="$(find "$FUZZ/corpus/$t" -maxdepth 1 -type f 2>/dev/null | wc -l)"
        [ -f "$OUT/$t.cmin" ] && edges="$(sed -n 's/.*kept, \([0-9]*\) edges.*/\1/p' "$OUT/$t.cmin")"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" \
            "$(stat_of "$f" execs_done)" "$(stat_of "$f" execs_per_sec)" "$(stat_of "$f" run_time)" \
            "$(stat_of "$f" corpus_count)" "$committed" "${edges:--}" "$(stat_of "$f" saved_crashes)" "$(stat_of "$f" saved_hangs)" \
            "$(stat_of "$f" stability)" "$(stat_of "$f" bitmap_cvg)" "$(stat_of "$f" edges_found)" \
            "$(stat_of "$f" total_edges)" >>"$tsv"
        if [ "$(stat_of "$f" saved_crashes)" != 0 ] || [ "$(stat_of "$f" saved_hangs)" != 0 ]; then
            bad=1
        fi
    done
    echo "==> summary (fuzz/out/summary.tsv)"
    column -t -s $'\t' "$tsv"
    return $bad
}

status=0
running=0
for t in "${TARGETS[@]}"; do
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || status=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || status=1
    running=$((running - 1))
done
summary || status=1
if [ "$status" != 0 ]; then
    echo "fuzz.sh: a target failed, crashed or hung; crashes and hangs are in fuzz/regressions/ (replay: cargo test -p tocsin-fuzz --test replay)" >&2
fi
exit "$status"
