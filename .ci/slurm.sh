#!/usr/bin/env bash
# A one-node Slurm cluster on loopback, for the sweep tests (tests/sweep, marker "slurm").
#
#   bash .ci/slurm.sh start    install Debian's packages if missing, start munged, MariaDB, slurmdbd,
#                              slurmctld and slurmd, wait until a job can run, write the client environment
#   . /tmp/mirage-slurm/env.sh export SLURM_CONF (and MIRAGE_SLURM_DIR) in the calling shell
#   bash .ci/slurm.sh status   print sinfo/squeue of the running cluster (exit 1 if it is not running)
#   bash .ci/slurm.sh stop     cancel its jobs, stop the daemons this script started, remove the state folder
#
# Everything lives in $MIRAGE_SLURM_DIR (default /tmp/mirage-slurm): configuration, munge key and socket,
# database, logs, pid files. Ports are $MIRAGE_SLURM_PORT_BASE+6..9 (default 16816..16819), so the cluster
# does not clash with a system Slurm or MySQL. Needs root (daemons run as root, packages from apt-get).
# MIRAGE_SLURM_ACCOUNTING=0 skips MariaDB and slurmdbd (starts in ~0.3 s instead of ~9 s, but without sacct
# a cancelled job's state stays unknown: the sweep tests need accounting). Facts: ../shared/SLURM_NOTES.md.
set -euo pipefail

STATE=${MIRAGE_SLURM_DIR:-/tmp/mirage-slurm}
PORT_BASE=${MIRAGE_SLURM_PORT_BASE:-16810}
ACCOUNTING=${MIRAGE_SLURM_ACCOUNTING:-1}
DB_PORT=$((PORT_BASE + 6))
CTLD_PORT=$((PORT_BASE + 7))
SLURMD_PORT=$((PORT_BASE + 8))
DBD_PORT=$((PORT_BASE + 9))
ENV_FILE=$STATE/env.sh
CONF=$STATE/etc/slurm.conf
SOCKET=$STATE/munge/munge.socket.2
# start order; stop runs it backwards
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

log() { echo "slurm.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes we started: pid files in $STATE/run, checked against the expected program name ---------------

pid_of() {  # pid_of NAME -> prints the pid if that daemon of ours is alive
    local file=$STATE/run/$1.pid pid
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # a zombie (exited, not yet reaped by process 1) counts as gone
    [[ -r /proc/$pid/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" || return 1
    # guard against a recycled pid: the command line must name the program
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$1" || return 1
    echo "$pid"
}

launch() {  # launch NAME COMMAND... : run a daemon in the foreground of its own session, remember its pid
    local name=$1; shift
    setsid "$@" >"$STATE/log/$name.out" 2>&1 </dev/null &
    echo $! >"$STATE/run/$name.pid"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2; shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { log "timed out after ${limit}s waiting for $what"; show_logs; return 1; }
        sleep 0.2
    done
}

show_logs() {
    local f
    for f in "$STATE"/log/*; do
        [[ -s $f ]] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    return 0
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- install ----------------------------------------------------------------------------------------------------

install_packages() {
    local pkgs=(slurmctld slurmd slurm-client munge) missing=0
    ((ACCOUNTING)) && pkgs+=(slurmdbd mariadb-server-core mariadb-client-core)
    local prog
    for prog in slurmctld slurmd sbatch sacct munged mungekey; do command -v "$prog" >/dev/null || missing=1; done
    if ((ACCOUNTING)); then
        for prog in slurmdbd mariadbd mariadb-install-db; do command -v "$prog" >/dev/null || missing=1; done
    fi
    ((missing)) || return 0
    [[ $(id -u) == 0 ]] || die "Slurm is not installed and installing it needs root (apt-get install ${pkgs[*]})"
    command -v apt-get >/dev/null || die "Slurm is not installed and there is no apt-get to install ${pkgs[*]}"
    log "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # package scripts try to start the services and are refused (no systemd): harmless
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"$STATE/log/apt.log" 2>&1 ||
        { apt-get update -qq >>"$STATE/log/apt.log" 2>&1 &&
          apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >>"$STATE/log/apt.log" 2>&1; } ||
        { tail -n 20 "$STATE/log/apt.log" >&2; die "apt-get install failed (log: $STATE/log/apt.log)"; }
}

# --- configuration ----------------------------------------------------------------------------------------------

write_config() {
    local node
    # the node's real CPU topology and memory; the name is ours (the machine's hostname is not localhost)
    node=$(slurmd -C | head -n 1 | sed -E 's/^NodeName=[^ ]+ //; s/ UpTime=.*//')
    [[ $node == *CPUs=* ]] || die "could not read the CPU topology from 'slurmd -C': $node"
    cat >"$CONF" <<EOF
# written by .ci/slurm.sh: a one-node test cluster on loopback
ClusterName=mirage
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.internal.pid
SlurmdPidFile=$STATE/run/slurmd.internal.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0
KillWait=5
MinJobAge=3600
ReturnToService=2
MailProg=/bin/true
PlugStackConfig=$STATE/etc/plugstack.conf
EOF
    : >"$STATE/etc/plugstack.conf"
    if ((ACCOUNTING)); then
        cat >>"$CONF" <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# clients of slurmdbd ignore AuthInfo; this makes sacct find the munge socket
AccountingStoragePass=$SOCKET
JobAcctGatherType=jobacct_gather/none
EOF
        # StoragePass must be absent (an empty value is a fatal parse error); the file must be mode 600
        ( umask 077; cat >"$STATE/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCKET
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.internal.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=root
StorageLoc=slurm_acct_db
EOF
        )
    fi
    cat >>"$CONF" <<EOF
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# --- verbs ------------------------------------------------------------------------------------------------------

cluster_ok() { SLURM_CONF=$CONF timeout 10 sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }

start() {
    if [[ -f $ENV_FILE ]] && pid_of slurmctld >/dev/null && cluster_ok; then
        log "already running ($STATE); environment: . $ENV_FILE"
        return 0
    fi
    local pid
    for name in "${DAEMONS[@]}"; do
        if pid=$(pid_of "$name"); then die "a $name started from $STATE is still running (pid $pid): run '$0 stop' first"; fi
    done
    local t0=$SECONDS
    rm -rf "$STATE"
    mkdir -p "$STATE"/{etc,munge,ctld,spool,log,run,db}
    chmod 700 "$STATE/munge"
    install_packages
    export SLURM_CONF=$CONF
    write_config

    mungekey --create --keyfile="$STATE/munge/munge.key" --force
    chmod 600 "$STATE/munge/munge.key"
    launch munged munged --foreground --force --socket="$SOCKET" --key-file="$STATE/munge/munge.key" \
        --pid-file="$STATE/run/munged.internal.pid" --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/seed"
    wait_for 20 "munged" test -S "$SOCKET"

    if ((ACCOUNTING)); then
        mariadb-install-db --no-defaults --user=root --auth-root-authentication-method=normal \
            --datadir="$STATE/db" --innodb-log-file-size=8M --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 ||
            { tail -n 20 "$STATE/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
        launch mariadbd mariadbd --no-defaults --user=root --datadir="$STATE/db" --bind-address=127.0.0.1 \
            --port="$DB_PORT" --socket="$STATE/run/mysqld.sock" --pid-file="$STATE/run/mariadbd.internal.pid" \
            --innodb-log-file-size=8M --innodb-buffer-pool-size=16M --log-error="$STATE/log/mariadbd.log"
        wait_for 60 "MariaDB on port $DB_PORT" port_open "$DB_PORT"
        launch slurmdbd slurmdbd -D
        wait_for 60 "slurmdbd on port $DBD_PORT" port_open "$DBD_PORT"
    fi
    launch slurmctld slurmctld -D -i
    wait_for 60 "slurmctld" env SLURM_CONF="$CONF" scontrol ping
    launch slurmd slurmd -D -N localhost
    wait_for 60 "the node to come up" cluster_ok
    if ((ACCOUNTING)); then
        wait_for 60 "sacct" env SLURM_CONF="$CONF" sacct -n -X -o JobID
    fi

    cat >"$ENV_FILE" <<EOF
# written by .ci/slurm.sh start: the client environment of the test cluster
export SLURM_CONF=$CONF
export MIRAGE_SLURM_DIR=$STATE
EOF
    log "cluster up in $((SECONDS - t0))s ($STATE); environment: . $ENV_FILE"
}

status() {
    [[ -f $CONF ]] || { log "not running (no $CONF)"; return 1; }
    export SLURM_CONF=$CONF
    local name pid
    for name in "${DAEMONS[@]}"; do
        if pid=$(pid_of "$name"); then echo "$name: pid $pid"; else echo "$name: not running"; fi
    done
    cluster_ok || { log "the node is not up"; return 1; }
    sinfo
    squeue
}

stop() {
    local name pid i
    if [[ -f $CONF ]] && pid_of slurmctld >/dev/null; then
        # jobs on this private cluster are the tests' own: cancel them so no job process outlives the cluster
        SLURM_CONF=$CONF timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            [[ -z $(SLURM_CONF=$CONF timeout 5 squeue -h -o %i 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        name=${DAEMONS[i]}
        pid=$(pid_of "$name") || continue
        kill -TERM "$pid" 2>/dev/null || true
        for ((t = 0; t < 100; t++)); do pid_of "$name" >/dev/null || break; sleep 0.1; done
        if pid_of "$name" >/dev/null; then log "$name (pid $pid) ignored SIGTERM: killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
    done
    if [[ ${MIRAGE_SLURM_KEEP:-0} == 1 ]]; then
        log "stopped; state kept in $STATE"
    else
        # refuse to delete anything that does not look like our state folder
        if [[ -d $STATE && ( -f $STATE/etc/slurm.conf || ! -e $STATE/etc ) ]]; then rm -rf "$STATE"; fi
        log "stopped"
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|status|stop   (state folder: $STATE; env file: $ENV_FILE)" >&2; exit 2 ;;
esac
