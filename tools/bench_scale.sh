#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints this machine's figures for docs/SCALING.md: the ch311 sweep (160
# jobs) in jobs/s as one process with 1 and 2 threads, under mpirun with 2
# and 3 ranks of 1 thread and 2 ranks of 2 threads, as 4 shards run one
# after another plus their merge; and the merge's cost per job.  Every
# result is checked against the one-process file (h5diff).  Run it on an
# otherwise idle machine; it asserts nothing else.
#
# usage: tools/bench_scale.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
rs=$PWD/$build/regsweep
spec=experiments/ch311_sin.yaml
n_jobs=160
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# a Slurm job's environment would make every run a shard
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX \
  SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_STEP

now() { date +%s.%N; }
row() { # label, start, end
  awk -v l="$1" -v s="$2" -v e="$3" -v n="$n_jobs" \
    'BEGIN { printf "%-44s %7.2f s  %6.1f jobs/s\n", l, e - s, n / (e - s) }'
}
same() { # file: identical to the one-process run?
  h5diff --exclude-path /provenance --exclude-path /analysis "$tmp/ref.h5" "$1" \
    >/dev/null || { echo "DIFFERS: $1" >&2; exit 1; }
}
run1() { # label, threads
  rm -rf "$tmp/o.h5" "$tmp/o.jobs" "$tmp/o.analysis.h5"
  s=$(now); "$rs" run "$spec" -o "$tmp/o.h5" -j "$2" 2>/dev/null; e=$(now)
  row "$1" "$s" "$e"
  if [ -f "$tmp/ref.h5" ]; then same "$tmp/o.h5"; else
    mv "$tmp/o.h5" "$tmp/ref.h5"; mv "$tmp/o.analysis.h5" "$tmp/ref.analysis.h5"; fi
}
mpi() { # label, ranks, threads
  rm -rf "$tmp/o.h5" "$tmp/o.jobs"
  s=$(now)
  mpirun --oversubscribe --allow-run-as-root --bind-to none -n "$2" \
    "$rs" run "$spec" -o "$tmp/o.h5" -j "$3" 2>/dev/null
  e=$(now)
  row "$1" "$s" "$e"
  same "$tmp/o.h5"
}

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "== $spec, $n_jobs jobs (wall time incl. writing and packing)"
run1 "one process, 1 thread" 1
run1 "one process, 2 threads" 2
if "$rs" --version | grep -q "MPI: yes" && command -v mpirun >/dev/null; then
  mpi "mpirun: 2 ranks x 1 thread" 2 1
  mpi "mpirun: 3 ranks x 1 thread" 3 1
  mpi "mpirun: 2 ranks x 2 threads" 2 2
else
  echo "(no MPI: regsweep built without it, or no mpirun)"
fi

rm -rf "$tmp"/p.*
s=$(now)
for i in 1 2 3 4; do
  "$rs" run "$spec" -o "$tmp/p.h5" --shard "$i/4" -j 2 2>/dev/null
done
m=$(now)
"$rs" merge "$tmp/p.h5" 2>/dev/null
e=$(now)
row "4 shards one after another, 2 threads each" "$s" "$m"
same "$tmp/p.h5"
awk -v s="$m" -v e="$e" -v n="$n_jobs" \
  'BEGIN { printf "%-44s %7.2f s  %6.1f ms/job\n", "merge of the 4 parts", e - s, 1000 * (e - s) / n }'
ls -l "$tmp/p.h5" | awk '{ printf "merged file %.1f MB\n", $5 / 1e6 }'
