#!/usr/bin/env bash
# Install (Debian's package, if needed) and start a private PostgreSQL cluster for the tests,
# then write its SQLAlchemy URL to .services/postgres.url in the repo root.
#
#   scripts/postgres-up.sh          # safe to run again: reuses the cluster, starts it if stopped
#   scripts/postgres-down.sh        # stops it (--purge also deletes its data)
#
# The cluster listens on 127.0.0.1 only (TCP, password auth) plus a Unix socket inside its
# own 0700 data directory (used for setup). It is tuned for throwaway test data: fsync off.
# No systemd needed: the server is started with pg_ctl as the `postgres` user.
#
# Environment (all optional):
#   SUANWANG_PG_PORT    TCP port (default 54329)
#   SUANWANG_PG_ROOT    where the cluster lives (default /var/lib/suanwang-pg as root,
#                       <repo>/.services/pg otherwise); data in $SUANWANG_PG_ROOT/data
#   SUANWANG_PG_BINDIR  directory holding pg_ctl/initdb (default: newest
#                       /usr/lib/postgresql/<ver>/bin, else the ones on PATH)
#   SUANWANG_SERVICE_STATUS  file to which "skipped: <why>" is written when nothing is started
#                       (set by scripts/services-up.sh)
#
# Exit status: 0 when the server is ready, and also 0 (after a note) when it cannot be set up
# here because PostgreSQL is absent and this user cannot install it; non-zero on failure.
set -euo pipefail

T0=$EPOCHREALTIME
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="$REPO/.services"
URL_FILE="$SERVICES/postgres.url"

PORT="${SUANWANG_PG_PORT:-54329}"
DB_USER=suanwang
DB_PASS=suanwang
DB_NAME=suanwang_test
URL="postgresql+psycopg://$DB_USER:$DB_PASS@127.0.0.1:$PORT/$DB_NAME"

export LC_ALL=C.UTF-8
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGDATA \
    PGOPTIONS PGSSLMODE 2>/dev/null || true

elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }
say() { printf '[postgres-up %6s] %s\n' "$(elapsed)" "$*"; }
die() {
    printf '[postgres-up %6s] ERROR: %s\n' "$(elapsed)" "$*" >&2
    rm -f "$URL_FILE" # no stale URL pointing at a server that is not there
    exit 1
}
skip() {
    say "SKIPPED: $*"
    rm -f "$URL_FILE"
    if [[ -n "${SUANWANG_SERVICE_STATUS:-}" ]]; then
        printf 'skipped: %s\n' "$*" >"$SUANWANG_SERVICE_STATUS"
    fi
    exit 0
}

if ! [[ "$PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ((PORT > 65535)); then
    die "SUANWANG_PG_PORT must be a TCP port number, got '$PORT'"
fi

IS_ROOT=0
[[ "$(id -u)" == 0 ]] && IS_ROOT=1

# --- 1. server binaries --------------------------------------------------------------------
find_bindir() {
    if [[ -n "${SUANWANG_PG_BINDIR:-}" ]]; then
        [[ -x "$SUANWANG_PG_BINDIR/pg_ctl" && -x "$SUANWANG_PG_BINDIR/initdb" ]] &&
            echo "$SUANWANG_PG_BINDIR"
        return 0
    fi
    local d
    # Newest Debian-layout version first (/usr/lib/postgresql/<ver>/bin).
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -V -r); do
        if [[ -x "$d/pg_ctl" && -x "$d/initdb" ]]; then
            echo "$d"
            return 0
        fi
    done
    local ctl
    ctl="$(command -v pg_ctl 2>/dev/null || true)"
    if [[ -n "$ctl" ]]; then
        d="$(dirname "$(readlink -f "$ctl")")"
        [[ -x "$d/initdb" ]] && echo "$d"
    fi
    return 0
}

BINDIR="$(find_bindir)"
if [[ -z "$BINDIR" || "${SUANWANG_PG_FORCE_INSTALL:-0}" == 1 ]]; then
    if ((!IS_ROOT)); then
        [[ -n "$BINDIR" ]] || skip "PostgreSQL server binaries (pg_ctl, initdb) not found and" \
            "not running as root, so cannot install them; install Debian's 'postgresql'" \
            "package (or set SUANWANG_PG_BINDIR) and run this again"
    elif ! command -v apt-get >/dev/null 2>&1; then
        [[ -n "$BINDIR" ]] || skip "PostgreSQL server binaries (pg_ctl, initdb) not found and" \
            "apt-get is not available to install them; install PostgreSQL (or set" \
            "SUANWANG_PG_BINDIR) and run this again"
    else
        say "installing Debian's postgresql package (apt-get) ..."
        apt_install() {
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Use-Pty=0 \
                --no-install-recommends postgresql
        }
        if ! apt_install; then
            say "install failed; refreshing the package lists (apt-get update) and retrying"
            DEBIAN_FRONTEND=noninteractive apt-get update -q
            apt_install || die "apt-get install postgresql failed"
        fi
        BINDIR="$(find_bindir)"
        [[ -n "$BINDIR" ]] || die "installed postgresql but found no pg_ctl/initdb"
        say "installed"
    fi
fi
for tool in pg_ctl initdb pg_isready psql; do
    [[ -x "$BINDIR/$tool" ]] || die "$BINDIR/$tool missing"
done
say "using $("$BINDIR/pg_ctl" --version) from $BINDIR"

# --- 2. who runs the server, and where -----------------------------------------------------
if ((IS_ROOT)); then
    PG_OS_USER=postgres
    id -u "$PG_OS_USER" >/dev/null 2>&1 ||
        die "no 'postgres' system user (Debian's postgresql package creates it)"
    ROOT="${SUANWANG_PG_ROOT:-/var/lib/suanwang-pg}"
    # The server refuses to run as root: drop to postgres (cd / so it never needs our cwd).
    if command -v runuser >/dev/null 2>&1; then
        as_pg() { (cd / && runuser -u "$PG_OS_USER" -- "$@") 9>&-; }
    else
        as_pg() { (cd / && su -s /bin/sh "$PG_OS_USER" -c "$(printf '%q ' "$@")") 9>&-; }
    fi
else
    PG_OS_USER="$(id -un)"
    ROOT="${SUANWANG_PG_ROOT:-$SERVICES/pg}"
    as_pg() { "$@" 9>&-; }
fi
PGDATA_DIR="$ROOT/data"
LOG="$ROOT/postgres.log"
# The admin socket lives in the private data dir (Unix socket paths must stay < 108 bytes).
SOCKDIR="$PGDATA_DIR"
if ((${#SOCKDIR} > 90)); then
    SOCKDIR="/tmp"
fi

mkdir -p "$ROOT"
if ((IS_ROOT)); then
    chown "$PG_OS_USER:" "$ROOT"
fi
chmod 700 "$ROOT"

# One run at a time (make -j, two shells): serialise on a lock next to the cluster. as_pg
# closes fd 9 so that the server it starts does not inherit (and hold) the lock.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/.up.lock"
    flock -w 120 9 || die "another postgres-up.sh holds $ROOT/.up.lock"
fi

# --- 3. the cluster (created once) ---------------------------------------------------------
BIN_MAJOR="$("$BINDIR/pg_ctl" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/')"
if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
    DATA_MAJOR="$(cat "$PGDATA_DIR/PG_VERSION")"
    [[ "$DATA_MAJOR" == "$BIN_MAJOR" ]] ||
        die "$PGDATA_DIR holds a PostgreSQL $DATA_MAJOR cluster but the binaries are" \
            "$BIN_MAJOR; run scripts/postgres-down.sh --purge (deletes the test data) and retry"
    say "cluster exists: $PGDATA_DIR (PostgreSQL $DATA_MAJOR)"
else
    [[ ! -e "$PGDATA_DIR" ]] || [[ -z "$(ls -A "$PGDATA_DIR")" ]] ||
        die "$PGDATA_DIR exists, is not empty and is not a cluster; move it away and retry"
    say "creating cluster in $PGDATA_DIR (initdb) ..."
    as_pg "$BINDIR/initdb" -D "$PGDATA_DIR" --username="$PG_OS_USER" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 --no-instructions \
        >"$ROOT/initdb.log" 2>&1 || {
        tail -n 30 "$ROOT/initdb.log" >&2
        die "initdb failed (log: $ROOT/initdb.log)"
    }
    printf "\n# Added by suanwang scripts/postgres-up.sh (rewritten on every run):\n%s\n" \
        "include_if_exists = 'suanwang.conf'" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" \
        >/dev/null
    say "cluster created"
fi

CONF="# Written by suanwang scripts/postgres-up.sh on every run; edits are lost.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKDIR'
password_encryption = 'scram-sha-256'
# A throwaway test database: trade crash safety for speed.
fsync = off
synchronous_commit = off
full_page_writes = off"
CONF_CHANGED=0
if [[ "$(cat "$PGDATA_DIR/suanwang.conf" 2>/dev/null || true)" != "$CONF" ]]; then
    printf '%s\n' "$CONF" | as_pg tee "$PGDATA_DIR/suanwang.conf" >/dev/null
    CONF_CHANGED=1
fi

# --- 4. the server -------------------------------------------------------------------------
pg_ctl_() { as_pg "$BINDIR/pg_ctl" -D "$PGDATA_DIR" "$@"; }
running() { pg_ctl_ status >/dev/null 2>&1; }

# The server is a long-lived daemon: start it with every inherited descriptor above 2 closed,
# so that it cannot hold a CI runner's pipe (or our lock) open after this script exits.
start_server() {
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd="${fd##*/}"
            if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)); then
                eval "exec $fd>&-" 2>/dev/null || true
            fi
        done
        pg_ctl_ start -w -t 60 -l "$LOG" >/dev/null
    )
}

if running && ((CONF_CHANGED)); then
    say "suanwang.conf changed (port now $PORT): restarting the server"
    pg_ctl_ stop -m fast -w -t 60 >/dev/null
fi
if running; then
    say "server already running (pid $(head -n 1 "$PGDATA_DIR/postmaster.pid"))"
else
    say "starting server on 127.0.0.1:$PORT (pg_ctl, log: $LOG) ..."
    if ! start_server; then
        tail -n 20 "$LOG" >&2 || true
        die "pg_ctl start failed (is port $PORT taken? see $LOG)"
    fi
    say "server started"
fi

for _ in $(seq 1 120); do
    if "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1; then
        break
    fi
    sleep 0.5
done
"$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1 ||
    die "server not ready on 127.0.0.1:$PORT after 60s (see $LOG)"
say "pg_isready: accepting connections on 127.0.0.1:$PORT"

# --- 5. role and database (created if missing) ---------------------------------------------
psql_admin() {
    as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" \
        -U "$PG_OS_USER" -d postgres
}
psql_admin >/dev/null <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$DB_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') \gexec
ALTER ROLE $DB_USER WITH LOGIN CREATEDB PASSWORD '$DB_PASS';
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME') \gexec
SQL
say "role '$DB_USER' and database '$DB_NAME' present"

# --- 6. the URL for the tests --------------------------------------------------------------
mkdir -p "$SERVICES"
printf '%s\n' "$URL" >"$URL_FILE.tmp"
mv -f "$URL_FILE.tmp" "$URL_FILE"
say "wrote $URL_FILE: $URL"
say "PostgreSQL ready in $(elapsed)"
