#!/usr/bin/env bash
# Start the local services the integration tests can use, each best-effort:
#   postgres  scripts/postgres-up.sh  (writes .services/postgres.url)
#   slurm     scripts/slurm-up.sh     (only if that file exists and is executable)
#   browser   scripts/browser-up.sh   (Debian's Chromium for the dashboard's browser tests)
#
# With SUANWANG_REQUIRE_SERVICES=1 a service that fails makes this script fail (exit 1);
# otherwise a failure is a warning and the other services still start. Ends with one summary
# line per service: ready, skipped (and why) or FAILED.
#
# Protocol for a service script: exit 0 when ready; exit non-zero on failure; to report that it
# deliberately started nothing (e.g. not root), write "skipped: <why>" to the file named by
# $SUANWANG_SERVICE_STATUS and exit 0.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUIRE=0
case "${SUANWANG_REQUIRE_SERVICES:-0}" in
    1 | true | yes | on) REQUIRE=1 ;;
esac

T_ALL=$EPOCHREALTIME
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

NAMES=()
STATES=()
NOTES=()
FAILED=0
STATUS_FILE="$(mktemp)"
trap 'rm -f "$STATUS_FILE"' EXIT

record() { # name state note
    NAMES+=("$1")
    STATES+=("$2")
    NOTES+=("$3")
    if [[ "$2" == FAILED ]]; then
        FAILED=1
        if ((REQUIRE)); then
            echo "[services-up] ERROR: $1 failed: $3" >&2
        else
            echo "[services-up] WARNING: $1 failed ($3); continuing" \
                "(set SUANWANG_REQUIRE_SERVICES=1 to make this fatal)" >&2
        fi
    fi
}

run_service() { # name command...
    local name="$1"
    shift
    local t0=$EPOCHREALTIME rc
    : >"$STATUS_FILE"
    echo "[services-up] $name: $*"
    SUANWANG_SERVICE_STATUS="$STATUS_FILE" "$@"
    rc=$?
    local took
    took="$(since "$t0")"
    if ((rc != 0)); then
        record "$name" FAILED "exit $rc after $took"
    elif grep -q '^skipped' "$STATUS_FILE"; then
        record "$name" skipped "$(sed -n '1s/^skipped: *//p' "$STATUS_FILE") ($took)"
    else
        record "$name" ready "$took"
    fi
}

# postgres
run_service postgres bash "$REPO/scripts/postgres-up.sh"
if [[ "${STATES[-1]}" == ready && -f "$REPO/.services/postgres.url" ]]; then
    NOTES[-1]="${NOTES[-1]}, $(cat "$REPO/.services/postgres.url")"
fi

# slurm
SLURM="$REPO/scripts/slurm-up.sh"
if [[ ! -e "$SLURM" ]]; then
    record slurm skipped "scripts/slurm-up.sh not present"
elif [[ ! -x "$SLURM" ]]; then
    if ((REQUIRE)); then
        record slurm FAILED "scripts/slurm-up.sh is not executable (chmod +x it)"
    else
        record slurm skipped "scripts/slurm-up.sh is not executable (chmod +x it)"
    fi
else
    run_service slurm "$SLURM"
fi

# browser (Debian's Chromium and a CJK font for tests/browser)
run_service browser bash "$REPO/scripts/browser-up.sh"

echo "[services-up] summary ($(since "$T_ALL")):"
for i in "${!NAMES[@]}"; do
    printf '[services-up]   %-9s %-8s %s\n' "${NAMES[$i]}" "${STATES[$i]}" "${NOTES[$i]}"
done

if ((FAILED && REQUIRE)); then
    echo "[services-up] a required service failed (SUANWANG_REQUIRE_SERVICES=1)" >&2
    exit 1
fi
exit 0
