#!/usr/bin/env bash
# Sets up and runs every test: the UI checks and unit tests, then the whole cargo
# workspace (unit, loopback, D-Bus, tray, WebKit window) and the check that the
# generated TypeScript bindings are committed.
#
#   scripts/test.sh
#
# The tests run inside, in this order (outermost first):
#   keyctl session -        a fresh kernel session keyring (keyring's linux-native store)
#   xvfb-run                an X display (GTK, the tray, the WebKit window, screenshots)
#   dbus-run-session        a session bus whose auto-started daemons see that display
#   scripts/test-inner.sh   starts gnome-keyring (Secret Service) and runs the steps
#
# Screenshots and logs go to ./artifacts (TOCSIN_ARTIFACTS). The last line is a
# summary: "summary: N passed, N failed, N skipped" (tests counted by cargo and vitest;
# a failed step that is not a test run, such as the build, counts as one failure).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)

scripts/setup.sh --test

export TOCSIN_ARTIFACTS="$ROOT/artifacts"
rm -rf "$TOCSIN_ARTIFACTS"
mkdir -p "$TOCSIN_ARTIFACTS"

echo "==> running the tests under keyctl session + xvfb-run + dbus-run-session"
inner_status=0
keyctl session - \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    dbus-run-session -- "$ROOT/scripts/test-inner.sh" </dev/null || inner_status=$?

elapsed=$(( $(date +%s) - started ))
summary_file="$TOCSIN_ARTIFACTS/summary.txt"
if [ ! -s "$summary_file" ]; then
    # The wrapper itself failed before test-inner.sh could write anything.
    printf 'steps failed: the test wrapper (exit %s)\nsummary: 0 passed, 1 failed, 0 skipped\n' "$inner_status" >"$summary_file"
fi
echo
echo "==> test.sh finished in $((elapsed / 60))m$((elapsed % 60))s (exit $inner_status); artifacts in $TOCSIN_ARTIFACTS"
cat "$summary_file"
exit "$inner_status"
