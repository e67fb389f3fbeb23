#!/usr/bin/env bash
# Install what the browser tests (tests/browser) drive: Debian's Chromium, and a CJK font so
# that the Chinese screenshots show characters rather than boxes.
#
#   scripts/browser-up.sh       # safe to run again: installs only what is missing
#
# The tests use the Python `playwright` package (the `dev` extras) with this Chromium
# (/usr/bin/chromium); they never run `playwright install` and download no browser.
#
# Environment (optional):
#   SUANWANG_CHROMIUM        the browser to check instead of /usr/bin/chromium
#   SUANWANG_SERVICE_STATUS  file to which "skipped: <why>" is written when nothing can be
#                            installed here (set by scripts/services-up.sh)
#
# Exit status: 0 when Chromium is there (installed now or before), and also 0 (after a note)
# when it is missing and this user cannot install it; non-zero when an install fails.
set -euo pipefail

T0=$EPOCHREALTIME
CHROMIUM="${SUANWANG_CHROMIUM:-/usr/bin/chromium}"
FONT_PKG=fonts-wqy-microhei

elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
say() { printf '[browser-up %6s] %s\n' "$(elapsed)" "$*"; }
die() {
    printf '[browser-up %6s] ERROR: %s\n' "$(elapsed)" "$*" >&2
    exit 1
}
skip() {
    say "SKIPPED: $*"
    if [[ -n "${SUANWANG_SERVICE_STATUS:-}" ]]; then
        echo "skipped: $*" >"$SUANWANG_SERVICE_STATUS"
    fi
    exit 0
}

missing=()
[[ -x "$CHROMIUM" ]] || missing+=(chromium)
if command -v fc-list >/dev/null 2>&1 && [[ -z "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]]; then
    missing+=("$FONT_PKG")
elif ! command -v fc-list >/dev/null 2>&1; then
    missing+=("$FONT_PKG")
fi

if ((${#missing[@]} == 0)); then
    say "ready: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    if [[ " ${missing[*]} " == *" chromium "* ]]; then
        skip "Chromium is not installed at $CHROMIUM and this user is not root; as root run: apt-get update && apt-get install -y chromium $FONT_PKG"
    fi
    say "note: no CJK font (the Chinese screenshots show boxes); as root: apt-get install -y $FONT_PKG"
    say "ready: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    if [[ " ${missing[*]} " == *" chromium "* ]]; then
        skip "Chromium is not installed at $CHROMIUM and this is not a Debian/Ubuntu system (no apt-get); install Chromium and set SUANWANG_CHROMIUM to it"
    fi
    say "ready (no CJK font installed: no apt-get)"
    exit 0
fi

say "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || die "apt-get update failed"
apt-get install -y -qq "${missing[@]}" || die "apt-get install ${missing[*]} failed"
[[ -x "$CHROMIUM" ]] || die "Chromium is still not at $CHROMIUM after installing"
say "ready: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
