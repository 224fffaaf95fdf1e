#!/usr/bin/env bash
# Sets up, builds and starts Tocsin on the built-in demo profile (an in-process
# emulator streams realistic traffic to the app).
#
#   scripts/demo.sh [extra tocsin options]
#
# With an X display (DISPLAY set) this opens the tray app and its window. Without
# one it says so and runs the same engine headless (`tocsin run --headless --demo`),
# which logs every event and notifies over D-Bus when a notification server runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
echo "==> cargo build --workspace"
cargo build --workspace

BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tocsin"
[ -x "$BIN" ] || { echo "demo.sh: $BIN was not built" >&2; exit 1; }

if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    echo "==> starting $BIN --demo (quit from the tray menu, or Ctrl-C)"
    exec "$BIN" --demo "$@"
fi

cat >&2 <<'MSG'
demo.sh: no display (DISPLAY and WAYLAND_DISPLAY are unset), so the tray app and its
window cannot open here. Running the same engine headless on the demo profile instead:
events are stored and logged below; stop with Ctrl-C. On a desktop session, run
scripts/demo.sh again to see the tray icon and the window.
MSG
exec "$BIN" run --headless --demo "$@"
