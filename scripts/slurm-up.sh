#!/usr/bin/env bash
# Install and start a one-node Slurm cluster on 127.0.0.1 for Suanwang's Slurm backend.
#
# What it does (as root; safe to run again: running daemons with an unchanged configuration
# are left alone, a changed configuration restarts them):
#   1. apt-get installs slurm-wlm and munge (plus slurmdbd and mariadb-server for accounting)
#      unless they are already installed;
#   2. creates a munge key if missing and starts munged;
#   3. accounting (sacct): starts MariaDB, creates the slurm database user, writes
#      /etc/slurm/slurmdbd.conf and starts slurmdbd; if any of that fails the cluster runs
#      without accounting (the backend then sees finished jobs in squeue only, for
#      MinJobAge = 1 h);
#   4. writes /etc/slurm/slurm.conf for one node (CPUs from nproc, RealMemory from free -m less a
#      margin) and, when cgroups work here, cgroup.conf (task/cgroup enforces CPU and memory);
#      otherwise task/none with proctrack/linuxproc;
#   5. starts slurmctld and slurmd directly (no systemd in containers), waits until the node is
#      idle and sbatch/srun/sacct work, and prints the mode and how long it took.
#
# Not root, or no apt-get and no Slurm: prints a note and exits 0 (the Slurm tests then skip).
#
# Environment: SUANWANG_SLURM_ACCOUNTING=auto|slurmdbd|none (default auto: slurmdbd, falling
# back to none), SUANWANG_SLURM_CGROUP=auto|yes|no (default auto).
# Logs: /var/log/slurm/*.log, /var/log/mysql/suanwang-mariadb.log. Stop: scripts/slurm-down.sh.
set -euo pipefail

START_NS=$(date +%s%N)
ACCOUNTING_WANTED=${SUANWANG_SLURM_ACCOUNTING:-auto}
CGROUP_WANTED=${SUANWANG_SLURM_CGROUP:-auto}
CLUSTER=suanwang
PARTITION=debug
RUN_DIR=/run/slurm
LOG_DIR=/var/log/slurm
CONF_DIR=/etc/slurm
MODE_FILE=$CONF_DIR/suanwang-mode

log() { printf '[slurm-up] %s\n' "$*"; }
elapsed() { echo $(( ($(date +%s%N) - START_NS) / 1000000 ))ms; }
note_exit() {
    log "NOTE: $*"
    log "NOTE: no Slurm cluster was started; the Slurm integration tests will skip."
    exit 0
}

if [[ $(id -u) -ne 0 ]]; then
    note_exit "this script installs packages and starts daemons, so it must run as root."
fi

# --- 1. packages ----------------------------------------------------------------------------
need=()
command -v slurmctld >/dev/null 2>&1 || need+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || need+=(munge)
if [[ $ACCOUNTING_WANTED != none ]]; then
    command -v slurmdbd >/dev/null 2>&1 || need+=(slurmdbd)
    command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 \
        || need+=(mariadb-server)
fi
if ((${#need[@]})); then
    if ! command -v apt-get >/dev/null 2>&1; then
        if ! command -v slurmctld >/dev/null 2>&1; then
            note_exit "apt-get is not available and Slurm is not installed (missing: ${need[*]})."
        fi
        log "apt-get is not available; going on without: ${need[*]}"
    else
        log "installing ${need[*]} ..."
        export DEBIAN_FRONTEND=noninteractive
        apt=(apt-get -q -o DPkg::Lock::Timeout=300)  # wait for another apt-get to finish
        if ! { "${apt[@]}" update >/dev/null \
                && "${apt[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null; }; then
            command -v slurmctld >/dev/null 2>&1 \
                || note_exit "apt-get could not install ${need[*]}."
            log "apt-get failed; going on with what is installed"
        fi
        log "packages installed after $(elapsed)"
    fi
fi

# --- helpers --------------------------------------------------------------------------------
# pid_alive PIDFILE NAME: the process named in PIDFILE runs and its command is NAME.
pid_alive() {
    local pid
    [[ -r $1 ]] || return 1
    pid=$(<"$1") || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm ]] || return 1
    [[ $(</proc/"$pid"/comm) == "$2"* ]]
}

# stop_pid PIDFILE NAME: TERM the daemon of PIDFILE, wait up to 15 s, then KILL it.
stop_pid() {
    local pid i
    pid_alive "$1" "$2" || { rm -f "$1"; return 0; }
    pid=$(<"$1")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]]; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

# wait_for SECONDS COMMAND...: retry COMMAND every 0.2 s until it succeeds.
wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.2
    done
}

# install_file PATH MODE OWNER CONTENT: write PATH if CONTENT differs; return 0 if it changed.
install_file() {
    local path=$1 mode=$2 owner=$3 content=$4
    if [[ -f $path ]] && [[ $(<"$path") == "$content" ]]; then
        chmod "$mode" "$path"
        chown "$owner" "$path"
        return 1
    fi
    printf '%s\n' "$content" >"$path.tmp"
    chmod "$mode" "$path.tmp"
    chown "$owner" "$path.tmp"
    mv -f "$path.tmp" "$path"
    return 0
}

mkdir -p "$RUN_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd "$CONF_DIR"
chown slurm:slurm "$RUN_DIR" "$LOG_DIR" /var/spool/slurmctld

# --- 2. munge -------------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating a munge key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown -R munge:munge /etc/munge
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    stop_pid /run/munge/munged.pid munged
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    wait_for 10 sh -c 'munge -n </dev/null | unmunge' || { log "munged did not start"; exit 1; }
fi

# --- 3. accounting: MariaDB + slurmdbd ------------------------------------------------------
start_mariadb() {
    local daemon
    daemon=$(command -v mariadbd || command -v mysqld) || return 1
    if mysqladmin --silent ping >/dev/null 2>&1; then return 0; fi
    mkdir -p /run/mysqld /var/log/mysql
    chown mysql:mysql /run/mysqld /var/log/mysql
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        log "initialising the MariaDB data directory"
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1
    fi
    log "starting MariaDB"
    setsid "$daemon" --user=mysql --bind-address=127.0.0.1 \
        --pid-file=/run/mysqld/mysqld.pid --socket=/run/mysqld/mysqld.sock \
        </dev/null >>/var/log/mysql/suanwang-mariadb.log 2>&1 &
    wait_for 60 mysqladmin --silent ping
}

setup_slurmdbd() {
    local pass conf changed=0
    command -v slurmdbd >/dev/null 2>&1 || { log "slurmdbd is not installed"; return 1; }
    start_mariadb || { log "MariaDB did not start (see /var/log/mysql)"; return 1; }
    pass=""
    if [[ -r $CONF_DIR/slurmdbd.conf ]]; then
        pass=$(sed -n 's/^StoragePass=//p' "$CONF_DIR/slurmdbd.conf")
    fi
    [[ -n $pass ]] || pass=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    mariadb -u root <<SQL || { log "could not create the slurm database user"; return 1; }
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL
    conf="# Written by suanwang scripts/slurm-up.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
DebugLevel=info
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$RUN_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageUser=slurm
StoragePass=$pass
StorageLoc=slurm_acct_db"
    install_file "$CONF_DIR/slurmdbd.conf" 600 slurm:slurm "$conf" && changed=1
    if ((changed)) || ! pid_alive "$RUN_DIR/slurmdbd.pid" slurmdbd; then
        stop_pid "$RUN_DIR/slurmdbd.pid" slurmdbd
        log "starting slurmdbd"
        slurmdbd
    fi
    if ! wait_for 60 timeout 2 bash -c '</dev/tcp/127.0.0.1/6819'; then
        log "slurmdbd does not listen on 6819 (see $LOG_DIR/slurmdbd.log)"
        return 1
    fi
    log "slurmdbd is up after $(elapsed)"
}

# register_cluster: needs slurm.conf with accounting_storage/slurmdbd (sacctmgr reads it).
register_cluster() {
    if ! wait_for 30 sacctmgr -n list cluster; then
        log "sacctmgr cannot reach slurmdbd (see $LOG_DIR/slurmdbd.log)"
        return 1
    fi
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
        log "registering cluster $CLUSTER with slurmdbd"
        sacctmgr -i add cluster "$CLUSTER" >/dev/null || return 1
    fi
}

accounting=none
case $ACCOUNTING_WANTED in
    none) ;;
    slurmdbd | auto)
        if setup_slurmdbd; then
            accounting=slurmdbd
        elif [[ $ACCOUNTING_WANTED == slurmdbd ]]; then
            log "accounting through slurmdbd was required but did not start"
            exit 1
        else
            log "going on WITHOUT accounting: sacct will not work"
            stop_pid "$RUN_DIR/slurmdbd.pid" slurmdbd
        fi
        ;;
    *) log "SUANWANG_SLURM_ACCOUNTING must be auto, slurmdbd or none"; exit 1 ;;
esac

# --- 4. slurm.conf --------------------------------------------------------------------------
cgroups_usable() {
    local probe
    if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        # cgroup v2: slurmd needs the memory and cpuset controllers and a writable tree.
        grep -qw memory /sys/fs/cgroup/cgroup.controllers || return 1
        grep -qw cpuset /sys/fs/cgroup/cgroup.controllers || return 1
        probe=/sys/fs/cgroup/suanwang-probe.$$
    elif [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpuset && -d /sys/fs/cgroup/freezer ]]
    then
        probe=/sys/fs/cgroup/memory/suanwang-probe.$$
    else
        return 1
    fi
    mkdir "$probe" 2>/dev/null || return 1
    rmdir "$probe"
}

NODE=$(hostname -s 2>/dev/null || true)
[[ $NODE =~ ^[A-Za-z0-9][A-Za-z0-9-]*$ ]] || NODE=localhost
CPUS=$(nproc)
MEM_TOTAL=$(free -m | awk '/^Mem:/ {print $2}')
MARGIN=$((MEM_TOTAL / 10 > 512 ? MEM_TOTAL / 10 : 512))
REAL_MEMORY=$((MEM_TOTAL - MARGIN > 256 ? MEM_TOTAL - MARGIN : 256))

write_slurm_conf() { # $1: cgroup yes|no; returns 0 if a file changed
    local cgroup=$1 task proctrack gather acct changed=1
    if [[ $cgroup == yes ]]; then
        task=task/cgroup proctrack=proctrack/cgroup
        gather="JobAcctGatherType=jobacct_gather/cgroup
JobAcctGatherFrequency=task=30"
    else
        # No cgroups: memory is enforced by sampling (a job over --mem is killed within ~5 s).
        task=task/none proctrack=proctrack/linuxproc
        gather="JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=5
JobAcctGatherParams=OverMemoryKill"
    fi
    if [[ $accounting == slurmdbd ]]; then
        acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819"
    else
        acct="AccountingStorageType=accounting_storage/none"
    fi
    local conf="# Written by suanwang scripts/slurm-up.sh: a one-node cluster on 127.0.0.1
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=$proctrack
TaskPlugin=$task
$gather
$acct
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
MpiDefault=none
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$REAL_MEMORY State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    install_file "$CONF_DIR/slurm.conf" 644 root:root "$conf" || changed=0
    if [[ $cgroup == yes ]]; then
        install_file "$CONF_DIR/cgroup.conf" 644 root:root "# Written by suanwang scripts/slurm-up.sh
CgroupPlugin=autodetect
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
ConstrainDevices=no" && changed=1
    elif [[ -f $CONF_DIR/cgroup.conf ]]; then
        rm -f "$CONF_DIR/cgroup.conf"
        changed=1
    fi
    return $((1 - changed))
}

stop_slurm() {
    stop_pid "$RUN_DIR/slurmd.pid" slurmd
    stop_pid "$RUN_DIR/slurmctld.pid" slurmctld
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1; }
# node_up: the node answers and takes jobs (idle, or busy with jobs already running).
node_up() { [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]; }

# --- 5. daemons -----------------------------------------------------------------------------
start_slurm() { # returns 0 when the node is up and, if idle, an srun job runs
    if ! pid_alive "$RUN_DIR/slurmctld.pid" slurmctld; then
        log "starting slurmctld"
        slurmctld
    fi
    if ! wait_for 30 scontrol ping; then
        log "slurmctld does not answer (see $LOG_DIR/slurmctld.log)"
        return 1
    fi
    if ! pid_alive "$RUN_DIR/slurmd.pid" slurmd; then
        log "starting slurmd (node $NODE)"
        slurmd -N "$NODE" || { log "slurmd failed (see $LOG_DIR/slurmd.log)"; return 1; }
    fi
    local deadline=$(($(date +%s) + 60)) state
    while ! node_up; do
        state=$(node_state)
        if [[ $state == down* || $state == drain* ]]; then
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
        fi
        if (($(date +%s) >= deadline)); then
            log "node $NODE is '$state', not up, after 60 s (see $LOG_DIR/slurmd.log)"
            return 1
        fi
        if ! pid_alive "$RUN_DIR/slurmd.pid" slurmd; then
            log "slurmd died (see $LOG_DIR/slurmd.log)"
            return 1
        fi
        sleep 0.5
    done
    state=$(node_state)
    log "node $NODE is $state after $(elapsed)"
    if [[ $state != idle ]]; then
        log "the node is busy with jobs: smoke jobs skipped"
        return 0
    fi
    timeout 60 srun -p "$PARTITION" -N1 -n1 -t 1 -J suanwang-smoke-srun true \
        || { log "srun does not run a job"; return 1; }
}

# smoke_sbatch: a batch job runs to COMPLETED (and shows in sacct with accounting).
smoke_sbatch() {
    local id deadline state
    id=$(sbatch --parsable -p "$PARTITION" -t 1 -J suanwang-smoke-sbatch -o /dev/null \
        --wrap true) || return 1
    id=${id%%;*}
    deadline=$(($(date +%s) + 60))
    while :; do
        state=$(squeue -h -j "$id" --states=all -o %T 2>/dev/null || true)
        [[ $state == COMPLETED ]] && break
        [[ -z $state || $state == PENDING || $state == RUNNING || $state == COMPLETING \
            || $state == CONFIGURING ]] || { log "smoke job $id ended $state"; return 1; }
        (($(date +%s) < deadline)) || { log "smoke job $id still $state after 60 s"; return 1; }
        sleep 0.2
    done
    if [[ $accounting == slurmdbd ]]; then
        deadline=$(($(date +%s) + 30))
        until [[ $(sacct -n -X -P -j "$id" -o State 2>/dev/null) == COMPLETED* ]]; do
            (($(date +%s) < deadline)) || { log "sacct does not show job $id"; return 1; }
            sleep 0.5
        done
    fi
    log "sbatch job $id COMPLETED$([[ $accounting == slurmdbd ]] && echo ', seen by sacct')"
}

conf_hash() { cat "$CONF_DIR/slurm.conf" "$CONF_DIR/cgroup.conf" 2>/dev/null | sha256sum; }

bring_up() { # $1: cgroup yes|no
    write_slurm_conf "$1" || true
    if [[ $(conf_hash) != "$(cat "$RUN_DIR/started-with" 2>/dev/null)" ]]; then
        if pid_alive "$RUN_DIR/slurmctld.pid" slurmctld || pid_alive "$RUN_DIR/slurmd.pid" slurmd
        then
            log "configuration changed (cgroup: $1, accounting: $accounting); restarting slurm"
        fi
        stop_slurm
        conf_hash >"$RUN_DIR/started-with"
    fi
    start_slurm || return 1
    [[ $(node_state) != idle ]] || smoke_sbatch
}

cgroup=no
case $CGROUP_WANTED in
    yes) cgroup=yes ;;
    no) ;;
    auto) cgroups_usable && cgroup=yes ;;
    *) log "SUANWANG_SLURM_CGROUP must be auto, yes or no"; exit 1 ;;
esac

if [[ $accounting == slurmdbd ]]; then
    write_slurm_conf "$cgroup" || true
    if ! register_cluster; then
        if [[ $ACCOUNTING_WANTED == slurmdbd ]]; then
            log "accounting through slurmdbd was required but does not work"
            exit 1
        fi
        log "going on WITHOUT accounting: sacct will not work"
        accounting=none
        stop_pid "$RUN_DIR/slurmdbd.pid" slurmdbd
    fi
fi
log "accounting: $accounting"

if ! bring_up "$cgroup"; then
    if [[ $cgroup == yes && $CGROUP_WANTED == auto ]]; then
        log "cgroup mode did not work; falling back to task/none + proctrack/linuxproc"
        cgroup=no
        stop_slurm
        bring_up no || { log "FAILED to start Slurm"; exit 1; }
    else
        log "FAILED to start Slurm"
        exit 1
    fi
fi

printf 'accounting=%s\ncgroup=%s\nnode=%s\npartition=%s\n' \
    "$accounting" "$cgroup" "$NODE" "$PARTITION" >"$MODE_FILE"
if [[ $accounting == slurmdbd ]]; then
    acct_note="accounting=slurmdbd (MariaDB): sacct works"
else
    acct_note="accounting=none: sacct does not work; finished jobs stay in squeue for 1 h"
fi
log "READY: one-node cluster '$CLUSTER' on 127.0.0.1, node $NODE ($CPUS CPUs," \
    "${REAL_MEMORY} MB), partition $PARTITION; $acct_note; cgroup limits: $cgroup;" \
    "took $(elapsed). Mode in $MODE_FILE."
