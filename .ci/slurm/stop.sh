#!/usr/bin/env bash
# Stop the one-node SLURM cluster started by start.sh (slurmd, slurmctld, munged).
# Idempotent; never fails when nothing is running.
set -uo pipefail

log() { echo "[slurm-stop] $*" >&2; }

# not_zombie PID: exists and is not <defunct> (PID 1 here reaps orphans late).
not_zombie() {
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
live_pids() {
    local p
    for p in $(pgrep -x "$1" 2>/dev/null || true); do
        not_zombie "$p" && echo "$p"
    done
    return 0
}

# stop_daemon NAME PIDFILE: SIGTERM via pid file (or exact process name), wait, then SIGKILL.
stop_daemon() {
    local name="$1" pf="$2" pid pids=""
    if [ -s "$pf" ]; then
        pid="$(cat "$pf" 2>/dev/null || true)"
        if [ -n "$pid" ] && not_zombie "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
            pids="$pid"
        fi
    fi
    [ -z "$pids" ] && pids="$(live_pids "$name" | tr '\n' ' ')"
    if [ -z "${pids// /}" ]; then
        log "$name not running"; rm -f "$pf"; return 0
    fi
    log "stopping $name ($pids)"
    kill $pids 2>/dev/null || true
    for _ in $(seq 1 40); do
        local alive=0 p
        for p in $pids; do not_zombie "$p" && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.25
    done
    for p in $pids; do
        if not_zombie "$p"; then log "$name ($p) still alive; SIGKILL"; kill -9 "$p" 2>/dev/null || true; fi
    done
    rm -f "$pf"
    return 0
}

stop_daemon slurmd    /run/slurm/slurmd.pid
stop_daemon slurmctld /run/slurm/slurmctld.pid
stop_daemon munged    /run/munge/munged.pid
exit 0
