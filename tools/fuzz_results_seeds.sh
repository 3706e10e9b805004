#!/bin/sh
# SPDX-License-Identifier: MIT
# Remakes the seed corpus of the results-file fuzz target
# (tests/fuzz/corpus/results/) from a real sweep of the spec that
# tests/fuzz/fuzz_results.c holds (its SPEC string, read from the source
# here so the two cannot drift apart: the target reads the job-file seeds
# as jobs of that spec).
#
#   tools/fuzz_results_seeds.sh [REGSWEEP]     (default build/regsweep)
#
# Writes, from two runs of the 2-job spec on one thread:
#   results_packed.h5   OUT.h5 of `regsweep run`: the spec, /jobs, /runs of
#                       both jobs, shared /init and /masks, /provenance, the
#                       /analysis external link
#   results_journal.h5  OUT.h5 of `regsweep run --no-pack`: the same groups
#                       with every job still in OUT.jobs/ (/jobs all missing)
#   job_keep1.h5        that run's job files: job 0 (keep_prob 1, no masks)
#   job_keep07_masks.h5 and job 1 (keep_prob 0.7, every mask recorded)
# and, edited from them with h5py (/usr/bin/python3), the regression inputs
# of bugs the target's triage found: files that are sound HDF5 but hold
# more than one value where regsweep reads one into a C variable (HDF5
# writes them all: stack overflows in our readers before store.c checked):
#   crafted_format_4_strings.h5          OUT.h5's 'format' attribute
#   crafted_format_version_4_ints.h5     OUT.h5's 'format_version'
#   crafted_spec_yaml_4_strings.h5       /spec/yaml
#   crafted_job_format_version_4_ints.h5 a job file's 'format_version'
# Every file in tests/fuzz/corpus/results/ is made here.
# The files hold /provenance (host, times), so remade seeds differ from the
# committed ones in those bytes only.  Keep every seed under fuzz.sh's
# -max_len (64 KiB): libFuzzer cuts longer inputs.
set -eu
cd "$(dirname "$0")/.."
regsweep=$(realpath "${1:-build/regsweep}")
seeds=tests/fuzz/corpus/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the C string literal, one "...\n" line at a time, back to YAML
sed -n '/^static const char SPEC\[\] =/,/;$/p' tests/fuzz/fuzz_results.c |
  sed -n 's/^ *"\(.*\)\\n";\{0,1\}$/\1/p' >"$tmp/seed.yaml"
[ -s "$tmp/seed.yaml" ] || { echo "$0: no SPEC in tests/fuzz/fuzz_results.c" >&2; exit 1; }

(cd "$tmp" && "$regsweep" run seed.yaml -o packed.h5 -j 1 >/dev/null 2>&1 &&
  "$regsweep" run seed.yaml -o journal.h5 -j 1 --no-pack >/dev/null 2>&1)
ids=$("$regsweep" expand "$tmp/seed.yaml" | awk '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9a-f]+$/ { print $2 }')
# shellcheck disable=SC2086 # one word per job id
set -- $ids
[ $# -eq 2 ] || { echo "$0: the seed spec must have 2 jobs" >&2; exit 1; }

rm -f "$seeds"/*
cp "$tmp/packed.h5" "$seeds/results_packed.h5"
cp "$tmp/journal.h5" "$seeds/results_journal.h5"
cp "$tmp/journal.jobs/$1.h5" "$seeds/job_keep1.h5"
cp "$tmp/journal.jobs/$2.h5" "$seeds/job_keep07_masks.h5"
/usr/bin/python3 - "$seeds" <<'PY'
import shutil, sys
import h5py
import numpy as np
seeds = sys.argv[1]
def crafted(src, name, edit):
    shutil.copy(f"{seeds}/{src}", f"{seeds}/{name}")
    with h5py.File(f"{seeds}/{name}", "r+") as f:
        edit(f)
def four_strings(f, name):
    f.attrs.create(name, [f.attrs[name]] * 4, dtype=h5py.string_dtype())
def four_ints(f, name):
    f.attrs.create(name, np.full(4, f.attrs[name], dtype="<i8"))
def four_yaml(f):
    text = f["spec/yaml"][()]
    del f["spec/yaml"]
    f["spec"].create_dataset("yaml", data=[text] * 4, dtype=h5py.string_dtype())
crafted("results_packed.h5", "crafted_format_4_strings.h5",
        lambda f: four_strings(f, "format"))
crafted("results_packed.h5", "crafted_format_version_4_ints.h5",
        lambda f: four_ints(f, "format_version"))
crafted("results_packed.h5", "crafted_spec_yaml_4_strings.h5", four_yaml)
crafted("job_keep1.h5", "crafted_job_format_version_4_ints.h5",
        lambda f: four_ints(f, "format_version"))
PY
for f in "$seeds"/*; do
  [ "$(wc -c <"$f")" -le 65536 ] || { echo "$0: $f is over 64 KiB" >&2; exit 1; }
done
ls -l "$seeds"
