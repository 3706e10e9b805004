#!/bin/sh
# SPDX-License-Identifier: MIT
# Stops the private Slurm that slurm_up.sh DIR started: its jobs, slurmd,
# slurmctld, any job step left behind, then munged, whose directory under
# /tmp it removes; the daemons' pids are in DIR/*.pid.  Leaves DIR (the logs) to its owner.  Safe to run twice,
# or after a slurm_up.sh that failed half way; kills only processes whose
# pid files are in DIR or whose environment names DIR/slurm.conf.
set -u
[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
state=$(cd "$1" && pwd)
PATH=$PATH:/usr/sbin:/sbin
conf=$state/slurm.conf

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop_pids() { # pid...: TERM to all, up to 10 s for them to exit, then KILL
  for p in "$@"; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
  i=0
  for p in "$@"; do
    while alive "$p" && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    alive "$p" && kill -KILL "$p" 2>/dev/null
  done
  return 0
}

ctld=$(cat "$state/slurmctld.pid" 2>/dev/null)
slurmd=$(cat "$state/slurmd.pid" 2>/dev/null)
# Jobs first, while the controller can still tell slurmd to end them.
if [ -f "$conf" ] && alive "$ctld"; then
  jobs=$(SLURM_CONF=$conf squeue -h -o '%A' 2>/dev/null)
  # shellcheck disable=SC2086 # one word per job id
  [ -n "$jobs" ] && SLURM_CONF=$conf scancel $jobs 2>/dev/null
  i=0
  while [ $i -lt 25 ] && [ -n "$(SLURM_CONF=$conf squeue -h -t R,CG 2>/dev/null)" ]; do
    sleep 0.2; i=$((i + 1))
  done
fi
stop_pids "$slurmd" "$ctld"

# Quirk: slurmstepd (one per job step) outlives slurmd, and with
# proctrack/linuxproc its job's processes outlive it if it is killed.  Both
# carry SLURM_CONF=DIR/slurm.conf in their environment (slurmstepd from
# slurmd, the job from slurmstepd); so does whoever called us, so only a
# slurmstepd or a process with a SLURM_JOB_ID is killed, never our own
# ancestors.
ancestors=" $$ "
p=$$
while [ "$p" -gt 1 ] 2>/dev/null; do
  p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
  [ -n "$p" ] || break
  ancestors="$ancestors$p "
done
if [ -f "$conf" ]; then
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    case $ancestors in *" $pid "*) continue ;; esac
    env=$( { tr '\0' '\n' < "$d/environ"; } 2>/dev/null) || continue
    printf '%s\n' "$env" | grep -qxF "SLURM_CONF=$conf" || continue
    [ "$(cat "$d/comm" 2>/dev/null)" = slurmstepd ] ||
      printf '%s\n' "$env" | grep -q '^SLURM_JOB_ID=' || continue
    kill -KILL "$pid" 2>/dev/null
  done
fi

stop_pids "$(cat "$state/munged.pid" 2>/dev/null)"
munge_dir=$(cat "$state/munge.dir" 2>/dev/null)
if [ -n "$munge_dir" ] && [ -d "$munge_dir" ]; then
  rm -rf "$munge_dir"
fi
rm -f "$state/munge.dir"
exit 0
