#!/usr/bin/env bash
# Start (or verify) a one-node SLURM cluster on this machine for CI and tests.
# Idempotent: a second run detects the running daemons and only verifies.
# Needs root. Debian/Ubuntu only (installs slurm-wlm + munge via apt if missing).
set -euo pipefail

log() { echo "[slurm-start] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root"; exit 1
fi

NODE="$(hostname -s)"
NCPU="$(nproc)"
MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
# Leave 5% (at least 256 MB) for the OS; slurmd drains the node if RealMemory > actual.
RESERVE=$(( MEM_MB / 20 )); [ "$RESERVE" -lt 256 ] && RESERVE=256
REAL_MEM=$(( MEM_MB - RESERVE ))
WAIT_S="${SLURM_START_TIMEOUT:-60}"

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
RUN_DIR=/run/slurm
CTLD_PID="$RUN_DIR/slurmctld.pid"
SLURMD_PID="$RUN_DIR/slurmd.pid"
MUNGE_PID=/run/munge/munged.pid
LOG_DIR=/var/log/slurm

# ---------------------------------------------------------------- install
need_install=0
for b in sbatch slurmctld slurmd munged; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || need_install=1
done
if [ "$need_install" -eq 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    pkgs=(slurm-wlm munge)
    # apt-get update only when the package lists do not know the packages yet.
    if ! apt-cache show "${pkgs[@]}" >/dev/null 2>&1; then
        log "apt-get update"; apt-get update -q
    fi
    log "installing ${pkgs[*]}"
    if ! apt-get install -y -q --no-install-recommends "${pkgs[@]}"; then
        log "install failed; retrying after apt-get update"
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    fi
fi
export PATH="$PATH:/usr/sbin:/sbin"

# --------------------------------------------------------------- helpers
# not_zombie PID: the process exists and is not a zombie (PID 1 here reaps
# orphans late, so a killed daemon can linger as <defunct> for seconds).
not_zombie() {
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
# live_pids NAME: pids of live (non-zombie) processes named exactly NAME.
live_pids() {
    local p
    for p in $(pgrep -x "$1" 2>/dev/null || true); do
        not_zombie "$p" && echo "$p"
    done
    return 0
}
# pid_alive PIDFILE NAME: true if the pid file names a live process called NAME.
pid_alive() {
    local f="$1" name="$2" pid
    [ -s "$f" ] || return 1
    pid="$(cat "$f" 2>/dev/null)" || return 1
    [ -n "$pid" ] && not_zombie "$pid" || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]
}
# running NAME PIDFILE: pid file first, then an exact-name process lookup.
running() { pid_alive "$2" "$1" || [ -n "$(live_pids "$1")" ]; }

# ------------------------------------------------------------------ munge
MUNGE_USER=root
id munge >/dev/null 2>&1 && MUNGE_USER=munge
install -d -m 0700 -o "$MUNGE_USER" -g "$MUNGE_USER" /etc/munge
install -d -m 0711 -o "$MUNGE_USER" -g "$MUNGE_USER" /var/lib/munge
install -d -m 0700 -o "$MUNGE_USER" -g "$MUNGE_USER" /var/log/munge
install -d -m 0755 -o "$MUNGE_USER" -g "$MUNGE_USER" /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    log "creating munge key"
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
fi
chown "$MUNGE_USER:$MUNGE_USER" /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key

if running munged "$MUNGE_PID"; then
    log "munged already running"
else
    log "starting munged"
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock "$MUNGE_PID"
    if [ "$MUNGE_USER" = root ]; then
        munged --force
    else
        runuser -u munge -- munged
    fi
fi
for _ in $(seq 1 20); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.5
done
munge -n | unmunge >/dev/null || { log "munge does not work (see /var/log/munge/munged.log)"; exit 1; }

# ----------------------------------------------------------- slurm.conf
install -d -m 0755 "$CONF_DIR" "$RUN_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
new_conf="$(mktemp)"
trap 'rm -f "$new_conf"' EXIT
cat > "$new_conf" <<CONF
# Written by .ci/slurm/start.sh -- one-node cluster for CI/tests. Do not edit by hand.
ClusterName=ci
SlurmctldHost=${NODE}(127.0.0.1)
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=${CTLD_PID}
SlurmdPidFile=${SLURMD_PID}
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups here: plain process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
# Per-core scheduling with memory as a consumable resource: --mem is honoured
# and several 1-CPU jobs run side by side.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# Keep finished jobs visible to squeue for 10 minutes (Snakemake's squeue status check).
MinJobAge=600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
Waittime=0
MailProg=/bin/true
# No accounting (no slurmdbd): sacct has nothing to report.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=${NODE} NodeHostname=${NODE} NodeAddr=127.0.0.1 CPUs=${NCPU} RealMemory=${REAL_MEM} State=UNKNOWN
PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
CONF

conf_changed=0
if ! cmp -s "$new_conf" "$CONF"; then
    conf_changed=1
    log "writing $CONF"
    install -m 0644 "$new_conf" "$CONF"
fi

# ---------------------------------------------------------------- daemons
if [ "$conf_changed" -eq 1 ]; then
    # Node definition may have changed: restart whatever runs with the old config.
    for d in slurmd slurmctld; do
        pf="$RUN_DIR/$d.pid"
        for p in $(live_pids "$d"); do log "restarting $d ($p): config changed"; kill "$p" 2>/dev/null || true; done
    done
    for _ in $(seq 1 40); do
        [ -z "$(live_pids slurmd)$(live_pids slurmctld)" ] && break
        sleep 0.25
    done
fi

if running slurmctld "$CTLD_PID"; then
    log "slurmctld already running"
else
    log "starting slurmctld"
    slurmctld -f "$CONF"
fi
# Wait for the controller to answer before starting slurmd.
for _ in $(seq 1 "$WAIT_S"); do
    scontrol ping 2>/dev/null | grep -q 'UP' && break
    sleep 1
done
scontrol ping | grep -q UP || { log "slurmctld not responding; see $LOG_DIR/slurmctld.log"; tail -n 30 "$LOG_DIR/slurmctld.log" >&2 || true; exit 1; }

if running slurmd "$SLURMD_PID"; then
    log "slurmd already running"
else
    log "starting slurmd"
    slurmd -f "$CONF" -N "$NODE"
fi

# ------------------------------------------------------------ wait idle
state=""
for i in $(seq 1 "$WAIT_S"); do
    state="$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true)"
    case "$state" in
        idle|mixed|allocated|completing) break ;;
        down*|drain*|fail*)
            log "node $NODE is $state; resuming"
            scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
done
case "$state" in
    idle|mixed|allocated|completing) ;;
    *)
        log "node $NODE not ready after ${WAIT_S}s (state: '${state:-unknown}')"
        scontrol show node "$NODE" >&2 || true
        tail -n 30 "$LOG_DIR/slurmd.log" >&2 || true
        exit 1 ;;
esac
log "cluster ready (node $NODE: $state)"
sinfo
