#!/usr/bin/env bash
# Stop the test PostgreSQL cluster started by scripts/postgres-up.sh and remove
# .services/postgres.url (so the tests skip instead of failing to connect).
#
#   scripts/postgres-down.sh            # stop; the data is kept for the next postgres-up.sh
#   scripts/postgres-down.sh --purge    # stop and delete the cluster's data directory
#
# Honours SUANWANG_PG_ROOT and SUANWANG_PG_BINDIR like postgres-up.sh.
set -euo pipefail

T0=$EPOCHREALTIME
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
URL_FILE="$REPO/.services/postgres.url"
export LC_ALL=C.UTF-8

elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
say() { printf '[postgres-down %6s] %s\n' "$(elapsed)" "$*"; }

PURGE=0
case "${1:-}" in
    "") ;;
    --purge) PURGE=1 ;;
    -h | --help)
        sed -n '2,8p' "$0"
        exit 0
        ;;
    *)
        echo "usage: $0 [--purge]" >&2
        exit 2
        ;;
esac

if [[ "$(id -u)" == 0 ]]; then
    ROOT="${SUANWANG_PG_ROOT:-/var/lib/suanwang-pg}"
    as_pg() { (cd / && runuser -u postgres -- "$@"); }
    command -v runuser >/dev/null 2>&1 ||
        as_pg() { (cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")"); }
else
    ROOT="${SUANWANG_PG_ROOT:-$REPO/.services/pg}"
    as_pg() { "$@"; }
fi
PGDATA_DIR="$ROOT/data"

rm -f "$URL_FILE"

if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    say "no cluster at $PGDATA_DIR: nothing to stop"
else
    VER="$(cat "$PGDATA_DIR/PG_VERSION")"
    PG_CTL="${SUANWANG_PG_BINDIR:-/usr/lib/postgresql/$VER/bin}/pg_ctl"
    [[ -x "$PG_CTL" ]] || PG_CTL="$(command -v pg_ctl || true)"
    if [[ -z "$PG_CTL" ]]; then
        echo "[postgres-down] ERROR: no pg_ctl found for PostgreSQL $VER" >&2
        exit 1
    fi
    if as_pg "$PG_CTL" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
        say "stopping the server in $PGDATA_DIR (pg_ctl stop -m fast) ..."
        as_pg "$PG_CTL" -D "$PGDATA_DIR" stop -m fast -w -t 60 >/dev/null
        say "stopped"
    else
        say "server in $PGDATA_DIR is not running"
    fi
fi

if ((PURGE)) && [[ -e "$ROOT" ]]; then
    say "deleting $ROOT"
    rm -rf -- "$ROOT"
fi
say "done in $(elapsed)"
