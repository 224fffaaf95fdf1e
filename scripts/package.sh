#!/usr/bin/env bash
# Builds the Debian package target/debian/tocsin_<version>-1_<arch>.deb with cargo-deb:
# both binaries (tocsin, tocsin-window), the desktop entry, hicolor icons, AppStream
# metainfo, man pages and bash/zsh/fish completions (written by tocsin-generate from
# the clap definitions), the copyright file and changelog. What goes in is listed in
# [package.metadata.deb] of crates/tocsin-resident/Cargo.toml.
#
#   scripts/package.sh                 build the release profile, then package it
#   scripts/package.sh --profile dev   package the binaries already built in target/debug
#                                      (stripped; what CI does after its debug build)
#   scripts/package.sh --profile P --build   build profile P first
#
# Why cargo-deb and not Tauri's bundler: the bundler packages the one Tauri binary
# (tocsin-window), and Tocsin is two programs. Installs cargo-deb (pinned) when missing.
# Prints the package's path as its last line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Pinned: with --profile dev this version warns that dev is unsupported; a later one may
# refuse it, so an upgrade is a change to review here.
CARGO_DEB_VERSION=3.8.0

PROFILE=release
BUILD=""
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE="${2:?--profile needs a name}"; shift 2 ;;
        --profile=*) PROFILE="${1#*=}"; shift ;;
        --build) BUILD=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
# The release profile is built by default; another profile is packaged as it is.
if [ -z "$BUILD" ]; then
    if [ "$PROFILE" = release ]; then BUILD=1; else BUILD=0; fi
fi
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'package.sh: error: %s\n' "$*" >&2; exit 1; }

case "$PROFILE" in dev|debug) PROFILE=dev; PROFILE_DIR=debug ;; *) PROFILE_DIR="$PROFILE" ;; esac
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
OUT="$TARGET_DIR/$PROFILE_DIR"

if ! cargo deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
    say "cargo install --locked cargo-deb --version $CARGO_DEB_VERSION"
    t0=$(date +%s)
    cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION"
    say "cargo-deb installed in $(( $(date +%s) - t0 ))s"
fi

if [ "$BUILD" -eq 1 ]; then
    # tocsin-window embeds ui/dist.
    [ -f ui/dist/index.html ] || die "ui/dist is missing: run scripts/setup.sh (it builds the UI)"
    say "cargo build --profile $PROFILE -p tocsin-resident -p tocsin-window"
    cargo build --profile "$PROFILE" -p tocsin-resident -p tocsin-window
fi
for bin in tocsin tocsin-window tocsin-generate; do
    [ -x "$OUT/$bin" ] || die "$OUT/$bin is missing: build it (cargo build --profile $PROFILE --workspace) or pass --build"
done

# Man pages and completions from the very binary's clap definitions (fresh each time, so a
# removed subcommand leaves no page behind).
GEN="$OUT/tocsin-generated"
rm -rf "$GEN"
"$OUT/tocsin-generate" man "$GEN/man" >/dev/null
"$OUT/tocsin-generate" completions "$GEN/completions" >/dev/null
# cargo-deb compresses man pages it copies, but not files under the target directory.
gzip -9n "$GEN"/man/*.1
say "generated $(find "$GEN/man" -name '*.1.gz' | wc -l) man pages and 3 completion scripts in $GEN"

deb_args=(-p tocsin-resident --no-build --profile "$PROFILE" -o "$TARGET_DIR/debian/")
# Release strips debug info in its profile; the dev binaries carry line tables and are
# stripped here. --fast: lighter xz for the (larger, CI-only) dev package.
if [ "$PROFILE" != release ]; then deb_args+=(--strip --fast); fi
say "cargo deb ${deb_args[*]}"
t0=$(date +%s)
deb="$(cargo deb "${deb_args[@]}" | tail -n 1)"
[ -f "$deb" ] || die "cargo deb did not name a package (got: $deb)"
say "packaged in $(( $(date +%s) - t0 ))s: $(du -h "$deb" | cut -f1) ($(dpkg-deb -f "$deb" Installed-Size) KiB installed)"
echo "$deb"
