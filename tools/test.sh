#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what is missing, builds, and runs the whole test suite:
#   build/        gcc release: every suite (unit, integration, install,
#                 cross, hostile, fuzz, long, then slurm: a local Slurm,
#                 skipped where it cannot start); the end-to-end tests require
#                 its results files to equal those of
#   build-clang/  clang -O0 (built only for that comparison);
#   build-noomp/  gcc release with -Dopenmp=disabled: unit and integration
#                 suites (the same bits without OpenMP);
#   build-asan/   gcc debug with AddressSanitizer and UBSan: unit, hostile
#                 and integration suites but the SIGKILL crash test (leaks
#                 checked);
#   build-core/   the training core alone (no HDF5, libyaml, zlib, OpenMP):
#                 built, to prove it builds.
# Ends with one line "N passed, M failed" counted over every test case.
set -u
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1

status=0
setup() { # dir, options...
  d=$1; shift
  [ -f "$d/build.ninja" ] || meson setup "$d" "$@" >/dev/null || exit 1
  ninja -C "$d" >/dev/null || exit 1
}

(CC=clang; export CC; setup build-clang --buildtype=debug -Dtests=disabled) || exit 1
setup build-core --buildtype=release -Dhdf5=disabled -Dlibyaml=disabled \
  -Dzlib=disabled -Dopenmp=disabled -Dtests=disabled
setup build-noomp --buildtype=release -Dopenmp=disabled
setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

REGSWEEP_OTHER=$PWD/build-clang/regsweep \
  meson test -C build --num-processes 2 --print-errorlogs --no-suite slurm \
  >build/test-release.txt 2>&1 || status=1
tail -n 25 build/test-release.txt

# a sweep through a real Slurm on localhost (tests/slurm/), alone: it
# starts daemons and uses every CPU; skipped, with the reason, where they
# cannot start (not root, no slurm-wlm or munge)
meson test -C build --print-errorlogs --suite slurm --logbase slurm \
  >build/test-slurm.txt 2>&1 || status=1
tail -n 8 build/test-slurm.txt

meson test -C build-noomp --num-processes 2 --print-errorlogs --suite unit \
  --suite integration >build/test-noomp.txt 2>&1 || status=1
tail -n 8 build/test-noomp.txt

# the sanitizers over the unit, hostile and integration suites; the SIGKILL
# crash test and the race test are left to the release build (they are
# about timing, and ASan makes them take minutes)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C build-asan --num-processes 2 --print-errorlogs \
  --suite unit --suite hostile >build/test-asan.txt 2>&1 || status=1
tail -n 8 build/test-asan.txt
meson test -C build-asan --num-processes 2 --print-errorlogs --logbase integration \
  --timeout-multiplier 3 sweep reg cli report paths tools faults completion scale axes \
  >build/test-asan-integration.txt 2>&1 || status=1
tail -n 8 build/test-asan-integration.txt

/usr/bin/python3 tools/count_tests.py build/meson-logs/testlog.json \
  build/meson-logs/slurm.json build-noomp/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
  build-asan/meson-logs/integration.json || status=1
exit $status
