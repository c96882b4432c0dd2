#!/usr/bin/env bash
# A private single-node Slurm cluster on this host, for trying and testing
# `fpusim sweep --slurm` without a real cluster (tests/slurm_test.sh uses it).
#
#   scripts/local_slurm.sh start DIR   # prints: export SLURM_CONF=DIR/slurm.conf
#   scripts/local_slurm.sh stop DIR    # cancels its jobs, stops the daemons it started (by pid)
#
# As root: a munge key, munged on a private socket, slurmctld and slurmd with a
# generated slurm.conf, all state, logs and pid files in DIR; free TCP ports;
# one partition "fpusim" with this host's CPUs. Nothing outside DIR is
# touched, and a system Slurm or munge, if any, is left alone. Needs Debian's
# slurm-wlm and munge (scripts/setup.sh installs them). Exit codes: 0 ok, 1
# a daemon did not start (its log is printed), 2 usage, 77 not root.
set -euo pipefail

usage() {
  echo "usage: scripts/local_slurm.sh start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case $cmd in start | stop) ;; *) usage ;; esac

stop_pid() {  # stop_pid NAME PIDFILE: TERM, then KILL after 10 s
  local name=$1 f=$2 pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "local_slurm: $name (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

if [ "$cmd" = stop ]; then
  [ -d "$dir" ] || { echo "local_slurm: $dir: no such directory" >&2; exit 2; }
  dir=$(cd "$dir" && pwd)
  # Jobs first (their slurmstepd and tasks outlive slurmd otherwise): cancel
  # every job of this cluster and wait, at most 30 s, for the queue to drain.
  if [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    # (A controller that does not answer must not stop the rest: every
    # command here may fail.)
    export SLURM_CONF=$dir/slurm.conf
    jobs=$(timeout 10 squeue --noheader --format=%A 2>/dev/null | sort -u | tr '\n' ' ') || jobs=""
    [ -z "$jobs" ] || timeout 10 scancel --full $jobs 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      left=$(timeout 10 squeue --noheader --format=%A 2>/dev/null) || break
      [ -z "$left" ] && break
      sleep 0.1
    done
  fi
  stop_pid slurmd "$dir/slurmd.pid"
  # A slurmstepd of this cluster still alive (it is not slurmd's child: it
  # is known by the SLURM_CONF slurmd passed on) goes with its tasks.
  steps=""
  for p in $(pgrep -x slurmstepd 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$dir/slurm.conf" && steps+=" $p"
  done
  if [ -n "$steps" ]; then
    victims=$(ps -e -o pid=,ppid= | awk -v roots="$steps" '
      BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
      { parent[$1] = $2; pids[NR] = $1 }
      END { do { changed = 0; for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } } while (changed)
            for (p in keep) print p }')
    echo "local_slurm: killing what is left of its jobs: $(tr '\n' ' ' <<<"$victims")" >&2
    kill -KILL $victims 2>/dev/null || true
  fi
  stop_pid slurmctld "$dir/slurmctld.pid"
  stop_pid munged "$dir/munge/munged.pid"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "local_slurm: needs root (slurmd runs jobs as their user; munged and the daemons are started here)" >&2
  exit 77
fi
for p in munged munge slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$p" >/dev/null || {
    echo "local_slurm: $p not found: install Debian's slurm-wlm and munge (scripts/setup.sh does)" >&2
    exit 1
  }
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/munge/run" "$dir/state" "$dir/spool"
chmod 700 "$dir/munge"
chmod 755 "$dir/munge/run"

# Two free TCP ports (slurmctld, slurmd), from a range no default uses.
listening=$(ss -Htln 2>/dev/null | awk '{ print $4 }' | sed 's/.*://' | sort -u)
ports=()
for ((p = 20000 + RANDOM % 20000; ${#ports[@]} < 2; p++)); do
  grep -qx "$p" <<<"$listening" || ports+=("$p")
done

[ -f "$dir/munge/munge.key" ] || {
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
}
# -f: munged refuses a socket directory others cannot reach otherwise; the
# socket is private to this cluster anyway.
munged -f --key-file="$dir/munge/munge.key" --socket="$dir/munge/run/munge.sock" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" || {
  echo "local_slurm: munged did not start:" >&2
  tail -5 "$dir/munge/munged.log" >&2 2>/dev/null
  exit 1
}

host=$(hostname -s)
cpus=$(nproc)
cat >"$dir/slurm.conf" <<EOF
# A private single-node cluster made by fpusim's scripts/local_slurm.sh.
ClusterName=fpusim-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
AuthType=auth/munge
AuthInfo=socket=$dir/munge/run/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
# No cgroups, no accounting: what a container allows.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=fpusim Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
fail() {
  echo "local_slurm: $1 did not start; its log:" >&2
  tail -15 "$2" >&2 2>/dev/null
  "$0" stop "$dir" || true
  exit 1
}
slurmctld -f "$SLURM_CONF" || fail slurmctld "$dir/slurmctld.log"
slurmd -f "$SLURM_CONF" || fail slurmd "$dir/slurmd.log"
# Ready when the node is idle (at most 30 s).
for ((i = 0; i < 300; i++)); do
  state=$(sinfo --noheader --format=%T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.1
done
[ "$state" = idle ] || fail "the node (state \"$state\")" "$dir/slurmd.log"
echo "export SLURM_CONF=$SLURM_CONF"
