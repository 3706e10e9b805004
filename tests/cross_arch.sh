#!/bin/sh
# SPDX-License-Identifier: MIT
# The training core gives the same bits everywhere: builds tools/core_check.c
# (one small job: minibatches, shuffling, dropout, L2 and L1, tanh) with gcc
# and clang at -O0 and -O3, for x86-64 and — cross-compiled with Debian's
# gcc-aarch64-linux-gnu and run under qemu-user — for aarch64, runs it on
# every SIMD path and thread count the build offers, and requires one final
# weight checksum from all of them, equal to the value recorded below (and,
# for the same job with every reg setting, rs_core_check --reg, another).
#
# usage: tests/cross_arch.sh [BUILD_DIR]   (BUILD_DIR holds rs_core_check)
# Exit 0 all equal, 1 a difference, 77 (meson: skipped) no aarch64 toolchain.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# SHA-256 of the final parameters (float32 little-endian, W0 b0 W1 b1 ...).
# Changes only with a deliberate change of the training arithmetic or of the
# random-number mapping, which also changes every results file.
EXPECTED=27c6e80349c4591b996ee52816b2543162ae9deb6266557e05c83b5fc2893b4d
# The same job with every reg setting (rs_core_check --reg): proximal L1,
# max-norm, input noise, Gaussian dropout noise and DropConnect.
EXPECTED_REG=32b2b68d9e0a7216842bd7cacf0865f36e9fba305633f2c2148b606e3db87934

# the core's sources, as meson.build lists them (written into the build
# directory at configure time)
[ -f "$build/rs_core_sources.txt" ] || { echo "cross_arch: $build/rs_core_sources.txt missing (meson setup $build)"; exit 1; }
. "$build/rs_core_sources.txt"
SRC="$SOURCES tools/core_check.c"
FLAGS="-std=c11 -ffp-contract=off -fno-math-errno -D_POSIX_C_SOURCE=200809L
       -DRS_NO_ZLIB -Iinclude"
status=0

check_one() { # expected, label, command...
  expected=$1; label=$2; shift 2
  sum=$("$@" 2>&1 | sed -n 's/^final_weights_sha256 //p')
  if [ "$sum" = "$expected" ]; then
    printf '%-46s %s\n' "$label" "$sum"
  else
    printf '%-46s %s   <-- DIFFERS\n' "$label" "${sum:-(no output)}"
    status=1
  fi
}

check() { # label, command...: the default job and the one with --reg
  label=$1; shift
  check_one "$EXPECTED" "$label" "$@"
  check_one "$EXPECTED_REG" "$label, --reg" "$@" --reg
}

cd "$here"
if [ -x "$build/rs_core_check" ]; then
  for simd in scalar avx2 avx512; do
    for t in 1 2 3; do
      check "meson build, $simd, $t threads" "$build/rs_core_check" --simd "$simd" --threads "$t"
    done
  done
fi
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  for opt in -O0 -O3; do
    # shellcheck disable=SC2086
    if $cc $FLAGS $opt $SRC -lm -o "$tmp/core_$cc$opt"; then
      check "x86-64 $cc $opt (portable C only)" "$tmp/core_$cc$opt"
    else
      echo "cross_arch: $cc $opt build failed"; status=1
    fi
  done
done
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
  for opt in -O0 -O2; do
    # shellcheck disable=SC2086
    if aarch64-linux-gnu-gcc $FLAGS $opt $SRC -static -lm -o "$tmp/core_arm64$opt"; then
      check "aarch64 gcc $opt under qemu-user" qemu-aarch64 "$tmp/core_arm64$opt"
    else
      echo "cross_arch: aarch64 $opt build failed"; status=1
    fi
  done
else
  echo "cross_arch: no aarch64-linux-gnu-gcc or qemu-aarch64 (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user): skipped"
  [ $status -eq 0 ] && exit 77
fi
exit $status
