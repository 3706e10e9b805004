#!/bin/sh
# SPDX-License-Identifier: MIT
# Starts a private Slurm on this machine for the tests: munged, slurmctld and
# slurmd on localhost, one node with all of this machine's CPUs, configured
# by a slurm.conf generated in the state directory DIR.
#
# usage: slurm_up.sh DIR      then  SLURM_CONF=DIR/slurm.conf sbatch ...
#        slurm_down.sh DIR    stops everything this script started
#
# Installs nothing (tools/setup.sh installs slurm-wlm and munge).  Exit 0:
# the node is idle and takes jobs.  Exit 77 (meson's "skipped"), with the
# reason on stderr, when the daemons cannot run here: not root, no Slurm or
# MUNGE binaries, or daemons that do not come up (a container without the
# privileges they need); RS_SLURM_REQUIRED=1 turns that into exit 1, for a
# CI machine where Slurm must work.  Anything started before a failure is
# stopped again.  Touches no system file and no system daemon: ports are
# chosen among free ones, and munged gets its own key and socket.
set -u

[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1" || exit 1
state=$(cd "$1" && pwd)
UP_TIMEOUT_S=${RS_SLURM_UP_TIMEOUT_S:-60}

skip() {
  echo "slurm_up: cannot start a local Slurm: $*" >&2
  "$here/slurm_down.sh" "$state" >/dev/null 2>&1
  [ "${RS_SLURM_REQUIRED:-0}" = 1 ] && exit 1
  exit 77
}
log_tail() { # file: its last lines, indented, for a failure message
  [ -f "$1" ] && sed -e 's/^/    /' "$1" | tail -n 15 >&2
}

# Quirk: slurmd must run as root (it becomes the job's user for each job),
# and slurmctld's SlurmUser=root keeps the state files readable by both.
[ "$(id -u)" -eq 0 ] || skip "must run as root (slurmd starts jobs as their user)"
for tool in munged munge slurmctld slurmd sinfo sbatch scontrol squeue scancel; do
  command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
  command -v "$tool" >/dev/null 2>&1 ||
    skip "no $tool on PATH (tools/setup.sh installs slurm-wlm and munge)"
done

# A free TCP port from $1 upward: none listening in /proc/net/tcp{,6} (no
# ss or netstat needed in a bare container).  Another Slurm on this machine
# (the system one, or a second test) keeps its 6817/6818; the search starts
# at a place chosen by our pid, so two tests started together rarely race
# for the same port (the loser's slurmctld exits: skipped, not failed).
free_port() {
  p=$1
  while [ "$p" -lt 65000 ]; do
    hex=$(printf '%04X' "$p")
    if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        awk -v h=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }'; then
      case " ${taken:-} " in *" $p "*) ;; *) echo "$p"; return 0 ;; esac
    fi
    p=$((p + 1))
  done
  return 1
}
taken=""
ctld_port=$(free_port $((16817 + $$ % 1000 * 2))) || skip "no free TCP port"
taken=$ctld_port
slurmd_port=$(free_port $((ctld_port + 1))) || skip "no free TCP port"

# --- munged -------------------------------------------------------------
# Quirk: munged insists that every directory above its socket be searchable
# by all (o+x), so the socket cannot live in a private 0700 temp dir such as
# the one a test makes for DIR.  It gets a directory of its own under /tmp
# (sticky, world-searchable), 0755, recorded in DIR/munge.dir for
# slurm_down.sh; /tmp also keeps the socket's path well under the 108 bytes
# a Unix socket's name may have, however deep DIR is.
# Quirk: the key must be owned by the user munged runs as (root here) and
# readable by no one else (0600), or munged refuses to start.
munge_dir=$(mktemp -d /tmp/regsweep-munge.XXXXXX) || skip "mktemp failed"
echo "$munge_dir" > "$state/munge.dir"
chmod 0755 "$munge_dir"
if command -v mungekey >/dev/null 2>&1; then
  mungekey --create --keyfile="$munge_dir/munge.key" --bits=1024 ||
    skip "mungekey failed"
else # munge before 0.5.14 has no mungekey: 1 KiB of random bytes is a key
  dd if=/dev/urandom of="$munge_dir/munge.key" bs=1024 count=1 2>/dev/null
fi
chmod 0600 "$munge_dir/munge.key"
socket=$munge_dir/munge.socket
# -F: in the foreground of a background job, so that its pid is known at
# once (slurm_down.sh reads DIR/*.pid even if we fail half way) and it stays
# in our process group (a test runner that kills the group on a timeout
# takes the daemons with it).
munged -F --socket="$socket" --key-file="$munge_dir/munge.key" \
  --pid-file="$munge_dir/munged.pid" --log-file="$munge_dir/munged.log" \
  --seed-file="$munge_dir/munged.seed" >"$state/munged.out" 2>&1 &
echo $! > "$state/munged.pid"
i=0
until munge -n --socket="$socket" 2>/dev/null | unmunge --socket="$socket" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -ge 50 ] || ! kill -0 "$(cat "$state/munged.pid")" 2>/dev/null; then
    cat "$state/munged.out" >&2; log_tail "$munge_dir/munged.log"
    skip "munged does not answer on $socket"
  fi
  sleep 0.2
done

# --- slurm.conf ---------------------------------------------------------
# Quirk: slurmctld refuses to start unless SlurmctldHost names this host,
# and slurmd must know its node's name: "localhost" is the one name that
# every machine resolves (a container's hostname often resolves nowhere),
# so the controller is SlurmctldHost=localhost and the node is
# NodeName=localhost NodeAddr=127.0.0.1, and slurmd is started with
# -N localhost rather than left to guess from gethostname().
# Quirk: CPUs must not exceed what slurmd finds, or it drains the node as
# "Low socket*core*thread count"; nproc is at most that.  RealMemory above
# the real memory drains it too ("Low RealMemory"): half of MemTotal is safe
# on any machine, and memory is not a consumable resource here (CR_CPU).
# Quirk: no cgroups (a container rarely has a writable cgroup tree):
# proctrack/linuxproc follows a job's processes through /proc, task/none
# binds nothing, jobacct_gather/none polls nothing.
# No accounting daemon (slurmdbd): sacct has nothing to read; finished jobs
# stay visible to scontrol and squeue for MinJobAge seconds.
ncpus=$(nproc 2>/dev/null || echo 1)
mem_mb=$(awk '/^MemTotal:/ { m = int($2 / 1024 / 2); print (m > 0 ? m : 1) }' /proc/meminfo)
mkdir -p "$state/ctld" "$state/spool"
cat > "$state/slurm.conf" <<EOF
# generated by tests/slurm/slurm_up.sh for a private test Slurm
ClusterName=regsweeptest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$state/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$ncpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
# Quirk: an empty plugstack.conf keeps the system's SPANK plugins
# (/etc/slurm/plugstack.conf.d) out of the test Slurm.
: > "$state/plugstack.conf"
SLURM_CONF=$state/slurm.conf
export SLURM_CONF

# --- the daemons ----------------------------------------------------------
# -D as for munged above; -c: a fresh controller state (no jobs from an
# earlier run of this DIR).  slurmctld.log then says "Could not open job
# state file": expected, there is none yet.
slurmctld -D -c -f "$SLURM_CONF" >"$state/slurmctld.out" 2>&1 &
echo $! > "$state/slurmctld.pid"
slurmd -D -N localhost -f "$SLURM_CONF" >"$state/slurmd.out" 2>&1 &
echo $! > "$state/slurmd.pid"

# Wait for the node to be idle.  Quirk: a node that registered with
# something the controller disliked (or that was down in an earlier state)
# stays DOWN or DRAIN until told otherwise; ReturnToService=2 brings back a
# node that was down for not responding, and `scontrol update state=resume`
# brings back the rest.
start=$(date +%s)
resumed=0
while :; do
  st=$(sinfo -h -N -n localhost -o '%T' 2>/dev/null | head -n 1)
  case $st in
    idle) break ;;
    down*|drain*|fail*)
      if [ $resumed -eq 0 ]; then
        scontrol update nodename=localhost state=resume >/dev/null 2>&1
        resumed=1
      fi ;;
  esac
  for daemon in slurmctld slurmd; do
    if ! kill -0 "$(cat "$state/$daemon.pid")" 2>/dev/null; then
      cat "$state/$daemon.out" >&2; log_tail "$state/$daemon.log"
      skip "$daemon exited (its log: $state/$daemon.log)"
    fi
  done
  if [ $(( $(date +%s) - start )) -ge "$UP_TIMEOUT_S" ]; then
    sinfo -N -l >&2 2>&1
    scontrol show node localhost 2>&1 | grep -i reason >&2
    log_tail "$state/slurmd.log"
    skip "node not idle after ${UP_TIMEOUT_S}s (state: ${st:-none})"
  fi
  sleep 0.5
done
echo "slurm_up: node localhost idle with $ncpus CPUs after $(( $(date +%s) - start ))s;" \
  "SLURM_CONF=$SLURM_CONF"
