#!/usr/bin/env bash
# Stop the one-node Slurm cluster that scripts/slurm-up.sh started: slurmd, slurmctld, slurmdbd,
# MariaDB and munged, each by its pid file (nothing else is signalled). Configuration, job state
# and the accounting database stay, so slurm-up.sh starts the same cluster again.
# --keep-services stops only the Slurm daemons (slurmd, slurmctld, slurmdbd).
set -euo pipefail

RUN_DIR=/run/slurm
log() { printf '[slurm-down] %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    log "NOTE: must run as root; nothing stopped."
    exit 0
fi
keep_services=0
[[ ${1:-} == --keep-services ]] && keep_services=1

# stop_pid PIDFILE NAME: TERM the process in PIDFILE if its command is NAME; KILL after 20 s.
stop_pid() {
    local pid i
    [[ -r $1 ]] || return 0
    pid=$(<"$1")
    if [[ ! $pid =~ ^[0-9]+$ || ! -r /proc/$pid/comm || $(</proc/"$pid"/comm) != "$2"* ]]; then
        rm -f "$1"
        return 0
    fi
    log "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]]; then
        log "$2 did not stop in 20 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

stop_pid "$RUN_DIR/slurmd.pid" slurmd
stop_pid "$RUN_DIR/slurmctld.pid" slurmctld
stop_pid "$RUN_DIR/slurmdbd.pid" slurmdbd
rm -f "$RUN_DIR/started-with"
if ((keep_services)); then
    log "done (MariaDB and munged left running)"
    exit 0
fi
stop_pid /run/mysqld/mysqld.pid mariadbd
stop_pid /run/mysqld/mysqld.pid mysqld
stop_pid /run/munge/munged.pid munged
log "done"
