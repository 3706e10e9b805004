#!/bin/sh
# SPDX-License-Identifier: MIT
# Quick start: install what is missing, build, and run the default sweep
# (experiments/ch311_sin.yaml) into results/ch311_sin.h5.  Running it again
# continues the same sweep (--resume) instead of starting over.
set -eu
cd "$(dirname "$0")/.."
tools/setup.sh
out=results/ch311_sin.h5
resume=""
[ -e "$out" ] && resume="--resume"
exec build/regsweep run experiments/ch311_sin.yaml -o "$out" $resume "$@"
