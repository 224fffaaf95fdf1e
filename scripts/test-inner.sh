#!/usr/bin/env bash
# Step functions are called indirectly (run_step, trap): shellcheck cannot see it.
# shellcheck disable=SC2317
# The test steps, run by scripts/test.sh inside keyctl session + xvfb-run +
# dbus-run-session (it refuses to run without DISPLAY and DBUS_SESSION_BUS_ADDRESS).
# Starts an unlocked gnome-keyring (Secret Service) on a fresh XDG_DATA_HOME and
# XDG_RUNTIME_DIR, then runs every step even when an earlier one failed (except the
# tests after a failed build), and writes $TOCSIN_ARTIFACTS/summary.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ART="${TOCSIN_ARTIFACTS:-$ROOT/artifacts}"
export TOCSIN_ARTIFACTS="$ART"
mkdir -p "$ART"
# The official SDKs' Python for tests/tests/official_sdks.rs (scripts/setup.sh --test makes the venv).
# Both Linux keychains must answer in the test run (a missing one fails the keychain tests).
export TOCSIN_REQUIRE_KEYCHAINS=1
export TOCSIN_SDK_PYTHON="${TOCSIN_SDK_PYTHON:-$ROOT/.venv-sdk/bin/python}"

if [ -z "${DISPLAY:-}" ] || [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    echo "test-inner.sh: run scripts/test.sh (it provides Xvfb, a session bus and keyrings)" >&2
    exit 2
fi

# ---- A Secret Service for keyring's secret-service store, unlocked, in throwaway dirs.
SCRATCH="$(mktemp -d /tmp/tocsin-test-XXXXXX)"
export XDG_RUNTIME_DIR="$SCRATCH/runtime" XDG_DATA_HOME="$SCRATCH/data" XDG_CONFIG_HOME="$SCRATCH/config" XDG_CACHE_HOME="$SCRATCH/cache"
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
chmod 700 "$XDG_RUNTIME_DIR"
# GTK programs under test: no accessibility bridge and no dconf activation (less noise, no
# extra daemons); nothing here changes what the app does.
export NO_AT_BRIDGE=1 GSETTINGS_BACKEND=memory
# cargo and rustup stay where they are (HOME is unchanged; only XDG dirs are fresh).

KEYRING_PID=""
cleanup() {
    if [ -n "$KEYRING_PID" ]; then kill "$KEYRING_PID" 2>/dev/null || true; wait "$KEYRING_PID" 2>/dev/null || true; fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

printf '%s' "tocsin-test-keyring" | gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$ART/gnome-keyring.log" 2>&1 &
KEYRING_PID=$!
has_secrets() {
    gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true
}
for _ in $(seq 1 100); do has_secrets && break; sleep 0.1; done
if has_secrets; then
    echo "==> gnome-keyring (Secret Service) is up"
else
    echo "test-inner.sh: warning: gnome-keyring-daemon did not take org.freedesktop.secrets; see $ART/gnome-keyring.log" >&2
fi

# ---- Steps.
failed_steps=()
declare -A step_time
run_step() {
    local name="$1"; shift
    local t0; t0=$(date +%s)
    echo
    echo "==> [$name] $*"
    local rc=0
    "$@" || rc=$?
    step_time[$name]=$(( $(date +%s) - t0 ))
    if [ "$rc" -ne 0 ]; then
        echo "==> [$name] FAILED (exit $rc)"
        failed_steps+=("$name")
    fi
    return 0
}

ui_check() { (cd ui && npm run check); }
ui_test() {
    # vitest also writes a JSON report, from which the summary counts tests.
    (cd ui && npm test -- --reporter=default --reporter=json --outputFile="$ART/vitest.json")
}
ui_e2e() {
    # Headless Chromium (playwright-core, Debian's chromium) on the built UI with a fake IPC
    # (ui/e2e); its screenshots of every screen are kept with the artifacts.
    local rc=0
    (cd ui && npm run e2e -- --reporter=default --reporter=json --outputFile="$ART/vitest-e2e.json") || rc=$?
    mkdir -p "$ART/ui-screenshots"
    cp ui/e2e/screenshots/*.png "$ART/ui-screenshots/" 2>/dev/null || true
    return "$rc"
}
cargo_build() { cargo build --workspace; }
cargo_tests() {
    # Keep the full output (it also goes to the console) to count the results.
    set -o pipefail
    cargo test --workspace 2>&1 | tee "$ART/cargo-test.log"
}
bindings_drift() {
    local dir=ui/src/lib/bindings
    if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        echo "not a git checkout: skipping the bindings drift check"
        return 0
    fi
    local untracked changed
    changed="$(git diff --name-only -- "$dir")"
    untracked="$(git status --porcelain --untracked-files=all -- "$dir" | grep '^??' || true)"
    if [ -n "$changed" ] || [ -n "$untracked" ]; then
        echo "The TypeScript IPC bindings in $dir are out of date with the Rust types."
        echo "cargo test regenerated them (ts-rs); review and commit the result:"
        [ -n "$changed" ] && git --no-pager diff --stat -- "$dir"
        [ -n "$untracked" ] && printf 'new files:\n%s\n' "$untracked"
        git --no-pager diff -- "$dir" >"$ART/bindings-drift.diff" || true
        return 1
    fi
    echo "bindings are up to date"
}

run_step ui-check ui_check
run_step ui-test ui_test
run_step ui-e2e ui_e2e
run_step cargo-build cargo_build
if [[ " ${failed_steps[*]-} " == *" cargo-build "* ]]; then
    echo "==> skipping cargo test: the build failed"
    failed_steps+=("cargo-test (skipped)")
else
    run_step cargo-test cargo_tests
fi
run_step bindings-drift bindings_drift
# The Debian package of the dev binaries cargo-build made (stripped; no second build): install,
# check, purge (scripts/package-check.sh). Needs root or sudo, as setup.sh does.
package() { scripts/package-check.sh --profile dev; }
if [[ " ${failed_steps[*]-} " == *" cargo-build "* ]]; then
    echo "==> skipping the package step: the build failed"
    failed_steps+=("package (skipped)")
else
    run_step package package
fi

# ---- Summary: tests counted by the runners; other failed steps count as one failure each.
passed=0; failed=0; skipped=0
if [ -f "$ART/cargo-test.log" ]; then
    read -r cp cf ci < <(awk '/^test result:/ {
            for (i = 1; i <= NF; i++) {
                if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1)
            }
        } END { printf "%d %d %d\n", p, f, s }' "$ART/cargo-test.log")
    passed=$((passed + cp)); failed=$((failed + cf)); skipped=$((skipped + ci))
fi
if [ -f "$ART/vitest.json" ]; then
    read -r vp vf vs < <(node -e '
        const r = require(process.argv[1]);
        console.log(r.numPassedTests || 0, r.numFailedTests || 0, (r.numPendingTests || 0) + (r.numTodoTests || 0));
    ' "$ART/vitest.json" 2>/dev/null || echo "0 0 0")
    passed=$((passed + vp)); failed=$((failed + vf)); skipped=$((skipped + vs))
fi
if [ -f "$ART/vitest-e2e.json" ]; then
    read -r ep ef es < <(node -e '
        const r = require(process.argv[1]);
        console.log(r.numPassedTests || 0, r.numFailedTests || 0, (r.numPendingTests || 0) + (r.numTodoTests || 0));
    ' "$ART/vitest-e2e.json" 2>/dev/null || echo "0 0 0")
    passed=$((passed + ep)); failed=$((failed + ef)); skipped=$((skipped + es))
fi
for s in "${failed_steps[@]-}"; do
    case "$s" in
        "") ;;
        cargo-test) [ -f "$ART/cargo-test.log" ] && grep -q '^test result: FAILED' "$ART/cargo-test.log" || failed=$((failed + 1)) ;;
        ui-test) [ -f "$ART/vitest.json" ] && [ "${vf:-0}" -gt 0 ] || failed=$((failed + 1)) ;;
        ui-e2e) [ -f "$ART/vitest-e2e.json" ] && [ "${ef:-0}" -gt 0 ] || failed=$((failed + 1)) ;;
        *) failed=$((failed + 1)) ;;
    esac
done

{
    echo "steps:"
    for s in ui-check ui-test ui-e2e cargo-build cargo-test bindings-drift package; do
        state=ok
        for f in "${failed_steps[@]-}"; do [[ "$f" == "$s"* ]] && state=FAILED; done
        [[ "$state" == ok && -z "${step_time[$s]+x}" ]] && state="not run"
        printf '  %-15s %-8s %ss\n' "$s" "$state" "${step_time[$s]-0}"
    done
    echo "summary: $passed passed, $failed failed, $skipped skipped"
} >"$ART/summary.txt"

if [ "${#failed_steps[@]}" -gt 0 ] || [ "$failed" -gt 0 ]; then
    exit 1
fi
exit 0
