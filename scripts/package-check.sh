#!/usr/bin/env bash
# The package step of CI (scripts/test-inner.sh runs it; it also runs alone, as root):
# builds the Debian package with scripts/package.sh, installs it with apt, checks the
# installed files, then purges it and checks that nothing of it is left.
#
#   scripts/package-check.sh                  package the dev binaries already built
#                                             (CI: the test step built them; stripped)
#   scripts/package-check.sh --profile release   build and package the release profile
#
# Checks, in order: /usr/bin/tocsin --version and tocsin-window --version; the headless
# demo from the installed files in throwaway XDG/TOCSIN dirs (waits until an event is
# stored, then SIGTERM, and the exit status); start at login from the installed desktop
# entry (tocsin autostart on: the entry's Exec is /usr/bin/tocsin; off: gone);
# desktop-file-validate; appstreamcli validate --no-net; lintian (any E: fails; warnings
# are listed and kept in $TOCSIN_ARTIFACTS/lintian.txt); the completions parse; then
# apt-get remove --purge and every file dpkg -L listed is gone.
# Refuses to run when a tocsin package is installed already (it would replace and purge it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ART="${TOCSIN_ARTIFACTS:-$ROOT/artifacts}"
mkdir -p "$ART"

PROFILE=dev
case "${1:-}" in
    --profile) PROFILE="${2:?--profile needs a name}" ;;
    "") ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package-check.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac

say() { printf '==> %s\n' "$*"; }
fail() { printf 'package-check.sh: FAILED: %s\n' "$*" >&2; exit 1; }
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

if dpkg-query -W -f='${Status}' tocsin 2>/dev/null | grep -q 'install ok installed'; then
    fail "a tocsin package is installed already; remove it first (apt-get remove --purge tocsin)"
fi
for cmd in desktop-file-validate appstreamcli lintian; do
    command -v "$cmd" >/dev/null || fail "$cmd is missing: run scripts/setup.sh --test"
done

t_start=$(date +%s)
if [ "$PROFILE" = release ]; then
    deb="$(scripts/package.sh --profile release | tail -n 1)"
else
    deb="$(scripts/package.sh --profile "$PROFILE" | tail -n 1)"
fi
t_built=$(date +%s)
say "package: $deb ($(du -h "$deb" | cut -f1), built in $((t_built - t_start))s)"

SCRATCH="$(mktemp -d /tmp/tocsin-package-XXXXXX)"
APP_PID=""
installed=0
cleanup() {
    if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
    if [ "$installed" -eq 1 ]; then
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -qq tocsin >/dev/null 2>&1 || true
    fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

say "apt-get install -y $deb"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"
installed=1
dpkg-query -W -f='${Status}' tocsin | grep -q 'install ok installed' || fail "dpkg does not list tocsin as installed"
dpkg -L tocsin | sort >"$SCRATCH/files.txt"
cp "$SCRATCH/files.txt" "$ART/package-files.txt"

# What must be in it.
for f in /usr/bin/tocsin /usr/bin/tocsin-window /usr/share/applications/tocsin.desktop \
    /usr/share/metainfo/app.tocsin.tocsin.metainfo.xml /usr/share/icons/hicolor/128x128/apps/tocsin.png \
    /usr/share/icons/hicolor/512x512/apps/tocsin.png /usr/share/man/man1/tocsin.1.gz /usr/share/man/man1/tocsin-window.1.gz \
    /usr/share/bash-completion/completions/tocsin /usr/share/zsh/vendor-completions/_tocsin \
    /usr/share/fish/vendor_completions.d/tocsin.fish /usr/share/doc/tocsin/copyright /usr/share/doc/tocsin/changelog.Debian.gz; do
    grep -qx "$f" "$SCRATCH/files.txt" || fail "$f is not in the package"
    [ -e "$f" ] || fail "$f is not installed"
done
# Nothing of the build (the generator tool, debug files, sources).
if grep -E 'tocsin-generate|\.debug$|\.rs$|/target/' "$SCRATCH/files.txt"; then fail "the package holds build files (above)"; fi
say "$(grep -c . "$SCRATCH/files.txt") paths installed; Depends: $(dpkg-query -W -f='${Depends}' tocsin)"

say "/usr/bin/tocsin --version"
/usr/bin/tocsin --version
/usr/bin/tocsin-window --version
man -l /usr/share/man/man1/tocsin.1.gz 2>&1 >/dev/null | grep . && fail "man reports problems in tocsin.1 (above)"
bash -n /usr/share/bash-completion/completions/tocsin || fail "the bash completion does not parse"
if command -v zsh >/dev/null; then zsh -n /usr/share/zsh/vendor-completions/_tocsin || fail "the zsh completion does not parse"; fi
if command -v fish >/dev/null; then fish -n /usr/share/fish/vendor_completions.d/tocsin.fish || fail "the fish completion does not parse"; fi
# The bash completion completes a subcommand.
words="$(bash -c 'source /usr/share/bash-completion/completions/tocsin; COMP_WORDS=(tocsin auto); COMP_CWORD=1; _tocsin tocsin auto tocsin; printf "%s\n" "${COMPREPLY[@]}"')"
[ "$words" = autostart ] || fail "bash completion of 'tocsin auto' gave: $words"

# ---- The headless demo from the installed files, in throwaway dirs, no session bus.
demo_env=(env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$SCRATCH/run" XDG_CONFIG_HOME="$SCRATCH/config"
    XDG_DATA_HOME="$SCRATCH/data" XDG_CACHE_HOME="$SCRATCH/cache" XDG_DATA_DIRS=/usr/local/share:/usr/share
    TOCSIN_CONFIG_DIR="$SCRATCH/tocsin-config" TOCSIN_DATA_DIR="$SCRATCH/tocsin-data" TOCSIN_DEMO_INTERVAL_MS=200 TOCSIN_LOG=info)
mkdir -p "$SCRATCH/run" && chmod 700 "$SCRATCH/run"
say "tocsin --demo run --headless (installed), until the history holds an event"
"${demo_env[@]}" /usr/bin/tocsin --demo run --headless >"$SCRATCH/demo.log" 2>&1 &
APP_PID=$!
# Output is captured before it is searched: grep -q would close the pipe under the writer.
stored() { local out; out="$("${demo_env[@]}" /usr/bin/tocsin history list --json --limit 1 2>/dev/null)" && grep -q '"id"' <<<"$out"; }
deadline=$(( $(date +%s) + 60 ))
until stored; do
    kill -0 "$APP_PID" 2>/dev/null || { cat "$SCRATCH/demo.log"; fail "tocsin run --headless exited before storing an event"; }
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$SCRATCH/demo.log"; fail "no event stored within 60 s"; }
    sleep 0.2
done
st="$("${demo_env[@]}" /usr/bin/tocsin status --json)" && grep -q '"accounts"' <<<"$st" || fail "tocsin status --json did not answer"
kill -TERM "$APP_PID"
rc=0; wait "$APP_PID" || rc=$?
APP_PID=""
cp "$SCRATCH/demo.log" "$ART/package-demo.log"
[ "$rc" -eq 0 ] || { cat "$SCRATCH/demo.log"; fail "tocsin run --headless exited $rc on SIGTERM"; }
n="$("${demo_env[@]}" /usr/bin/tocsin history list --json --limit 1000)"; n="$(grep -c '"id"' <<<"$n" || true)"
say "demo: $n events stored, clean exit on SIGTERM"

# ---- Start at login, from the installed desktop entry.
entry="$SCRATCH/config/autostart/tocsin.desktop"
"${demo_env[@]}" /usr/bin/tocsin autostart on
[ -f "$entry" ] || fail "tocsin autostart on wrote no $entry"
grep -qx 'Exec=/usr/bin/tocsin --minimized' "$entry" || { cat "$entry"; fail "the login item does not run /usr/bin/tocsin --minimized"; }
grep -qx 'Icon=tocsin' "$entry" || fail "the login item is not made from the installed entry"
desktop-file-validate "$entry" || fail "desktop-file-validate refuses the login item"
st="$("${demo_env[@]}" /usr/bin/tocsin autostart status --json)" && grep -q '"enabled": true' <<<"$st" || fail "tocsin autostart status does not say on"

# ---- Started the way a desktop starts it: the menu entry, then the login item, each
# through GIO's launcher (what GNOME's menu and autostart use), on this session's
# display and bus. Running = the control socket answers `tocsin status`.
gui_env=(env XDG_RUNTIME_DIR="$SCRATCH/run" XDG_CONFIG_HOME="$SCRATCH/config"
    XDG_DATA_HOME="$SCRATCH/data" XDG_CACHE_HOME="$SCRATCH/cache" XDG_DATA_DIRS=/usr/local/share:/usr/share
    TOCSIN_CONFIG_DIR="$SCRATCH/tocsin-config" TOCSIN_DATA_DIR="$SCRATCH/tocsin-data" NO_AT_BRIDGE=1)
wait_for() { # what, seconds, command...
    local what="$1" limit="$2"; shift 2
    local deadline=$(( $(date +%s) + limit ))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 0.2
    done
}
answers() { "${gui_env[@]}" /usr/bin/tocsin status --json >/dev/null 2>&1; }
stopped() { ! answers && ! pgrep -f "^/usr/bin/tocsin" >/dev/null; }
window_up() { pgrep -f "^/usr/bin/tocsin-window" >/dev/null; }
launch() { # desktop file, what
    if [ -z "${DISPLAY:-}" ] || [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
        fail "launching $2 needs a display and a session bus (run under scripts/test.sh)"
    fi
    "${gui_env[@]}" gio launch "$1" >"$SCRATCH/launch.log" 2>&1 || { cat "$SCRATCH/launch.log"; fail "gio launch $1"; }
    wait_for "Tocsin started from $2 to answer" 60 answers
}
say "gio launch the login item ($entry)"
launch "$entry" "the login item"
"${gui_env[@]}" /usr/bin/tocsin quit >/dev/null
wait_for "Tocsin started at login to quit" 30 stopped
say "gio launch /usr/share/applications/tocsin.desktop (the menu entry): the resident and its window"
launch /usr/share/applications/tocsin.desktop "the menu entry"
wait_for "the window started from the menu entry" 60 window_up
"${gui_env[@]}" /usr/bin/tocsin quit >/dev/null
wait_for "Tocsin and its window to quit" 30 stopped
say "started from the menu entry (with its window) and from the login item; both quit cleanly"
"${demo_env[@]}" /usr/bin/tocsin autostart off
[ ! -e "$entry" ] || fail "tocsin autostart off left $entry"
st="$("${demo_env[@]}" /usr/bin/tocsin autostart status --json)" && grep -q '"enabled": false' <<<"$st" || fail "tocsin autostart status does not say off"
say "autostart: on wrote Exec=/usr/bin/tocsin --minimized, off removed it"

# ---- Validators.
say "desktop-file-validate /usr/share/applications/tocsin.desktop"
desktop-file-validate /usr/share/applications/tocsin.desktop || fail "desktop-file-validate"
say "appstreamcli validate --no-net"
appstreamcli validate --no-net /usr/share/metainfo/app.tocsin.tocsin.metainfo.xml || fail "appstreamcli validate"
say "lintian $deb"
lint_rc=0
lintian --info --display-info --show-overrides "$deb" >"$ART/lintian.txt" 2>&1 || lint_rc=$?
grep -E '^[EWIO]: ' "$ART/lintian.txt" | sed 's/^/  /' || true
printf '  lintian: %s errors, %s warnings, %s info, %s overridden\n' \
    "$(grep -c '^E: ' "$ART/lintian.txt" || true)" "$(grep -c '^W: ' "$ART/lintian.txt" || true)" \
    "$(grep -c '^I: ' "$ART/lintian.txt" || true)" "$(grep -c '^O: ' "$ART/lintian.txt" || true)"
if grep -q '^E: ' "$ART/lintian.txt" || [ "$lint_rc" -ne 0 ]; then fail "lintian reports errors (exit $lint_rc)"; fi

# ---- Purge: every file it installed is gone.
say "apt-get remove --purge -y tocsin"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -qq tocsin
installed=0
if dpkg-query -W -f='${Status}' tocsin 2>/dev/null | grep -q 'installed'; then fail "dpkg still lists tocsin"; fi
left=()
while read -r f; do
    # Directories the package shares with others (/usr/share/...) stay; files must go.
    if [ -e "$f" ] && [ ! -d "$f" ]; then left+=("$f"); fi
done <"$SCRATCH/files.txt"
[ "${#left[@]}" -eq 0 ] || { printf '  left: %s\n' "${left[@]}"; fail "${#left[@]} files of the package are left after purge"; }
for d in /usr/share/doc/tocsin; do [ ! -e "$d" ] || fail "$d is left after purge"; done
say "purged: none of the $(grep -c . "$SCRATCH/files.txt") paths' files are left"
say "package check passed in $(( $(date +%s) - t_start ))s (package built in $((t_built - t_start))s)"
