#!/bin/sh
# SPDX-License-Identifier: MIT
# Submits a sweep as a Slurm job array of N shards (array.sbatch) and the
# merge of their parts into OUT.h5 (merge.sbatch) as a job that starts once
# every shard has succeeded.
#
# usage: submit.sh SPEC.yaml OUT.h5 N [SBATCH_OPTION...]
#   N              shards, one array task each (a few times the number of
#                  nodes; docs/SCALING.md)
#   SBATCH_OPTION  given to both sbatch calls (--partition=..., --account=...,
#                  --cpus-per-task=...); they override the #SBATCH lines
# Prints "ARRAY_JOB_ID MERGE_JOB_ID" on stdout.  The job logs are written in
# the current directory.  Running it again with the same arguments finishes
# a sweep whose shards failed or ran out of time: each task resumes its part.
# Environment: REGSWEEP (the regsweep binary the jobs run; default regsweep
# on PATH), and sbatch's own SBATCH_* variables.
set -eu
usage() { echo "usage: $0 SPEC.yaml OUT.h5 N [SBATCH_OPTION...]" >&2; exit 2; }
[ $# -ge 3 ] || usage
here=$(cd "$(dirname "$0")" && pwd)
spec=$1
out=$2
n=$3
shift 3
case $n in '' | *[!0-9]* | 0*) echo "submit: N must be a positive integer, not '$n'" >&2; exit 2 ;; esac
case $out in *.h5) ;; *) echo "submit: OUT must be a file name ending in .h5, not '$out'" >&2; exit 2 ;; esac
[ -f "$spec" ] || { echo "submit: $spec: no such spec file" >&2; exit 2; }
[ -d "$(dirname "$out")" ] || { echo "submit: $(dirname "$out"): no such directory" >&2; exit 2; }
# absolute paths, so that the jobs find them wherever they start
spec=$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

# --parsable prints "ID" or "ID;CLUSTER"
array=$(sbatch --parsable --array=0-$((n - 1)) "$@" "$here/array.sbatch" "$spec" "$out")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
  "$@" "$here/merge.sbatch" "$out") || {
  echo "submit: array job $array submitted, but not the merge; once it succeeds:" >&2
  echo "  sbatch $here/merge.sbatch $out" >&2
  exit 1
}
merge=${merge%%;*}
echo "submit: array job $array ($n shards of $spec), then merge job $merge into $out" >&2
echo "$array $merge"
