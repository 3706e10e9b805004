#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints this machine's figures for docs/PERFORMANCE.md: GEMM GFLOP/s per
# SIMD path at the MLP's shapes, Fashion-MNIST training epochs (1 and 2
# threads, and two 1-thread jobs side by side), the ch311 sweep in jobs/s,
# and the peak memory of a Fashion-MNIST sweep.  Run it on an otherwise idle
# machine; it asserts nothing.
#
# usage: tools/bench.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo
echo "== GEMM and dropout masks (tests/bench_kernels.c)"
"$build/tests/bench_kernels" 5
echo
echo "== Fashion-MNIST training (tests/bench_train.c)"
"$build/tests/bench_train" 3
echo
sweep() { # label, extra args...
  label=$1; shift
  rm -rf "$tmp"/s.h5 "$tmp"/s.jobs
  start=$(date +%s.%N)
  "$build/regsweep" run experiments/ch311_sin.yaml -o "$tmp/s.h5" "$@" 2>/dev/null
  end=$(date +%s.%N)
  echo "$label" | awk -v s="$start" -v e="$end" '{printf "%-62s %6.2f s  %6.1f jobs/s\n", $0, e - s, 160 / (e - s)}'
}
echo "== ch311 sweep, 160 jobs, $(nproc) threads (regsweep run, wall time incl. writing)"
sweep "as shipped: train+test eval every epoch, all masks recorded"
sweep "test eval only, no masks (the PyTorch anchor's work)" record.train_eval=false record.masks=none
echo
echo "== Fashion-MNIST sweep, 30 jobs x 1 epoch, peak memory"
rm -rf "$tmp"/f.h5 "$tmp"/f.jobs
/usr/bin/time -f "peak RSS %M KB, %e s wall" "$build/regsweep" run \
  experiments/d2l_fashion_mnist_sweep.yaml -o "$tmp/f.h5" train.epochs=1 2>&1 | tail -1
ls -l "$tmp/f.h5" | awk '{printf "results file %.1f MB\n", $5 / 1e6}'
